#!/usr/bin/env bash
# test_supabase.sh: the four Supabase scenarios, end to end, on a Supabase-shaped cluster
# (bootstrap superuser supabase_admin, `postgres` an ordinary role with Supabase's
# privileges: tests/fixtures/supabase). ctest runs it with PF_CLUSTER_SUPERUSER=supabase_admin
# (tests/CMakeLists.txt); by hand:
#   PF_CLUSTER_SUPERUSER=supabase_admin PGFERRY=build/pgferry \
#     bash tests/harness/with_cluster.sh bash tests/integration/test_supabase.sh
#
#  1. migrate to a new project, connected as postgres (not a superuser): the app schema, the
#     user's rows in auth and storage, the trigger the user put on auth.users, the policies on
#     storage.objects, the tables in supabase_realtime; the platform's own objects and rows
#     left to the new project. Also: the target checked before anything is written (not a
#     project, a missing extension, already restored), and the same without the right to set
#     session_replication_role (rows then go in foreign-key order)
#  2. accidental deletion: a table as of the backup next to the live one, not exposed (RLS
#     on, no policy, no privilege but its owner's; --keep-grants keeps the live grants)
#  3. pre-migration snapshot, migration, rollback with restore --clean --profile supabase:
#     the app schema and rows exactly as at the snapshot, the platform's schemas untouched
#  4. full backup into a new empty database on another cluster with --globals: an exact
#     copy, with the roles the objects need (created once, left alone the next time)
set -u

: "${PGFERRY:?PGFERRY must name the pgferry binary}"
PF_TEST_NAME=supabase PF_TEST_PREFIX=pfs
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

fixture=$PGFERRY_SRC/tests/fixtures/supabase
admin=supabase_admin
die() { fail "$1" "$2"; summary supabase; exit 1; }

if [[ ${PGUSER:-} != "$admin" ]]; then
  echo "SKIP - needs a cluster whose bootstrap superuser is $admin (PF_CLUSTER_SUPERUSER=$admin)"
  summary supabase
  exit 1
fi

# load DB [--platform-only]: the fixture into a new database (dropped at exit)
load() { dbs+=("$1"); bash "$fixture/load.sh" "$@" >"$tmp/load.log" 2>&1 || die "load $1" "$(tail -n 3 "$tmp/load.log")"; }
# as ROLE CMD...: pgferry as ROLE
as() { local role=$1; shift; PGUSER=$role run "$@"; }
# qa DB SQL: as the superuser; qp DB SQL: as postgres
qa() { psql -XAtq -v ON_ERROR_STOP=1 -U "$admin" -d "$1" -c "$2"; }
qp() { psql -XAtq -v ON_ERROR_STOP=1 -U postgres -d "$1" -c "$2"; }
# snapshot DB OUT: as the superuser, schema and data (lib.sh's snap)
snapshot() { PGUSER=$admin snap "$@"; }
# without SCHEMA... FILE: the digest lines of tables and sequences outside those schemas
without() {
  local file=${*: -1} pat=() s
  for s in "${@:1:$#-1}"; do pat+=(-e "^table $s\\." -e "^sequence $s\\."); done
  grep -v "${pat[@]}" "$file"
}
platform_rows=(net realtime vault) # rows the profile leaves to the platform

# =========================================================================================
# 0. A project with an app
# =========================================================================================
echo "# --- 0. fixture (at ${SECONDS}s)"
load app
snapshot app "$tmp/app"
[[ $(grep -c '^table ' "$tmp/app.data") -ge 20 ]] || die "fixture" "digest has too few tables"
expect "fixture: postgres is not a superuser" f "$(qa app "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'")"

# =========================================================================================
# 1. Migrate to a new project, as postgres
# =========================================================================================
echo "# --- 1. migrate to a new project (at ${SECONDS}s)"
as postgres dump -d app --profile supabase -f "$tmp/dm" -j 2 --no-progress --json
expect "migrate: dump --profile supabase as postgres exits 0" 0 "$rc"
expect "migrate: the manifest names the profile" supabase "$(jq -r .profile "$tmp/dm/manifest.json" 2>&1)"
expect "migrate: platform rows are left out (realtime.messages, net.http_request_queue), auth.users kept" \
  "true|true|false|true" \
  "$(jq -r '[any(.tables_without_data[]; .schema == "realtime" and .name == "messages_2025_01_01" and .reason == "platform"),
             any(.tables_without_data[]; .schema == "net" and .name == "http_request_queue" and .reason == "platform"),
             any(.tables_without_data[]; .schema == "auth" and .name == "users"),
             any(.tables[]; .schema == "auth" and .name == "users")] | map(tostring) | join("|")' \
             "$tmp/dm/manifest.json" 2>&1)"
run verify "$tmp/dm"
expect "migrate: verify" 0 "$rc"

# the target is checked before anything is written
newdb_pg() { dbs+=("$1"); qa postgres "CREATE DATABASE $1 OWNER postgres" >/dev/null; }
newdb_pg ${p}plain
as postgres restore -d ${p}plain --profile supabase "$tmp/dm" --no-progress
if [[ $rc -eq 1 ]] && grep -q 'not ready' "$tmp/err" && grep -q 'missing schemas.*auth' "$tmp/err" &&
   [[ $(qa ${p}plain "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname NOT IN ('public', 'information_schema')") == 0 ]] &&
   [[ $(qa ${p}plain "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'") == 0 ]]; then
  pass "migrate: into a database that is no project: one error naming the missing schemas, nothing written"
else fail "migrate: into a database that is no project" "exit $rc"; fi
load ${p}noext --platform-only
qa ${p}noext "DROP EXTENSION pg_stat_statements" >/dev/null
as postgres restore -d ${p}noext --profile supabase "$tmp/dm" --no-progress
if [[ $rc -eq 1 ]] && grep -q 'missing extensions pg_stat_statements' "$tmp/err" && grep -q 'CREATE EXTENSION' "$tmp/err" &&
   [[ $(qa ${p}noext "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'") == 0 ]]; then
  pass "migrate: a project without an extension the app used: named, with the command to enable it, nothing written"
else fail "migrate: missing extension" "exit $rc"; fi

proj=${p}proj
load $proj --platform-only
as postgres restore -d $proj --profile supabase "$tmp/dm" -j 2 --no-progress
expect "migrate: restore --profile supabase into the new project as postgres exits 0" 0 "$rc"
snapshot $proj "$tmp/proj"
if diff -u "$tmp/app.schema" "$tmp/proj.schema" >"$tmp/diff"; then
  pass "migrate: schema identical to the source project's (app, trigger on auth.users, storage policies, publication)"
else fail "migrate: schema" "differs" "$tmp/diff"; fi
without "${platform_rows[@]}" "$tmp/app.data" >"$tmp/want"
without "${platform_rows[@]}" "$tmp/proj.data" >"$tmp/got"
if diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
  pass "migrate: every row of public, auth, storage, supabase_functions, supabase_migrations equal ($(grep -c '^table ' "$tmp/got") tables)"
else fail "migrate: rows" "differ" "$tmp/diff"; fi
expect "migrate: the platform's own rows are the new project's (realtime.messages empty)" 0 \
  "$(qa $proj "SELECT count(*) FROM realtime.messages")"
qa $proj "SET ROLE supabase_auth_admin; INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-00000000beef', 'new@example.org')" >/dev/null
expect "migrate: the trigger the user put on auth.users works (a sign-up gets a profile)" 1 \
  "$(qa $proj "SELECT count(*) FROM public.profiles WHERE id = '00000000-0000-0000-0000-00000000beef'")"
rls() { qp "$1" "BEGIN; SET LOCAL ROLE anon; SELECT count(*) FROM public.profiles; COMMIT" | head -n 1; }
expect "migrate: RLS holds: anon sees no profile" 0 "$(rls $proj)"
as postgres restore -d $proj --profile supabase "$tmp/dm" --no-progress
if [[ $rc -eq 1 ]] && grep -q 'already in the target: .*public\.posts' "$tmp/err"; then
  pass "migrate: restoring again: refused, naming what is there"
else fail "migrate: restoring again" "exit $rc"; fi

# the same migration in one pass: pgferry copy --profile supabase, as postgres
load ${p}proj3 --platform-only
as postgres copy --source "dbname=app" --target "dbname=${p}proj3" --profile supabase -j 2 --no-progress
expect "migrate with copy --profile supabase as postgres: exits 0" 0 "$rc"
snapshot ${p}proj3 "$tmp/proj3"
if diff -u "$tmp/app.schema" "$tmp/proj3.schema" >"$tmp/diff"; then
  pass "migrate with copy: schema identical to the source project's"
else fail "migrate with copy: schema" "differs" "$tmp/diff"; fi
without "${platform_rows[@]}" "$tmp/proj3.data" >"$tmp/got"
if diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then pass "migrate with copy: every row outside the platform's equal"
else fail "migrate with copy: rows" "differ" "$tmp/diff"; fi

# without the right to set session_replication_role: foreign-key order, triggers live
qa postgres "REVOKE SET ON PARAMETER session_replication_role FROM postgres" >/dev/null
load ${p}proj2 --platform-only
as postgres restore -d ${p}proj2 --profile supabase "$tmp/dm" -j 2 --no-progress
expect "migrate without session_replication_role: exits 0 (rows in foreign-key order)" 0 "$rc"
snapshot ${p}proj2 "$tmp/proj2"
without "${platform_rows[@]}" "$tmp/proj2.data" >"$tmp/got"
if diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then pass "migrate without session_replication_role: rows equal"
else fail "migrate without session_replication_role: rows" "differ" "$tmp/diff"; fi
qa postgres "GRANT SET ON PARAMETER session_replication_role TO postgres" >/dev/null

# =========================================================================================
# 2. Accidental deletion: the table as of the backup, next to the live one
# =========================================================================================
echo "# --- 2. accidental deletion (at ${SECONDS}s)"
src_posts=$(PGUSER=$admin tdigest app public.posts)
qp app "DELETE FROM public.comments WHERE post_id IN (SELECT id FROM public.posts WHERE id % 10 = 0);
        DELETE FROM public.posts WHERE id % 10 = 0" >/dev/null
live_posts=$(PGUSER=$admin tdigest app public.posts)
as postgres restore -d app -t public.posts --rename-table public.posts=public.posts_restored "$tmp/dm" --no-progress
expect "recover: -t public.posts --rename-table ...=public.posts_restored as postgres exits 0" 0 "$rc"
expect "recover: the copy has the rows of the backup" "$src_posts" "$(PGUSER=$admin tdigest app public.posts_restored 2>&1)"
expect "recover: the live table is untouched" "$live_posts" "$(PGUSER=$admin tdigest app public.posts 2>&1)"
expect "recover: the copy has row-level security on, no policy, no privilege but its owner's" \
  "true|0|{postgres=arwdDxt/postgres}" \
  "$(qa app "SELECT relrowsecurity || '|' || (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) || '|' || relacl::text
             FROM pg_class c WHERE oid = 'public.posts_restored'::regclass")"
if qp app "SET ROLE anon; SELECT count(*) FROM public.posts_restored" >"$tmp/out" 2>"$tmp/err"; then
  fail "recover: anon cannot read the copy" "it read $(cat "$tmp/out") rows"
else grep -q 'permission denied' "$tmp/err" && pass "recover: anon cannot read the copy (permission denied)" ||
  fail "recover: anon cannot read the copy" "$(cat "$tmp/err")"; fi
as postgres restore -d app -t public.posts --rename-table public.posts=public.posts_granted --keep-grants "$tmp/dm" --no-progress
expect "recover --keep-grants: exits 0" 0 "$rc"
expect "recover --keep-grants: the copy's privileges are the live table's" \
  "$(qa app "SELECT replace(relacl::text, 'posts', '') FROM pg_class WHERE oid = 'public.posts'::regclass")" \
  "$(qa app "SELECT replace(relacl::text, 'posts_granted', '') FROM pg_class WHERE oid = 'public.posts_granted'::regclass")"

# =========================================================================================
# 3. Pre-migration snapshot, migration, rollback
# =========================================================================================
echo "# --- 3. rollback (at ${SECONDS}s)"
# (a materialized view holds what its last REFRESH saw; a restore refreshes it: do it now so
# the snapshot is what a restore makes of it)
qp app "REFRESH MATERIALIZED VIEW public.author_stats" >/dev/null
snapshot app "$tmp/pre"
as postgres dump -d app --profile supabase -f "$tmp/dpre" --tag pre-migration --no-progress
expect "rollback: snapshot dump exits 0" 0 "$rc"
qp app "ALTER TABLE public.posts ADD COLUMN subtitle text;
        DROP TABLE public.comments;
        CREATE VIEW public.author_names AS SELECT id, username FROM public.profiles;
        UPDATE public.profiles SET username = username || '_x' WHERE random() < 2" >/dev/null
qa app "SET ROLE supabase_auth_admin; INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-00000000cafe', 'late@example.org')" >/dev/null
as postgres restore -d app --clean --profile supabase "$tmp/dpre" -j 2 --no-progress
expect "rollback: restore --clean --profile supabase as postgres exits 0" 0 "$rc"
snapshot app "$tmp/post"
if diff -u "$tmp/pre.schema" "$tmp/post.schema" >"$tmp/diff"; then
  pass "rollback: schema exactly as at the snapshot (column gone, table back, view gone, trigger on auth.users there)"
else fail "rollback: schema" "differs" "$tmp/diff"; fi
# the platform's schemas are left alone: the sign-up made since stays; realtime's
# subscriptions name tables by OID (the recreated tables have new ones)
without auth realtime "$tmp/pre.data" >"$tmp/want"
without auth realtime "$tmp/post.data" >"$tmp/got"
if diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then pass "rollback: every row of the app's schemas as at the snapshot"
else fail "rollback: rows" "differ" "$tmp/diff"; fi
expect "rollback: auth left alone (the sign-up since the snapshot is still there)" 1 \
  "$(qa app "SELECT count(*) FROM auth.users WHERE id = '00000000-0000-0000-0000-00000000cafe'")"
qa app "SET ROLE supabase_auth_admin; INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-00000000f00d', 'after@example.org')" >/dev/null
expect "rollback: the trigger on auth.users works again" 1 \
  "$(qa app "SELECT count(*) FROM public.profiles WHERE id = '00000000-0000-0000-0000-00000000f00d'")"

# =========================================================================================
# 4. Full backup into a new empty database on another cluster, with the roles
# =========================================================================================
echo "# --- 4. full copy with --globals (at ${SECONDS}s)"
full=${p}full
load $full
# a tablespace of its own (the directory the postgres OS user's, outside this test's private
# temp dir): --globals records it; once it is gone here, the other cluster creates it there
ts=$(mktemp -d /tmp/pf-test-ts.XXXXXX) && chown postgres: "$ts" 2>/dev/null
trap 'cleanup; rm -rf -- "$ts"' EXIT
qa postgres "CREATE TABLESPACE pf_ts LOCATION '$ts'" >/dev/null
qa $full "ALTER TABLE public.comments SET TABLESPACE pf_ts" >/dev/null
snapshot $full "$tmp/full"
as "$admin" dump -d $full --globals -f "$tmp/dfull" -j 2 --no-progress
expect "full: dump --globals exits 0" 0 "$rc"
expect "full: the tablespace is recorded with its location" "$ts" \
  "$(jq -r '.tablespaces[] | select(.name == "pf_ts") | .location' "$tmp/dfull/globals.json" 2>&1)"
qa $full "ALTER TABLE public.comments SET TABLESPACE pg_default" >/dev/null
qa postgres "DROP TABLESPACE pf_ts" >/dev/null
expect "full: the roles the objects need are recorded, without passwords" "true|0" \
  "$(jq -r '[(.roles | map(.name) | index("service_role") != null), ([.roles[] | select(has("password"))] | length)] | map(tostring) | join("|")' \
        "$tmp/dfull/globals.json" 2>&1)"
run verify "$tmp/dfull"
expect "full: verify (globals.json hashed in the manifest)" 0 "$rc"
# the created roles' memberships and settings, compared with the source's
cat >"$tmp/rolemeta.sql" <<'EOF'
SELECT string_agg(r.rolname || '>' || u.rolname || CASE WHEN m.admin_option THEN '+admin' ELSE '' END, ' '
                  ORDER BY r.rolname, u.rolname)
  FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
 WHERE u.rolname = 'authenticator';
SELECT string_agg(r.rolname || ':' || (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(s.setconfig) x), ' ' ORDER BY r.rolname)
  FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
 WHERE r.rolname IN ('authenticator', 'authenticated') AND s.setdatabase = 0;
EOF
# the other cluster: an ordinary PostgreSQL whose superuser is postgres
cat >"$tmp/second.sh" <<'EOF'
set -u
export PGCLIENTENCODING=UTF8
t=$1
run() { "$PGFERRY" "$@" >"$t/out2" 2>"$t/err2"; echo $?; }
r1=$(run restore -d copy1 --create --globals -j 2 --no-progress "$t/dfull")
pg_dump --schema-only -d copy1 2>/dev/null | grep -v '^\\\(un\)\?restrict ' >"$t/copy1.schema"
psql -X -q -d copy1 -f "$t/digest.sql" >"$t/copy1.data" 2>&1
psql -XAtq -d postgres -c "SELECT string_agg(rolname || ':' || rolsuper || rolbypassrls || rolcanlogin, ' ' ORDER BY rolname)
  FROM pg_roles WHERE rolname IN ('service_role', 'supabase_admin', 'authenticator', 'anon')" >"$t/roles2"
psql -XAtq -d copy1 -c "SELECT t.spcname FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
  WHERE c.oid = 'public.comments'::regclass" >"$t/ts2"
psql -XAtq -d postgres -f "$t/rolemeta.sql" >"$t/rolemeta2"
psql -XAtq -d postgres -c "ALTER ROLE anon SET statement_timeout = '9s'"
r2=$(run restore -d copy2 --create --globals --no-progress "$t/dfull")
psql -XAtq -d postgres -c "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting
  WHERE setrole = 'anon'::regrole AND setdatabase = 0" >"$t/anon2"
echo "$r1 $r2" >"$t/rc2"
EOF
env -u PF_CLUSTER_SUPERUSER -u PGUSER bash "$PGFERRY_SRC/tests/harness/with_cluster.sh" bash "$tmp/second.sh" "$tmp" \
  >"$tmp/second.log" 2>&1
expect "full: restore --create --globals on another cluster exits 0 (and again into a second database)" "0 0" \
  "$(cat "$tmp/rc2" 2>/dev/null)" || true
if diff -u "$tmp/full.schema" "$tmp/copy1.schema" >"$tmp/diff"; then
  pass "full: schema identical to the source (owners, privileges, policies, platform schemas, extensions' owners)"
else fail "full: schema" "differs" "$tmp/diff" "$tmp/second.log" "$tmp/err2"; fi
if diff -u "$tmp/full.data" "$tmp/copy1.data" >"$tmp/diff"; then
  pass "full: every row identical ($(grep -c '^table ' "$tmp/copy1.data") tables, platform's rows included)"
else fail "full: rows" "differ" "$tmp/diff"; fi
expect "full: roles created with their attributes (superuser, bypassrls, login)" \
  "anon:falsefalsefalse authenticator:falsefalsetrue service_role:falsetruefalse supabase_admin:truetruetrue" \
  "$(cat "$tmp/roles2" 2>/dev/null)"
expect "full: memberships and settings of the created roles as in the source" \
  "$(psql -XAtq -U "$admin" -d postgres -f "$tmp/rolemeta.sql" 2>&1)" "$(cat "$tmp/rolemeta2" 2>/dev/null)"
expect "full: an existing role is left alone by the second --globals" "statement_timeout=9s" "$(cat "$tmp/anon2" 2>/dev/null)"
expect "full: the tablespace was created on the other cluster and holds the table" "pf_ts" "$(cat "$tmp/ts2" 2>/dev/null)"

summary supabase
