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

-- large objects
SELECT lo_from_bytea(0, convert_to(repeat('large object data ', 1000), 'UTF8')),
       lo_from_bytea(424242, '\x00010203'::bytea) \g /dev/null

ANALYZE;
