#!/usr/bin/env bash
# test_copy.sh: pgferry copy, database to database. Runs inside tests/harness/with_cluster.sh
# with PGFERRY (the binary) and PGFERRY_SRC (the source tree). Every copy is compared with its
# source in full (lib.sh's same_as: pg_dump --schema-only, every table's count and md5,
# sequences, large objects).
#
#  1. the sample data (partitions, inheritance, domains, enums, generated and dropped
#     columns, tables without columns, quoted and unicode names, large objects, foreign
#     keys, materialized views) with --create at -j 2, and into an existing empty database
#     at -j 1; --json names every table verified
#  2. -t/-T/-n/-N select as dump does
#  3. a stream corrupted between source and target (test builds: PGFERRY_TEST_CORRUPT_CHUNK)
#     aborts its chunk: nothing of that table commits, one clear error, exit 1
#  4. bad input: same database, target not empty, unreachable target, --resume without a
#     journal, usage errors: one line, exit 1 or 2, nothing written
#  5. kill -9 mid-copy (every unit of work in flight held just before its commit), then
#     --resume: identical; kill -9 mid-COPY; a resume after the source changed is refused
#  6. --keep-dump: the dump verifies and restores identically (also when written by a
#     resumed copy); a directory in use is refused before anything is written; a failed
#     copy leaves no dump
set -u

: "${PGFERRY:?PGFERRY must name the pgferry binary}"
PF_TEST_NAME=copy PF_TEST_PREFIX=pfc
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

die() { fail "$1" "$2"; summary copy; exit 1; }

# =========================================================================================
# 1. The sample data
# =========================================================================================
echo "# --- 1. sample data (at ${SECONDS}s)"
src=${p}src
load_sample "$src" 1 || die "load sample data" "psql failed: $(tail -n 3 "$tmp/load.log")"
snap "$src" "$tmp/src"
grep -qF 'large object 424242|postgres|' "$tmp/src.data" || fail "source digest covers large objects" "missing" "$tmp/src.data"

adddb "${p}c1"
run copy --source "dbname=$src" --target "dbname=${p}c1" --create -j 2 --no-progress --json
expect "copy --create -j 2: exit 0" 0 "$rc"
same_as "copy --create -j 2" "$tmp/src" "${p}c1"
expect "copy --json: the contract's fields, ok" "pgferry.json/1 copy true 0 ${p}c1" \
  "$(q postgres "SELECT concat_ws(' ', j->>'contract', j->>'command', j->>'ok', j->>'exit', j->>'database')
                 FROM (SELECT \$j\$$(cat "$tmp/out")\$j\$::jsonb AS j) x" 2>&1)"
expect "copy --json: every table of the source verified ok" \
  "$(q "$src" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'")+1 ok" \
  "$(q postgres "SELECT count(*) || '+' || (SELECT count(*) FROM jsonb_array_elements(\$j\$$(cat "$tmp/out")\$j\$::jsonb->'verified') v
                                             WHERE v->>'schema' = 'pg_catalog') || ' ' || min(v->>'status')
                 FROM jsonb_array_elements(\$j\$$(cat "$tmp/out")\$j\$::jsonb->'verified') v WHERE v->>'schema' <> 'pg_catalog'" 2>&1)"

newdb "${p}c2"
run copy --source "dbname=$src" --target "dbname=${p}c2" -j 1 --globals --progress
expect "copy --globals into an empty database -j 1: exit 0" 0 "$rc"
if grep -qE "^restore: globals: 0 roles created \([0-9]+ there already" "$tmp/err"; then pass "copy --globals: the roles the objects use, there already"; else fail "copy --globals" "no globals line"; fi
# off a terminal --progress lines start with the UTC time (test_logging.sh)
if grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z copy: [0-9]+ tables, [0-9]+ rows, .* into ${p}c2 in [0-9.]+ s; every table verified equal to the source$" "$tmp/err" &&
   grep -q 'restore: chunks [0-9]*/[0-9]* ' "$tmp/err"; then pass "copy --progress: progress lines and the closing line"
else fail "copy --progress" "no progress or closing line"; fi
same_as "copy -j 1" "$tmp/src" "${p}c2"

# =========================================================================================
# 2. -t/-T/-n/-N
# =========================================================================================
echo "# --- 2. selection (at ${SECONDS}s)"
# tables DB: schema.table of every ordinary table, one a line
tables() { q "$1" "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', '_pgferry')
                  ORDER BY 1"; }
# same_tables NAME DB: every table DB holds has the source's rows (count and md5)
same_tables() {
  local name=$1 db=$2 t bad=''
  for t in $(tables "$db"); do
    [[ $(tdigest "$db" "ONLY $t") == "$(tdigest "$src" "ONLY $t")" ]] || bad+=" $t"
  done
  if [[ -z $bad ]]; then pass "$name: every table copied has the source's rows"; else fail "$name" "rows differ:$bad"; fi
}
adddb "${p}s1"
run copy --source "dbname=$src" --target "dbname=${p}s1" --create -n ledger --no-progress
expect "copy -n ledger: exit 0" 0 "$rc"
expect "copy -n ledger: exactly the schema's tables" "ledger.currencies" "$(tables "${p}s1" | xargs)"
same_tables "copy -n ledger" "${p}s1"
adddb "${p}s3"
run copy --source "dbname=$src" --target "dbname=${p}s3" --create -t public.docs -t 'public.gen_*' --no-progress
expect "copy -t: exit 0" 0 "$rc"
expect "copy -t: exactly the selected tables" "public.docs public.gen_drop" "$(tables "${p}s3" | xargs)"
same_tables "copy -t" "${p}s3"
adddb "${p}s2"
run copy --source "dbname=$src" --target "dbname=${p}s2" --create -N '"Sales Ω"' -T public.events_nopk -T public.docs --no-progress
expect "copy -N -T: exit 0" 0 "$rc"
expect "copy -N -T: the excluded tables are not there" "" \
  "$(tables "${p}s2" | grep -E '^(Sales|public\.events_nopk$|public\.docs$)' | xargs)"
expect "copy -N -T: the others are" "$(tables "$src" | grep -vE '^(Sales|public\.events_nopk$|public\.docs$)' | xargs)" \
  "$(tables "${p}s2" | xargs)"
same_tables "copy -N -T" "${p}s2"

# =========================================================================================
# 3. A stream corrupted between source and target
# =========================================================================================
echo "# --- 3. corrupted stream (at ${SECONDS}s)"
if grep -q '^PGFERRY_TESTING:BOOL=ON' "$(dirname -- "$PGFERRY")/CMakeCache.txt" 2>/dev/null; then
  newdb "${p}k"
  q "${p}k" "CREATE TABLE public.corrupt_me (id int PRIMARY KEY, t text NOT NULL);
             INSERT INTO public.corrupt_me SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
             CREATE TABLE public.fine (id int PRIMARY KEY); INSERT INTO public.fine SELECT generate_series(1, 100)" >/dev/null
  newdb "${p}kt"
  PGFERRY_TEST_CORRUPT_CHUNK=public.corrupt_me run copy --source "dbname=${p}k" --target "dbname=${p}kt" -j 1 --no-progress
  expect "corrupted chunk: exit 1" 1 "$rc"
  expect "corrupted chunk: one line on stderr" 1 "$(wc -l <"$tmp/err")"
  if grep -qF 'chunk live/0.0 (public.corrupt_me chunk 0): the rows sent to the target differ from the rows read at the source (5000 read, 5000 sent, content hash different)' "$tmp/err"; then
    pass "corrupted chunk: the error names the chunk and the difference"
  else fail "corrupted chunk: error" "not the expected message"; fi
  expect "corrupted chunk: nothing of it committed" 0 "$(q "${p}kt" "SELECT count(*) FROM public.corrupt_me" 2>&1)"
  expect "corrupted chunk: no journal row for it" 0 \
    "$(q "${p}kt" "SELECT count(*) FROM _pgferry.journal WHERE item = 'chunk:live/0.0'" 2>&1)"
else
  echo "SKIP - corrupted stream: this build has no test hooks (cmake -DPGFERRY_TESTING=ON, as .ci/run builds)"
fi

# =========================================================================================
# 4. Bad input
# =========================================================================================
echo "# --- 4. bad input (at ${SECONDS}s)"
# refused NAME CODE PATTERN ARGS...: pgferry copy ARGS exits CODE with one line matching PATTERN
refused() {
  local name=$1 code=$2 pat=$3
  shift 3
  run copy "$@" --no-progress
  expect "$name: exit $code" "$code" "$rc"
  if [[ $(wc -l <"$tmp/err") == 1 ]] && grep -qE -- "$pat" "$tmp/err"; then pass "$name: one line naming the problem"
  else fail "$name: message" "expected one line matching /$pat/"; fi
}
before=$(user_objects "${p}c2")
refused "same database" 1 '^pgferry copy: source and target are the same database \("'"$src"'"\): copy into another database$' \
  --source "dbname=$src" --target "dbname=$src"
run copy --source "dbname=$src" --target "dbname=$src" --json
expect "same database --json: one object, ok false, the error" "false 1 source and target are the same database" \
  "$(q postgres "SELECT concat_ws(' ', j->>'ok', j->>'exit', left(j->>'error', 39))
                 FROM (SELECT \$j\$$(cat "$tmp/out")\$j\$::jsonb AS j) x" 2>&1)"
refused "target not empty" 1 '^pgferry copy: target database is not empty \(it has [^)]*\): copy into an empty database \(or a new one with --create\)$' \
  --source "dbname=$src" --target "dbname=${p}c2"
expect "target not empty: nothing written" "$before 0" "$(user_objects "${p}c2") $(q "${p}c2" "SELECT count(*) FROM pg_namespace WHERE nspname = '_pgferry'")"
refused "unreachable target" 1 '^pgferry copy: target: .*127\.0\.0\.1.*' \
  --source "dbname=$src" --target "host=127.0.0.1 port=1 dbname=x connect_timeout=5"
newdb "${p}e"
refused "--resume without a journal" 1 '^pgferry copy: --resume: no unfinished copy in database "'"${p}e"'" \(no _pgferry.journal\): run without --resume$' \
  --source "dbname=$src" --target "dbname=${p}e" --resume
expect "--resume without a journal: nothing written" 0 "$(user_objects "${p}e")"
refused "--create of an existing database" 1 'already exists' --source "dbname=$src" --target "dbname=${p}e" --create
expect "--create of an existing database: nothing written" 0 "$(user_objects "${p}e")"
refused "no --target" 2 '^pgferry copy: missing --target CONNINFO' --source "dbname=$src"
refused "no --source" 2 '^pgferry copy: missing --source CONNINFO' --target "dbname=${p}e"
refused "target without a database name" 2 '^pgferry copy: ' --source "dbname=$src" --target "host=/tmp"
refused "bad -j" 2 '^pgferry copy: invalid --jobs value "0"' --source "dbname=$src" --target "dbname=${p}e" -j 0
refused "stray argument" 2 '^pgferry copy: unexpected argument "x"' --source "dbname=$src" --target "dbname=${p}e" x
refused "include pattern matching nothing" 1 'nothing_like_this' --source "dbname=$src" --target "dbname=${p}e" -t nothing_like_this
expect "bad input: nothing written" 0 "$(user_objects "${p}e")"

# =========================================================================================
# 5. kill -9, --resume
# =========================================================================================
echo "# --- 5. kill -9 and --resume (at ${SECONDS}s)"
newdb "${p}r1"
if interrupt "copy: kill -9 with chunks in flight" "${p}r1" \
     "(SELECT count(*) FROM _pgferry.journal WHERE item LIKE 'chunk:%') >= 4" kill "copy:$src"; then
  committed=$(jcount "${p}r1" 'chunk:%')
  run copy --source "dbname=$src" --target "dbname=${p}r1" --resume -j 2 --no-progress
  expect "copy --resume after kill -9: exit 0" 0 "$rc"
  if grep -q '^copy: --resume reads a new snapshot of the source' "$tmp/err" &&
     grep -q "^copy: $committed chunks\? the interrupted run committed read again in the new snapshot" "$tmp/err"; then
    pass "copy --resume: says it reads a new snapshot, and re-reads the $committed committed chunks"
  else fail "copy --resume: notices" "missing"; fi
  same_as "copy --resume after kill -9" "$tmp/src" "${p}r1"
fi
adddb "${p}r2"
if interrupt "copy --create: kill -9 mid-COPY" "${p}r2" \
     "EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY %FROM STDIN%')" \
     nolock "copy:$src" --create; then
  run copy --source "dbname=$src" --target "dbname=${p}r2" --create --resume --no-progress
  expect "copy --create --resume after kill -9 mid-COPY: exit 0" 0 "$rc"
  same_as "copy --create --resume after kill -9 mid-COPY" "$tmp/src" "${p}r2"
fi
newdb "${p}r3"
# the watcher's condition, in a function: the table does not exist before pre-data
# (looked up in pg_class: to_regclass in the watcher's long transaction does not see it come)
q "${p}r3" "CREATE FUNCTION public.pf_has_rows(s text, t text) RETURNS boolean LANGUAGE plpgsql AS \$f\$
            DECLARE r boolean; BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE n.nspname = s AND c.relname = t) THEN RETURN false; END IF;
              EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', s, t) INTO r; RETURN r;
            END \$f\$" >/dev/null
if interrupt "copy: kill -9 once ledger.currencies is in, then it changes at the source" "${p}r3" \
     "public.pf_has_rows('ledger', 'currencies')" kill "copy:$src"; then
  q "$src" "UPDATE ledger.currencies SET name = name || '!' WHERE code = (SELECT min(code) FROM ledger.currencies)" >/dev/null
  run copy --source "dbname=$src" --target "dbname=${p}r3" --resume --no-progress
  expect "copy --resume after committed rows changed at the source: exit 1" 1 "$rc"
  if grep -qx 'pgferry copy: the target differs from the source in 1 table: ledger.currencies (content differs); rows the interrupted run committed changed at the source since: copy again into a new or empty database' "$tmp/err"; then
    pass "copy --resume after committed rows changed at the source: the final comparison names the table"
  else fail "copy --resume after committed rows changed at the source" "not the expected message"; fi
  q "$src" "UPDATE ledger.currencies SET name = rtrim(name, '!') WHERE code = (SELECT min(code) FROM ledger.currencies)" >/dev/null
fi
newdb "${p}r4"
if interrupt "copy: kill -9, then a table is added at the source" "${p}r4" \
     "(SELECT count(*) FROM _pgferry.journal WHERE item LIKE 'chunk:%') >= 2" kill "copy:$src"; then
  before=$(jcount "${p}r4" '%')
  q "$src" "CREATE TABLE public.late_addition (i int)" >/dev/null
  run copy --source "dbname=$src" --target "dbname=${p}r4" --resume --no-progress
  expect "copy --resume after the source's tables changed: exit 1" 1 "$rc"
  if grep -q '^pgferry copy: --resume: the source changed since the interrupted copy (its tables or their sizes differ' "$tmp/err" &&
     [[ $(grep -vc '^copy: ' "$tmp/err") == 1 ]]; then pass "copy --resume after the source's tables changed: refused, naming why"
  else fail "copy --resume after the source's tables changed" "not the expected message"; fi
  expect "copy --resume after the source's tables changed: nothing more written" "$before" "$(jcount "${p}r4" '%')"
  q "$src" "DROP TABLE public.late_addition" >/dev/null
fi

# =========================================================================================
# 6. --keep-dump
# =========================================================================================
echo "# --- 6. --keep-dump (at ${SECONDS}s)"
# kept NAME DIR: DIR verifies, and restores into a new database identical to the source
kept() {
  local name=$1 dir=$2
  run verify "$dir"
  expect "$name: the kept dump verifies" 0 "$rc"
  adddb "${p}kr$3"
  run restore -f "$dir" -d "dbname=${p}kr$3" --create -j 2 --no-progress
  expect "$name: the kept dump restores" 0 "$rc"
  same_as "$name: restore of the kept dump" "$tmp/src" "${p}kr$3"
}
newdb "${p}d1"
# pg_dump through a wrapper that counts its runs: one schema dump serves target and dump
bindir=$(dirname "$(command -v pg_dump)")
mkdir -p "$tmp/bin"
printf '#!/bin/sh\n[ "$1" = --version ] || echo run >>"%s"\nexec "%s" "$@"\n' "$tmp/pg_dump.runs" "$bindir/pg_dump" >"$tmp/bin/pg_dump"
chmod 755 "$tmp/bin/pg_dump"
ln -sf "$bindir/pg_restore" "$tmp/bin/pg_restore"
PGFERRY_PG_BINDIR=$tmp/bin run copy --source "dbname=$src" --target "dbname=${p}d1" --keep-dump "$tmp/kd1" -j 2 --no-progress
expect "copy --keep-dump: exit 0" 0 "$rc"
expect "copy --keep-dump: pg_dump ran once (the schema archive serves target and dump)" 1 "$(grep -c . "$tmp/pg_dump.runs" 2>/dev/null)"
same_as "copy --keep-dump" "$tmp/src" "${p}d1"
kept "copy --keep-dump" "$tmp/kd1" 1

# --globals: the kept dump holds the roles copy read, as a dump of the source would
newdb "${p}d4"
run copy --source "dbname=$src" --target "dbname=${p}d4" --globals --keep-dump "$tmp/kd4" --no-progress
expect "copy --globals --keep-dump: exit 0" 0 "$rc"
run dump -d "dbname=$src" --globals -f "$tmp/gd4" --no-progress
if [[ -s $tmp/kd4/globals.json ]] && cmp -s "$tmp/kd4/globals.json" "$tmp/gd4/globals.json"; then
  pass "copy --globals --keep-dump: the kept dump's globals equal a dump --globals of the source"
else fail "copy --globals --keep-dump" "globals.json missing or different from dump --globals'"; fi
run verify "$tmp/kd4"
expect "copy --globals --keep-dump: the kept dump verifies" 0 "$rc"

newdb "${p}d2"
refused "--keep-dump into a directory in use" 1 "^pgferry copy: --keep-dump: .*$tmp/kd1.* is not empty" \
  --source "dbname=$src" --target "dbname=${p}d2" --keep-dump "$tmp/kd1"
expect "--keep-dump into a directory in use: nothing written" 0 "$(user_objects "${p}d2")"

if grep -q '^PGFERRY_TESTING:BOOL=ON' "$(dirname -- "$PGFERRY")/CMakeCache.txt" 2>/dev/null; then
  PGFERRY_TEST_CORRUPT_CHUNK=public.accounts run copy --source "dbname=$src" --target "dbname=${p}d2" \
    --keep-dump "$tmp/kd2" --no-progress
  expect "--keep-dump of a failed copy: exit 1" 1 "$rc"
  expect "--keep-dump of a failed copy: no dump left" "" "$(ls -A "$tmp/kd2" 2>/dev/null)"
fi

newdb "${p}d3"
if interrupt "copy --keep-dump: kill -9 with chunks in flight" "${p}d3" \
     "(SELECT count(*) FROM _pgferry.journal WHERE item LIKE 'chunk:%') >= 3" kill "copy:$src" --keep-dump "$tmp/kd3a"; then
  expect "copy --keep-dump killed: no manifest left" "" "$(ls "$tmp/kd3a/manifest.json" 2>/dev/null)"
  run copy --source "dbname=$src" --target "dbname=${p}d3" --resume --keep-dump "$tmp/kd3" --no-progress
  expect "copy --resume --keep-dump: exit 0" 0 "$rc"
  same_as "copy --resume --keep-dump" "$tmp/src" "${p}d3"
  kept "copy --resume --keep-dump" "$tmp/kd3" 3
fi

summary copy
