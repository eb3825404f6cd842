#!/bin/bash
# The npm pipeline against a generated registry on loopback (no network): resolve, fetch,
# install, bins, prereleases left alone, a tampered tarball refused with the package named
# and nothing stored, unsupported specs refused at create, a store that still verifies.
. "$(dirname "$0")/lib.sh"
python3 "$EC_SOURCE_DIR/tests/fixtures/npm-registry/serve.py" "$T" > "$T/port" &
reg=$!
trap 'kill $reg 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
export ENVCACHE_NPM_REGISTRY=http://127.0.0.1:$(cat "$T/port")
export ENVCACHE_NODE_VERSION=20.0.0

mk() { printf '{"name":"%s","config":{"packages":{"npm":[%s]}}}' "$1" "$2" > "$T/$1.json"; ec env create -f "$T/$1.json" >/dev/null; }
mk ok '"okpkg"'
check "warm from the fixture registry" ec --quiet warm ok
lock=$(ec env lock ok npm)
check "latest wins, not the prerelease" bash -c "printf '%s' '$lock' | python3 -c '
import json,sys; l={p[\"path\"]:p[\"version\"] for p in json.load(sys.stdin)[\"packages\"]}
assert l[\"node_modules/okpkg\"]==\"1.0.0\", l
assert l[\"node_modules/okpkg/node_modules/dep\"]==\"2.3.1\", l'"
R=$T/root
ec mount ok --session fx "$R" >/dev/null
check "the bin is linked and executable" test "$("$R/usr/local/bin/okpkg")" = "hello from okpkg"
check "the bin link is relative" test "$(readlink "$R/usr/local/bin/okpkg")" = ../lib/node_modules/okpkg/bin/ok.sh
ec umount "$R" >/dev/null

# Two environments with the same packages, warmed at the same moment: one layer, built once.
mk twin1 '"okpkg@1.0.0"'; mk twin2 '"okpkg@1.0.0"'
ec --json warm twin1 > "$T/twin1.json" & p1=$!
ec --json warm twin2 > "$T/twin2.json" & p2=$!
wait $p1 $p2
built=$(cat "$T/twin1.json" "$T/twin2.json" | grep '"event":"done"' | python3 -c '
import json,sys; r=[json.loads(l)["managers"]["npm"] for l in sys.stdin]
assert len(r)==2 and r[0]["layer"]==r[1]["layer"], r
print(sum(1 for m in r if not m["reused"]))')
check "two environments warming one lock share one layer, built once ($built built)" test "$built" = 1

# The start-up hook mounts the same, from a binary that never unpacks; a layer that is not
# unpacked yet is handed to envcache mount.
hook=$(dirname "$ENVCACHE_BIN")/envcache-mount
if [ -x "$hook" ]; then
  check "the hook links no curl, libarchive or libsolv" bash -c "! ldd '$hook' | grep -q 'curl\|archive\|solv'"
  check "the hook mounts the environment" bash -c "'$hook' ok '$R' >/dev/null && test -x '$R/usr/local/bin/okpkg'"
  ec umount "$R" >/dev/null
  rm -rf "$ENVCACHE_HOME"/layers/*
  check "a layer not unpacked is handed to envcache mount" bash -c "'$hook' ok '$R' | grep -q 'mounted session' && test -x '$R/usr/local/bin/okpkg'"
  ec umount "$R" >/dev/null
else
  bad "no envcache-mount next to $ENVCACHE_BIN"
fi

mk bad '"usesbad"'
blobs_before=$(find "$ENVCACHE_HOME/blobs" -type f | wc -l)
expect_fail "a tampered tarball fails the warm-up, naming the package" "badpkg@1.0.0" ec warm bad
expect_fail "…and says it is an integrity failure" "integrity" ec warm bad
bad_sha=$(curl -s "$ENVCACHE_NPM_REGISTRY/badpkg/-/badpkg-1.0.0.tgz" | sha256sum | cut -d' ' -f1)
check "the tampered tarball is not stored" test ! -e "$ENVCACHE_HOME/blobs/sha256/${bad_sha:0:2}/$bad_sha"
blobs_after=$(find "$ENVCACHE_HOME/blobs" -type f | wc -l)
check "only two packuments and the good tarball were added ($blobs_before → $blobs_after blobs)" test "$((blobs_after - blobs_before))" -eq 3
check "no half-written temporaries" bash -c "[ -z \"\$(ls -A '$ENVCACHE_HOME/tmp' 2>/dev/null)\" ]"
check "a failed warm-up records no lock" bash -c "ec env lock bad npm 2>&1 | grep -q 'no npm lock yet'"

for spec in 'git+https://example.invalid/x.git' 'file:../x' 'npm:okpkg@1' 'http://example.invalid/x.tgz'; do
  printf '{"name":"u","config":{"packages":{"npm":["%s"]}}}' "$spec" > "$T/u.json"
  expect_fail "unsupported spec $spec is refused at create" "not supported" ec env create -f "$T/u.json"
done
printf '{"name":"aptnobase","config":{"packages":{"apt":["jq"]}}}' > "$T/anb.json"
ec env create -f "$T/anb.json" >/dev/null
expect_fail "apt without a base says it needs one, before any download" "apt packages need a base" ec warm aptnobase
mk missing '"no-such-pkg"'
expect_fail "an unknown package names itself" "no-such-pkg" ec warm missing
mk norange '"dep@^9"'
expect_fail "an unsatisfiable range says so" 'no version of dep matches "^9"' ec warm norange
# Install scripts: named and left unrun without a base; run once in the sandbox on one.
mk noscripts '"scripted"'
out=$(ec warm noscripts 2>&1)
check "without a base, a package's scripts are named, not run" bash -c "printf '%s' \"$out\" | grep -q 'scripted@1.0.0 has install scripts'"
check "…and the lock marks it" bash -c "ec env lock noscripts npm | python3 -c '
import json,sys; l=json.load(sys.stdin); assert l[\"runs_code\"] is True
assert [p for p in l[\"packages\"] if p[\"name\"]==\"scripted\" and p[\"scripts\"]]'"
if [ "$(id -u)" = 0 ] && root_is_mount; then
  # The smallest base that runs a script: a shell and the C library.
  B=$T/tinybase; mkdir -p "$B/bin" "$B/tmp"
  cp /bin/dash "$B/bin/sh"
  for lib in $(ldd /bin/dash | grep -o '/[^ ]*'); do mkdir -p "$B$(dirname "$lib")"; cp -L "$lib" "$B$lib"; done
  base=$(ec base import "$B")
  printf '{"name":"scripts","config":{"packages":{"npm":["scripted"]}}}' > "$T/scripts.json"
  ec env create -f "$T/scripts.json" --base "$base" >/dev/null
  check "with a base, the warm-up runs the script in the sandbox" ec --quiet warm scripts
  ec mount scripts --session sc "$T/sroot" >/dev/null
  check "what the script wrote is in the layer" \
    test "$(cat "$T/sroot/usr/local/lib/node_modules/scripted/built.txt")" = "built by postinstall"
  check "the base shows through below it" test -x "$T/sroot/bin/sh"
  ec umount "$T/sroot" >/dev/null
  built=$(dirname "$(find "$ENVCACHE_HOME/layers" -path '*/node_modules/scripted/built.txt' | head -n 1)")
  npm_layer=${built%/usr/local/lib/node_modules/scripted}
  check "the npm layer holds the script's output but no base file" \
    bash -c "test -f '$npm_layer/usr/local/lib/node_modules/scripted/built.txt' && test ! -e '$npm_layer/bin/sh'"
  check "no mount is left behind" bash -c "! grep -q '$ENVCACHE_HOME/sandbox' /proc/self/mountinfo"
fi
check "the store verifies" ec verify
finish
