-- pgferry sample dataset: every kind of thing a dump must carry.
-- psql -v scale=N -f tools/sample_data.sql   (scale 1 = about 40 MB of table data)
\set ON_ERROR_STOP on
\if :{?scale}
\else
  \set scale 1
\endif

CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- extension tables/functions must not be dumped as data

-- a pgbench-like accounts table, large enough for many chunks
CREATE TABLE public.accounts (
    aid      bigint PRIMARY KEY,
    bid      int NOT NULL,
    abalance bigint NOT NULL DEFAULT 0,
    filler   char(84)
);
INSERT INTO public.accounts
SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series(1, 200000 * :scale) g;

-- no primary key, duplicate rows
CREATE TABLE public.events_nopk (kind text, n int, at timestamptz);
INSERT INTO public.events_nopk
SELECT 'dup', 1, '2026-01-01 00:00:00+00' FROM generate_series(1, 50);
INSERT INTO public.events_nopk
SELECT 'k' || (g % 7), g % 13, timestamptz '2026-01-01' + g * interval '1 minute'
FROM generate_series(1, 20000 * :scale) g;

-- partitioned table with a default partition
CREATE TABLE public.measurements (id bigserial, city int NOT NULL, logdate date NOT NULL, peak numeric(6,2))
    PARTITION BY RANGE (logdate);
CREATE TABLE public.measurements_2025 PARTITION OF public.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.measurements_2026 PARTITION OF public.measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE public.measurements_other PARTITION OF public.measurements DEFAULT;
INSERT INTO public.measurements (city, logdate, peak)
SELECT g % 50, date '2024-06-01' + (g % 900), (g % 10000) / 100.0 FROM generate_series(1, 30000 * :scale) g;

-- quoted and non-ASCII identifiers
CREATE SCHEMA "Sales Ω";
CREATE TABLE "Sales Ω"."Order ""Lines""" ("Ünïcode col" text, "MixedCase" int, "select" boolean);
INSERT INTO "Sales Ω"."Order ""Lines""" SELECT 'ü' || g || ' ✓', g, g % 2 = 0 FROM generate_series(1, 1000) g;

-- awkward types
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE public.pair AS (a int, b text);
CREATE TABLE public.types_zoo (
    id serial PRIMARY KEY,
    b bytea, j jsonb, arr int[], tarr text[], f8 float8, f4 real, num numeric,
    iv interval, ts timestamptz, d date, u uuid, m public.mood, p public.pair, marr public.mood[],
    r int4range, ip inet, bits bit varying(16), x xml
);
INSERT INTO public.types_zoo (b, j, arr, tarr, f8, f4, num, iv, ts, d, u, m, p, marr, r, ip, bits, x) VALUES
 ('\x00ff10', '{"a": [1, 2, {"b": null}], "ü": "✓"}', '{1,2,NULL}', '{"a b","c\"d",NULL}',
  'NaN', 'Infinity', 'NaN', '1 year 2 mons 3 days 04:05:06.789', '2026-11-27 12:34:56.789+02', 'infinity',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy', ROW(1, 'x,y'), '{sad,ok}', '[1,10)', '10.0.0.1/8', B'1011', '<a>t</a>'),
 (NULL, 'null', '{}', '{}', '-Infinity', '-0', '123456789012345678901234567890.123456789', '-1 day', '-infinity',
  '-infinity', NULL, 'sad', NULL, NULL, 'empty', '::1', B'', NULL),
 ('\x', '[]', '{{1,2},{3,4}}', '{"\\\\", "tab\tx", "nl\nx"}', 1e308, 1.17549435e-38, '-0.000001', '0', '1970-01-01 00:00:00+00',
  '2000-02-29', '00000000-0000-0000-0000-000000000000', 'ok', ROW(NULL, NULL), '{}', '(,)', '192.168.1.1', B'1111000011110000', '<b/>');
INSERT INTO public.types_zoo (b, j, arr, f8, num, ts)
SELECT gen_random_bytes(64), jsonb_build_object('g', g, 's', repeat('x', g % 100)), ARRAY[g, g + 1],
       g / 7.0, g * 1.5, timestamptz '2026-01-01' + g * interval '1 second'
FROM generate_series(1, 5000 * :scale) g;

-- generated and dropped columns
CREATE TABLE public.gen_drop (id int PRIMARY KEY, a int, gone text, b int, total int GENERATED ALWAYS AS (a + b) STORED);
INSERT INTO public.gen_drop (id, a, gone, b) SELECT g, g, 'bye', g * 2 FROM generate_series(1, 3000) g;
ALTER TABLE public.gen_drop DROP COLUMN gone;

-- a TOAST-heavy table
CREATE TABLE public.docs (id int PRIMARY KEY, body text);
ALTER TABLE public.docs ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO public.docs SELECT g, repeat(md5(g::text), 400) FROM generate_series(1, 2000 * :scale) g;

-- an unlogged table, an empty table, a sequence, a view, a materialized view
CREATE UNLOGGED TABLE public.cache (k text PRIMARY KEY, v text);
INSERT INTO public.cache SELECT 'k' || g, repeat('v', 20) FROM generate_series(1, 500) g;
CREATE TABLE public.empty_table (id int, note text);
CREATE SEQUENCE public.invoice_no START 1000;
SELECT count(nextval('public.invoice_no')) AS invoice_numbers_taken FROM generate_series(1, 42) \g /dev/null
CREATE VIEW public.rich AS SELECT aid, abalance FROM public.accounts WHERE abalance > 100;
CREATE MATERIALIZED VIEW public.city_peaks AS SELECT city, max(peak) AS peak FROM public.measurements GROUP BY city;

-- foreign key, check constraint, index, trigger, comment
CREATE TABLE public.branches (bid int PRIMARY KEY, name text CHECK (name <> ''));
INSERT INTO public.branches SELECT g, 'branch ' || g FROM generate_series(1, 2 * :scale) g;
ALTER TABLE public.accounts ADD CONSTRAINT accounts_bid_fk FOREIGN KEY (bid) REFERENCES public.branches (bid);
CREATE INDEX events_nopk_at ON public.events_nopk (at);
COMMENT ON TABLE public.accounts IS 'pgbench-like accounts';

-- large objects, one with a comment
SELECT lo_from_bytea(0, convert_to(repeat('large object data ', 1000), 'UTF8')),
       lo_from_bytea(424242, '\x00010203'::bytea) \g /dev/null
COMMENT ON LARGE OBJECT 424242 IS 'four bytes';

-- tables without columns: created so, and with every column dropped; both hold rows
CREATE TABLE public.no_columns ();
INSERT INTO public.no_columns SELECT FROM generate_series(1, 7);
CREATE TABLE public.all_dropped (a int, b text);
INSERT INTO public.all_dropped SELECT g, 'x' FROM generate_series(1, 5) g;
ALTER TABLE public.all_dropped DROP COLUMN a, DROP COLUMN b;

-- a domain, inheritance (the child has a column of its own), an identity column
CREATE DOMAIN public.positive AS int CHECK (VALUE > 0);
CREATE TABLE public.vehicles (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, wheels public.positive NOT NULL);
CREATE TABLE public.trucks (payload_kg int) INHERITS (public.vehicles);
INSERT INTO public.vehicles (wheels) SELECT 2 + g % 3 FROM generate_series(1, 300) g;
INSERT INTO public.trucks (id, wheels, payload_kg) SELECT 1000 + g, 6, g * 100 FROM generate_series(1, 40) g;

-- a table that refers to itself (a tree): a row's parent may sit in a later chunk
CREATE TABLE public.nodes (id int PRIMARY KEY, parent int REFERENCES public.nodes (id), label text);
INSERT INTO public.nodes SELECT g, NULL, 'root' FROM generate_series(1, 10) g;
INSERT INTO public.nodes SELECT g, 1 + g % 10, 'leaf ' || g || ' of the sample tree' FROM generate_series(11, 20000 * :scale) g;
UPDATE public.nodes SET parent = 20000 * :scale WHERE id = 1;

-- roles, a schema owned by one role whose table belongs to another, which may use the
-- schema only through a GRANT; a foreign key into it from public; row-level security and a
-- trigger
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgferry_sample_owner') THEN CREATE ROLE pgferry_sample_owner; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgferry_sample_app') THEN CREATE ROLE pgferry_sample_app; END IF;
END $$;
CREATE SCHEMA ledger AUTHORIZATION pgferry_sample_owner;
GRANT USAGE, CREATE ON SCHEMA ledger TO pgferry_sample_app;
SET ROLE pgferry_sample_app;
CREATE TABLE ledger.currencies (code char(3) PRIMARY KEY, name text NOT NULL);
RESET ROLE;
INSERT INTO ledger.currencies VALUES ('EUR', 'euro'), ('USD', 'dollar'), ('JPY', 'yen');
-- more rows than the table that refers to it: its rows (and key) are in first, so a foreign
-- key added too early would check prices' rows as they load, as currencies' owner, before
-- the GRANT that lets that owner use the schema
INSERT INTO ledger.currencies
SELECT chr(65 + g / 676 % 26) || chr(65 + g / 26 % 26) || chr(65 + g % 26), 'currency ' || g
FROM generate_series(1, 17575) g WHERE g NOT IN (4 * 676 + 20 * 26 + 17, 20 * 676 + 18 * 26 + 3, 9 * 676 + 15 * 26 + 24);
CREATE TABLE public.prices (id int PRIMARY KEY, currency char(3) NOT NULL REFERENCES ledger.currencies (code), amount numeric);
INSERT INTO public.prices SELECT g, (ARRAY['EUR', 'USD', 'JPY'])[1 + g % 3], g * 1.25 FROM generate_series(1, 1000) g;
ALTER TABLE public.prices ENABLE ROW LEVEL SECURITY;
CREATE POLICY prices_app ON public.prices TO pgferry_sample_app USING (amount < 1000);
GRANT SELECT ON public.prices TO pgferry_sample_app;
CREATE TABLE public.price_log (price_id int, at timestamptz DEFAULT now());
CREATE FUNCTION public.log_price() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO public.price_log (price_id) VALUES (NEW.id); RETURN NEW; END$$;
CREATE TRIGGER prices_log AFTER INSERT ON public.prices FOR EACH ROW EXECUTE FUNCTION public.log_price();

-- a materialized view left WITH NO DATA stays so
CREATE MATERIALIZED VIEW public.branch_names AS SELECT bid, name FROM public.branches WITH NO DATA;

-- the database's own properties (--create carries them)
DO $$ BEGIN
  EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), 'pgferry sample data');
  EXECUTE format('ALTER DATABASE %I SET work_mem = %L', current_database(), '5MB');
END $$;

ANALYZE;
