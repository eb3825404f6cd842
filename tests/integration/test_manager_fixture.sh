#!/bin/bash
# A manager is one folder and one table line: "toy" (tests/fixtures/toymgr/) exists only in
# this test's binary (envcache-toy, linked with the tests' own manager table), and is
# warmed, mounted and mirrored end to end like any other. Its build step reads the index
# through the mirror from inside the sandbox, which proves a build that needs the mirror
# gets one. Then failures: a warm-up with two failing managers names both and their
# packages, ends its --json output with a result line, and exits non-zero.
. "$(dirname "$0")/lib.sh"
need_sandbox

# The registry, on loopback: <name>.json and files/<file>.
R=$T/registry
mkdir -p "$R/files"
printf '#!/bin/sh\necho hello from toy\n' > "$R/files/hello-1.0.0"
printf '#!/bin/sh\necho old hello\n' > "$R/files/hello-0.9.0"
h1=$(sha256sum "$R/files/hello-1.0.0" | cut -d' ' -f1)
h0=$(sha256sum "$R/files/hello-0.9.0" | cut -d' ' -f1)
printf '{"versions":{"0.9.0":{"file":"hello-0.9.0","sha256":"sha256:%s"},"1.0.0":{"file":"hello-1.0.0","sha256":"sha256:%s"}}}' \
  "$h0" "$h1" > "$R/hello.json"
python3 - "$R" > "$T/port" <<'PY' &
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
reg=$!
trap 'kill $reg 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
export ENVCACHE_TOY_REGISTRY=http://127.0.0.1:$(cat "$T/port")

bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$T/base" >/dev/null
base=$(ec base import "$T/base")
printf '{"name":"toy1","config":{"packages":{"toy":["hello"]}}}' > "$T/toy1.json"
check "the fixture manager's specs are checked at create" ec env create -f "$T/toy1.json" --base "$base"
expect_fail "a bad spec of it is refused, in its own words" "is not a valid toy package" \
  bash -c "printf '{\"name\":\"t\",\"config\":{\"packages\":{\"toy\":[\"he llo\"]}}}' > '$T/t.json'; '$ENVCACHE_BIN' env create -f '$T/t.json'"

ec --json warm --lock-only toy1 > "$T/lockonly.json" 2>&1
check "--lock-only: the top manager's lock in full, no layer, no stack" bash -c "tail -n 1 '$T/lockonly.json' | python3 -c '
import json,sys; r=json.load(sys.stdin); m=r[\"managers\"][\"toy\"]
assert m[\"state\"] == \"locked\" and \"layer\" not in m, m
assert m[\"lock_json\"][\"packages\"][0][\"version\"] == \"1.0.0\", m'"
expect_fail "--lock-only records no stack to mount" "toy1" ec mount toy1 --session s0 "$T/m0"
check "it warms" ec --quiet warm toy1
lock=$(ec env lock toy1 toy)
check "the newest version was resolved" bash -c "printf '%s' '$lock' | grep -q '\"version\":\"1.0.0\"'"
check "its probe ran over the base, in the sandbox, before resolving" bash -c "printf '%s' '$lock' | grep -q '\"beneath\":\"probed Linux'"
M=$T/mnt
ec mount toy1 --session s1 "$M" >/dev/null
check "its program runs from the mounted environment" test "$(sh "$M/usr/local/bin/hello")" = "hello from toy"
check "its build step reached the mirror from inside the sandbox" grep -q '"1.0.0"' "$M/usr/local/share/toy/hello.index"
ec umount "$M" >/dev/null

"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off 2>"$T/serve.err" &
srv=$!
trap 'kill $reg $srv 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
B=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
check "the mirror serves the package from the store" bash -c "curl -sf $B/mirror/toy/files/hello-1.0.0 | cmp -s - '$R/files/hello-1.0.0'"
check "the mirror answers the index" bash -c "curl -sf $B/mirror/toy/hello.json | grep -q hello-0.9.0"
check "an unknown file is 404" test "$(curl -s -o /dev/null -w '%{http_code}' $B/mirror/toy/files/nope)" = 404
kill $srv 2>/dev/null; wait $srv 2>/dev/null

# Two managers fail: apt has no base to install on, toy has no such package. Both are named,
# with their packages; the --json output ends with one result line; the exit status is 1.
printf '{"name":"both","config":{"packages":{"apt":["jq"],"toy":["nosuch@1.0"]}}}' > "$T/both.json"
ec env create -f "$T/both.json" >/dev/null
ec --json warm both > "$T/both.out" 2>"$T/both.err" && rc=0 || rc=$?
check "a warm-up with failed managers exits non-zero ($rc)" test "$rc" -ne 0
tail -n 1 "$T/both.out" > "$T/last.json"
check "…and ends its --json output with a failed event" bash -c "python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))
assert r[\"event\"]==\"failed\", r
assert sorted(r[\"failed\"])==[\"apt\",\"toy\"], r
for m in (\"apt\",\"toy\"):
    e=r[\"managers\"][m][\"error\"]; assert e[\"message\"].startswith(m+\" \") or e[\"message\"].startswith(m+\":\"), e' '$T/last.json'"
check "…naming toy's package" grep -q 'toy: nosuch' "$T/last.json"
ec warm both > "$T/both.txt" 2>&1 && rc=0 || rc=$?
check "the plain output names each failure" bash -c "grep -q 'warm: apt packages need a base' '$T/both.txt' && grep -q 'toy: ' '$T/both.txt' && grep -q '2 of 2 package managers failed' '$T/both.txt'"
expect_fail "an environment whose warm-up failed is not mounted" "toy" ec mount both "$T/m2"
check "the store verifies" ec --quiet verify
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
