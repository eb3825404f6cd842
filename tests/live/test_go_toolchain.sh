#!/bin/bash
# Live: the toolchain switch. The base carries go 1.21.13 (go's own toolchain module,
# fetched by the host's go, without its sources: it can switch toolchains, not compile);
# goimports v0.33.0's go.mod says `go 1.23.0`. The warm-up's build runs go 1.21.13 with
# GOTOOLCHAIN=auto in the sandbox, whose only network is envcache's mirror: go picks a
# release of at least 1.23.0, fetches its golang.org/toolchain module through the mirror
# (verified against the checksum database, stored like any module) and builds with it.
# The binary says which (`go version -m`), runs, and a second warm makes no request.
. "$(dirname "$0")/lib_go.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
old=go1.21.13 spec=golang.org/x/tools/cmd/goimports@v0.33.0 need=go1.23.0
tcmod() { echo "golang.org/toolchain@v0.0.1-$1.$(go env GOOS)-$(go env GOARCH)"; }
hostgo() {
  env GOMODCACHE="$T/tc" GOPATH="$T/gp" GOPROXY="$GOPROXY_HOST" GOSUMDB="$GOSUMDB_KEY" "$@"
}
# The old go, as go fetches it (into a module cache of the test's own).
if ! retry 3 hostgo env GOTOOLCHAIN=$old go version >"$T/tc.log" 2>&1; then
  bad "fetching $old: $(tail -n 3 "$T/tc.log")"; finish; exit 1
fi
root=$T/tc/$(tcmod $old)
bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$T/base" >/dev/null
mkdir -p "$T/base/usr/local/go" "$T/base/usr/local/bin"
# no src/: it could not build goimports itself, only switch to a go that can
cp -a "$root/bin" "$root/pkg" "$root/VERSION" "$root/go.env" "$T/base/usr/local/go/"
ln -s ../go/bin/go "$T/base/usr/local/bin/go"
chmod -R u+w "$T/tc"
check "the base's go is $old" test "$(env -i GOENV=off GOTOOLCHAIN=local "$T/base/usr/local/go/bin/go" env GOVERSION)" = $old
base=$(ec base import "$T/base")
printf '{"name":"switch","config":{"packages":{"go":["%s"]}}}' "$spec" > "$T/env.json"
ec env create -f "$T/env.json" --base "$base" >/dev/null
if retry 3 bash -c 'ec --json warm switch > "$1/warm.json" 2>"$1/warm.err"' _ "$T"; then
  ok "warm: $spec (go ${need#go} needed) over $old"
else bad "warm: $(tail -n 8 "$T/warm.err"; tail -n 1 "$T/warm.json" | json_get error.message)"; finish; exit 1; fi
check "the lock records the go beneath ($old) and the module's go line (1.23.0)" bash -c '
  ec env lock switch go | python3 -c "import json,sys
l=json.load(sys.stdin); t=l[\"targets\"][0]
assert l[\"go_beneath\"].startswith(\"$1\") and t[\"go\"] == \"1.23.0\", (l[\"go_beneath\"], t[\"go\"])"' _ $old
R=$T/root
ec mount switch --session s1 "$R" >/dev/null
# go picks which release to switch to (not necessarily $need itself: for `go install
# m@v` a newer supported release); it must be at least $need.
built=$(go version -m "$R/usr/local/bin/goimports" | head -n 1 | sed -n 's/^.*: \(go[0-9.]*\)$/\1/p')
check "the binary was built by the go switched to ($built), at least $need" \
  bash -c 'printf "%s\n%s\n" "$1" "$2" | sort -V -C && [ "$2" != "$3" ]' _ $need "$built" $old
check "chroot TARGET goimports -h runs" bash -c "chroot '$R' goimports -h 2>&1 | grep -q '^usage: goimports'"
ec umount "$R" >/dev/null
# The mirror stored the toolchain it served: the same zip go downloads from the proxy.
if [ -z "$built" ]; then bad "no go version in the binary's build info"
elif retry 3 hostgo go mod download -json "$(tcmod "$built")" >"$T/dl.json" 2>"$T/dl.err"; then
  zip=$(json_get Zip < "$T/dl.json")
  sha=$(sha256sum "$zip" | cut -d' ' -f1)
  check "the store holds $(tcmod "$built")'s zip, fetched through the mirror" \
    bash -c 'find "$1" -type f -name "$2" | grep -q .' _ "$ENVCACHE_HOME" "$sha"
else bad "go mod download $(tcmod "$built"): $(tail -n 3 "$T/dl.err")"; fi
res2=$(ec --json warm switch | tail -n 1)
check "second warm: zero upstream requests" test "$(printf '%s' "$res2" | json_get upstream_requests)" = 0
chmod -R u+w "$T/tc" 2>/dev/null
finish
