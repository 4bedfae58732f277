#!/usr/bin/env bash
# test_repo.sh: backup repositories. dump --repo (labels, lock, marker, --tag,
# --keep-forever), list --repo (human and --json), verify recording its result, status
# (OK, WARNING, CRITICAL, UNKNOWN; --require-verified), prune (--dry-run removes nothing;
# grandfather-father-son decisions on a fabricated calendar with a fixed PGFERRY_NOW; old
# failed dumps removed) and, above all, prune never touching a backup being written: one
# whose lock a shell holds with flock(1), and a real `dump --repo` kept waiting on a table
# lock while prune and status run. Runs inside tests/harness/with_cluster.sh (PG* set) with
# PGFERRY (the binary) and PGFERRY_SRC (the source tree).
set -u

: "${PGFERRY:?PGFERRY must name the pgferry binary}"
db=pf_repo_$$
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pf-test-repo.XXXXXX") || exit 1
bg_pids=()
cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf -- "$tmp"
  dropdb --if-exists "$db" 2>/dev/null
}
trap cleanup EXIT

pass() { echo "ok - $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL - $1: $2"
  failed=$((failed + 1))
  [[ -s $tmp/out ]] && sed 's/^/    out| /' "$tmp/out"
  [[ -s $tmp/err ]] && sed 's/^/    err| /' "$tmp/err"
  return 0
}

# run ARGS...: runs pgferry; rc, $tmp/out, $tmp/err.
run() { "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
# at TIME ARGS...: run with PGFERRY_NOW=TIME.
at() { local t=$1; shift; PGFERRY_NOW=$t "$PGFERRY" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }

# json_get JSON PATH...: value at the jsonb path (psql parses: no jq/python needed).
json_get() {
  local j=$1
  shift
  local path
  path=$(IFS=,; echo "{$*}")
  printf '%s\n' "SELECT (:'j'::jsonb) #>> '$path'" | psql -XAtq -v j="$j" -v ON_ERROR_STOP=1 2>&1
}

labels() { find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | grep -E '^[0-9]{8}T[0-9]{6}Z(-[1-9][0-9]*)?$' | sort; }
# decision LABEL: "keep" or "remove" from prune's human output in $tmp/out.
decision() { awk -v l="$1" '$2 == l { print $1 }' "$tmp/out"; }
# expect_decisions WHAT keep|remove LABEL...: each LABEL has that decision in $tmp/out.
expect_decisions() {
  local what=$1 want=$2 l got
  shift 2
  for l in "$@"; do
    got=$(decision "$l")
    if [[ $got != "$want" ]]; then fail "$what" "$l: \"$got\", expected $want"; return 1; fi
  done
  return 0
}
# hold_lock REPO LABEL: a background flock(1) holding REPO/.LABEL.lock, as a dump would.
hold_lock() {
  # the sleep itself holds the lock: killing lock_pid releases it
  (exec 9>>"$1/.$2.lock" && flock -x 9 && exec sleep 300) &
  bg_pids+=($!)
  lock_pid=$!
  local i
  for ((i = 0; i < 50; i++)); do
    ! flock -n -s "$1/.$2.lock" true 2>/dev/null && return 0
    sleep 0.1
  done
  echo "could not take the lock of $2" >&2
}

# ---- a small database ---------------------------------------------------------------------
createdb "$db" || { echo "FAIL - createdb $db"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >"$tmp/load.log" 2>&1 <<'SQL' || { cat "$tmp/load.log"; echo "FAIL - load"; exit 1; }
CREATE TABLE public.t1 (id int PRIMARY KEY, v text);
INSERT INTO public.t1 SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
CREATE TABLE public.t2 (k text, n bigint);
INSERT INTO public.t2 SELECT 'k' || g, g * 7 FROM generate_series(1, 2000) g;
SQL
export PGDATABASE=$db

R=$tmp/repo
# ---- dump --repo --------------------------------------------------------------------------
run dump --repo "$R" --no-progress
if [[ $rc -eq 0 && -f $R/.pgferry-repo && $(labels "$R" | wc -l) -eq 1 && $(stat -c %a "$R") == 700 ]]
then pass "dump --repo creates the repository (0700, marker) and one backup"
else fail "dump --repo" "exit $rc"; fi
first=$(labels "$R" | head -1)
if [[ -z $(find "$R" -maxdepth 1 -name '.*.lock') ]]; then pass "the dump's lock file is gone when it ends"
else fail "lock file" "$(ls -a "$R")"; fi
run verify "$R/$first"
if [[ $rc -eq 0 ]]; then pass "a repository backup verifies (nothing unlisted in it)"
else fail "verify $first" "exit $rc"; fi

run dump --repo "$R" --no-progress --tag pre-migration-2026-11-27
run dump --repo "$R" --no-progress --tag keep-me --keep-forever --json
j=$(cat "$tmp/out")
mapfile -t L < <(labels "$R")
if [[ $rc -eq 0 && ${#L[@]} -eq 3 && $(json_get "$j" dir) == "$R/${L[2]}" ]]
then pass "three backups side by side: ${L[*]}"
else fail "three dumps" "exit $rc, labels ${L[*]}"; fi
run dump --repo "$R" -f "$tmp/x"
if [[ $rc -eq 2 ]]; then pass "dump: -f and --repo together are a usage error"; else fail "dump -f --repo" "exit $rc"; fi
run dump --repo "$R" --tag ""
if [[ $rc -eq 2 ]]; then pass "dump: empty --tag is a usage error"; else fail "dump --tag ''" "exit $rc"; fi

# ---- list --repo --------------------------------------------------------------------------
run list --repo "$R"
if [[ $rc -eq 0 ]] && grep -q "^repository $R: 3 backups, 3 complete" "$tmp/out" &&
   grep -E "^${L[1]} .* complete .* 2 .* never +pre-migration-2026-11-27$" "$tmp/out" >/dev/null &&
   grep -E "^${L[2]} .* keep-me \(keep-forever\)$" "$tmp/out" >/dev/null
then pass "list --repo: label, time, status, tables, size, verification, tag"
else fail "list --repo" "exit $rc"; fi
run list --repo "$R" --json
j=$(cat "$tmp/out")
if [[ $rc -eq 0 && $(json_get "$j" count) == 3 && $(json_get "$j" backups 1 tag) == pre-migration-2026-11-27 &&
      $(json_get "$j" backups 2 keep_forever) == true && $(json_get "$j" backups 0 keep_forever) == false &&
      $(json_get "$j" backups 0 tables) == 2 && $(json_get "$j" backups 0 rows) == 7000 &&
      $(json_get "$j" backups 0 status) == complete && $(json_get "$j" backups 0 verification ok) == true &&
      $(json_get "$j" backups 1 verification) == "" &&
      $(json_get "$j" backups 0 database) == "$db" ]]
then pass "list --repo --json: tag, keep_forever, tables, rows, status, verification"
else fail "list --repo --json" "exit $rc"; fi
run list --repo "$tmp/nope"
if [[ $rc -eq 1 ]]; then pass "list --repo of a missing directory: exit 1"; else fail "list --repo missing" "exit $rc"; fi

# ---- status ------------------------------------------------------------------------------
run status --repo "$R" --max-age 1h
if [[ $rc -eq 0 ]] && grep -qE "^PGFERRY OK - newest backup ${L[2]} is [0-9]+s old \(complete, 2 tables, " "$tmp/out"
then pass "status: OK ($(cat "$tmp/out"))"
else fail "status OK" "exit $rc"; fi
run status --repo "$R" --max-age 1h --require-verified
if [[ $rc -eq 1 ]] && grep -qF "PGFERRY WARNING - newest complete backup ${L[2]} was never verified" "$tmp/out"
then pass "status --require-verified, never verified: WARNING"
else fail "status never verified" "exit $rc"; fi

# ---- verification records ----------------------------------------------------------------
run verify "$R/${L[2]}/"
if [[ $rc -eq 0 && -f $R/.verify/${L[2]}.json ]]; then pass "verify records its result in REPO/.verify/"
else fail "verify record" "exit $rc"; fi
run status --repo "$R" --max-age 1h --require-verified
if [[ $rc -eq 0 ]] && grep -qF ", verified)" "$tmp/out"; then pass "status --require-verified after a good verify: OK"
else fail "status verified" "exit $rc"; fi
run list --repo "$R"
if grep -E "^${L[2]} .* ok [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z " "$tmp/out" >/dev/null &&
   grep -E "^${L[1]} .* never " "$tmp/out" >/dev/null
then pass "list --repo shows ok <time> and never"
else fail "list verified" "exit $rc"; fi
# Damage the newest backup: verify fails, and says so for the monitoring.
chunk=$(find "$R/${L[2]}/data" -name '*.chunk' | head -1)
cp -- "$chunk" "$tmp/chunk.bak"
printf 'X' | dd of="$chunk" bs=1 seek=40 conv=notrunc status=none
run verify "$R/${L[2]}"
vrc=$rc
run status --repo "$R" --max-age 1h --require-verified
if [[ $vrc -eq 1 && $rc -eq 2 ]] && grep -qF "PGFERRY CRITICAL - newest complete backup ${L[2]} failed verification" "$tmp/out"
then pass "a failed verify is recorded: status --require-verified CRITICAL"
else fail "status failed verification" "verify $vrc, status $rc"; fi
run status --repo "$R" --max-age 1h
if [[ $rc -eq 0 ]]; then pass "status without --require-verified ignores verification"; else fail "status" "exit $rc"; fi
run list --repo "$R" --json
j=$(cat "$tmp/out")
if [[ $(json_get "$j" backups 2 verification ok) == false && $(json_get "$j" backups 2 verification problems) -ge 1 ]]
then pass "list --repo --json: verification ok false, problems"
else fail "list failed verification" "$(json_get "$j" backups 2 verification)"; fi
cp -- "$tmp/chunk.bak" "$chunk"
run verify "$R/${L[2]}"
run status --repo "$R" --max-age 1h --require-verified
if [[ $rc -eq 0 ]]; then pass "verified again: OK"; else fail "re-verify" "exit $rc"; fi

# ---- a failed dump --------------------------------------------------------------------------
run dump --repo "$R" -d "dbname=pf_no_such_db_$$" --no-progress
mapfile -t L2 < <(labels "$R")
failedlabel=${L2[3]:-}
if [[ $rc -eq 1 && ${#L2[@]} -eq 4 && -z $(ls -A "$R/$failedlabel") ]]
then pass "a failed dump --repo leaves its empty label directory ($failedlabel)"
else fail "failed dump" "exit $rc, labels ${L2[*]}"; fi
run status --repo "$R" --max-age 1h
if [[ $rc -eq 1 ]] && grep -qF "PGFERRY WARNING - newest backup $failedlabel is incomplete" "$tmp/out"
then pass "status after a failed dump: WARNING"
else fail "status failed dump" "exit $rc"; fi
run prune --repo "$R" --keep-last 10
if [[ $rc -eq 0 && -d $R/$failedlabel ]] && expect_decisions "prune recent failed" keep "$failedlabel" &&
   grep -qF "incomplete, recent" "$tmp/out"
then pass "prune keeps a failed dump younger than a day"
else fail "prune recent incomplete" "exit $rc"; fi
at "$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)" prune --repo "$R" --keep-last 10
if [[ $rc -eq 0 && ! -e $R/$failedlabel && $(labels "$R" | wc -l) -eq 3 ]] &&
   expect_decisions "prune old failed" remove "$failedlabel" && grep -qF "incomplete, older than a day" "$tmp/out"
then pass "prune removes a failed dump older than a day"
else fail "prune old incomplete" "exit $rc"; fi

# ---- a real dump --repo in progress: prune and status leave it alone ------------------------
# A session holding ACCESS EXCLUSIVE on t1 keeps the dump waiting for its ACCESS SHARE
# lock: its label directory and lock exist, nothing else yet.
psql -X -q -c "BEGIN; LOCK TABLE public.t1 IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
locker=$!
bg_pids+=("$locker")
for ((i = 0; i < 100; i++)); do
  [[ $(psql -XAtq -c "SELECT count(*) FROM pg_locks WHERE relation = 'public.t1'::regclass AND mode = 'AccessExclusiveLock' AND granted") == 1 ]] && break
  sleep 0.1
done
"$PGFERRY" dump --repo "$R" --no-progress >"$tmp/bgdump.out" 2>"$tmp/bgdump.err" &
dumper=$!
bg_pids+=("$dumper")
inprog=
for ((i = 0; i < 100; i++)); do
  mapfile -t L3 < <(labels "$R")
  if ((${#L3[@]} == 4)) && [[ -e $R/.${L3[3]}.lock ]]; then inprog=${L3[3]}; break; fi
  sleep 0.1
done
if [[ -n $inprog ]] && kill -0 "$dumper" 2>/dev/null; then
  pass "dump --repo in progress: $inprog (waiting for a table lock)"
  at "$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)" prune --repo "$R" --keep-last 10
  if [[ $rc -eq 0 && -d $R/$inprog ]] && expect_decisions "prune in progress" keep "$inprog" &&
     grep -E "^keep +$inprog +writing +being written" "$tmp/out" >/dev/null
  then pass "prune (3 days later: an unlocked one would be an old failed dump) keeps the backup being written"
  else fail "prune in progress" "exit $rc"; fi
  run status --repo "$R" --max-age 1h
  if [[ $rc -eq 0 ]] && grep -qF "; dump $inprog running for" "$tmp/out"
  then pass "status: a dump in progress is OK and mentioned"
  else fail "status in progress" "exit $rc"; fi
  run list --repo "$R" --json
  j=$(cat "$tmp/out")
  if [[ $(json_get "$j" backups 3 status) == writing ]]; then pass "list --repo: writing"
  else fail "list writing" "$(json_get "$j" backups 3 status)"; fi
else
  fail "dump in progress" "no label directory with a lock appeared"
fi
kill "$locker" 2>/dev/null
psql -X -q -c "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'public.t1'::regclass AND mode = 'AccessExclusiveLock'" >/dev/null 2>&1
wait "$dumper"
drc=$?
if [[ $drc -eq 0 && -f $R/$inprog/manifest.json && ! -e $R/.$inprog.lock ]]
then pass "the dump that was waiting completes ($inprog)"
else fail "background dump" "exit $drc: $(cat "$tmp/bgdump.err")"; fi

# ---- retention on a fabricated calendar ---------------------------------------------------
# Copies of real backups under past labels (a backup's time is its label's, whatever its
# manifest's started_at says), judged at a fixed PGFERRY_NOW.
Q=$tmp/calendar
mkdir -p "$Q" && touch "$Q/.pgferry-repo"
plain=$R/${L[0]}
forever=$R/${L[2]}
tagged=$R/${L[1]}
for d in 20 21 22 23 24 25 26 27 28 29 30; do cp -a "$plain" "$Q/202611${d}T030000Z"; done
cp -a "$plain" "$Q/20261201T030000Z"
cp -a "$plain" "$Q/20261202T030000Z"
for l in 20261015T030000Z 20260915T030000Z 20260815T030000Z; do cp -a "$plain" "$Q/$l"; done
cp -a "$tagged" "$Q/20260701T030000Z"   # tagged, not keep-forever
cp -a "$forever" "$Q/20250601T030000Z"  # keep-forever
mkdir "$Q/20261125T120000Z"              # a failed dump, old
mkdir -p "$Q/20261202T010000Z/data"      # a failed dump, recent
mkdir -p "$Q/20261110T030000Z/data"      # being written (a shell holds its lock below)
hold_lock "$Q" 20261110T030000Z
NOW=2026-12-02T04:00:00Z
before=$(labels "$Q" | wc -l)

at $NOW prune --repo "$Q" --dry-run
if [[ $rc -eq 0 && $(labels "$Q" | wc -l) -eq $before ]] && grep -qF "dry run" "$tmp/out"
then pass "prune --dry-run removes nothing ($before backups)"
else fail "prune --dry-run" "exit $rc"; fi
keep1=(20250601T030000Z 20260701T030000Z 20260815T030000Z 20260915T030000Z 20261015T030000Z 20261122T030000Z
       20261126T030000Z 20261127T030000Z 20261128T030000Z 20261129T030000Z 20261130T030000Z 20261201T030000Z
       20261202T030000Z 20261202T010000Z 20261110T030000Z)
remove1=(20261120T030000Z 20261121T030000Z 20261123T030000Z 20261124T030000Z 20261125T030000Z 20261125T120000Z)
if expect_decisions "dry-run keep" keep "${keep1[@]}" && expect_decisions "dry-run remove" remove "${remove1[@]}"
then pass "prune --dry-run: default policy (7 daily, 4 weekly, 12 monthly) decisions"
fi
if grep -E "^keep +20261202T030000Z +complete +newest complete backup, daily 2026-12-02, weekly 2026-W49, monthly 2026-12$" "$tmp/out" >/dev/null &&
   grep -E "^keep +20261122T030000Z +complete +weekly 2026-W47$" "$tmp/out" >/dev/null &&
   grep -E "^keep +20250601T030000Z +complete +keep-forever, monthly 2025-06 \[keep-me\]$" "$tmp/out" >/dev/null &&
   grep -E "^remove +20261121T030000Z +complete +no rule keeps it$" "$tmp/out" >/dev/null &&
   grep -E "^remove +20261125T120000Z +incomplete +incomplete, older than a day$" "$tmp/out" >/dev/null &&
   grep -E "^keep +20261202T010000Z +incomplete +incomplete, recent$" "$tmp/out" >/dev/null &&
   grep -E "^keep +20261110T030000Z +writing +being written$" "$tmp/out" >/dev/null
then pass "prune prints each backup with the rules that decided it"
else fail "prune reasons" "lines differ"; fi
at $NOW prune --repo "$Q" --dry-run --json
j=$(cat "$tmp/out")
if [[ $rc -eq 0 && $(json_get "$j" dry_run) == true && $(json_get "$j" would_remove) == 6 &&
      $(json_get "$j" policy keep_daily) == 7 && $(json_get "$j" backups 0 label) == 20250601T030000Z &&
      $(json_get "$j" backups 0 rules) == '["keep-forever", "monthly"]' && $(json_get "$j" backups 0 removed) == false ]]
then pass "prune --dry-run --json"
else fail "prune --json" "exit $rc"; fi

# --keep-within and --keep-yearly, with the rules that always keep (restic/borg style: a
# backup is kept when any rule keeps it)
at $NOW prune --repo "$Q" --dry-run --keep-within 3d --keep-yearly 2
if [[ $rc -eq 0 ]] &&
   grep -E "^keep +20261202T030000Z +complete +newest complete backup, yearly 2026, within 3d$" "$tmp/out" >/dev/null &&
   grep -E "^keep +20261130T030000Z +complete +within 3d$" "$tmp/out" >/dev/null &&
   grep -E "^remove +20261129T030000Z +complete +no rule keeps it$" "$tmp/out" >/dev/null &&
   grep -E "^keep +20250601T030000Z +complete +keep-forever, yearly 2025 \[keep-me\]$" "$tmp/out" >/dev/null &&
   expect_decisions "keep-within/yearly remove" remove 20260701T030000Z 20261015T030000Z 20261120T030000Z
then pass "prune --keep-within 3d --keep-yearly 2: decisions and their rules"
else fail "prune --keep-within" "exit $rc"; fi
at $NOW prune --repo "$Q" --dry-run --keep-within 1d12h --keep-yearly 1 --json
j=$(cat "$tmp/out")
if [[ $rc -eq 0 && $(json_get "$j" policy keep_within_seconds) == 129600 && $(json_get "$j" policy keep_yearly) == 1 &&
      $(json_get "$j" policy keep_daily) == 0 && $(json_get "$j" would_remove) == 16 ]]
then pass "prune --keep-within 1d12h (compound) --json: policy and count"
else fail "prune --keep-within --json" "exit $rc"; fi
for bad in 0h 0 -3d 1h1d 3x; do
  at $NOW prune --repo "$Q" --dry-run --keep-within "$bad"
  want="pgferry prune: invalid --keep-within \"$bad\": expected a positive duration such as 7d, 1d12h or 2w (units y, w, d, h, m, s) (try 'pgferry prune --help')"
  if [[ $rc -eq 2 && $(cat "$tmp/err") == "$want" && ! -s $tmp/out ]]; then pass "prune --keep-within $bad: usage error, exit 2"
  else fail "prune --keep-within $bad" "exit $rc"; fi
done
at $NOW prune --repo "$Q" --dry-run --keep-yearly x
if [[ $rc -eq 2 ]] && grep -qF 'invalid --keep-yearly "x": expected a number from 0' "$tmp/err"
then pass "prune --keep-yearly x: usage error naming the option"
else fail "prune --keep-yearly x" "exit $rc"; fi

at $NOW prune --repo "$Q"
ok=1
for l in "${remove1[@]}"; do [[ -e $Q/$l ]] && ok=0; done
for l in "${keep1[@]}"; do [[ -d $Q/$l ]] || ok=0; done
if [[ $rc -eq 0 && $ok -eq 1 && -z $(find "$Q" -maxdepth 1 -name '.removing-*') ]] && grep -qF "6 removed" "$tmp/out"
then pass "prune removes exactly the 6 decided ones"
else fail "prune" "exit $rc, left: $(labels "$Q" | tr '\n' ' ')"; fi
if [[ -n $(ls -A "$Q/20261110T030000Z") ]]; then pass "the backup being written is untouched"
else fail "in progress" "emptied"; fi

# keep-last 3: tagged backups go like any other; keep-forever and being written stay
at $NOW prune --repo "$Q" --keep-last 3
left=$(labels "$Q" | tr '\n' ' ')
if [[ $rc -eq 0 && $left == "20250601T030000Z 20261110T030000Z 20261130T030000Z 20261201T030000Z 20261202T010000Z 20261202T030000Z " ]]
then pass "prune --keep-last 3: tagged removed; keep-forever, in progress, recent failed kept"
else fail "prune --keep-last 3" "exit $rc, left: $left"; fi

# the lock released (its dump died), three days on: the partial backup goes
kill "$lock_pid" 2>/dev/null
wait "$lock_pid" 2>/dev/null
at 2026-12-05T04:00:00Z prune --repo "$Q" --keep-last 3
if [[ $rc -eq 0 && ! -e $Q/20261110T030000Z && ! -e $Q/20261202T010000Z ]]
then pass "once its lock is released, an old partial backup is removed"
else fail "prune after lock released" "exit $rc"; fi

# a crash mid-removal: the next prune finishes it
mkdir -p "$Q/.removing-20261001T030000Z/data" && echo x >"$Q/.removing-20261001T030000Z/data/1.0.chunk"
at $NOW prune --repo "$Q" --keep-last 3
if [[ $rc -eq 0 && ! -e $Q/.removing-20261001T030000Z ]]; then pass "prune finishes an interrupted removal"
else fail "interrupted removal" "exit $rc"; fi

# refuses a directory that is not a repository
mkdir -p "$tmp/norepo/20261101T030000Z"
run prune --repo "$tmp/norepo"
if [[ $rc -eq 1 && -d $tmp/norepo/20261101T030000Z ]]; then pass "prune refuses a directory without the marker"
else fail "prune no marker" "exit $rc"; fi
run prune --repo "$Q" --keep-daily x
if [[ $rc -eq 2 ]]; then pass "prune usage error: exit 2"; else fail "prune usage" "exit $rc"; fi

# ---- status on the calendar ------------------------------------------------------------------
at 2026-12-02T04:00:00Z status --repo "$Q" --max-age 26h --warn-age 25h
if [[ $rc -eq 0 ]] && grep -qF "PGFERRY OK - newest backup 20261202T030000Z is 1h old (complete, 2 tables" "$tmp/out"
then pass "status OK at a fixed now"
else fail "status fixed OK" "exit $rc"; fi
at 2026-12-03T04:30:00Z status --repo "$Q" --max-age 26h --warn-age 25h
if [[ $rc -eq 1 ]] && grep -qF "PGFERRY WARNING - newest complete backup 20261202T030000Z is 1d1h old (warn 1d1h)" "$tmp/out"
then pass "status WARNING: older than --warn-age"
else fail "status warn" "exit $rc"; fi
at 2026-12-03T06:00:00Z status --repo "$Q" --max-age 26h --warn-age 25h --json
j=$(cat "$tmp/out")
if [[ $rc -eq 2 && $(json_get "$j" status) == CRITICAL && $(json_get "$j" code) == 2 &&
      $(json_get "$j" newest_complete label) == 20261202T030000Z && $(json_get "$j" newest_complete age_seconds) == 97200 ]]
then pass "status --json CRITICAL: older than --max-age"
else fail "status critical" "exit $rc"; fi
mkdir "$Q/20261202T050000Z"
at 2026-12-02T06:00:00Z status --repo "$Q" --max-age 26h
if [[ $rc -eq 1 ]] && grep -qF "newest backup 20261202T050000Z is incomplete" "$tmp/out"
then pass "status WARNING: newest backup incomplete, no dump writing it"
else fail "status incomplete" "exit $rc"; fi
hold_lock "$Q" 20261202T050000Z
at 2026-12-02T06:00:00Z status --repo "$Q" --max-age 26h
if [[ $rc -eq 0 ]]; then pass "status OK: the newest backup is being written (lock held)"
else fail "status writing" "exit $rc"; fi
kill "$lock_pid" 2>/dev/null
mkdir "$tmp/empty"
run status --repo "$tmp/empty" --max-age 26h
if [[ $rc -eq 3 && $(cat "$tmp/out") == "PGFERRY UNKNOWN - $tmp/empty is not a pgferry repository (no .pgferry-repo file)" ]]
then pass "status UNKNOWN: a directory that is not a repository"
else fail "status not a repository" "exit $rc"; fi
touch "$tmp/empty/.pgferry-repo"
run status --repo "$tmp/empty" --max-age 26h
if [[ $rc -eq 2 ]] && grep -qF "PGFERRY CRITICAL - no backup" "$tmp/out"; then pass "status CRITICAL: no backup"
else fail "status empty" "exit $rc"; fi
run status --repo "$tmp/nope" --max-age 26h
if [[ $rc -eq 3 ]] && grep -qF "PGFERRY UNKNOWN" "$tmp/out"; then pass "status UNKNOWN: unreadable repository"
else fail "status unknown" "exit $rc"; fi
run status --repo "$Q"
rc1=$rc
run status --repo "$Q" --max-age 5x
if [[ $rc1 -eq 3 && $rc -eq 3 ]]; then pass "status usage errors exit 3 (UNKNOWN)"
else fail "status usage" "exit $rc1 / $rc"; fi

# ---- status: Nagios performance data and durations ---------------------------------------
P=$tmp/perf
mkdir -p "$P" && touch "$P/.pgferry-repo" && cp -a "$plain" "$P/20261202T030000Z"
at 2026-12-02T06:12:00Z status --repo "$P" --max-age 26h --warn-age 25h --json
j=$(cat "$tmp/out")
tables=$(json_get "$j" newest_complete tables)
bytes=$(json_get "$j" newest_complete bytes)
perf="'age'=11520s;90000;93600;0; 'size'=${bytes}B;;;0; 'tables'=${tables};;;0; 'drill_age'=U;;;0; 'rto'=U;;;0;"
if [[ $rc -eq 0 && $(json_get "$j" perfdata) == "$perf" && $tables -gt 0 && $bytes -gt 0 ]]
then pass "status --json: perfdata"
else fail "status perfdata json" "exit $rc"; fi
at 2026-12-02T06:12:00Z status --repo "$P" --max-age 26h --warn-age 25h
if [[ $rc -eq 0 && $(cat "$tmp/out") == "PGFERRY OK - newest backup 20261202T030000Z is 3h12m old "*" | $perf" ]]
then pass "status: perfdata after the '|' (age with warn/crit, size, tables)"
else fail "status perfdata" "exit $rc"; fi
at 2026-12-03T07:12:00Z status --repo "$P" --max-age 1d12h
if [[ $rc -eq 0 ]] && grep -qF "'age'=101520s;;129600;0;" "$tmp/out"
then pass "status --max-age 1d12h (compound): 28h12m is within it"
else fail "status compound max-age" "exit $rc"; fi
for bad in 0h 0 0d0h -1h 1h1d; do
  run status --repo "$P" --max-age "$bad"
  want="pgferry status: invalid --max-age \"$bad\": expected a positive duration such as 26h, 1d12h or 2w (units y, w, d, h, m, s) (try 'pgferry status --help')"
  if [[ $rc -eq 3 && $(cat "$tmp/err") == "$want" && ! -s $tmp/out ]]
  then pass "status --max-age $bad: usage error (exit 3, status's UNKNOWN for usage errors)"
  else fail "status --max-age $bad" "exit $rc"; fi
done

echo "repo: $passed passed, $failed failed"
((failed == 0))
