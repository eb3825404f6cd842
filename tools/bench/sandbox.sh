#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: start and stop an empty sandbox (`true` in it), envcache's against bwrap and
# unshare + chroot, side by side, with hyperfine.
#
#   tools/bench/sandbox.sh [--runs N] [--base TAR|DIR] [--json]
#
# Each command runs `true` in a fresh set of namespaces over the same root:
#   envcache   envcache sandbox run --discard --base D -- true   (overlay root with a
#              fresh upper, mount/PID/IPC/UTS/net namespaces, /proc, /dev, /tmp, log)
#   layer      envcache sandbox run --base D -- true   (the same, and the empty result
#              packed, stored and recorded as a layer)
#   bwrap      bwrap --ro-bind / / true   (the host root, read-only; bubblewrap package):
#              the issue's yardstick, one mount namespace and nothing else
#   bwrap-ns   bwrap with the namespaces envcache makes (PID, IPC, UTS, net with its
#              loopback) over the same root, with /proc, /dev and a /tmp: like for like
#   unshare    unshare -mpinuf --mount-proc chroot ROOT true
# The root is a tiny tree of the host's programs (tests/integration/mkroot.sh) unless
# --base gives a directory or tarball. Needs root. Prints medians and ratios.
set -euo pipefail

runs=30 json=0 base_src=""
usage() { sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/sandbox: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --base) base_src=${2:?}; shift ;;
    --json) json=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || die "needs root (namespaces and overlay mounts)"
command -v hyperfine >/dev/null || die "hyperfine is needed (tools/install-deps.sh)"
bin=${ENVCACHE_BIN:-./build/tools/envcache}
[ -x "$bin" ] || die "no envcache binary at $bin (build it, or set ENVCACHE_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")/../.." && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/envcache-bench-sb.XXXXXX")
trap 'rm -rf "$work"' EXIT
home=$work/home
if [ -z "$base_src" ]; then
  bash "$here/tests/integration/mkroot.sh" "$work/root" >/dev/null
  base_src=$work/root
fi
base=$("$bin" --home "$home" base import "$base_src")
root=$("$bin" --home "$home" --json layer ls | awk -F'"' '/"diff_id"/ { print $4 }' | head -1)
root=$home/layers/${root#sha256:}
[ -d "$root" ] || die "the base did not unpack at $root"
# unshare + chroot and bwrap-ns get their own copy of the same tree, with /proc, /dev and
# /tmp to mount on.
cp -a "$root" "$work/chroot" && mkdir -p "$work/chroot/proc" "$work/chroot/dev" "$work/chroot/tmp"
root=$work/chroot

q() { printf '%q' "$1"; }
names=(envcache layer unshare) cmds=(
  "$(q "$bin") --home $(q "$home") sandbox run --discard --base $base -- true"
  "$(q "$bin") --home $(q "$home") sandbox run --base $base -- true"
  "unshare -mpinuf --mount-proc=$(q "$root")/proc chroot $(q "$root") true")
if command -v bwrap >/dev/null; then
  names+=(bwrap bwrap-ns) cmds+=("bwrap --ro-bind / / true"
    "bwrap --unshare-pid --unshare-ipc --unshare-uts --unshare-net --ro-bind $(q "$root") / --proc /proc --dev /dev --tmpfs /tmp true")
fi
args=(--warmup 3 --runs "$runs" -N --export-json "$work/h.json")
[ "$json" = 1 ] && args+=(--style none)
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
if [ "$json" = 1 ]; then hyperfine "${args[@]}" >&2; else hyperfine "${args[@]}"; fi

declare -A ms
while read -r name sec; do
  ms[$name]=$(awk -v s="$sec" 'BEGIN { printf "%.2f", s * 1000 }')
done < <(awk -F'"' '/"command":/ { c = $4 } /"median":/ { gsub(/[^0-9.eE+-]/, "", $3); print c, $3 }' "$work/h.json")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
if [ "$json" = 1 ]; then
  printf '{"runs": %d' "$runs"
  for n in "${names[@]}"; do printf ', "%s_ms": %s' "$n" "${ms[$n]}"; done
  printf '}\n'
else
  echo
  echo "median of $runs runs (hyperfine), start + stop of a sandbox running true:"
  for n in "${names[@]}"; do
    printf '  %-10s %8s ms   (envcache/%s %s×)\n' "$n" "${ms[$n]}" "$n" "$(ratio "${ms[envcache]}" "${ms[$n]}")"
  done
fi
