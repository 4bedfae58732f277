#!/usr/bin/env bash
# pgferry's main job, end to end, on an embedded default: installs what is needed, builds,
# starts a throwaway PostgreSQL cluster with sample data, dumps it in parallel, verifies
# the dump offline, restores it into a new database, proves the restore equal to the dump,
# runs a timed restore drill, and removes the cluster afterwards (also on failure).
#   bash tools/demo.sh [SCALE]      SCALE 1 = about 70 MB database (default 1)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
scale="${1:-1}"
case "$scale" in ''|*[!0-9]*) echo "demo: SCALE must be a positive whole number, not \"$scale\"" >&2; exit 2;; esac

bash "$here/tools/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j"$(nproc)" >/dev/null
PGFERRY="$here/build/pgferry"

# shellcheck source=../tests/harness/pg_cluster.sh
source "$here/tests/harness/pg_cluster.sh"
work="$(mktemp -d)"
cleanup() { pf_cluster_stop || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
pf_cluster_start

echo "== loading sample data (scale $scale)"
createdb sample
psql -X -q -v ON_ERROR_STOP=1 -v scale="$scale" -d sample -f "$here/tools/sample_data.sql" >/dev/null
psql -XAt -d sample -c "SELECT 'database size: ' || pg_size_pretty(pg_database_size('sample'))"

echo "== pgferry dump -j 2"
"$PGFERRY" dump -d "dbname=sample" -f "$work/dump" -j 2 --progress
echo "== pgferry list"
"$PGFERRY" list "$work/dump"
echo "== pgferry verify (offline: every chunk decoded and recounted)"
"$PGFERRY" verify "$work/dump" -j 2
echo "== pgferry restore -j 2 into a new database"
"$PGFERRY" restore -f "$work/dump" -d "dbname=sample_restored" --create -j 2 --progress
echo "== pgferry verify --db (the restored database against the dump)"
"$PGFERRY" verify "$work/dump" --db "dbname=sample_restored" -j 2
echo "== pgferry drill (timed restore into a scratch database, verified, dropped)"
"$PGFERRY" drill "$work/dump" --target "dbname=postgres" -j 2 --progress
echo "demo: done (the dump and the cluster are removed on exit)"
