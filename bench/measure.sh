#!/usr/bin/env bash
# measure.sh STATS ID CMD [ARGS...]
#
# Runs CMD under /usr/bin/time and appends one line to STATS:
#   ID  wall_s  client_user_s  client_sys_s  client_maxrss_kb  server_cpu_ticks  exit_code
# client_*: CMD and the children it waited for (pg_dump -j workers are processes, so their
# CPU is included; maxrss is the largest single process, not the sum). server_cpu_ticks: CPU
# time the PostgreSQL server of BENCH_PM_PID (postmaster and every backend and auxiliary
# process under it) used meanwhile, from /proc: live processes' utime+stime plus the
# postmaster's cutime+cstime, which collects backends that exited, in clock ticks
# (getconf CLK_TCK per second). Empty when the server is not local. The wrapper itself
# adds about 20-50 ms to what hyperfine measures, the same for every tool. Exits with CMD's exit code. bench/run.sh calls this inside hyperfine.
set -u
stats=$1 id=$2
shift 2
pm=${BENCH_PM_PID:-}

# settle: wait (at most 2 s) until no client backend or parallel worker is left under the
# postmaster. A backend that is being reaped is briefly in neither the children list nor
# the postmaster's cutime, so counting while one exits could lose its CPU time. On the
# benchmark's own cluster this takes a few milliseconds (backends exit as soon as their
# client disconnects).
kids() { kids=(); read -ra kids <"/proc/$pm/task/$pm/children" 2>/dev/null || true; }
settle() {
  local i p c busy
  for ((i = 0; i < 200; i++)); do
    busy=0
    kids
    for p in "${kids[@]}"; do
      c=
      IFS= read -r -d '' c <"/proc/$p/cmdline" 2>/dev/null || [[ -n $c ]] || c=
      case $c in
        *'('*')'*|*'[local]'*|*'parallel worker'*|*'autovacuum worker'*|'') busy=1; break ;;
      esac
    done
    ((busy)) || return 0
    sleep 0.01
  done
}

# server_ticks: total CPU ticks of the postmaster's process tree (every PostgreSQL process
# is a direct child of the postmaster).
server_ticks() {
  local total p s
  local -a f
  [[ -n $pm && -r /proc/$pm/stat ]] || { echo ""; return; }
  settle
  s=$(<"/proc/$pm/stat")
  read -ra f <<<"${s##*) }" # f[11..14] = fields 14..17: utime stime cutime cstime
  total=$((f[11] + f[12] + f[13] + f[14]))
  kids
  for p in "${kids[@]}"; do
    s=$(<"/proc/$p/stat") 2>/dev/null || continue
    read -ra f <<<"${s##*) }"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

tf=${TMPDIR:-/tmp}/pgferry-measure.$$
s0=$(server_ticks)
/usr/bin/time -f '%e %U %S %M' -o "$tf" "$@"
rc=$?
s1=$(server_ticks)
# /usr/bin/time prints "Command exited with non-zero status N" first on failure
read -r wall user sys rss < <(tail -n 1 "$tf")
rm -f "$tf"
server=
[[ -n $s0 && -n $s1 ]] && server=$((s1 - s0))
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "${wall:-0}" "${user:-0}" "${sys:-0}" "${rss:-0}" "$server" "$rc" >>"$stats"
exit "$rc"
