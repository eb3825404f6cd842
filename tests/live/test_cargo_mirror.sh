#!/bin/bash
# Live: the real cargo (the host's: tools/install-deps.sh installs cargo-web) builds a
# project with a dozen dependencies through envcache's cargo mirror, which pulls through
# from the registry the host's cargo uses; a second build from an empty CARGO_HOME is
# served without one upstream request (counted in /metrics).
. "$(dirname "$0")/../integration/lib.sh"
command -v cargo >/dev/null || { echo "skip: no cargo (tools/install-deps.sh installs cargo-web)"; exit 77; }
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off 2>"$T/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$T/serve.err" | head -n1 | cut -d' ' -f2)
M=http://127.0.0.1:$port/mirror/cargo
upstream() { # requests that went upstream, from the server's own metrics
  curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^envcache_cache_requests_total\{.*manager="cargo".*result="miss"/ {s += $2} END {print s + 0}'
}
home() {
  mkdir -p "$1"
  printf '[source.crates-io]\nreplace-with = "envcache"\n[source.envcache]\nregistry = "sparse+%s/index/"\n[net]\nretry = 3\n' "$M" > "$1/config.toml"
}
# Twelve small crates without build scripts or proc-macros; edition 2024 makes cargo's
# resolver pick versions the host's rustc supports.
mkdir -p "$T/app/src"
cat > "$T/app/Cargo.toml" <<'EOF'
[package]
name = "app"
version = "0.1.0"
edition = "2024"
[dependencies]
serde_json = "1"
itoa = "1"
memchr = "2"
ryu = "1"
once_cell = "1"
bitflags = "2"
cfg-if = "1"
smallvec = "1"
either = "1"
fnv = "1"
hex = "0.4"
base64 = "0.22"
EOF
cat > "$T/app/src/main.rs" <<'EOF'
fn main() {
    let v = serde_json::json!({"hex": hex::encode("ok"), "b64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "ok")});
    println!("{v}");
}
EOF
build() { # HOME TARGET
  (cd "$T/app" && rm -f Cargo.lock && CARGO_HOME="$1" CARGO_TARGET_DIR="$2" cargo build -q) > "$T/build.log" 2>&1
}
home "$T/h1"
ok=0
for i in 1 2 3; do build "$T/h1" "$T/t1" && { ok=1; break; }; sleep $((i * 5)); done
check "cargo build of a project with 12 dependencies through the mirror" test "$ok" = 1
[ "$ok" = 1 ] || tail -20 "$T/build.log"
check "…and it runs" bash -c "'$T/t1/debug/app' | grep -qF '\"b64\":\"b2s=\",\"hex\":\"6f6b\"'"
n=$(grep -c '^name = ' "$T/app/Cargo.lock")
check "…its lock has the dependencies and theirs ($n packages)" test "$n" -ge 13
check "the mirror went upstream for the first build" test "$(upstream)" -gt 0
before=$(upstream)
home "$T/h2"
check "a second build from an empty CARGO_HOME" build "$T/h2" "$T/t2"
after=$(upstream)
check "…made zero upstream requests ($before → $after)" test "$after" = "$before"
check "…with the same lock" bash -c "cd '$T/app' && cp Cargo.lock '$T/lock2' && test \$(grep -c '^name = ' '$T/lock2') = $n"
check "the store verifies" ec --quiet verify
finish
