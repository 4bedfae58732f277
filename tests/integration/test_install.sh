#!/usr/bin/env bash
# test_install.sh: `cmake --install` of the build PGFERRY comes from, into a temporary
# prefix, as a packager would:
#  1. P/bin/pgferry, a man page per command in P/share/man/man1 and the bash completion in
#     P/share/bash-completion/completions; the installed binary runs; 'pgferry help dump' is
#     'pgferry dump --help'; 'pgferry help nosuch' is a usage error
#  2. every command 'pgferry --help' lists has a man page that groff renders without a
#     warning, with NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS and SEE ALSO, and that
#     lists every option the command's --help lists; 'man' finds the pages under the prefix
#  3. the completion (sourced, and found by bash-completion's loader under the prefix)
#     completes commands, a command's options, an option's values and a directory
# Runs inside tests/harness/with_cluster.sh like the others (it needs no database) with
# PGFERRY (the binary in its build directory).
set -u
: "${PGFERRY:?PGFERRY must name the pgferry binary}"
PF_TEST_NAME=install
# shellcheck source=tests/integration/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

build=$(dirname -- "$PGFERRY")
P=$tmp/prefix

# ======================================================================================
echo "# --- 1. cmake --install"
# ======================================================================================
cmake --install "$build" --prefix "$P" >"$tmp/install.log" 2>&1
rc=$?
expect "cmake --install exits 0" 0 "$rc"
miss=
for f in bin/pgferry share/man/man1/pgferry.1 share/bash-completion/completions/pgferry; do
  [[ -s $P/$f ]] || miss+=" $f"
done
[[ -x $P/bin/pgferry ]] || miss+=" (bin/pgferry not executable)"
if [[ -z $miss ]]; then pass "installed: bin/pgferry, man1/pgferry.1, the bash completion"
else fail "install" "missing:$miss" "$tmp/install.log"; fi

PGFERRY=$P/bin/pgferry
run --version
expect "the installed binary runs: --version" "pgferry 0.1.0|0" "$(cat "$tmp/out")|$rc"
commands=$("$PGFERRY" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
expect "pgferry --help lists the commands" "dump restore copy verify list drill diff prune status cat" \
  "$(echo "$commands" | tr '\n' ' ' | sed 's/ $//')"
"$PGFERRY" dump --help >"$tmp/h1"
run help dump
if [[ $rc -eq 0 ]] && cmp -s "$tmp/h1" "$tmp/out"; then pass "pgferry help dump is pgferry dump --help"
else fail "pgferry help dump" "exit $rc or differs from dump --help"; fi
run help nosuch
expect "pgferry help nosuch: usage error" \
  "2|pgferry help: unknown command \"nosuch\" (try 'pgferry help')|" "$rc|$(cat "$tmp/err")|$(cat "$tmp/out")"
run help
if [[ $rc -eq 0 ]] && grep -q "^Usage: pgferry COMMAND" "$tmp/out"; then pass "pgferry help: the command list, exit 0"
else fail "pgferry help" "exit $rc"; fi

# ======================================================================================
echo "# --- 2. man pages"
# ======================================================================================
# help_options CMD: the long options CMD's --help lists, one a line.
help_options() {
  "$PGFERRY" "$1" --help | grep -oE '^ +(-[^ ], )?--[a-z][a-z-]*' | grep -oE -- '--[a-z][a-z-]*' | sort -u
}
for cmd in "" $commands; do
  page=pgferry${cmd:+-$cmd}
  f=$P/share/man/man1/$page.1
  if [[ ! -s $f ]]; then fail "$page(1)" "no page $f"; continue; fi
  warn=$(groff -ww -man -z -Tutf8 "$f" 2>&1)
  expect "$page(1): groff -ww renders it without a warning" "" "$warn"
  MANWIDTH=80 man -l "$f" 2>"$tmp/manerr" | col -b >"$tmp/page"
  miss=
  for h in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "SEE ALSO"; do grep -q "^$h\$" "$tmp/page" || miss+=" [$h]"; done
  [[ -s $tmp/manerr ]] && miss+=" (man -l said: $(head -c 200 "$tmp/manerr"))"
  [[ -n $cmd ]] && ! grep -q "^ *$page - " "$tmp/page" && miss+=" [NAME line]"
  if [[ -z $miss ]]; then pass "$page(1): man -l shows its sections"; else fail "$page(1)" "missing$miss" "$tmp/page"; fi
  [[ -z $cmd ]] && continue
  opts=$(help_options "$cmd")
  n=$(echo "$opts" | wc -l)
  miss=
  for o in $opts; do grep -qF -- "$o" "$tmp/page" || miss+=" $o"; done
  if [[ -z $miss && $n -ge 3 ]]; then pass "$page(1) lists all $n options of '$cmd --help'"
  else fail "$page(1)" "options of --help missing from the page:$miss ($n in --help)" "$tmp/page"; fi
done
MANPATH=$P/share/man MANWIDTH=80 man pgferry-dump 2>"$tmp/err" | col -b >"$tmp/page"
if grep -q -- "--exclude-table-data=PATTERN" "$tmp/page" && grep -q "^EXAMPLES" "$tmp/page"; then
  pass "man pgferry-dump finds the installed page (MANPATH=P/share/man): options and examples"
else fail "man pgferry-dump" "not found or incomplete" "$tmp/page" "$tmp/err"; fi
MANWIDTH=80 man -l "$P/share/man/man1/pgferry.1" | col -b >"$tmp/page"
miss=
for cmd in $commands; do grep -q "pgferry-$cmd(1)" "$tmp/page" || miss+=" $cmd"; done
if [[ -z $miss ]]; then pass "pgferry(1) names every command's page"; else fail "pgferry(1)" "missing:$miss" "$tmp/page"; fi

# ======================================================================================
echo "# --- 3. bash completion"
# ======================================================================================
mkdir -p "$tmp/dirs/backups" "$tmp/dirs/bin"
: >"$tmp/dirs/backup.txt"
# complete WORD...: the completion of the last word (empty: a new word) of "pgferry WORD...",
# one candidate a line, sorted.
complete_words() {
  (cd "$tmp/dirs" && bash -c '
    source "$1"; shift
    COMP_WORDS=(pgferry "$@"); COMP_CWORD=$#
    _pgferry
    printf "%s\n" "${COMPREPLY[@]}"' _ "$P/share/bash-completion/completions/pgferry" "$@") | sort | tr '\n' ' ' |
    sed 's/ $//'
}
expect "pgferry <TAB>: the commands" \
  "$(printf '%s\n' $commands help --help --version | sort | tr '\n' ' ' | sed 's/ $//')" "$(complete_words "")"
expect "pgferry re<TAB>: restore" "restore" "$(complete_words re)"
expect "pgferry help d<TAB>: the commands" "diff drill dump" "$(complete_words help d)"
expect "pgferry dump --no-<TAB>: its options" "--no-password --no-progress --no-unlogged-table-data" \
  "$(complete_words dump --no-)"
expect "pgferry restore --s<TAB>: its options" "--schema --schema-only --section" "$(complete_words restore --s)"
expect "pgferry dump --format <TAB>: the formats" "binary text" "$(complete_words dump --format "")"
expect "pgferry dump --layout=<TAB> (split at =): the layouts" "columns rows" "$(complete_words dump --layout = "")"
expect "pgferry dump -f b<TAB>: directories only" "backups bin" "$(complete_words dump -f b)"
expect "pgferry restore --passphrase-file b<TAB>: files" "backup.txt backups bin" \
  "$(complete_words restore --passphrase-file b)"
expect "pgferry verify b<TAB>: the dump directory" "backups bin" "$(complete_words verify b)"
expect "pgferry dump -j <TAB>: nothing to offer" "" "$(complete_words dump -j "")"
got=$(XDG_DATA_DIRS=$P/share bash -c 'source /usr/share/bash-completion/bash_completion
  __load_completion pgferry && complete -p pgferry' 2>&1)
expect "bash-completion's loader finds it under the prefix (XDG_DATA_DIRS)" "complete -F _pgferry pgferry" "$got"

summary install
