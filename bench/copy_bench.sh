#!/usr/bin/env bash
# bench/copy_bench.sh - database to database, one run, every tool on the same server:
#
#   bash bench/copy_bench.sh [--scale S] [--jobs N] [--runs R]
#
#   --scale S   dataset size (tools/gen_data.sh; S=1 is ~200 MB of heap) (default 1)
#   --jobs N    parallel jobs for every tool (default 2)
#   --runs R    timed runs per tool (default 3)
#
# Times, with hyperfine, copying the dataset into a new database on the same throwaway
# cluster (started here, default settings of tests/harness/pg_cluster.sh) with:
#   pgferry copy --create -j N             (includes its ANALYZE and its final comparison of
#                                           every table with the source)
#   pgcopydb clone --table-jobs N --index-jobs N   (Debian's pgcopydb; it VACUUM ANALYZEs)
#   pgferry dump -j N + pgferry restore --create -j N   (through a directory)
#   pg_dump -Fd -j N + pg_restore -j N                  (reference; no statistics)
# and writes bench/results/copy.md (the table, ratios to pgcopydb measured in this run, the
# client and server CPU of each tool through bench/measure.sh, and pgferry copy's phases from
# one more run with --json), bench/results/hf-copy.json and copy-stats.tsv. Installs what it needs (tools/install-deps.sh --bench).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

scale=1 jobs=2 runs=3
while (($#)); do
  case $1 in
    --scale) scale=${2:?}; shift 2 ;;
    --jobs|-j) jobs=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done

R=$here/bench/results
mkdir -p "$R"
LOG=$R/copy.log
: >"$LOG"
bash tools/install-deps.sh --bench >>"$LOG" 2>&1 || { echo "copy_bench: install-deps failed (see $LOG)" >&2; exit 1; }
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo >>"$LOG" 2>&1 &&
  cmake --build build-bench -j"$(nproc)" --target pgferry >>"$LOG" 2>&1 ||
  { echo "copy_bench: build failed (see $LOG)" >&2; exit 1; }
PGFERRY=$here/build-bench/pgferry

# shellcheck source=../tests/harness/pg_cluster.sh
source tests/harness/pg_cluster.sh
pf_cluster_start 2>>"$LOG"
trap pf_cluster_stop EXIT
export PATH=$PF_PG_BINDIR:$PATH PGFERRY_PG_BINDIR=$PF_PG_BINDIR
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pf-copybench.XXXXXX")
trap 'rm -rf -- "$WORK"; pf_cluster_stop' EXIT

SRC=pfcopy_src DST=pfcopy_dst
createdb "$SRC"
echo "== dataset: scale $scale"
bash tools/gen_data.sh -d "$SRC" --scale "$scale" --many-tables 0 2>&1 | tee -a "$LOG" | sed 's/^/   /'
bytes=$(psql -XAtqc "SELECT pg_database_size('$SRC')")

conn="host=$PGHOST port=$PGPORT user=$PGUSER"
fresh="psql -XAtqc CHECKPOINT >/dev/null; dropdb --if-exists --force $DST; rm -rf $WORK/dump $WORK/pgcopydb $WORK/pgdump"
# every run through bench/measure.sh: its client CPU (the tool and the processes it waited
# for: pg_dump, pg_restore) and the server's CPU meanwhile go to stats.tsv
STATS=$R/copy-stats.tsv
: >"$STATS"
export BENCH_PM_PID=$(head -n 1 "$PF_CLUSTER_DATA/postmaster.pid")
m() { printf '%q ' bash "$here/bench/measure.sh" "$STATS" "$1" bash -c "$2"; }
pcd_uri() { echo "postgresql://$PGUSER@/$1?host=$PGHOST&port=$PGPORT"; }
echo "== timing ($runs runs each, -j $jobs) on $(nproc) cores"
hyperfine --runs "$runs" --export-json "$R/hf-copy.json" --style basic \
  -n "pgferry copy" --prepare "$fresh" \
  "$(m "pgferry copy" "$PGFERRY copy --source '$conn dbname=$SRC' --target '$conn dbname=$DST' --create -j $jobs --no-progress")" \
  -n "pgcopydb clone" --prepare "$fresh; createdb $DST" \
  "$(m "pgcopydb clone" "pgcopydb clone --source '$(pcd_uri "$SRC")' --target '$(pcd_uri "$DST")' --table-jobs $jobs --index-jobs $jobs --dir $WORK/pgcopydb >/dev/null 2>&1")" \
  -n "pgferry dump + restore" --prepare "$fresh" \
  "$(m "pgferry dump + restore" "$PGFERRY dump -d '$conn dbname=$SRC' -f $WORK/dump -j $jobs --no-progress && $PGFERRY restore -f $WORK/dump -d '$conn dbname=$DST' --create -j $jobs --no-progress")" \
  -n "pg_dump -Fd + pg_restore" --prepare "$fresh; createdb $DST" \
  "$(m "pg_dump -Fd + pg_restore" "pg_dump -Fd -j $jobs -f $WORK/pgdump $SRC && pg_restore -d $DST -j $jobs $WORK/pgdump")" 2>&1 | tee -a "$LOG"

# where pgferry copy's time goes: the final comparison alone, as `verify --db` of a restored
# copy against its dump (one measured run), and one more copy with --json (its phases)
eval "$fresh"
"$PGFERRY" dump -d "$conn dbname=$SRC" -f "$WORK/dump" -j "$jobs" --no-progress >>"$LOG" 2>&1
"$PGFERRY" restore -f "$WORK/dump" -d "$conn dbname=$DST" --create -j "$jobs" --no-progress >>"$LOG" 2>&1
psql -XAtqc CHECKPOINT >/dev/null
bash "$here/bench/measure.sh" "$STATS" "final comparison" "$PGFERRY" verify "$WORK/dump" --db "$conn dbname=$DST" -j "$jobs" >>"$LOG" 2>&1
eval "$fresh"
"$PGFERRY" copy --source "$conn dbname=$SRC" --target "$conn dbname=$DST" --create -j "$jobs" --no-progress --json >"$R/copy-phases.json"

ref=$(jq -r '.results[] | select(.command == "pgcopydb clone") | .mean' "$R/hf-copy.json")
# per tool: mean client CPU (user + sys) and server CPU over its runs, in seconds
cpu_of() {
  awk -F'\t' -v id="$1" -v tck="$(getconf CLK_TCK)" '$1 == id { n++; c += $3 + $4; if ($6 != "") { s += $6 / tck; sn++ } }
    END { if (n) printf "%.2f\t%s\n", c / n, sn ? sprintf("%.2f", s / sn) : "-" }' "$STATS"
}
{
  echo "Copy of tools/gen_data.sh --scale $scale ($(awk -v b="$bytes" 'BEGIN { printf "%.0f MB", b / 1048576 }') database) into a new database on the same server, -j $jobs, $runs runs each, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores."
  echo
  echo "| | seconds (mean ± stddev) | × pgcopydb clone | client CPU s | server CPU s | all CPU s / $(nproc) cores |"
  echo "|---|---|---|---|---|---|"
  while IFS=$'\t' read -r name mean sd; do
    IFS=$'\t' read -r ccpu scpu < <(cpu_of "$name")
    floor=$(awk -v c="$ccpu" -v s="$scpu" -v n="$(nproc)" 'BEGIN { if (s == "-") print "-"; else printf "%.2f", (c + s) / n }')
    echo "| $name | $mean ± $sd | $(awk -v a="$mean" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')× | $ccpu | $scpu | $floor |"
  done < <(jq -r '.results[] | [.command, (.mean * 100 | round / 100), ((.stddev // 0) * 100 | round / 100)] | @tsv' "$R/hf-copy.json")
  IFS=$'\t' read -r ccpu scpu < <(cpu_of "final comparison")
  echo "| ↳ reading every table back and comparing it, alone: verify --db of a restored copy (1 run; its client CPU also decodes the dump's files) | $(awk -F'\t' '$1 == "final comparison" { printf "%.2f", $2 }' "$STATS") | - | ($ccpu) | $scpu | - |"
  echo
  echo "The last column is the least time the run could take on this machine with every core busy; a tool whose time is near it is bound by CPU, not by waiting. pgferry copy, one more run with --json (seconds): $(jq -r '.phase_seconds | "data \(.data * 100 | round / 100), indexes and constraints after the last chunk \(.indexes_constraints * 100 | round / 100), the final comparison of every table with the source \(.verify * 100 | round / 100), total \(.total * 100 | round / 100)"' "$R/copy-phases.json")."
} >"$R/copy.md"
echo
cat "$R/copy.md"

# bench/LATEST.md: this run's section replaces the one before (bench/run.sh writes the rest)
L=$here/bench/LATEST.md
if [[ -f $L ]]; then
  # without the old section and the blank lines that ended what is kept
  awk '/^## Copy, database to database/ { skip = 1; next } skip && /^## / { skip = 0 } !skip' "$L" |
    awk '{ line[NR] = $0 } NF { last = NR } END { for (i = 1; i <= last; i++) print line[i] }' >"$L.tmp"
else
  : >"$L.tmp"
fi
{
  [[ -s $L.tmp && -n $(tail -c 1 "$L.tmp") ]] && echo
  [[ -s $L.tmp ]] && echo
  echo "## Copy, database to database (bench/copy_bench.sh, pgferry $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo
  cat "$R/copy.md"
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared: compare the ratios, measured in one run, not the seconds)."
  echo
} >>"$L.tmp"
mv "$L.tmp" "$L"
