#!/usr/bin/env bash
# Installs what pgferry needs to build, test and benchmark, from Debian's packages, and the
# S3 test server s3rver from npm into /var/cache/pgferry-s3rver.
# Idempotent: does nothing when everything is there; otherwise one apt-get update, then
# install. Run as root (or with sudo).
#   --bench  also what only the benchmarks compare against (pgcopydb, for bench/copy_bench.sh)
set -euo pipefail

PKGS=(build-essential cmake pkg-config
      libpq-dev liburing-dev libzstd-dev libxxhash-dev libssl-dev libjansson-dev libcmocka-dev libcurl4-openssl-dev
      postgresql-15 postgresql-client-15
      libbenchmark-dev hyperfine time procps jq
      dpkg-dev postgresql-server-dev-15   # tests/integration/test_regress.sh: apt-get source, PGXS
      chromium   # tests/integration/test_drill.sh: renders drill --report FILE.html headless
      man-db groff-base bash-completion)  # tests/integration/test_install.sh: man pages, completion
# tests/integration/test_s3.sh runs the npm package s3rver: node and npm from Debian's
# packages, unless a node with npm is installed already (another node's packaging, such as
# one that bundles npm, would conflict with Debian's npm)
command -v node >/dev/null && command -v npm >/dev/null || PKGS+=(nodejs npm)
[ "${1:-}" = --bench ] && PKGS+=(pgcopydb)
S3RVER_DIR=/var/cache/pgferry-s3rver

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# s3rver@3.7.1 for the S3 tests, into the test harness's cache folder
install_s3rver() {
    [ -x "$S3RVER_DIR/node_modules/.bin/s3rver" ] && return 0
    echo "install-deps: installing s3rver (npm) into $S3RVER_DIR"
    $SUDO mkdir -p "$S3RVER_DIR"
    $SUDO npm install --no-audit --no-fund --silent --prefix "$S3RVER_DIR" s3rver@3.7.1 >/dev/null
}
SUDO=""
if [ ${#missing[@]} -eq 0 ]; then
    if [ "$(id -u)" -ne 0 ] && [ ! -x "$S3RVER_DIR/node_modules/.bin/s3rver" ]; then SUDO=sudo; fi
    install_s3rver
    echo "install-deps: all ${#PKGS[@]} packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_s3rver
echo "install-deps: done"
