#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: gems, envcache against gem install, side by side in one run.
#
#   tools/bench/gem.sh [--runs N] [--gems "A B …"] [--json] [--keep]
#
# RubyGems' registry is not reachable here, so both sides use the test registry
# (tests/fixtures/gem-registry/: real gems built from Debian's ruby-* packages plus
# synthetic ones) served on loopback. On the cached bookworm base of the live tests with
# apt: [ruby, ruby-dev, build-essential, libsqlite3-dev] built once (untimed), for GEMS
# (default: webstack, the largest closure, with sqlitever, a native extension linking
# SQLite, and platy, a platform variant):
#   cold  envcache warm of the environment, its gem layer absent (a fresh copy of a store
#         that holds only the base and the apt layer)
#         gem install --no-document in a fresh overlay copy of that apt root, empty caches
#   warm  envcache-mount (the start-up hook) and envcache mount of the built environment
#         gem install --no-document in a fresh copy whose gem cache (the .gem files and
#         the compact index) a first install filled
# Prints medians (hyperfine) and the ratios gem/envcache; --json prints one object.
# The binary is $ENVCACHE_BIN, else ./build/tools/envcache; needs root.
set -euo pipefail
runs=1 gems="webstack sqlitever platy" json=0 keep=0
usage() { sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/gem: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --gems) gems=${2:?}; shift ;;
    --json) json=1 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || die "needs root (overlay mounts, chroot)"
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=${ENVCACHE_BIN:-./build/tools/envcache}
[ -x "$bin" ] || die "no envcache binary at $bin (build it, or set ENVCACHE_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
for t in hyperfine python3 ruby unshare chroot; do command -v $t >/dev/null || die "$t is needed"; done
cached=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests/base-bookworm-minbase.tar.zst
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-gem.XXXXXX")
P=$W/prep # the store every run starts from: base, apt layer, both environments
ec() { "$bin" --home "$P" "$@"; }
say() { if [ "$json" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
cleanup() {
  [ -n "${reg_pid:-}" ] && kill "$reg_pid" 2>/dev/null
  for h in "$P" "$W"/eh-*; do
    [ -d "$h" ] || continue
    for s in $("$bin" --home "$h" session ls --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)]' 2>/dev/null); do
      "$bin" --home "$h" umount --session "$s" >/dev/null 2>&1 || true
    done
  done
  [ -e "$W/eh" ] && "$bin" --home "$W/eh" umount "$W/target" >/dev/null 2>&1 || true
  [ "$keep" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

say "bench/gem: the test registry, the base and the apt layer (untimed)"
ruby "$src/tests/fixtures/gem-registry/make-registry.rb" "$W/registry" >/dev/null
python3 "$src/tests/fixtures/gem-registry/serve.py" "$W/registry" "$W/registry.log" > "$W/reg.port" &
reg_pid=$!
for _ in $(seq 100); do [ -s "$W/reg.port" ] && break; sleep 0.05; done
[ -s "$W/reg.port" ] || die "the test registry did not start"
reg=http://127.0.0.1:$(cat "$W/reg.port")
export ENVCACHE_GEM_SOURCE=$reg
if [ -s "$cached" ]; then base=$(ec base import "$cached")
else base=$(ec --json base bootstrap --suite bookworm --variant minbase | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])'); fi
apt='["ruby", "ruby-dev", "build-essential", "libsqlite3-dev"]'
glist=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split()))' "$gems")
printf '{"name":"ruby","config":{"packages":{"apt":%s}}}' "$apt" > "$W/ruby.json"
printf '{"name":"bench","config":{"packages":{"apt":%s,"gem":%s}}}' "$apt" "$glist" > "$W/bench.json"
ec env create -f "$W/ruby.json" --base "$base" >/dev/null
ec env create -f "$W/bench.json" --base "$base" >/dev/null
ec --quiet warm ruby >/dev/null || die "warming apt: $apt failed"

cat > "$W/fresh_store.sh" <<SH
#!/bin/sh
# A copy of the prepared store at $W/eh (a link): the gem layer is not in it yet.
n=$W/eh-\$(date +%s%N)
cp -a "$P" "\$n"
ln -sfn "\$n" "$W/eh"
sync
SH
cat > "$W/fresh_root.sh" <<SH
#!/bin/sh
# fresh_root.sh NAME [SEED]: a new overlay copy of the apt root at $W/NAME (a link)
n=\$1-\$(date +%s%N)
"$bin" --home "$P" mount ruby --session "\$n" "$W/\$n" >/dev/null
mkdir -p "$W/\$n/dev" "$W/\$n/proc"
[ -z "\${2:-}" ] || cp -a "\$2/." "$W/\$n/"
ln -sfn "$W/\$n" "$W/\$1"
sync
SH
cat > "$W/inroot.sh" <<'SH'
#!/bin/sh
# inroot.sh ROOT CMD: CMD in ROOT with /dev and /proc
r=$1; shift
exec unshare -m sh -c 'r=$1; shift; mount --rbind /dev "$r/dev"; mount -t proc proc "$r/proc"
  exec chroot "$r" sh -c "$1"' sh "$r" "$*"
SH
chmod +x "$W/fresh_store.sh" "$W/fresh_root.sh" "$W/inroot.sh"
gem_install="gem install --no-document --clear-sources --source $reg $gems"

# The seed of gem's warm row: what a first install leaves in gem's caches.
"$W/fresh_root.sh" seedroot
"$W/inroot.sh" "$W/seedroot" "$gem_install" >/dev/null || die "gem install $gems failed in the apt root"
gemdir=$(chroot "$W/seedroot" gem env gemdir)
mkdir -p "$W/seed$gemdir" "$W/seed/root"
cp -a "$W/seedroot$gemdir/cache" "$W/seed$gemdir/"
for d in .local/share/gem .gem; do
  [ -d "$W/seedroot/root/$d" ] && mkdir -p "$(dirname "$W/seed/root/$d")" && cp -a "$W/seedroot/root/$d" "$W/seed/root/$d"
done
ngems=$(ls "$W/seed$gemdir/cache" | wc -l)

say "== $gems: $ngems gems"
hyperfine --runs "$runs" --export-json "$W/cold.json" --style basic \
  --prepare "'$W/fresh_store.sh'" \
  -n "envcache warm (gem layer cold)" "'$bin' --home '$W/eh' --quiet warm bench" \
  --prepare "'$W/fresh_root.sh' coldroot" \
  -n "gem install (empty cache)" "'$W/inroot.sh' '$W/coldroot' '$gem_install' >/dev/null"

"$W/fresh_store.sh"
"$bin" --home "$W/eh" --quiet warm bench >/dev/null
hyperfine --runs "$((runs * 3))" --warmup 1 --export-json "$W/warm.json" --style basic \
  --prepare "'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1 || true" \
  -n "envcache-mount hook (built)" "'$(dirname "$bin")/envcache-mount' --home '$W/eh' bench '$W/target' >/dev/null" \
  --prepare "'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1 || true" \
  -n "envcache mount (built)" "'$bin' --home '$W/eh' mount bench '$W/target' >/dev/null" \
  --prepare "'$W/fresh_root.sh' warmroot '$W/seed'" \
  -n "gem install (warm cache)" "'$W/inroot.sh' '$W/warmroot' '$gem_install' >/dev/null"
"$bin" --home "$W/eh" umount "$W/target" >/dev/null 2>&1 || true

python3 - "$json" "$W/cold.json" "$W/warm.json" "$gems" "$ngems" <<'PY'
import json, sys
as_json, cold, warm, gems, ngems = sys.argv[1] == "1", *sys.argv[2:]
runs = {k: json.load(open(f))["results"] for k, f in (("cold", cold), ("warm", warm))}
res = {k: {x["command"]: x["median"] for x in v} for k, v in runs.items()}
def pick(d, p): return next(v for k, v in d.items() if k.startswith(p))
out = {"gems": gems.split(), "installed": int(ngems), **res,
       "ratio_cold_gem_over_envcache": round(pick(res["cold"], "gem") / pick(res["cold"], "envcache"), 2),
       "ratio_warm_gem_over_envcache_mount": round(pick(res["warm"], "gem") / pick(res["warm"], "envcache-mount"), 1)}
if as_json:
    print(json.dumps(out, indent=2))
else:
    print(f"\n{gems}: {ngems} gems installed")
    for kind in ("cold", "warm"):
        for cmd, m in res[kind].items():
            print(f"  {kind:4}  {cmd:42} {m*1000:10.1f} ms")
    print(f"  cold: gem/envcache = {out['ratio_cold_gem_over_envcache']}x   "
          f"warm: gem/envcache-mount = {out['ratio_warm_gem_over_envcache_mount']}x")
PY
