#!/bin/sh
# Installs the Debian 12 packages envcache builds, tests and benchmarks with, and an npm
# whose rules the npm resolver follows when the host's is older (see below).
# Runs as root (or through sudo when it is there); does nothing when all are present.
set -eu
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
pkgs="build-essential cmake pkg-config git ca-certificates libarchive-dev libzstd-dev
  libcurl4-openssl-dev liblmdb-dev lmdb-utils libjansson-dev libssl-dev libmicrohttpd-dev
  libcmocka-dev libsolv-dev zlib1g-dev zstd tar attr libcap2-bin hyperfine python3 util-linux
  mmdebstrap bubblewrap dpkg-dev debian-archive-keyring
  curl nginx wrk nodejs npm gnupg gpgv xz-utils
  ruby ruby-dev bundler rake ruby-rack ruby-thor ruby-i18n ruby-concurrent ruby-activesupport
  ruby-tzinfo ruby-zeitwerk
  cargo-web"
# pip's tests: Debian's pip (the default index it reports, the real client at the mirror)
# and venv with its bundled pip wheel (a resolver and fresh environments without network).
pkgs="$pkgs python3-pip python3-venv"
# gem's native install reads a .gem's metadata.gz (YAML) with libyaml, the parser
# RubyGems' own YAML (Psych) is built on.
pkgs="$pkgs libyaml-dev"
# The server parses every request head with Node's http-parser (cache/api/request_head.c);
# libmicrohttpd (above) serves only the tests' scripted upstream servers.
pkgs="$pkgs libhttp-parser-dev"
# Fuzzing (cmake -DEC_FUZZ=ON -DCMAKE_C_COMPILER=clang, tests/fuzz/): clang and its
# libFuzzer and sanitizer runtimes.
pkgs="$pkgs clang libclang-rt-14-dev"
# go's tests: a go (Debian's when none is on PATH, see below) and python3-cryptography,
# with which the go fixture signs its checksum database.
pkgs="$pkgs golang-go python3-cryptography"
# go's toolchain test (tests/integration/test_go_toolchain.sh): a real go older than 1.21,
# which cannot switch toolchains, under a module that needs a newer one (Debian 12's 1.19).
pkgs="$pkgs golang-1.19-go"
# sessions as containers: runc runs them (`envcache run`), podman runs the OCI hook's test.
pkgs="$pkgs runc podman"
# Session networks (cache/net/, tests/integration/test_net.sh): namespaces and veths (ip),
# the rules (nft), the egress gate (squid with TLS peek-and-splice), the session's
# resolver (dnsmasq), the gate's and the test CA's certificates (openssl).
pkgs="$pkgs iproute2 nftables squid-openssl dnsmasq-base openssl"
# OCI tests and tools/bench/oci.sh: a registry on loopback (docker-registry), htpasswd's
# bcrypt for its basic auth (apache2-utils), a test CA (openssl), and the tools that read
# what envcache pushes and exports (skopeo, umoci).
pkgs="$pkgs docker-registry apache2-utils openssl skopeo umoci"
# node and npm may come from elsewhere (npm bundled with node): a working pair is enough.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  pkgs=$(printf '%s\n' $pkgs | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
# go may come from elsewhere too (a newer one in /usr/local/go): any go on PATH is enough.
if command -v go >/dev/null 2>&1; then
  pkgs=$(printf '%s\n' $pkgs | grep -vx golang-go | tr '\n' ' ')
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The npm resolver follows npm 10 and later (tests/live/test_npm_diff.sh compares it with
# `npm install -g` only there); Debian 12 ships npm 9. npm 10 is also the newest major that
# runs on Debian 12's node 18 (npm 11 wants node 20.17). The host's own npm installs it,
# from the registry the host is configured for, into /usr/local (first on PATH); it reads
# the same global npmrc and keeps the same global prefix as the host's npm.
npm_min=10
npm_major() { npm --version 2>/dev/null | cut -d. -f1; }
if [ "$(npm_major)" -lt "$npm_min" ] 2>/dev/null; then
  echo "install-deps: npm $(npm --version) is older than $npm_min: installing npm@$npm_min in /usr/local" >&2
  gconf=$(npm config get globalconfig) gprefix=$(npm config get prefix)
  if $sudo npm install -g --prefix /usr/local --no-audit --no-fund --loglevel=error \
      "npm@$npm_min" >/dev/null; then
    printf 'globalconfig=%s\nprefix=%s\n' "$gconf" "$gprefix" |
      $sudo tee /usr/local/lib/node_modules/npm/npmrc >/dev/null
    hash -r
    [ "$(npm_major)" -ge "$npm_min" ] 2>/dev/null ||
      echo "install-deps: warning: npm on PATH is still $(command -v npm) $(npm --version):" \
        "put /usr/local/bin before its directory" >&2
  else
    echo "install-deps: warning: could not install npm@$npm_min (the npm differential test will skip)" >&2
  fi
fi

# go's tests build modules whose go.mod says `go 1.22.0` and newer: Debian 12's go 1.19
# cannot read that, and only go 1.21 and later fetch a newer toolchain themselves
# (GOTOOLCHAIN=auto, through the module proxy). bookworm-backports has a newer golang-go;
# its source line uses the archive the host's own sources name for this release.
go_minor() { go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p'; }
if [ "$(go_minor)" -lt 21 ] 2>/dev/null; then
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
    awk -v r="$codename" '$2 == r {print $1; exit}')
  if [ -n "$uri" ] && [ -n "$codename" ]; then
    echo "install-deps: go $(go env GOVERSION) is older than go1.21: installing golang-go from $codename-backports" >&2
    echo "deb $uri $codename-backports main" |
      $sudo tee /etc/apt/sources.list.d/envcache-backports.list >/dev/null
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      -t "$codename-backports" golang-go >/dev/null
    hash -r
  fi
  [ "$(go_minor)" -ge 21 ] 2>/dev/null ||
    echo "install-deps: warning: go on PATH is $(go env GOVERSION 2>/dev/null); the go tests need go1.21 or later" >&2
fi
