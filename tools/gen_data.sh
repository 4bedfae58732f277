#!/usr/bin/env bash
# gen_data.sh - reproducible benchmark dataset for pgferry (bench/run.sh uses it).
#
#   bash tools/gen_data.sh -d DB [--scale S] [--many-tables N] [--no-vacuum]
#
# -d DB           database to fill (anything psql -d takes; PG* variables for the rest).
#                 It must exist; the schemas below are dropped and recreated.
# --scale S       S=1 is about 200 MB of heap (S may be fractional, e.g. 0.2; 0 = none):
#                   bench.huge      ~60%  one table much larger than the rest (orders-like)
#                   bench.accounts  ~17%  pgbench_accounts-like (aid, bid, abalance, filler)
#                   bench.events    ~15%  jsonb payload + text message, bigserial id
#                   bench.wide       ~8%  26 columns of many built-in types
#                 with primary keys, two secondary indexes and one foreign key.
# --many-tables N N small tables many.t00001.. (PK, ~10 rows each) (default 10000; 0 = none)
#
# Every value is a function of the row number (hashint8extended with fixed seeds, md5), so
# two runs at the same scale produce byte-identical tables on any machine. Generation
# runs server-side (generate_series); the tables are VACUUM FREEZE ANALYZEd at the end so
# no benchmarked tool pays for hint bits or visibility-map setting.
set -euo pipefail

db= scale=1 many=10000 vacuum=1
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    -d|--dbname) db=${2:?}; shift 2 ;;
    --scale) scale=${2:?}; shift 2 ;;
    --many-tables) many=${2:?}; shift 2 ;;
    --no-vacuum) vacuum=0; shift ;;
    -h|--help) usage ;;
    *) echo "gen_data: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ -n $db ]] || { echo "gen_data: -d DB is required" >&2; usage; }
[[ $scale =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "gen_data: --scale must be a number >= 0, not '$scale'" >&2; exit 2; }
[[ $many =~ ^[0-9]+$ ]] || { echo "gen_data: --many-tables must be a whole number, not '$many'" >&2; exit 2; }

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$db")
rows() { awk -v s="$scale" -v b="$1" 'BEGIN { n = int(s * b + 0.5); print (n < 1 && s > 0) ? 1 : n }'; }

if [[ $scale != 0 && $scale != 0.0 ]]; then
  n_huge=$(rows 1000000) n_acc=$(rows 250000) n_ev=$(rows 120000) n_wide=$(rows 50000)
  t0=$EPOCHREALTIME
  "${PSQL[@]}" -v n_huge="$n_huge" -v n_acc="$n_acc" -v n_ev="$n_ev" -v n_wide="$n_wide" <<'SQL'
SET synchronous_commit = off; SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
-- r(g, k): a deterministic pseudo-random non-negative bigint for row g, stream k.
CREATE FUNCTION bench.r(g bigint, k int) RETURNS bigint IMMUTABLE PARALLEL SAFE LANGUAGE sql
  AS $$ SELECT pg_catalog.hashint8extended(g, k) & 9223372036854775807 $$;
-- w(g, k): one word of a small vocabulary, for text that compresses like real text.
CREATE FUNCTION bench.w(g bigint, k int) RETURNS text IMMUTABLE PARALLEL SAFE LANGUAGE sql
  AS $$ SELECT (ARRAY['alpha','bravo','charlie','delta','echo','foxtrot','golf','hotel','india',
    'juliet','kilo','lima','mike','november','oscar','papa','quebec','romeo','sierra','tango',
    'uniform','victor','whiskey','xray','yankee','zulu','order','payment','shipped','refund',
    'customer','invoice'])[1 + bench.r(g, k) % 32] $$;

-- pgbench_accounts, as pgbench -i makes it (blank filler), 250k rows per unit of scale
CREATE TABLE bench.accounts (aid bigint NOT NULL, bid int NOT NULL, abalance int NOT NULL, filler char(84));
INSERT INTO bench.accounts
SELECT g, (g - 1) / 100000 + 1, (bench.r(g, 1) % 200001)::int - 100000, ''
FROM generate_series(1, :n_acc) g;
ALTER TABLE bench.accounts ADD PRIMARY KEY (aid);

-- the huge table: orders, ~60% of the data
CREATE TABLE bench.huge (
  id bigint NOT NULL, created_at timestamptz NOT NULL, customer_id int NOT NULL,
  amount numeric(12,2) NOT NULL, currency char(3) NOT NULL, status text NOT NULL,
  note text, sku text);
INSERT INTO bench.huge
SELECT g, timestamptz '2024-01-01 00:00:00+00' + g * interval '7 seconds',
       (bench.r(g, 2) % 500000)::int, (bench.r(g, 3) % 10000000) / 100.0,
       (ARRAY['EUR','USD','GBP','JPY'])[1 + bench.r(g, 4) % 4],
       (ARRAY['new','paid','shipped','delivered','returned'])[1 + bench.r(g, 5) % 5],
       bench.w(g, 6) || ' ' || bench.w(g, 7) || ' ' || bench.w(g, 8) || ' ' || bench.w(g, 9) || ' #' || (bench.r(g, 10) % 100000),
       'SKU-' || upper(substr(md5(g::text), 1, 10))
FROM generate_series(1, :n_huge) g;
ALTER TABLE bench.huge ADD PRIMARY KEY (id);
CREATE INDEX huge_customer ON bench.huge (customer_id);

-- events: jsonb payload and a text message
CREATE TABLE bench.events (
  id bigserial PRIMARY KEY, at timestamptz NOT NULL, account_id bigint NOT NULL,
  kind text NOT NULL, payload jsonb NOT NULL, message text);
INSERT INTO bench.events (id, at, account_id, kind, payload, message)
SELECT g, timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second' + (bench.r(g, 11) % 1000) * interval '1 ms',
       1 + bench.r(g, 12) % :n_acc,
       (ARRAY['login','logout','view','click','purchase','error'])[1 + bench.r(g, 13) % 6],
       jsonb_build_object('session', substr(md5('s' || g), 1, 16), 'ip', '10.' || bench.r(g, 14) % 256 || '.' || bench.r(g, 15) % 256 || '.1',
                          'ua', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)','Mozilla/5.0 (Macintosh)','curl/8.1','okhttp/4.9'])[1 + bench.r(g, 16) % 4],
                          'items', jsonb_build_array(bench.r(g, 17) % 1000, bench.r(g, 18) % 1000),
                          'ok', bench.r(g, 19) % 10 <> 0, 'score', (bench.r(g, 20) % 10000) / 100.0),
       CASE WHEN bench.r(g, 21) % 4 = 0 THEN NULL
            ELSE bench.w(g, 22) || ' ' || bench.w(g, 23) || ' ' || bench.w(g, 24) || ' ' || bench.w(g, 25) || ' ' || bench.w(g, 26) END
FROM generate_series(1, :n_ev) g;
SELECT pg_catalog.setval('bench.events_id_seq', :n_ev) \g /dev/null
CREATE INDEX events_at ON bench.events (at);
ALTER TABLE bench.events ADD CONSTRAINT events_account_fk FOREIGN KEY (account_id) REFERENCES bench.accounts (aid);

-- wide: many column types
CREATE TABLE bench.wide (
  id int PRIMARY KEY, c_smallint smallint, c_int int, c_bigint bigint, c_numeric numeric(18,4),
  c_real real, c_double double precision, c_bool boolean, c_char char(8), c_varchar varchar(40),
  c_text text, c_bytea bytea, c_date date, c_time time, c_timestamp timestamp,
  c_timestamptz timestamptz, c_interval interval, c_uuid uuid, c_inet inet, c_cidr cidr,
  c_macaddr macaddr, c_json json, c_jsonb jsonb, c_int_arr int[], c_text_arr text[], c_money money);
INSERT INTO bench.wide
SELECT g, (bench.r(g, 30) % 65536 - 32768)::smallint, (bench.r(g, 31) % 4294967296 - 2147483648)::int,
       bench.r(g, 32) - 4611686018427387904, (bench.r(g, 33) % 100000000000) / 10000.0,
       (bench.r(g, 34) % 1000000) / 997.0, (bench.r(g, 35) % 1000000000) / 7919.0, bench.r(g, 36) % 2 = 0,
       substr(md5('c' || g), 1, 8), bench.w(g, 37) || '-' || bench.w(g, 38),
       bench.w(g, 39) || ' ' || bench.w(g, 40) || ' ' || bench.w(g, 41),
       decode(substr(md5('b' || g), 1, 16), 'hex'),
       date '2000-01-01' + (bench.r(g, 42) % 10000)::int, time '00:00' + (bench.r(g, 43) % 86400) * interval '1 s',
       timestamp '2020-01-01' + (bench.r(g, 44) % 100000000) * interval '1 s',
       timestamptz '2020-01-01 00:00+00' + (bench.r(g, 45) % 100000000) * interval '1 ms',
       (bench.r(g, 46) % 1000) * interval '1 hour' + (bench.r(g, 47) % 60) * interval '1 min',
       md5('u' || g)::uuid,
       ('192.168.' || bench.r(g, 48) % 256 || '.' || bench.r(g, 49) % 256)::inet,
       ('10.' || bench.r(g, 50) % 256 || '.0.0/16')::cidr,
       ('08:00:2b:' || lpad(to_hex((bench.r(g, 51) % 256)::int), 2, '0') || ':01:02')::macaddr,
       json_build_object('k', g, 'v', bench.w(g, 52)), jsonb_build_object('a', bench.r(g, 53) % 100, 'tags', jsonb_build_array(bench.w(g, 54), bench.w(g, 55))),
       ARRAY[(bench.r(g, 56) % 1000)::int, (bench.r(g, 57) % 1000)::int, (bench.r(g, 58) % 1000)::int],
       ARRAY[bench.w(g, 59), bench.w(g, 60)], ((bench.r(g, 61) % 10000000) / 100.0)::numeric::money
FROM generate_series(1, :n_wide) g;
SQL
  printf 'gen_data: scale %s: huge %s, accounts %s, events %s, wide %s rows (%.1f s)\n' "$scale" \
    "$n_huge" "$n_acc" "$n_ev" "$n_wide" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" >&2
fi

if ((many > 0)); then
  t0=$EPOCHREALTIME
  # One DO block committing every 500 tables: fast, and no transaction holds 10,000 locks.
  "${PSQL[@]}" -v many="$many" <<'SQL'
SET synchronous_commit = off; SET client_min_messages = warning;
DROP SCHEMA IF EXISTS many CASCADE;
CREATE SCHEMA many;
SELECT set_config('bench.many', :'many', false) \g /dev/null
DO $$
DECLARE n int := current_setting('bench.many')::int;
BEGIN
  FOR i IN 1..n LOOP
    EXECUTE format('CREATE TABLE many.%I (id int PRIMARY KEY, name text NOT NULL, qty int, price numeric(10,2), updated_at timestamptz)',
                   't' || lpad(i::text, 5, '0'));
    EXECUTE format('INSERT INTO many.%I SELECT g, %L || g, (%s * g) %% 97, ((%s + g) %% 10000) / 100.0, timestamptz %L + g * interval %L FROM generate_series(1, 10) g',
                   't' || lpad(i::text, 5, '0'), 'item-' || i || '-', i, i, '2025-06-01 00:00:00+00', '1 hour');
    IF i % 500 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;
SQL
  printf 'gen_data: %s small tables in schema many (%.1f s)\n' "$many" \
    "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" >&2
fi

if ((vacuum)); then
  t0=$EPOCHREALTIME
  "${PSQL[@]}" -c 'VACUUM (FREEZE, ANALYZE)' -c 'CHECKPOINT'
  printf 'gen_data: vacuum freeze analyze + checkpoint (%.1f s)\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" >&2
fi
