#!/usr/bin/env bash
# test_pitr.sh: point-in-time table recovery. A repository with backups at fabricated
# times (PGFERRY_NOW): --as-of picks the newest complete backup at or before the time at
# each boundary (exactly at a label's time, a second before, an offset, before the oldest:
# an error naming it), --backup latest|LABEL|TAG, and the usage errors, on restore, verify,
# list, drill and diff. Then `pgferry diff`: tables changed after the backup (deletes,
# updates to and from NULL and of toasted values, inserts, a delete cascading through two
# ON DELETE CASCADE foreign keys, an identity column) are put back exactly by applying
# `diff --sql` with psql -v ON_ERROR_STOP=1 (every table's rows compared in full with the
# backup's), from a binary-format, a text-format and an encrypted backup; values that need
# careful quoting round-trip (bytea with \0 and \\, arrays with NULLs and quotes, jsonb,
# numeric NaN, float -0/NaN/Infinity, timestamps +-infinity, text with tabs, newlines,
# quotes, backslashes and unicode); --json counts; a table without a key is refused
# (--key fixes it); a 200k-row table is diffed with bounded memory (peak RSS). Runs inside
# tests/harness/with_cluster.sh (PG* set) with PGFERRY and PGFERRY_SRC.
set -u

PF_TEST_NAME=pitr PF_TEST_PREFIX=pfp
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

src=${p}src
R=$tmp/repo
# at TIME ARGS...: pgferry ARGS with PGFERRY_NOW=TIME.
at() { local t=$1; shift; PGFERRY_NOW=$t "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
# jget JSONFILE PATH: a value from a JSON file (the server's jsonb).
jget() { printf '\\set j `cat %s`\nSELECT (:'"'"'j'"'"'::jsonb) #>> '"'"'%s'"'"'\n' "$1" "$2" | psql -XAtq -v ON_ERROR_STOP=1 -d postgres -f -; }
# counts JSONFILE TABLE: "deleted added changed unchanged" of TABLE in diff --json output.
counts() {
  printf '\\set j `cat %s`\n%s\n' "$1" "SELECT t->>'deleted', t->>'added', t->>'changed', t->>'unchanged' FROM jsonb_array_elements(:'j'::jsonb->'tables') t WHERE t->>'table' = '$2'" |
    psql -XAtq -F ' ' -v ON_ERROR_STOP=1 -d postgres -f -
}
# one_line: one error line on stderr (besides the "using backup" line a --repo command prints)
one_line() { [[ $(grep -vc ': using backup ' "$tmp/err") -eq 1 ]]; }
# usage_err NAME GREP ARGS...: pgferry ARGS exits 2 with one line on stderr matching GREP.
usage_err() {
  local name=$1 want=$2
  shift 2
  run "$@"
  if [[ $rc -eq 2 ]] && one_line && grep -q -- "$want" "$tmp/err"; then pass "$name"
  else fail "$name" "expected exit 2 and one line with \"$want\", got exit $rc"; fi
}
tables=(public.parent public.child public.grandchild public.odd public.nokey)
# digests DB OUT: count and md5 of every table's rows.
digests() { local t; for t in "${tables[@]}"; do echo "$t $(tdigest "$1" "$t")"; done >"$2"; }

# =========================================================================================
# The database and its backups
# =========================================================================================
newdb "$src" || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d "$src" >"$tmp/load.log" 2>&1 <<'SQL' || { cat "$tmp/load.log"; echo "FAIL - load"; exit 1; }
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL, m mood DEFAULT 'ok', p posint);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent ON DELETE CASCADE, note text);
CREATE TABLE grandchild (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         child_id int NOT NULL REFERENCES child ON DELETE CASCADE, v int);
CREATE TABLE odd (id int PRIMARY KEY, b bytea, arr text[], j jsonb, n numeric, f float8, g float4,
                  ts timestamptz, t timestamp, s text, big text, iv interval, c char(5), d date);
CREATE TABLE nokey (a int, b text);
CREATE TABLE events (id int, at date, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT i, DATE '2025-06-01' + i * 5, 'event ' || i FROM generate_series(1, 100) i;
CREATE TABLE dups (a int, b int);
INSERT INTO dups VALUES (1, 1), (1, 2), (2, 3);
INSERT INTO parent SELECT i, 'parent ' || i, (ARRAY['sad', 'ok', 'happy'])[i % 3 + 1]::mood, i FROM generate_series(1, 5) i;
INSERT INTO child SELECT i, i % 5 + 1, CASE WHEN i % 7 = 0 THEN NULL ELSE 'note ' || i END FROM generate_series(1, 20) i;
INSERT INTO grandchild (child_id, v) SELECT i, i * 10 FROM generate_series(1, 20) i;
INSERT INTO odd VALUES
  (1, '\x00015c27225c5c00ff'::bytea, ARRAY['a', NULL, 'q"uote', 'back\slash', 'com,ma', '{br}', 'NULL', ''],
   '{"k": "v\"\\", "n": [1, null, 2.50], "u": "\u00e9\u2603"}', 'NaN', '-0', '-Infinity', '-infinity', 'infinity',
   E'it''s \\ ünïcødé ☃ \t tab \n newline \r cr ''quoted'' "dq" \\N', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i),
   '1 day 02:03:04.5', 'ab', '-infinity'),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, '\x'::bytea, '{}', '[]', '123456789012345678901234567890.000000000000000000001', 'NaN', 'Infinity', 'infinity',
   '2026-11-27 03:00:00.123456', '', (SELECT string_agg(md5((i * 7)::text), '') FROM generate_series(1, 500) i),
   '-3 mons +2 days', 'abcde', 'infinity'),
  (5, '\x5c'::bytea, ARRAY[ARRAY['x', NULL], ARRAY['"', '\']], 'null', '0.0', '1e308', '-1.5e-38', '1970-01-01 00:00:00+00',
   '0001-01-01 00:00:00', E'\\\\', '\', '0', '', '2000-02-29');
INSERT INTO nokey SELECT i, 'row ' || i FROM generate_series(1, 10) i;
SQL
digests "$src" "$tmp/S1" # state at the first backup

at 2026-11-27T01:00:00Z dump --repo "$R" -d "$src" --no-progress
expect "backup 1 (01:00)" 0 "$rc"
q "$src" "INSERT INTO parent VALUES (6, 'after backup 1')"
digests "$src" "$tmp/S"  # state at backups 2, 3 and 4
at 2026-11-27T02:00:00Z dump --repo "$R" -d "$src" --no-progress
expect "backup 2 (02:00, binary)" 0 "$rc"
at 2026-11-27T03:00:00Z dump --repo "$R" -d "$src" --no-progress --format text --tag textdump
expect "backup 3 (03:00, text, tag textdump)" 0 "$rc"
echo secret-words >"$tmp/pass"
at 2026-11-27T04:00:00Z dump --repo "$R" -d "$src" --no-progress --encrypt --passphrase-file "$tmp/pass"
expect "backup 4 (04:00, encrypted)" 0 "$rc"
mkdir -p "$R/20261127T050000Z" # a failed dump: incomplete, never chosen
expect "the text backup's tables are in text format" text "$(mf "$R/20261127T030000Z" "SELECT DISTINCT t->>'format' FROM jsonb_array_elements(:'m'::jsonb->'tables') t")"
expect "the binary backup's odd table is binary" binary "$(mf "$R/20261127T020000Z" "SELECT t->>'format' FROM jsonb_array_elements(:'m'::jsonb->'tables') t WHERE t->>'name' = 'odd'")"

# =========================================================================================
# 1. Choosing the backup
# =========================================================================================
# picks WHAT ARGS...: the label `list --repo R ARGS --json` chose.
picks() {
  run list --json --repo "$R" "$@"
  [[ $rc -eq 0 ]] || { echo "exit $rc: $(head -c 300 "$tmp/err")"; return; }
  jget "$tmp/out" '{dir}' | sed 's|.*/||'
}
expect "--as-of exactly at a label's time picks it" 20261127T020000Z "$(picks --as-of 2026-11-27T02:00:00Z)"
expect "--as-of a second before picks the one before" 20261127T010000Z "$(picks --as-of 2026-11-27T01:59:59Z)"
expect "--as-of with an offset (+01:00)" 20261127T020000Z "$(picks --as-of 2026-11-27T03:00:00+01:00)"
expect "--as-of without a zone is UTC" 20261127T030000Z "$(picks --as-of '2026-11-27 03:30')"
expect "--as-of after an incomplete backup skips it" 20261127T040000Z "$(picks --as-of 2026-11-27T06:00:00Z)"
expect "--backup latest (the incomplete one does not count)" 20261127T040000Z "$(picks --backup latest)"
expect "--backup LABEL" 20261127T010000Z "$(picks --backup 20261127T010000Z)"
expect "--backup TAG" 20261127T030000Z "$(picks --backup textdump)"
run list --repo "$R" --as-of 2026-11-27T02:00:00Z
if [[ $rc -eq 0 ]] && grep -q "using backup 20261127T020000Z (2026-11-27T02:00:00Z) from $R" "$tmp/err"; then
  pass "the chosen backup is printed on stderr with its time"
else fail "the chosen backup is printed" "exit $rc"; fi
usage_err "--as-of before the oldest backup: exit 2 naming the oldest" \
  "no complete backup at or before 2026-11-27T00:59:59Z: the oldest is 20261127T010000Z" \
  verify --repo "$R" --as-of 2026-11-27T00:59:59Z
usage_err "bad --as-of" 'invalid --as-of value "yesterday"' restore -d x --repo "$R" --as-of yesterday
usage_err "unknown label or tag" 'no backup labelled or tagged "nope"' restore -d x --repo "$R" --backup nope
usage_err "an incomplete backup by label" 'backup 20261127T050000Z is not complete' verify --repo "$R" --backup 20261127T050000Z
usage_err "--as-of with --backup" '--as-of and --backup exclude each other' drill --target postgres --repo "$R" --as-of 2026-11-27 --backup latest
usage_err "--repo with -f" '--repo and a dump directory' restore -d x -f "$tmp/x" --repo "$R" --backup latest
usage_err "--repo with DIR" '--repo and a dump directory' verify "$tmp/x" --repo "$R" --backup latest
usage_err "--as-of without --repo" '--as-of needs --repo' diff -d x -t t --as-of 2026-11-27
usage_err "--repo alone" '--repo needs --as-of TIME or --backup' verify --repo "$R"
chunk=$(mf "$R/20261127T030000Z" "SELECT c->>'file' FROM jsonb_array_elements(:'m'::jsonb->'tables') t, jsonb_array_elements(t->'chunks') c WHERE t->>'name' = 'parent' LIMIT 1")
run cat --repo "$R" --backup textdump "$chunk"
if [[ $rc -eq 0 ]] && grep -q $'^6\tafter backup 1' "$tmp/out"; then pass "cat --repo --backup TAG CHUNKFILE"
else fail "cat --repo" "exit $rc"; fi
usage_err "cat --repo with a path outside the backup" "a path inside the backup" cat --repo "$R" --backup latest ../x
run verify --repo "$R" --as-of 2026-11-27T02:30:00Z
if [[ $rc -eq 0 ]] && grep -q "using backup 20261127T020000Z" "$tmp/err" && grep -q "verify: OK" "$tmp/out"; then
  pass "verify --repo --as-of verifies the chosen backup"
else fail "verify --repo --as-of" "exit $rc"; fi
adddb "${p}r1"
run restore --create -d "${p}r1" --repo "$R" --as-of 2026-11-27T01:30:00Z --no-progress
expect "restore --repo --as-of restores the backup of 01:00 (without the later row)" "0 $(cut -d' ' -f2 "$tmp/S1" | head -1)" \
  "$rc $(tdigest "${p}r1" public.parent)"
PGFERRY_PASSPHRASE=secret-words "$PGFERRY" drill --repo "$R" --backup latest --target postgres --no-progress >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 0 ]] && grep -q "using backup 20261127T040000Z" "$tmp/err"; then pass "drill --repo --backup latest (encrypted, passphrase from the environment)"
else fail "drill --repo --backup latest" "exit $rc"; fi

# =========================================================================================
# 2. Changes after the backup
# =========================================================================================
q "$src" "CREATE TABLE public.later (id int PRIMARY KEY)" # not in any backup
psql -X -q -v ON_ERROR_STOP=1 -d "$src" >"$tmp/dmg.log" 2>&1 <<'SQL' || { cat "$tmp/dmg.log"; echo "FAIL - damage"; exit 1; }
DELETE FROM parent WHERE id = 3;                          -- cascades: 4 children, 4 grandchildren
UPDATE parent SET name = 'renamed', m = 'sad', p = 99 WHERE id = 1;
INSERT INTO parent VALUES (100, 'added since');
UPDATE child SET note = NULL WHERE id = 1;                -- to NULL
UPDATE child SET note = 'now set' WHERE id = 14;          -- from NULL
UPDATE grandchild SET v = v + 1 WHERE child_id = 1;
INSERT INTO grandchild (child_id, v) VALUES (1, -1);      -- added (identity 21)
DELETE FROM odd WHERE id = 1;                             -- every awkward value
UPDATE odd SET b = '\x00'::bytea, arr = '{x}', j = '{}', n = 1, f = 0, g = 0, ts = now(), t = now(), s = 's',
               big = 'small now', iv = '1s', c = 'z', d = '2000-01-01' WHERE id = 2;   -- from NULLs
UPDATE odd SET big = big || 'x', f = 1, s = NULL WHERE id = 3;   -- toasted value changed, to NULL
UPDATE odd SET b = NULL WHERE id = 5;
INSERT INTO odd (id, s) VALUES (4, 'added');
DELETE FROM nokey WHERE a <= 2;
DELETE FROM events WHERE id % 10 = 0;                     -- in both partitions
UPDATE events SET what = NULL WHERE id = 1;
SQL
digests "$src" "$tmp/D"

# --json counts, known numbers
run diff -d "$src" --repo "$R" --as-of 2026-11-27T02:00:00Z -t parent -t public.odd --cascade --json
cp "$tmp/out" "$tmp/diff.json"
expect "diff --json exits 0" 0 "$rc"
expect "parent: 1 deleted, 1 added, 1 changed, 4 unchanged" "1 1 1 4" "$(counts "$tmp/diff.json" public.parent)"
expect "child (cascade): 4 deleted, 0 added, 2 changed" "4 0 2 14" "$(counts "$tmp/diff.json" public.child)"
expect "grandchild (cascade of cascade): 4 deleted, 1 added, 1 changed" "4 1 1 15" "$(counts "$tmp/diff.json" public.grandchild)"
expect "odd: 1 deleted, 1 added, 3 changed" "1 1 3 0" "$(counts "$tmp/diff.json" public.odd)"
expect "tables in foreign-key order, cascaded ones marked" "public.parent:false public.odd:false public.child:true public.grandchild:true" \
  "$(printf '\\set j `cat %s`\n%s\n' "$tmp/diff.json" "SELECT string_agg((t->>'table') || ':' || (t->>'cascaded'), ' ' ORDER BY o) FROM jsonb_array_elements(:'j'::jsonb->'tables') WITH ORDINALITY x(t, o)" | psql -XAtq -d postgres -f -)"
expect "key from the primary key" '["id"] primary key' "$(jget "$tmp/diff.json" '{tables,0,key}') $(jget "$tmp/diff.json" '{tables,0,key_source}')"
run diff -d "$src" --repo "$R" --as-of 2026-11-27T02:00:00Z -t parent
if [[ $rc -eq 0 ]] && grep -Eq '^public.parent +1 +1 +1 +4 +id \(primary key\)' "$tmp/out"; then pass "human output: one line per table"
else fail "human output" "exit $rc"; fi

# put back: apply the script to a copy of the damaged database, compare with the backup
# restore_from NAME EXPECT ONLY DIFF-ARGS...: copy of $src, diff --sql, psql, digests.
restore_from() {
  local name=$1 want=$2 only=$3 w=${p}w$RANDOM
  shift 3
  dbs+=("$w")
  createdb -T "$src" "$w"
  rm -f "$tmp/fix.sql"
  run diff -d "$w" -t parent -t odd --cascade --only "$only" --sql "$tmp/fix.sql" "$@"
  if [[ $rc -ne 0 ]]; then fail "$name: diff --sql" "exit $rc"; return; fi
  if ! psql -X -q -v ON_ERROR_STOP=1 -d "$w" -f "$tmp/fix.sql" >"$tmp/psql.out" 2>&1; then
    fail "$name: the script applies" "psql failed" "$tmp/psql.out" "$tmp/fix.sql"; return
  fi
  digests "$w" "$tmp/got"
  if diff -u "$want" "$tmp/got" >"$tmp/d.diff"; then pass "$name: every table's rows equal the backup's"
  else fail "$name: rows differ from the backup's" "" "$tmp/d.diff" "$tmp/fix.sql"; fi
}
# every compared table is back (nokey is not compared)
grep -v nokey "$tmp/S" >"$tmp/S.keyed"
tables=(public.parent public.child public.grandchild public.odd)
restore_from "binary backup, --only all" "$tmp/S.keyed" all --repo "$R" --backup 20261127T020000Z
grep -q '^BEGIN;' "$tmp/fix.sql" && grep -q '^COMMIT;' "$tmp/fix.sql" && pass "the script is one transaction" || fail "one transaction" "" "$tmp/fix.sql"
grep -q "E'.*\\\\\\\\" "$tmp/fix.sql" && pass "values with backslashes are E'' literals with doubled backslashes" || fail "E'' literals" "" "$tmp/fix.sql"
restore_from "text backup, --only all" "$tmp/S.keyed" all --repo "$R" --backup textdump
PGFERRY_PASSPHRASE=secret-words restore_from "encrypted backup, --only all" "$tmp/S.keyed" all --repo "$R" --backup latest
restore_from "binary backup, --only deleted,changed,added (= all), by --as-of" "$tmp/S.keyed" deleted,changed,added \
  --repo "$R" --as-of 2026-11-27T02:59:59Z
# default: deleted and changed; rows added since stay
w=${p}wdef
dbs+=("$w")
createdb -T "$src" "$w"
run diff -d "$w" -t parent -t odd --cascade --sql "$tmp/def.sql" --repo "$R" --backup textdump
psql -X -q -v ON_ERROR_STOP=1 -d "$w" -f "$tmp/def.sql" >"$tmp/psql.out" 2>&1
expect "default --only: rows added since stay, the rest is back" \
  "7|1|1|1" "$(q "$w" "SELECT (SELECT count(*) FROM parent) || '|' || (SELECT count(*) FROM parent WHERE id = 100) || '|' || (SELECT count(*) FROM grandchild WHERE v = -1) || '|' || (SELECT count(*) FROM odd WHERE id = 4)")"
run diff -d "$w" -t parent -t odd --cascade --json --repo "$R" --backup textdump
expect "after the default script only the added rows differ" "0 1 0 6|0 1 0 20" \
  "$(counts "$tmp/out" public.parent)|$(counts "$tmp/out" public.grandchild)"
grep -q '^DELETE' "$tmp/def.sql" && fail "no DELETE without --only all" "" "$tmp/def.sql" || pass "no DELETE without --only all"
run diff -d "$w" -t parent --only changed --sql - --repo "$R" --backup textdump
if [[ $rc -eq 0 ]] && grep -q '^BEGIN;' "$tmp/out" && ! grep -q '^INSERT' "$tmp/out" && grep -q '^public.parent' "$tmp/err"; then
  pass "--sql - writes the script on stdout, the counts on stderr"
else fail "--sql -" "exit $rc"; fi

# a partitioned table: its partitions
evref=$(tdigest "${p}r1" public.events) # as in every backup
run diff -d "$src" -t events --json -f "$R/20261127T020000Z"
expect "a partitioned table is compared partition by partition" "0|4 0 1 37|6 0 0 52" \
  "$rc|$(counts "$tmp/out" public.events_2025)|$(counts "$tmp/out" public.events_2026)"
w=${p}wev
dbs+=("$w")
createdb -T "$src" "$w"
run diff -d "$w" -t public.events --sql "$tmp/ev.sql" -f "$R/20261127T020000Z"
psql -X -q -v ON_ERROR_STOP=1 -d "$w" -f "$tmp/ev.sql" >"$tmp/psql.out" 2>&1 || fail "events: the script applies" "psql failed" "$tmp/psql.out"
expect "... and its rows are put back" "$evref" "$(tdigest "$w" public.events)"

# a column whose type changed since a binary-format backup
w=${p}wtype
dbs+=("$w")
createdb -T "$src" "$w"
q "$w" "ALTER TABLE odd ALTER COLUMN g TYPE float8, ALTER COLUMN n TYPE numeric(60,25)"
run diff -d "$w" -t parent -t odd -f "$R/20261127T020000Z"
if [[ $rc -eq 1 ]] && grep -q 'column g of public.odd changed type since the backup (backup: real; now: double precision)' "$tmp/err"; then
  pass "a column whose type changed since a binary backup is an error naming it"
else fail "type changed since a binary backup" "exit $rc"; fi
run diff -d "$w" -t odd -f "$R/20261127T030000Z"
expect "... and compared from a text backup (values are literals cast to the new type)" 0 "$rc"

# keys
usage_err "a table without a key is refused, named" "table public.nokey has no primary key or replica identity index" \
  diff -d "$src" -t nokey --repo "$R" --backup 20261127T020000Z
run diff -d "$src" -t nokey --key a --json --repo "$R" --backup 20261127T020000Z
expect "--key fixes it (2 deleted)" "0 2 0 0 8" "$rc $(counts "$tmp/out" public.nokey)"
usage_err "--key that is not unique: exit 2 naming the key" "public.dups: key (a=1) is not unique in the backup" \
  diff -d "$src" -t dups --key a -f "$R/20261127T020000Z"
w=${p}wdupkey
dbs+=("$w")
createdb -T "$src" "$w"
q "$w" "INSERT INTO nokey VALUES (5, 'a second row with key 5')"
usage_err "--key that is not unique in the database: exit 2 naming the key" "public.nokey: key (a=5) is not unique in the database" \
  diff -d "$w" -t nokey --key a -f "$R/20261127T020000Z"
usage_err "--key with an unknown column" "key column zz is not a column of public.nokey" diff -d "$src" -t nokey --key zz -f "$R/20261127T020000Z"
usage_err "an unknown table" 'table "nosuch" does not exist' diff -d "$src" -t nosuch -f "$R/20261127T020000Z"
usage_err "a table not in the backup" "table public.later is not in the backup" diff -d "$src" -t later -f "$R/20261127T020000Z"
usage_err "--only bad" 'invalid --only value "bad"' diff -d "$src" -t parent --sql "$tmp/x.sql" --only bad -f "$R/20261127T020000Z"
usage_err "diff --as-of before the oldest" "the oldest is 20261127T010000Z" diff -d "$src" -t parent --repo "$R" --as-of 2020-01-01
usage_err "diff without -t" "missing -t TABLE" diff -d "$src" -f "$R/20261127T020000Z"
usage_err "--sql into a missing directory" "--sql" diff -d "$src" -t parent --sql "$tmp/no/such/dir/x.sql" -f "$R/20261127T020000Z"
echo "old" >"$tmp/keep.sql"
run diff -d "$src" -t parent -t nokey --sql "$tmp/keep.sql" -f "$R/20261127T020000Z"
expect "a failed diff leaves the --sql file as it was" "2 old" "$rc $(cat "$tmp/keep.sql")"
expect "diff left nothing in the database (no _pgferry schema)" 0 "$(q "$src" "SELECT count(*) FROM pg_namespace WHERE nspname = '_pgferry'")"

# =========================================================================================
# 3. A 200k-row table: bounded memory
# =========================================================================================
big=${p}big
newdb "$big"
q "$big" "CREATE TABLE big (id int PRIMARY KEY, v text, w int); INSERT INTO big SELECT i, md5(i::text) || repeat('y', i % 50), i FROM generate_series(1, 200000) i"
"$PGFERRY" dump -d "$big" -f "$tmp/bigdump" --chunk-size 1MB --no-progress >"$tmp/out" 2>"$tmp/err" || fail "dump of the big table" "exit $?"
bigref=$(tdigest "$big" public.big)
q "$big" "DELETE FROM big WHERE id % 100 = 1; UPDATE big SET w = -w WHERE id % 100 = 2; UPDATE big SET v = NULL WHERE id % 1000 = 3; INSERT INTO big SELECT i, 'new', 0 FROM generate_series(200001, 200500) i"
mkdir "$tmp/difftmp"
TMPDIR=$tmp/difftmp /usr/bin/time -v -o "$tmp/time" "$PGFERRY" diff -d "$big" -t big -f "$tmp/bigdump" -j 3 --work-mem 4MB --only all --sql "$tmp/big.sql" --json >"$tmp/out" 2>"$tmp/err"
rc=$?
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time")
echo "# diff of 200k rows: peak RSS ${rss} kB, $(jget "$tmp/out" '{tables,0,buckets}') buckets, $(jget "$tmp/out" '{seconds}') s"
expect "diff works in TMPDIR and removes its temporary directory" "" "$(ls -A "$tmp/difftmp")"
expect "big: counts" "0 2000 500 2200 195800" "$rc $(counts "$tmp/out" public.big)"
if ldd "$PGFERRY" 2>/dev/null | grep -q libasan; then
  # AddressSanitizer's shadow memory and quarantine of freed blocks are not pgferry's
  echo "SKIP - big: peak RSS bound (a sanitizer build: ${rss} kB)"
elif [[ -n $rss && $rss -lt 65536 ]]; then pass "big: peak RSS ${rss} kB < 64 MB"
else fail "big: peak RSS" "${rss:-?} kB" "$tmp/time"; fi
if [[ $(jget "$tmp/out" '{tables,0,buckets}') -gt 1 ]]; then pass "big: partitioned into several buckets"; else fail "big: buckets" "1"; fi
psql -X -q -v ON_ERROR_STOP=1 -d "$big" -f "$tmp/big.sql" >"$tmp/psql.out" 2>&1 || fail "big: the script applies" "psql failed" "$tmp/psql.out"
expect "big: the table equals the backup again" "$bigref" "$(tdigest "$big" public.big)"
run diff -d "$big" -t big -f "$tmp/bigdump" --json
expect "big: a diff after the script finds nothing" "0 0 0 200000" "$(counts "$tmp/out" public.big)"

summary test_pitr
