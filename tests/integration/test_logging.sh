#!/usr/bin/env bash
# test_logging.sh: what dump, restore, copy, verify and drill write while they run, off a
# terminal (stderr a file, as under cron or systemd):
#  1. --progress: plain lines, each starting with the UTC time (ISO 8601), no \r and no
#     escape codes, the last one "done" with every chunk counted, then the summary; on a
#     terminal (script(1)) the line is still redrawn in place
#  2. -v: a timestamped line per job as it finishes: every chunk of every table (dump,
#     verify), every table's load, each index and constraint, each ANALYZE (restore)
#  3. --quiet: nothing on success, on stdout or stderr; errors still
#  4. --log-file: the same plain lines appended (progress without --progress; a second run
#     appends), -v --quiet sends the jobs to the file only; a --log-file that cannot be
#     opened is a usage error before anything runs (no dump directory, no database made)
#  5. drill --progress -v: the restore's and the verification's lines, timestamped
#  6. copy --progress -v: the same lines; a bad --log-file creates no database
# Runs inside tests/harness/with_cluster.sh (PG* set) with PGFERRY (the binary).
set -u
PF_TEST_NAME=logging
PF_TEST_PREFIX=pflog
# shellcheck source=tests/integration/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

export PGFERRY_PROGRESS_INTERVAL=0.01 # a line per report, so that short runs show several
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z '
src=${p}src
newdb "$src" || exit 1
q "$src" "CREATE TABLE public.t1 (id int PRIMARY KEY, v text);
          INSERT INTO public.t1 SELECT g, md5(g::text) FROM generate_series(1, 30000) g;
          CREATE TABLE public.t2 (id int REFERENCES public.t1, w text);
          CREATE INDEX t2_w ON public.t2 (w);
          INSERT INTO public.t2 SELECT g % 30000 + 1, md5(g::text) FROM generate_series(1, 20000) g;" || exit 1

# plain FILE: no \r and no escape character in FILE.
plain() { ! grep -q $'\r' "$1" && ! grep -q $'\033' "$1"; }
# stamped FILE: every line of FILE starts with the time.
stamped() { [[ -s $1 ]] && ! grep -vqE "$TS" "$1"; }

# ======================================================================================
echo "# --- 1. --progress off a terminal"
# ======================================================================================
run dump --progress -f "$tmp/d1" --chunk-size 256kB -j 2 "$src"
nchunks=$(find "$tmp/d1/data" -name '*.chunk' | wc -l)
expect "dump --progress: exit 0, nothing on stdout" "0|" "$rc|$(cat "$tmp/out")"
if plain "$tmp/err" && stamped "$tmp/err"; then pass "dump --progress: every stderr line timestamped, no \\r, no ESC"
else fail "dump --progress" "not plain timestamped lines" "$tmp/err"; fi
n=$(grep -cE "${TS}dump: chunks [0-9]+/$nchunks " "$tmp/err")
last=$(grep -E "${TS}dump: chunks " "$tmp/err" | tail -n 1)
if ((n >= 2)) && [[ $last =~ dump:\ chunks\ $nchunks/$nchunks\ +rows\ 50000\ .*ETA\ done$ ]]; then
  pass "dump --progress: $n progress lines, the last: all $nchunks chunks, 50000 rows, done"
else fail "dump --progress" "$n progress lines; last: $last" "$tmp/err"; fi
if tail -n 1 "$tmp/err" | grep -qE "${TS}dump: 2 tables, $nchunks chunks, 50000 rows, .* \\($tmp/d1\\)$"; then
  pass "dump --progress: the summary last"
else fail "dump --progress" "no summary line last" "$tmp/err"; fi
# large objects are counted on their own: the progress lines count table rows, as the summary
lo=${p}lo
newdb "$lo" || exit 1
q "$lo" "CREATE TABLE public.t (id int); INSERT INTO public.t SELECT generate_series(1, 1000);
         SELECT lo_from_bytea(0, 'one large object'), lo_from_bytea(0, 'and another')" >/dev/null || exit 1
run dump --progress -f "$tmp/dlo" "$lo"
last=$(grep -E "${TS}dump: chunks " "$tmp/err" | tail -n 1)
if [[ $rc -eq 0 && $last =~ \ rows\ 1000\  ]] && tail -n 1 "$tmp/err" | grep -qE "${TS}dump: 1 tables?, [0-9]+ chunks, 1000 rows, "; then
  pass "dump --progress with 2 large objects: the last progress line and the summary both count the 1000 table rows"
else fail "dump --progress with large objects" "exit $rc; last progress: $last; summary: $(tail -n 1 "$tmp/err")" "$tmp/err"; fi
run dump -f "$tmp/d0" "$src"
expect "dump without --progress off a terminal: silent" "0||" "$rc|$(cat "$tmp/out")|$(cat "$tmp/err")"

newdb "${p}r1"
run restore --progress -d "${p}r1" "$tmp/d1"
last=$(grep -E "${TS}restore: chunks " "$tmp/err" | tail -n 1)
if [[ $rc -eq 0 ]] && plain "$tmp/err" && stamped "$tmp/err" &&
  [[ $last =~ restore:\ chunks\ $nchunks/$nchunks\ +rows\ 50000\ .*post-data\ ([0-9]+)/([0-9]+)\ +ETA\ done$ ]] &&
  [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]]; then
  pass "restore --progress: timestamped plain lines, the last done"
else fail "restore --progress" "exit $rc; last: $last" "$tmp/err"; fi

run verify --progress "$tmp/d1"
last=$(grep -E "${TS}verify: chunks " "$tmp/err" | tail -n 1)
if [[ $rc -eq 0 ]] && plain "$tmp/err" && stamped "$tmp/err" &&
  [[ $last =~ verify:\ chunks\ $nchunks/$nchunks\ +rows\ 50000\ .*ETA\ done$ ]] && grep -q "^verify: OK: " "$tmp/out"; then
  pass "verify --progress: timestamped plain lines, the last done; the verdict on stdout"
else fail "verify --progress" "exit $rc; last: $last"; fi

# on a terminal (script(1) gives pgferry one): the line redrawn in place, as before
if command -v script >/dev/null 2>&1; then
  script -qefc "$(printf '%q ' "$PGFERRY" dump -f "$tmp/dt" --chunk-size 256kB "$src")" /dev/null >"$tmp/tty" 2>&1
  if grep -q $'\r\033\[K' "$tmp/tty" && grep -qE "dump: chunks $nchunks/$nchunks .*ETA done" "$tmp/tty" &&
    ! grep -qE "$TS" <(tr '\r' '\n' <"$tmp/tty"); then
    pass "dump on a terminal: the progress line redrawn with \\r, no timestamps"
  else fail "dump on a terminal" "no redrawn progress line" "$tmp/tty"; fi
fi

# ======================================================================================
echo "# --- 2. -v: each job"
# ======================================================================================
run dump -v -f "$tmp/d2" --chunk-size 256kB "$src"
n2=$(find "$tmp/d2/data" -name '*.chunk' | wc -l)
miss=
for f in $(cd "$tmp/d2" && find data -name '*.chunk' | sort); do
  i=${f#data/}
  t=public.t$((${i%%.*} + 1)) # data/<table index>.<chunk>.chunk: 0 is t1, 1 is t2
  grep -qE "${TS}dump: chunk $t chunk [0-9]+ -> $f: [0-9.]+ s, [0-9]+ rows, " "$tmp/err" || miss+=" $f"
done
if [[ $rc -eq 0 && -z $miss ]] && stamped "$tmp/err" && [[ $(grep -c ': chunk ' "$tmp/err") -eq $n2 ]]; then
  pass "dump -v: one timestamped line per chunk ($n2), with table, file, seconds, rows"
else fail "dump -v" "exit $rc; missing:$miss" "$tmp/err"; fi
rows=$(grep -oE ': chunk public\.t1 chunk [0-9]+ -> [^:]+: [0-9.]+ s, [0-9]+ rows' "$tmp/err" | awk '{ s += $(NF - 1) } END { print s }')
expect "dump -v: the chunk lines of public.t1 add up to its rows" 30000 "$rows"

newdb "${p}r2"
run restore -v -d "${p}r2" "$tmp/d2"
miss=
for pat in "restore: load public\.t1( chunk [0-9]+)?: [0-9.]+ s, [0-9]+ rows, " \
  "restore: load public\.t2( chunk [0-9]+)?: [0-9.]+ s, [0-9]+ rows, " \
  "restore: index INDEX public\.t2_w: [0-9.]+ s" "restore: index CONSTRAINT public\.t1 t1_pkey" \
  "restore: constraint FK CONSTRAINT public\.t2 t2_id_fkey: [0-9.]+ s" \
  "restore: analyze ANALYZE public\.t1: " "restore: analyze ANALYZE public\.t2: " "restore: pre-data "; do
  grep -qE "$TS$pat" "$tmp/err" || miss+=" [$pat]"
done
if [[ $rc -eq 0 && -z $miss ]] && stamped "$tmp/err" && plain "$tmp/err"; then
  pass "restore -v: each table's load, each index and constraint, each ANALYZE, timestamped"
else fail "restore -v" "exit $rc; missing:$miss" "$tmp/err"; fi
rows=$(grep -oE 'restore: load public\.t2[^:]*: [0-9.]+ s, [0-9]+ rows' "$tmp/err" | awk '{ s += $(NF - 1) } END { print s }')
expect "restore -v: the load lines of public.t2 add up to its rows" 20000 "$rows"

run verify -v "$tmp/d2"
if [[ $rc -eq 0 ]] && [[ $(grep -cE "${TS}verify: chunk public\.t[12] chunk [0-9]+ \(data/[0-9.]+chunk\): " "$tmp/err") -eq $n2 ]]; then
  pass "verify -v: one timestamped line per chunk checked"
else fail "verify -v" "exit $rc" "$tmp/err"; fi

# ======================================================================================
echo "# --- 3. --quiet"
# ======================================================================================
run dump --quiet -f "$tmp/d3" "$src"
expect "dump --quiet: exit 0, nothing on stdout or stderr" "0||" "$rc|$(cat "$tmp/out")|$(cat "$tmp/err")"
newdb "${p}r3"
run restore --quiet -d "${p}r3" "$tmp/d3"
expect "restore --quiet: exit 0, nothing printed" "0||" "$rc|$(cat "$tmp/out")|$(cat "$tmp/err")"
run verify --quiet "$tmp/d3"
expect "verify --quiet: exit 0, nothing printed" "0||" "$rc|$(cat "$tmp/out")|$(cat "$tmp/err")"
cp -r "$tmp/d3" "$tmp/d3bad"
f=$(cd "$tmp/d3bad" && find data -name '*.chunk' | sort | head -n 1)
printf 'X' | dd of="$tmp/d3bad/$f" bs=1 seek=100 conv=notrunc status=none
run verify --quiet "$tmp/d3bad"
if [[ $rc -eq 1 ]] && grep -q "^verify: $f (public.t1 chunk 0): " "$tmp/err" && grep -q "^verify: FAILED: " "$tmp/out"; then
  pass "verify --quiet of a damaged dump: the problem and the verdict still shown, exit 1"
else fail "verify --quiet (damaged)" "exit $rc"; fi
run dump --quiet --progress -f "$tmp/d4" "$src"
expect "dump --quiet --progress: usage error, nothing written" \
  "2|pgferry dump: --quiet and --progress exclude each other (try 'pgferry dump --help')|absent" \
  "$rc|$(cat "$tmp/err")|$([[ -e $tmp/d4 ]] && echo present || echo absent)"

# ======================================================================================
echo "# --- 4. --log-file"
# ======================================================================================
log=$tmp/pgferry.log
run dump --log-file "$log" -f "$tmp/d5" "$src"
if [[ $rc -eq 0 && ! -s $tmp/err ]] && stamped "$log" && plain "$log" &&
  grep -qE "${TS}dump: started \(pgferry [0-9.]+, pid [0-9]+\)$" "$log" &&
  grep -qE "${TS}dump: chunks [0-9]+/[0-9]+ .*ETA done$" "$log" && grep -qE "${TS}dump: 2 tables, " "$log"; then
  pass "dump --log-file (no --progress): stderr silent; the file has the start, progress and summary, timestamped"
else fail "dump --log-file" "exit $rc" "$log" "$tmp/err"; fi
expect "the log file is created 0600" 600 "$(stat -c %a "$log")"
before=$(wc -l <"$log")
run verify -v --quiet --log-file "$log" "$tmp/d5"
n5=$(find "$tmp/d5/data" -name '*.chunk' | wc -l)
if [[ $rc -eq 0 && ! -s $tmp/err && ! -s $tmp/out ]] && (($(wc -l <"$log") > before)) &&
  head -n 1 "$log" | grep -q "dump: started" &&
  [[ $(grep -cE "${TS}verify: chunk public\.t[12] chunk " "$log") -eq $n5 ]] && grep -qE "${TS}verify: OK: " "$log"; then
  pass "verify -v --quiet --log-file: appended; the jobs and the verdict in the file only"
else fail "verify -v --quiet --log-file" "exit $rc" "$log" "$tmp/err"; fi
run dump --log-file "$tmp/no/such/dir/x.log" -f "$tmp/d6" "$src"
expect "dump --log-file in a missing directory: usage error, no dump directory" \
  "2|pgferry dump: --log-file \"$tmp/no/such/dir/x.log\": No such file or directory (try 'pgferry dump --help')||absent" \
  "$rc|$(cat "$tmp/err")|$(cat "$tmp/out")|$([[ -e $tmp/d6 ]] && echo present || echo absent)"
run restore --create -d "${p}r6" --log-file "$tmp" "$tmp/d5"
created=$(q postgres "SELECT count(*) FROM pg_database WHERE datname = '${p}r6'")
expect "restore --log-file DIRECTORY: usage error, no database created" \
  "2|pgferry restore: --log-file \"$tmp\": Is a directory (try 'pgferry restore --help')|0" \
  "$rc|$(cat "$tmp/err")|$created"
run verify --log-file "" "$tmp/d5"
expect "verify --log-file '': usage error" \
  "2|pgferry verify: --log-file \"\": an empty file name (try 'pgferry verify --help')|" "$rc|$(cat "$tmp/err")|$(cat "$tmp/out")"

# ======================================================================================
echo "# --- 5. drill"
# ======================================================================================
run drill --progress -v --target postgres "$tmp/d1"
if [[ $rc -eq 0 ]] && plain "$tmp/err" && stamped "$tmp/err" &&
  grep -qE "${TS}restore: chunks $nchunks/$nchunks .*ETA done$" "$tmp/err" &&
  grep -qE "${TS}verify: chunks [0-9]+/[0-9]+ .*ETA done$" "$tmp/err" &&
  grep -qE "${TS}drill: index INDEX public\.t2_w: " "$tmp/err" && grep -qF "result: **PASS**" "$tmp/out"; then
  pass "drill --progress -v: the restore's and the verification's progress and jobs, timestamped"
else fail "drill --progress -v" "exit $rc"; fi

# ======================================================================================
echo "# --- 6. copy"
# ======================================================================================
adddb "${p}c1"
run copy --progress -v --source "$src" --target "${p}c1" --create
if [[ $rc -eq 0 ]] && plain "$tmp/err" && stamped "$tmp/err" &&
  grep -qE "${TS}restore: chunks [0-9]+/[0-9]+ .*ETA done$" "$tmp/err" &&
  grep -qE "${TS}copy: load public\.t1" "$tmp/err" && grep -qE "${TS}copy: index INDEX public\.t2_w: " "$tmp/err" &&
  grep -qE "${TS}copy: 2 tables, 50000 rows, .* every table verified equal to the source$" "$tmp/err"; then
  pass "copy --progress -v: timestamped progress, each load and index, the summary"
else fail "copy --progress -v" "exit $rc"; fi
run copy --quiet --log-file "$tmp/no/such/x.log" --source "$src" --target "${p}c2" --create
created=$(q postgres "SELECT count(*) FROM pg_database WHERE datname = '${p}c2'")
expect "copy --log-file in a missing directory: usage error, no database created" \
  "2|pgferry copy: --log-file \"$tmp/no/such/x.log\": No such file or directory (try 'pgferry copy --help')|0" \
  "$rc|$(cat "$tmp/err")|$created"

summary logging
