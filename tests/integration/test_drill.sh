#!/usr/bin/env bash
# test_drill.sh: verify --db (a live database against a dump) and drill (timed restore into
# a scratch database, verified, dropped). Runs inside tests/harness/with_cluster.sh (PG*
# set; PGFERRY and PGFERRY_SRC given by ctest).
set -u
: "${PGFERRY:?}" "${PGFERRY_SRC:?}"
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-drill.XXXXXX") || exit 1
trap 'rm -rf -- "$tmp"' EXIT

pass() { echo "PASS - $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL - $1"
  failed=$((failed + 1))
  [ -n "${2:-}" ] && [ -s "$2" ] && sed 's/^/    | /' "$2"
}
check() { # check NAME OUTFILE COMMAND...: passes when COMMAND succeeds
  local name=$1 out=$2
  shift 2
  if "$@"; then pass "$name"; else fail "$name" "$out"; fi
}
run() { # run OUTFILE CMD...: exit code in $rc
  local out=$1
  shift
  "$@" >"$out" 2>&1
  rc=$?
}
psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
scratch_dbs() { psql -X -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgferry_drill_%'"; }

createdb src || exit 1
psqlq -v scale=1 -d src -f "$PGFERRY_SRC/tools/sample_data.sql" >/dev/null || exit 1
D=$tmp/dump
run "$tmp/o" "$PGFERRY" dump -d dbname=src -f "$D" -j 2 --chunk-size 1MB --no-progress
check "dump exits 0" "$tmp/o" test "$rc" -eq 0

# --- verify --db --------------------------------------------------------------------------
run "$tmp/o" "$PGFERRY" verify "$D" --db dbname=src -j 2
check "verify --db of the source itself: OK" "$tmp/o" test "$rc" -eq 0
run "$tmp/o" "$PGFERRY" restore -f "$D" -d dbname=dst --create -j 2 --no-progress
check "restore exits 0" "$tmp/o" test "$rc" -eq 0
run "$tmp/o" "$PGFERRY" verify "$D" --db dbname=dst -j 2 --json
check "verify --db of an untouched restore: OK" "$tmp/o" bash -c '[ "$1" -eq 0 ] && grep -q "\"ok\": true" "$2"' _ "$rc" "$tmp/o"

edit_case() { # edit_case NAME SQL EXPECT_TABLE EXPECT_TEXT
  createdb -T dst case_db || return 1
  psqlq -d case_db -c "$2" || return 1
  run "$tmp/o" "$PGFERRY" verify "$D" --db dbname=case_db -j 2
  check "verify --db catches $1" "$tmp/o" bash -c '[ "$1" -eq 1 ] && grep -qF "$2" "$4" && grep -qF "$3" "$4"' _ "$rc" "$3" "$4" "$tmp/o"
  # exactly one table reported: the check is about that table, not noise
  local n
  n=$(grep -c '^verify: database table' "$tmp/o")
  check "verify --db names only the changed table ($1)" "$tmp/o" test "$n" -eq 1
  dropdb case_db
}
edit_case "a deleted row" "DELETE FROM public.accounts WHERE aid = 4242" "public.accounts" "199999 rows, the dump 200000"
edit_case "an edited value" "UPDATE public.types_zoo SET num = num + 1 WHERE id = 10" "public.types_zoo" "content differs"
edit_case "an extra row" "INSERT INTO public.events_nopk VALUES ('extra', 1, now())" "public.events_nopk" "20051 rows, the dump 20050"
edit_case "a swapped value pair (same count, same multiset of columns)" \
  "UPDATE public.gen_drop SET a = CASE id WHEN 1 THEN 2 ELSE 1 END WHERE id IN (1, 2)" "public.gen_drop" "content differs"
edit_case "a dropped table" "DROP TABLE public.cache" "public.cache" "missing"
edit_case "a changed large object" "SELECT lo_put(424242, 0, '\\x09'::bytea)" "pg_catalog.pg_largeobject" "content differs"

# --- drill ---------------------------------------------------------------------------------
run "$tmp/o" "$PGFERRY" drill "$D" --target dbname=postgres -j 2 --report "$tmp/report.json"
check "drill passes" "$tmp/o" test "$rc" -eq 0
check "drill prints a Markdown report with every phase" "$tmp/o" bash -c '
  for p in "checks" "schema (pre-data)" "| data |" "indexes and constraints" "post-data" "verification" "**total**" "**PASS**"; do
    grep -qF "$p" "$1" || { echo "missing: $p"; exit 1; }
  done' _ "$tmp/o"
check "drill report lists every table as ok" "$tmp/o" bash -c '[ "$(grep -c "| ok |" "$1")" -ge 13 ]' _ "$tmp/o"
report=$(cat "$tmp/report.json" 2>/dev/null)
cat >"$tmp/report.sql" <<'SQL'
SELECT (j->>'ok')::bool
   AND j->'seconds' ?& array['checks', 'schema', 'data', 'indexes_constraints', 'post_data', 'verification', 'total']
   AND (j->'seconds'->>'total')::float > 0
   AND jsonb_array_length(j->'tables') >= 13
FROM (SELECT :'r'::jsonb j) x
SQL
check "--report FILE writes JSON with every phase's seconds" "$tmp/report.json" \
  bash -c 'psql -X -At -v r="$1" -f "$2" | grep -qx t' _ "$report" "$tmp/report.sql"
check "drill dropped its scratch database" "$tmp/o" test "$(scratch_dbs)" = 0

run "$tmp/o" "$PGFERRY" drill "$D" --target dbname=postgres --report "$tmp/report.md" --keep
kept=$(psql -X -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'pgferry_drill_%'")
check "--keep keeps the scratch database" "$tmp/o" test -n "$kept"
check "--report FILE.md writes Markdown" "$tmp/report.md" grep -q "^# pgferry restore drill" "$tmp/report.md"
[ -n "$kept" ] && dropdb "$kept"

# forced failure: a damaged chunk makes the restore fail; the scratch database still goes
cp -a "$D" "$tmp/bad"
big=$(ls -S "$tmp/bad"/data/*.chunk | head -1)
printf '\x01' | dd of="$big" bs=1 seek=$(($(stat -c %s "$big") / 2)) conv=notrunc status=none
run "$tmp/o" "$PGFERRY" drill "$tmp/bad" --target dbname=postgres --report "$tmp/bad.json"
check "drill of a damaged dump exits 1 and says why" "$tmp/o" bash -c '[ "$1" -eq 1 ] && grep -q "FAIL" "$2" && grep -qF "$(basename "$3")" "$2"' _ "$rc" "$tmp/o" "$big"
check "drill dropped its scratch database after the failure" "$tmp/o" test "$(scratch_dbs)" = 0
check "the failure report is written too" "$tmp/bad.json" grep -q '"ok": false' "$tmp/bad.json"

# a dump whose restored data would differ cannot be made without editing the manifest
# (caught by its checksum); a target that refuses CREATE DATABASE is a clear error
psqlq -c "DROP ROLE IF EXISTS pf_nocreate; CREATE ROLE pf_nocreate LOGIN"
run "$tmp/o" "$PGFERRY" drill "$D" --target "dbname=postgres user=pf_nocreate"
check "drill without CREATEDB: one-line error, exit 1" "$tmp/o" bash -c '[ "$1" -eq 1 ] && grep -q "permission denied to create database" "$2"' _ "$rc" "$tmp/o"
run "$tmp/o" "$PGFERRY" drill "$D"
check "drill without --target: usage error" "$tmp/o" test "$rc" -eq 2

# --- drills as evidence: recorded in the repository, shown by list, judged by status -------
R=$tmp/repo
PGFERRY_NOW=2026-11-27T03:00:00Z "$PGFERRY" dump -d dbname=src --repo "$R" --no-progress >"$tmp/o" 2>&1
check "dump --repo" "$tmp/o" test -f "$R/20261127T030000Z/manifest.json"
PGFERRY_NOW=2026-11-28T05:00:00Z "$PGFERRY" drill --repo "$R" --backup latest --target dbname=postgres --json \
  --no-progress -j 3 --report "$tmp/drill.html" >"$tmp/dj" 2>"$tmp/o"
rc=$?
rec=$R/.drills/20261127T030000Z-20261128T050000Z.json
check "drill --repo: passes and records its result in REPO/.drills/<label>-<time>.json" "$tmp/o" \
  bash -c '[ "$1" -eq 0 ] && [ -f "$2" ] && grep -qxF "pgferry drill: recorded in $2" "$3"' _ "$rc" "$rec" "$tmp/o"
check "the record: ok, RTO, phases, version, target without password, per-table checks" "$rec" python3 - "$rec" \
  "$("$PGFERRY" --version | awk '{print $2}')" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["label"] == "20261127T030000Z" and r["time"] == "2026-11-28T05:00:00Z" and r["ok"] is True, r
assert isinstance(r["rto_seconds"], float) and r["rto_seconds"] > 0, r["rto_seconds"]
ph = r["phase_seconds"]
assert {"checks", "schema", "data", "indexes_constraints", "post_data", "verification", "total"} <= set(ph), ph
assert r["pgferry_version"] == sys.argv[2] and r["target"]["dbname"] == "postgres", r
assert "password" not in json.dumps(r["target"])
assert len(r["tables"]) >= 13 and all(t["check"] == "ok" for t in r["tables"])
PY
check "drill --json: rto_seconds and the record's absolute path" "$tmp/dj" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["recorded"] == sys.argv[2] and j["rto_seconds"] > 0 and j["ok"] is True, j' "$tmp/dj" "$rec"

st() { PGFERRY_NOW=$1 "$PGFERRY" status --repo "$R" --max-age 400d "${@:2}" >"$tmp/o" 2>&1; rc=$?; }
rto=$(python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["rto_seconds"])' "$rec")
st 2026-12-10T00:00:00Z --max-drill-age 35d --max-rto 2h
check "status --max-drill-age 35d --max-rto 2h: OK, the drill named, perfdata drill_age and rto" "$tmp/o" \
  bash -c '[ "$1" -eq 0 ] && grep -qF "; last passing drill 11d19h ago (restore " "$2" &&
           grep -qF " '\''drill_age'\''=1018800s;3024000;;0; '\''rto'\''=${3}s;7200;;0;" "$2"' _ "$rc" "$tmp/o" "$rto"
st 2027-01-10T00:00:00Z --max-drill-age 35d
check "status: the last passing drill older than --max-drill-age is a WARNING (exit 1)" "$tmp/o" \
  bash -c '[ "$1" -eq 1 ] && grep -q "^PGFERRY WARNING - last passing restore drill is 42d19h old (max 35d) |" "$2"' _ "$rc" "$tmp/o"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["rto_seconds"]=9000.0; json.dump(r, open(sys.argv[1], "w"))' "$rec"
st 2026-12-10T00:00:00Z --max-drill-age 35d --max-rto 2h
check "status: a restore slower than --max-rto is a WARNING" "$tmp/o" \
  bash -c '[ "$1" -eq 1 ] && grep -q "^PGFERRY WARNING - last passing restore drill'\''s restore took 2h30m (RTO 2h) |" "$2"' _ "$rc" "$tmp/o"
st 2026-12-10T00:00:00Z --max-rto 0h
check "status --max-rto 0h: usage error" "$tmp/o" bash -c '[ "$1" -eq 3 ] && grep -qF "invalid --max-rto \"0h\"" "$2"' _ "$rc" "$tmp/o"

# --- the HTML report, rendered by a real browser -------------------------------------------
# Debian's chromium, headless: it must be installed (tools/install-deps.sh), else this FAILS.
H=$tmp/drill.html
check "--report FILE.html: an HTML page" "$H" bash -c 'head -c 15 "$1" | grep -qx "<!DOCTYPE html>"' _ "$H"
check "the page references nothing outside itself (no http(s)://, src=, href=, url(), @import)" "$H" \
  bash -c '! grep -Eiq "https?://|[[:space:]](src|href)=|url\(|@import" "$1"' _ "$H"
if ! command -v chromium >/dev/null; then
  fail "chromium is not installed: tools/install-deps.sh installs it (the HTML report is checked in a browser)"
else
  chrome() { timeout 120 chromium --headless --no-sandbox --disable-gpu --force-color-profile=srgb \
    --user-data-dir="$tmp/chrome" --hide-scrollbars "$@" "file://$H" 2>>"$tmp/chrome.log"; }
  chrome --dump-dom >"$tmp/dom.html"
  check "chromium renders the page: every table, the timeline's jobs and lanes, the verdict and RTO" "$tmp/dom.html" \
    python3 - "$tmp/dom.html" "$rec" <<'PY'
import json, re, sys
dom = open(sys.argv[1]).read()
rec = json.load(open(sys.argv[2]))
for t in rec["tables"]:
    name = (t["schema"] + "." + t["name"]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f"<td>{name}</td>" in dom, f"table {name} missing"
svg = re.search(r'<svg id="timeline".*?</svg>', dom, re.S)
assert svg, "no timeline"
jobs = re.findall(r'<g class="job" data-kind="([a-z-]+)"', svg.group(0))
assert jobs.count("load") >= 13 and "index" in jobs and "analyze" in jobs, jobs
for lane in ("coordinator", "worker 1", "worker 2", "worker 3"):
    assert f">{lane}</text>" in svg.group(0), lane
assert '<div class="verdict">PASS</div>' in dom and "RTO: restore to ready to serve" in dom
assert len(re.findall(r'<span class="pill ok">ok</span>', dom)) == len(rec["tables"])
PY
  chrome --screenshot="$tmp/drill.png" --window-size=1280,1600 >/dev/null
  check "chromium's screenshot of the page: the verdict's green, the loads' blue, the indexes' orange, many colours" \
    "$tmp/chrome.log" python3 - "$tmp/drill.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": hdr = struct.unpack(">IIBBBBB", body)
    if kind == b"IDAT": idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[:4]
assert depth == 8 and ctype in (2, 6), hdr
bpp = 3 if ctype == 2 else 4
raw, stride, prev, counts, off = zlib.decompress(idat), w * bpp, bytearray(w * bpp), {}, 0
for y in range(h):
    f, line = raw[off], bytearray(raw[off + 1:off + 1 + stride]); off += 1 + stride
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3]); counts[px] = counts.get(px, 0) + 1
    prev = line
for name, rgb in (("PASS green", "1f9d55"), ("load blue", "3b82c4"), ("index orange", "f08c2e")):
    assert counts.get(bytes.fromhex(rgb), 0) >= 200, f"{name} #{rgb}: {counts.get(bytes.fromhex(rgb), 0)} pixels"
assert len(counts) >= 50, f"only {len(counts)} colours: a blank page?"
print(f"{w}x{h}, {len(counts)} colours")
PY
fi
# a failing drill is recorded too, and said first
cp -a "$R/20261127T030000Z" "$R/20261129T030000Z"
big=$(ls -S "$R/20261129T030000Z"/data/*.chunk | head -1)
printf '\x01' | dd of="$big" bs=1 seek=$(($(stat -c %s "$big") / 2)) conv=notrunc status=none
PGFERRY_NOW=2026-11-29T05:00:00Z "$PGFERRY" drill --repo "$R" --backup 20261129T030000Z --target dbname=postgres \
  --no-progress --report "$tmp/fail.html" >"$tmp/o" 2>&1
rc=$?
check "the HTML report of a failed drill: FAIL, the error naming the damaged chunk, the jobs that ran" "$tmp/fail.html" \
  bash -c 'grep -qF "<div class=\"verdict\">FAIL</div>" "$1" && grep -q "<div class=\"error\">restore failed: .*$2" "$1" &&
           grep -qF "<b>not restored</b>" "$1" && grep -qF "<g class=\"job\" data-kind=\"load\">" "$1"' \
  _ "$tmp/fail.html" "$(basename "$big")"
check "a failing drill is recorded (ok false)" "$tmp/o" \
  bash -c '[ "$1" -eq 1 ] && grep -q "\"ok\": false" "$2"' _ "$rc" "$R/.drills/20261129T030000Z-20261129T050000Z.json"
st 2026-11-30T00:00:00Z --max-drill-age 35d
check "status: the newest drill failed is a WARNING that names it" "$tmp/o" bash -c '[ "$1" -eq 1 ] &&
  grep -q "^PGFERRY WARNING - the last restore drill (of 20261129T030000Z at 2026-11-29T05:00:00Z) FAILED |" "$2"' _ "$rc" "$tmp/o"
PGFERRY_NOW=2026-11-30T00:00:00Z "$PGFERRY" list --repo "$R" >"$tmp/o" 2>&1
check "list --repo: the last drill, the last passing one, each backup's (DRILLED)" "$tmp/o" bash -c '
  grep -qx "last drill: FAILED 2026-11-29T05:00:00Z (19h ago) of 20261129T030000Z, restore unknown" "$1" &&
  grep -qx "last passing drill: PASS 2026-11-28T05:00:00Z (1d19h ago) of 20261127T030000Z, restore 2h30m" "$1" &&
  grep -Eq "^20261127T030000Z .* complete .* never +ok 2026-11-28T05:00Z +-$" "$1" &&
  grep -Eq "^20261129T030000Z .* complete .* never +FAILED 2026-11-29T05:00Z +-$" "$1"' _ "$tmp/o"
PGFERRY_NOW=2026-11-30T00:00:00Z "$PGFERRY" list --repo "$R" --json >"$tmp/o" 2>&1
check "list --repo --json: last_drill, last_passing_drill, each backup's last drill" "$tmp/o" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["drills"] == 2 and j["last_drill"]["ok"] is False and j["last_drill"]["rto_seconds"] is None, j
assert j["last_passing_drill"]["label"] == "20261127T030000Z" and j["last_passing_drill"]["rto_seconds"] == 9000
assert [b["last_drill"]["ok"] for b in j["backups"]] == [True, False]' "$tmp/o"

# prune never takes the drill records for a backup, nor removes them with their backup
PGFERRY_NOW=2026-12-10T00:00:00Z "$PGFERRY" prune --repo "$R" --keep-last 1 >"$tmp/o" 2>&1
check "prune removes the older backup and keeps both drill records" "$tmp/o" bash -c '[ ! -e "$1/20261127T030000Z" ] &&
  [ "$(ls "$1/.drills" | wc -l)" -eq 2 ] && ! grep -q "drills" "$2"' _ "$R" "$tmp/o"
mkdir -p "$tmp/nodrill" && touch "$tmp/nodrill/.pgferry-repo" && cp -a "$R/20261129T030000Z" "$tmp/nodrill/"
PGFERRY_NOW=2026-11-30T00:00:00Z "$PGFERRY" status --repo "$tmp/nodrill" --max-age 2d --max-drill-age 35d >"$tmp/o" 2>&1
rc=$?
check "status --max-drill-age without any drill: WARNING, said as such" "$tmp/o" bash -c '[ "$1" -eq 1 ] &&
  grep -q "^PGFERRY WARNING - no passing restore drill recorded (0 drills, none passed) |" "$2"' _ "$rc" "$tmp/o"

echo "drill: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
