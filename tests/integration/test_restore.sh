#!/usr/bin/env bash
# test_restore.sh: pgferry restore against a real cluster. Runs inside
# tests/harness/with_cluster.sh (PG* set) with PGFERRY (the binary) and PGFERRY_SRC (the
# source tree).
#
#  1. round trip of tools/sample_data.sql: schema (pg_dump --schema-only), every table's
#     rows (count + order-independent md5), sequences, large objects, ANALYZE, no journal
#  2. damaged dumps: a changed byte in a chunk fails naming the chunk and table, commits
#     nothing of it (the target holds exactly the journaled chunks' rows) and --resume
#     finishes once the byte is back; truncated / missing / extra chunk and an edited
#     manifest are refused before the target is touched
#  3. kill -9 at several points (in pre-data, right after it, at half the chunks, in
#     post-data, in the finishing steps of a --clean restore over a restored database),
#     a server crash (immediate stop), then --resume: identical to the source, and the
#     target held exactly the journaled chunks' rows; resume from another dump, plain
#     restore over an unfinished one and --resume without a journal are refused
#  4. single-table recovery: -t with --rename-table and with --into-schema beside a live,
#     modified table that stays untouched; clashes and unknown patterns are named
#  5. --clean over a restored, modified database; without it: "not empty"
#  6. --schema-only then --data-only
#  7. usage errors exit 2
#  8. load strategy (whole-table FREEZE jobs under a worker's share, a job per chunk above,
#     PGFERRY_RESTORE_SPLIT both ways), keys built on their index (and left whole where
#     they cannot be), --trace and server CPU
#
# Kill points do not depend on timing: a watcher session polls the journal inside the
# server and, the moment it shows the wanted state, takes an EXCLUSIVE lock on
# _pgferry.journal, so every unit of work pgferry has in flight blocks just before it can
# commit; pgferry is killed while it waits. (One extra kill without the lock lands in the
# middle of COPYs; if the restore was faster than the poll it is reported as SKIP.)
# shellcheck disable=SC2016 # psql's \set m `cat FILE` is meant literally
set -u

PF_TEST_NAME=restore PF_TEST_PREFIX=pfr
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# =========================================================================================
# 1. Round trip
# =========================================================================================
echo "# --- 1. Round trip (at ${SECONDS}s)"
src=${p}src
if ! load_sample "$src" 1; then fail "load sample data" "psql failed" "$tmp/load.log"; echo "restore: $passed passed, $failed failed"; exit 1; fi
run dump -d "dbname=$src" -f "$tmp/d1" -j 2 --chunk-size 1MB --no-progress
if [[ $rc -ne 0 ]]; then fail "dump of the sample data" "exit $rc"; echo "restore: $passed passed, $failed failed"; exit 1; fi
snap "$src" "$tmp/src"
# the comparison is only as good as what it covers
for want in 'table Sales Ω.Order "Lines"|1000|' 'table public.accounts|200000|' 'table public.city_peaks|50|' \
            'table public.cache|500|' 'table public.empty_table|0|' 'table public.measurements_2025|' \
            'table public.measurements|30000|' 'table public.types_zoo|' 'table public.gen_drop|3000|' \
            'sequence public.invoice_no|1041|t' 'large object 424242|'; do
  grep -qF -- "$want" "$tmp/src.data" || fail "source digest covers $want" "missing from the digest" "$tmp/src.data"
done

dst=${p}dst
adddb "$dst"
run restore -f "$tmp/d1" -d "dbname=$dst" --create -j 3 --no-progress
expect "round trip: restore --create -j 3 exits 0" 0 "$rc"
same_as "round trip" "$tmp/src" "$dst"
# one line per table, sequence and large object, so a failure names what differs
while IFS= read -r line; do
  what=${line%%|*}
  got=$(awk -F'|' -v w="$what" '$1 == w' "$tmp/last.data")
  expect "round trip: $what (count|md5 or value)" "${line#*|}" "${got#*|}"
done <"$tmp/src.data"
expect "round trip: ANALYZE ran (pg_stats of accounts, a partition, the quoted table)" 3 \
  "$(q "$dst" "SELECT count(DISTINCT tablename) FROM pg_stats WHERE (schemaname, tablename) IN
               (('public', 'accounts'), ('public', 'measurements_2025'), ('Sales Ω', 'Order \"Lines\"'))" 2>&1)"
expect "round trip: reltuples of accounts set" t \
  "$(q "$dst" "SELECT reltuples >= 100000 FROM pg_class WHERE oid = 'public.accounts'::regclass" 2>&1)"
expect "round trip: city_peaks populated, cache unlogged" true/u \
  "$(q "$dst" "SELECT relispopulated || '/' || (SELECT relpersistence::text FROM pg_class WHERE oid = 'public.cache'::regclass)
               FROM pg_class WHERE oid = 'public.city_peaks'::regclass" 2>&1)"

# =========================================================================================
# 5. --clean (on the restored database, before the single-table tests change it)
# =========================================================================================
echo "# --- 5. --clean (at ${SECONDS}s)"
q "$dst" "UPDATE public.accounts SET abalance = abalance + 7 WHERE aid % 97 = 0;
          DELETE FROM public.docs WHERE id < 100; DROP TABLE public.empty_table;
          SELECT setval('public.invoice_no', 5000); SELECT lo_unlink(424242);
          SELECT lo_from_bytea(424242, 'changed'); INSERT INTO \"Sales Ω\".\"Order \"\"Lines\"\"\" VALUES ('x', -1, NULL)" >/dev/null
run restore -f "$tmp/d1" -d "dbname=$dst" -j 3 --no-progress
if [[ $rc -eq 1 ]] && grep -q 'not empty' "$tmp/err"; then pass "clean: restore into a non-empty database refused (\"not empty\")"
else fail "clean: restore into a non-empty database refused" "exit $rc, expected 1 and \"not empty\""; fi
run restore -f "$tmp/d1" -d "dbname=$dst" --clean -j 3 --no-progress
expect "clean: restore --clean exits 0" 0 "$rc"
same_as "clean" "$tmp/src" "$dst"

# =========================================================================================
# 4. Single-table recovery beside live tables
# =========================================================================================
echo "# --- 4. Single-table recovery (at ${SECONDS}s)"
q "$dst" "UPDATE public.accounts SET abalance = -abalance - 1 WHERE aid % 1000 = 0;
          DELETE FROM public.accounts WHERE aid BETWEEN 5000 AND 5099;
          INSERT INTO public.accounts SELECT g, 1, 42, 'new' FROM generate_series(900001, 900010) g;
          SELECT setval('public.types_zoo_id_seq', 777777)" >/dev/null
src_accounts=$(tdigest "$src" public.accounts)
live_before=$(tdigest "$dst" public.accounts)
snap "$dst" "$tmp/live1" -T public.accounts_restored
run restore -f "$tmp/d1" -d "dbname=$dst" -t public.accounts --rename-table public.accounts=public.accounts_restored --no-progress
expect "single table: -t public.accounts --rename-table ...=public.accounts_restored exits 0" 0 "$rc"
expect "single table: accounts_restored equals the source's accounts (count|md5)" "$src_accounts" "$(tdigest "$dst" public.accounts_restored 2>&1)"
expect "single table: live accounts unchanged (count|md5)" "$live_before" "$(tdigest "$dst" public.accounts 2>&1)"
expect "single table: accounts_restored has primary key index accounts_restored_pkey" t \
  "$(q "$dst" "SELECT indisprimary AND indrelid = 'public.accounts_restored'::regclass FROM pg_index
               WHERE indexrelid = to_regclass('public.accounts_restored_pkey')" 2>&1)"
snap "$dst" "$tmp/live2" -T public.accounts_restored
grep -v '^table public\.accounts_restored|' "$tmp/live2.data" >"$tmp/live2.rest"
if diff -u "$tmp/live1.schema" "$tmp/live2.schema" >"$tmp/diff"; then pass "single table: rest of the schema unchanged (pg_dump -T accounts_restored)"
else fail "single table: rest of the schema unchanged" "schema differs" "$tmp/diff"; fi
if diff -u "$tmp/live1.data" "$tmp/live2.rest" >"$tmp/diff"; then pass "single table: every other table, sequence and large object unchanged"
else fail "single table: everything else unchanged" "data differs" "$tmp/diff"; fi

src_zoo=$(tdigest "$src" public.types_zoo)
src_zoo_seq=$(q "$src" "SELECT last_value || '|' || is_called FROM public.types_zoo_id_seq")
run restore -f "$tmp/d1" -d "dbname=$dst" -t public.types_zoo --into-schema recovery --no-progress
expect "into schema: -t public.types_zoo --into-schema recovery exits 0" 0 "$rc"
expect "into schema: schema recovery created" 1 "$(q "$dst" "SELECT count(*) FROM pg_namespace WHERE nspname = 'recovery'" 2>&1)"
expect "into schema: recovery.types_zoo equals the source's types_zoo (count|md5)" "$src_zoo" "$(tdigest "$dst" recovery.types_zoo 2>&1)"
expect "into schema: recovery.types_zoo_id_seq has the dumped value" "$src_zoo_seq" \
  "$(q "$dst" "SELECT last_value || '|' || is_called FROM recovery.types_zoo_id_seq" 2>&1)"
snap "$dst" "$tmp/live3" -T public.accounts_restored -N recovery
grep -v -e '^table public\.accounts_restored|' -e '^table recovery\.' -e '^sequence recovery\.' "$tmp/live3.data" >"$tmp/live3.rest"
if diff -u "$tmp/live1.schema" "$tmp/live3.schema" >"$tmp/diff"; then pass "into schema: rest of the schema unchanged"
else fail "into schema: rest of the schema unchanged" "schema differs" "$tmp/diff"; fi
if diff -u "$tmp/live1.data" "$tmp/live3.rest" >"$tmp/diff"; then pass "into schema: live tables and sequences (public.types_zoo_id_seq) unchanged"
else fail "into schema: live tables and sequences unchanged" "data differs" "$tmp/diff"; fi

run restore -f "$tmp/d1" -d "dbname=$dst" -t public.accounts --rename-table public.accounts=public.branches --no-progress
if [[ $rc -eq 1 ]] && grep -q 'branches' "$tmp/err" && grep -q 'already in the target' "$tmp/err"; then
  pass "single table: renaming onto an existing table refused, naming it"
else fail "single table: renaming onto an existing table refused" "exit $rc, expected 1 naming public.branches"; fi
run restore -f "$tmp/d1" -d "dbname=$dst" -t public.accounts --rename-table public.accounts=public.accounts_restored --no-progress
if [[ $rc -eq 1 ]] && grep -q 'accounts_restored' "$tmp/err"; then pass "single table: restoring onto accounts_restored again refused, naming it"
else fail "single table: restoring onto accounts_restored again refused" "exit $rc, expected 1 naming it"; fi
run restore -f "$tmp/d1" -d "dbname=$dst" -t public.no_such_table --no-progress
if [[ $rc -eq 1 ]] && grep -q 'public.no_such_table' "$tmp/err"; then pass "single table: unknown -t pattern refused, naming it"
else fail "single table: unknown -t pattern refused" "exit $rc, expected 1 naming public.no_such_table"; fi
run restore -f "$tmp/d1" -d "dbname=$dst" -n no_such_schema --no-progress
if [[ $rc -eq 1 ]] && grep -q 'no schema in the dump matches -n "no_such_schema"' "$tmp/err"; then
  pass "unknown -n pattern refused, naming it"
else fail "unknown -n pattern refused" "exit $rc, expected 1 naming no_such_schema"; fi
snap "$dst" "$tmp/live4" -T public.accounts_restored -N recovery
if diff -q "$tmp/live3.schema" "$tmp/live4.schema" >/dev/null && diff -q "$tmp/live3.data" "$tmp/live4.data" >/dev/null &&
   [[ $(q "$dst" "SELECT count(*) FROM pg_namespace WHERE nspname = '_pgferry'") == 0 ]]; then
  pass "single table: refused restores changed nothing"
else fail "single table: refused restores changed nothing" "schema or data changed, or a journal was left"; fi

# =========================================================================================
# 6. --schema-only, then --data-only
# =========================================================================================
echo "# --- 6. --schema-only (at ${SECONDS}s)"
so=${p}so
newdb "$so"
run restore -f "$tmp/d1" -d "dbname=$so" --schema-only -j 3 --no-progress
expect "schema-only: exits 0" 0 "$rc"
expect "schema-only: tables there, no rows" 0/0/0 \
  "$(q "$so" "SELECT (SELECT count(*) FROM public.accounts) || '/' || (SELECT count(*) FROM public.types_zoo)
               || '/' || (SELECT count(*) FROM pg_namespace WHERE nspname = '_pgferry')" 2>&1)"
# --disable-triggers: the sample data's trigger on prices would log every row again
run restore -f "$tmp/d1" -d "dbname=$so" --data-only --disable-triggers -j 3 --no-progress
expect "data-only: exits 0" 0 "$rc"
same_as "schema-only + data-only" "$tmp/src" "$so"

# =========================================================================================
# 7. Usage errors
# =========================================================================================
echo "# --- 7. Usage errors (at ${SECONDS}s)"
run restore -f "$tmp/d1" -d "dbname=$so" --schema-only --data-only
expect "usage: --schema-only with --data-only exits 2" 2 "$rc"
run restore -f "$tmp/d1" -d "dbname=$so" --rename-table public.accounts
expect "usage: --rename-table without '=' exits 2" 2 "$rc"
run restore -d "dbname=$so"
expect "usage: missing -f exits 2" 2 "$rc"

# =========================================================================================
# 8. Load strategy, key constraints built on their index, --trace
# =========================================================================================
echo "# --- 8. Load strategy and --trace (at ${SECONDS}s)"
# d1 has 1MB chunks: docs (~25MB) and accounts (~24MB) have ~25 each, the rest one or two.
# A table of no more than 4/3 of its share of all the rows (total / jobs: a FREEZE load
# costs about 3/4 of an unfrozen one) is one job: one COPY of all its chunks after a
# TRUNCATE (FREEZE from 2MB); only larger tables are split.
tr_rows() { # TRACE TABLE-LABEL: the rows its load spans carry, and how many spans
  jq -r --arg t "$2" '[.traceEvents[] | select(.ph == "X" and .cat == "load" and (.name == $t or (.name | startswith($t + " "))))]
    | "\(map(.args.rows // 0) | add // 0) rows in \(length) span(s)"' "$1"
}
mrows() { jq -r --arg s "${2%%.*}" --arg n "${2#*.}" '.tables[] | select(.schema == $s and .name == $n) | .rows' "$1/manifest.json"; }
for mode in default:1 default:3 always:2 never:2; do
  split=${mode%%:*} j=${mode#*:}
  db=${p}ls_${split}_$j
  adddb "$db"
  if [[ $split == default ]]; then
    run restore -f "$tmp/d1" -d "dbname=$db" --create -j "$j" --no-progress --json --trace "$tmp/t_$split$j.json"
  else
    PGFERRY_RESTORE_SPLIT=$split run restore -f "$tmp/d1" -d "dbname=$db" --create -j "$j" --no-progress --json \
      --trace "$tmp/t_$split$j.json"
  fi
  expect "load strategy $split -j $j: exits 0" 0 "$rc"
  same_as "load strategy $split -j $j" "$tmp/src" "$db"
  T=$tmp/t_$split$j.json
  # every table's rows are in its load spans, once
  bad=$(jq -r '.tables[] | select(.rows > 0) | "\(.schema).\(.name)"' "$tmp/d1/manifest.json" | while IFS= read -r t; do
    got=$(tr_rows "$T" "$t"); [[ ${got%% rows*} == "$(mrows "$tmp/d1" "$t")" ]] || echo "$t: $got"; done)
  expect "load strategy $split -j $j: the trace has every table's rows once" "" "$bad"
  case $split$j in
    default1) expect "-j 1: docs in one job, frozen" 1/1 \
                "$(jq '[.traceEvents[] | select(.cat == "load" and (.name | startswith("public.docs")))] | length' "$T")/$(
                   jq '[.traceEvents[] | select(.name == "public.docs (FREEZE)")] | length' "$T")"
              q "$db" "CREATE EXTENSION pg_visibility" >/dev/null
              expect "-j 1: every page of docs all-frozen after COPY FREEZE" 0 \
                "$(q "$db" "SELECT count(*) FROM pg_visibility_map('public.docs') WHERE NOT all_frozen" 2>&1)" ;;
    default3) expect "-j 3: docs (above its share) split into a job per chunk" \
                "$(jq '[.tables[] | select(.name == "docs") | .chunks[]] | length' "$tmp/d1/manifest.json")" \
                "$(jq '[.traceEvents[] | select(.cat == "load" and (.name | startswith("public.docs chunk ")))] | length' "$T")"
              expect "-j 3: types_zoo (below) one job" 1 \
                "$(jq '[.traceEvents[] | select(.cat == "load" and (.name | startswith("public.types_zoo")))] | length' "$T")" ;;
    never2) expect "never: accounts one frozen job" 1 \
              "$(jq '[.traceEvents[] | select(.name == "public.accounts (FREEZE)")] | length' "$T")" ;;
  esac
  # primary keys: their index built beside the others, the constraint made on it
  expect "load strategy $split -j $j: accounts_pkey built as an index, then the constraint on it" "1 1" \
    "$(jq -r '[([.traceEvents[] | select(.name == "CONSTRAINT public.accounts accounts_pkey (its index)")] | length),
               ([.traceEvents[] | select(.name == "CONSTRAINT public.accounts accounts_pkey (on its index)")] | length)] | map(tostring) | join(" ")' "$T")"
  # a local server: every job's server CPU, and --json's per phase
  expect "load strategy $split -j $j: every span has the server's CPU" 0 \
    "$(jq '[.traceEvents[] | select(.ph == "X" and (.args.server_cpu_ms | type) != "number")] | length' "$T")"
  expect "load strategy $split -j $j: --json has the server CPU of each phase" "number number number number" \
    "$(jq -r '.server_cpu_seconds | [.pre_data, .data, .post_data, .finish] | map(type) | join(" ")' "$tmp/out")"
done
# the boundary: docs and accounts alone at -j 2, docs above an even share (1/2) of their
# rows but under 4/3 of it (2/3), is one frozen job
frac=$(jq -r '[.tables[] | select(.schema == "public" and (.name == "docs" or .name == "accounts"))]
  | (map(select(.name == "docs"))[0].raw_bytes / (map(.raw_bytes) | add))' "$tmp/d1/manifest.json")
if awk -v f="$frac" 'BEGIN { exit !(f > 0.5 && f <= 2 / 3) }'; then
  db=${p}ls_share
  adddb "$db"
  run restore -f "$tmp/d1" -d "dbname=$db" --create -t public.docs -t public.accounts -j 2 --no-progress \
    --trace "$tmp/t_share.json"
  expect "restore --create -t docs -t accounts of a whole dump (its DATABASE entry left out): exits 0" 0 "$rc"; [[ $rc -eq 0 ]] || cat "$tmp/err"
  expect "docs at $frac of the rows, -j 2: one frozen job (above an even share, under 4/3 of it)" 1/1 \
    "$(jq '[.traceEvents[] | select(.cat == "load" and (.name | startswith("public.docs")))] | length' "$tmp/t_share.json")/$(
       jq '[.traceEvents[] | select(.name == "public.docs (FREEZE)")] | length' "$tmp/t_share.json")"
  expect "docs and accounts at -j 2: both tables' rows and content equal the source's" \
    "$(tdigest "$src" public.docs) $(tdigest "$src" public.accounts)" "$(tdigest "$db" public.docs) $(tdigest "$db" public.accounts)"
else
  fail "load strategy boundary" "docs is $frac of docs + accounts in d1, not in (1/2, 2/3]: the test's data changed"
fi
expect "trace: a thread name per worker (-j 3: coordinator + 3)" 4 \
  "$(jq '[.traceEvents[] | select(.ph == "M" and .name == "thread_name")] | length' "$tmp/t_default3.json")"
# keys built on their index, on the shapes where that must not change anything: partitions
# whose parent has the key (then attached), inheritance, quoted names; and the keys it must
# leave whole (DEFERRABLE, NULLS NOT DISTINCT, INCLUDE) and the partitioned parent's own
ks=${p}keys
newdb "$ks"
q "$ks" "CREATE TABLE m (id int, at date, v text, u int, PRIMARY KEY (id, at), UNIQUE (u, at)) PARTITION BY RANGE (at);
  CREATE TABLE m1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
  CREATE TABLE m2 PARTITION OF m FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
  INSERT INTO m SELECT g, date '2020-01-01' + (g % 700), repeat('x', 50), g FROM generate_series(1, 100000) g;
  CREATE TABLE inh_p (id int PRIMARY KEY, t text);
  CREATE TABLE inh_c (extra int, UNIQUE (extra)) INHERITS (inh_p);
  ALTER TABLE inh_c ADD PRIMARY KEY (id);
  INSERT INTO inh_c SELECT g, repeat('y', 40), g FROM generate_series(1, 50000) g;
  INSERT INTO inh_p SELECT g, repeat('y', 40) FROM generate_series(1, 50000) g;
  CREATE TABLE \"Quoted \"\"T\"\"\" (\"Weird col\" int, b text, CONSTRAINT \"my \"\"pk\"\"\" PRIMARY KEY (\"Weird col\"));
  INSERT INTO \"Quoted \"\"T\"\"\" SELECT g, repeat('z', 30) FROM generate_series(1, 40000) g;
  CREATE TABLE dfr (id int PRIMARY KEY DEFERRABLE, x int UNIQUE NULLS NOT DISTINCT);
  INSERT INTO dfr SELECT g, g FROM generate_series(1, 100000) g;
  CREATE TABLE incl (id int, y int, CONSTRAINT incl_pk PRIMARY KEY (id) INCLUDE (y));
  INSERT INTO incl SELECT g, g FROM generate_series(1, 200000) g;
  CREATE INDEX incl_expr ON incl ((y % 7));
  CREATE TABLE ml (id int, region text, at date, v int) PARTITION BY LIST (region);
  CREATE TABLE ml_eu PARTITION OF ml FOR VALUES IN ('eu') PARTITION BY RANGE (at);
  CREATE TABLE ml_eu_2020 PARTITION OF ml_eu FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
  CREATE TABLE ml_eu_2021 PARTITION OF ml_eu FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
  CREATE TABLE ml_us PARTITION OF ml FOR VALUES IN ('us');
  CREATE INDEX ON ml (at);
  CREATE INDEX ON ml_eu ((v * 2));
  INSERT INTO ml SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, date '2020-01-01' + (g % 700), g
    FROM generate_series(1, 50000) g" >/dev/null
snap "$ks" "$tmp/ks"
run dump -d "dbname=$ks" -f "$tmp/dks" --no-progress
expect "keys: dump exits 0" 0 "$rc"
adddb "${ks}_r"
run restore -f "$tmp/dks" -d "dbname=${ks}_r" --create -j 2 --no-progress --trace "$tmp/tks.json"
expect "keys: restore exits 0" 0 "$rc"
same_as "keys built on their index" "$tmp/ks" "${ks}_r"
# ANALYZE: after the indexes (an expression index has statistics), each partition tree once
# from its root (PostgreSQL recurses), every relation of it analyzed exactly once
expect "analyze: the expression index has statistics (ANALYZE ran after it was built)" t \
  "$(q "${ks}_r" "SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'incl_expr'" 2>&1)"
expect "analyze: every table and partition analyzed exactly once" \
  "Quoted \"T\":1 dfr:1 incl:1 inh_c:1 inh_p:1 m:1 m1:1 m2:1 ml:1 ml_eu:1 ml_eu_2020:1 ml_eu_2021:1 ml_us:1" \
  "$(q "${ks}_r" "SELECT string_agg(relname || ':' || analyze_count, ' ' ORDER BY relname COLLATE \"C\") FROM pg_stat_user_tables" 2>&1)"
expect "analyze: the partitioned tables' own statistics (inherited) are there" 3 \
  "$(q "${ks}_r" "SELECT count(DISTINCT tablename) FROM pg_stats WHERE inherited AND tablename IN ('m', 'ml', 'ml_eu')" 2>&1)"
expect "analyze: one job per partition tree" "ANALYZE public.m (and its partitions)|ANALYZE public.ml (and its partitions)" \
  "$(jq -r '[.traceEvents[] | select(.cat == "analyze" and (.name | test("partitions")))] | map(.name) | sort | join("|")' "$tmp/tks.json")"
expect "keys: split where they can be (partitions, inheritance, quoted), whole where not" \
  "inh_c_extra_key inh_c_pkey inh_p_pkey m1_pkey m1_u_at_key m2_pkey m2_u_at_key my \"pk\" | dfr_pkey dfr_x_key incl_pk m_pkey m_u_at_key" \
  "$(jq -r '[.traceEvents[] | select(.name | endswith(" (its index)")) | .name | sub("^CONSTRAINT [^ ]+ "; "") | sub("^\"T\" "; "") | sub(" \\(its index\\)$"; "")]
            | sort_by(.) | join(" ")' "$tmp/tks.json") | $(jq -r '[.traceEvents[] | select(.cat == "constraint" or .cat == "index")
            | select(.name | test("\\(") | not) | select(.name | startswith("CONSTRAINT")) | .name | sub("^CONSTRAINT [^ ]+ "; "")] | sort_by(.) | join(" ")' "$tmp/tks.json")"
run restore -f "$tmp/d1" -d "dbname=$so" --trace "$tmp/no/such/dir/t.json"
expect "usage: --trace into a missing directory exits 2 before anything" "2 1" "$rc $(grep -c 'its directory does not exist' "$tmp/err")"
run restore -f "$tmp/d1" -d "dbname=$so" --maintenance-memory 12kB
expect "usage: --maintenance-memory below 1MB exits 2" "2 1" "$rc $(grep -c 'invalid --maintenance-memory' "$tmp/err")"

# =========================================================================================
# 2. Damaged dumps
# =========================================================================================
echo "# --- 2. Damaged dumps (at ${SECONDS}s)"
IFS='|' read -r cfile crows cstart cend < <(mf "$tmp/d1" "SELECT c->>'file', c->>'rows', c->>'start_page', c->>'end_page'
  FROM jsonb_array_elements(:'m'::jsonb->'tables') t, jsonb_array_elements(t->'chunks') c
  WHERE t->>'schema' = 'public' AND t->>'name' = 'accounts'
  ORDER BY (c->>'stored_bytes')::bigint DESC, c->>'file' LIMIT 1")
naccounts=$(mf "$tmp/d1" "SELECT jsonb_array_length(t->'chunks') FROM jsonb_array_elements(:'m'::jsonb->'tables') t
  WHERE t->>'schema' = 'public' AND t->>'name' = 'accounts'")
if [[ -z $cfile || $naccounts -lt 3 ]]; then
  fail "damage: pick the largest accounts chunk" "file '$cfile', $naccounts chunks (want several)"
else
  # the source rows of that chunk: its page range (the source has not changed since)
  IFS='|' read -r amin amax acount < <(q "$src" "SELECT min(aid), max(aid), count(*) FROM public.accounts
    WHERE ctid >= '($cstart,0)'::tid AND ctid < '($cend,0)'::tid")
  fresh() { rm -rf -- "${tmp:?}/$1"; cp -a "$tmp/d1" "$tmp/$1"; }
  fresh bad
  size=$(stat -c %s "$tmp/bad/$cfile")
  pos=$((size / 2))
  old=$(byte_at "$tmp/bad/$cfile" "$pos")
  flip "$tmp/bad/$cfile" "$pos"
  bad=${p}bad
  adddb "$bad"
  run restore -f "$tmp/bad" -d "dbname=$bad" --create -j 1 --no-progress
  if [[ $rc -eq 1 ]] && grep -qF "$cfile" "$tmp/err" && grep -qF 'public.accounts' "$tmp/err"; then
    pass "damage: changed byte $pos of $cfile ($size bytes): exit 1 naming the chunk and public.accounts"
  else fail "damage: changed byte in $cfile" "exit $rc, expected 1 naming $cfile and public.accounts"; fi
  expect "damage: the damaged chunk has no journal row" 0 "$(q "$bad" "SELECT count(*) FROM _pgferry.journal WHERE item = 'chunk:$cfile'" 2>&1)"
  if mism=$(exactly_once "$bad" "$tmp/bad"); then
    pass "damage: every table holds exactly its journaled chunks' rows (accounts: $(q "$bad" "SELECT count(*) FROM public.accounts") of 200000)"
  else fail "damage: exactly the journaled chunks" "$mism"; fi
  if [[ $acount == "$crows" && $((amax - amin + 1)) == "$acount" ]]; then
    expect "damage: none of the chunk's rows (aid $amin..$amax) in the target" 0 \
      "$(q "$bad" "SELECT count(*) FROM public.accounts WHERE aid BETWEEN $amin AND $amax" 2>&1)"
  else fail "damage: locate the chunk's rows in the source" "pages $cstart..$cend hold $acount rows (aid $amin..$amax), manifest says $crows"; fi
  put_byte "$tmp/bad/$cfile" "$pos" "$old"
  run restore -f "$tmp/bad" -d "dbname=$bad" --resume -j 3 --no-progress
  expect "damage: byte put back, --resume exits 0" 0 "$rc"
  same_as "damage then resume" "$tmp/src" "$bad"

  # a changed last byte (the trailer) of a chunk of types_zoo (text format: composite types)
  IFS='|' read -r zfile zformat < <(mf "$tmp/d1" "SELECT c->>'file', t->>'format'
    FROM jsonb_array_elements(:'m'::jsonb->'tables') t, jsonb_array_elements(t->'chunks') c
    WHERE t->>'schema' = 'public' AND t->>'name' = 'types_zoo' ORDER BY c->>'file' LIMIT 1")
  fresh bad2
  flip "$tmp/bad2/$zfile" $(($(stat -c %s "$tmp/bad2/$zfile") - 1))
  zoo=${p}zoo
  adddb "$zoo"
  run restore -f "$tmp/bad2" -d "dbname=$zoo" --create -j 2 --no-progress
  if [[ $rc -eq 1 ]] && grep -qF "$zfile" "$tmp/err" && grep -qF 'public.types_zoo' "$tmp/err"; then
    pass "damage: changed last byte of $zfile ($zformat format): exit 1 naming it and public.types_zoo"
  else fail "damage: changed last byte of $zfile" "exit $rc, expected 1 naming $zfile and public.types_zoo"; fi
  if mism=$(exactly_once "$zoo" "$tmp/bad2") &&
     [[ $(q "$zoo" "SELECT count(*) FROM _pgferry.journal WHERE item = 'chunk:$zfile'") == 0 ]]; then
    pass "damage: $zfile not journaled, every table holds exactly its journaled chunks' rows"
  else fail "damage: $zfile not journaled, exactly the journaled chunks" "${mism:-the damaged chunk is journaled}"; fi

  # refused before the target is touched
  empty=${p}empty
  newdb "$empty"
  refused() { # NAME DIR WHAT...
    local name=$1 dir=$2 w
    shift 2
    run restore -f "$dir" -d "dbname=$empty" -j 2 --no-progress
    if [[ $rc -ne 1 ]]; then fail "refuse: $name" "exit $rc, expected 1"; return; fi
    for w in "$@"; do grep -qF -- "$w" "$tmp/err" || { fail "refuse: $name" "stderr does not name \"$w\""; return; }; done
    if [[ $(user_objects "$empty") != 0 ]]; then fail "refuse: $name" "the target database was changed"; return; fi
    pass "refuse: $name: exit 1 naming it, target untouched"
  }
  fresh trunc && truncate -s -1 "$tmp/trunc/$cfile"
  refused "truncated $cfile" "$tmp/trunc" "$cfile" "public.accounts"
  fresh missing && rm -- "$tmp/missing/$cfile"
  refused "missing $cfile" "$tmp/missing" "$cfile" "missing"
  fresh extra && echo stray >"$tmp/extra/data/1.999.chunk"
  refused "extra file data/1.999.chunk" "$tmp/extra" "data/1.999.chunk" "not in the manifest"
  fresh edited
  line=$(grep -n "\"rows\": $crows,\$" "$tmp/edited/manifest.json" | head -n 1 | cut -d: -f1)
  sed -i "${line}s/\"rows\": $crows,/\"rows\": $((crows + 1)),/" "$tmp/edited/manifest.json"
  if cmp -s "$tmp/d1/manifest.json" "$tmp/edited/manifest.json"; then fail "refuse: edited manifest" "could not edit a rows value"
  else refused "manifest with one rows value changed ($crows -> $((crows + 1)))" "$tmp/edited" "manifest"; fi
  adddb "${p}never"
  run restore -f "$tmp/trunc" -d "dbname=${p}never" --create --no-progress
  expect "refuse: with --create: exit 1, the database is not created" 1/0 \
    "$rc/$(q postgres "SELECT count(*) FROM pg_database WHERE datname = '${p}never'" 2>&1)"
fi

# =========================================================================================
# 3. kill -9 and server crash, then --resume
# =========================================================================================
echo "# --- 3. kill -9 (at ${SECONDS}s)"
src3=${p}src3
if ! load_sample "$src3" 3; then fail "load sample data (scale 3)" "psql failed" "$tmp/load.log"; echo "restore: $passed passed, $failed failed"; exit 1; fi
run dump -d "dbname=$src3" -f "$tmp/d3" -j 2 --chunk-size 512kB --no-progress
if [[ $rc -ne 0 ]]; then fail "dump (scale 3)" "exit $rc"; echo "restore: $passed passed, $failed failed"; exit 1; fi
snap "$src3" "$tmp/src3"
nchunks=$(mf "$tmp/d3" "SELECT count(*) FROM jsonb_array_elements(:'m'::jsonb->'tables') t, jsonb_array_elements(t->'chunks') c")
echo "# scale 3 dump: $nchunks chunks"

# cond KIND: SQL that is true once the kill point KIND has been reached.
cond() {
  local chunks="(SELECT count(*) FROM _pgferry.journal WHERE item LIKE 'chunk:%')"
  case $1 in
    journal) echo "true" ;; # pre-data in flight
    pre-data) echo "EXISTS (SELECT 1 FROM _pgferry.journal WHERE item LIKE 'pre-data:%')" ;;
    third) echo "$chunks >= $(((nchunks + 2) / 3))" ;;
    half) echo "$chunks >= $(((nchunks + 1) / 2))" ;;
    entry) echo "EXISTS (SELECT 1 FROM _pgferry.journal WHERE item LIKE 'entry:%')" ;;
    sequences) echo "EXISTS (SELECT 1 FROM _pgferry.journal WHERE item = 'sequences')" ;;
  esac
}
# killed_then_resumed NAME KIND HOW [DB FLAGS...]: into a new empty database, or DB.
killed_then_resumed() {
  local name=$1 kind=$2 how=$3 db=${4:-} mism
  shift 3
  if [[ -n $db ]]; then shift; else db=${p}k_${kind}_$how; newdb "$db"; fi
  interrupt "$name" "$db" "$(cond "$kind")" "$how" "$tmp/d3" "$@"
  case $? in 1) return ;; 2) return ;; esac
  if journal_exists "$db"; then
    if mism=$(exactly_once "$db" "$tmp/d3"); then pass "$name: exactly the journaled chunks' rows are in"
    else fail "$name: exactly the journaled chunks' rows are in" "$mism"; fi
  fi
  run restore -f "$tmp/d3" -d "dbname=$db" --resume -j 3 --no-progress
  expect "$name: --resume exits 0" 0 "$rc"
  same_as "$name, resumed" "$tmp/src3" "$db"
}

killed_then_resumed "kill -9 in pre-data" journal kill
killed_then_resumed "kill -9 right after pre-data" pre-data kill

# the refusals, on an unfinished restore
db=${p}k_refusals
newdb "$db"
if interrupt "kill -9 at half the chunks" "$db" "$(cond half)" kill "$tmp/d3"; then
  if mism=$(exactly_once "$db" "$tmp/d3"); then pass "kill -9 at half the chunks: exactly the journaled chunks' rows are in"
  else fail "kill -9 at half the chunks: exactly the journaled chunks' rows are in" "$mism"; fi
  j0=$(q "$db" "SELECT count(*) || '/' || max(at) FROM _pgferry.journal")
  run restore -f "$tmp/d1" -d "dbname=$db" --resume --no-progress
  if [[ $rc -eq 1 ]] && grep -q 'another dump' "$tmp/err"; then pass "refuse: --resume with another dump (\"another dump\")"
  else fail "refuse: --resume with another dump" "exit $rc, expected 1 and \"another dump\""; fi
  run restore -f "$tmp/d3" -d "dbname=$db" --no-progress
  if [[ $rc -eq 1 ]] && grep -q -- '--resume' "$tmp/err"; then pass "refuse: plain restore over an unfinished one (mentions --resume)"
  else fail "refuse: plain restore over an unfinished one" "exit $rc, expected 1 mentioning --resume"; fi
  expect "refuse: the unfinished journal was left alone" "$j0" "$(q "$db" "SELECT count(*) || '/' || max(at) FROM _pgferry.journal" 2>&1)"
  run restore -f "$tmp/d3" -d "dbname=$db" --resume -j 3 --no-progress
  expect "kill -9 at half the chunks: --resume exits 0" 0 "$rc"
  same_as "kill -9 at half the chunks, resumed" "$tmp/src3" "$db"
  run restore -f "$tmp/d3" -d "dbname=$db" --resume --no-progress
  if [[ $rc -eq 1 ]] && grep -q 'journal' "$tmp/err"; then pass "refuse: --resume into a database without a journal"
  else fail "refuse: --resume into a database without a journal" "exit $rc, expected 1 naming the journal"; fi
fi

killed_then_resumed "kill -9 in post-data" entry kill
# over the restored database: --resume must finish what --clean started (its large
# objects replace the ones already there)
killed_then_resumed "kill -9 in the finishing steps of --clean" sequences kill "$db" --clean
if [[ -n ${PF_CLUSTER_DATA:-} && -n ${PF_CLUSTER_LOG:-} && -n ${PF_PG_BINDIR:-} ]]; then
  killed_then_resumed "server crash (immediate stop) mid-restore" third crash
else
  echo "SKIP - server crash: not run by tests/harness/with_cluster.sh (no PF_CLUSTER_DATA)"
fi
killed_then_resumed "kill -9 mid-COPY, no freeze" third nolock

summary restore
