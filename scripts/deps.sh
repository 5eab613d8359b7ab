#!/usr/bin/env bash
# Installs the Debian packages mezzo needs to build and test, only when missing.
# Called by `make run`, `make test` and .ci/run; safe to run again.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libevent-dev libprotobuf-c-dev protobuf-c-compiler
      libjansson-dev libsqlite3-dev libcurl4-openssl-dev libcmocka-dev libhttp-parser-dev libarchive-dev
      uthash-dev libjemalloc-dev python3 python3-pytest curl procps
      libzookeeper-mt-dev # the ZooKeeper C client (masters contend for leadership; --master=zk://)
      zookeeper # a ZooKeeper server (Java) for tests/system/test_zk.py only
      chromium) # chromium: the web UI's browser tests (tests/system/test_webui.py)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm run the third-party client tests; any install of them will do
# (Debian's nodejs + npm, or a nodejs that bundles npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || true
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
