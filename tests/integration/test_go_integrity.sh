#!/bin/bash
# The go fetcher against a generated module proxy with its own checksum database on
# loopback (tests/fixtures/go-proxy): what the live proxy cannot stage. A zip or go.mod
# that the database does not record, a database answer its signed tree does not hold, and
# a tree signed by another key all fail naming the module, and nothing of them is stored;
# @latest skips a retracted version and a pre-release as go does; a module that needs a
# newer go than an old go beneath (which cannot switch toolchains) is refused. GOPROXY
# lists: "direct" named as not supported, ',' and '|' fallbacks. The real go, through
# envcache's mirror, builds the good program and refuses the tampered zip, which the
# mirror does not store either; upstream's 404, 410 and 403 reach go with their status.
# go itself checks the fixture first (it must agree).
. "$(dirname "$0")/lib.sh"
RESOLVE=${GO_RESOLVE:-$(dirname "$ENVCACHE_BIN")/../tests/go-resolve}
FIX=$EC_SOURCE_DIR/tests/fixtures/go-proxy
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GONOSUMDB= GOPRIVATE= GONOPROXY= GOENV=off
vkey=$(python3 "$FIX/make-proxy.py" "$T/proxy") || { bad "make-proxy.py"; finish; exit 1; }
python3 "$FIX/serve.py" "$T/proxy" >"$T/port" &
spid=$!
# A second server of the same tree refuses two modules: gone (410) and private (403).
python3 "$FIX/serve.py" "$T/proxy" "$T/proxy/refusals" >"$T/rport" &
rpid=$!
trap 'kill $spid $rpid $mpid 2>/dev/null; wait 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && [ -s "$T/rport" ] && break; sleep 0.05; done
P=http://127.0.0.1:$(cat "$T/port")
PR=http://127.0.0.1:$(cat "$T/rport")
sha() { sha256sum "$T/proxy/example.test/$1" | cut -d' ' -f1; }
stored() { find "$1" -type f -name "$2" | grep -q .; } # stored STORE SHA256
export -f stored
quiet() { "$@" >/dev/null 2>&1; }
resolve() { "$RESOLVE" --store "$T/store" --proxy "$P" --gosumdb "$vkey" "$@"; }

# go's own verdict on the fixture: the good program builds, the tampered zip is refused.
gorun() { env GOPROXY="$1" GOSUMDB="$vkey" GOPATH="$T/gopath" GOMODCACHE="$T/$2" GOCACHE="$T/gocache" \
            GOBIN="$T/$2.bin" go install "$3" >"$T/$2.log" 2>&1; }
export -f gorun
export vkey T
if gorun "$P" gomod1 example.test/app@latest; then ok "go builds example.test/app@latest from the fixture"
else bad "go builds example.test/app@latest from the fixture: $(tail -n 3 "$T/gomod1.log")"; fi
if gorun "$P" gomod1 example.test/zipbad@v1.0.0; then bad "go accepted the tampered zip"
else check "go refuses the tampered zip" grep -q 'SECURITY ERROR' "$T/gomod1.log"; fi

if resolve --fetch example.test/app@latest >"$T/app.json" 2>"$T/app.err"; then ok "resolve and fetch example.test/app@latest"
else bad "resolve and fetch example.test/app@latest: $(cat "$T/app.err")"; fi
check "the lock selects app v1.0.0 with lib v1.0.0" test "$(json_get targets.0.build_list < "$T/app.json")" = '{"example.test/app": "v1.0.0", "example.test/lib": "v1.0.0"}'
check "the lock's h1 is the database's" test "$(json_get packages.0.h1 < "$T/app.json")" = "$(grep -o 'h1:[^ ]*' "$T/proxy/sumdb/sumdb.example.test/lookup/example.test/app@v1.0.0" | head -n 1)"
check "the verified zip is stored" stored "$T/store" "$(sha app/@v/v1.0.0.zip)"
resolve example.test/lib@latest > "$T/lib.json" 2>"$T/lib.err"
check "lib@latest is v1.1.0: v1.3.0 is retracted, v1.2.0-beta.1 a pre-release" test "$(json_get targets.0.version < "$T/lib.json")" = v1.1.0

resolve example.test/pfx@v1.2 > "$T/pfx.json" 2>"$T/pfx.err"
check "pfx@v1.2 is v1.2.0: the latest version's go.mod retracts v1.2.1" test "$(json_get targets.0.version < "$T/pfx.json")" = v1.2.0
check "go agrees: it builds pfx v1.2.0 for @v1.2" bash -c 'gorun "$1" gomodp example.test/pfx@v1.2 && go version -m "$2/gomodp.bin/pfx" | grep -q "mod.example.test/pfx.v1.2.0"' _ "$P" "$T"
expect_fail "a module needing a newer go than a go < 1.21 beneath is refused naming both" \
  "example.test/newgo@v1.0.0 needs go 1.99, and the go beneath is go1.20.3" resolve --probe go1.20.3 example.test/newgo@v1.0.0
check "a go 1.21+ beneath may fetch the toolchain it needs: resolve accepts" quiet resolve --probe go1.21.0 example.test/newgo@v1.0.0

# GOPROXY lists: "direct" means version control, which envcache never uses; a module that
# only it would reach is named, and so is the reason.
expect_fail "a module only \"direct\" would reach is named, and direct is not supported" \
  'module example.test/nosuch/cmd: ' \
  resolve --proxy "$P,direct" example.test/nosuch/cmd@latest
expect_fail "... saying version control fetches are not supported" \
  "GOPROXY's next entry is \"direct\" (fetching from version control), which envcache does not support" \
  resolve --proxy "$P,direct" example.test/nosuch/cmd@latest
expect_fail "GOPROXY=direct alone: the same, for its first entry" \
  "module example.test/app: GOPROXY's first entry is \"direct\"" resolve --store "$T/s-direct" --proxy direct example.test/app@latest
check "a module the proxy has resolves with direct after it" quiet resolve --proxy "$P,direct" example.test/app@latest
# go's fallbacks: ',' goes on after 404 and 410 only; a 403 stops there.
# (a store per list: what a proxy refused is remembered for a while, per path)
check "GOPROXY=refusing,P: a 410 falls through to P" quiet resolve --store "$T/s-comma" --proxy "$PR,$P" example.test/gone@latest
expect_fail "GOPROXY=refusing,P: a 403 stops, naming the status" "HTTP 403" resolve --store "$T/s-comma" --proxy "$PR,$P" example.test/private@v1.0.0
check "GOPROXY=refusing|P: '|' falls through on any error" quiet resolve --store "$T/s-pipe" --proxy "$PR|$P" example.test/private@v1.0.0

expect_fail "a zip the database does not record fails naming the module" "example.test/zipbad@v1.0.0: the module zip has h1:" resolve --fetch example.test/zipbad@v1.0.0
check "the tampered zip is not stored" bash -c '! stored "$1" "$2"' _ "$T/store" "$(sha zipbad/@v/v1.0.0.zip)"
expect_fail "a go.mod the database does not record fails naming the module" "example.test/modbad@v1.0.0: go.mod has h1:" resolve example.test/modbad@v1.0.0
check "the tampered go.mod is not stored" bash -c '! stored "$1" "$2"' _ "$T/store" "$(sha modbad/@v/v1.0.0.mod)"
expect_fail "a database answer its signed tree does not hold fails" "example.test/liar@v1.0.0: the checksum database record is not in its signed tree" resolve example.test/liar@v1.0.0
expect_fail "a tree signed by another key fails" "the signature of sumdb.example.test does not verify" \
  "$RESOLVE" --store "$T/store2" --proxy "$P" --gosumdb "$(cat "$T/proxy/other.vkey")" example.test/app@latest
check "nothing of the refused database is stored" bash -c '! stored "$1" "$2"' _ "$T/store2" "$(sha app/@v/v1.0.0.zip)"

# The mirror over the generated proxy (the server that refuses gone and private), with
# the real go.
ENVCACHE_GOPROXY=$PR GOSUMDB=$vkey "$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off 2>"$T/serve.err" &
mpid=$!
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
M=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)/mirror/go
if gorun "$M" gomod2 example.test/app@latest; then ok "go builds app@latest through the mirror"
else bad "go builds app@latest through the mirror: $(tail -n 3 "$T/gomod2.log")"; fi
check "the program runs" bash -c '"$1/gomod2.bin/app" 2>&1 | grep -qx app' _ "$T"
if gorun "$M" gomod3 example.test/zipbad@v1.0.0; then bad "go through the mirror accepted the tampered zip"
else ok "go through the mirror cannot get the tampered zip"; fi
check "the mirror stored no tampered zip" bash -c '! stored "$1" "$2"' _ "$ENVCACHE_HOME" "$(sha zipbad/@v/v1.0.0.zip)"
check "the mirror answers the tampered zip with an error" test "$(curl -s -o /dev/null -w '%{http_code}' "$M/example.test/zipbad/@v/v1.0.0.zip")" -ge 400
# Upstream refusals pass through with their status (go's fallbacks depend on it), also
# when the mirror answers from what it remembers of the first refusal.
code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
for i in 1 2; do
  check "the mirror answers upstream's 410 with 410 ($i)" test "$(code "$M/example.test/gone/@v/list")" = 410
  check "the mirror answers upstream's 403 with 403 ($i)" test "$(code "$M/example.test/private/@v/v1.0.0.info")" = 403
  check "the mirror answers upstream's 404 with 404 ($i)" test "$(code "$M/example.test/nosuch/@v/list")" = 404
done
check "the 403's body names the path and upstream's answer" bash -c 'curl -s "$1" | grep -q "example.test/private/@v/v1.0.0.zip from .*: HTTP 403"' _ "$M/example.test/private/@v/v1.0.0.zip"
if gorun "$M,$P" gomod4 example.test/gone@v1.0.0; then ok "go with GOPROXY=mirror,P: the mirror's 410 makes go fall through to P"
else bad "go with GOPROXY=mirror,P did not fall through on the 410: $(tail -n 3 "$T/gomod4.log")"; fi
if gorun "$M,$P" gomod5 example.test/private@v1.0.0; then bad "go with GOPROXY=mirror,P fell through on a 403"
else check "go with GOPROXY=mirror,P stops at the mirror's 403, as at upstream's" grep -q '403 Forbidden' "$T/gomod5.log"; fi
chmod -R u+w "$T"/gomod* 2>/dev/null
finish
