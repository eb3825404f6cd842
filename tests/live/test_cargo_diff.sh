#!/bin/bash
# Live differential: what envcache resolves for cargo specs against what the real
# `cargo install --root R NAME@REQ` of the same toolchain picks, at the same moment, from
# the same registry. Both run over the same apt layer (cargo-web, Debian's toolchain).
#
# envcache's side: `envcache warm --lock-only` (the lock, no compile). cargo's side: the
# real `cargo install` in the mounted apt layer, on the host's network, with an empty
# CARGO_HOME and a rustc wrapper that refuses every crate compile: cargo resolves,
# downloads exactly the packages its build units need for this host ("Downloaded NAME
# vVERSION" lines) and stops at the first compile. So cargo's set is the set
# `cargo install` would compile, without paying for it. The check: every (crate,
# version) cargo would compile is in our lock (a different version of any of them is a
# difference); what our lock holds beyond it (other targets' dependencies, second
# versions they use) is printed in full, as is any difference.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
base=$(base_digest) || { bad "a base"; finish; exit 1; }
# The toolchain here is Debian 12's cargo-web from the base's suite (rustc 1.85): today's
# bat, fd-find and cargo-edit need newer, and cargo install refuses them, naming the
# newest it supports: those are pinned below, and the refusal itself is compared first.
# hyperfine has platform-specific (windows-sys, libc on unix) and optional dependencies.
crates=(ripgrep@14.1.0 bat@0.26.0 fd-find@10.3.0 cargo-edit@0.13.10 hyperfine@1.19.0)
unpinned=(bat fd-find cargo-edit)
specs=$(printf '"%s",' "${crates[@]}")
printf '{"name":"tc","config":{"packages":{"apt":["cargo-web"]}}}' > "$T/tc.json"
printf '{"name":"diff","config":{"packages":{"apt":["cargo-web"],"cargo":[%s]}}}' "${specs%,}" > "$T/diff.json"
ec env create -f "$T/tc.json" --base "$base" >/dev/null
ec env create -f "$T/diff.json" --base "$base" >/dev/null
check "the toolchain layer warms" ec --quiet warm tc
ok=0
for i in 1 2 3; do
  ec --json warm --lock-only diff > "$T/lock.out" 2>"$T/lock.err" && { ok=1; break; }
  sleep $((i * 5))
done
check "envcache resolves ${crates[*]} (lock only)" test "$ok" = 1
[ "$ok" = 1 ] || { tail -30 "$T/lock.err"; tail -c 2000 "$T/lock.out"; }
tail -n 1 "$T/lock.out" | json_get managers.cargo.lock_json > "$T/lock.json"

R=$T/root
ec mount tc --session tc "$R" >/dev/null
# Refuses crate compiles (cargo sets CARGO_PKG_NAME for them), passes cargo's own rustc
# queries through.
cat > "$R/tmp/no-compile" <<'EOF'
#!/bin/sh
[ -n "$CARGO_PKG_NAME" ] && { echo "envcache-diff: not compiling $CARGO_PKG_NAME" >&2; exit 1; }
exec "$@"
EOF
chmod +x "$R/tmp/no-compile"
cp /etc/ssl/certs/ca-certificates.crt "$R/tmp/ca.crt" # the base has no CA bundle
run_cargo() { # run_cargo OUT SPEC: the real cargo install in the toolchain layer
  rm -rf "$R/tmp/home/registry" "$R/tmp/inst" "$R/tmp/target"
  in_root "$R" env CARGO_HOME=/tmp/home CARGO_HTTP_CAINFO=/tmp/ca.crt CARGO_TERM_COLOR=never \
    RUSTC_WRAPPER=/tmp/no-compile CARGO_TARGET_DIR=/tmp/target \
    cargo install --root /tmp/inst "$2" > "$1" 2>&1
}
if [ -n "${ENVCACHE_CARGO_INDEX:-}" ]; then # the registry envcache used, for cargo too
  mkdir -p "$R/tmp/home"
  printf '[source.crates-io]\nreplace-with = "up"\n[source.up]\nregistry = "sparse+%s"\n' \
    "${ENVCACHE_CARGO_INDEX#sparse+}" > "$R/tmp/home/config.toml"
elif [ -f "${CARGO_HOME:-$HOME/.cargo}/config.toml" ]; then
  mkdir -p "$R/tmp/home"; cp "${CARGO_HOME:-$HOME/.cargo}/config.toml" "$R/tmp/home/"
fi
for spec in "${crates[@]}"; do
  name=${spec%%@*}
  got=0
  for i in 1 2 3; do # a fresh home each time: every package is downloaded, so listed
    run_cargo "$T/$name.cargo" "$spec"
    # downloads done, it stops at the first compile, or before it when the toolchain is
    # older than a package's rust-version (today's ripgrep closure on rustc 1.85)
    grep -q -e "envcache-diff: not compiling" -e "is not supported by the following packages" \
      "$T/$name.cargo" && { got=1; break; }
    sleep $((i * 5))
  done
  check "cargo install $spec resolved and downloaded what it would compile" test "$got" = 1
  [ "$got" = 1 ] || tail -20 "$T/$name.cargo"
  python3 - "$T/lock.json" "$T/$name.cargo" "$name" > "$T/$name.diff" 2>&1 <<'PY'
import json, re, sys
lock = json.load(open(sys.argv[1])); out = open(sys.argv[2]).read(); name = sys.argv[3]
inst = [i for i in lock["installs"] if i["crate"] == name]
if not inst:
    sys.exit(f"{name}: not in the lock's installs")
root = re.search(r"Installing %s v(\S+)" % re.escape(name), out)
if not root:
    sys.exit(f"{name}: cargo printed no Installing line")
cargo = {(m[0], m[1]) for m in re.findall(r"Downloaded (\S+) v(\S+)", out)}
cargo.add((name, root.group(1)))
# our side: the packages of this install's Cargo.lock
ours = set(re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', inst[0]["cargo_lock"]))
ours.add((inst[0]["crate"], inst[0]["version"]))
missing = sorted(cargo - ours)
names = {n for n, _ in cargo}
other = sorted(p for p in ours - cargo if p[0] in names)
beyond = sorted(p for p in ours - cargo if p[0] not in names)
print(f"{name}: cargo install compiles {len(cargo)} crates; our lock holds {len(ours)}")
print(f"  root: cargo {root.group(1)}, ours {inst[0]['version']}")
for p in missing: print("  cargo compiles, our lock lacks: %s %s" % p)
for p in other: print("  our lock also has, not compiled for this host: %s %s" % p)
print("  in our lock, not compiled for this host (%d): %s" % (len(beyond), " ".join("%s@%s" % p for p in beyond)))
sys.exit(1 if missing or root.group(1) != inst[0]["version"] else 0)
PY
  check "$spec: the crates cargo install compiles are the ones we lock, at the same versions" test $? = 0
  cat "$T/$name.diff"
done

# Unpinned specs whose newest version needs a newer rustc: cargo install refuses them and
# names the newest version the toolchain supports; envcache must say the same.
for spec in "${unpinned[@]}"; do
  run_cargo "$T/$spec.refused" "$spec"
  want=$(sed -n 's/^error: cannot install package `\([^`]*\)`, it requires rustc \([^ ]*\) .*/\1.* rustc \2/p' "$T/$spec.refused")
  hint=$(sed -n 's/^`\([^`]*\)` \(.*\)/\1 \2/p' "$T/$spec.refused")
  printf '{"name":"n-%s","config":{"packages":{"apt":["cargo-web"],"cargo":["%s"]}}}' "$spec" "$spec" > "$T/n.json"
  ec env create -f "$T/n.json" --base "$base" >/dev/null
  ec --json warm --lock-only "n-$spec" > "$T/n.out" 2>&1
  if [ -z "$want" ]; then # a newer toolchain: cargo installs it; the same version then
    v=$(sed -n "s/^ *Installing $spec v\([^ ]*\).*/\1/p" "$T/$spec.refused")
    check "$spec: the version cargo install picks ($v)" bash -c "tail -n 1 '$T/n.out' | grep -q '\"crate\":\"$spec\",\"version\":\"$v\"'"
    continue
  fi
  check "$spec: refused as cargo install refuses it ($want; $hint)" bash -c "grep -q 'cannot install $want' '$T/n.out' && grep -qF '$hint' '$T/n.out'"
  grep -o 'cannot install.*' "$T/n.out" | head -n 1
done
ec umount "$R" >/dev/null
finish
