#!/usr/bin/env bash
# test_drill.sh: verify --db (a live database against a dump) and drill (timed restore into
# a scratch database, verified, dropped). Runs inside tests/harness/with_cluster.sh (PG*
# set; PGFERRY and PGFERRY_SRC given by ctest).
set -u
: "${PGFERRY:?}" "${PGFERRY_SRC:?}"
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-drill.XXXXXX") || exit 1
trap 'rm -rf -- "$tmp"' EXIT

pass() { echo "PASS - $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL - $1"
  failed=$((failed + 1))
  [ -n "${2:-}" ] && [ -s "$2" ] && sed 's/^/    | /' "$2"
}
check() { # check NAME OUTFILE COMMAND...: passes when COMMAND succeeds
  local name=$1 out=$2
  shift 2
  if "$@"; then pass "$name"; else fail "$name" "$out"; fi
}
run() { # run OUTFILE CMD...: exit code in $rc
  local out=$1
  shift
  "$@" >"$out" 2>&1
  rc=$?
}
psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
scratch_dbs() { psql -X -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgferry_drill_%'"; }

createdb src || exit 1
psqlq -v scale=1 -d src -f "$PGFERRY_SRC/tools/sample_data.sql" >/dev/null || exit 1
D=$tmp/dump
run "$tmp/o" "$PGFERRY" dump -d dbname=src -f "$D" -j 2 --chunk-size 1MB --no-progress
check "dump exits 0" "$tmp/o" test "$rc" -eq 0

# --- verify --db --------------------------------------------------------------------------
run "$tmp/o" "$PGFERRY" verify "$D" --db dbname=src -j 2
check "verify --db of the source itself: OK" "$tmp/o" test "$rc" -eq 0
run "$tmp/o" "$PGFERRY" restore -f "$D" -d dbname=dst --create -j 2 --no-progress
check "restore exits 0" "$tmp/o" test "$rc" -eq 0
run "$tmp/o" "$PGFERRY" verify "$D" --db dbname=dst -j 2 --json
check "verify --db of an untouched restore: OK" "$tmp/o" bash -c '[ "$1" -eq 0 ] && grep -q "\"ok\": true" "$2"' _ "$rc" "$tmp/o"

edit_case() { # edit_case NAME SQL EXPECT_TABLE EXPECT_TEXT
  createdb -T dst case_db || return 1
  psqlq -d case_db -c "$2" || return 1
  run "$tmp/o" "$PGFERRY" verify "$D" --db dbname=case_db -j 2
  check "verify --db catches $1" "$tmp/o" bash -c '[ "$1" -eq 1 ] && grep -qF "$2" "$4" && grep -qF "$3" "$4"' _ "$rc" "$3" "$4" "$tmp/o"
  # exactly one table reported: the check is about that table, not noise
  local n
  n=$(grep -c '^verify: database table' "$tmp/o")
  check "verify --db names only the changed table ($1)" "$tmp/o" test "$n" -eq 1
  dropdb case_db
}
edit_case "a deleted row" "DELETE FROM public.accounts WHERE aid = 4242" "public.accounts" "199999 rows, the dump 200000"
edit_case "an edited value" "UPDATE public.types_zoo SET num = num + 1 WHERE id = 10" "public.types_zoo" "content differs"
edit_case "an extra row" "INSERT INTO public.events_nopk VALUES ('extra', 1, now())" "public.events_nopk" "20051 rows, the dump 20050"
edit_case "a swapped value pair (same count, same multiset of columns)" \
  "UPDATE public.gen_drop SET a = CASE id WHEN 1 THEN 2 ELSE 1 END WHERE id IN (1, 2)" "public.gen_drop" "content differs"
edit_case "a dropped table" "DROP TABLE public.cache" "public.cache" "missing"
edit_case "a changed large object" "SELECT lo_put(424242, 0, '\\x09'::bytea)" "pg_catalog.pg_largeobject" "content differs"

# --- drill ---------------------------------------------------------------------------------
run "$tmp/o" "$PGFERRY" drill "$D" --target dbname=postgres -j 2 --report "$tmp/report.json"
check "drill passes" "$tmp/o" test "$rc" -eq 0
check "drill prints a Markdown report with every phase" "$tmp/o" bash -c '
  for p in "checks" "schema (pre-data)" "| data |" "indexes and constraints" "post-data" "verification" "**total**" "**PASS**"; do
    grep -qF "$p" "$1" || { echo "missing: $p"; exit 1; }
  done' _ "$tmp/o"
check "drill report lists every table as ok" "$tmp/o" bash -c '[ "$(grep -c "| ok |" "$1")" -ge 13 ]' _ "$tmp/o"
report=$(cat "$tmp/report.json" 2>/dev/null)
cat >"$tmp/report.sql" <<'SQL'
SELECT (j->>'ok')::bool
   AND j->'seconds' ?& array['checks', 'schema', 'data', 'indexes_constraints', 'post_data', 'verification', 'total']
   AND (j->'seconds'->>'total')::float > 0
   AND jsonb_array_length(j->'tables') >= 13
FROM (SELECT :'r'::jsonb j) x
SQL
check "--report FILE writes JSON with every phase's seconds" "$tmp/report.json" \
  bash -c 'psql -X -At -v r="$1" -f "$2" | grep -qx t' _ "$report" "$tmp/report.sql"
check "drill dropped its scratch database" "$tmp/o" test "$(scratch_dbs)" = 0

run "$tmp/o" "$PGFERRY" drill "$D" --target dbname=postgres --report "$tmp/report.md" --keep
kept=$(psql -X -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'pgferry_drill_%'")
check "--keep keeps the scratch database" "$tmp/o" test -n "$kept"
check "--report FILE.md writes Markdown" "$tmp/report.md" grep -q "^# pgferry restore drill" "$tmp/report.md"
[ -n "$kept" ] && dropdb "$kept"

# forced failure: a damaged chunk makes the restore fail; the scratch database still goes
cp -a "$D" "$tmp/bad"
big=$(ls -S "$tmp/bad"/data/*.chunk | head -1)
printf '\x01' | dd of="$big" bs=1 seek=$(($(stat -c %s "$big") / 2)) conv=notrunc status=none
run "$tmp/o" "$PGFERRY" drill "$tmp/bad" --target dbname=postgres --report "$tmp/bad.json"
check "drill of a damaged dump exits 1 and says why" "$tmp/o" bash -c '[ "$1" -eq 1 ] && grep -q "FAIL" "$2" && grep -qF "$(basename "$3")" "$2"' _ "$rc" "$tmp/o" "$big"
check "drill dropped its scratch database after the failure" "$tmp/o" test "$(scratch_dbs)" = 0
check "the failure report is written too" "$tmp/bad.json" grep -q '"ok": false' "$tmp/bad.json"

# a dump whose restored data would differ cannot be made without editing the manifest
# (caught by its checksum); a target that refuses CREATE DATABASE is a clear error
psqlq -c "DROP ROLE IF EXISTS pf_nocreate; CREATE ROLE pf_nocreate LOGIN"
run "$tmp/o" "$PGFERRY" drill "$D" --target "dbname=postgres user=pf_nocreate"
check "drill without CREATEDB: one-line error, exit 1" "$tmp/o" bash -c '[ "$1" -eq 1 ] && grep -q "permission denied to create database" "$2"' _ "$rc" "$tmp/o"
run "$tmp/o" "$PGFERRY" drill "$D"
check "drill without --target: usage error" "$tmp/o" test "$rc" -eq 2

echo "drill: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
