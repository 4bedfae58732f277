#!/usr/bin/env bash
# bench/run.sh - pgferry's benchmark suite, one command:
#
#   bash bench/run.sh [--scale S] [--jobs N] [--quick] [--many-tables M] [--runs R]
#                     [--server production|tuned|both] [--no-codec] [--keep-work]
#
#   --scale S        dataset size, S=1 is ~200 MB of heap (tools/gen_data.sh) (default 1)
#   --jobs N         parallel jobs for every tool (default 2)
#   --quick          smoke run: scale 0.2, 1,000 small tables, fewer runs (a few minutes)
#   --many-tables M  the many-small-tables case (default 10000; 0 skips it)
#   --runs R         timed runs per comparison (default 3, dumps after 1 warmup; quick: 2 / 1)
#   --server WHICH   production: the headline run, a server set up as in production
#                    (fsync, full_page_writes, synchronous_commit on, wal_level=replica,
#                    autovacuum on); tuned: a disposable restore target (fsync and
#                    full_page_writes off, wal_level=minimal, autovacuum off); both (default):
#                    everything on production, then the restores again on tuned
#   --no-codec       skip the Google Benchmark codec micro-benchmarks
#   --keep-work      keep the dumps in the work directory
#
# It installs dependencies (tools/install-deps.sh), builds pgferry and the bench targets
# in build-bench/ (-DPGFERRY_BENCH=ON), starts a throwaway PostgreSQL cluster tuned the
# same for every tool (or, with BENCH_REUSE=1 and PGHOST/PGPORT set, uses that server as
# is), generates the dataset, times every comparison with hyperfine in this one run
# (restores: "ready to serve", i.e. pg_restore followed by vacuumdb --analyze-only against
# pgferry restore with its ANALYZE, and each without statistics), and
# writes bench/results/RESULTS.md (raw data beside it) and, unless --quick, bench/LATEST.md,
# and prints the tables. BENCH_WORKDIR picks where the dumps go (default: TMPDIR or /tmp).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

scale= jobs=2 quick=0 many= runs= codec=1 keep=0 server=both
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --scale) scale=${2:?}; shift 2 ;;
    --jobs|-j) jobs=${2:?}; shift 2 ;;
    --quick) quick=1; shift ;;
    --many-tables) many=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --no-codec) codec=0; shift ;;
    --server) server=${2:?}; shift 2 ;;
    --keep-work) keep=1; shift ;;
    -h|--help) usage ;;
    *) echo "bench: unknown argument '$1'" >&2; usage ;;
  esac
done
if ((quick)); then
  scale=${scale:-0.2} many=${many:-1000}
  dump_runs=${runs:-2} dump_warmup=1 restore_runs=${runs:-1} many_runs=1 codec_min_time=0.1
else
  scale=${scale:-1} many=${many:-10000}
  dump_runs=${runs:-3} dump_warmup=1 restore_runs=${runs:-3} many_runs=${runs:-3} codec_min_time=1
fi
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --jobs must be a positive whole number" >&2; exit 2; }
[[ $scale =~ ^[0-9]*[.]?[0-9]+$ ]] || { echo "bench: --scale must be a positive number" >&2; exit 2; }
[[ $server =~ ^(production|tuned|both)$ ]] || { echo "bench: --server must be production, tuned or both" >&2; exit 2; }

R=$here/bench/results
mkdir -p "$R"
LOG=$R/run.log
: >"$LOG"
rm -f "$R"/hf-*.json "$R"/phases-*.json "$R"/trace-*.json "$R/codec.json" "$R/RESULTS.md"
say() { printf '\n== %s\n' "$*"; printf '\n== %s\n' "$*" >>"$LOG"; }
note() { printf '   %s\n' "$*"; printf '   %s\n' "$*" >>"$LOG"; }
T_START=$EPOCHREALTIME
elapsed() { awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d:%02d", (b - a) / 60, (b - a) % 60 }'; }

# ---- dependencies and build --------------------------------------------------------------
say "dependencies and build (build-bench/, -DPGFERRY_BENCH=ON)"
bash tools/install-deps.sh >>"$LOG" 2>&1 || { echo "bench: tools/install-deps.sh failed (see $LOG)" >&2; exit 1; }
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGFERRY_BENCH=ON >>"$LOG" 2>&1 &&
  cmake --build build-bench -j"$(nproc)" --target pgferry codec_bench read_ceiling write_ceiling >>"$LOG" 2>&1 ||
  { echo "bench: build failed (see $LOG)" >&2; tail -n 20 "$LOG" >&2; exit 1; }
PGFERRY=$here/build-bench/pgferry
RC=$here/build-bench/bench/read_ceiling
WC=$here/build-bench/bench/write_ceiling
CB=$here/build-bench/bench/codec_bench
MEASURE=$here/bench/measure.sh
# the revision that was built (others may commit while the benchmark runs)
REV="$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$here" diff --quiet HEAD -- engine codec io common tools 2>/dev/null || echo ' with uncommitted changes')"
note "pgferry $("$PGFERRY" --help 2>&1 | head -1 | awk '{print $2}') ($REV)"

# ---- the cluster ---------------------------------------------------------------------------
W=$(mktemp -d "${BENCH_WORKDIR:-${TMPDIR:-/tmp}}/pgferry-bench.XXXXXX")
started=0 reuse=0 dbs=()
cleanup() {
  set +e
  if ((reuse)); then for d in "${dbs[@]}"; do dropdb --if-exists "$d" >/dev/null 2>&1; done; fi
  ((started)) && pf_cluster_stop
  if ((keep)); then echo "bench: kept work directory $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Settings applied to the throwaway cluster, the same for every tool measured. Two servers:
# PRODUCTION, set up as a production server is (durable: fsync, full_page_writes and
# synchronous_commit on; wal_level=replica for replicas and backups; autovacuum on), is the
# headline; TUNED is a disposable restore target (nothing durable, wal_level=minimal with
# max_wal_senders 0, so a COPY into a table created or truncated in its transaction skips
# WAL; pg_restore -j and pgferry restore both use that). Both have the same memory and
# checkpoint settings.
COMMON=(
  "shared_buffers = 512MB"
  "max_wal_size = 8GB"
  "checkpoint_timeout = 30min"
  "maintenance_work_mem = 512MB"
  "max_locks_per_transaction = 256"
)
PRODUCTION=(
  "${COMMON[@]}"
  "fsync = on"
  "full_page_writes = on"
  "synchronous_commit = on"
  "wal_level = replica"
  "autovacuum = on"
)
TUNED=(
  "${COMMON[@]}"
  "fsync = off"
  "full_page_writes = off"
  "synchronous_commit = off"
  "wal_level = minimal"
  "max_wal_senders = 0"
  "autovacuum = off"
)
# configure NAME: the server's settings (appended last, so they win over the harness's)
configure() {
  local -n conf=$1
  {
    echo ""
    echo "# --- pgferry bench (bench/run.sh): $1, the same for every tool measured ---"
    printf '%s\n' "${conf[@]}"
  } >"$PF_CLUSTER_DATA/pgferry_bench.conf"
  grep -q "include_if_exists 'pgferry_bench.conf'" "$PF_CLUSTER_DATA/postgresql.conf" ||
    echo "include_if_exists 'pgferry_bench.conf'" >>"$PF_CLUSTER_DATA/postgresql.conf"
  _pf_as_pg "$PF_PG_BINDIR/pg_ctl" -D "$PF_CLUSTER_DATA" -l "$PF_CLUSTER_LOG" -w -t 60 -s restart >>"$LOG" 2>&1
  export BENCH_PM_PID=$(head -n 1 "$PF_CLUSTER_DATA/postmaster.pid")
  SERVER=$1
  note "server settings now $1: ${conf[*]}"
}
first_server=PRODUCTION
[[ $server == tuned ]] && first_server=TUNED
SERVER_HEAD=${first_server,,}
if [[ ${BENCH_REUSE:-0} == 1 && -n ${PGHOST:-} && -n ${PGPORT:-} ]]; then
  reuse=1 server=reused SERVER=reused SERVER_HEAD=reused
  say "reusing the server at $PGHOST:$PGPORT (BENCH_REUSE=1): its settings are used as they are (one server)"
  PF_PG_BINDIR=${PF_PG_BINDIR:-$(source tests/harness/pg_cluster.sh && pf_pg_bindir)}
  export PATH=$PF_PG_BINDIR:$PATH
  ddir=$(psql -XAtqc 'SHOW data_directory' 2>/dev/null) || ddir=
  if [[ -n $ddir && -r $ddir/postmaster.pid ]]; then export BENCH_PM_PID=$(head -n 1 "$ddir/postmaster.pid"); fi
  locks=$(psql -XAtqc 'SHOW max_locks_per_transaction')
  conns=$(psql -XAtqc 'SHOW max_connections')
  if ((many > 0 && locks * conns < many * 2 + 1000)); then
    note "max_locks_per_transaction=$locks x max_connections=$conns is too small to dump $many tables in one transaction: skipping the many-tables case"
    many=0
  fi
else
  say "starting a throwaway PostgreSQL cluster"
  # shellcheck source=../tests/harness/pg_cluster.sh
  source tests/harness/pg_cluster.sh
  pf_cluster_start 2>>"$LOG"
  started=1
  export PATH=$PF_PG_BINDIR:$PATH
  note "cluster on $PGHOST:$PGPORT"
  configure "$first_server"
fi
export PGFERRY_PG_BINDIR=$PF_PG_BINDIR
PGVER=$(psql -XAtqc 'SHOW server_version')
note "PostgreSQL $PGVER; pg_dump $(pg_dump --version | awk '{print $3}') from $PF_PG_BINDIR"
PSQLC() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

DB=pfbench_main DBM=pfbench_many DBR=pfbench_restore DBJ=pfbench_json
dbs=("$DB" "$DBM" "$DBR" "$DBJ")
for d in "${dbs[@]}"; do dropdb --if-exists "$d" 2>/dev/null || true; done

# ---- dataset -------------------------------------------------------------------------------
say "dataset: scale $scale, $many small tables ($(elapsed))"
createdb "$DB"
bash tools/gen_data.sh -d "$DB" --scale "$scale" --many-tables 0 2>&1 | tee -a "$LOG" | sed 's/^/   /'
if ((many > 0)); then
  createdb "$DBM"
  bash tools/gen_data.sh -d "$DBM" --scale 0 --many-tables "$many" 2>&1 | tee -a "$LOG" | sed 's/^/   /'
fi
# the second set: pgbench's tables plus a jsonb event log (what #14 measured pg_dump on)
createdb "$DBJ"
JSCALE=$(awk -v s="$scale" 'BEGIN { n = int(s * 10 + 0.5); print n < 1 ? 1 : n }')
JEVENTS=$(awk -v s="$scale" 'BEGIN { n = int(s * 600000 + 0.5); print n < 1000 ? 1000 : n }')
pgbench -i -q -s "$JSCALE" "$DBJ" >>"$LOG" 2>&1
PSQLC -d "$DBJ" -v n="$JEVENTS" <<'SQL' >>"$LOG" 2>&1
CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL, aid int NOT NULL, kind text NOT NULL, payload jsonb NOT NULL);
INSERT INTO events (at, aid, kind, payload)
SELECT timestamptz '2025-01-01' + g * interval '3 seconds', (hashint8(g) & 1048575)::int % 1000000 + 1,
       (ARRAY['login','view','purchase','logout','search'])[1 + (hashint8(g + 7) & 4)::int % 5],
       jsonb_build_object('session', md5(g::text), 'ua', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/' || (100 + g % 30) || '.0',
         'path', '/products/' || (hashint8(g + 1) & 65535), 'ms', hashint8(g + 2) & 1023, 'ok', g % 17 <> 0,
         'items', jsonb_build_array(hashint8(g + 3) & 999, hashint8(g + 4) & 999, hashint8(g + 5) & 999))
FROM generate_series(1, :n) g;
VACUUM (FREEZE, ANALYZE);
CHECKPOINT;
SQL
note "second set: pgbench -i -s $JSCALE + $JEVENTS jsonb events, database $(psql -d "$DBJ" -XAtqc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
HEAP=$(psql -d "$DB" -XAtqc "SELECT sum(pg_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bench' AND c.relkind = 'r'")
HUGE_HEAP=$(psql -d "$DB" -XAtqc "SELECT pg_relation_size('bench.huge')")
DBSIZE=$(psql -d "$DB" -XAtqc "SELECT pg_database_size(current_database())")

# ---- helpers -------------------------------------------------------------------------------
STATS=$R/stats.tsv
RES=$R/times.tsv
: >"$STATS"
: >"$RES"
q() { printf '%q ' "$@"; }
m() { local id=$1; shift; q bash "$MEASURE" "$STATS" "$id" timeout 1800 "$@"; }
CHECKPOINT="psql -XAtqc CHECKPOINT >/dev/null"

# hf GROUP RUNS WARMUP  ID PREPARE CMD  [ID PREPARE CMD]...: one hyperfine comparison;
# mean, stddev and run count per ID go to times.tsv.
hf() {
  local group=$1 nruns=$2 nwarm=$3
  shift 3
  local -a args=(--runs "$nruns" --warmup "$nwarm" --export-json "$R/hf-$group.json" --style basic)
  while (($#)); do
    args+=(-n "$1" --prepare "$2" "$3")
    shift 3
  done
  rm -f "$R/hf-$group.json"
  hyperfine "${args[@]}" 2>&1 | tee -a "$LOG" | grep -E '^(Benchmark|  Time)' | sed 's/^/   /' || true
  [[ -s $R/hf-$group.json ]] || { echo "bench: hyperfine $group failed (see $LOG)" >&2; exit 1; }
  jq -r '.results[] | [.command, .mean, (.stddev // 0), (.times | length)] | @tsv' "$R/hf-$group.json" >>"$RES"
}

# ---- dump: all tables ----------------------------------------------------------------------
say "dump, all tables, -j $jobs: pgferry vs pg_dump -Fd (gzip) vs pg_dump -Fd -Z0 vs read ceiling ($(elapsed))"
O=$W/out
mkdir -p "$O"
hf dump "$dump_runs" "$dump_warmup" \
  dump.read "$CHECKPOINT" "$(m dump.read "$RC" -d "dbname=$DB" -j "$jobs")" \
  dump.pgferry "rm -rf $O/pf && $CHECKPOINT" "$(m dump.pgferry "$PGFERRY" dump -d "dbname=$DB" -f "$O/pf" -j "$jobs" --no-progress)" \
  dump.pgdump "rm -rf $O/pgd && $CHECKPOINT" "$(m dump.pgdump pg_dump -Fd -j "$jobs" -f "$O/pgd" -d "$DB")" \
  dump.pgdump0 "rm -rf $O/pgd0 && $CHECKPOINT" "$(m dump.pgdump0 pg_dump -Fd -j "$jobs" -Z0 -f "$O/pgd0" -d "$DB")" \
  dump.pf_none "rm -rf $O/pf_none && $CHECKPOINT" "$(m dump.pf_none "$PGFERRY" dump -d "dbname=$DB" -f "$O/pf_none" -j "$jobs" --no-progress --compress none)" \
  dump.pf_z3 "rm -rf $O/pf_z3 && $CHECKPOINT" "$(m dump.pf_z3 "$PGFERRY" dump -d "dbname=$DB" -f "$O/pf_z3" -j "$jobs" --no-progress --compress zstd:3)" \
  dump.pf_text "rm -rf $O/pf_text && $CHECKPOINT" "$(m dump.pf_text "$PGFERRY" dump -d "dbname=$DB" -f "$O/pf_text" -j "$jobs" --no-progress --format text)" \
  dump.pf_rows "rm -rf $O/pf_rows && $CHECKPOINT" "$(m dump.pf_rows "$PGFERRY" dump -d "dbname=$DB" -f "$O/pf_rows" -j "$jobs" --no-progress --layout rows)" \
  dump.pf_enc "rm -rf $O/pf_enc && $CHECKPOINT" "$(m dump.pf_enc env PGFERRY_PASSPHRASE=bench-passphrase "$PGFERRY" dump -d "dbname=$DB" -f "$O/pf_enc" -j "$jobs" --no-progress --encrypt)"
declare -A SIZE
SIZE[dump.pgferry]=$(du -sb "$O/pf" | cut -f1)
SIZE[dump.pgdump]=$(du -sb "$O/pgd" | cut -f1)
SIZE[dump.pgdump0]=$(du -sb "$O/pgd0" | cut -f1)
for v in pf_none pf_z3 pf_text; do SIZE[dump.$v]=$(du -sb "$O/$v" | cut -f1); rm -rf "${O:?}/$v"; done
SIZE[dump.pf_enc]=$(du -sb "$O/pf_enc" | cut -f1) # kept: restored below
SIZE[dump.pf_rows]=$(du -sb "$O/pf_rows" | cut -f1) # kept: restored below
RAW=$(jq '[.tables[].raw_bytes] | add' "$O/pf/manifest.json")
# pg_dump's COPY text: the data files of the uncompressed dump (toc.dat is the schema)
RAW_TEXT=$(find "$O/pgd0" -name '*.dat' ! -name toc.dat -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
note "COPY data: $RAW bytes binary (pgferry), $RAW_TEXT bytes text (pg_dump)"

say "dump, pgbench + jsonb set, -j $jobs ($(elapsed))"
hf json_dump "$dump_runs" "$dump_warmup" \
  json.dump.read "$CHECKPOINT" "$(m json.dump.read "$RC" -d "dbname=$DBJ" -j "$jobs")" \
  json.dump.pgferry "rm -rf $O/jpf && $CHECKPOINT" "$(m json.dump.pgferry "$PGFERRY" dump -d "dbname=$DBJ" -f "$O/jpf" -j "$jobs" --no-progress --json) >$R/json-dump.json" \
  json.dump.pgdump "rm -rf $O/jpgd && $CHECKPOINT" "$(m json.dump.pgdump pg_dump -Fd -j "$jobs" -f "$O/jpgd" -d "$DBJ")" \
  json.dump.pf_rows "rm -rf $O/jpf_rows && $CHECKPOINT" "$(m json.dump.pf_rows "$PGFERRY" dump -d "dbname=$DBJ" -f "$O/jpf_rows" -j "$jobs" --no-progress --layout rows)" \
  json.dump.pf_text "rm -rf $O/jpf_text && $CHECKPOINT" "$(m json.dump.pf_text "$PGFERRY" dump -d "dbname=$DBJ" -f "$O/jpf_text" -j "$jobs" --no-progress --format text)"
for v in pgferry:jpf pgdump:jpgd pf_rows:jpf_rows pf_text:jpf_text; do SIZE[json.dump.${v%%:*}]=$(du -sb "$O/${v#*:}" | cut -f1); done
JRAW=$(jq '[.tables[].raw_bytes] | add' "$O/jpf/manifest.json")
rm -rf "${O:?}/jpf_rows" "${O:?}/jpf_text"

# ---- restore: all tables -------------------------------------------------------------------
say "decoding the pgferry dump for the write ceiling (pgferry cat) ($(elapsed))"
decode() { # decode DUMPDIR OUTDIR
  mkdir -p "$2"
  local f
  for f in "$1"/data/*.chunk; do "$PGFERRY" cat "$f" >"$2/$(basename "$f" .chunk).copy"; done
}
decode "$O/pf" "$W/dec"

# BENCH_BASELINE=/path/to/an/older/pgferry: its restore is timed too, on the same dumps
BASELINE=${BENCH_BASELINE:-}
drop_r="dropdb --if-exists $DBR && $CHECKPOINT"
fresh_r="dropdb --if-exists $DBR && createdb $DBR"
# restore_cmp GROUP PREFIX PF_DUMP PGD_DUMP DECODED FRESH [ENC_DUMP]: the restore comparison
# of one shape on the server as it is now configured (PREFIX: the ids' prefix, e.g.
# "restore" or "tuned.restore"). FRESH prepares an empty target for pg_restore and the
# ceiling; pgferry gets the same (or --create where FRESH is just the drop).
#   wc_copy, wc_index   the write ceiling: N x COPY of the decoded files, then the index
#                       builds alone (pg_restore --section=post-data)
#   pgferry             pgferry restore, ready to serve (with its ANALYZE), --trace kept
#   pgferry_noan        pgferry restore --no-analyze
#   pgrestore           pg_restore -j N alone (no statistics)
#   pgrestore_an        pg_restore -j N, then vacuumdb --analyze-only -j N: ready to serve
restore_cmp() {
  local group=$1 p=$2 pf=$3 pgd=$4 dec=$5 fresh=$6 enc=${7:-} rows=${8:-}
  local pre="$fresh && pg_restore --section=pre-data -d $DBR $pf/schema.dump"
  local load="$pre && $(q "$WC" -d "dbname=$DBR" --dump "$pf" --decoded "$dec" -j "$jobs") >/dev/null"
  local -a tail=(-d "dbname=$DBR" -j "$jobs" --no-progress) extra=()
  local pfprep=$fresh
  if [[ $fresh == "$fresh_r" ]]; then tail+=(--create) pfprep=$drop_r; fi
  local -a pfargs=(-f "$pf" "${tail[@]}")
  [[ -n $enc ]] && extra=($p.pf_enc "$pfprep && $CHECKPOINT" "$(m $p.pf_enc env PGFERRY_PASSPHRASE=bench-passphrase "$PGFERRY" restore -f "$enc" "${tail[@]}")")
  [[ -n $rows ]] && extra+=($p.pf_rows "$pfprep && $CHECKPOINT" "$(m $p.pf_rows "$PGFERRY" restore -f "$rows" "${tail[@]}")")
  [[ -n $BASELINE ]] && extra+=($p.baseline "$pfprep && $CHECKPOINT" "$(m $p.baseline "$BASELINE" restore "${pfargs[@]}")")
  hf "$group" "$restore_runs" 0 \
    $p.wc_copy "$pre && $CHECKPOINT" "$(m $p.wc_copy "$WC" -d "dbname=$DBR" --dump "$pf" --decoded "$dec" -j "$jobs")" \
    $p.wc_index "$load && $CHECKPOINT" "$(m $p.wc_index pg_restore --section=post-data -j "$jobs" -d "$DBR" "$pf/schema.dump")" \
    $p.pgferry "$pfprep && $CHECKPOINT" "$(m $p.pgferry "$PGFERRY" restore "${pfargs[@]}" --json --trace "$R/trace-$p.json") >$R/phases-$p.json" \
    $p.pgrestore_an "$fresh && $CHECKPOINT" "$(m $p.pgrestore_an bash -c "pg_restore -j $jobs -d $DBR $pgd && vacuumdb --analyze-only -q -j $jobs -d $DBR")" \
    $p.pgferry_noan "$pfprep && $CHECKPOINT" "$(m $p.pgferry_noan "$PGFERRY" restore "${pfargs[@]}" --no-analyze)" \
    $p.pgrestore "$fresh && $CHECKPOINT" "$(m $p.pgrestore pg_restore -j "$jobs" -d "$DBR" "$pgd")" \
    "${extra[@]}"
}
# the shapes; many_restores runs when the many-tables dumps exist
restore_all() {
  say "restore, all tables, -j $jobs, $SERVER server: pgferry vs pg_restore (+ vacuumdb) vs write ceiling ($(elapsed))"
  restore_cmp "$1restore" "$1restore" "$O/pf" "$O/pgd" "$W/dec" "$fresh_r" "${2:-}" "${3:-}"
}
# a -t dump holds no CREATE SCHEMA (pg_dump's rule, which pgferry follows): every tool
# gets a fresh database with the schema already there
hfresh_r="$fresh_r && psql -XAtqc 'CREATE SCHEMA bench' -d $DBR"
restore_huge() {
  say "restore, bench.huge alone, -j $jobs, $SERVER server ($(elapsed))"
  restore_cmp "$1huge_restore" "$1huge.restore" "$O/hpf" "$O/hpgd" "$W/hdec" "$hfresh_r"
}
restore_many() {
  say "restore, $many small tables, -j $jobs, $SERVER server ($(elapsed))"
  local p=$1many.restore
  local -a extra=()
  [[ -n $BASELINE ]] && extra=($p.baseline "$drop_r" "$(m $p.baseline "$BASELINE" restore -f "$O/mpf" -d "dbname=$DBR" --create -j "$jobs" --no-progress)")
  hf "$1many_restore" "$many_runs" 0 \
    $p.pgferry "$drop_r" "$(m $p.pgferry "$PGFERRY" restore -f "$O/mpf" -d "dbname=$DBR" --create -j "$jobs" --no-progress --json --trace "$R/trace-$p.json") >$R/phases-$p.json" \
    $p.pgrestore_an "$fresh_r && $CHECKPOINT" "$(m $p.pgrestore_an bash -c "pg_restore -j $jobs -d $DBR $O/mpgd && vacuumdb --analyze-only -q -j $jobs -d $DBR")" \
    $p.pgrestore "$fresh_r && $CHECKPOINT" "$(m $p.pgrestore pg_restore -j "$jobs" -d "$DBR" "$O/mpgd")" \
    "${extra[@]}"
}
restore_all "" "$O/pf_enc" "$O/pf_rows"

# ---- one huge table alone ------------------------------------------------------------------
say "one huge table alone (bench.huge), -j $jobs: dump and restore ($(elapsed))"
hf huge_dump "$dump_runs" "$dump_warmup" \
  huge.dump.read "$CHECKPOINT" "$(m huge.dump.read "$RC" -d "dbname=$DB" -j "$jobs" -t bench.huge)" \
  huge.dump.pgferry "rm -rf $O/hpf && $CHECKPOINT" "$(m huge.dump.pgferry "$PGFERRY" dump -d "dbname=$DB" -t bench.huge -f "$O/hpf" -j "$jobs" --no-progress)" \
  huge.dump.pgdump "rm -rf $O/hpgd && $CHECKPOINT" "$(m huge.dump.pgdump pg_dump -Fd -j "$jobs" -t bench.huge -f "$O/hpgd" -d "$DB")" \
  huge.dump.pgdump0 "rm -rf $O/hpgd0 && $CHECKPOINT" "$(m huge.dump.pgdump0 pg_dump -Fd -j "$jobs" -Z0 -t bench.huge -f "$O/hpgd0" -d "$DB")"
SIZE[huge.dump.pgferry]=$(du -sb "$O/hpf" | cut -f1)
SIZE[huge.dump.pgdump]=$(du -sb "$O/hpgd" | cut -f1)
SIZE[huge.dump.pgdump0]=$(du -sb "$O/hpgd0" | cut -f1)
HRAW=$(jq '[.tables[].raw_bytes] | add' "$O/hpf/manifest.json")
HCHUNKS=$(jq '[.tables[].chunks | length] | add' "$O/hpf/manifest.json")
decode "$O/hpf" "$W/hdec"
restore_huge ""

# ---- many small tables ---------------------------------------------------------------------
PLAN_TIMES=()
if ((many > 0)); then
  say "$many small tables, -j $jobs: planning, dump and restore end to end ($(elapsed))"
  # Planning = from start until pgferry draws its first progress line, which it does right
  # after connecting, exporting the snapshot, reading the catalog, locking every table,
  # planning the chunks and starting the workers (engine/dump.c). The dump is then
  # interrupted (SIGINT: pgferry removes what it wrote); the full dumps are timed below.
  mkfifo "$W/plan.fifo"
  for i in 0 1 2 3; do # run 0 warms the caches and is not counted
    rm -rf "$O/mpf_plan"
    t0=$EPOCHREALTIME t1=
    "$PGFERRY" dump -d "dbname=$DBM" -f "$O/mpf_plan" -j "$jobs" --progress 2>"$W/plan.fifo" >/dev/null &
    ppid=$!
    while IFS= read -r -d $'\r' piece; do
      if [[ -z $t1 && $piece == *"dump: chunks"* ]]; then
        t1=$EPOCHREALTIME
        kill -INT "$ppid" 2>/dev/null || true
      fi
    done <"$W/plan.fifo"
    wait "$ppid" || true
    [[ -n $t1 && $i != 0 ]] && PLAN_TIMES+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
  done
  rm -rf "$O/mpf_plan"
  note "planning: ${PLAN_TIMES[*]} s"
  hf many_dump "$many_runs" 0 \
    many.dump.pgferry "rm -rf $O/mpf && $CHECKPOINT" "$(m many.dump.pgferry "$PGFERRY" dump -d "dbname=$DBM" -f "$O/mpf" -j "$jobs" --no-progress)" \
    many.dump.pgdump "rm -rf $O/mpgd && $CHECKPOINT" "$(m many.dump.pgdump pg_dump -Fd -j "$jobs" -f "$O/mpgd" -d "$DBM")"
  SIZE[many.dump.pgferry]=$(du -sb "$O/mpf" | cut -f1)
  SIZE[many.dump.pgdump]=$(du -sb "$O/mpgd" | cut -f1)
  restore_many ""
fi

# ---- peak memory at -j 8 ------------------------------------------------------------------
say "peak RSS at -j 8 (one run each) ($(elapsed))"
rm -rf "$O/pf8"
eval "$(m rss8.dump "$PGFERRY" dump -d "dbname=$DB" -f "$O/pf8" -j 8 --no-progress)" >>"$LOG" 2>&1
rm -rf "$O/pf8"
eval "$drop_r"
eval "$(m rss8.restore "$PGFERRY" restore -f "$O/pf" -d "dbname=$DBR" --create -j 8 --no-progress)" >>"$LOG" 2>&1
dropdb --if-exists "$DBR"

# ---- the restores again, on the tuned server ----------------------------------------------
if [[ $server == both ]]; then
  configure TUNED
  restore_all "tuned."
  restore_huge "tuned."
  ((many > 0)) && restore_many "tuned."
fi

# ---- codec micro-benchmarks ---------------------------------------------------------------
if ((codec)); then
  say "codec micro-benchmarks (Google Benchmark, one core) ($(elapsed))"
  "$CB" --benchmark_min_time="$codec_min_time" --benchmark_out="$R/codec.json" --benchmark_out_format=json \
    >>"$LOG" 2>&1 || { echo "bench: codec_bench failed (see $LOG)" >&2; exit 1; }
fi

# ---- report -------------------------------------------------------------------------------
say "report ($(elapsed))"
declare -A MEAN SD NR CPU RSS SRV
while IFS=$'\t' read -r id mean sd n; do MEAN[$id]=$mean SD[$id]=$sd NR[$id]=$n; done <"$RES"
# client CPU = user + sys, server CPU: means over every run (warmups included); RSS: max
while IFS=$'\t' read -r id cpu rss srv; do CPU[$id]=$cpu RSS[$id]=$rss SRV[$id]=$srv; done < <(
  awk -F'\t' -v tck="$(getconf CLK_TCK)" '{ n[$1]++; c[$1] += $3 + $4; if ($5 > r[$1]) r[$1] = $5; if ($6 != "") { s[$1] += $6 / tck; sn[$1]++ } }
    END { for (k in n) printf "%s\t%.2f\t%d\t%s\n", k, c[k] / n[k], r[k], sn[k] ? sprintf("%.2f", s[k] / sn[k]) : "" }' "$STATS")

calc() { awk "BEGIN { printf \"$1\", $2 }"; }
mb() { calc '%.1f MB' "${1:-0} / 1e6"; }
rssmb() { [[ -n ${RSS[$1]:-} ]] && calc '%.0f MB' "${RSS[$1]} / 1024" || echo "-"; }
t() { [[ -n ${MEAN[$1]:-} ]] && calc '%.2f ± %.2f' "${MEAN[$1]}, ${SD[$1]}" || echo "-"; }
ratio() { [[ -n ${MEAN[$1]:-} && -n ${MEAN[$2]:-} ]] && calc '%.2f×' "${MEAN[$1]} / ${MEAN[$2]}" || echo "-"; }
cpu() { echo "${CPU[$1]:--}"; }
srv() { echo "${SRV[$1]:--}"; }
cpugb() { [[ -n ${CPU[$1]:-} ]] && calc '%.2f' "${CPU[$1]} / ($2 / 1e9)" || echo "-"; }
srvgb() { [[ -n ${SRV[$1]:-} ]] && calc '%.2f' "${SRV[$1]} / ($2 / 1e9)" || echo "-"; }
size() { [[ -n ${SIZE[$1]:-} ]] && mb "${SIZE[$1]}" || echo "-"; }
# write ceiling = COPY alone + index builds alone
sum_ceiling() {
  local p=$1
  if [[ -n ${MEAN[$p.wc_copy]:-} && -n ${MEAN[$p.wc_index]:-} ]]; then
    MEAN[$p.wc]=$(calc '%.4f' "${MEAN[$p.wc_copy]} + ${MEAN[$p.wc_index]}")
    SD[$p.wc]=$(calc '%.4f' "sqrt(${SD[$p.wc_copy]}^2 + ${SD[$p.wc_index]}^2)")
    CPU[$p.wc]=$(calc '%.2f' "${CPU[$p.wc_copy]:-0} + ${CPU[$p.wc_index]:-0}")
    SRV[$p.wc]=$(calc '%.2f' "${SRV[$p.wc_copy]:-0} + ${SRV[$p.wc_index]:-0}")
  fi
}
for p in restore huge.restore tuned.restore tuned.huge.restore; do sum_ceiling $p; done

MEM_GB=$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
CPU_MODEL=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
NOW=$(date -u '+%Y-%m-%d %H:%M UTC')
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

dump_rows() { # dump_rows PREFIX RAW: rows of a dump table
  local p=$1 raw=$2 v label
  for v in read:"read ceiling (N × COPY binary, bytes discarded)" pgferry:"**pgferry dump** (zstd:1, column layout)" pgdump:"pg_dump -Fd (gzip)" \
           pgdump0:"pg_dump -Fd -Z0" pf_rows:"pgferry dump --layout rows (zstd:1, the layout before)" pf_none:"pgferry dump --compress none" \
           pf_z3:"pgferry dump --compress zstd:3" pf_text:"pgferry dump --format text (zstd:1)" pf_enc:"pgferry dump --encrypt (zstd:1, AES-256-GCM)"; do
    label=${v#*:} v=${v%%:*}
    [[ -n ${MEAN[$p.$v]:-} ]] || continue
    local sp=$(ratio $p.pgdump $p.$v) rc=$(ratio $p.$v $p.read) out=$(size $p.$v)
    [[ $v == pgdump ]] && sp=1.00×
    [[ $v == read ]] && rc=1.00× out=-
    echo "| $label | $(t $p.$v) | $sp | $rc | $out | $(cpu $p.$v) | $(cpugb $p.$v "$raw") | $(srv $p.$v) | $(srvgb $p.$v "$raw") | $(rssmb $p.$v) |"
  done
}
# phases P: pgferry restore's own phase times and its server CPU (--json of its last timed run)
phases() {
  local f=$R/phases-$1.json
  [[ -s $f ]] || return 0
  jq -r 'def r: if . == null then "?" else (. * 100 | round / 100 | tostring) end;
    "pgferry restore phases (last run, its --json), wall (server CPU) s: checks \(.phase_seconds.checks | r), pre-data \(.phase_seconds.pre_data | r) (\(.server_cpu_seconds.pre_data | r)), data \(.phase_seconds.data | r) (loads \(.server_cpu_seconds.data | r)), indexes/constraints after the last chunk \(.phase_seconds.indexes_constraints | r) (all index, constraint and ANALYZE jobs \(.server_cpu_seconds.post_data | r)), finish \(.phase_seconds.finish | r) (\(.server_cpu_seconds.finish | r)); its trace: bench/results/trace-\($p).json."' \
    --arg p "$1" "$f" 2>/dev/null || true
}
# restore_rows PREFIX RAW: the restore table of one shape. Ready-to-serve rows are compared
# with pg_restore + vacuumdb --analyze-only, rows without statistics with pg_restore alone.
restore_rows() {
  local p=$1 raw=$2
  echo "| write ceiling = COPY + indexes (no statistics) | $(t $p.wc) | $(ratio $p.wc $p.pgrestore) | 1.00× | $(cpu $p.wc) | $(cpugb $p.wc "$raw") | $(srv $p.wc) | - |"
  echo "| ↳ N × COPY FROM of decoded files, no indexes | $(t $p.wc_copy) | - | - | $(cpu $p.wc_copy) | $(cpugb $p.wc_copy "$raw") | $(srv $p.wc_copy) | $(rssmb $p.wc_copy) |"
  echo "| ↳ index/constraint builds alone (pg_restore --section=post-data) | $(t $p.wc_index) | - | - | $(cpu $p.wc_index) | - | $(srv $p.wc_index) | $(rssmb $p.wc_index) |"
  echo "| **pgferry restore** (ready to serve: with its ANALYZE) | $(t $p.pgferry) | **$(ratio $p.pgferry $p.pgrestore_an)** | $(ratio $p.pgferry $p.wc) | $(cpu $p.pgferry) | $(cpugb $p.pgferry "$raw") | $(srv $p.pgferry) | $(rssmb $p.pgferry) |"
  echo "| pg_restore + vacuumdb --analyze-only (ready to serve) | $(t $p.pgrestore_an) | 1.00× | $(ratio $p.pgrestore_an $p.wc) | $(cpu $p.pgrestore_an) | $(cpugb $p.pgrestore_an "$raw") | $(srv $p.pgrestore_an) | $(rssmb $p.pgrestore_an) |"
  echo "| pgferry restore --no-analyze | $(t $p.pgferry_noan) | $(ratio $p.pgferry_noan $p.pgrestore) | $(ratio $p.pgferry_noan $p.wc) | $(cpu $p.pgferry_noan) | $(cpugb $p.pgferry_noan "$raw") | $(srv $p.pgferry_noan) | $(rssmb $p.pgferry_noan) |"
  echo "| pg_restore alone (no statistics) | $(t $p.pgrestore) | 1.00× | $(ratio $p.pgrestore $p.wc) | $(cpu $p.pgrestore) | $(cpugb $p.pgrestore "$raw") | $(srv $p.pgrestore) | $(rssmb $p.pgrestore) |"
  if [[ -n ${MEAN[$p.baseline]:-} ]]; then
    echo "| pgferry restore, baseline build (BENCH_BASELINE) | $(t $p.baseline) | $(ratio $p.baseline $p.pgrestore_an) | $(ratio $p.baseline $p.wc) | $(cpu $p.baseline) | $(cpugb $p.baseline "$raw") | $(srv $p.baseline) | $(rssmb $p.baseline) |"
  fi
  if [[ -n ${MEAN[$p.pf_rows]:-} ]]; then
    echo "| pgferry restore of the --layout rows dump (ready to serve) | $(t $p.pf_rows) | $(ratio $p.pf_rows $p.pgrestore_an) | $(ratio $p.pf_rows $p.wc) | $(cpu $p.pf_rows) | $(cpugb $p.pf_rows "$raw") | $(srv $p.pf_rows) | $(rssmb $p.pf_rows) |"
  fi
  if [[ -n ${MEAN[$p.pf_enc]:-} ]]; then
    echo "| pgferry restore of the --encrypt dump (ready to serve) | $(t $p.pf_enc) | $(ratio $p.pf_enc $p.pgrestore_an) | $(ratio $p.pf_enc $p.wc) | $(cpu $p.pf_enc) | $(cpugb $p.pf_enc "$raw") | $(srv $p.pf_enc) | $(rssmb $p.pf_enc) |"
  fi
}
RESTORE_HEAD="| | seconds | × pg_restore doing the same (ready to serve: + vacuumdb) | × write ceiling | client CPU s | client CPU s/GB | server CPU s | peak RSS |
|---|---|---|---|---|---|---|---|"
many_restore_rows() {
  local p=$1
  echo "| **pgferry restore** end to end (ready to serve) | $(t $p.pgferry) | **$(ratio $p.pgferry $p.pgrestore_an)** vs pg_restore + vacuumdb, $(ratio $p.pgferry $p.pgrestore) vs pg_restore alone | - | $(cpu $p.pgferry) | $(srv $p.pgferry) | $(rssmb $p.pgferry) |"
  echo "| pg_restore + vacuumdb --analyze-only end to end | $(t $p.pgrestore_an) | 1.00× | - | $(cpu $p.pgrestore_an) | $(srv $p.pgrestore_an) | $(rssmb $p.pgrestore_an) |"
  echo "| pg_restore end to end (no statistics) | $(t $p.pgrestore) | - | - | $(cpu $p.pgrestore) | $(srv $p.pgrestore) | $(rssmb $p.pgrestore) |"
  if [[ -n ${MEAN[$p.baseline]:-} ]]; then
    echo "| pgferry restore, baseline build (BENCH_BASELINE) | $(t $p.baseline) | $(ratio $p.baseline $p.pgrestore_an) | - | $(cpu $p.baseline) | $(srv $p.baseline) | $(rssmb $p.baseline) |"
  fi
}
# check VALUE OP LIMIT -> met / NOT met
check() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { if (v == "" || v == "-") { print "n/a"; exit }
  ok = (op == "<=") ? (v <= l) : (v >= l); print ok ? "met" : "**NOT met**" }'; }
val() { [[ -n ${MEAN[$1]:-} && -n ${MEAN[$2]:-} ]] && calc '%.2f' "${MEAN[$1]} / ${MEAN[$2]}" || echo "-"; }
cpugb_raw() { [[ -n ${CPU[$1]:-} ]] && calc '%.2f' "${CPU[$1]} / ($2 / 1e9)" || echo "-"; }
plan_mean=$( ((${#PLAN_TIMES[@]})) && printf '%s\n' "${PLAN_TIMES[@]}" | awk '{ s += $1; if ($1 > m) m = $1 } END { printf "%.2f", s / NR }' || echo "-")
plan_max=$( ((${#PLAN_TIMES[@]})) && printf '%s\n' "${PLAN_TIMES[@]}" | awk '{ if ($1 > m) m = $1 } END { printf "%.2f", m }' || echo "-")
plan_med=$( ((${#PLAN_TIMES[@]})) && printf '%s\n' "${PLAN_TIMES[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }' || echo "-")

target_row() { # target_row TEXT VALUE OP LIMIT SHOWN
  echo "| $1 | $5 | $(check "$2" "$3" "$4") |"
}
srvdesc() { local -n conf=$1; printf '%s; ' "${conf[@]}" | sed 's/; $//'; }
# restore_section TITLE PREFIX RAW
restore_section() {
  echo "$1"
  echo
  echo "$RESTORE_HEAD"
  restore_rows "$2" "$3"
  echo
  phases "$2"
  echo
}
{
  echo "# pgferry benchmark results"
  echo
  echo "$NOW · pgferry $REV · \`bash bench/run.sh --scale $scale --jobs $jobs$( ((quick)) && echo ' --quick') --server $server\` · whole run $(elapsed) min"
  echo
  echo "**Machine**: $(nproc) CPUs ($CPU_MODEL), ${MEM_GB} GB RAM, Linux $(uname -r); load average at the end $LOADAVG."
  echo
  if ((reuse)); then
    echo "**Server**: PostgreSQL $PGVER, reused as configured (BENCH_REUSE=1)."
  else
    echo "**Server**: PostgreSQL $PGVER on the same machine (client and server share the CPUs), a throwaway cluster."
    [[ $server != tuned ]] && echo "The headline runs use a **production-like server**: $(srvdesc PRODUCTION)."
    [[ $server == tuned ]] && echo "Everything runs on the **tuned server**: $(srvdesc TUNED)."
    [[ $server == both ]] && echo "The restores are then run again on a **tuned server** (a disposable restore target): $(srvdesc TUNED)."
  fi
  echo
  echo "**Dataset** (\`tools/gen_data.sh --scale $scale\`): heap $(mb "$HEAP") (bench.huge $(mb "$HUGE_HEAP")), database $(mb "$DBSIZE"); COPY data $(mb "$RAW") binary / $(mb "$RAW_TEXT") text; $many small tables in a second database."
  echo
  echo "Times are hyperfine means ± stddev over $dump_runs dump runs (+$dump_warmup warmup), $restore_runs restore runs and $many_runs runs for the small tables, warm caches (the wrapper that records CPU and RSS adds ~15 ms to each). Client CPU = user+sys of the tool and its child processes; server CPU = all PostgreSQL processes meanwhile; CPU s/GB per GB of binary COPY data; RSS = peak of the largest process. *Ready to serve* = the rows, indexes, constraints and planner statistics: pgferry restore ANALYZEs each table as part of the restore; pg_restore leaves none, so it is timed followed by \`vacuumdb --analyze-only -j $jobs\`."
  echo
  echo "## Dump, all tables, -j $jobs"
  echo
  echo "| | seconds | speedup vs pg_dump -Fd | × read ceiling | output | client CPU s | client CPU s/GB | server CPU s | server CPU s/GB | peak RSS |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  dump_rows dump "$RAW"
  echo
  echo "## Dump, pgbench -s $JSCALE + $JEVENTS jsonb events, -j $jobs ($(mb "$JRAW") of binary COPY data)"
  echo
  echo "| | seconds | speedup vs pg_dump -Fd | × read ceiling | output | client CPU s | client CPU s/GB | server CPU s | server CPU s/GB | peak RSS |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  dump_rows json.dump "$JRAW"
  [[ -s $R/json-dump.json ]] && echo && jq -r '"pgferry dump --json of its last run: server CPU of its own backends \(.server_cpu_seconds // "?") s (\(.server_cpu_seconds_per_gb // "?" | if type == "number" then (. * 100 | round / 100) else . end) s/GB); the table counts every PostgreSQL process."' "$R/json-dump.json"
  echo
  restore_section "## Restore, all tables, -j $jobs" restore "$RAW"
  echo "## One huge table alone (bench.huge, $(mb "$HUGE_HEAP") heap, $HCHUNKS pgferry chunks; pg_dump has one COPY stream), -j $jobs"
  echo
  echo "| dump | seconds | speedup vs pg_dump -Fd | × read ceiling | output | client CPU s | client CPU s/GB | server CPU s | server CPU s/GB | peak RSS |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  dump_rows huge.dump "$HRAW"
  echo
  restore_section "Restore:" huge.restore "$HRAW"
  if ((many > 0)); then
    echo "## $many small tables (PK, 10 rows each), -j $jobs"
    echo
    echo "| | seconds | vs pg_dump / pg_restore | output | client CPU s | server CPU s | peak RSS |"
    echo "|---|---|---|---|---|---|---|"
    echo "| pgferry dump: planning (start to first progress line: connect, snapshot, catalog, locks, chunk plan, workers started) | ${PLAN_TIMES[*]:-} (median $plan_med) | - | - | - | - | - |"
    echo "| **pgferry dump** end to end | $(t many.dump.pgferry) | $(ratio many.dump.pgferry many.dump.pgdump) time | $(size many.dump.pgferry) | $(cpu many.dump.pgferry) | $(srv many.dump.pgferry) | $(rssmb many.dump.pgferry) |"
    echo "| pg_dump -Fd end to end | $(t many.dump.pgdump) | 1.00× | $(size many.dump.pgdump) | $(cpu many.dump.pgdump) | $(srv many.dump.pgdump) | $(rssmb many.dump.pgdump) |"
    many_restore_rows many.restore
    echo
    phases many.restore
    echo
  fi
  if [[ $server == both ]]; then
    echo "## The restores on the tuned server ($(srvdesc TUNED))"
    echo
    restore_section "### All tables, -j $jobs" tuned.restore "$RAW"
    restore_section "### bench.huge alone, -j $jobs" tuned.huge.restore "$HRAW"
    if ((many > 0)); then
      echo "### $many small tables, -j $jobs"
      echo
      echo "| | seconds | vs pg_restore | output | client CPU s | server CPU s | peak RSS |"
      echo "|---|---|---|---|---|---|---|"
      many_restore_rows tuned.many.restore
      echo
      phases tuned.many.restore
      echo
    fi
  fi
  echo "## Peak memory at -j 8 (all tables, one run)"
  echo
  echo "| | peak RSS | seconds | client CPU s |"
  echo "|---|---|---|---|"
  for id in rss8.dump rss8.restore; do
    w=$(awk -F'\t' -v id="$id" '$1 == id { print $2 }' "$STATS" | tail -n 1)
    echo "| pgferry ${id#rss8.} -j 8 | $(rssmb $id) | ${w:--} | $(cpu $id) |"
  done
  echo
  if ((codec)) && [[ -s $R/codec.json ]]; then
    echo "## Codec micro-benchmarks (one core, \`build-bench/bench/codec_bench\`, 32 MB of generated COPY data)"
    echo
    echo "| benchmark | MB/s per core | × memcpy | compression ratio |"
    echo "|---|---|---|---|"
    jq -r '(.benchmarks[] | select(.name == "BM_memcpy") | .bytes_per_second) as $m |
      .benchmarks[] | [(.name | sub("^BM_"; "")) + (if .label and .label != "" then " (" + .label + ")" else "" end),
        (.bytes_per_second / 1e6 | floor), ((.bytes_per_second / $m * 1000 | floor) / 1000), (.ratio // "")] | @tsv' "$R/codec.json" |
      awk -F'\t' '{ r = ($4 == "") ? "-" : sprintf("%.2f", $4); printf "| %s | %d | %.3f× | %s |\n", $1, $2, $3, r }'
    echo
  fi
  echo "## Targets (the ${SERVER_HEAD:-headline} server)"
  echo
  echo "| target | measured | |"
  echo "|---|---|---|"
  target_row "dump ≤ 1.10× the read ceiling" "$(val dump.pgferry dump.read)" "<=" 1.10 "$(val dump.pgferry dump.read)×"
  target_row "dump ≤ 1.10× the read ceiling (pgbench + jsonb set)" "$(val json.dump.pgferry json.dump.read)" "<=" 1.10 "$(val json.dump.pgferry json.dump.read)×"
  target_row "dump ≤ 1.15× the read ceiling (huge table alone)" "$(val huge.dump.pgferry huge.dump.read)" "<=" 1.15 "$(val huge.dump.pgferry huge.dump.read)×"
  target_row "dump ≥ 2.4× faster than pg_dump -Fd -j $jobs" "$(val dump.pgdump dump.pgferry)" ">=" 2.4 "$(val dump.pgdump dump.pgferry)×"
  target_row "dump ≥ 2.4× faster than pg_dump -Fd -j $jobs (huge table alone)" "$(val huge.dump.pgdump huge.dump.pgferry)" ">=" 2.4 "$(val huge.dump.pgdump huge.dump.pgferry)×"
  sz=$(calc '%.3f' "${SIZE[dump.pgferry]} / ${SIZE[dump.pgdump]}")
  target_row "dump output ≤ 0.80× pg_dump -Fd -j $jobs (gzip)" "$sz" "<=" 0.80 "$(size dump.pgferry) vs $(size dump.pgdump) ($sz×)"
  jsz=$(calc '%.3f' "${SIZE[json.dump.pgferry]} / ${SIZE[json.dump.pgdump]}")
  target_row "dump output ≤ 0.80× pg_dump -Fd -j $jobs (gzip) (pgbench + jsonb set)" "$jsz" "<=" 0.80 "$(size json.dump.pgferry) vs $(size json.dump.pgdump) ($jsz×)"
  target_row "dump server CPU per GB ≤ pg_dump's" "$(calc '%.2f' "${SRV[dump.pgferry]:-0} / ${SRV[dump.pgdump]:-1}")" "<=" 1 "$(srvgb dump.pgferry "$RAW") vs $(srvgb dump.pgdump "$RAW") s/GB"
  target_row "dump server CPU per GB ≤ pg_dump's (pgbench + jsonb set)" "$(calc '%.2f' "${SRV[json.dump.pgferry]:-0} / ${SRV[json.dump.pgdump]:-1}")" "<=" 1 "$(srvgb json.dump.pgferry "$JRAW") vs $(srvgb json.dump.pgdump "$JRAW") s/GB"
  target_row "restore of the column-layout dump no slower than of the --layout rows dump" "$(val restore.pgferry restore.pf_rows)" "<=" 1.05 "$(val restore.pgferry restore.pf_rows)× (5% noise allowed)"
  target_row "restore ready to serve ≤ 0.75× pg_restore + vacuumdb --analyze-only, -j $jobs (all tables, scale $scale)" "$(val restore.pgferry restore.pgrestore_an)" "<=" 0.75 "$(val restore.pgferry restore.pgrestore_an)×"
  target_row "restore ready to serve ≤ 0.60× pg_restore + vacuumdb --analyze-only, -j $jobs (huge table alone)" "$(val huge.restore.pgferry huge.restore.pgrestore_an)" "<=" 0.60 "$(val huge.restore.pgferry huge.restore.pgrestore_an)×"
  target_row "restore --no-analyze ≤ 1.15× the write ceiling (COPY + indexes: the same work)" "$(val restore.pgferry_noan restore.wc)" "<=" 1.15 "$(val restore.pgferry_noan restore.wc)× (with ANALYZE: $(val restore.pgferry restore.wc)×)"
  target_row "restore --no-analyze ≤ 1.15× the write ceiling (huge table alone)" "$(val huge.restore.pgferry_noan huge.restore.wc)" "<=" 1.15 "$(val huge.restore.pgferry_noan huge.restore.wc)× (with ANALYZE: $(val huge.restore.pgferry huge.restore.wc)×)"
  target_row "restore --no-analyze ≤ 0.75× pg_restore -j $jobs (all tables)" "$(val restore.pgferry_noan restore.pgrestore)" "<=" 0.75 "$(val restore.pgferry_noan restore.pgrestore)×"
  if ((many > 0)); then
    target_row "restore ready to serve ≤ 0.75× pg_restore + vacuumdb ($many small tables)" "$(val many.restore.pgferry many.restore.pgrestore_an)" "<=" 0.75 "$(val many.restore.pgferry many.restore.pgrestore_an)×"
    [[ -n ${MEAN[many.restore.baseline]:-} ]] &&
      target_row "$many small tables: restore no slower than the baseline build" "$(val many.restore.pgferry many.restore.baseline)" "<=" 1.05 "$(val many.restore.pgferry many.restore.baseline)× the baseline's time (5% noise allowed)"
  fi
  target_row "dump client CPU ≤ 4 s per GB of COPY data" "$(cpugb_raw dump.pgferry "$RAW")" "<=" 4 "$(cpugb_raw dump.pgferry "$RAW") s/GB"
  target_row "dump client CPU ≤ 4 s per GB of COPY data (pgbench + jsonb set)" "$(cpugb_raw json.dump.pgferry "$JRAW")" "<=" 4 "$(cpugb_raw json.dump.pgferry "$JRAW") s/GB"
  target_row "restore client CPU ≤ 3 s per GB of COPY data" "$(cpugb_raw restore.pgferry "$RAW")" "<=" 3 "$(cpugb_raw restore.pgferry "$RAW") s/GB"
  r8d=$( [[ -n ${RSS[rss8.dump]:-} ]] && calc '%.0f' "${RSS[rss8.dump]} / 1024" || echo "-")
  r8r=$( [[ -n ${RSS[rss8.restore]:-} ]] && calc '%.0f' "${RSS[rss8.restore]} / 1024" || echo "-")
  target_row "dump peak RSS ≤ 100 MB at -j 8" "$r8d" "<=" 100 "$r8d MB"
  target_row "restore peak RSS ≤ 100 MB at -j 8" "$r8r" "<=" 100 "$r8r MB"
  if ((many > 0)); then
    target_row "$many tables planned in ≤ 2 s" "$plan_med" "<=" 2 "$plan_med s (median of ${#PLAN_TIMES[@]}, worst $plan_max s)"
    target_row "$many tables: dump end to end no slower than pg_dump -Fd -j $jobs" "$(val many.dump.pgferry many.dump.pgdump)" "<=" 1 "$(val many.dump.pgferry many.dump.pgdump)× pg_dump's time"
  fi
  echo
  echo "Raw data: bench/results/ (hyperfine JSON hf-*.json, per-run CPU/RSS stats.tsv, pgferry's --json phases-*.json and --trace trace-*.json of its last timed restore of each shape, codec.json, run.log)."
} >"$R/RESULTS.md"
# bench/LATEST.md (tracked) keeps the latest full run; a --quick smoke run does not replace it.
# Its copy section is bench/copy_bench.sh's: kept as it is.
if ((!quick)); then
  L=$here/bench/LATEST.md
  copy_section=$([[ -f $L ]] && awk '/^## Copy, database to database/ { keep = 1 } keep && /^## / && !/^## Copy, database to database/ { keep = 0 } keep' "$L" || true)
  cp "$R/RESULTS.md" "$L.tmp"
  [[ -n $copy_section ]] && printf '\n%s\n' "$copy_section" >>"$L.tmp"
  mv "$L.tmp" "$L"
fi
echo
cat "$R/RESULTS.md"
echo
echo "bench: wrote bench/results/RESULTS.md$( ((quick)) || echo ' and bench/LATEST.md') ($(elapsed))"
