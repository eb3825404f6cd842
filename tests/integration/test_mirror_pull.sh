#!/bin/bash
# The mirror's pull-through under guard: beyond loopback a miss needs an API key (header,
# Bearer or basic credentials) while hits need none; each workspace's pulls are bounded by
# --pull-budget (429), and a store disk under --min-free stops pulls (507); all in the
# API's error shape. Against the npm fixture registry on loopback.
. "$(dirname "$0")/lib.sh"
python3 "$EC_SOURCE_DIR/tests/fixtures/npm-registry/serve.py" "$T" > "$T/port" &
reg=$!
trap 'kill $reg 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
export ENVCACHE_NPM_REGISTRY=http://127.0.0.1:$(cat "$T/port")

serve() { # serve NAME ARGS…: sets $pid and $B
  local name=$1; shift
  "$ENVCACHE_BIN" serve --warm off --access-log off "$@" 2>"$T/$name.err" &
  pid=$!
  for _ in $(seq 200); do grep -q 'port [0-9]' "$T/$name.err" && break; sleep 0.05; done
  B=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/$name.err" | cut -d' ' -f2)
}
status() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
says() { grep -q "$1" "$T/body" && json_get request_id < "$T/body" | grep -q '^req_'; }

k1=$(ec keys create --workspace ws1)
k2=$(ec keys create --workspace ws2)

# Beyond loopback (all addresses), a budget of one byte per workspace.
serve wide --listen 0.0.0.0:0 --pull-budget 1
check "a miss without a key is 401" test "$(status $B/mirror/npm/okpkg)" = 401
check "... saying why, in the API's shape" says "needs an API key"
check "a miss with a key is fetched" test "$(status -H "x-api-key: $k1" $B/mirror/npm/okpkg)" = 200
check "a hit needs no key" test "$(status $B/mirror/npm/okpkg)" = 200
check "a wrong key is 401" test "$(status -H "x-api-key: eck_nope" $B/mirror/npm/dep)" = 401
check "the workspace's budget spent: the next miss is 429" \
  test "$(status -u "npm:$k1" $B/mirror/npm/dep)" = 429
check "... saying whose budget and how much" says "workspace ws1 has fetched [0-9]* bytes"
check "another workspace has its own budget" test "$(status -H "authorization: Bearer $k2" $B/mirror/npm/dep)" = 200
check "the budget survives a restart" bash -c "kill $pid; wait $pid 2>/dev/null; true"
serve again --listen 0.0.0.0:0 --pull-budget 1
check "... ws1 is still over it" test "$(status -H "x-api-key: $k1" $B/mirror/npm/scripted)" = 429
kill $pid; wait $pid

# On loopback a key is not needed (the default), unless --pull-auth on.
serve lo --listen 127.0.0.1:0
check "loopback: a miss without a key is fetched" test "$(status $B/mirror/npm/scripted)" = 200
# Packument hits are answered from kept answers: the same bytes and ETag as the first,
# and per host (the tarball URLs name the host asked).
curl -s -D "$T/h1" -o "$T/d1" $B/mirror/npm/scripted; curl -s -D "$T/h2" -o "$T/d2" $B/mirror/npm/scripted
curl -s -o "$T/d3" -H 'Host: other.test:1' $B/mirror/npm/scripted
check "a kept packument answer is the first one, byte for byte" cmp "$T/d1" "$T/d2"
check "... with the same ETag" test "$(grep -i '^etag' "$T/h1")" = "$(grep -i '^etag' "$T/h2")"
check "... and another host gets its own tarball URLs" bash -c "grep -q 'other.test:1/mirror/npm' '$T/d3' && ! grep -q 'other.test' '$T/d1'"
kill $pid; wait $pid
serve lo-on --listen 127.0.0.1:0 --pull-auth on
check "--pull-auth on: loopback needs a key too" test "$(status $B/mirror/npm/nosuchpkg)" = 401
kill $pid; wait $pid

# A disk fuller than --min-free: 507.
serve full --listen 127.0.0.1:0 --min-free 1000000T
check "a store disk under --min-free: a miss is 507" test "$(status $B/mirror/npm/nosuchpkg2)" = 507
check "... saying so" says "bytes free"
check "... and a hit is still served" test "$(status $B/mirror/npm/okpkg)" = 200
kill $pid; wait $pid
finish
