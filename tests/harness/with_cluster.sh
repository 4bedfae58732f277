#!/usr/bin/env bash
# with_cluster.sh CMD [ARGS...]
#
# Start a throwaway PostgreSQL cluster (see pg_cluster.sh), run CMD with PGHOST, PGPORT,
# PGUSER, PGDATABASE, PF_CLUSTER_DIR and PF_PG_BINDIR exported (and PF_PG_BINDIR first on
# PATH, so psql/pg_dump/pg_isready match the server), and exit with CMD's exit code
# (128+N if CMD died of signal N). The cluster is stopped and its temp dir removed however
# CMD ends, also when this script gets INT/TERM/HUP (forwarded to CMD) and, through
# pg_cluster.sh's watchdog, when it is SIGKILLed. PF_KEEP_CLUSTER=1 keeps the data dir.
# Exit code 125: the cluster could not be started.
set -u

if (($# == 0)); then
  echo "usage: bash with_cluster.sh CMD [ARGS...]" >&2
  exit 2
fi

# shellcheck source-path=SCRIPTDIR source=pg_cluster.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/pg_cluster.sh" || exit 125

_wc_child=

# On INT/TERM/HUP: pass the signal on to CMD, give it a moment, then exit (the EXIT trap
# removes the cluster).
# shellcheck disable=SC2317 # invoked from traps
_wc_on_signal() {
  local sig=$1 num=$2 i
  trap - INT TERM HUP
  if [[ -n $_wc_child ]] && _pf_alive "$_wc_child"; then
    kill -s "$sig" "$_wc_child" 2>/dev/null
    for ((i = 0; i < 100; i++)); do _pf_alive "$_wc_child" || break; sleep 0.1; done
    kill -KILL "$_wc_child" 2>/dev/null
    wait "$_wc_child" 2>/dev/null
  fi
  exit $((128 + num))
}

trap pf_cluster_stop EXIT
trap '_wc_on_signal INT 2' INT
trap '_wc_on_signal TERM 15' TERM
trap '_wc_on_signal HUP 1' HUP

pf_cluster_start || exit 125
export PATH="$PF_PG_BINDIR:$PATH"
if [[ ${PF_KEEP_CLUSTER:-0} == 1 ]]; then
  echo "with_cluster: PF_KEEP_CLUSTER=1: the cluster dir $PF_CLUSTER_DIR will be kept" >&2
fi

# CMD runs in the background so that this shell can react to signals while waiting for it;
# the subshell undoes the SIGINT/SIGQUIT ignoring bash applies to background commands and
# keeps stdin (/dev/null if stdin is closed).
if { : 3<&0; } 2>/dev/null; then
  (trap - INT QUIT; exec "$@") <&0 &
else
  (trap - INT QUIT; exec "$@") </dev/null &
fi
_wc_child=$!
wait "$_wc_child"
rc=$?
_wc_child=
exit "$rc"
