#!/usr/bin/env bash
# diff_bench.sh: `pgferry diff` of a table of N rows (default 2,000,000) against its backup
# with 1% of rows changed (0.4% deleted, 0.4% updated, 0.2% added): wall time and peak RSS
# (/usr/bin/time -v), with and without --sql. Run inside tests/harness/with_cluster.sh with
# PGFERRY set: bash tests/harness/with_cluster.sh env PGFERRY=build/pgferry bash bench/diff_bench.sh
set -eu
: "${PGFERRY:?PGFERRY must name the pgferry binary}"
n=${PF_DIFF_ROWS:-2000000}
jobs=${PF_DIFF_JOBS:-2}
db=pf_diffbench_$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-diffbench.XXXXXX")
trap 'rm -rf -- "$tmp"; dropdb --if-exists "$db" >/dev/null 2>&1' EXIT
createdb "$db"
psql -XAtq -v ON_ERROR_STOP=1 -d "$db" -c "CREATE TABLE t (id bigint PRIMARY KEY, a int, b text, c timestamptz, d numeric);
  INSERT INTO t SELECT i, i % 1000, md5(i::text) || repeat('x', (i % 64)::int), '2026-01-01'::timestamptz + i * interval '1 s', i / 7.0
  FROM generate_series(1, $n) i"
psql -XAtq -v ON_ERROR_STOP=1 -d "$db" -c "VACUUM ANALYZE t"
echo "table: $n rows, $(psql -XAtq -d "$db" -c "SELECT pg_size_pretty(pg_table_size('t'))")"
"$PGFERRY" dump -d "$db" -f "$tmp/dump" -j "$jobs" --no-progress >/dev/null
psql -XAtq -v ON_ERROR_STOP=1 -d "$db" -c "DELETE FROM t WHERE id % 250 = 1; UPDATE t SET a = -a, b = NULL WHERE id % 250 = 2;
  INSERT INTO t SELECT i, 0, 'new', now(), 0 FROM generate_series($n + 1, $n + $n / 500) i"
for sql in none file; do
  args=()
  [[ $sql == file ]] && args=(--sql "$tmp/put-back.sql")
  /usr/bin/time -v -o "$tmp/time" "$PGFERRY" diff -d "$db" -t t -f "$tmp/dump" -j "$jobs" --json "${args[@]}" >"$tmp/out"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time")
  counts=$(tr -d ' \n' <"$tmp/out" | grep -o '"deleted":[0-9]*,"added":[0-9]*,"changed":[0-9]*' | head -1)
  echo "diff -j $jobs --sql $sql: wall $wall, peak RSS $((rss / 1024)) MB, $counts"
done
