#!/bin/bash
# Live: a cargo crate resolved by the toolchain's cargo (apt: cargo-web, beneath the cargo
# layer) against the registry the host's cargo uses, every .crate checked against the
# index's cksum, compiled once in the sandbox offline from the vendored lock, mounted and
# run; cargo in the session lists it; a second warm makes no request and compiles nothing.
# ripgrep@14.1.0 over the base with its security archive (cargo-web 1.96 comes from there;
# the release's own 1.85 no longer builds today's ripgrep closure, in cargo install as
# much as here); the resolution runs cargo itself through the mirror.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
base=$(base_digest) || { bad "a base"; finish; exit 1; }
sbase=$(base_security_digest) || { bad "a base with the security archive"; finish; exit 1; }
printf '{"name":"rust","config":{"packages":{"apt":["cargo-web"],"cargo":["ripgrep@14.1.0"]}}}' > "$T/env.json"
ec env create -f "$T/env.json" --base "$sbase" >/dev/null
ok=0
for i in 1 2 3; do ec --json warm rust > "$T/warm.json" 2>"$T/warm.err" && { ok=1; break; }; sleep $((i * 3)); done
check "warm: ripgrep@14.1.0 over apt's cargo-web (security archive)" test "$ok" = 1 || tail -40 "$T/warm.err"
R=$T/root
ec mount rust --session rust "$R" >/dev/null
check "chroot TARGET rg --version runs" bash -c "chroot '$R' rg --version | grep -q '^ripgrep 14.1.0'"
check "cargo install --list in the session lists it" bash -c "chroot '$R' cargo install --list --root /usr/local | grep -q '^ripgrep v14.1.0:'"
check "no build byproducts in the layer" bash -c "test -s '$R/usr/local/.crates2.json' && test ! -e '$R/var/tmp/envcache-cargo' && test ! -e '$R/usr/local/.package-cache'"
ec umount "$R" >/dev/null
check "the lock records every crate with its cksum and the cargo resolution" bash -c "ec env lock rust cargo | python3 -c '
import json,sys; l=json.load(sys.stdin); n={(p[\"name\"],p[\"version\"]) for p in l[\"packages\"]}
assert (\"ripgrep\",\"14.1.0\") in n and len(n) > 1, n
assert all(p[\"sha256\"] == \"sha256:\" + p[\"cksum\"] for p in l[\"packages\"])
assert l[\"installs\"][0][\"cargo_lock\"].count(\"[[package]]\") >= len(n)'"
res2=$(ec --json warm rust | tail -n 1)
check "second warm: zero upstream requests" test "$(printf '%s' "$res2" | json_get upstream_requests)" = 0
check "second warm: the layer is reused (nothing compiled)" test "$(printf '%s' "$res2" | json_get managers.cargo.reused)" = True

# What the live registry cannot stage, from a generated one on loopback over the same
# toolchain layer: yanked versions and pre-releases skipped, a tampered .crate, and a
# program that links the system's OpenSSL.
python3 "$EC_SOURCE_DIR/tests/fixtures/cargo-registry/serve.py" "$T" > "$T/port" &
reg=$!
trap 'kill $reg 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
fx() { ENVCACHE_CARGO_INDEX=http://127.0.0.1:$(cat "$T/port")/index/ ec "$@"; }
printf '{"name":"fx","config":{"packages":{"apt":["cargo-web"],"cargo":["usesok","okcrate@^1"]}}}' > "$T/fx.json"
fx env create -f "$T/fx.json" --base "$base" >/dev/null
fx --json warm --lock-only fx > "$T/fx.out" 2>&1
check "fixture: usesok and okcrate@^1 resolve to okcrate 1.0.0 (1.1.0 is yanked)" bash -c "tail -n 1 '$T/fx.out' | python3 -c '
import json,sys; l=json.load(sys.stdin)[\"managers\"][\"cargo\"][\"lock_json\"]
assert sorted((p[\"name\"],p[\"version\"]) for p in l[\"packages\"]) == [(\"okcrate\",\"1.0.0\"),(\"usesok\",\"1.0.0\")], l[\"packages\"]
assert [i[\"version\"] for i in l[\"installs\"]] == [\"1.0.0\",\"1.0.0\"], l[\"installs\"]'"
printf '{"name":"fxbad","config":{"packages":{"apt":["cargo-web"],"cargo":["usesbad"]}}}' > "$T/fxbad.json"
fx env create -f "$T/fxbad.json" --base "$base" >/dev/null
expect_fail "fixture: a tampered dependency fails the warm-up naming it" "badcrate@1.0.0" fx warm fxbad
bad_sha=$(curl -s "http://127.0.0.1:$(cat "$T/port")/dl/badcrate/1.0.0/download" | sha256sum | cut -d' ' -f1)
check "…and nothing of it is stored" bash -c "! find '$ENVCACHE_HOME' -name '$bad_sha*' | grep -q ."

# The build links against what the layers beneath hold: sslver's build script asks
# pkg-config for OpenSSL. With libssl-dev and pkg-config in the apt layer it builds and
# runs; on the toolchain alone it fails.
printf '{"name":"ssl","config":{"packages":{"apt":["cargo-web","libssl-dev","pkg-config"],"cargo":["sslver"]}}}' > "$T/ssl.json"
fx env create -f "$T/ssl.json" --base "$base" >/dev/null
fx warm ssl > "$T/ssl.out" 2>&1 && rc=0 || rc=$?
check "sslver (links OpenSSL) warms over apt: [cargo-web, libssl-dev, pkg-config]" test "$rc" = 0
[ "$rc" = 0 ] || tail -20 "$T/ssl.out"
ec mount ssl --session ssl "$T/sslroot" >/dev/null
check "…and runs in the session, linked to the layer's OpenSSL" bash -c "chroot '$T/sslroot' sslver | grep -q '^OpenSSL 3'"
check "…its binary needs OpenSSL's libcrypto (dynamic section)" bash -c "objdump -p '$T/sslroot/usr/local/bin/sslver' | grep -q 'NEEDED.*libcrypto.so.3'"
ec umount "$T/sslroot" >/dev/null
printf '{"name":"nossl","config":{"packages":{"apt":["cargo-web"],"cargo":["sslver"]}}}' > "$T/nossl.json"
fx env create -f "$T/nossl.json" --base "$base" >/dev/null
expect_fail "…and fails to build without them beneath, naming the step" "cargo install sslver@1.0.0" fx warm nossl
printf '{"name":"notc","config":{"packages":{"cargo":["sslver"]}}}' > "$T/notc.json"
fx env create -f "$T/notc.json" --base "$base" >/dev/null
expect_fail "a base without a Rust toolchain: the warm-up says what to provide" "cargo-web" fx warm notc
check "the store verifies" ec verify
finish
