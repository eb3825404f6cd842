#!/bin/bash
# Load test of `envcache serve` on loopback, side by side with nginx serving the same
# files from disk. Reports requests per second and p99 latency (wrk --latency).
#   GET /v1/environments/{id}       envcache's API (LMDB read + JSON); nginx: the same
#                                   environment's JSON as a static file
#   GET /cache/blobs/sha256:<hex>   a 256 KiB store blob by sendfile; nginx: the same file
#   GET /mirror/npm/<pkg>/-/<tgz>   an npm mirror hit (tarball from the store); nginx: the
#                                   same tarball file
#   GET /mirror/npm/<pkg>           a packument mirror hit (tarball URLs rewritten per
#                                   request); nginx: the same JSON as a file
# The npm rows use a generated registry on loopback (tests/fixtures/npm-registry), pulled
# through once before the load.
# Each row runs envcache and nginx one after the other in the same run and prints the
# ratio envcache/nginx of requests per second (1.0 = as fast as nginx). A row whose
# answers were not all 2xx on either side says so: such figures are void.
# Usage: tools/bench/serve.sh [DURATION=10s] [CONNECTIONS=64] [THREADS=2]
# Needs wrk and nginx (tools/install-deps.sh). Nothing here asserts a speed.
set -eu
dur=${1:-10s} conns=${2:-64} threads=${3:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${ENVCACHE_BIN:-$root/build/tools/envcache}
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs wrk and nginx" >&2; exit 1; }
T=$(mktemp -d /tmp/bench-serve-XXXXXX)
chmod 755 "$T" # nginx's workers (nobody, when started as root) read $T/www; the store stays private
export ENVCACHE_HOME=$T/home
cleanup() {
  [ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null
  [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null
  if [ -f "$T/nginx.pid" ]; then
    local np; np=$(cat "$T/nginx.pid"); kill "$np" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$T"
}
trap cleanup EXIT

python3 "$root/tests/fixtures/npm-registry/serve.py" "$T" > "$T/regport" &
rpid=$!
for _ in $(seq 100); do [ -s "$T/regport" ] && break; sleep 0.05; done
export ENVCACHE_NPM_REGISTRY=http://127.0.0.1:$(cat "$T/regport")
key=$("$bin" keys create --workspace bench)
"$bin" serve --listen 127.0.0.1:0 --warm off --access-log off 2>"$T/serve.err" &
spid=$!
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
H=(-H "x-api-key: $key" -H "anthropic-version: 2023-06-01" -H "anthropic-beta: managed-agents-2026-04-01")
env=$(curl -s "${H[@]}" "http://127.0.0.1:$port/v1/environments" \
  -d '{"name":"bench","config":{"type":"cloud","packages":{"pip":["pandas==2.2.0","numpy>=1.26,<2"],"npm":["express@4.18.0"]}}}')
id=$(printf '%s' "$env" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
mkdir -p "$T/layer" && head -c 262144 /dev/urandom > "$T/layer/data"   # a 256 KiB file in a layer
"$bin" layer import "$T/layer" >/dev/null
blob=$(find "$ENVCACHE_HOME/blobs" -type f | head -1); hex=$(basename "$blob")

M=http://127.0.0.1:$port/mirror/npm
curl -sf -o "$T/tgz" "$M/okpkg/-/okpkg-1.0.0.tgz"   # the miss: pulled through once
curl -sf -o "$T/doc" -H 'Accept: application/json' "$M/okpkg"

# nginx: the same bytes from disk.
mkdir -p "$T/www/v1/environments" "$T/www/cache/blobs" "$T/ngx"
printf '%s' "$env" > "$T/www/v1/environments/$id"
mkdir -p "$T/www/mirror/npm/okpkg/-" && cp "$T/tgz" "$T/www/mirror/npm/okpkg/-/okpkg-1.0.0.tgz"
cp "$T/doc" "$T/www/mirror/npm/okpkg.json"
cp "$blob" "$T/www/cache/blobs/sha256:$hex"
chmod -R a+rX "$T/www" # copies of private store files
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$T/nginx.conf" <<NGX
worker_processes $threads; pid $T/nginx.pid; error_log $T/ngx/error.log; daemon on;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path $T/ngx; proxy_temp_path $T/ngx; fastcgi_temp_path $T/ngx;
  uwsgi_temp_path $T/ngx; scgi_temp_path $T/ngx;
  types { application/json json; } default_type application/octet-stream;
  server { listen 127.0.0.1:$nport; root $T/www; } }
NGX
nginx -c "$T/nginx.conf"

# wrk_row URL [headers…]: "RPS P99 NON2XX"
wrk_row() {
  local url=$1; shift
  local out; out=$(wrk -t"$threads" -c"$conns" -d"$dur" --latency "$@" "$url")
  printf '%s\n' "$out" | awk '/Requests\/sec/ {r=$2} $1 == "99%" {p=$2}
    /Non-2xx/ {n=$NF} END {print r, p, (n ? n : 0)}'
}
pair() { # label envcache-url nginx-url [envcache headers…]
  local label=$1 eurl=$2 nurl=$3; shift 3
  for u in "$nurl"; do curl -sf -o /dev/null "$u" || { echo "nginx does not serve $u" >&2; exit 1; }; done
  read -r erps ep99 enon < <(wrk_row "$eurl" "$@")
  read -r nrps np99 nnon < <(wrk_row "$nurl")
  local ratio; ratio=$(awk -v a="$erps" -v b="$nrps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
  local note=""; [ "$enon" != 0 ] || [ "$nnon" != 0 ] && note="  VOID: non-2xx envcache $enon nginx $nnon"
  printf '%-28s %10s %10s %6sx %10s %10s%s\n' "$label" "$erps" "$nrps" "$ratio" "$ep99" "$np99" "$note"
}
echo "wrk -t$threads -c$conns -d$dur, loopback, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %10s %10s %7s %10s %10s\n' row "envcache/s" "nginx/s" ratio "p99 ec" "p99 nginx"
pair "GET /v1/environments/{id}" "http://127.0.0.1:$port/v1/environments/$id" \
  "http://127.0.0.1:$nport/v1/environments/$id" "${H[@]}"
pair "npm tarball hit" "$M/okpkg/-/okpkg-1.0.0.tgz" \
  "http://127.0.0.1:$nport/mirror/npm/okpkg/-/okpkg-1.0.0.tgz"
pair "npm packument hit" "$M/okpkg" "http://127.0.0.1:$nport/mirror/npm/okpkg.json" \
  -H "Accept: application/json"
pair "blob 256 KiB" "http://127.0.0.1:$port/cache/blobs/sha256:$hex" \
  "http://127.0.0.1:$nport/cache/blobs/sha256:$hex"
