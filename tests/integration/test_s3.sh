#!/usr/bin/env bash
# test_s3.sh: dumps and repositories on S3, against a real S3-protocol server (the npm
# package s3rver, installed into /var/cache/pgferry-s3rver when missing) started here on a
# free loopback port. The sample data dumped straight to s3:// and restored from it,
# identical; multipart uploads and ranged reads (small part and range sizes); verify on S3
# and a flipped byte in one chunk object named; a repository on S3 (dump --repo, list,
# status, prune); the server killed mid-dump (exit 1, no manifest); the server killed
# mid-restore, restarted, and restore --resume finishing identically; a missing bucket and
# wrong credentials as one line naming the bucket; no secret in any output. Runs inside
# tests/harness/with_cluster.sh (PG* set) with PGFERRY and PGFERRY_SRC.
set -u
PF_TEST_NAME=s3
PF_TEST_PREFIX=pf_s3_
# shellcheck source=tests/integration/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

S3RVER_DIR=${PGFERRY_S3RVER_DIR:-/var/cache/pgferry-s3rver}
s3rver=$S3RVER_DIR/node_modules/.bin/s3rver
if [[ ! -x $s3rver ]]; then
  command -v npm >/dev/null || { echo "FAIL - s3rver: npm is missing (tools/install-deps.sh installs it)"; exit 1; }
  mkdir -p "$S3RVER_DIR" &&
    npm install --no-audit --no-fund --prefix "$S3RVER_DIR" s3rver@3.7.1 >"$tmp/npm.log" 2>&1 ||
    { echo "FAIL - s3rver: npm install failed"; tail -n 5 "$tmp/npm.log"; exit 1; }
fi

bucket=pgferry-test
data=$tmp/s3data
# pgferry's staged local files (pg_dump's log of a dump to s3://) go to $TMPDIR: a private one,
# so that the checks below see whether any is left
export TMPDIR=$tmp/tmpdir
mkdir -p "$TMPDIR"
mkdir -p "$data"
s3pid=
port=
# start_s3: s3rver on $port, bucket created; waits until it answers. The port is chosen
# below the kernel's ephemeral range, so that no client connection can take it while the
# server is down between a kill and its restart on the same port.
starts=0
start_s3() {
  local i try
  for ((try = 0; try < 20; try++)); do
    [[ -n $port ]] || port=$((20000 + RANDOM % 10000))
    starts=$((starts + 1))
    # s3rver's continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider
    NODE_OPTIONS=--openssl-legacy-provider "$s3rver" -d "$data" -a 127.0.0.1 -p "$port" --configure-bucket "$bucket" \
      >"$tmp/s3rver.$starts.log" 2>&1 &
    s3pid=$!
    bg+=("$s3pid")
    for ((i = 0; i < 200; i++)); do
      if grep -q 'listening on' "$tmp/s3rver.$starts.log" && curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        ln -sf "$tmp/s3rver.$starts.log" "$tmp/s3rver.log"
        return 0
      fi
      alive "$s3pid" || break
      sleep 0.05
    done
    kill -KILL "$s3pid" 2>/dev/null
    wait "$s3pid" 2>/dev/null
    if [[ -n ${keep_port:-} ]]; then sleep 0.5; else port=; fi # same port again, or another one
  done
  echo "FAIL - start s3rver"
  cat "$tmp/s3rver.$starts.log"
  exit 1
}
stop_s3() { kill -KILL "$s3pid" 2>/dev/null; wait "$s3pid" 2>/dev/null; }

start_s3
keep_port=1 # restarts must come back where the clients look
# s3rver knows the access key S3RVER; the secret and token are ours, to look for in outputs
secret='pfSecretDoNotPrint/9f8e7d6c5b4a'
token='pfTokenDoNotPrint+1a2b3c4d'
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_DEFAULT_REGION
export HOME=$tmp/home # no ~/.aws of the machine's
mkdir -p "$HOME"
# small parts and ranges: the sample's chunks become multipart uploads read in many ranges
export PGFERRY_S3_PART_SIZE=64kB PGFERRY_S3_RANGE_SIZE=48kB PGFERRY_S3_RETRIES=2
outputs=()
keep_out() { cp "$tmp/out" "$tmp/o.${#outputs[@]}"; cp "$tmp/err" "$tmp/e.${#outputs[@]}"; outputs+=("$tmp/o.${#outputs[@]}" "$tmp/e.${#outputs[@]}"); }
obj() { echo "$data/$bucket/$1._S3rver_object"; } # the file behind an object

src=${p}src
load_sample "$src" 1 || { fail "load sample data" "psql failed" "$tmp/load.log"; summary s3; exit 1; }
snap "$src" "$tmp/src"

# ---- round trip --------------------------------------------------------------------------
run dump -d "dbname=$src" -f "s3://$bucket/dumps/one" -j 4 --no-progress
keep_out
expect "dump -f s3:// exits 0" 0 "$rc"
[[ -s $(obj dumps/one/manifest.json) ]] && pass "the manifest is an object" || fail "manifest object" "missing"
nchunks=$(find "$data/$bucket/dumps/one/data" -name '*.chunk._S3rver_object' | wc -l)
((nchunks > 0)) && pass "chunks are objects ($nchunks)" || fail "chunk objects" "none"
big=$(find "$data/$bucket/dumps/one/data" -name '*.chunk._S3rver_object' -size +200k | head -n 1)
[[ -n $big ]] && pass "a chunk larger than 3 parts exists (multipart: $(basename "$big" ._S3rver_object))" || fail "multipart" "no chunk above 200 kB"
ls "$TMPDIR"/pgferry-pg_dump-* >/dev/null 2>&1 && fail "pg_dump's staged log" "left in \$TMPDIR" || pass "no staged pg_dump log left behind"

run list "s3://$bucket/dumps/one"
keep_out
expect "list s3:// exits 0" 0 "$rc"
grep -q 'complete' "$tmp/out" && pass "list says complete" || fail "list" "not complete"

run verify "s3://$bucket/dumps/one" -j 2
keep_out
expect "verify s3:// exits 0" 0 "$rc"

dst=${p}dst
adddb "$dst"
run restore -f "s3://$bucket/dumps/one" -d "dbname=$dst" --create -j 3 --no-progress
keep_out
expect "restore -f s3:// exits 0" 0 "$rc"
same_as "restore from s3://" "$tmp/src" "$dst"

# copy --keep-dump s3://: the dump written beside the copy is whole and restores
cdst=${p}cdst
adddb "$cdst"
run copy --source "dbname=$src" --target "dbname=$cdst" --create --keep-dump "s3://$bucket/dumps/kept" -j 2 --no-progress
keep_out
expect "copy --keep-dump s3:// exits 0" 0 "$rc"
same_as "copy with --keep-dump s3://" "$tmp/src" "$cdst"
ls "$TMPDIR"/pgferry-pg_dump-* >/dev/null 2>&1 && fail "copy's pg_dump log" "left in \$TMPDIR" || pass "copy --keep-dump s3://: no pg_dump log left behind"
run verify "s3://$bucket/dumps/kept"
keep_out
expect "verify of the kept dump on s3:// exits 0" 0 "$rc"
kdst=${p}kdst
adddb "$kdst"
run restore -f "s3://$bucket/dumps/kept" -d "dbname=$kdst" --create -j 2 --no-progress
keep_out
expect "restore of the kept dump from s3:// exits 0" 0 "$rc"
same_as "restore of the kept dump from s3://" "$tmp/src" "$kdst"

# cat of a chunk object
first=$(find "$data/$bucket/dumps/one/data" -name '*.chunk._S3rver_object' | head -n 1)
first=$(basename "$first" ._S3rver_object)
run cat "s3://$bucket/dumps/one/data/$first"
expect "cat s3://.../data/$first exits 0" 0 "$rc"
[[ -s $tmp/out ]] && pass "cat prints the chunk's COPY data" || fail "cat" "no output"

# ---- corruption ----------------------------------------------------------------------------
cp -r "$data/$bucket/dumps/one" "$tmp/saved-one"
f=$big
size=$(stat -c %s "$f")
flip "$f" $((size / 2))
run verify "s3://$bucket/dumps/one" -j 2
keep_out
expect "verify of a flipped byte exits 1" 1 "$rc"
name=$(basename "$big" ._S3rver_object)
grep -q "data/$name" "$tmp/err" && pass "verify names the damaged chunk data/$name" || fail "verify names the chunk" "data/$name not in stderr"

# ---- errors --------------------------------------------------------------------------------
run dump -d "dbname=$src" -f "s3://no-such-bucket-$$/x" --no-progress
keep_out
expect "dump to a missing bucket exits 1" 1 "$rc"
lines=$(wc -l <"$tmp/err")
grep -q "no-such-bucket-$$" "$tmp/err" && ((lines == 1)) && pass "one line naming the missing bucket: $(cat "$tmp/err")" ||
  fail "missing bucket error" "expected one line naming no-such-bucket-$$"
run list "s3://no-such-bucket-$$/x"
keep_out
expect "list of a missing bucket exits 1" 1 "$rc"
AWS_ACCESS_KEY_ID=NOTAKEY "$PGFERRY" verify "s3://$bucket/dumps/one" >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "verify with wrong credentials exits 1" 1 "$rc"
grep -q "bad credentials for bucket $bucket" "$tmp/err" && pass "wrong credentials: one line naming the bucket: $(head -n 1 "$tmp/err")" ||
  fail "wrong credentials error" "no 'bad credentials for bucket $bucket'"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "$PGFERRY" list "s3://$bucket/dumps/one" >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "no credentials exits 1" 1 "$rc"
grep -q "no S3 credentials" "$tmp/err" && pass "no credentials: says so" || fail "no credentials" "not said"
# credentials from a profile in a credentials file
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n[pft]\naws_access_key_id = S3RVER\naws_secret_access_key = %s\n' "$secret" >"$HOME/.aws/credentials"
printf '[profile pft]\nregion = us-east-1\ns3 =\n  endpoint_url = http://127.0.0.1:%s\n' "$port" >"$HOME/.aws/config"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL_S3 AWS_PROFILE=pft \
  "$PGFERRY" list "s3://$bucket/dumps/one" >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "AWS_PROFILE with ~/.aws/credentials and ~/.aws/config (nested s3 endpoint_url): list exits 0" 0 "$rc"
rm -rf "$HOME/.aws"
rm -rf "$data/$bucket/dumps/one"
cp -r "$tmp/saved-one" "$data/$bucket/dumps/one"

# ---- a repository on S3 --------------------------------------------------------------------
repo=s3://$bucket/repo
PGFERRY_NOW=2026-11-27T03:00:00Z "$PGFERRY" dump -d "dbname=$src" --repo "$repo" -j 2 --no-progress >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "dump --repo s3:// (1) exits 0" 0 "$rc"
PGFERRY_NOW=2026-11-28T03:00:00Z "$PGFERRY" dump -d "dbname=$src" --repo "$repo" -j 2 --no-progress --tag second >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "dump --repo s3:// (2) exits 0" 0 "$rc"
[[ -z $(find "$data/$bucket/repo" -name '.*.lock._S3rver_object' 2>/dev/null) ]] && pass "no lock object left after the dumps" || fail "lock objects" "left behind"
PGFERRY_NOW=2026-11-28T04:00:00Z "$PGFERRY" list --repo "$repo" >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "list --repo s3:// exits 0" 0 "$rc"
expect "list --repo shows two complete backups" 2 "$(grep -cE '^[0-9]{8}T[0-9]{6}Z +[-0-9: ]+ complete' "$tmp/out")"
PGFERRY_NOW=2026-11-28T04:00:00Z "$PGFERRY" status --repo "$repo" --max-age 26h >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "status --repo s3:// is OK" 0 "$rc"
grep -q '^PGFERRY OK - newest backup 20261128T030000Z' "$tmp/out" && pass "status names the newest backup" || fail "status" "$(cat "$tmp/out")"
run verify "s3://$bucket/repo/20261128T030000Z"
keep_out
expect "verify of a backup on S3 exits 0" 0 "$rc"
[[ -s $(obj repo/.verify/20261128T030000Z.json) ]] && pass "verify recorded its result in the repository" || fail "verify record" "missing"
# a backup named without its label: --backup latest / TAG, --as-of
PGFERRY_NOW=2026-11-28T04:00:00Z "$PGFERRY" verify --repo "$repo" --backup second >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "verify --repo s3:// --backup TAG exits 0" 0 "$rc"
grep -q 'using backup 20261128T030000Z' "$tmp/err" && pass "--backup TAG chose the tagged backup" || fail "--backup TAG" "not 20261128T030000Z"
rdb2=${p}rlatest
adddb "$rdb2"
PGFERRY_NOW=2026-11-28T04:00:00Z "$PGFERRY" restore --repo "$repo" --as-of 2026-11-27T12:00:00Z -d "dbname=$rdb2" --create -j 2 --no-progress >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "restore --repo s3:// --as-of exits 0" 0 "$rc"
grep -q 'using backup 20261127T030000Z' "$tmp/err" && pass "--as-of chose the backup taken before it" || fail "--as-of" "not 20261127T030000Z"
same_as "restore --repo s3:// --as-of" "$tmp/src" "$rdb2"
q "$src" "DELETE FROM public.docs WHERE id <= 10" >/dev/null
"$PGFERRY" diff -d "dbname=$src" -t public.docs --repo "$repo" --backup latest >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "diff against a backup on s3:// exits 0" 0 "$rc"
[[ $(awk '$1 == "public.docs" { print $2 }' "$tmp/out") == 10 ]] && pass "diff sees the 10 deleted rows" ||
  fail "diff from s3://" "the 10 deleted rows not reported"
PGFERRY_NOW=2026-11-28T04:00:00Z "$PGFERRY" prune --repo "$repo" --keep-last 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "prune --repo s3:// exits 0" 0 "$rc"
grep -q '^remove  *20261127T030000Z' "$tmp/out" && pass "prune removes the older backup" || fail "prune decision" "20261127T030000Z not removed"
left=$(find "$data/$bucket/repo" -path '*20261127T030000Z*' -name '*._S3rver_object' | wc -l)
expect "nothing of the pruned backup is left (not even .removing-)" 0 "$left"
PGFERRY_NOW=2026-11-28T04:00:00Z "$PGFERRY" list --repo "$repo" >"$tmp/out" 2>"$tmp/err"
expect "list --repo after prune: one backup" 1 "$(grep -cE '^[0-9]{8}T[0-9]{6}Z +[-0-9: ]+ complete' "$tmp/out")"
# a lock held by another host (a lease that has not expired) keeps prune out
printf 'pgferry lock\nowner: other\nhost: elsewhere\npid: 1\ntoken: x\nexpires: %s\n' $(($(date +%s) + 600)) >"$tmp/lock"
curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "S3RVER:$secret" \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$tmp/lock" "http://127.0.0.1:$port/$bucket/repo/.pgferry.lock" >"$tmp/curl.out"
run prune --repo "$repo" --keep-last 1
keep_out
expect "prune while another host holds the repository's lock exits 1" 1 "$rc"
grep -q 'another pgferry prune is running' "$tmp/err" && pass "prune says another prune holds the lock" || fail "prune lock" "not said"
curl -s -o /dev/null -X DELETE --aws-sigv4 "aws:amz:us-east-1:s3" --user "S3RVER:$secret" \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "http://127.0.0.1:$port/$bucket/repo/.pgferry.lock"

# ---- two dumps into one repository at once (as two hosts would) -----------------------------
repo2=s3://$bucket/repo2
for i in 1 2; do
  PGFERRY_NOW=2026-11-29T03:00:00Z "$PGFERRY" dump -d "dbname=$src" --repo "$repo2" -j 2 --no-progress \
    >"$tmp/two$i.out" 2>"$tmp/two$i.err" &
  two[i]=$!
  bg+=("${two[i]}")
done
wait "${two[1]}"; rc1=$?
wait "${two[2]}"; rc2=$?
expect "two concurrent dumps --repo into one S3 repository both exit 0" "0 0" "$rc1 $rc2"
PGFERRY_NOW=2026-11-29T04:00:00Z "$PGFERRY" list --repo "$repo2" >"$tmp/out" 2>"$tmp/err"
keep_out
got=$(grep -oE '^20261129T030000Z(-1)? +[-0-9: ]+ complete' "$tmp/out" | awk '{ print $1 }' | sort | tr '\n' ' ')
expect "they wrote two backups under two labels" "20261129T030000Z 20261129T030000Z-1 " "$got"
for l in 20261129T030000Z 20261129T030000Z-1; do
  run verify "$repo2/$l" -j 2
  keep_out
  expect "verify $l (written beside another dump) exits 0" 0 "$rc"
done

# ---- the server killed mid-dump ------------------------------------------------------------
bigdb=${p}big
newdb "$bigdb"
q "$bigdb" "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 1500000) g" >/dev/null
snap "$bigdb" "$tmp/big"
"$PGFERRY" dump -d "dbname=$bigdb" -f "s3://$bucket/dumps/killed" -j 2 --no-progress >"$tmp/k.out" 2>"$tmp/k.err" &
dpid=$!
bg+=("$dpid")
# once the first part of a chunk has reached the server
poll 60 bash -c "find '$data' -newer '$tmp/big.data' -type f | grep -v '/dumps/killed/data/\\._S3rver' | grep -q ." ||
  echo "# the dump wrote nothing before the kill point"
stop_s3
wait "$dpid"
rc=$?
expect "the server killed mid-dump: dump exits 1" 1 "$rc"
[[ $(wc -l <"$tmp/k.err") -le 3 ]] && pass "mid-dump failure: a short error ($(tail -n 1 "$tmp/k.err"))" || fail "mid-dump error" "long" "$tmp/k.err"
start_s3
[[ ! -e $(obj dumps/killed/manifest.json) ]] && pass "no manifest after the killed dump" || fail "killed dump" "has a manifest"
run list "s3://$bucket/dumps/killed"
keep_out
expect "list of the killed dump exits 1 (not a dump)" 1 "$rc"

# ---- the server killed mid-restore, then --resume ------------------------------------------
run dump -d "dbname=$bigdb" -f "s3://$bucket/dumps/big" -j 2 --no-progress
keep_out
expect "dump of the larger table exits 0" 0 "$rc"
rdb=${p}rbig
newdb "$rdb"
"$PGFERRY" restore -f "s3://$bucket/dumps/big" -d "dbname=$rdb" -j 2 --no-progress >"$tmp/k.out" 2>"$tmp/k.err" &
rpid=$!
bg+=("$rpid")
poll 120 reached "$rdb" "(SELECT count(*) FROM _pgferry.journal WHERE item LIKE 'chunk:%') >= 1" ||
  echo "# no chunk committed before the kill point"
stop_s3
wait "$rpid"
rc=$?
expect "the server killed mid-restore: restore exits 1" 1 "$rc"
grep -q -- '--resume' "$tmp/k.err" && pass "the failed restore points at --resume" || fail "resume hint" "missing" "$tmp/k.err"
start_s3
run restore -f "s3://$bucket/dumps/big" -d "dbname=$rdb" -j 2 --resume --no-progress
keep_out
expect "restore --resume from s3:// exits 0" 0 "$rc"
same_as "restore --resume after the S3 server came back" "$tmp/big" "$rdb"

# ---- an interrupted dump removes what it wrote (multipart uploads aborted) -------------------
"$PGFERRY" dump -d "dbname=$bigdb" -f "s3://$bucket/dumps/interrupted" -j 2 --no-progress >"$tmp/i.out" 2>"$tmp/i.err" &
ipid=$!
bg+=("$ipid")
touch "$tmp/mark"
poll 60 bash -c "find '$data/$bucket' -newer '$tmp/mark' -path '*_S3rver_uploads*' -type f | grep -q ." ||
  echo "# no multipart upload seen before the interrupt"
kill -INT "$ipid"
wait "$ipid"
rc=$?
expect "dump to s3:// interrupted (SIGINT) exits 130" 130 "$rc"
left=$(find "$data/$bucket/dumps/interrupted" -name '*._S3rver_object' 2>/dev/null | wc -l)
expect "the interrupted dump left no object under its prefix" 0 "$left"
# s3rver does not implement AbortMultipartUpload (it answers 405), but its log shows the
# interrupted dump asked for it: a DELETE of KEY?uploadId=ID (CompleteMultipartUpload, the
# only other request of that shape, succeeds with 200)
cat "$tmp"/s3rver.*.log | grep -aq 'dumps/interrupted/data/[0-9.]*chunk?uploadId=[0-9a-f]* 405' &&
  pass "the interrupted dump aborted its multipart uploads" || fail "abort of multipart uploads" "no abort request in s3rver's log" "$tmp/s3rver.log"

# ---- a dump --repo killed: its lease keeps it "being written" until it expires ----------------
# The lease is real time, renewed every third of it: long enough that a renewal delayed by
# s3rver (busy with the dump's uploads) or a slow status under ASan still sees it, and the
# second status waits until the lock's own "expires" has passed instead of a fixed sleep.
export PGFERRY_S3_LOCK_LEASE=15
PGFERRY_NOW=2026-11-28T05:00:00Z "$PGFERRY" dump -d "dbname=$bigdb" --repo "$repo" -j 2 --no-progress >"$tmp/r.out" 2>"$tmp/r.err" &
kpid=$!
bg+=("$kpid")
poll 60 test -e "$(obj repo/.20261128T050000Z.lock)" || echo "# the killed dump's lock never appeared"
poll 60 bash -c "find '$data/$bucket/repo/20261128T050000Z' -name '*.chunk._S3rver_object' 2>/dev/null | grep -q ." ||
  echo "# the killed dump wrote no chunk"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null
PGFERRY_NOW=2026-11-28T05:10:00Z "$PGFERRY" status --repo "$repo" --max-age 26h >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expires=$(sed -n 's/^expires: //p' "$(obj repo/.20261128T050000Z.lock)" 2>/dev/null)
grep -q 'dump 20261128T050000Z running' "$tmp/out" && pass "while its lease lasts, the killed dump counts as being written ($(cat "$tmp/out"))" ||
  fail "killed dump while its lease lasts" "not shown as running (the lock expires at ${expires:-?}, now $(date +%s))"
wait_s=$((${expires:-0} + 1 - $(date +%s)))
((wait_s > 0)) && sleep "$wait_s"
PGFERRY_NOW=2026-11-28T05:10:00Z "$PGFERRY" status --repo "$repo" --max-age 26h >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "once the lease expired, status warns (exit 1)" 1 "$rc"
grep -q 'newest backup 20261128T050000Z is incomplete' "$tmp/out" && pass "status: the killed dump is incomplete" || fail "status after the lease" "$(cat "$tmp/out")"
PGFERRY_NOW=2026-11-29T06:00:00Z "$PGFERRY" prune --repo "$repo" --keep-last 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "prune a day later exits 0" 0 "$rc"
grep -q '^remove  *20261128T050000Z' "$tmp/out" && pass "prune removes the killed dump a day later" || fail "prune of the killed dump" "not removed"
left=$(find "$data/$bucket/repo" -path '*20261128T050000Z*' -name '*._S3rver_object' | wc -l)
expect "nothing of the killed dump is left, its lock included" 0 "$left"
unset PGFERRY_S3_LOCK_LEASE

# ---- drill from s3:// ------------------------------------------------------------------------
run drill "s3://$bucket/dumps/one" --target dbname=postgres -j 2 --report "$tmp/drill.json"
keep_out
expect "drill s3:// exits 0" 0 "$rc"
# a drill of a backup in an S3 repository leaves its record there, through the same store
PGFERRY_NOW=2026-11-30T05:00:00Z "$PGFERRY" drill --repo "$repo2" --backup 20261129T030000Z --target dbname=postgres \
  -j 2 --no-progress >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
expect "drill --repo s3:// exits 0" 0 "$rc"
expect "drill --repo s3:// records its result in REPO/.drills/" \
  "pgferry drill: recorded in $repo2/.drills/20261129T030000Z-20261130T050000Z.json" \
  "$(grep 'recorded in' "$tmp/err")"
PGFERRY_NOW=2026-12-01T05:00:00Z "$PGFERRY" list --repo "$repo2" >"$tmp/out" 2>"$tmp/err"
keep_out
expect "list --repo s3:// shows the last drill" "last drill: PASS 2026-11-30T05:00:00Z (1d ago) of 20261129T030000Z" \
  "$(grep '^last drill:' "$tmp/out" | sed 's/, restore .*//')"
PGFERRY_NOW=2026-12-01T05:00:00Z "$PGFERRY" status --repo "$repo2" --max-age 400d --max-drill-age 35d >"$tmp/out" 2>"$tmp/err"
rc=$?
keep_out
[[ $rc == 0 ]] && grep -qF "; last passing drill 1d ago" "$tmp/out" && pass "status --max-drill-age on s3://: OK" ||
  fail "status --max-drill-age on s3://" "exit $rc: $(cat "$tmp/out")"

# ---- no secret anywhere ----------------------------------------------------------------------
leaks=$(grep -l -e "$secret" -e "$token" "${outputs[@]}" "$tmp"/[kir].out "$tmp"/[kir].err "$tmp/drill.json" 2>/dev/null | wc -l)
expect "no secret or session token in any output" 0 "$leaks"

((failed == 0)) || { echo "# the S3 server's last log:"; tail -n 30 "$tmp/s3rver.log" | sed 's/^/    s3rver| /'; }
summary s3
