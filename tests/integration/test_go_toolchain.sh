#!/bin/bash
# A module whose go line needs a newer go than the one beneath, when that go is older
# than 1.21 (it cannot fetch another toolchain): the warm-up fails before building,
# naming the module, the go it needs and the go beneath. Offline: the generated proxy
# (tests/fixtures/go-proxy) serves example.test/newgo (go 1.99); the base carries a real
# go 1.19 (Debian 12's golang-1.19-go: its go command and VERSION, all the probe runs).
# The switch itself (go 1.21+ beneath fetching the toolchain through the mirror) is
# tests/live/test_go_toolchain.sh.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
OLD=/usr/lib/go-1.19
[ -x "$OLD/bin/go" ] || { bad "no go 1.19 at $OLD: tools/install-deps.sh installs golang-1.19-go"; finish; exit 1; }
FIX=$EC_SOURCE_DIR/tests/fixtures/go-proxy
vkey=$(python3 "$FIX/make-proxy.py" "$T/proxy") || { bad "make-proxy.py"; finish; exit 1; }
python3 "$FIX/serve.py" "$T/proxy" >"$T/port" &
spid=$!
trap 'kill $spid 2>/dev/null; wait 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
export ENVCACHE_GOPROXY=http://127.0.0.1:$(cat "$T/port") GOSUMDB=$vkey GONOSUMDB= GOPRIVATE= GOFLAGS=

bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$T/base" >/dev/null
# where Debian puts it (its go has that GOROOT built in), and /usr/lib/go as golang-go links it
mkdir -p "$T/base$OLD"
cp -aL "$OLD/bin" "$OLD/VERSION" "$T/base$OLD/"
ln -s "$(basename "$OLD")" "$T/base/usr/lib/go"
old=$(env -i GOENV=off GOTOOLCHAIN=local "$OLD/bin/go" env GOVERSION)
base=$(ec base import "$T/base")
printf '{"name":"newgo","config":{"packages":{"go":["example.test/newgo@v1.0.0"]}}}' > "$T/env.json"
ec env create -f "$T/env.json" --base "$base" >/dev/null
expect_fail "a module needing go 1.99 over $old beneath fails naming both" \
  "example.test/newgo@v1.0.0 needs go 1.99, and the go beneath is $old" ec warm newgo
check "nothing was resolved or built: no go lock is recorded" \
  bash -c "! ec env lock newgo go >/dev/null 2>&1"
finish
