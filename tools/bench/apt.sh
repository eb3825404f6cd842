#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: apt packages, envcache against apt-get, side by side in one run.
#
#   tools/bench/apt.sh [--runs N] [--pkg NAME] [--json] [--keep]
#
# On a bootstrapped bookworm minbase base (the cached one of the live tests, else a
# bootstrap now), for PKG (default ffmpeg) with --no-install-recommends:
#   cold  envcache warm of an environment on that base, empty store (the base aside)
#         apt-get update && apt-get install in a fresh copy of the base, empty apt cache
#         dpkg -x of every .deb of the closure, one after another: only the unpacking, as a
#         yardstick that moves with the machine's speed
#   warm  envcache-mount (the start-up hook) and envcache mount of the built environment
#         apt-get install in a fresh copy of the base with its lists and every .deb
#         already in /var/cache/apt/archives
# Both use the host's configured archive. Each apt run gets its own overlay copy of the
# base (made untimed). Prints medians (hyperfine) and ratios; needs root.
set -euo pipefail
runs=1 pkg=ffmpeg json=0 keep=0
usage() { sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/apt: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --pkg) pkg=${2:?}; shift ;;
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
# Nothing is deleted until the end (see fresh.sh below): each cold run keeps a store and
# an apt root, each warm run an apt root, about 6 GB per run for ffmpeg.
need=$((runs * 6)) free=$(df -P -BG "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $4 + 0}')
[ "$free" -ge "$need" ] || die "needs about $need GB free in ${TMPDIR:-/tmp} for $runs run(s); $free GB are (set TMPDIR, or fewer --runs)"
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-apt.XXXXXX")
H=$W/home
ec() { "$bin" --home "$H" "$@"; }
cleanup() {
  for s in $(ec session ls --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)]' 2>/dev/null); do
    ec umount --session "$s" >/dev/null 2>&1 || true
  done
  # the warm rows' mount lives in the environment's store, not the base's
  [ -e "$W/eh" ] && "$bin" --home "$W/eh" umount "$W/target" >/dev/null 2>&1 || true
  [ "$keep" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
if [ -s "$cached" ]; then base=$(ec base import "$cached")
else base=$(ec --json base bootstrap --suite bookworm --variant minbase | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])'); fi
ec layer export "$base" -o "$W/base.tar.zst"

# A fresh writable copy of the base for one apt run: an overlay session (untimed).
# Nothing is deleted between runs: this file system allocates inodes slowly for a minute
# after a mass deletion (ext4 without a journal skips recently freed inodes), which would
# charge one run for the cleanup of the one before. Old copies go at the end.
cat > "$W/fresh.sh" <<SH
#!/bin/sh
# fresh.sh NAME [SEED]: a new overlay copy of the base, optionally seeded, at $W/NAME (a link)
n=\$1-\$(date +%s%N)
"$bin" --home "$H" mount --layers "$base" --session "\$n" "$W/\$n" >/dev/null
mkdir -p "$W/\$n/dev" "$W/\$n/proc"
[ -z "\${2:-}" ] || cp -a "\$2/." "$W/\$n/"
ln -sfn "$W/\$n" "$W/\$1"
sync
SH
# fresh_store: a new empty store with the base and the environment, at $W/eh (a link)
cat > "$W/fresh_store.sh" <<SH
#!/bin/sh
n=$W/eh-\$(date +%s%N)
"$bin" --home "\$n" base import "$W/base.tar.zst" >/dev/null
"$bin" --home "\$n" env create -f "$W/env.json" --base "$base" >/dev/null
ln -sfn "\$n" "$W/eh"
sync # the import's writeback is not the timed run's
SH
cat > "$W/inroot.sh" <<'SH'
#!/bin/sh
# inroot.sh ROOT CMD: CMD in ROOT with /dev, /proc and the host's resolver
r=$1; shift
exec unshare -m sh -c 'r=$1; shift; mount --rbind /dev "$r/dev"; mount -t proc proc "$r/proc"
  cp /etc/resolv.conf "$r/etc/resolv.conf"; exec chroot "$r" sh -c "$1"' sh "$r" "$*"
SH
chmod +x "$W/fresh.sh" "$W/fresh_store.sh" "$W/inroot.sh"

# The seed for apt's warm row: lists and every .deb, fetched once.
"$W/fresh.sh" seedroot
"$W/inroot.sh" "$W/seedroot" "apt-get -qq update && apt-get -qq install -y --download-only --no-install-recommends $pkg" >/dev/null
mkdir -p "$W/seed/var/lib/apt" "$W/seed/var/cache/apt"
cp -a "$W/seedroot/var/lib/apt/lists" "$W/seed/var/lib/apt/"
cp -a "$W/seedroot/var/cache/apt/archives" "$W/seed/var/cache/apt/"
debs=$(ls "$W/seed/var/cache/apt/archives/"*.deb | wc -l)
mb=$(du -sm "$W/seed/var/cache/apt/archives" | cut -f1)
printf '{"name":"bench","config":{"packages":{"apt":["%s"]}}}' "$pkg" > "$W/env.json"

say() { if [ "$json" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
say "== $pkg: $debs packages, $mb MB of .debs"
hyperfine --runs "$runs" --export-json "$W/cold.json" --style basic \
  --prepare "'$W/fresh_store.sh'" \
  -n "envcache warm (cold store)" "'$bin' --home '$W/eh' --quiet warm bench" \
  --prepare "'$W/fresh.sh' coldroot" \
  -n "apt-get update + install (cold apt cache)" \
  "'$W/inroot.sh' '$W/coldroot' 'apt-get -qq update && apt-get -qq install -y --no-install-recommends $pkg' >/dev/null" \
  --prepare "d='$W'/dx-\$(date +%s%N) && mkdir \$d && ln -sfn \$d '$W/dx' && sync" \
  -n "dpkg -x of each .deb (unpack only)" \
  "for f in '$W'/seed/var/cache/apt/archives/*.deb; do dpkg -x \$f '$W/dx/'; done"

"$bin" --home "$W/eh" --quiet warm bench >/dev/null
hyperfine --runs "$((runs * 3))" --warmup 1 --export-json "$W/warm.json" --style basic \
  --prepare "'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1 || true" \
  -n "envcache-mount hook (built)" "'$(dirname "$bin")/envcache-mount' --home '$W/eh' bench '$W/target' >/dev/null" \
  --prepare "'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1 || true" \
  -n "envcache mount (built)" "'$bin' --home '$W/eh' mount bench '$W/target' >/dev/null" \
  --prepare "'$W/fresh.sh' warmroot '$W/seed'" \
  -n "apt-get install (all .debs cached)" \
  "'$W/inroot.sh' '$W/warmroot' 'apt-get -qq install -y --no-install-recommends $pkg' >/dev/null"
"$bin" --home "$W/eh" umount "$W/target" >/dev/null 2>&1 || true

python3 - "$json" "$W/cold.json" "$W/warm.json" "$pkg" "$debs" "$mb" <<'PY'
import json, os, sys
as_json, cold, warm, pkg, debs, mb = sys.argv[1] == "1", *sys.argv[2:]
runs = {k: json.load(open(f))["results"] for k, f in (("cold", cold), ("warm", warm))}
res = {k: {x["command"]: x["median"] for x in v} for k, v in runs.items()}
# CPU time (user + system, mean, children included): what the work costs whatever the
# machine's load; divided by the CPUs it is the least wall time the work can take.
cpu = {x["command"]: round(x["user"] + x["system"], 2) for x in runs["cold"]}
cpus = os.cpu_count() or 1
def pick(d, p): return next(v for k, v in d.items() if k.startswith(p))
out = {"package": pkg, "debs": int(debs), "mb": int(mb), **res, "cold_cpu_seconds": cpu,
       "cpus": cpus,
       "ratio_cold_apt_over_envcache": round(pick(res["cold"], "apt") / pick(res["cold"], "envcache"), 2),
       "ratio_cold_envcache_over_dpkg_x": round(pick(res["cold"], "envcache") / pick(res["cold"], "dpkg -x"), 2),
       "ratio_warm_apt_over_envcache": round(pick(res["warm"], "apt") / pick(res["warm"], "envcache"), 1)}
if as_json:
    print(json.dumps(out, indent=2))
else:
    print(f"\n{pkg}: {debs} packages, {mb} MB of .debs")
    for kind in ("cold", "warm"):
        for cmd, m in res[kind].items():
            extra = f"   cpu {cpu[cmd]:6.2f} s" if kind == "cold" else ""
            print(f"  {kind:4}  {cmd:42} {m*1000:10.1f} ms{extra}")
    print(f"  cold: apt/envcache = {out['ratio_cold_apt_over_envcache']}x   warm: apt/envcache = {out['ratio_warm_apt_over_envcache']}x")
    print(f"  cold: envcache's whole build takes {out['ratio_cold_envcache_over_dpkg_x']}x the time of dpkg -x alone")
    e = pick(cpu, "envcache")
    print(f"  cold: envcache used {e:.2f} s of CPU: on {cpus} CPUs it cannot take less than {e / cpus:.2f} s")
PY
