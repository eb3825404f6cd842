#!/bin/bash
# The cargo mirror against a generated sparse registry on loopback (no network;
# tests/fixtures/cargo-registry/serve.py): config.json whose dl points back at the mirror,
# index files with their ETag and 304, crates pulled through once, checked against the
# index's cksum (a tampered one is refused naming it, and nothing is stored); then the real
# cargo, with crates-io replaced by the mirror, builds a project through it (the yanked
# version is not chosen), and a second build from an empty CARGO_HOME asks upstream nothing.
. "$(dirname "$0")/lib.sh"
command -v cargo >/dev/null || { echo "skip: no cargo (tools/install-deps.sh installs cargo-web)"; exit 77; }
python3 "$EC_SOURCE_DIR/tests/fixtures/cargo-registry/serve.py" "$T" > "$T/port" &
reg=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
export ENVCACHE_CARGO_INDEX=http://127.0.0.1:$(cat "$T/port")/index/
LOG=$T/cargo-registry/requests.log
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off 2>"$T/serve.err" &
srv=$!
trap 'kill $reg $srv 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
B=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | head -n1 | cut -d' ' -f2)
M=$B/mirror/cargo
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }

check "config.json: dl points back at the mirror" bash -c "curl -s $M/index/config.json | grep -qF '\"dl\":\"$M/crates/{crate}/{version}/download\"'"
check "an index file as upstream has it" bash -c "curl -s $M/index/ok/cr/okcrate | cmp -s - <(curl -s ${ENVCACHE_CARGO_INDEX}ok/cr/okcrate)"
etag=$(curl -sI "$M/index/ok/cr/okcrate" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
check "…with an ETag, and 304 for it" test "$(code -H "If-None-Match: $etag" "$M/index/ok/cr/okcrate")" = 304
check "an index path that is not the crate's is 404" test "$(code "$M/index/xx/yy/okcrate")" = 404
check "a crate the registry lacks is 404" test "$(code "$M/index/no/su/nosuchcrate")" = 404
want=$(curl -s "$M/index/ok/cr/okcrate" | python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin if "\"1.0.0\"" in l][0]["cksum"])')
check "a .crate pulled through matches the index's cksum" test "$(curl -s "$M/crates/okcrate/1.0.0/download" | sha256sum | cut -d' ' -f1)" = "$want"
: > "$LOG"
check "…and is served again from the store" test "$(code "$M/crates/okcrate/1.0.0/download")" = 200
check "…with no upstream request" test ! -s "$LOG"
check "a tampered .crate is refused (502)" test "$(code "$M/crates/badcrate/1.0.0/download")" = 502
check "…naming the crate and the cksum" grep -q 'badcrate@1.0.0.*cksum' "$T/body"
bad=$(curl -s "${ENVCACHE_CARGO_INDEX%index/}dl/badcrate/1.0.0/download" | sha256sum | cut -d' ' -f1)
check "…and nothing of it is stored" bash -c "! find '$ENVCACHE_HOME' -name '$bad*' | grep -q ."
check "a version the index lacks is 404" test "$(code "$M/crates/okcrate/7.0.0/download")" = 404

# The real cargo through the mirror.
mkdir -p "$T/app/src"
printf '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n[dependencies]\nusesok = "1"\n' > "$T/app/Cargo.toml"
echo 'fn main() { println!("{}", usesok::hello()); }' > "$T/app/src/main.rs"
home() {
  mkdir -p "$1"
  printf '[source.crates-io]\nreplace-with = "envcache"\n[source.envcache]\nregistry = "sparse+%s/index/"\n' "$M" > "$1/config.toml"
}
home "$T/h1"
check "cargo build through the mirror" bash -c "cd '$T/app' && CARGO_HOME='$T/h1' CARGO_TARGET_DIR='$T/t1' cargo build -q 2>'$T/build1.err'" || cat "$T/build1.err"
check "…chose okcrate 1.0.0, not the yanked 1.1.0 or the pre-release" bash -c "grep -A1 'name = \"okcrate\"' '$T/app/Cargo.lock' | grep -q 'version = \"1.0.0\"'"
: > "$LOG"
home "$T/h2"
check "a second build from an empty CARGO_HOME" bash -c "cd '$T/app' && rm -f Cargo.lock && CARGO_HOME='$T/h2' CARGO_TARGET_DIR='$T/t2' cargo build -q 2>'$T/build2.err'" || cat "$T/build2.err"
check "…made zero upstream requests" test ! -s "$LOG" || sed 's/^/# upstream: /' "$LOG"
check "…and the program runs" test "$("$T/t2/debug/app")" = "usesok 1.0.0"
printf '[package]\nname = "app2"\nversion = "0.1.0"\nedition = "2021"\n[dependencies]\nbadcrate = "1"\n' > "$T/app/Cargo.toml"
rm -f "$T/app/Cargo.lock"
home "$T/h3"
check "cargo refuses the tampered crate through the mirror" bash -c "cd '$T/app' && ! CARGO_HOME='$T/h3' CARGO_TARGET_DIR='$T/t3' cargo build -q > '$T/build3.err' 2>&1"

# A warm-up with no layer beneath has no toolchain: it says what to provide.
printf '{"name":"bare","config":{"packages":{"cargo":["usesok"]}}}' > "$T/bare.json"
ec env create -f "$T/bare.json" --no-base >/dev/null
expect_fail "a warm-up with nothing beneath names the toolchain it needs" "apt: [cargo-web]" ec warm bare
check "the store verifies" ec --quiet verify
finish
