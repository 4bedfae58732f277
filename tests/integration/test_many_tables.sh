#!/usr/bin/env bash
# test_many_tables.sh: thousands of small tables (the "many small tables" shape of SaaS
# schemas): dump, restore and verify --db must work with the server's default lock table,
# which one transaction creating every table would exhaust. Runs inside with_cluster.sh.
set -u
: "${PGFERRY:?}"
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-many.XXXXXX") || exit 1
trap 'rm -rf -- "$tmp"' EXIT
check() {
  local name=$1 out=$2
  shift 2
  if "$@"; then echo "PASS - $name"; passed=$((passed + 1)); else
    echo "FAIL - $name"; failed=$((failed + 1)); sed 's/^/    | /' "$out"; fi
}
N=3000
createdb many || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d many -c "
  DO \$\$ BEGIN
    FOR i IN 1..$N LOOP
      EXECUTE format('CREATE TABLE public.t%s (id serial PRIMARY KEY, v text)', i);
      EXECUTE format('INSERT INTO public.t%s (v) SELECT md5(g::text) FROM generate_series(1, %s) g', i, i % 7);
      IF i % 500 = 0 THEN COMMIT; END IF;
    END LOOP;
  END \$\$" || exit 1
locks=$(psql -X -At -c "SELECT current_setting('max_locks_per_transaction')::int * current_setting('max_connections')::int")
echo "# $N tables, each with a sequence and a primary key; server lock table: $locks slots"

"$PGFERRY" dump -d dbname=many -f "$tmp/d" -j 2 --no-progress --json >"$tmp/o" 2>&1
rc=$?
check "dump of $N tables exits 0" "$tmp/o" test "$rc" -eq 0
check "the manifest lists $N tables" "$tmp/o" grep -q "\"tables\": $N" "$tmp/o"
"$PGFERRY" restore -f "$tmp/d" -d dbname=many_copy --create -j 2 --no-progress >"$tmp/o" 2>&1
rc=$?
check "restore of $N tables exits 0 (pre-data in batches)" "$tmp/o" test "$rc" -eq 0
n=$(psql -X -At -d many_copy -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 't%_pkey'")
check "all $N primary keys restored" "$tmp/o" test "$n" = "$N"
"$PGFERRY" verify "$tmp/d" --db dbname=many_copy -j 2 >"$tmp/o" 2>&1
rc=$?
check "verify --db: every table equal to the dump" "$tmp/o" test "$rc" -eq 0
s1=$(psql -X -At -d many -c "SELECT string_agg(last_value::text, ',' ORDER BY sequencename) FROM pg_sequences")
s2=$(psql -X -At -d many_copy -c "SELECT string_agg(last_value::text, ',' ORDER BY sequencename) FROM pg_sequences")
check "sequence values restored" "$tmp/o" test "$s1" = "$s2"
echo "many_tables: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
