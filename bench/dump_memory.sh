#!/usr/bin/env bash
# bench/dump_memory.sh [PGFERRY]
#
# Shows that `pgferry dump` memory does not grow with table size: makes a ~64 MB and a
# ~640 MB table in a throwaway cluster, dumps each alone with
#     /usr/bin/time -v pgferry dump -j 2 --chunk-size 8MB
# and prints the peak RSS ("Maximum resident set size": pgferry, or the pg_dump child it
# waits for, whichever is larger) side by side. Not part of ctest (it writes ~700 MB and
# takes a minute or so).
#
# PGFERRY defaults to build/pgferry. Runs inside tests/harness/with_cluster.sh (started
# here unless PF_CLUSTER_DIR says we already are in one). TMPDIR: where the dumps go.
set -euo pipefail

src=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
PGFERRY=${1:-${PGFERRY:-$src/build/pgferry}}
if [[ ! -x $PGFERRY ]]; then
  echo "dump_memory: $PGFERRY is not executable: build first (cmake -S . -B build && cmake --build build)" >&2
  exit 2
fi
if [[ ! -x /usr/bin/time ]]; then
  echo "dump_memory: /usr/bin/time not found: install the Debian package 'time' (apt-get install time)" >&2
  exit 2
fi
if [[ -z ${PF_CLUSTER_DIR:-} ]]; then
  exec bash "$src/tests/harness/with_cluster.sh" bash "${BASH_SOURCE[0]}" "$(realpath "$PGFERRY")"
fi

db=pf_bench_mem
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-bench-mem.XXXXXX")
cleanup() {
  rm -rf -- "$tmp"
  psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -XqAt -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" 2>/dev/null
# About 512 bytes a row (16 a page): 131072 rows ~ 64 MB, ten times that ~ 640 MB.
echo "dump_memory: creating the tables (~700 MB) ..." >&2
psql -XqAt -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE TABLE t64 (id bigint, filler text);
INSERT INTO t64 SELECT g, repeat(md5(g::text), 14) FROM generate_series(1, 131072) g;
CREATE TABLE t640 (id bigint, filler text);
INSERT INTO t640 SELECT g, repeat(md5(g::text), 14) FROM generate_series(1, 1310720) g;
VACUUM ANALYZE;
SQL

declare -A size rss secs chunks
for t in t64 t640; do
  size[$t]=$(psql -XqAt -d "$db" -c "SELECT pg_size_pretty(pg_relation_size('$t'))")
  out=$tmp/$t
  /usr/bin/time -v -o "$tmp/$t.time" "$PGFERRY" dump -d "dbname=$db" -t "$t" -f "$out" -j 2 \
    --chunk-size 8MB --no-progress --json >"$tmp/$t.json"
  rss[$t]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/$t.time")
  secs[$t]=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/$t.time")
  chunks[$t]=$(sed -n 's/^ *"chunks": \([0-9]*\).*/\1/p' "$tmp/$t.json")
  rm -rf -- "$out"
done

printf '\n%-36s %14s %14s\n' "pgferry dump -j 2 --chunk-size 8MB" "~64 MB table" "~640 MB table"
printf '%-36s %14s %14s\n' "table size (heap)" "${size[t64]}" "${size[t640]}"
printf '%-36s %14s %14s\n' "chunks" "${chunks[t64]}" "${chunks[t640]}"
printf '%-36s %14s %14s\n' "wall clock" "${secs[t64]}" "${secs[t640]}"
printf '%-36s %11s MB %11s MB\n' "peak RSS (max resident)" \
  "$(awk -v k="${rss[t64]}" 'BEGIN {printf "%.1f", k / 1024}')" \
  "$(awk -v k="${rss[t640]}" 'BEGIN {printf "%.1f", k / 1024}')"
awk -v a="${rss[t64]}" -v b="${rss[t640]}" \
  'BEGIN {printf "%-36s %14s %13.2fx\n", "RSS ratio (640 / 64)", "", b / a}'
