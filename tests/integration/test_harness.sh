#!/usr/bin/env bash
# test_harness.sh: checks the integration-test harness itself. Runs inside
# tests/harness/with_cluster.sh (PG* set), and starts nested clusters of its own to check
# that with_cluster.sh always stops and removes its cluster: when CMD fails, when CMD is
# killed by a signal, when the harness gets SIGTERM, and when the harness is SIGKILLed.
# shellcheck disable=SC2016 # the inner bash -c scripts expand their own $1/$$
set -u

: "${PGFERRY_SRC:=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}"
harness=$PGFERRY_SRC/tests/harness/with_cluster.sh
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-harness.XXXXXX") || exit 1
trap 'rm -rf -- "$tmp"' EXIT

pass() { echo "ok - $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL - $1: $2"
  failed=$((failed + 1))
  if [[ -n ${3:-} && -s $3 ]]; then sed 's/^/    | /' "$3"; fi
}

# Nested clusters must clean up regardless of how the outer run was invoked. (An array,
# not a function, so that `"${run_harness[@]}" ... &` makes $! the harness itself.)
run_harness=(env -u PF_KEEP_CLUSTER -u PF_CLUSTER_WATCHDOG bash "$harness")

# record.sh OUT: written by the inner command: cluster dir, port, postmaster pid, own pid.
cat >"$tmp/record.sh" <<'EOF'
{
  echo "$PF_CLUSTER_DIR"
  echo "$PGPORT"
  head -n 1 "$PF_CLUSTER_DIR/data/postmaster.pid"
  echo "$$"
} >"$1.tmp" && mv "$1.tmp" "$1"
EOF

# alive PID: PID is a running process (zombies, awaiting reaping by init, do not count).
alive() {
  local s
  kill -0 "$1" 2>/dev/null || return 1
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  s=${s##*) }
  [[ ${s:0:1} != [ZX] ]]
}

# wait_for_file FILE: until FILE exists (60 s at most).
wait_for_file() {
  local i
  for ((i = 0; i < 600; i++)); do [[ -s $1 ]] && return 0; sleep 0.1; done
  return 1
}

# check_gone NAME REC LOG: the cluster recorded in REC was stopped and removed (within
# 15 s, for the watchdog case). Reports pass/fail for NAME.
check_gone() {
  local name=$1 rec=$2 log=$3 dir port pmpid i
  if [[ ! -s $rec ]]; then fail "$name" "the inner command did not run" "$log"; return; fi
  { read -r dir; read -r port; read -r pmpid; } <"$rec"
  if [[ -z $dir || $dir == "${PF_CLUSTER_DIR:-}" || ! $port =~ ^[0-9]+$ || ! $pmpid =~ ^[0-9]+$ ]]; then
    fail "$name" "bad record: dir='$dir' port='$port' postmaster='$pmpid'" "$log"
    return
  fi
  for ((i = 0; i < 150; i++)); do
    if [[ ! -e $dir ]] && ! alive "$pmpid" &&
       ! pg_isready -q -h 127.0.0.1 -p "$port" -t 2; then
      pass "$name"
      return
    fi
    sleep 0.1
  done
  local why=
  [[ -e $dir ]] && why+=" dir $dir still exists;"
  alive "$pmpid" && why+=" postmaster $pmpid still running;"
  pg_isready -q -h 127.0.0.1 -p "$port" -t 2 && why+=" port $port still accepts connections;"
  fail "$name" "not cleaned up:$why" "$log"
}

# 1. The cluster we run in works.
out=$(psql -XAtc 'select 1' 2>&1)
if [[ $out == 1 ]]; then pass "psql select 1"; else fail "psql select 1" "got: $out"; fi

# 2. CMD fails: its exit code is passed on and the cluster is removed.
"${run_harness[@]}" bash -c '. "$1" "$2"; exit 3' _ "$tmp/record.sh" "$tmp/t2" >"$tmp/t2.log" 2>&1
rc=$?
if [[ $rc -ne 3 ]]; then fail "failing command: exit code" "expected 3, got $rc" "$tmp/t2.log"
else check_gone "failing command: exit code 3, cluster removed" "$tmp/t2" "$tmp/t2.log"; fi

# 3. CMD is killed by SIGTERM: exit code 143 and the cluster is removed.
"${run_harness[@]}" bash -c '. "$1" "$2"; kill -TERM $$; sleep 30' _ "$tmp/record.sh" "$tmp/t3" >"$tmp/t3.log" 2>&1
rc=$?
if [[ $rc -ne 143 ]]; then fail "command killed by SIGTERM: exit code" "expected 143, got $rc" "$tmp/t3.log"
else check_gone "command killed by SIGTERM: exit code 143, cluster removed" "$tmp/t3" "$tmp/t3.log"; fi

# 4. The harness itself gets SIGTERM while CMD runs: CMD is terminated, cluster removed.
"${run_harness[@]}" bash -c '. "$1" "$2"; exec sleep 300' _ "$tmp/record.sh" "$tmp/t4" >"$tmp/t4.log" 2>&1 &
hpid=$!
if ! wait_for_file "$tmp/t4"; then
  kill -KILL "$hpid" 2>/dev/null
  fail "harness got SIGTERM" "the inner command never started" "$tmp/t4.log"
else
  kill -TERM "$hpid"
  wait "$hpid"
  rc=$?
  cmdpid=$(sed -n 4p "$tmp/t4")
  if [[ $rc -ne 143 ]]; then
    fail "harness got SIGTERM: exit code" "expected 143, got $rc" "$tmp/t4.log"
  elif alive "$cmdpid"; then
    kill -KILL "$cmdpid"
    fail "harness got SIGTERM" "the command (pid $cmdpid) was not terminated" "$tmp/t4.log"
  else
    check_gone "harness got SIGTERM: command terminated, cluster removed" "$tmp/t4" "$tmp/t4.log"
  fi
fi

# 5. The harness is SIGKILLed (as by a ctest timeout): the watchdog removes the cluster.
"${run_harness[@]}" bash -c '. "$1" "$2"; exec sleep 300' _ "$tmp/record.sh" "$tmp/t5" >"$tmp/t5.log" 2>&1 &
hpid=$!
if ! wait_for_file "$tmp/t5"; then
  kill -KILL "$hpid" 2>/dev/null
  fail "harness got SIGKILL" "the inner command never started" "$tmp/t5.log"
elif ! tr '\0' ' ' <"/proc/$hpid/cmdline" | grep -q 'with_cluster\.sh'; then
  kill -KILL "$hpid" "$(sed -n 4p "$tmp/t5")" 2>/dev/null
  fail "harness got SIGKILL" "pid $hpid is not with_cluster.sh" "$tmp/t5.log"
else
  kill -KILL "$hpid"
  wait "$hpid" 2>/dev/null
  kill -KILL "$(sed -n 4p "$tmp/t5")" 2>/dev/null # the orphaned sleep
  check_gone "harness got SIGKILL: watchdog removed the cluster" "$tmp/t5" "$tmp/t5.log"
fi

# 6. PF_KEEP_CLUSTER=1: the server is stopped but the data dir is kept.
PF_KEEP_CLUSTER=1 bash "$harness" bash -c '. "$1" "$2"' _ "$tmp/record.sh" "$tmp/t6" >"$tmp/t6.log" 2>&1
rc=$?
if [[ $rc -ne 0 || ! -s $tmp/t6 ]]; then
  fail "PF_KEEP_CLUSTER=1" "exit code $rc" "$tmp/t6.log"
else
  { read -r dir; read -r port; read -r pmpid; } <"$tmp/t6"
  if [[ -f $dir/data/PG_VERSION && ! -e $dir/data/postmaster.pid ]] && ! alive "$pmpid" &&
     grep -qF "$dir" "$tmp/t6.log"; then
    pass "PF_KEEP_CLUSTER=1: server stopped, data dir kept and printed"
  else
    fail "PF_KEEP_CLUSTER=1" "data dir $dir missing, not printed, or postmaster $pmpid running" "$tmp/t6.log"
  fi
  [[ $dir == */pgferry-pg.* ]] && rm -rf -- "$dir"
fi

# 7. The nested harnesses left the cluster we run in alone.
out=$(psql -XAtc 'select 1' 2>&1)
if [[ $out == 1 && -d ${PF_CLUSTER_DIR:-/nonexistent} ]]; then pass "outer cluster unaffected"
else fail "outer cluster unaffected" "got: $out"; fi

echo "harness: $passed passed, $failed failed"
((failed == 0))
