#!/usr/bin/env bash
# test_cli.sh: pgferry's command line follows pg_dump's conventions. Runs inside
# tests/harness/with_cluster.sh (PG* set) with PGFERRY (the binary) and PGFERRY_SRC.
#
#  1. help is --help and -? on every command; -h is the host where a command connects and
#     a usage error elsewhere (a cron job "pgferry dump -h db1" once printed help, exit 0)
#  2. dump -h/-p/-U and the database as the last argument, with the PG* variables unset;
#     restore -h/-p/-U with -d and the dump as the last argument; precedence of what -d
#     says over -h/-p/-U, as pg_dump; pg_dump's refusal of -d together with DBNAME
#  3. a restore names its target: without -d (PGDATABASE set), with -h/-p only, or with
#     a -d that names no database, it exits 2 and touches nothing
#  4. passwords: a password in every connection-option form (key=value with an escaped
#     quote and a space, URI user:password@, URI ?password=, all percent-encoded, dump's
#     positional DBNAME, restore -d, verify --db, drill --target) is in no
#     /proc/<pid>/cmdline while pgferry runs, nor in pg_dump's argv (pg_dump gets it in
#     its environment); every connection keeps the application_name the user set
#  5. -W asks on the terminal (under script(1)), without echo; -w and no password: one
#     line, exit 1
#  6. option values: --lock-wait-timeout, --section, repeatable patterns
set -u
: "${PGFERRY:?PGFERRY must name the pgferry binary}"
: "${PGFERRY_SRC:=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}"
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-cli.XXXXXX") || exit 1
chmod 755 "$tmp" # the pg_dump wrapper below runs as this user, its log too
bg=()

cleanup() {
  local pid
  for pid in "${bg[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${bg[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf -- "$tmp"
}
trap cleanup EXIT

pass() { echo "PASS - $1"; passed=$((passed + 1)); }
# fail NAME WHY [FILE...]: FILEs (default: the last run's output) are shown.
fail() {
  local name=$1 why=$2 f
  shift 2
  echo "FAIL - $name: $why"
  failed=$((failed + 1))
  (($# == 0)) && set -- "$tmp/out" "$tmp/err"
  for f in "$@"; do [[ -s $f ]] && head -n 20 "$f" | sed "s/^/    $(basename "$f")| /"; done
  return 0
}
expect() { if [[ $3 == "$2" ]]; then pass "$1"; else fail "$1" "expected \"$2\", got \"$3\""; fi; }
# run ARGS...: pgferry ARGS; sets rc, $tmp/out, $tmp/err.
run() { "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; rc=$?; }
q() { psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
has() { grep -qF -- "$1" "$2"; }

# ======================================================================================
echo "# --- 1. help"
# ======================================================================================
for cmd in dump restore verify list cat drill prune status diff; do
  for h in --help -?; do
    run "$cmd" "$h"
    if [[ $rc -eq 0 ]] && grep -q "^Usage: pgferry $cmd" "$tmp/out" && [[ ! -s $tmp/err ]]; then
      pass "$cmd $h: help on stdout, exit 0"
    else fail "$cmd $h" "exit $rc"; fi
  done
done
for h in --help -?; do
  run "$h"
  if [[ $rc -eq 0 ]] && has "Usage: pgferry COMMAND" "$tmp/out"; then pass "pgferry $h: exit 0"
  else fail "pgferry $h" "exit $rc"; fi
done
run -h
if [[ $rc -eq 2 ]] && has "help is --help or -?" "$tmp/err" && [[ ! -s $tmp/out ]]; then pass "pgferry -h: usage error"
else fail "pgferry -h" "exit $rc, expected 2 saying help is --help or -?"; fi
for cmd in dump restore verify drill diff copy; do
  run "$cmd" --help
  miss=
  for o in "-h, --host=HOST" "-p, --port=PORT" "-U, --username=NAME" "-w, --no-password" "-W, --password"; do
    has "$o" "$tmp/out" || miss+=" [$o]"
  done
  if [[ -z $miss ]]; then pass "$cmd --help documents -h/-p/-U/-w/-W"; else fail "$cmd --help" "missing$miss" "$tmp/out"; fi
done
for cmd in dump restore verify list cat drill diff; do
  run "$cmd" --help
  if has "--passphrase-file" "$tmp/out"; then pass "$cmd --help documents --passphrase-file"
  else fail "$cmd --help" "no --passphrase-file" "$tmp/out"; fi
done
run dump --help
miss=
for o in --exclude-table-data= --no-unlogged-table-data --lock-wait-timeout=; do has "$o" "$tmp/out" || miss+=" $o"; done
if [[ -z $miss ]]; then pass "dump --help documents the new options"; else fail "dump --help" "missing$miss" "$tmp/out"; fi
run restore --help
miss=
for o in "-T, --exclude-table=" "-N, --exclude-schema=" "--section=" "--disable-triggers" "PGDATABASE does not count"; do
  has "$o" "$tmp/out" || miss+=" [$o]"
done
if [[ -z $miss ]]; then pass "restore --help documents the new options"; else fail "restore --help" "missing$miss" "$tmp/out"; fi
# -h where nothing connects: a usage error naming the help options
for cmd in list cat prune; do
  run "$cmd" -h
  if [[ $rc -eq 2 ]] && has "help is --help or -?" "$tmp/err" && [[ ! -s $tmp/out ]]; then pass "$cmd -h: usage error, exit 2"
  else fail "$cmd -h" "exit $rc, expected 2 saying help is --help or -?"; fi
done
run status -h
if [[ $rc -eq 3 ]] && has "help is --help or -?" "$tmp/err"; then pass "status -h: usage error, exit 3 (UNKNOWN)"
else fail "status -h" "exit $rc, expected 3"; fi
# -h where a command connects takes a value: never help
for cmd in dump restore verify drill diff; do
  run "$cmd" -h
  if [[ $rc -eq 2 ]] && ! has "Usage:" "$tmp/out" && has "needs a value" "$tmp/err"; then pass "$cmd -h without a host: usage error, no help"
  else fail "$cmd -h" "exit $rc"; fi
done

# ======================================================================================
echo "# --- 2. pg_dump's connection options"
# ======================================================================================
createdb src || exit 1
q src "CREATE TABLE public.t (id int PRIMARY KEY, v text);
       INSERT INTO public.t SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
       CREATE TABLE public.big (id int, pad text);
       INSERT INTO public.big SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 200000) g;" || exit 1
src_t=$(q src "SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM public.t")
H=127.0.0.1
noenv=(env -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER)

"${noenv[@]}" "$PGFERRY" dump -h "$H" -p "$PGPORT" -U "$PGUSER" -f "$tmp/d1" --no-progress src >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 0 ]] && ! has "Usage:" "$tmp/out"; then pass "dump -h -p -U -f DIR DBNAME (no PG* variables): exit 0, no help"
else fail "dump -h -p -U -f DIR DBNAME" "exit $rc"; fi
run list "$tmp/d1"
if [[ $rc -eq 0 ]] && grep -q "database src" "$tmp/out"; then pass "list of that dump: exit 0, database src"
else fail "list of the -h dump" "exit $rc"; fi
"${noenv[@]}" "$PGFERRY" dump --host="$H" --port="$PGPORT" --username="$PGUSER" --dbname=src -f "$tmp/d2" --no-progress \
  >"$tmp/out" 2>"$tmp/err"
expect "dump --host --port --username --dbname: exit 0" 0 "$?"
"${noenv[@]}" "$PGFERRY" dump -f "$tmp/d3" --no-progress "postgresql://$PGUSER@$H:$PGPORT/src" >"$tmp/out" 2>"$tmp/err"
expect "dump with a URI as DBNAME: exit 0" 0 "$?"
# what -d says wins over -h/-p/-U, as in pg_dump; they fill in what it does not say
"${noenv[@]}" "$PGFERRY" dump -d "host=$H port=$PGPORT dbname=src" -p 1 -U "$PGUSER" -f "$tmp/d4" --no-progress \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 0 ]] && has "warning: -p is ignored" "$tmp/err"; then pass "port in -d wins over -p (pg_dump's order), with a warning"
else fail "port in -d over -p" "exit $rc"; fi
"${noenv[@]}" "$PGFERRY" dump -d "dbname=src" -h "$H" -p "$PGPORT" -U "$PGUSER" -f "$tmp/d5" --no-progress >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 0 && ! -s $tmp/err ]]; then pass "-h/-p/-U fill in what -d does not say"; else fail "-h/-p/-U with -d dbname=" "exit $rc"; fi
"${noenv[@]}" "$PGFERRY" dump -d "dbname=src" -h "$H" -p 1 -f "$tmp/d6" --no-progress >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 1 ]] && grep -q '"127.0.0.1", port 1 failed' "$tmp/err"; then pass "-p is used when -d has no port (connects to port 1, fails)"
else fail "-p used" "exit $rc"; fi
run dump -d dbname=src -f "$tmp/d7" src
if [[ $rc -eq 2 ]] && has "already given by -d" "$tmp/err" && [[ ! -e $tmp/d7 ]]; then pass "dump -d with DBNAME too: usage error, as pg_dump"
else fail "dump -d + DBNAME" "exit $rc"; fi
run dump -d dbname=src -f "$tmp/d7" -p 54x32
expect "dump -p 54x32: exit 2" 2 "$rc"

# restore: -d plus -h/-p/-U, the dump as the last argument (pg_restore's archive)
"${noenv[@]}" "$PGFERRY" restore -h "$H" -p "$PGPORT" -U "$PGUSER" -d dst1 --create --no-progress "$tmp/d1" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 0 && $(q dst1 "SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM public.t" 2>&1) == "$src_t" ]]; then
  pass "restore -h -p -U -d NAME --create DIR: exit 0, rows equal"
else fail "restore -h -p -U -d NAME DIR" "exit $rc"; fi
run restore -f "$tmp/d1" -d dbname=dst1 "$tmp/d1"
if [[ $rc -eq 2 ]] && has "already given by -f" "$tmp/err"; then pass "restore -f DIR and DIR: usage error"
else fail "restore -f + DIR" "exit $rc"; fi

# ======================================================================================
echo "# --- 3. a restore names its target"
# ======================================================================================
before=$(q postgres "SELECT count(*) FROM pg_class WHERE relnamespace <> ALL (ARRAY['pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace])")
run restore -f "$tmp/d1" --no-progress
if [[ $rc -eq 2 ]] && has "missing -d" "$tmp/err" && has "PGDATABASE does not count" "$tmp/err" &&
   [[ $(wc -l <"$tmp/err") -eq 1 ]]; then
  pass "restore -f DIR without -d (PGDATABASE=$PGDATABASE set): exit 2 naming -d"
else fail "restore without -d" "exit $rc, expected 2 naming -d"; fi
run restore -f "$tmp/d1" -h "$H" -p "$PGPORT" -U "$PGUSER" --no-progress
if [[ $rc -eq 2 ]] && has "missing -d" "$tmp/err"; then pass "restore with -h/-p/-U but no database: exit 2"
else fail "restore -h/-p/-U only" "exit $rc"; fi
run restore -f "$tmp/d1" -d "host=$H port=$PGPORT" --no-progress
if [[ $rc -eq 2 ]] && has "names no database" "$tmp/err"; then pass "restore -d without dbname: exit 2 (names no database)"
else fail "restore -d host=..." "exit $rc"; fi
run restore -f "$tmp/d1" -d "postgresql://$H:$PGPORT" --no-progress
if [[ $rc -eq 2 ]] && has "names no database" "$tmp/err"; then pass "restore -d URI without a path: exit 2"
else fail "restore -d URI without path" "exit $rc"; fi
run restore -f "$tmp/d1" -d "" --no-progress
expect "restore -d '': exit 2" 2 "$rc"
expect "the refused restores touched no database" "$before" \
  "$(q postgres "SELECT count(*) FROM pg_class WHERE relnamespace <> ALL (ARRAY['pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace])")"
run verify "$tmp/d1" -h "$H"
if [[ $rc -eq 2 ]] && has "go with --db" "$tmp/err"; then pass "verify -h without --db: exit 2"; else fail "verify -h without --db" "exit $rc"; fi
run verify "$tmp/d1" --db src -h "$H" -p "$PGPORT" -U "$PGUSER"
expect "verify DIR --db NAME -h -p -U: exit 0" 0 "$rc"

# ======================================================================================
echo "# --- 4. passwords never in argv; the user's application_name"
# ======================================================================================
PW="Pf7K'x w9" # a quote and a space
PW_URI='Pf7K%27x%20w9'
PW_ALLPCT='%50%66%37%4B%27%78%20%77%39'
printf '%s\n' "$PW" "$PW_URI" "$PW_ALLPCT" "Pf7K" >"$tmp/markers" # searched with grep -f, never in an argv
q postgres "SET client_min_messages = warning; DROP ROLE IF EXISTS pf_pwuser; CREATE ROLE pf_pwuser LOGIN CREATEDB PASSWORD 'Pf7K''x w9'" || exit 1
createdb -O pf_pwuser pwdb || exit 1
q pwdb "CREATE TABLE public.big (id int, pad text);
        INSERT INTO public.big SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 200000) g;
        ALTER TABLE public.big OWNER TO pf_pwuser" || exit 1
q postgres "ALTER SYSTEM SET log_connections = on" && q postgres "SELECT pg_reload_conf()" >/dev/null || exit 1
# the reload is asynchronous: wait until a new backend has the setting (the postmaster reloaded)
for ((i = 0; i < 600; i++)); do [[ $(q postgres "SHOW log_connections") == on ]] && break; sleep 0.05; done
# pg_dump through a wrapper that logs its argv and whether PGPASSWORD is set (never its value)
bindir=$(dirname "$(command -v pg_dump)")
mkdir -p "$tmp/bin"
cat >"$tmp/bin/pg_dump" <<EOF
#!/bin/sh
if [ "\$1" != "--version" ]; then
  printf '%s\n' "\$@" >>"$tmp/pg_dump.argv"
  if [ -n "\${PGPASSWORD:-}" ]; then echo has-PGPASSWORD >>"$tmp/pg_dump.env"; fi
fi
exec "$bindir/pg_dump" "\$@"
EOF
chmod 755 "$tmp/bin/pg_dump"
for t in pg_restore psql; do ln -s "$bindir/$t" "$tmp/bin/$t"; done
log=${PF_CLUSTER_LOG:-}

# watch NAME APP ARGS...: runs pgferry ARGS in the background (its argv holds a password)
# and samples every /proc/<pid>/cmdline until it exits, counting only once pgferry's own
# command line shows no password (the moments between exec() and the scrub are not
# pgferry's to avoid). Then: exit 0, its own argv was seen scrubbed, no sample held a
# password, and every connection the server logged for pf_pwuser carried
# application_name=APP.
watch() {
  local name=$1 app=$2 pid scrubbed=0 leaks=0 samples=0 logpos=0 conns bad self hits f
  shift 2
  [[ -n $log && -r $log ]] && logpos=$(stat -c %s "$log")
  PGFERRY_PG_BINDIR=$tmp/bin "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null &
  pid=$!
  bg+=("$pid")
  while kill -0 "$pid" 2>/dev/null; do
    if ((scrubbed == 0)); then
      # the background job is bash until it has exec()ed pgferry: wait for pgferry's argv
      self=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
      if [[ $self != "$PGFERRY "* ]] || grep -qaFf "$tmp/markers" <<<"$self"; then sleep 0.005; continue; fi
      scrubbed=1
    fi
    hits=$(grep -laFf "$tmp/markers" /proc/[0-9]*/cmdline 2>/dev/null)
    if [[ -n $hits ]]; then
      leaks=$((leaks + 1))
      for f in $hits; do echo "    leak: $f: $(tr '\0' ' ' <"$f" 2>/dev/null | head -c 200)"; done
    fi
    samples=$((samples + 1))
    sleep 0.02
  done
  wait "$pid"
  rc=$?
  if [[ $rc -eq 0 ]]; then pass "$name: exit 0"; else fail "$name" "exit $rc"; fi
  if ((scrubbed)); then pass "$name: pgferry's own command line seen without the password"
  else fail "$name" "pgferry's command line still held the password (or it ended before it was seen)"; fi
  if ((leaks == 0)); then pass "$name: no password in any /proc/<pid>/cmdline ($samples samples)"
  else fail "$name" "a password in /proc/<pid>/cmdline in $leaks of $samples samples"; fi
  if [[ -z $log || ! -r $log ]]; then
    echo "SKIP - $name: application_name (no readable server log)"
    return 0
  fi
  conns=$(tail -c +"$((logpos + 1))" "$log" | grep -a 'connection authorized: user=pf_pwuser ')
  bad=$(grep -v "application_name=$app\$" <<<"$conns" | grep -c .)
  if [[ -n $conns && $bad -eq 0 ]]; then
    pass "$name: all $(grep -c . <<<"$conns") connections carry application_name=$app"
  else fail "$name" "connections without application_name=$app: $bad of $(grep -c . <<<"$conns")"; fi
}

base="host=$H port=$PGPORT user=pf_pwuser"
watch "dump -d key=value, password='..\\'.. ..'" pf_kv \
  dump -d "$base dbname=pwdb application_name=pf_kv password='Pf7K\\'x w9'" -f "$tmp/p1" -j 1 --chunk-size 64kB --no-progress
if [[ -s $tmp/pg_dump.argv ]] && ! grep -qaFf "$tmp/markers" "$tmp/pg_dump.argv" && grep -qx has-PGPASSWORD "$tmp/pg_dump.env"; then
  pass "pg_dump's argv holds no password; it gets PGPASSWORD"
else fail "pg_dump's argv" "argv logged: $(wc -l <"$tmp/pg_dump.argv" 2>/dev/null), password in it or no PGPASSWORD"; fi
watch "dump -d URI user:password@" pf_uri \
  dump -d "postgresql://pf_pwuser:$PW_URI@$H:$PGPORT/pwdb?application_name=pf_uri" -f "$tmp/p2" -j 1 --chunk-size 64kB --no-progress
watch "dump -d URI ?password=" pf_query \
  dump -d "postgresql://pf_pwuser@$H:$PGPORT/pwdb?application_name=pf_query&password=$PW_URI" -f "$tmp/p3" -j 1 --chunk-size 64kB --no-progress
watch "dump DBNAME as a URI, all percent-encoded" pf_pct \
  dump -f "$tmp/p4" -j 1 --chunk-size 64kB --no-progress "postgresql://%70%66_pwuser:$PW_ALLPCT@$H:$PGPORT/%70wdb?application_name=pf_pct"
watch "dump DBNAME as key=value" pf_pos \
  dump -f "$tmp/p5" -j 1 --chunk-size 64kB --no-progress "$base dbname=pwdb application_name=pf_pos password='Pf7K\\'x w9'"
if ! grep -qaFf "$tmp/markers" "$tmp/pg_dump.argv"; then pass "no pg_dump argv held a password ($(grep -c -- --schema-only "$tmp/pg_dump.argv") runs)"
else fail "pg_dump argv" "a password"; fi
createdb -O pf_pwuser pwdst || exit 1
watch "restore -d key=value with a password" pf_restore \
  restore -f "$tmp/p1" -d "$base dbname=pwdst application_name=pf_restore password='Pf7K\\'x w9'" -j 1 --no-owner --no-progress
watch "verify --db URI with a password" pf_verify \
  verify "$tmp/p1" --db "postgresql://pf_pwuser:$PW_URI@$H:$PGPORT/pwdst?application_name=pf_verify" -j 1
watch "drill --target URI ?password=" pf_drill \
  drill "$tmp/p1" --target "postgresql://pf_pwuser@$H:$PGPORT/pwdb?password=$PW_URI&application_name=pf_drill" -j 1 --no-progress
# What pg_stat_activity shows while pgferry is connected: pgferry stopped on a lock held
# by another session, so the moment is certain (the log above shows the startup packet;
# a SET application_name after connecting would only show here).
held_app() { # held_app NAME DB APP ARGS...: pgferry ARGS while public.big of DB is locked
  local name=$1 db=$2 app=$3 pid blk i apps waiting=0
  shift 3
  PGAPPNAME=pf_cli_blocker psql -XAtq -d "$db" -c "BEGIN; LOCK TABLE public.big IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(300)" \
    >/dev/null 2>&1 &
  blk=$!
  bg+=("$blk")
  for ((i = 0; i < 200; i++)); do
    [[ $(q postgres "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                     WHERE a.application_name = 'pf_cli_blocker' AND l.mode = 'AccessExclusiveLock' AND l.granted") -ge 1 ]] && break
    sleep 0.05
  done
  "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null &
  pid=$!
  bg+=("$pid")
  for ((i = 0; i < 400; i++)); do
    [[ $(q postgres "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pf_pwuser' AND wait_event_type = 'Lock'") -ge 1 ]] &&
      { waiting=1; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  apps=$(q postgres "SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity WHERE usename = 'pf_pwuser'")
  if ((waiting)) && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qaFf "$tmp/markers"; then
    pass "$name: while it waits on a lock, its command line holds no password"
  else fail "$name" "not seen waiting (waiting=$waiting) or a password in its command line"; fi
  expect "$name: pg_stat_activity shows the user's application_name for all its sessions" "$app" "$apps"
  q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pf_cli_blocker'" >/dev/null
  wait "$blk" 2>/dev/null
  wait "$pid"
  expect "$name: exit 0 once the lock is gone" 0 "$?"
}
held_app "dump (locked table)" pwdb pf_held \
  dump -d "$base dbname=pwdb application_name=pf_held password='Pf7K\\'x w9'" -f "$tmp/p7" --no-progress
held_app "verify --db (locked table)" pwdst pf_held_v \
  verify "$tmp/p1" --db "postgresql://pf_pwuser:$PW_URI@$H:$PGPORT/pwdst?application_name=pf_held_v"
run dump -d "$base dbname=pwdb password='unterminated Pf7K" -f "$tmp/p6"
if [[ $rc -eq 2 ]] && has "not a valid connection string" "$tmp/err" && ! grep -qaFf "$tmp/markers" "$tmp/err"; then
  pass "an unparseable -d: usage error, no password fragment in the message"
else fail "unparseable -d" "exit $rc"; fi
q postgres "ALTER SYSTEM RESET log_connections" && q postgres "SELECT pg_reload_conf()" >/dev/null

# ======================================================================================
echo "# --- 5. -W and -w"
# ======================================================================================
export PGPASSFILE=$tmp/no-pgpass
run dump -h "$H" -p "$PGPORT" -U pf_pwuser -w -f "$tmp/w1" --no-progress pwdb
if [[ $rc -eq 1 && $(wc -l <"$tmp/err") -eq 1 ]] && has "no password supplied" "$tmp/err" && has "-W" "$tmp/err" &&
   [[ ! -e $tmp/w1 ]]; then
  pass "-w and a server asking for a password: one line, exit 1"
else fail "-w without a password" "exit $rc"; fi
timeout 60 "$PGFERRY" dump -h "$H" -p "$PGPORT" -U pf_pwuser -f "$tmp/w2" --no-progress pwdb >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
if [[ $rc -eq 1 ]] && has "no password supplied" "$tmp/err"; then pass "no -W: never prompts, exit 1"; else fail "no -W" "exit $rc"; fi
if command -v script >/dev/null 2>&1 && command -v mkfifo >/dev/null 2>&1; then
  mkfifo "$tmp/tty-in"
  script -qefc "$(printf '%q ' "$PGFERRY" dump -h "$H" -p "$PGPORT" -U pf_pwuser -W -f "$tmp/w3" -j 1 --no-progress pwdb)" \
    "$tmp/typescript" <"$tmp/tty-in" >"$tmp/script.out" 2>&1 &
  spid=$!
  bg+=("$spid")
  exec 7>"$tmp/tty-in"
  for ((i = 0; i < 300; i++)); do grep -q "Password: " "$tmp/typescript" 2>/dev/null && break; sleep 0.05; done
  if grep -q "Password: " "$tmp/typescript" 2>/dev/null; then
    printf '%s\n' "$PW" >&7
    wait "$spid"
    rc=$?
    exec 7>&-
    if [[ $rc -eq 0 ]] && "$PGFERRY" list "$tmp/w3" >/dev/null 2>&1; then pass "-W: asks on the terminal, the dump completes"
    else fail "-W" "exit $rc" "$tmp/typescript"; fi
    if ! grep -qaFf "$tmp/markers" "$tmp/typescript"; then pass "-W: the password is not echoed"
    else fail "-W echo" "the password appears on the terminal"; fi
  else
    exec 7>&-
    fail "-W" "no Password: prompt on the terminal" "$tmp/typescript" "$tmp/script.out"
  fi
  # copy: two connections, two prompts that say which one
  script -qefc "$(printf '%q ' "$PGFERRY" copy -h "$H" -p "$PGPORT" -U pf_pwuser -W --source pwdb --target dbname=pwcopy --create -j 1 --no-progress)" \
    "$tmp/typescript2" <"$tmp/tty-in" >"$tmp/script2.out" 2>&1 &
  spid=$!
  bg+=("$spid")
  exec 7>"$tmp/tty-in"
  asked=0
  for want in "Password for --source: " "Password for --target: "; do
    for ((i = 0; i < 300; i++)); do grep -qF "$want" "$tmp/typescript2" 2>/dev/null && break; sleep 0.05; done
    grep -qF "$want" "$tmp/typescript2" 2>/dev/null || break
    printf '%s\n' "$PW" >&7
    asked=$((asked + 1))
  done
  if ((asked == 2)); then
    wait "$spid"
    rc=$?
  else
    kill "$spid" 2>/dev/null
    wait "$spid"
    rc=$?
  fi
  exec 7>&-
  if ((asked == 2)) && [[ $rc -eq 0 ]] &&
     [[ $(q pwcopy "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM public.big t") == \
        $(q pwdb "SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM public.big t") ]]; then
    pass "copy -W: asks for the source's and the target's password, the copy completes and matches"
  else fail "copy -W" "prompts answered $asked of 2, exit $rc" "$tmp/typescript2" "$tmp/script2.out"; fi
  if ! grep -qaFf "$tmp/markers" "$tmp/typescript2"; then pass "copy -W: the passwords are not echoed"
  else fail "copy -W echo" "a password appears on the terminal"; fi
else
  echo "SKIP - -W: script(1) or mkfifo not available"
fi
# in a session of its own: no controlling terminal, whatever ran this test
setsid -w "$PGFERRY" dump -h "$H" -p "$PGPORT" -U pf_pwuser -W -f "$tmp/w4" --no-progress pwdb >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
if [[ $rc -eq 1 ]] && has "/dev/tty" "$tmp/err" && [[ ! -e $tmp/w4 ]]; then pass "-W without a terminal: exit 1 naming /dev/tty"
else fail "-W without a terminal" "exit $rc"; fi
unset PGPASSFILE

# ======================================================================================
echo "# --- 6. option values"
# ======================================================================================
for v in abc "" 10x -5 1.2.3s 30days; do
  run dump -d dbname=src -f "$tmp/v1" --lock-wait-timeout="$v"
  if [[ $rc -eq 2 ]] && has "--lock-wait-timeout" "$tmp/err" && [[ ! -e $tmp/v1 ]]; then pass "--lock-wait-timeout='$v': exit 2"
  else fail "--lock-wait-timeout='$v'" "exit $rc"; fi
done
for v in 30s 1500 "2 min" 0.5h 100ms; do # accepted: the error is the missing -f, not the value
  run dump -d dbname=src --lock-wait-timeout="$v"
  if [[ $rc -eq 2 ]] && has "missing -f" "$tmp/err"; then pass "--lock-wait-timeout='$v' accepted"
  else fail "--lock-wait-timeout='$v'" "exit $rc"; fi
done
run dump -d dbname=src -f "$tmp/v2" --lock-wait-timeout=30s --no-progress
expect "dump --lock-wait-timeout=30s: exit 0" 0 "$rc"
run dump -d dbname=src --exclude-table-data=public.big --exclude-table-data='x*' --no-unlogged-table-data
if [[ $rc -eq 2 ]] && has "missing -f" "$tmp/err"; then pass "--exclude-table-data (repeated) and --no-unlogged-table-data parse"
else fail "--exclude-table-data" "exit $rc"; fi
run restore -f "$tmp/d1" -d dbname=x --section=schema
if [[ $rc -eq 2 ]] && has '"schema"' "$tmp/err"; then pass "--section=schema: exit 2 naming it"; else fail "--section=schema" "exit $rc"; fi
run restore -f "$tmp/d1" --section=pre-data --section=data --section=post-data -T a -T b -N c --exclude-schema=d \
  --exclude-table=e --disable-triggers
if [[ $rc -eq 2 ]] && has "missing -d" "$tmp/err"; then pass "restore --section (repeated), -T, -N, --disable-triggers parse"
else fail "restore new options" "exit $rc"; fi

echo "cli: $passed passed, $failed failed"
((failed == 0))
