#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: a cargo crate, envcache against cargo install, side by side in one run.
#
#   tools/bench/cargo.sh [--runs N] [--crate SPEC] [--json] [--keep]
#
# On a bootstrapped bookworm minbase base (the cached one of the live tests, else a
# bootstrap now) with Debian's Rust toolchain as an apt layer (cargo-web), for SPEC
# (default ripgrep@14.1.0):
#   cold  envcache warm of an environment [apt: cargo-web, cargo: SPEC] from a store that
#         holds the base and the toolchain layer and nothing of cargo's; the share of it
#         spent in the build step (cargo install in the sandbox) from its progress events
#         cargo install --root in a fresh session of the toolchain layer, empty CARGO_HOME
#   warm  envcache-mount (the start-up hook) of the built environment
#         cargo install again with the registry cache warm (it compiles again)
# Both use the configured registry (ENVCACHE_CARGO_INDEX, else cargo's default). Cold
# rows run --runs times (medians), the hook five times as many. Needs root. The base gets
# the release's security archive in its sources (the host's source for it), as an
# installed Debian has it: cargo-web there is 1.96, where the release's own 1.85 cannot
# build today's ripgrep closure.
set -euo pipefail
runs=1 spec=ripgrep@14.1.0 json=0 keep=0
usage() { sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/cargo: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --crate) spec=${2:?}; shift ;;
    --json) json=1 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || die "needs root (overlay mounts, chroot)"
bin=${ENVCACHE_BIN:-./build/tools/envcache}
[ -x "$bin" ] || die "no envcache binary at $bin (build it, or set ENVCACHE_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
for t in hyperfine python3 unshare chroot; do command -v $t >/dev/null || die "$t is needed"; done
cached=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests/base-bookworm-minbase.tar.zst
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-cargo.XXXXXX")
H=$W/home
ec() { "$bin" --home "$H" "$@"; }
cleanup() {
  for h in "$H" "$W"/eh-*; do
    [ -d "$h" ] || continue
    for s in $("$bin" --home "$h" session ls --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)]' 2>/dev/null); do
      "$bin" --home "$h" umount --session "$s" >/dev/null 2>&1 || true
    done
  done
  [ "$keep" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
if [ -s "$cached" ]; then base=$(ec base import "$cached")
else base=$(ec --json base bootstrap --suite bookworm --variant minbase | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])'); fi
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
suri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
  awk -v r="$codename-security" '$2 == r {print $1; exit}')
if [ -n "$suri" ]; then
  mkdir "$W/sbase" && ec layer export "$base" -o "$W/b0.tar.zst" >/dev/null
  tar --zstd -xf "$W/b0.tar.zst" -C "$W/sbase"
  echo "deb $suri $codename-security main" >> "$W/sbase/etc/apt/sources.list"
  base=$(ec base import "$W/sbase")
fi
printf '{"name":"tc","config":{"packages":{"apt":["cargo-web"]}}}' > "$W/tc.json"
printf '{"name":"bench","config":{"packages":{"apt":["cargo-web"],"cargo":["%s"]}}}' "$spec" > "$W/env.json"
ec env create -f "$W/tc.json" --base "$base" >/dev/null
ec --quiet warm tc >/dev/null
ec layer export "$base" -o "$W/base.tar.zst"

# fresh_store: a new store with the base and the toolchain layer (warmed untimed), at $W/eh
cat > "$W/fresh_store.sh" <<SH
#!/bin/sh
n=$W/eh-\$(date +%s%N)
"$bin" --home "\$n" base import "$W/base.tar.zst" >/dev/null
"$bin" --home "\$n" env create -f "$W/tc.json" --base "$base" >/dev/null
"$bin" --home "\$n" env create -f "$W/env.json" --base "$base" >/dev/null
"$bin" --home "\$n" --quiet warm tc >/dev/null
ln -sfn "\$n" "$W/eh"
sync
SH
# fresh_root NAME: a new session of the toolchain environment at $W/NAME (a link)
cat > "$W/fresh_root.sh" <<SH
#!/bin/sh
n=\$1-\$(date +%s%N)
"$bin" --home "$H" mount tc --session "\$n" "$W/\$n" >/dev/null
mkdir -p "$W/\$n/dev" "$W/\$n/proc"
cp /etc/ssl/certs/ca-certificates.crt "$W/\$n/tmp/ca.crt"
ln -sfn "$W/\$n" "$W/\$1"
SH
cat > "$W/inroot.sh" <<'SH'
#!/bin/sh
# inroot.sh ROOT CMD: CMD in ROOT with /dev, /proc and the host's resolver
r=$1; shift
exec unshare -m sh -c 'r=$1; shift; mount --rbind /dev "$r/dev"; mount -t proc proc "$r/proc"
  cp /etc/resolv.conf "$r/etc/resolv.conf"; exec chroot "$r" sh -c "$1"' sh "$r" "$*"
SH
chmod +x "$W/fresh_store.sh" "$W/fresh_root.sh" "$W/inroot.sh"
cfg=
if [ -n "${ENVCACHE_CARGO_INDEX:-}" ]; then
  cfg="mkdir -p /tmp/home && printf '[source.crates-io]\\nreplace-with = \"up\"\\n[source.up]\\nregistry = \"sparse+${ENVCACHE_CARGO_INDEX#sparse+}\"\\n' > /tmp/home/config.toml && "
fi
install="export CARGO_HOME=/tmp/home CARGO_HTTP_CAINFO=/tmp/ca.crt CARGO_TARGET_DIR=/tmp/target; ${cfg}cargo install -q --root /tmp/inst $spec"

say() { if [ "$json" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
say "== $spec over Debian's cargo-web"
timed() { # timed OUT CMD…: CMD's wall time appended to OUT as {"total": seconds}
  local out=$1; shift
  local t0; t0=$(date +%s%N)
  "$@" || die "$* failed (see above)"
  python3 -c 'import sys; print("{\"total\": %.3f}" % ((int(sys.argv[2]) - int(sys.argv[1])) / 1e9))' "$t0" "$(date +%s%N)" >> "$out"
}
# Cold rows, one after the other (each from a fresh store, or a fresh session with an
# empty CARGO_HOME), timed here: envcache's progress events are stamped as they come, so
# the share spent in its "building" phase (cargo install in the sandbox) is known.
for i in $(seq "$runs"); do
  "$W/fresh_store.sh"
  python3 - "$bin" "$W/eh" >> "$W/cold_envcache.jsonl" <<'PY'
import json, subprocess, sys, time
t0 = time.monotonic(); first = {}; last = None
p = subprocess.Popen([sys.argv[1], "--home", sys.argv[2], "--json", "warm", "bench"],
                     stdout=subprocess.PIPE, text=True)
for line in p.stdout:
    ev = json.loads(line)
    if ev.get("event") == "progress" and ev.get("manager") == "cargo":
        first.setdefault(ev["phase"], time.monotonic() - t0)
    last = ev
total = time.monotonic() - t0
if p.wait() != 0:
    sys.exit("envcache warm failed: %s" % json.dumps(last)[:2000])
b, k = first.get("building"), first.get("packing", total)
print(json.dumps({"total": total, "building": (k - b) if b is not None else 0.0}))
PY
  "$W/fresh_root.sh" coldroot
  timed "$W/cold_cargo.jsonl" "$W/inroot.sh" "$W/coldroot" "$install"
done

"$W/fresh_root.sh" warmroot
"$W/inroot.sh" "$W/warmroot" "$install" # the registry cache, filled untimed
for i in $(seq "$runs"); do
  rm -rf "$W/warmroot/tmp/inst" "$W/warmroot/tmp/target"
  timed "$W/warm_cargo.jsonl" "$W/inroot.sh" "$W/warmroot" "$install"
done
hyperfine --runs "$((runs * 5))" --warmup 1 --export-json "$W/warm.json" --style basic \
  --prepare "'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1 || true" \
  -n "envcache-mount hook (built)" "'$(dirname "$bin")/envcache-mount' --home '$W/eh' bench '$W/target' >/dev/null"
"$bin" --home "$W/eh" umount "$W/target" >/dev/null 2>&1 || true

python3 - "$json" "$W/cold_envcache.jsonl" "$W/cold_cargo.jsonl" "$W/warm.json" "$W/warm_cargo.jsonl" "$spec" <<'PY'
import json, statistics, sys
as_json, ce, cc, warm, wc, spec = sys.argv[1] == "1", *sys.argv[2:]
rows = lambda f: [json.loads(l) for l in open(f)]
ce, cc, wc = rows(ce), rows(cc), rows(wc)
env_cold = statistics.median(r["total"] for r in ce)
build = statistics.median(r["building"] for r in ce)
res = {"cold": {"envcache warm (no cargo artifacts in the store)": env_cold,
                "cargo install (empty CARGO_HOME)": statistics.median(r["total"] for r in cc)},
       "warm": {**{x["command"]: x["median"] for x in json.load(open(warm))["results"]},
                "cargo install (registry cache warm, compiles)": statistics.median(r["total"] for r in wc)}}
def pick(d, p): return next(v for k, v in d.items() if k.startswith(p))
out = {"crate": spec, "runs": len(ce), **res,
       "cold_build_seconds": round(build, 2), "cold_compile_share": round(build / env_cold, 3),
       "ratio_cold_cargo_over_envcache": round(pick(res["cold"], "cargo") / env_cold, 2),
       "ratio_warm_cargo_over_envcache": round(pick(res["warm"], "cargo") / pick(res["warm"], "envcache"), 1)}
if as_json:
    print(json.dumps(out, indent=2))
else:
    print(f"\n{spec} (median of {len(ce)} cold run(s))")
    for kind in ("cold", "warm"):
        for cmd, m in res[kind].items():
            print(f"  {kind:4}  {cmd:50} {m*1000:10.1f} ms")
    print(f"  cold: cargo/envcache = {out['ratio_cold_cargo_over_envcache']}x   warm: cargo/envcache = {out['ratio_warm_cargo_over_envcache']}x")
    print(f"  cold: {out['cold_compile_share']*100:.0f}% of envcache's warm-up was the build step (cargo install in the sandbox): {build:.1f} of {env_cold:.1f} s")
PY
