#!/usr/bin/env bash
# test_json.sh: the one JSON contract (README "JSON output"). Table-driven: every command's
# --json on success, on a failure and on a usage error prints exactly one JSON object on
# stdout (parsed by python3) with contract, ok, command, version, started, seconds, exit
# and, when it failed, error, with the right types; ok is true exactly when the exit code
# is 0 and "exit" is the exit code; every path in it is absolute even when given relative.
# Runs inside tests/harness/with_cluster.sh (PG* set) with PGFERRY and PGFERRY_SRC.
set -u
PF_TEST_NAME=json PF_TEST_PREFIX=pfjson
# shellcheck source=tests/integration/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

version=$("$PGFERRY" --version | awk '{print $2}')

# The contract's checker: prints what is wrong (nothing when all is well).
cat >"$tmp/check.py" <<'EOF'
import json, re, sys
out, cmd, rc, version = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(out).read()
try:
    o, end = json.JSONDecoder().raw_decode(text)
except ValueError as e:
    sys.exit(f"stdout is not JSON: {e}")
if text[end:].strip():
    sys.exit("more than one JSON value on stdout")
if not isinstance(o, dict):
    sys.exit("not an object")
want = {"contract": str, "ok": bool, "command": str, "version": str, "started": str, "exit": int}
for k, t in want.items():
    if type(o.get(k)) is not t:
        sys.exit(f"{k}: {o.get(k)!r} is not a {t.__name__}")
if type(o.get("seconds")) not in (int, float) or o["seconds"] < 0:
    sys.exit(f"seconds: {o.get('seconds')!r} is not a number >= 0")
if list(o)[:6] != ["contract", "ok", "command", "version", "started", "seconds"]:
    sys.exit(f"the common fields do not come first: {list(o)[:7]}")
if o["contract"] != "pgferry.json/1":
    sys.exit(f"contract {o['contract']!r}")
if o["command"] != cmd or o["version"] != version:
    sys.exit(f"command/version {o['command']!r}/{o['version']!r}")
if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", o["started"]):
    sys.exit(f"started {o['started']!r} is not ISO 8601 UTC")
if o["exit"] != rc or o["ok"] != (rc == 0):
    sys.exit(f"exit {o['exit']} / ok {o['ok']} but the exit code was {rc}")
if rc != 0 and not (isinstance(o.get("error"), str) and o["error"]):
    sys.exit("failed without an error string")
PATHS = {"dir", "repo", "dump", "backup", "report", "trace", "sql"}
def walk(v, where):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in PATHS and isinstance(x, str) and not (x.startswith("/") or "://" in x):
                sys.exit(f"{where}.{k} = {x!r} is not absolute")
            walk(x, f"{where}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, f"{where}[{i}]")
walk(o, "")
if len(sys.argv) > 5:  # FIELD=VALUE: one of the command's own fields
    k, v = sys.argv[5].split("=", 1)
    if str(o.get(k)) != v:
        sys.exit(f"{k} is {o.get(k)!r}, expected {v}")
EOF

# case NAME WANT_RC CMD ARGS...: runs pgferry CMD ARGS from $tmp (relative paths), and
# checks the exit code and the contract. JSON_FIELD=K=V also checks one own field.
case_() {
  local name=$1 want=$2 cmd=$3 why
  shift 3
  (cd "$tmp" && "$PGFERRY" "$cmd" "$@" >"$tmp/out" 2>"$tmp/err")
  rc=$?
  if [[ $rc != "$want" ]]; then fail "$cmd --json, $name" "exit $rc, expected $want"; return; fi
  if why=$(python3 "$tmp/check.py" "$tmp/out" "$cmd" "$rc" "$version" ${JSON_FIELD:+"$JSON_FIELD"} 2>&1); then
    pass "$cmd --json, $name: exit $rc, the contract holds"
  else
    fail "$cmd --json, $name" "$why"
  fi
}

load_sample "${p}src" 1 || { fail setup "sample data" "$tmp/load.log"; summary test_json; exit 1; }
newdb "${p}dst"
mkdir -p "$tmp/notrepo"

# ---- success, failure, usage error per command (paths relative to $tmp on purpose) ----
JSON_FIELD=dir="$tmp/d" case_ "success" 0 dump --json -d "${p}src" -f d --no-progress
case_ "failure (no such database)" 1 dump --json -d "${p}nosuchdb" -f d2 --no-progress
case_ "usage error (bad --jobs)" 2 dump --json -d "${p}src" -f d3 --jobs 0
JSON_FIELD=repo="$tmp/r" case_ "success into a repository" 0 dump --json -d "${p}src" --repo r --no-progress

JSON_FIELD=dir="$tmp/d" case_ "success" 0 restore --json -d "${p}dst" d --no-progress
case_ "failure (no such dump)" 1 restore --json -d "${p}dst" nodump --no-progress
case_ "usage error (no -d)" 2 restore --json d

JSON_FIELD=dir="$tmp/d" case_ "success" 0 verify --json d
case_ "failure (not a dump)" 1 verify --json notrepo
case_ "usage error (unknown option)" 2 verify --json --bogus d

JSON_FIELD=dir="$tmp/d" case_ "success" 0 list --json d
JSON_FIELD=repo="$tmp/r" case_ "success (--repo)" 0 list --json --repo r
case_ "failure (no such directory)" 1 list --json nodump
case_ "usage error (two directories)" 2 list --json d d

JSON_FIELD=dump="$tmp/d" case_ "success" 0 drill --json d --target postgres --no-progress
case_ "failure (not a dump)" 1 drill --json notrepo --target postgres --no-progress
case_ "usage error (no --target)" 2 drill --json d

JSON_FIELD=repo="$tmp/r" case_ "success" 0 prune --json --repo r --dry-run
case_ "failure (not a repository)" 1 prune --json --repo notrepo
case_ "usage error (no --repo)" 2 prune --json

JSON_FIELD=status=OK case_ "success (OK)" 0 status --json --repo r --max-age 1d
JSON_FIELD=status=UNKNOWN case_ "failure (not a repository: UNKNOWN)" 3 status --json --repo notrepo --max-age 1d
case_ "usage error (no --max-age; status exits 3 on those)" 3 status --json --repo r

JSON_FIELD=backup="$tmp/d" case_ "success" 0 diff --json -d "${p}src" -t public.accounts d
case_ "failure (no such database)" 1 diff --json -d "${p}nosuchdb" -t public.accounts d
case_ "usage error (no -t)" 2 diff --json -d "${p}src" d

# cat streams COPY data to stdout and has no --json: asking for it is a usage error, in JSON
case_ "usage error (cat has no --json)" 2 cat --json d/manifest.json
case_ "usage error (an unknown command)" 2 nosuchcmd --json

# ---- the usage error's line is on stderr too, and --help with --json is just the help ----
"$PGFERRY" prune --json >"$tmp/out" 2>"$tmp/err"
expect "usage error: one line on stderr" "pgferry prune: missing --repo REPO (try 'pgferry prune --help')" \
  "$(cat "$tmp/err")"
expect "usage error: the same message in the object" "missing --repo REPO" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$tmp/out")"
"$PGFERRY" prune --json --help >"$tmp/out" 2>"$tmp/err"
expect "--help --json prints the help, not an object" "Usage: pgferry prune" "$(head -c 20 "$tmp/out")"

# ---- a failure reported only on stderr still becomes the object's error ----------------
"$PGFERRY" drill --json notrepo --target postgres --no-progress >"$tmp/out" 2>"$tmp/err"
expect "a failure: the object's error is the stderr line's message" \
  "$(sed -n 's/^pgferry drill: //p' "$tmp/err" | tail -n 1)" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$tmp/out")"

summary test_json
