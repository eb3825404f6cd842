#!/bin/bash
# Live: the real go, with GOPROXY pointing at envcache's go mirror and checksum checking
# on (the database through the mirror's sumdb/ endpoints), builds goimports; a second
# build with an empty GOMODCACHE makes zero upstream requests (counted in /metrics).
. "$(dirname "$0")/lib_go.sh"
export ENVCACHE_GOPROXY=$GOPROXY_HOST GOSUMDB=$GOSUMDB_KEY
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off --access-log "$T/access.log" 2>"$T/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
M=http://127.0.0.1:$port/mirror/go
upstream() {
  curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^envcache_cache_requests_total\{.*manager="go".*result="miss"/ {s += $2} END {print s + 0}'
}
name=${GOSUMDB_KEY%%+*}
check "the mirror serves the checksum database ($name)" test "$(curl -s -o /dev/null -w '%{http_code}' "$M/sumdb/$name/supported")" = 200
st=$(curl -s -o /dev/null -w '%{http_code}' "$M/github.com/envcache-nonexistent-zz/nope/@v/list")
check "an unknown module is not served (HTTP $st)" test "$st" -ge 400
check "a path outside the protocol is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$M/../x")" = 404
go_via() { # N: build with a fresh module cache
  env GOPROXY="$M" GOSUMDB="$GOSUMDB_KEY" GONOSUMDB= GOPRIVATE= GOMODCACHE="$T/mod$1" \
    GOCACHE="$T/gocache" GOBIN="$T/bin$1" go install golang.org/x/tools/cmd/goimports@v0.30.0 \
    >"$T/go$1.log" 2>&1
}
if retry 3 go_via 1; then ok "go install through the mirror, checksums checked"; else bad "go install: $(tail -n 5 "$T/go1.log")"; fi
check "the program was built" test -x "$T/bin1/goimports"
check "the mirror went upstream for the first build" test "$(upstream)" -gt 0
check "go checked the sums through the mirror" test -d "$T/mod1/cache/download/sumdb/$name"
chmod -R u+w "$T/mod1"
before=$(upstream)
if go_via 2; then ok "second build, empty GOMODCACHE"; else bad "second build: $(tail -n 5 "$T/go2.log")"; fi
after=$(upstream)
check "second build: zero upstream requests ($before → $after)" test "$after" = "$before"
check "same modules both times" diff <(build_list "$T/bin1/goimports") <(build_list "$T/bin2/goimports")
z=golang.org/x/tools/@v/v0.30.0.zip
check "a served zip is the proxy's own bytes" bash -c "cmp <(curl -sf '$M/$z') <(curl -sf '${GOPROXY_HOST%%[,|]*}/$z')"
chmod -R u+w "$T"/mod* 2>/dev/null
finish
