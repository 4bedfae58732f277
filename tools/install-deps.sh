#!/usr/bin/env bash
# Installs what pgferry needs to build, test and benchmark, from Debian's packages.
# Idempotent: does nothing when everything is there; otherwise one apt-get update, then
# install. Run as root (or with sudo).
set -euo pipefail

PKGS=(build-essential cmake pkg-config
      libpq-dev liburing-dev libzstd-dev libxxhash-dev libssl-dev libjansson-dev libcmocka-dev
      postgresql-15 postgresql-client-15
      libbenchmark-dev hyperfine time procps jq
      dpkg-dev postgresql-server-dev-15)  # tests/integration/test_regress.sh: apt-get source, PGXS

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PKGS[@]} packages present"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
