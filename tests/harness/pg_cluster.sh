# shellcheck shell=bash
# pg_cluster.sh - throwaway PostgreSQL clusters for pgferry's integration tests.
#
# Source this file, then:
#   pf_pg_bindir      print the PostgreSQL server bin dir (initdb, pg_ctl, postgres, psql ...)
#   pf_cluster_start  initdb + start a private cluster on 127.0.0.1:<free port> in a temp dir;
#                     exports PGHOST PGPORT PGUSER PGDATABASE PF_CLUSTER_DIR PF_PG_BINDIR
#                     (plus PF_CLUSTER_DATA and PF_CLUSTER_LOG)
#   pf_cluster_stop   stop the cluster and remove its temp dir; idempotent, trap-safe.
#                     With PF_KEEP_CLUSTER=1 the server is stopped but the dir is kept.
#
# As root the server runs as the 'postgres' system user (via runuser); as any other user
# (postgres included) it runs as that user. A detached watchdog stops and removes the
# cluster if the shell that started it dies without cleaning up (e.g. SIGKILL from a ctest
# timeout); PF_CLUSTER_WATCHDOG=0 disables it.
#
# Environment knobs: PGFERRY_PG_BINDIR (bin dir override), TMPDIR (where the temp dir goes),
# PF_KEEP_CLUSTER=1, PF_CLUSTER_WATCHDOG=0, PF_CLUSTER_SUPERUSER=NAME (name of the bootstrap
# superuser, `initdb -U NAME`, exported as PGUSER; default postgres. The server still runs as
# the OS user postgres. E.g. PF_CLUSTER_SUPERUSER=supabase_admin for a Supabase-shaped cluster,
# where `postgres` is then an ordinary role: see tests/fixtures/supabase/).
# Safe to source under `set -euo pipefail`.

# State of the cluster started by *this* shell. Deliberately not exported and not taken
# from PF_CLUSTER_DIR, so a nested harness never stops or deletes its parent's cluster.
_pf_cluster_dir=
_pf_cluster_bindir=

_pf_err() { printf 'pg_cluster: %s\n' "$*" >&2; }

# pf_pg_bindir: print the PostgreSQL server bin dir on stdout.
pf_pg_bindir() {
  local d cfg note=
  if [[ -n ${PGFERRY_PG_BINDIR:-} ]]; then
    if [[ -x $PGFERRY_PG_BINDIR/initdb ]]; then
      printf '%s\n' "$PGFERRY_PG_BINDIR"
      return 0
    fi
    _pf_err "initdb not found in PGFERRY_PG_BINDIR=$PGFERRY_PG_BINDIR: point it at a PostgreSQL server bin dir or unset it"
    return 1
  fi
  if command -v pg_config >/dev/null 2>&1; then
    cfg=$(pg_config --bindir 2>/dev/null) || cfg=
    if [[ -n $cfg && -x $cfg/initdb ]]; then
      printf '%s\n' "$cfg"
      return 0
    fi
    [[ -n $cfg ]] && note="pg_config --bindir ($cfg) has no initdb (libpq-dev newer than the server?)"
  fi
  d=$(for b in /usr/lib/postgresql/*/bin; do [[ -x $b/initdb ]] && printf '%s\n' "$b"; done |
        sort -V | tail -n 1) || d=
  if [[ -z $d ]] && command -v initdb >/dev/null 2>&1; then
    d=$(dirname "$(command -v initdb)")
  fi
  if [[ -n $d ]]; then
    [[ -n $note ]] && _pf_err "$note; using $d"
    printf '%s\n' "$d"
    return 0
  fi
  _pf_err "initdb not found (checked PGFERRY_PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin, PATH): install postgresql-15 (apt-get install postgresql-15)"
  return 1
}

# _pf_as_pg CMD...: run CMD as the cluster's OS user, with the caller's PG* connection
# variables removed (a nested harness inherits its parent's PGPORT/PGDATA/...).
_pf_as_pg() {
  local -a clean=(env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGDATA -u PGUSER -u PGDATABASE
                  -u PGOPTIONS -u PGSERVICE -u PGPASSWORD)
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "${clean[@]}" "$@"
  else
    "${clean[@]}" "$@"
  fi
}

# _pf_proc_start PID: process start time (to tell a PID from a reused one), or "-".
_pf_proc_start() {
  local s f
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -; return 0; }
  read -ra f <<<"${s##*) }" # f[0] is field 3 (state), f[19] field 22 (starttime)
  echo "${f[19]:--}"
}

# _pf_alive PID [START]: PID is a live process (not a zombie), started at START if given.
_pf_alive() {
  local s f
  kill -0 "$1" 2>/dev/null || return 1
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0 # no /proc: trust kill -0
  read -ra f <<<"${s##*) }"
  [[ ${f[0]:-} != [ZX] ]] || return 1
  [[ -z ${2:-} || $2 == "${f[19]:-}" ]]
}

# _pf_stop_dir DIR BINDIR KEEP: stop the server of DIR (immediate, or fast if kept), kill
# it if that did not work, then remove DIR unless KEEP=1. Must stay self-contained: the
# watchdog runs it from its own bash via `declare -f`.
_pf_stop_dir() {
  local dir=$1 bindir=$2 keep=${3:-0} data=$1/data pid i mode=immediate
  [[ -n $dir && -d $dir ]] || return 0
  [[ $keep == 1 ]] && mode=fast
  if [[ -f $data/postmaster.pid ]]; then
    (cd / && _pf_as_pg "$bindir/pg_ctl" -D "$data" -m "$mode" -w -t 30 -s stop) >/dev/null 2>&1 || true
    if [[ -f $data/postmaster.pid ]]; then
      pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || pid=
      if [[ $pid =~ ^[0-9]+$ ]] && _pf_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do _pf_alive "$pid" || break; sleep 0.1; done
      fi
    fi
  fi
  [[ $keep == 1 ]] || rm -rf -- "$dir"
}

# _pf_watchdog OWNER_PID OWNER_START DIR BINDIR KEEP: poll until DIR is gone (normal stop)
# or the owner shell is gone (killed), in which case clean up after it.
_pf_watchdog() {
  local owner=$1 start=$2 dir=$3 bindir=$4 keep=$5
  trap '' INT HUP
  trap 'exit 0' TERM
  echo "$BASHPID" >"$dir/pf_watchdog.pid" 2>/dev/null || true
  while [[ -d $dir ]]; do
    if ! _pf_alive "$owner" "$start"; then
      _pf_stop_dir "$dir" "$bindir" "$keep"
      exit 0
    fi
    sleep 1 &
    wait $! # interruptible by TERM from pf_cluster_stop
  done
}

_pf_free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
    # Something accepts connections there: try another one.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    echo "$port"
    return 0
  done
  _pf_err "no free TCP port found on 127.0.0.1 in 20000-60000"
  return 1
}

# pf_cluster_start: create and start a throwaway cluster; see the header.
pf_cluster_start() {
  local bindir dir data log locale=C port attempt ok=0 version tmp=${TMPDIR:-/tmp}
  local su=${PF_CLUSTER_SUPERUSER:-postgres}
  if [[ -n $_pf_cluster_dir ]]; then
    _pf_err "a cluster is already running in this shell ($_pf_cluster_dir)"
    return 1
  fi
  if [[ ! $su =~ ^[A-Za-z_][A-Za-z0-9_]*$ || $su == pg_* ]]; then
    _pf_err "PF_CLUSTER_SUPERUSER=$su is not a usable role name (letters, digits, _; not pg_*)"
    return 1
  fi
  bindir=$(pf_pg_bindir) || return 1
  local t
  for t in pg_ctl postgres psql; do
    [[ -x $bindir/$t ]] || { _pf_err "$t not found in $bindir: install postgresql-15"; return 1; }
  done
  if [[ $(id -u) -eq 0 ]]; then
    command -v runuser >/dev/null 2>&1 || { _pf_err "runuser not found: install util-linux"; return 1; }
    id postgres >/dev/null 2>&1 ||
      { _pf_err "running as root but there is no 'postgres' user: install postgresql-15"; return 1; }
  fi

  dir=$(mktemp -d "$tmp/pgferry-pg.XXXXXX") || { _pf_err "mktemp -d in $tmp failed"; return 1; }
  _pf_cluster_dir=$dir
  _pf_cluster_bindir=$bindir
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$dir" || { _pf_err "chown postgres $dir failed"; pf_cluster_stop; return 1; }
    if ! _pf_as_pg test -w "$dir"; then
      # e.g. TMPDIR=/root/tmp: postgres cannot traverse it. Fall back to /tmp.
      _pf_err "user postgres cannot access $dir (TMPDIR=$tmp not traversable by postgres); using /tmp"
      rm -rf -- "$dir"
      dir=$(mktemp -d /tmp/pgferry-pg.XXXXXX) || { _pf_cluster_dir=; _pf_err "mktemp -d in /tmp failed"; return 1; }
      _pf_cluster_dir=$dir
      chown postgres: "$dir" || { _pf_err "chown postgres $dir failed"; pf_cluster_stop; return 1; }
    fi
  fi
  data=$dir/data
  log=$dir/server.log

  # initdb, with the C.UTF-8 locale when this system has it.
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
  if ! (cd "$dir" && _pf_as_pg "$bindir/initdb" -D "$data" -U "$su" --auth-local=trust \
          --auth-host=trust -E UTF8 --locale="$locale" --no-sync >"$dir/initdb.log" 2>&1); then
    if [[ $locale != C ]]; then
      _pf_err "initdb with --locale=$locale failed; retrying with --locale=C"
      rm -rf -- "$data"
      locale=C
      (cd "$dir" && _pf_as_pg "$bindir/initdb" -D "$data" -U "$su" --auth-local=trust \
          --auth-host=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1) || ok=-1
    else
      ok=-1
    fi
    if ((ok < 0)); then
      _pf_err "initdb failed; tail of $dir/initdb.log:"
      tail -n 20 "$dir/initdb.log" >&2
      pf_cluster_stop
      return 1
    fi
  fi

  # Server settings: fast and disposable. The port goes into its own included file so a
  # retry only rewrites that. Unix sockets only where the path fits in sun_path.
  local sockdir=$dir
  ((${#dir} + 20 < 108)) || sockdir=
  cat >>"$data/postgresql.conf" <<EOF

# --- pgferry test harness ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 128MB
max_wal_size = 2GB
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
include 'pgferry_port.conf'
EOF
  # pf_pwuser must authenticate with a password (tests of failed authentication).
  local hba
  hba=$(cat "$data/pg_hba.conf") &&
    printf '%s\n' "# pgferry test harness: password required for pf_pwuser" \
      "local all pf_pwuser scram-sha-256" \
      "host  all pf_pwuser 127.0.0.1/32 scram-sha-256" "$hba" >"$data/pg_hba.conf"
  chown postgres: "$data/postgresql.conf" "$data/pg_hba.conf" 2>/dev/null || true

  local logsize
  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(_pf_free_port) || break
    logsize=$(stat -c %s "$log" 2>/dev/null) || logsize=0
    echo "port = $port" >"$data/pgferry_port.conf"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$data/pgferry_port.conf"
    if (cd "$dir" && _pf_as_pg "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -s start >>"$dir/pg_ctl.log" 2>&1); then
      ok=1
      break
    fi
    # Give up early unless it looks like the port was taken meanwhile.
    tail -c +"$((logsize + 1))" "$log" 2>/dev/null |
      grep -qiE 'could not (bind|create listen)|address already in use' || break
    _pf_err "port $port was taken; retrying with another port"
  done
  if ((ok != 1)); then
    _pf_err "PostgreSQL failed to start; tail of $log:"
    tail -n 30 "$log" >&2 2>/dev/null
    tail -n 5 "$dir/pg_ctl.log" >&2 2>/dev/null
    pf_cluster_stop
    return 1
  fi

  version=$(env -u PGSERVICE -u PGOPTIONS -u PGHOSTADDR "$bindir/psql" -XAtq -h 127.0.0.1 -p "$port" \
              -U "$su" -d postgres -c 'show server_version' 2>&1) || {
    _pf_err "PostgreSQL started but does not accept connections on 127.0.0.1:$port: $version"
    tail -n 30 "$log" >&2 2>/dev/null
    pf_cluster_stop
    return 1
  }
  version=${version%% *}

  export PGHOST=127.0.0.1 PGPORT=$port PGUSER=$su PGDATABASE=postgres
  export PF_CLUSTER_DIR=$dir PF_PG_BINDIR=$bindir PF_CLUSTER_DATA=$data PF_CLUSTER_LOG=$log
  unset PGHOSTADDR PGSERVICE PGPASSWORD

  if [[ ${PF_CLUSTER_WATCHDOG:-1} != 0 ]] && command -v setsid >/dev/null 2>&1; then
    local owner=$BASHPID
    (
      exec setsid bash -c "$(declare -f _pf_as_pg _pf_alive _pf_stop_dir _pf_watchdog); _pf_watchdog \"\$@\"" \
        pf_watchdog "$owner" "$(_pf_proc_start "$owner")" "$dir" "$bindir" "${PF_KEEP_CLUSTER:-0}" \
        </dev/null >/dev/null 2>&1 &
    )
  fi
  printf 'pg_cluster: started PostgreSQL %s on 127.0.0.1:%s in %s\n' "$version" "$port" "$dir" >&2
  return 0
}

# pf_cluster_stop: stop and remove the cluster this shell started; no-op if none.
pf_cluster_stop() {
  local dir=$_pf_cluster_dir bindir=$_pf_cluster_bindir keep=${PF_KEEP_CLUSTER:-0} wpid
  [[ -n $dir ]] || return 0
  _pf_cluster_dir=
  if [[ -f $dir/pf_watchdog.pid ]]; then
    wpid=$(cat "$dir/pf_watchdog.pid" 2>/dev/null) || wpid=
    [[ $wpid =~ ^[0-9]+$ ]] && kill -TERM "$wpid" 2>/dev/null
  fi
  _pf_stop_dir "$dir" "$bindir" "$keep"
  if [[ $keep == 1 && -d $dir ]]; then
    _pf_err "kept cluster dir $dir (restart: ${PF_PG_BINDIR:-$bindir}/pg_ctl -D $dir/data -l $dir/server.log start, as user postgres)"
  fi
  if [[ ${PF_CLUSTER_DIR:-} == "$dir" ]]; then
    unset PGHOST PGPORT PGUSER PGDATABASE PF_CLUSTER_DIR PF_PG_BINDIR PF_CLUSTER_DATA PF_CLUSTER_LOG
  fi
  return 0
}
