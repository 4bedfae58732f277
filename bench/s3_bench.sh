#!/usr/bin/env bash
# bench/s3_bench.sh [PGFERRY]
#
# Dump to a local S3 server vs dump to a local directory, same run, same data: the bench
# dataset (tools/gen_data.sh --scale 1, --many-tables 0) in a throwaway cluster, dumped
# with -j 8 by
#     /usr/bin/time -v pgferry dump -j 8 -f DIR
#     /usr/bin/time -v pgferry dump -j 8 -f s3://pgferry-bench/dump
# against s3rver (the npm package the tests use, /var/cache/pgferry-s3rver; its data on
# local disk) on a loopback port, alternating, RUNS times each (default 3). Prints the
# median wall clock of each, their ratio, and each one's peak RSS (the largest of all
# runs; the issue's bound is 100 MB at -j 8). Not part of ctest.
#
# s3rver is a single Node.js process that writes every object to disk with its MD5: it is
# the ceiling here, not pgferry; a real S3 endpoint takes parts from many connections.
#
# PGFERRY defaults to build/pgferry. Runs inside tests/harness/with_cluster.sh (started
# here unless PF_CLUSTER_DIR says we already are in one). TMPDIR: where the dumps go.
set -euo pipefail

src=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
PGFERRY=${1:-${PGFERRY:-$src/build/pgferry}}
RUNS=${RUNS:-3}
S3RVER_DIR=${PGFERRY_S3RVER_DIR:-/var/cache/pgferry-s3rver}
s3rver=$S3RVER_DIR/node_modules/.bin/s3rver
for need in "$PGFERRY" /usr/bin/time "$s3rver"; do
  if [[ ! -x $need ]]; then
    echo "s3_bench: $need is missing: build pgferry, and run tools/install-deps.sh (time, s3rver)" >&2
    exit 2
  fi
done
if [[ -z ${PF_CLUSTER_DIR:-} ]]; then
  exec bash "$src/tests/harness/with_cluster.sh" bash "${BASH_SOURCE[0]}" "$(realpath "$PGFERRY")"
fi

db=pf_bench_s3
bucket=pgferry-bench
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-bench-s3.XXXXXX")
s3pid=
cleanup() {
  [[ -n $s3pid ]] && kill "$s3pid" 2>/dev/null && wait "$s3pid" 2>/dev/null
  rm -rf -- "$tmp"
  psql -XqAt -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -XqAt -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" 2>/dev/null
echo "s3_bench: generating the bench dataset (scale 1) ..." >&2
bash "$src/tools/gen_data.sh" -d "$db" --scale 1 --many-tables 0 >"$tmp/gen.log" 2>&1
heap=$(psql -XqAt -d "$db" -c "SELECT pg_size_pretty(sum(pg_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bench' AND c.relkind = 'r'")

mkdir -p "$tmp/s3data"
NODE_OPTIONS=--openssl-legacy-provider "$s3rver" -d "$tmp/s3data" -a 127.0.0.1 -p 0 --silent \
  --configure-bucket "$bucket" >"$tmp/s3rver.log" 2>&1 &
s3pid=$!
for ((i = 0; i < 200; i++)); do
  port=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$s3pid," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n $port ]] || { echo "s3_bench: s3rver did not start" >&2; cat "$tmp/s3rver.log" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port
unset AWS_PROFILE AWS_SESSION_TOKEN

# one TARGET-KIND RUN: a timed dump; prints "seconds rss_kb"
one() {
  local kind=$1 n=$2 target
  if [[ $kind == dir ]]; then target=$tmp/dump; else target=s3://$bucket/dump-$n; fi
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$PGFERRY" dump -d "dbname=$db" -f "$target" -j 8 --no-progress \
    >"$tmp/$kind.out" 2>"$tmp/$kind.err" || { echo "s3_bench: dump to $target failed:" >&2; cat "$tmp/$kind.err" >&2; exit 1; }
  cat "$tmp/time"
  if [[ $kind == dir ]]; then rm -rf -- "$tmp/dump"; else rm -rf -- "$tmp/s3data/$bucket/dump-$n"; fi
}

declare -a dir_s s3_s
dir_rss=0 s3_rss=0
for ((r = 1; r <= RUNS; r++)); do
  read -r s k < <(one dir "$r"); dir_s+=("$s"); ((k > dir_rss)) && dir_rss=$k
  read -r s k < <(one s3 "$r"); s3_s+=("$s"); ((k > s3_rss)) && s3_rss=$k
  echo "s3_bench: run $r: directory ${dir_s[-1]} s, s3 ${s3_s[-1]} s" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
dm=$(median "${dir_s[@]}")
sm=$(median "${s3_s[@]}")
size=$(sed -n 's/^ *"stored_bytes": \([0-9]*\).*/\1/p' "$tmp/s3.out" | head -n 1)

printf '\n%-40s %14s %14s\n' "pgferry dump -j 8 (bench scale 1, $heap)" "local dir" "s3rver (lo)"
printf '%-40s %12s s %12s s\n' "wall clock, median of $RUNS" "$dm" "$sm"
printf '%-40s %11.1f MB %11.1f MB\n' "peak RSS (max of $RUNS)" "$(awk -v k="$dir_rss" 'BEGIN { print k / 1024 }')" \
  "$(awk -v k="$s3_rss" 'BEGIN { print k / 1024 }')"
awk -v a="$dm" -v b="$sm" 'BEGIN { printf "%-40s %29.2fx\n", "time ratio (s3 / dir)", b / a }'
awk -v k="$s3_rss" 'BEGIN { if (k / 1024 < 100) print "peak RSS to S3 at -j 8 is under 100 MB"; else { print "peak RSS to S3 at -j 8 is 100 MB or more"; exit 1 } }'
