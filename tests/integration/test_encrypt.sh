#!/usr/bin/env bash
# test_encrypt.sh: encryption at rest and secret handling (dump --encrypt). Runs inside
# tests/harness/with_cluster.sh (PG* set; PGFERRY and PGFERRY_SRC given by ctest).
set -u
: "${PGFERRY:?}" "${PGFERRY_SRC:?}"
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-encrypt.XXXXXX") || exit 1
chmod 700 "$tmp"
trap 'rm -rf -- "$tmp"' EXIT

pass() { echo "PASS - $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL - $1${2:+: $2}"
  failed=$((failed + 1))
}
check() { # check NAME COMMAND...: passes when COMMAND succeeds
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

MARKER='MARKER-q7Zx-SECRET-ROW-DATA'
PASSPHRASE='correct horse battery staple 9f3'
DBPASSWORD='Pw-4b1d-NOT-IN-ARGV'
printf '%s\n' "$PASSPHRASE" >"$tmp/pass"
chmod 600 "$tmp/pass"
printf 'not the passphrase\n' >"$tmp/wrong"
chmod 600 "$tmp/wrong"
log=$tmp/all-output.log # every command's stdout and stderr, checked for secrets at the end
run() { # run OUTFILE CMD...: exit code in $rc, output in OUTFILE and appended to the log
  local out=$1
  shift
  "$@" >"$out" 2>&1
  rc=$?
  cat "$out" >>"$log"
}

createdb src || exit 1
psqlq -v scale=1 -d src -f "$PGFERRY_SRC/tools/sample_data.sql" >/dev/null || exit 1
psqlq -d src -c "CREATE TABLE public.secrets (id int PRIMARY KEY, note text);
  INSERT INTO public.secrets SELECT g, '$MARKER ' || g FROM generate_series(1, 2000) g;
  COMMENT ON TABLE public.secrets IS '$MARKER in the schema too';
  SELECT lo_from_bytea(777001, convert_to('$MARKER in a large object', 'UTF8'));" >/dev/null || exit 1
digest() { # digest DB: every table's rows, in a stable order
  psql -X -At -d "$1" -c "SELECT string_agg(n || ':' || c, ',' ORDER BY n) FROM (
    SELECT 'secrets' n, md5(string_agg(s::text, '|' ORDER BY s::text)) c FROM public.secrets s
    UNION ALL SELECT 'accounts', md5(string_agg(a::text, '|' ORDER BY a.aid)) FROM public.accounts a
    UNION ALL SELECT 'types_zoo', md5(string_agg(t::text, '|' ORDER BY t.id)) FROM public.types_zoo t
    UNION ALL SELECT 'lo', md5(string_agg(oid::text || md5(lo_get(oid)), ',' ORDER BY oid)) FROM pg_largeobject_metadata) x"
}
src_digest=$(digest src)

# --- dump -----------------------------------------------------------------------------
D=$tmp/enc
run "$tmp/o" "$PGFERRY" dump -d dbname=src -f "$D" -j 2 --chunk-size 1MB --encrypt --passphrase-file "$tmp/pass" --no-progress
check "encrypted dump exits 0" test "$rc" -eq 0
nfiles=$(find "$D" -type f | wc -l)
hits=$(grep -rlaF "$MARKER" "$D" | wc -l)
check "marker string appears in none of the $nfiles files (all bytes)" test "$hits" -eq 0 -a "$nfiles" -gt 10
check "chunk files start with the encryption magic" bash -c 'for f in "$1"/data/*.chunk "$1"/schema.dump; do head -c 7 "$f" | grep -q PGFENC2 || exit 1; done' _ "$D"
check "dump directory is 0700, files 0600" bash -c '[ "$(stat -c %a "$1")" = 700 ] && ! find "$1" -type f ! -perm 600 | grep -q .' _ "$D"
check "manifest records encryption, no password" bash -c 'grep -q "\"cipher\": \"aes-256-gcm\"" "$1/manifest.json" && ! grep -qi password "$1/manifest.json"' _ "$D"

# --- plaintext dump of the same data for comparison: hashes in the clear differ ---------
run "$tmp/o" "$PGFERRY" dump -d dbname=src -f "$tmp/plain" -j 2 --chunk-size 1MB --no-progress
table_hash() { # table_hash MANIFEST NAME: the table's content hash, read with PostgreSQL's JSON
  # (psql expands :'m' only in commands it reads, not in -c)
  echo "SELECT e->>'content_hash' FROM jsonb_array_elements(:'m'::jsonb->'tables') e WHERE e->>'name' = :'t'" |
    psql -X -At -v m="$(cat "$1")" -v t="$2"
}
acc_plain=$(table_hash "$tmp/plain/manifest.json" accounts)
acc_enc=$(table_hash "$D/manifest.json" accounts)
check "content hashes are keyed in the encrypted manifest" test -n "$acc_plain" -a "$acc_plain" != "$acc_enc"

# --- verify and list --------------------------------------------------------------------
run "$tmp/o" "$PGFERRY" verify "$D" --passphrase-file "$tmp/pass"
check "verify with the passphrase: OK" test "$rc" -eq 0
run "$tmp/o" env -u PGFERRY_PASSPHRASE "$PGFERRY" verify "$D"
check "verify without a passphrase fails saying the dump is encrypted" bash -c '[ "$1" -eq 1 ] && grep -q "encrypted" "$2"' _ "$rc" "$tmp/o"
run "$tmp/o" "$PGFERRY" verify "$D" --passphrase-file "$tmp/wrong"
check "verify with a wrong passphrase: one line, exit 1" bash -c '[ "$1" -eq 1 ] && grep -q "wrong passphrase" "$2"' _ "$rc" "$tmp/o"
run "$tmp/o" "$PGFERRY" list "$D" --passphrase-file "$tmp/pass"
check "list shows the dump as encrypted" bash -c '[ "$1" -eq 0 ] && grep -q "encrypted" "$2"' _ "$rc" "$tmp/o"
run "$tmp/o" "$PGFERRY" verify "$tmp/plain" --passphrase-file "$tmp/pass"
check "a passphrase for a plain dump is refused (no silent downgrade)" bash -c '[ "$1" -eq 1 ] && grep -q "not encrypted" "$2"' _ "$rc" "$tmp/o"

# --- restore ------------------------------------------------------------------------------
createdb wrongpw
run "$tmp/o" "$PGFERRY" restore -f "$D" -d dbname=wrongpw --passphrase-file "$tmp/wrong" --no-progress
n=$(psql -X -At -d wrongpw -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'")
check "restore with a wrong passphrase fails before writing anything" bash -c '[ "$1" -eq 1 ] && grep -q "wrong passphrase" "$2" && [ "$3" = 0 ]' _ "$rc" "$tmp/o" "$n"

run "$tmp/o" env PGFERRY_PASSPHRASE="$PASSPHRASE" "$PGFERRY" restore -f "$D" -d dbname=dst --create -j 2 --no-progress
check "restore with PGFERRY_PASSPHRASE exits 0" test "$rc" -eq 0
check "restored data identical to the source" test "$(digest dst)" = "$src_digest"
run "$tmp/o" "$PGFERRY" verify "$D" --db dbname=dst --passphrase-file "$tmp/pass"
check "verify --db of the restore against the encrypted dump: OK" test "$rc" -eq 0
run "$tmp/o" "$PGFERRY" drill "$D" --target dbname=postgres --passphrase-file "$tmp/pass" --no-progress
check "drill of the encrypted dump passes" test "$rc" -eq 0

# --- tampering --------------------------------------------------------------------------
fresh() { rm -rf "$tmp/t"; cp -a "$D" "$tmp/t"; }
big=$(ls -S "$D"/data/*.chunk | head -1)
rel=data/$(basename "$big")
size=$(stat -c %s "$big")

fresh
printf '\x5a' | dd of="$tmp/t/$rel" bs=1 seek=$((size / 2)) conv=notrunc status=none
run "$tmp/o" "$PGFERRY" verify "$tmp/t" --passphrase-file "$tmp/pass"
check "a flipped ciphertext byte: verify names the chunk" bash -c '[ "$1" -eq 1 ] && grep -qF "$2" "$3"' _ "$rc" "$rel" "$tmp/o"
run "$tmp/o" "$PGFERRY" restore -f "$tmp/t" -d dbname=flip --create --passphrase-file "$tmp/pass" --no-progress
check "a flipped ciphertext byte: restore fails naming the chunk" bash -c '[ "$1" -eq 1 ] && grep -qF "$2" "$3"' _ "$rc" "$rel" "$tmp/o"

fresh
a=$(ls "$D"/data/*.chunk | sed -n 1p)
b=$(ls "$D"/data/*.chunk | sed -n 2p)
mv "$tmp/t/data/$(basename "$a")" "$tmp/t/swap"
mv "$tmp/t/data/$(basename "$b")" "$tmp/t/data/$(basename "$a")"
mv "$tmp/t/swap" "$tmp/t/data/$(basename "$b")"
run "$tmp/o" "$PGFERRY" verify "$tmp/t" --passphrase-file "$tmp/pass"
check "two chunk files swapped: verify fails naming both" bash -c '[ "$1" -eq 1 ] && grep -qF "$(basename "$2")" "$4" && grep -qF "$(basename "$3")" "$4"' _ "$rc" "$a" "$b" "$tmp/o"
run "$tmp/o" "$PGFERRY" restore -f "$tmp/t" -d dbname=swapped --create --passphrase-file "$tmp/pass" --no-progress
check "two chunk files swapped: restore fails" test "$rc" -eq 1

# a chunk from another encrypted dump (same passphrase) under the same name: the key and
# the associated data differ, so it cannot authenticate
run "$tmp/o" "$PGFERRY" dump -d dbname=src -f "$tmp/enc2" -j 2 --chunk-size 1MB --encrypt --passphrase-file "$tmp/pass" --no-progress
fresh
cp "$tmp/enc2/$rel" "$tmp/t/$rel"
run "$tmp/o" "$PGFERRY" verify "$tmp/t" --passphrase-file "$tmp/pass"
check "a chunk replayed from another dump: verify fails naming it" bash -c '[ "$1" -eq 1 ] && grep -qF "$2" "$3"' _ "$rc" "$rel" "$tmp/o"

fresh
sed -i '0,/"rows": \([0-9]\)/s//"rows": 9\1/' "$tmp/t/manifest.json"
run "$tmp/o" "$PGFERRY" verify "$tmp/t" --passphrase-file "$tmp/pass"
check "manifest edited: authentication fails" bash -c '[ "$1" -eq 1 ] && grep -q "authentication failed" "$2"' _ "$rc" "$tmp/o"
run "$tmp/o" "$PGFERRY" restore -f "$tmp/t" -d dbname=edited --create --passphrase-file "$tmp/pass" --no-progress
check "manifest edited: restore refuses" bash -c '[ "$1" -eq 1 ] && grep -q "authentication failed" "$2"' _ "$rc" "$tmp/o"

# --- usage --------------------------------------------------------------------------------
run "$tmp/o" env -u PGFERRY_PASSPHRASE "$PGFERRY" dump -d dbname=src -f "$tmp/nopass" --encrypt
check "--encrypt without a passphrase: exit 2" test "$rc" -eq 2
run "$tmp/o" "$PGFERRY" dump -d dbname=src -f "$tmp/nopass" --passphrase-file "$tmp/pass"
check "--passphrase-file without --encrypt: exit 2" test "$rc" -eq 2
check "no directory left by the refused dumps" test ! -e "$tmp/nopass"
run "$tmp/o" "$PGFERRY" dump --help
check "no option takes a passphrase on the command line" bash -c '! grep -qE -- "--passphrase[ =]|--passphrase\$" "$1"' _ "$tmp/o"

# --- secrets in argv, environment and output ---------------------------------------------
psqlq -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pf_pwuser') THEN CREATE ROLE pf_pwuser LOGIN; END IF; END \$\$;
  ALTER ROLE pf_pwuser PASSWORD '$DBPASSWORD'" || exit 1
createdb -O pf_pwuser secdb
psqlq -d secdb -c "CREATE TABLE big (id int, pad text); INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g;
  ALTER TABLE big OWNER TO pf_pwuser" || exit 1
conninfo="host=127.0.0.1 port=$PGPORT user=pf_pwuser dbname=secdb password=$DBPASSWORD"
(export PGFERRY_PASSPHRASE="$PASSPHRASE"; exec "$PGFERRY" dump -d "$conninfo" -f "$tmp/sec" -j 1 --chunk-size 64kB --encrypt --no-progress) >"$tmp/sec.out" 2>&1 &
pid=$!
: >"$tmp/cmdlines"
: >"$tmp/environs"
saw_self=0
# From exec until its options are read, any program's argv holds what it was given (the
# conninfo's password here): pgferry blanks it while parsing its options, before it
# connects. Watching starts once its session is there.
until [ "$(psqlq -d secdb -Atc "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pf_pwuser'" 2>/dev/null)" != 0 ] ||
      ! kill -0 "$pid" 2>/dev/null; do
  sleep 0.01
done
while kill -0 "$pid" 2>/dev/null; do
  for p in $(pgrep -f 'pgferry|pg_dump' 2>/dev/null); do
    [ "$p" = "$$" ] && continue
    if { tr '\0' ' ' <"/proc/$p/cmdline" >>"$tmp/cmdlines"; } 2>/dev/null; then echo >>"$tmp/cmdlines"; fi
    [ "$p" = "$pid" ] && saw_self=1
    if grep -qa pg_dump "/proc/$p/cmdline" 2>/dev/null; then
      { tr '\0' '\n' <"/proc/$p/environ" >>"$tmp/environs"; } 2>/dev/null
    fi
  done
  sleep 0.05
done
wait "$pid"
rc=$?
cat "$tmp/sec.out" >>"$log"
check "dump as a password-protected role exits 0" test "$rc" -eq 0
check "the dumping process was observed while it ran" test "$saw_self" -eq 1
check "no password or passphrase in any /proc/<pid>/cmdline" bash -c '! grep -qF -e "$2" -e "$3" "$1"' _ "$tmp/cmdlines" "$DBPASSWORD" "$PASSPHRASE"
check "the passphrase is not in pg_dump's environment" bash -c '! grep -qF "$2" "$1"' _ "$tmp/environs" "$PASSPHRASE"
run "$tmp/o" "$PGFERRY" dump -d "host=127.0.0.1 port=$PGPORT user=pf_pwuser dbname=secdb password=wrong-$DBPASSWORD" -f "$tmp/sec2" --json
check "a failed login reports no password" bash -c '[ "$1" -eq 1 ] && ! grep -qF "$2" "$3"' _ "$rc" "$DBPASSWORD" "$tmp/o"
check "no password or passphrase in any output" bash -c '! grep -qF -e "$2" -e "$3" "$1"' _ "$log" "$DBPASSWORD" "$PASSPHRASE"
check "no password in the manifest" bash -c '! grep -rqF "$2" "$1"' _ "$tmp/sec" "$DBPASSWORD"

echo "encrypt: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
