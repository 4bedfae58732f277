#!/usr/bin/env bash
# test_regress.sh: PostgreSQL's own regression database, dumped by pgferry and restored,
# must equal what pg_dump -Fd + pg_restore make of it (the check pg_upgrade's tests do).
#
# Runs inside tests/harness/with_cluster.sh (PG* set) with PGFERRY (the binary) and
# PGFERRY_SRC (the source tree), as ctest does. By hand:
#
#   bash tests/harness/with_cluster.sh env PGFERRY=$PWD/build/pgferry bash tests/integration/test_regress.sh
#
#  1. the source: the Debian source package of the running server's major version
#     (postgresql-15), at the installed package's version when the archive still has it,
#     else the newest available (a NOTE says so). A deb-src entry mirroring the system's
#     Debian entries is added if there is none (/etc/apt/sources.list.d/pgferry-deb-src.sources),
#     dpkg-dev and postgresql-server-dev-15 are installed if missing (needs root or sudo -n).
#     regress.so, autoinc.so and refint.so (contrib/spi) are built with PGXS. All of it is
#     cached in PF_REGRESS_CACHE (default /var/cache/pgferry-regress as root, else
#     ~/.cache/pgferry-regress) and reused by later runs.
#  2. the regression database: PostgreSQL's pg_regress runs src/test/regress/parallel_schedule
#     against the harness cluster (it creates the database "regression"); failing tests do
#     not matter, only the database they leave behind
#  3. the reference: pg_dump -Fd of it, pg_restore into ref_db (its errors are NOTEs)
#  4. pgferry dump -j 2, verify, restore -j 2 --create into pf_db, verify --db pf_db, and
#     verify --db ref_db (pg_restore's result against pgferry's dump)
#  5. pf_db compared with ref_db: pg_dump --schema-only (per object: only in one, or
#     different), every table's row count and md5 of its rows sorted as text, sequences'
#     last_value/is_called, large objects (owner, ACL, comment, contents), invalid indexes
#     (pg_dump does not show validity); and pf_db's own settings (ALTER DATABASE ... SET,
#     which pg_restore --create restores) against the source's
#
# Where pg_restore's own result differs from the source database, NOTE lines say so; they
# are not failures (pgferry's target is pg_restore's result). SKIP (exit 0) only when the
# source package cannot be obtained. PF_REGRESS_KEEP=DIR copies the dumps, diffs and logs
# there. PF_REGRESS_SCHEDULE=FILE runs another schedule (e.g. a shorter one, to debug);
# PF_REGRESS_SQL='DROP TABLE ...' changes the regression database before the dumps (to
# look past a known failure).
# shellcheck disable=SC2016,SC2317 # psql literals; functions called from the trap
set -u

: "${PGFERRY:?PGFERRY must name the pgferry binary}"
: "${PGFERRY_SRC:=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}"
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-regress.XXXXXX") || exit 1
outdir=
ref_db=ref_db
pf_db=pf_db

cleanup() {
  local d
  if [[ -n ${PF_REGRESS_KEEP:-} ]]; then
    mkdir -p "$PF_REGRESS_KEEP" && cp -a "$tmp"/. "$PF_REGRESS_KEEP"/ 2>/dev/null &&
      echo "# kept the dumps, diffs and logs in $PF_REGRESS_KEEP"
    [[ -n $outdir ]] && cp -a "$outdir"/. "$PF_REGRESS_KEEP"/pg_regress-out/ 2>/dev/null
  fi
  for d in regression "$ref_db" "$pf_db"; do dropdb --if-exists --force "$d" >/dev/null 2>&1; done
  rm -rf -- "$tmp"
  [[ -n $outdir ]] && rm -rf -- "$outdir"
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
  for f in "$@"; do [[ -s $f ]] && head -n "${SHOW:-40}" "$f" | sed "s/^/    $(basename "$f")| /"; done
  return 0
}
note() { echo "NOTE - $*"; }
# expect NAME WANT GOT: pass when GOT is WANT.
expect() { if [[ $3 == "$2" ]]; then pass "$1"; else fail "$1" "expected \"$2\", got \"$3\"" /dev/null; fi; }
summary() { echo "regress: $passed passed, $failed failed"; }
finish() { summary; ((failed == 0)); exit; }
skip() { echo "SKIP - $*"; exit 0; }

# run ARGS...: pgferry ARGS; sets rc, $tmp/out, $tmp/err.
run() { "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
q() { psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
phase_start=$SECONDS
phase() { # NAME: print how long the last phase took
  echo "# timing: $1 took $((SECONDS - phase_start))s"
  phase_start=$SECONDS
}

# as_root CMD...: as root, or through sudo -n; 1 when neither is possible.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1; fi
}
# as_pg CMD...: run CMD as the cluster's OS user (postgres when root), PG* kept.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}
apt_quiet() { as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$tmp/apt.log" 2>&1; }

# =========================================================================================
# 1. The source package and the libraries the regression tests load
# =========================================================================================
echo "# --- 1. source of the regression suite (at ${SECONDS}s)"
bindir=${PF_PG_BINDIR:-$(dirname "$(command -v psql)")}
major=$(q postgres "SELECT current_setting('server_version_num')::int / 10000") ||
  { fail "server version" "psql failed"; finish; }
pkg=postgresql-$major
inst=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || inst=
[[ -n $inst ]] || note "the Debian package $pkg is not installed (server from elsewhere?): the newest source of $pkg is used"

if [[ -n ${PF_REGRESS_CACHE:-} ]]; then cache=$PF_REGRESS_CACHE
elif [[ $(id -u) -eq 0 ]]; then cache=/var/cache/pgferry-regress
else cache=${XDG_CACHE_HOME:-$HOME/.cache}/pgferry-regress; fi
mkdir -p "$cache" && chmod 755 "$cache" 2>/dev/null
[[ -d $cache && -w $cache ]] || { fail "cache directory" "$cache cannot be created or written"; finish; }

# deb-src entries mirroring the system's Debian entries (deb822 .sources and one-line
# .list), for the suites of this release; printed on stdout.
debsrc_entries() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f && $f != */pgferry-deb-src.sources ]] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
      { n = split($0, L, "\n"); out = ""; deb = 0; on = 1; debian = 0
        for (i = 1; i <= n; i++) {
          if (L[i] ~ /^Types:/) { if (L[i] ~ /[: \t]deb([ \t]|$)/) deb = 1; L[i] = "Types: deb-src" }
          if (L[i] ~ /^Enabled:[ \t]*no/) on = 0
          if (L[i] ~ /^URIs:.*debian/) debian = 1
          out = out L[i] "\n" }
        if (deb && on && debian) printf "%s\n", out }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -n 's/^[[:space:]]*deb\([[:space:]].*debian.*\)$/deb-src\1/p' "$f"
  done
}

have_source_index() { apt-cache showsrc "$pkg" 2>/dev/null | grep -q '^Package:'; }
source_versions() { apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -uV; }

# prepare: sets srcdir (the unpacked tree), libdir (regress.so & co), srcver; or skips/fails.
prepare() {
  local stamp want got list tree build d
  # a cached tree of the installed version is reused as it is
  for stamp in "$cache"/*.ready; do
    [[ -f $stamp ]] || continue
    read -r got tree build <"$stamp" || continue
    if [[ ( -z $inst || $got == "$inst" ) && -f $tree/src/test/regress/parallel_schedule &&
          -f $build/regress.so && -f $build/autoinc.so && -f $build/refint.so ]]; then
      srcver=$got srcdir=$tree/src/test/regress libdir=$build
      echo "# using the cached source $pkg $srcver in $tree"
      return 0
    fi
  done

  # deb-src entries, and an index that has the installed version
  if ! have_source_index || { [[ -n $inst ]] && ! source_versions | grep -qxF "$inst"; }; then
    if ! have_source_index && ! grep -rqsE '^(Types:.*deb-src|[[:space:]]*deb-src[[:space:]])' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      list=$(debsrc_entries)
      [[ -n $list ]] || skip "cannot obtain the source package $pkg: no Debian entry in /etc/apt/sources.list{,.d} to mirror as deb-src"
      printf '# added by pgferry tests/integration/test_regress.sh: sources of the Debian entries\n%s\n' "$list" >"$tmp/deb-src.sources"
      as_root install -m 644 "$tmp/deb-src.sources" /etc/apt/sources.list.d/pgferry-deb-src.sources ||
        skip "cannot obtain the source package $pkg: no deb-src entry, and adding one needs root (or sudo -n)"
      echo "# added /etc/apt/sources.list.d/pgferry-deb-src.sources"
    fi
    apt_quiet update || note "apt-get update failed (tail of the log: $(tail -n 2 "$tmp/apt.log" | tr '\n' ' '))"
  fi
  have_source_index || skip "cannot obtain the source package $pkg: apt-cache showsrc $pkg finds nothing (see apt-get update)"

  # tools: dpkg-source unpacks, the server headers and PGXS build the libraries
  if ! command -v dpkg-source >/dev/null 2>&1; then
    apt_quiet install -y --no-install-recommends dpkg-dev || skip "cannot unpack the source package: dpkg-dev is missing and cannot be installed"
  fi
  if [[ ! -f /usr/include/postgresql/$major/server/postgres.h ]]; then
    # the headers of the installed server (a newer one would upgrade the server too)
    apt_quiet install -y --no-install-recommends "postgresql-server-dev-$major${inst:+=$inst}" ||
      apt_quiet install -y --no-install-recommends "postgresql-server-dev-$major" || true
    [[ -f /usr/include/postgresql/$major/server/postgres.h ]] ||
      { fail "install postgresql-server-dev-$major" "apt-get install failed" "$tmp/apt.log"; finish; }
  fi

  # the source package: the installed version if the archive has it, else the newest
  want=$inst
  if [[ -z $want ]] || ! source_versions | grep -qxF "$want"; then
    got=$(source_versions | tail -n 1)
    [[ -n $got ]] || skip "cannot obtain the source package $pkg: no version listed"
    [[ -n $inst ]] && note "the archive has no source of $pkg $inst (the installed server); using $got (available: $(source_versions | tr '\n' ' ')); the regression files rarely change within a major version"
    want=$got
  fi
  d=$(mktemp -d "$cache/.get.XXXXXX") || { fail "cache" "mktemp in $cache failed"; finish; }
  if ! (cd "$d" && apt-get source -q "$pkg=$want" >"$tmp/apt-source.log" 2>&1); then
    rm -rf -- "$d"
    skip "cannot obtain the source package $pkg=$want: apt-get source failed: $(grep -E '^(E|W):' "$tmp/apt-source.log" | head -n 3 | tr '\n' ' ')"
  fi
  tree=$(find "$d" -mindepth 1 -maxdepth 1 -type d | head -n 1)
  [[ -n $tree && -f $tree/src/test/regress/parallel_schedule ]] ||
    { fail "unpack $pkg $want" "no src/test/regress/parallel_schedule in what apt-get source unpacked" "$tmp/apt-source.log"; rm -rf -- "$d"; finish; }
  rm -rf -- "$cache/src-$want" "$cache/build-$want"
  mv -- "$tree" "$cache/src-$want" && rm -rf -- "$d"
  tree=$cache/src-$want
  build=$cache/build-$want

  # regress.so (src/test/regress) and autoinc.so, refint.so (contrib/spi, as the regress
  # GNUmakefile builds them), with PGXS against the installed server's headers
  mkdir -p "$build" &&
    cp -- "$tree/src/test/regress/regress.c" "$tree/contrib/spi/autoinc.c" "$tree/contrib/spi/refint.c" "$build/" &&
    cat >"$build/Makefile" <<'EOF'
# written by pgferry tests/integration/test_regress.sh
MODULES = regress autoinc refint
PG_CPPFLAGS = -DREFINT_VERBOSE
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
EOF
  local pgc=$bindir/pg_config
  [[ -x $pgc ]] || pgc=/usr/lib/postgresql/$major/bin/pg_config
  if ! make -C "$build" PG_CONFIG="$pgc" with_llvm=no -j2 >"$tmp/build.log" 2>&1; then
    fail "build regress.so with PGXS" "make failed" "$tmp/build.log"
    finish
  fi
  chmod -R a+rX "$tree" "$build"
  echo "$want $tree $build" >"$cache/$pkg-$want.ready"
  srcver=$want srcdir=$tree/src/test/regress libdir=$build
  echo "# fetched $pkg $srcver into $tree, built regress.so, autoinc.so, refint.so in $build"
}

# one preparation at a time per cache (two builds' ctest runs may share a machine)
exec 9>"$cache/.lock"
flock 9 || { fail "lock $cache/.lock" "flock failed"; finish; }
prepare
flock -u 9
[[ -n $inst && $srcver != "$inst" ]] && note "source $pkg $srcver, installed server package $inst"
phase "getting and building the source"

# =========================================================================================
# 2. The regression database
# =========================================================================================
echo "# --- 2. pg_regress (at ${SECONDS}s)"
pg_regress=$(dirname "$("$bindir/pg_config" --pgxs 2>/dev/null || echo "/usr/lib/postgresql/$major/lib/pgxs/src/makefiles/pgxs.mk")")/../test/regress/pg_regress
[[ -x $pg_regress ]] || pg_regress=/usr/lib/postgresql/$major/lib/pgxs/src/test/regress/pg_regress
[[ -x $pg_regress ]] || { fail "pg_regress" "not found (it comes with postgresql-client-$major)"; finish; }
schedule=${PF_REGRESS_SCHEDULE:-$srcdir/parallel_schedule}
# the output dir is written by psql and by the server (COPY TO): the cluster's OS user
outdir=$(mktemp -d "${TMPDIR:-/tmp}/pf-regress-out.XXXXXX") || { fail "mktemp" "failed"; finish; }
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$outdir"
  if ! as_pg test -w "$outdir"; then
    rm -rf -- "$outdir"
    outdir=$(mktemp -d /tmp/pf-regress-out.XXXXXX) && chown postgres: "$outdir"
  fi
fi
as_pg "$pg_regress" --bindir="$bindir" --host="$PGHOST" --port="$PGPORT" --user="${PGUSER:-postgres}" \
  --dbname=regression --inputdir="$srcdir" --outputdir="$outdir" --dlpath="$libdir" \
  --schedule="$schedule" --max-connections=20 >"$tmp/pg_regress.log" 2>&1
prc=$?
summary_line=$(grep -E 'tests? (passed|failed)|of [0-9]+ tests' "$tmp/pg_regress.log" | tail -n 1 | sed 's/^ *//; s/ *$//')
case $prc in
  0) echo "# pg_regress: ${summary_line:-ok}" ;;
  1) note "pg_regress: ${summary_line} (failing tests do not matter here): $(grep -E '\.\.\. FAILED|FAILED \(test process' "$tmp/pg_regress.log" | awk '{print $2}' | tr '\n' ' ')" ;;
  *) fail "pg_regress ran" "exit $prc" "$tmp/pg_regress.log"; finish ;;
esac
if [[ $(q postgres "SELECT count(*) FROM pg_database WHERE datname = 'regression'" 2>&1) != 1 ]]; then
  fail "pg_regress made the database \"regression\"" "it does not exist" "$tmp/pg_regress.log"
  finish
fi
echo "# regression: $(q regression "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'") relations, $(q regression "SELECT pg_size_pretty(pg_database_size(current_database()))")"
phase "pg_regress ($(basename "$schedule"))"
if [[ -n ${PF_REGRESS_SQL:-} ]]; then
  # a debugging aid: change the database before the dumps (e.g. drop a table that trips a
  # known bug, to see what else fails); never set in CI
  note "PF_REGRESS_SQL is set: running it on regression before the dumps: $PF_REGRESS_SQL"
  q regression "$PF_REGRESS_SQL" >"$tmp/regress_sql.log" 2>&1 || { fail "PF_REGRESS_SQL" "failed" "$tmp/regress_sql.log"; finish; }
fi

# =========================================================================================
# Snapshots of a database: schema per object, data digests, database settings
# =========================================================================================
cat >"$tmp/digest.sql" <<'EOF'
\pset format unaligned
\pset tuples_only on
SELECT CASE WHEN c.relkind = 'm' AND NOT c.relispopulated
            THEN format('SELECT %L, %L', 'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'not populated')
            ELSE format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) FROM ONLY %s t',
                        'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname), E'\n', '', c.oid::regclass) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', '_pgferry')
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C" \gexec
SELECT format('SELECT %L, last_value, is_called FROM %s', 'sequence ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname !~ '^pg_' AND n.nspname NOT IN ('information_schema', '_pgferry')
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C" \gexec
SELECT 'large object ' || oid, pg_get_userbyid(lomowner), coalesce(lomacl::text, '-'),
       coalesce(obj_description(oid, 'pg_largeobject'), '-'), md5(lo_get(oid))
FROM pg_largeobject_metadata ORDER BY oid;
-- pg_dump does not show whether an index is valid (a partitioned index stays invalid until
-- every partition's index is attached)
SELECT 'invalid index ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND n.nspname !~ '^pg_' ORDER BY 1;
EOF
cat >"$tmp/dbprops.sql" <<'EOF'
\pset format unaligned
\pset tuples_only on
SELECT 'setting ' || CASE WHEN r.setrole = 0 THEN '' ELSE 'for role ' || pg_get_userbyid(r.setrole) || ': ' END || s
FROM pg_db_role_setting r, unnest(r.setconfig) s
WHERE r.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1;
SELECT 'encoding ' || pg_encoding_to_char(encoding) || ' collate ' || datcollate || ' ctype ' || datctype
       || ' connlimit ' || datconnlimit || ' owner ' || pg_get_userbyid(datdba)
       || ' comment ' || coalesce(shobj_description(oid, 'pg_database'), '-')
       -- no ACL means the default one: pg_dump writes no GRANT for an ACL equal to it, so an
       -- explicit default (as here) and none are the same privileges
       || ' acl ' || replace(coalesce(datacl, acldefault('d', datdba))::text, datname, '<db>')
FROM pg_database WHERE datname = current_database();
EOF

# objects FILE: one line per TOC entry of a pg_dump --schema-only script, "key<TAB>block",
# key = "Name; Type; Schema" (#N for repeats), block = its text (without the Owner in the
# header, which stays in the block's ALTER ... OWNER TO).
objects() {
  awk 'function flush() { if (key != "") { n[key]++; printf "%s#%d\t%s\n", key, n[key], blk } }
       BEGIN { key = "(preamble)"; blk = "" }
       /^-- PostgreSQL database dump complete/ { flush(); key = "(footer)"; blk = ""; next }
       /^-- (Data for )?Name: / { flush(); key = $0; sub(/^-- /, "", key); sub(/; Owner: .*$/, "", key); blk = ""; next }
       /^--$/ { next }
       { blk = blk "\x1f" $0 }
       END { flush() }' "$1" | LC_ALL=C sort -t$'\t' -k1,1
}

# snap DB OUT: OUT.schema (pg_dump --schema-only), OUT.objects, OUT.data, OUT.props
snap() {
  local db=$1 out=$2
  pg_dump --schema-only -d "$db" 2>"$out.err" | grep -v '^\\\(un\)\?restrict ' >"$out.schema"
  objects "$out.schema" >"$out.objects"
  psql -X -q -d "$db" -f "$tmp/digest.sql" >"$out.data" 2>>"$out.err"
  psql -X -q -d "$db" -f "$tmp/dbprops.sql" >"$out.props" 2>>"$out.err"
}

# objdiff A B: names of the objects only in A, only in B, and different, on stdout.
objdiff() {
  local a=$1 b=$2
  LC_ALL=C join -t$'\t' -v1 -o 1.1 "$a" "$b" | sed 's/^/only in the first:  /'
  LC_ALL=C join -t$'\t' -v2 -o 2.1 "$a" "$b" | sed 's/^/only in the second: /'
  LC_ALL=C join -t$'\t' -o 1.1,1.2,2.2 "$a" "$b" | awk -F'\t' '$2 != $3 { print "different:          " $1 }'
}

# datadiff A B: per table / sequence / large object, what differs, on stdout.
datadiff() {
  awk -F'|' -v OFS='|' 'NR == FNR { a[$1] = $0; next }
    { b[$1] = $0 }
    END {
      for (k in a) if (!(k in b)) print "only in the first:  " a[k]
      for (k in b) if (!(k in a)) print "only in the second: " b[k]
      for (k in a) if ((k in b) && a[k] != b[k]) print "different:          " a[k] "   vs   " b[k]
    }' "$1" "$2" | LC_ALL=C sort
}

# compare NAME FIRST SECOND: schema, objects, data and properties of two snapshots, as
# PASS/FAIL lines (or NOTE lines when NOTE=1).
compare() {
  local name=$1 a=$2 b=$3 d=$tmp/diff.$4 what
  if [[ ! -s $a.schema || ! -s $b.schema ]]; then
    report "$name: schema" "pg_dump --schema-only failed" "$a.err" "$b.err"
  elif diff -u "$a.schema" "$b.schema" >"$d.schema"; then
    report_ok "$name: pg_dump --schema-only identical ($(grep -c . "$a.objects") objects)"
  else
    objdiff "$a.objects" "$b.objects" >"$d.objects"
    if [[ -s $d.objects ]]; then
      what="$(grep -c '^only in the first' "$d.objects") objects only in $5, $(grep -c '^only in the second' "$d.objects") only in $6, $(grep -c '^different' "$d.objects") different"
      SHOW=80 report "$name: pg_dump --schema-only" "differs: $what (first $5, second $6)" "$d.objects"
      SHOW=150 show "$d.schema"
    else
      report "$name: pg_dump --schema-only" "the same objects, in another order" "$d.schema"
    fi
  fi
  if [[ ! -s $a.data || ! -s $b.data ]]; then
    report "$name: data" "the digest query failed" "$a.err" "$b.err"
  else
    datadiff "$a.data" "$b.data" >"$d.data"
    if [[ -s $d.data ]]; then
      SHOW=80 report "$name: data" "$(grep -c . "$d.data") of $(grep -c . "$a.data") tables/sequences/large objects/invalid indexes differ (first $5, second $6)" "$d.data"
    else
      report_ok "$name: data identical ($(grep -c '^table ' "$a.data") tables, $(grep -c '^sequence ' "$a.data") sequences, $(grep -c '^large object ' "$a.data") large objects)"
    fi
  fi
}
show() { [[ -s $1 ]] && head -n "${SHOW:-40}" "$1" | sed "s/^/    $(basename "$1")| /"; }
report_ok() { if [[ ${NOTE:-0} == 1 ]]; then echo "# same: $1"; else pass "$1"; fi; }
report() {
  if [[ ${NOTE:-0} == 1 ]]; then
    local n=$1 w=$2 f
    shift 2
    note "$n: $w"
    for f in "$@"; do show "$f"; done
  else fail "$@"; fi
}

# =========================================================================================
# 3. The reference: pg_dump -Fd + pg_restore
# =========================================================================================
echo "# --- 3. reference: pg_dump -Fd, pg_restore (at ${SECONDS}s)"
if ! pg_dump -Fd -f "$tmp/ref" -d regression 2>"$tmp/pg_dump.err"; then
  fail "pg_dump -Fd regression" "failed" "$tmp/pg_dump.err"
  finish
fi
[[ -s $tmp/pg_dump.err ]] && SHOW=20 note "pg_dump -Fd regression said:" && SHOW=20 show "$tmp/pg_dump.err"
phase "pg_dump -Fd"
createdb "$ref_db"
pg_restore -d "$ref_db" "$tmp/ref" >"$tmp/pg_restore.log" 2>&1
prc=$?
if [[ $prc -ne 0 || -s $tmp/pg_restore.log ]]; then
  note "pg_restore -d $ref_db exited $prc with $(grep -c '^pg_restore: error' "$tmp/pg_restore.log") errors:"
  SHOW=40 show "$tmp/pg_restore.log"
else
  echo "# pg_restore: no errors"
fi
phase "pg_restore"
snap regression "$tmp/src"
snap "$ref_db" "$tmp/ref_db"
phase "snapshots of regression and ref_db"
# the comparison is only as good as what it covers
for want in 'table public.tenk1|10000|' 'table public.onek|1000|' 'table public.road|' \
            'table public.emp|' 'sequence public.'; do
  grep -qF -- "$want" "$tmp/src.data" || fail "the digest covers $want" "missing from the digest of regression" "$tmp/src.data" "$tmp/src.err"
done
[[ -s $tmp/src.err ]] && note "digest queries on regression reported errors (those tables are left out):" && show "$tmp/src.err"
echo "# regression digest: $(grep -c '^table ' "$tmp/src.data") tables ($(grep -c 'not populated' "$tmp/src.data") unpopulated matviews), $(grep -c '^sequence ' "$tmp/src.data") sequences, $(grep -c '^large object ' "$tmp/src.data") large objects, $(grep -c . "$tmp/src.objects") schema objects"
NOTE=1 compare "pg_restore vs the source" "$tmp/src" "$tmp/ref_db" src_ref regression "$ref_db"
if ! diff "$tmp/src.props" "$tmp/ref_db.props" >/dev/null; then
  note "database settings of $ref_db (pg_restore without --create) differ from regression's: $(diff "$tmp/src.props" "$tmp/ref_db.props" | grep '^[<>]' | tr '\n' ' ')"
fi
pg_restore --create --schema-only -f - "$tmp/ref" 2>/dev/null | grep -E '^(ALTER DATABASE|COMMENT ON DATABASE|CREATE DATABASE)' >"$tmp/create.sql"
echo "# pg_restore --create would run: $(tr '\n' ' ' <"$tmp/create.sql" | cut -c1-400)"

# =========================================================================================
# 4. pgferry dump, verify, restore, verify --db
# =========================================================================================
echo "# --- 4. pgferry (at ${SECONDS}s)"
run dump -d dbname=regression -f "$tmp/pf" -j 2 --no-progress
if [[ $rc -ne 0 ]]; then
  fail "pgferry dump -j 2 of regression" "exit $rc"
  finish
fi
pass "pgferry dump -j 2 of regression ($(find "$tmp/pf/data" -type f 2>/dev/null | wc -l) chunk files)"
[[ -s $tmp/err ]] && note "pgferry dump said:" && show "$tmp/err"
phase "pgferry dump"
run verify "$tmp/pf" -j 2
if [[ $rc -eq 0 ]]; then pass "pgferry verify of the dump"; else fail "pgferry verify of the dump" "exit $rc"; fi
phase "pgferry verify"
run restore -f "$tmp/pf" -d "dbname=$pf_db" --create -j 2 --no-progress
if [[ $rc -eq 0 ]]; then pass "pgferry restore -j 2 --create into $pf_db"
else SHOW=60 fail "pgferry restore -j 2 --create into $pf_db" "exit $rc (what it restored is compared all the same)"; fi
phase "pgferry restore"
if [[ $(q postgres "SELECT count(*) FROM pg_database WHERE datname = '$pf_db'" 2>&1) != 1 ]]; then
  fail "compare $pf_db with $ref_db" "$pf_db does not exist"
  finish
fi
run verify "$tmp/pf" --db "dbname=$pf_db" -j 2
if [[ $rc -eq 0 ]]; then pass "pgferry verify --db $pf_db (the restore equals the dump)"
else fail "pgferry verify --db $pf_db" "exit $rc"; fi
run verify "$tmp/pf" --db "dbname=$ref_db" -j 2
if [[ $rc -eq 0 ]]; then pass "pgferry verify --db $ref_db (pg_restore's result equals the pgferry dump)"
else fail "pgferry verify --db $ref_db (pg_restore's result against the pgferry dump)" "exit $rc"; fi
phase "pgferry verify --db (twice)"

# =========================================================================================
# 5. pf_db against ref_db
# =========================================================================================
echo "# --- 5. $pf_db against $ref_db (at ${SECONDS}s)"
snap "$pf_db" "$tmp/pf_db"
compare "$pf_db vs $ref_db" "$tmp/ref_db" "$tmp/pf_db" ref_pf "$ref_db" "$pf_db"
expect "$pf_db: no _pgferry schema left" 0 "$(q "$pf_db" "SELECT count(*) FROM pg_namespace WHERE nspname = '_pgferry'" 2>&1)"
# with --create, the database's own settings are what pg_restore --create gives: the source's
if diff -u "$tmp/src.props" "$tmp/pf_db.props" >"$tmp/diff.props"; then
  pass "$pf_db: database settings and properties as in regression ($(grep -c '^setting ' "$tmp/src.props") ALTER DATABASE ... SET)"
else
  fail "$pf_db: database settings and properties (pg_restore --create restores them)" "differ from regression's" "$tmp/diff.props"
fi
phase "comparison"

echo "# total ${SECONDS}s"
finish
