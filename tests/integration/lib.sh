# shellcheck shell=bash
# lib.sh: what the shell integration tests share. Source it from a test that runs inside
# tests/harness/with_cluster.sh (PG* set) with PGFERRY (the binary) and PGFERRY_SRC (the
# source tree); set PF_TEST_NAME (temp dir name) and PF_TEST_PREFIX (database name prefix)
# first. It gives:
#   pass / fail / expect / summary     result lines ("PASS - ...", "FAIL - ...") and counts
#   run ARGS                           pgferry ARGS -> $rc, $tmp/out, $tmp/err
#   q DB SQL, newdb, adddb             psql one-liners, databases dropped at exit
#   snap DB OUT, same_as NAME REF DB   a database's schema (pg_dump --schema-only) and data
#                                      (per table count + md5 of its rows, sequences, large
#                                      objects with owners and comments), compared in full
#   mf DIR SQL                         SQL over DIR/manifest.json (the server's jsonb)
#   flip FILE POS, poll, alive, dead, as_pg, load_sample DB SCALE
# shellcheck disable=SC2016 # psql's \set m `cat FILE` is meant literally

: "${PGFERRY:?PGFERRY must name the pgferry binary}"
: "${PGFERRY_SRC:=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}"
p=${PF_TEST_PREFIX:-pft}$$_ # database name prefix
passed=0
failed=0
dbs=()
bg=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-${PF_TEST_NAME:-x}.XXXXXX") || exit 1

cleanup() {
  local pid d
  for pid in "${bg[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${bg[@]}"; do wait "$pid" 2>/dev/null; done
  for d in "${dbs[@]}"; do dropdb --if-exists --force "$d" >/dev/null 2>&1; done
  rm -rf -- "$tmp"
}
trap cleanup EXIT

pass() { echo "PASS - $1"; passed=$((passed + 1)); }
# fail NAME WHY [FILE...]: FILEs (default: the last pgferry run's output) are shown.
fail() {
  local name=$1 why=$2 f
  shift 2
  echo "FAIL - $name: $why"
  failed=$((failed + 1))
  (($# == 0)) && set -- "$tmp/out" "$tmp/err"
  for f in "$@"; do [[ -s $f ]] && head -n 40 "$f" | sed "s/^/    $(basename "$f")| /"; done
  return 0
}
# expect NAME WANT GOT: pass when GOT is WANT.
expect() { if [[ $3 == "$2" ]]; then pass "$1"; else fail "$1" "expected \"$2\", got \"$3\""; fi; }

# run ARGS...: pgferry ARGS; sets rc, $tmp/out, $tmp/err.
run() { "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
# q DB SQL: one value (or rows, unaligned), errors on stderr.
q() { psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
newdb() { dbs+=("$1"); createdb "$1"; }
adddb() { dbs+=("$1"); } # created by pgferry --create

# poll SECONDS CMD...: until CMD succeeds (every 50 ms); 1 on timeout.
poll() {
  local end=$((SECONDS + $1))
  shift
  while ! "$@" 2>/dev/null; do
    ((SECONDS < end)) || return 1
    sleep 0.05
  done
}

# alive PID: PID runs and is not a zombie.
alive() {
  local s
  kill -0 "$1" 2>/dev/null || return 1
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  s=${s##*) }
  [[ ${s:0:1} != [ZX] ]]
}

dead() { ! alive "$1"; }

# mf DIR SQL: SQL run with :'m' bound to DIR/manifest.json (parsed by the server's jsonb:
# no jq or python needed).
mf() {
  printf '\\set m `cat %s/manifest.json`\n%s\n' "$1" "$2" |
    psql -XAtq -v ON_ERROR_STOP=1 -d postgres -f -
}

# The state of a database, to compare with the source: schema, and per table its row
# count and an md5 of its rows sorted as text, sequences, large objects.
cat >"$tmp/digest.sql" <<'EOF'
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
SELECT CASE WHEN c.relkind = 'm' AND NOT c.relispopulated
            THEN format('SELECT %L, %L', 'table ' || n.nspname || '.' || c.relname, 'not populated')
            ELSE format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) FROM %s %s t',
                        'table ' || n.nspname || '.' || c.relname, '|', '',
                        CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY' END, c.oid::regclass) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', '_pgferry')
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C" \gexec
SELECT format('SELECT %L, last_value, is_called FROM %s', 'sequence ' || n.nspname || '.' || c.relname, c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', '_pgferry')
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C" \gexec
SELECT 'large object ' || oid, pg_get_userbyid(lomowner), md5(lo_get(oid)), coalesce(obj_description(oid, 'pg_largeobject'), '') FROM pg_largeobject_metadata ORDER BY oid;
EOF

# snap DB OUT [PG_DUMP_ARGS...]: OUT.schema and OUT.data.
snap() {
  local db=$1 out=$2
  shift 2
  pg_dump --schema-only "$@" -d "$db" 2>"$out.err" | grep -v '^\\\(un\)\?restrict ' >"$out.schema"
  psql -X -q -d "$db" -f "$tmp/digest.sql" >"$out.data" 2>>"$out.err"
}

# same_as NAME REF DB: DB's schema and data equal the snapshot REF (one PASS/FAIL each).
same_as() {
  local name=$1 ref=$2 db=$3 s=$tmp/last
  snap "$db" "$s"
  if [[ ! -s $s.schema ]]; then fail "$name: schema" "pg_dump of $db failed" "$s.err"
  elif diff -u "$ref.schema" "$s.schema" >"$s.diff"; then pass "$name: schema identical to the source"
  else fail "$name: schema" "pg_dump --schema-only differs" "$s.diff"; fi
  if [[ ! -s $s.data ]]; then fail "$name: data" "digest of $db failed" "$s.err"
  elif diff -u "$ref.data" "$s.data" >"$s.diff"; then
    pass "$name: data identical to the source ($(grep -c '^table ' "$s.data") tables, $(grep -c '^sequence ' "$s.data") sequences, $(grep -c '^large object ' "$s.data") large objects)"
  else fail "$name: data" "rows, sequences or large objects differ" "$s.diff" "$s.err"; fi
  expect "$name: no _pgferry schema left" 0 "$(q "$db" "SELECT count(*) FROM pg_namespace WHERE nspname = '_pgferry'" 2>&1)"
}

# tdigest DB TABLE: "count|md5" of one table (TABLE as SQL, e.g. public.accounts).
tdigest() { q "$1" "SELECT count(*) || '|' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM $2 t"; }

# user_objects DB: relations and schemas outside the system ones (an untouched empty db: 0).
user_objects() {
  q "$1" "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema')
               + (SELECT count(*) FROM pg_namespace WHERE nspname !~ '^pg_'
                  AND nspname NOT IN ('public', 'information_schema'))"
}

# exactly_once DB DIR: every table holds exactly the rows of the chunks the journal names
# (no chunk half in, none committed without its journal row). Prints mismatches.
exactly_once() {
  local db=$1 dir=$2 out
  out=$({
    printf '\\set m `cat %s/manifest.json`\n' "$dir"
    cat <<'EOF'
SELECT format('SELECT %L, %s, %s', s || '.' || n, expect,
              CASE WHEN to_regclass(format('%I.%I', s, n)) IS NULL THEN '0'
                   ELSE format('(SELECT count(*) FROM ONLY %I.%I)', s, n) END)
FROM (SELECT t->>'schema' AS s, t->>'name' AS n,
             (SELECT coalesce(sum((c->>'rows')::bigint), 0) FROM jsonb_array_elements(t->'chunks') c
              WHERE EXISTS (SELECT 1 FROM _pgferry.journal j WHERE j.item = 'chunk:' || (c->>'file'))) AS expect
      FROM jsonb_array_elements(:'m'::jsonb->'tables') t) x \gexec
EOF
  } | psql -XAtq -v ON_ERROR_STOP=1 -d "$db" -f - 2>&1) || { echo "query failed: $out"; return 1; }
  awk -F'|' 'NF != 3 || $2 != $3 { print "  " $1 ": journal says " $2 " rows, table has " $3; bad = 1 } END { exit bad }' <<<"$out"
}

# flip FILE POS: XOR the byte at POS with 0x5a; put_byte FILE POS VALUE.
byte_at() { od -An -tu1 -j "$2" -N1 -- "$1" | tr -d ' '; }
put_byte() { printf '%b' "\\x$(printf %02x "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
flip() { put_byte "$1" "$2" $(($(byte_at "$1" "$2") ^ 0x5a)); }

# as_pg CMD...: run a server program as the cluster's OS user (postgres when root).
as_pg() {
  local -a clean=(env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGDATA -u PGUSER -u PGDATABASE -u PGOPTIONS)
  if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "${clean[@]}" "$@"); else (cd / && "${clean[@]}" "$@"); fi
}

load_sample() { # DB SCALE
  newdb "$1" || return 1
  psql -X -q -v ON_ERROR_STOP=1 -v scale="$2" -d "$1" -f "$PGFERRY_SRC/tools/sample_data.sql" >"$tmp/load.log" 2>&1
}


# summary NAME: the closing line, and the exit status.
summary() {
  echo "$1: $passed passed, $failed failed"
  ((failed == 0))
}

# reseal DIR: recompute the closing SHA-256 of DIR/manifest.json (a plain dump) after an
# edit, as a forger would: the checksum covers every byte before its own line.
reseal() {
  local f=$1/manifest.json sum
  head -n -2 "$f" >"$f.body"
  sum=$(sha256sum "$f.body" | cut -d' ' -f1)
  { cat "$f.body"; printf '  "manifest_checksum": "%s"\n}\n' "$sum"; } >"$f"
  rm -f -- "$f.body"
}

# psql, pg_dump and the digests talk UTF-8 whatever a test database's encoding
export PGCLIENTENCODING=UTF8

# ---- stopping a restore at a given point ---------------------------------------------------

jcount() { q "$1" "SELECT count(*) FROM _pgferry.journal WHERE item LIKE '$2'" 2>/dev/null; }
journal_exists() { [[ $(q "$1" "SELECT to_regclass('_pgferry.journal') IS NOT NULL" 2>/dev/null) == t ]]; }
reached() { [[ $(q "$1" "SELECT to_regclass('_pgferry.journal') IS NOT NULL AND ($2)" 2>/dev/null) == t ]]; }
# others DB: client connections to DB other than this one.
others() { q "$1" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()"; }
no_others() { [[ $(others "$1") == 0 ]]; }
watching() { [[ $(q "$1" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pf_locker' AND state = 'active' AND datname = current_database()" 2>/dev/null) == 1 ]]; }
locked() { [[ $(q "$1" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = 'pf_locker' AND l.relation = to_regclass('_pgferry.journal') AND l.granted AND l.mode = 'ExclusiveLock'" 2>/dev/null) == 1 ]]; }
blocked() { [[ $(q "$1" "SELECT count(*) FROM pg_locks WHERE relation = to_regclass('_pgferry.journal') AND NOT granted" 2>/dev/null) -ge 1 ]]; }
frozen() { locked "$1" && blocked "$1"; }

# interrupt NAME DB COND HOW DUMP [FLAGS...]: restore DUMP (with FLAGS) into DB and stop
# it once the SQL condition COND holds (it may read _pgferry.journal); DUMP copy:SRCDB runs
# pgferry copy from database SRCDB instead. HOW:
#   kill   a watcher session polls the journal inside the server and, the moment KIND
#          holds, locks _pgferry.journal: every unit of work in flight then waits just
#          before it could commit. pgferry gets kill -9 while it waits.
#   crash  the same freeze, then the server is stopped (-m immediate) and started again
#   nolock kill -9 as soon as a psql poll sees KIND, whatever is in flight (mid-COPY)
# Returns 1 on failure, 2 if the restore finished first (nolock only).
interrupt() {
  local name=$1 db=$2 c=$3 how=$4 dump=$5 pid lpid=''
  shift 5
  if [[ $how != nolock ]]; then
    PGAPPNAME=pf_locker psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$tmp/lock.err" <<EOF &
BEGIN;
DO \$pf\$ DECLARE ok boolean := false; BEGIN
  WHILE NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = '_pgferry' AND c.relname = 'journal') LOOP
    PERFORM pg_sleep(0.002);
  END LOOP;
  LOOP
    EXECUTE \$q\$SELECT $c\$q\$ INTO ok;
    EXIT WHEN ok;
    PERFORM pg_sleep(0.002);
  END LOOP;
  EXECUTE 'LOCK TABLE _pgferry.journal IN EXCLUSIVE MODE';
END \$pf\$;
SELECT pg_sleep(3600);
EOF
    lpid=$!
    bg+=("$lpid")
    # the watcher is in its loop before the restore starts
    if ! poll 30 watching "$db"; then
      fail "$name: start the watcher session" "it did not start" "$tmp/lock.err"
      return 1
    fi
  fi
  if [[ $dump == copy:* ]]; then
    "$PGFERRY" copy --source "dbname=${dump#copy:}" --target "dbname=$db" -j 3 --no-progress "$@" >"$tmp/k.out" 2>"$tmp/k.err" &
  else
    "$PGFERRY" restore -f "$dump" -d "dbname=$db" -j 3 --no-progress "$@" >"$tmp/k.out" 2>"$tmp/k.err" &
  fi
  pid=$!
  bg+=("$pid")
  local end=$((SECONDS + 120))
  until if [[ $how == nolock ]]; then reached "$db" "$c"; else frozen "$db"; fi; do
    if ! alive "$pid" || ((SECONDS > end)); then
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      rc=$?
      if [[ -n $lpid ]]; then
        kill -KILL "$lpid" 2>/dev/null
        wait "$lpid" 2>/dev/null
        q "$db" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pf_locker'" >/dev/null 2>&1
      fi
      if [[ $how == nolock && $rc == 0 ]]; then echo "SKIP - $name: the restore finished before the kill point was seen"; return 2; fi
      fail "$name: reach the kill point" "pgferry exit $rc before it (or timeout)" "$tmp/k.out" "$tmp/k.err" "$tmp/lock.err"
      return 1
    fi
    sleep 0.05
  done
  local before
  before=$(jcount "$db" '%')
  if [[ $how == crash ]]; then
    as_pg "$PF_PG_BINDIR/pg_ctl" -D "$PF_CLUSTER_DATA" -m immediate -w -t 60 -s stop >"$tmp/pgctl.log" 2>&1
    local stopped=$?
    poll 60 dead "$pid"
    wait "$pid" 2>/dev/null
    rc=$?
    wait "$lpid" 2>/dev/null
    as_pg "$PF_PG_BINDIR/pg_ctl" -D "$PF_CLUSTER_DATA" -l "$PF_CLUSTER_LOG" -w -t 120 -s start >>"$tmp/pgctl.log" 2>&1
    if [[ $stopped -ne 0 ]] || ! poll 60 pg_isready -q -d "$db"; then
      fail "$name: server stop and start" "pg_ctl failed" "$tmp/pgctl.log"
      return 1
    fi
    expect "$name: pgferry exits 1 when the server goes away" 1 "$rc"
  else
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    if [[ -n $lpid ]]; then
      q "$db" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pf_locker'" >/dev/null
      wait "$lpid" 2>/dev/null
    fi
  fi
  # the killed client's transactions roll back once its backends notice
  if ! poll 60 no_others "$db"; then fail "$name: the killed restore's sessions end" "$(others "$db") left"; return 1; fi
  echo "# $name (at ${SECONDS}s): $before journal rows when killed ($(jcount "$db" 'chunk:%') chunks in), $(jcount "$db" '%') after"
  return 0
}

