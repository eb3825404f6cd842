#!/bin/bash
# Live: a go entry resolved against the host's Go module proxy and checksum database,
# built once in the sandbox by the Go toolchain of the base (the host's own), through
# the mirror; mounted and run; its build info is intact and equals the lock's selection;
# a second warm makes no request and builds nothing. A base without Go is refused clearly.
. "$(dirname "$0")/lib_go.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
base=$(go_base "$T/base") || { bad "a base with the host's go"; finish; exit 1; }
printf '{"name":"gotools","config":{"packages":{"go":["golang.org/x/tools/cmd/goimports@latest"]}}}' > "$T/env.json"
ec env create -f "$T/env.json" --base "$base" >/dev/null
if retry 3 bash -c 'ec --json warm gotools > "$1/warm.json" 2>"$1/warm.err"' _ "$T"; then ok "warm: goimports@latest on a base with go"
else bad "warm: $(tail -n 5 "$T/warm.err")"; fi
R=$T/root
ec mount gotools --session s1 "$R" >/dev/null
check "chroot TARGET goimports -h runs" bash -c "chroot '$R' goimports -h 2>&1 | grep -q '^usage: goimports'"
check "the binary is where GOBIN=/usr/local/bin puts it" test -x "$R/usr/local/bin/goimports"
check "its build info is intact (go version -m)" bash -c "go version -m '$R/usr/local/bin/goimports' | grep -q $'^\tpath\tgolang.org/x/tools/cmd/goimports'"
check "no module or build cache in the layer" bash -c "! ls -d '$R/tmp/envcache-go' '$R/root/go' '$R/root/.cache/go-build' 2>/dev/null | grep -q ."
ec env lock gotools go > "$T/lock.json"
check "the binary's modules are the lock's selection" bash -c "
  build_list '$R/usr/local/bin/goimports' > '$T/bin.list'
  python3 -c 'import json,sys
t=json.load(open(sys.argv[1]))[\"targets\"][0][\"build_list\"]
for l in open(sys.argv[2]):
    p,v=l.split(); assert t.get(p)==v,(p,v,t.get(p))' '$T/lock.json' '$T/bin.list'"
check "every package of the lock has its h1 and zip blob" bash -c "python3 -c 'import json,sys
for p in json.load(sys.stdin)[\"packages\"]:
    assert p[\"h1\"].startswith(\"h1:\") and len(p[\"sha256\"])==71, p' < '$T/lock.json'"
ec umount "$R" >/dev/null
res2=$(ec --json warm gotools | tail -n 1)
check "second warm: zero upstream requests" test "$(printf '%s' "$res2" | json_get upstream_requests)" = 0
check "second warm: the layer is reused, nothing built" test "$(printf '%s' "$res2" | json_get managers.go.reused)" = True

# A base without a Go toolchain: the probe fails, and the error says what the base needs.
bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$T/bare" >/dev/null
bare=$(ec base import "$T/bare")
printf '{"name":"nogo","config":{"packages":{"go":["golang.org/x/tools/cmd/goimports@latest"]}}}' > "$T/nogo.json"
ec env create -f "$T/nogo.json" --base "$bare" >/dev/null
expect_fail "a base without go: a clear error" "a Go toolchain" ec warm nogo
check "the store verifies" ec --quiet verify
finish
