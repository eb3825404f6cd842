#!/bin/sh
# Installs the Debian 12 packages envcache builds, tests and benchmarks with.
# Runs as root (or through sudo when it is there); does nothing when all are present.
set -eu
pkgs="build-essential cmake pkg-config git ca-certificates libarchive-dev libzstd-dev
  libcurl4-openssl-dev liblmdb-dev lmdb-utils libjansson-dev libssl-dev libmicrohttpd-dev
  libcmocka-dev libsolv-dev zlib1g-dev zstd tar attr libcap2-bin hyperfine python3 util-linux
  mmdebstrap bubblewrap dpkg-dev debian-archive-keyring
  curl nginx wrk nodejs npm gnupg gpgv xz-utils"
# node and npm may come from elsewhere (npm bundled with node): a working pair is enough.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  pkgs=$(printf '%s\n' $pkgs | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
