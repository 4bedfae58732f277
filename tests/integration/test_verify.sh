#!/usr/bin/env bash
# test_verify.sh: pgferry verify (offline) and pgferry list against a real dump of the
# sample data. Runs inside tests/harness/with_cluster.sh (PG* set) with PGFERRY (the
# binary) and PGFERRY_SRC (the source tree). Every kind of damage must be caught (exit 1)
# with a message naming the damaged file: single changed bytes at random positions (each
# restored afterwards), truncation, a missing file, extra files, a missing manifest, a
# changed schema archive, a chunk swapped for another valid one; several problems at once
# must all be named. PF_VERIFY_TRIALS sets the number of byte changes (default 300),
# PF_VERIFY_SEED the random seed (printed, so a failure can be replayed).
set -u

: "${PGFERRY:?PGFERRY must name the pgferry binary}"
: "${PGFERRY_SRC:=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}"
trials=${PF_VERIFY_TRIALS:-300}
seed=${PF_VERIFY_SEED:-$(( $(date +%s) % 32768 ))}
db=pf_verify_$$
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-verify.XXXXXX") || exit 1
trap 'rm -rf -- "$tmp"; dropdb --if-exists "$db" 2>/dev/null' EXIT

pass() { echo "ok - $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL - $1: $2"
  failed=$((failed + 1))
  [[ -s $tmp/out ]] && sed 's/^/    out| /' "$tmp/out"
  [[ -s $tmp/err ]] && sed 's/^/    err| /' "$tmp/err"
  return 0
}

# run ARGS...: runs pgferry; rc, $tmp/out, $tmp/err.
run() { "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }

# fresh NAME: a pristine copy of the dump at $tmp/NAME.
fresh() { rm -rf -- "${tmp:?}/$1"; cp -a "$tmp/dump" "$tmp/$1"; }

# expect_caught NAME DIR WHAT...: verify DIR exits 1 and stderr names each WHAT.
expect_caught() {
  local name=$1 dir=$2 w
  shift 2
  run verify "$dir"
  if [[ $rc -ne 1 ]]; then fail "$name" "verify exit $rc, expected 1"; return; fi
  for w in "$@"; do
    if ! grep -qF -- "$w" "$tmp/err"; then fail "$name" "stderr does not name \"$w\""; return; fi
  done
  if ! grep -q '^verify: FAILED: ' "$tmp/out"; then fail "$name" "no FAILED summary on stdout"; return; fi
  pass "$name"
}

# json_get JSON PATH...: value at the jsonb path (psql parses: no jq/python needed).
json_get() {
  local j=$1
  shift
  local path
  path=$(IFS=,; echo "{$*}")
  printf '%s\n' "SELECT (:'j'::jsonb) #>> '$path'" | psql -XAtq -v j="$j" -v ON_ERROR_STOP=1 2>&1
}

# flip FILE POS: XORs the byte at POS with a random non-zero value; prints the old byte.
flip() {
  local f=$1 pos=$2 old new
  old=$(od -An -tu1 -j "$pos" -N1 -- "$f" | tr -d ' ')
  new=$(( old ^ (1 + RANDOM % 255) ))
  printf "\\x$(printf %02x "$new")" | dd of="$f" bs=1 seek="$pos" conv=notrunc status=none
  echo "$old"
}
put_byte() { printf "\\x$(printf %02x "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# ---- a dump of the sample data, chunked small so tables have many chunks ----------------
createdb "$db" || { echo "FAIL - createdb $db"; exit 1; }
if ! psql -X -q -v ON_ERROR_STOP=1 -v scale=1 -d "$db" -f "$PGFERRY_SRC/tools/sample_data.sql" >"$tmp/load.log" 2>&1; then
  sed 's/^/    | /' "$tmp/load.log"
  echo "FAIL - loading sample data"
  exit 1
fi
if ! "$PGFERRY" dump -d "dbname=$db" -f "$tmp/dump" --chunk-size 1MB --no-progress >"$tmp/out" 2>"$tmp/err"; then
  rc=1
  fail "dump" "pgferry dump failed"
  exit 1
fi
mapfile -t chunks < <(cd "$tmp/dump" && ls data/*.chunk | sort -V)
nchunks=${#chunks[@]}
echo "# dump: $nchunks chunk files, $(du -sk "$tmp/dump" | cut -f1) kB; seed $seed"
((nchunks >= 20)) || fail "dump" "only $nchunks chunks with --chunk-size 1MB"

# ---- a whole dump passes ----------------------------------------------------------------
run verify "$tmp/dump"
if [[ $rc -eq 0 && ! -s $tmp/err ]] && grep -qE '^verify: OK: 20 tables, [0-9]+ chunks, [0-9]+ rows, 2 large objects, ' "$tmp/out"
then pass "whole dump: exit 0, OK summary ($(cat "$tmp/out"))"
else fail "whole dump" "exit $rc"; fi

run verify -j 1 "$tmp/dump"
if [[ $rc -eq 0 ]]; then pass "whole dump with -j 1"; else fail "whole dump with -j 1" "exit $rc"; fi

run verify --json -j 4 "$tmp/dump"
j=$(cat "$tmp/out")
if [[ $rc -eq 0 && $(json_get "$j" ok) == true && $(json_get "$j" totals tables) == 20 &&
      $(json_get "$j" totals chunks) == "$nchunks" && $(json_get "$j" problems) == "[]" ]]
then pass "verify --json on a whole dump: ok true, 20 tables, $nchunks chunks, no problems"
else fail "verify --json on a whole dump" "exit $rc"; fi

# rows recounted equal what the database holds
want_rows=$(psql -XAtq -d "$db" -c "SELECT (SELECT count(*) FROM public.accounts) + (SELECT count(*) FROM public.events_nopk)")
acc_rows=$(json_get "$j" totals rows)
if [[ $acc_rows =~ ^[0-9]+$ && $want_rows =~ ^[0-9]+$ ]] && ((acc_rows >= want_rows)); then pass "rows recounted ($acc_rows)"
else fail "rows recounted" "got '$acc_rows', expected at least $want_rows"; fi

# ---- single changed bytes, each restored afterwards --------------------------------------
RANDOM=$seed
fuzz=$tmp/fuzz
fresh fuzz
targets=("${chunks[@]}" manifest.json manifest.json manifest.json manifest.json)
caught=0
missed=0
for ((i = 0; i < trials; i++)); do
  rel=${targets[RANDOM % ${#targets[@]}]}
  f=$fuzz/$rel
  size=$(stat -c %s -- "$f")
  # a third each: the header, the trailer, anywhere (big files are mostly zstd blocks)
  case $((RANDOM % 3)) in
    0) pos=$(( RANDOM % (size < 64 ? size : 64) )) ;;
    1) pos=$(( size - 1 - RANDOM % (size < 64 ? size : 64) )) ;;
    *) pos=$(( (RANDOM * 32768 + RANDOM) % size )) ;;
  esac
  old=$(flip "$f" "$pos")
  run verify "$fuzz"
  if [[ $rc -eq 1 ]] && grep -qF -- "$rel" "$tmp/err"; then
    caught=$((caught + 1))
  else
    missed=$((missed + 1))
    ((missed <= 3)) && fail "changed byte at $rel:$pos" "exit $rc"
  fi
  put_byte "$f" "$pos" "$old"
done
if ((missed == 0)); then pass "changed bytes: $caught of $trials caught, each naming its file"
else fail "changed bytes" "$missed of $trials not caught (seed $seed)"; fi
run verify "$fuzz"
if [[ $rc -eq 0 ]]; then pass "restored fuzz copy verifies again"; else fail "restored fuzz copy" "exit $rc"; fi

# ---- other damage -------------------------------------------------------------------------
big=$(cd "$tmp/dump" && ls -S data/*.chunk | head -n 1)

fresh t; truncate -s -1 "$tmp/t/$big"
expect_caught "chunk truncated by one byte" "$tmp/t" "$big" "size "
fresh t; truncate -s 100 "$tmp/t/$big"
expect_caught "chunk truncated to 100 bytes" "$tmp/t" "$big" "truncated"
fresh t; printf 'x' >>"$tmp/t/$big"
expect_caught "chunk with a byte appended" "$tmp/t" "$big" "size "
fresh t; rm -- "$tmp/t/$big"
expect_caught "missing chunk" "$tmp/t" "$big (" "): missing file"
fresh t; echo hi >"$tmp/t/notes.txt"
expect_caught "extra file in DIR" "$tmp/t" "notes.txt: unexpected file"
fresh t; cp -- "$tmp/t/$big" "$tmp/t/data/999.0.chunk"
expect_caught "extra file in DIR/data" "$tmp/t" "data/999.0.chunk: unexpected file"
fresh t; mkdir "$tmp/t/data/sub"
expect_caught "extra directory in DIR/data" "$tmp/t" "data/sub: unexpected directory"
fresh t; : >"$tmp/t/data/${big#data/}.tmp"
expect_caught "leftover temp file" "$tmp/t" "$big.tmp: unexpected file"
fresh t; rm -- "$tmp/t/manifest.json"
expect_caught "missing manifest" "$tmp/t" "$tmp/t: no manifest.json: the dump is incomplete (interrupted or failed)"
fresh t; rm -- "$tmp/t/schema.dump"
expect_caught "missing schema archive" "$tmp/t" "schema.dump: missing file"
fresh t; ssize=$(stat -c %s "$tmp/t/schema.dump"); flip "$tmp/t/schema.dump" $((ssize / 2)) >/dev/null
expect_caught "changed schema.dump byte" "$tmp/t" "schema.dump: schema archive hash mismatch"
fresh t; truncate -s -10 "$tmp/t/schema.dump"
expect_caught "truncated schema.dump" "$tmp/t" "schema.dump: size "

# A chunk replaced by another whole chunk of the same table: the file is self-consistent,
# only the manifest's hashes tell it is the wrong one.
t1=$(cd "$tmp/dump" && ls data/*.chunk | sed -n 's|^data/\([0-9]*\)\.1\.chunk$|\1|p' | head -n 1)
if [[ -n $t1 ]]; then
  fresh t; cp -- "$tmp/t/data/$t1.0.chunk" "$tmp/t/data/$t1.1.chunk"
  expect_caught "chunk swapped for another valid chunk" "$tmp/t" "data/$t1.1.chunk" "chunk stored hash mismatch (manifest"
fi

# ---- several problems at once: all named ------------------------------------------------
fresh t
c1=${chunks[0]} c2=${chunks[nchunks - 1]}
flip "$tmp/t/$c1" 20 >/dev/null
flip "$tmp/t/$c2" $(( $(stat -c %s "$tmp/t/$c2") - 30 )) >/dev/null
rm -- "$tmp/t/${chunks[nchunks / 2]}"
echo x >"$tmp/t/data/extra"
expect_caught "four problems at once" "$tmp/t" "$c1" "$c2" "${chunks[nchunks / 2]} (" "missing file" "data/extra: unexpected file"
if grep -qx 'verify: FAILED: 4 problems in 4 files' "$tmp/out"; then pass "summary counts 4 problems in 4 files"
else fail "summary of four problems" "$(cat "$tmp/out")"; fi
run verify --json "$tmp/t"
j=$(cat "$tmp/out")
if [[ $rc -eq 1 && $(json_get "$j" ok) == false && $(json_get "$j" totals problems) == 4 &&
      $(json_get "$j" problems 0 file) == data/* && -n $(json_get "$j" problems 0 error) ]]
then pass "verify --json lists the problems with file and error"
else fail "verify --json with problems" "exit $rc"; fi

# ---- --require-table ----------------------------------------------------------------------
run verify --require-table public.accounts --require-table events_nopk \
  --require-table '"Sales Ω"."Order ""Lines"""' --require-table public.measurements "$tmp/dump"
if [[ $rc -eq 0 ]]; then pass "--require-table present (schema.table, table, quoted, partitioned root)"
else fail "--require-table present" "exit $rc"; fi
run verify --require-table public.accounts --require-table public.no_such --require-table nope "$tmp/dump"
if [[ $rc -eq 1 ]] && grep -qF 'required table public.no_such is not in the dump' "$tmp/err" &&
   grep -qF 'required table nope is not in the dump' "$tmp/err" && ! grep -qF 'accounts' "$tmp/err"
then pass "--require-table absent: exit 1 naming each missing table"
else fail "--require-table absent" "exit $rc"; fi
run verify --require-table other.accounts "$tmp/dump"
if [[ $rc -eq 1 ]] && grep -qF 'other.accounts' "$tmp/err"; then pass "--require-table matches the schema too"
else fail "--require-table other.accounts" "exit $rc"; fi

# ---- usage --------------------------------------------------------------------------------
run verify
if [[ $rc -eq 2 ]]; then pass "verify without DIR: exit 2"; else fail "verify without DIR" "exit $rc"; fi
run verify -j 0 "$tmp/dump"
if [[ $rc -eq 2 ]]; then pass "verify -j 0: exit 2"; else fail "verify -j 0" "exit $rc"; fi

# ---- list ---------------------------------------------------------------------------------
run list "$tmp/dump"
if [[ $rc -eq 0 ]] && grep -q '^status *complete$' "$tmp/out" && grep -q '^public\.accounts  *binary  *200000 ' "$tmp/out" &&
   grep -qF 'Sales Ω.Order "Lines"' "$tmp/out" && grep -q '^total: 20 tables ' "$tmp/out" &&
   grep -q '^large objects  2 ' "$tmp/out" && grep -q "database $db" "$tmp/out"
then pass "list: tables, totals, large objects, complete"
else fail "list" "exit $rc"; fi
if grep -qi 'password' "$tmp/out"; then fail "list" "mentions a password"; fi

run list --json "$tmp/dump"
j=$(cat "$tmp/out")
if [[ $rc -eq 0 && $(json_get "$j" complete) == true && $(json_get "$j" source database) == "$db" &&
      $(json_get "$j" tables 2 name) == accounts && $(json_get "$j" totals tables) == 20 &&
      $(json_get "$j" large_objects count) == 2 && $(json_get "$j" options chunk_size) == 1048576 ]]
then pass "list --json parses: complete, source, tables, totals, options"
else fail "list --json" "exit $rc"; fi

fresh t; rm -- "$tmp/t/manifest.json"
run list "$tmp/t"
if [[ $rc -eq 1 ]] && grep -qF 'incomplete: no manifest' "$tmp/out" && grep -qF 'incomplete' "$tmp/err"
then pass "list without manifest: exit 1, incomplete"
else fail "list without manifest" "exit $rc"; fi
run list --json "$tmp/t"
j=$(cat "$tmp/out")
if [[ $rc -eq 1 && $(json_get "$j" complete) == false && $(json_get "$j" status) == "incomplete: no manifest" ]]
then pass "list --json without manifest: complete false"
else fail "list --json without manifest" "exit $rc"; fi

fresh t; flip "$tmp/t/manifest.json" 10 >/dev/null
run list "$tmp/t"
if [[ $rc -eq 1 ]] && grep -qF 'damaged manifest' "$tmp/out" && grep -qF 'checksum mismatch' "$tmp/err"
then pass "list with a damaged manifest: exit 1 with the reason"
else fail "list with a damaged manifest" "exit $rc"; fi

echo "verify: $passed passed, $failed failed"
((failed == 0))
