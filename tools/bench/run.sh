#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: a session as a container, and the start-up hook's mount, side by side with
# what a user would otherwise run, with hyperfine.
#
#   tools/bench/run.sh [--runs N] [--base TAR|DIR] [--json]
#
# Containers (each runs `true` and is gone after):
#   envcache   envcache run ENV -- true  (a new session: overlay root, bundle, runc run,
#              then the session unmounted and forgotten)
#   runc       runc run of a bundle over the same stack mounted once by hand (no session)
#   bwrap      bwrap --ro-bind ROOT / true  (the same stack, read-only, no new PID/net ns)
# Mounts (each leaves a mounted stack; it is taken down untimed before the next run):
#   hook       envcache-mount ENV TARGET  (the start-up hook: a recorded session)
#   overlay    mount -t overlay with the same lower directories, upper and work
# The environment is a base (a tiny tree of the host's programs, tests/integration/
# mkroot.sh, unless --base gives a directory or tarball) and one small layer on top.
# Needs root and runc. Prints medians and the ratios the issue asks for.
set -euo pipefail

runs=30 json=0 base_src=""
usage() { sed -n '3,18p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/run: $*" >&2; exit 1; }
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
[ "$(id -u)" = 0 ] || die "needs root (containers and overlay mounts)"
for t in hyperfine runc bwrap; do command -v $t >/dev/null || die "$t is needed (tools/install-deps.sh)"; done
bin=${ENVCACHE_BIN:-./build/tools/envcache}
[ -x "$bin" ] || die "no envcache binary at $bin (build it, or set ENVCACHE_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
hook=$(dirname "$bin")/envcache-mount
here=$(cd "$(dirname "$0")/../.." && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/envcache-bench-run.XXXXXX")
export ENVCACHE_HOME=$work/home ENVCACHE_AUTO_BASE=off
cleanup() {
  "$bin" umount --session bench-hook >/dev/null 2>&1 || true
  "$bin" umount --session bench-byhand >/dev/null 2>&1 || true
  umount "$work/ovl" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$base_src" ]; then
  bash "$here/tests/integration/mkroot.sh" "$work/rootsrc" >/dev/null
  mkdir -p "$work/rootsrc/proc" "$work/rootsrc/dev" "$work/rootsrc/sys"
  base_src=$work/rootsrc
fi
base=$("$bin" base import "$base_src")
mkdir -p "$work/top/etc" && echo bench > "$work/top/etc/bench"
top=$("$bin" layer import "$work/top")
"$bin" base default "$base"
echo '{"name": "bench", "config": {"type": "cloud", "packages": {}}}' | "$bin" env create -f - >/dev/null
lowers=()
for d in "$base" "$top"; do
  diff=$("$bin" --json layer ls | python3 -c 'import json,sys
for l in json.load(sys.stdin):
    if l["digest"] == sys.argv[1]: print(l["diff_id"].split(":")[1])' "$d")
  lowers+=("$ENVCACHE_HOME/layers/$diff")
done
"$bin" mount --layers "$base,$top" --session bench-byhand "$work/byhand" >/dev/null
mkdir -p "$work/bundle" && (cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" "$work/byhand" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"] = {"path": sys.argv[2], "readonly": False}
c["process"].update(terminal=False, args=["true"])
c["process"].pop("rlimits", None)
c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/sys/fs/cgroup"]
json.dump(c, open(sys.argv[1], "w"))
EOF
# overlay's lowerdir lists the top layer first
ovl_lower="${lowers[1]}:${lowers[0]}"

q() { printf '%q' "$1"; }
H="$ENVCACHE_HOME"
containers=(envcache runc bwrap) ccmds=(
  "$(q "$bin") run --no-tty bench -- true"
  "runc run -b $(q "$work/bundle") bench-runc-$$"
  "bwrap --ro-bind $(q "$work/byhand") / true")
mounts=(hook overlay) mcmds=(
  "$(q "$hook") --session bench-hook bench $(q "$work/hook")"
  "mount -t overlay overlay -o lowerdir=$ovl_lower,upperdir=$(q "$work/u"),workdir=$(q "$work/w") $(q "$work/ovl")")
# hyperfine -N runs these without a shell too
mprep=(
  "sh -c $(q "$(q "$bin") umount --session bench-hook >/dev/null 2>&1; true")"
  "sh -c $(q "umount $(q "$work/ovl") 2>/dev/null; rm -rf $(q "$work/u") $(q "$work/w"); mkdir -p $(q "$work/u") $(q "$work/w") $(q "$work/ovl")")")

run_group() { # run_group JSONFILE names… -- cmds… [-- preps…]
  local out=$1; shift
  local -a args=(--warmup 3 --runs "$runs" -N --export-json "$out")
  [ "$json" = 1 ] && args+=(--style none)
  args+=("$@")
  if [ "$json" = 1 ]; then hyperfine "${args[@]}" >&2; else hyperfine "${args[@]}"; fi
}
cargs=(); for i in "${!containers[@]}"; do cargs+=(-n "${containers[$i]}" "${ccmds[$i]}"); done
run_group "$work/c.json" "${cargs[@]}"
margs=(); for i in "${!mounts[@]}"; do margs+=(--prepare "${mprep[$i]}" -n "${mounts[$i]}" "${mcmds[$i]}"); done
# hyperfine takes one --prepare per command, in order
run_group "$work/m.json" "${margs[@]}"

declare -A ms
while read -r name sec; do
  ms[$name]=$(awk -v s="$sec" 'BEGIN { printf "%.2f", s * 1000 }')
done < <(cat "$work/c.json" "$work/m.json" |
  awk -F'"' '/"command":/ { c = $4 } /"median":/ { gsub(/[^0-9.eE+-]/, "", $3); print c, $3 }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
if [ "$json" = 1 ]; then
  printf '{"runs": %d' "$runs"
  for n in "${containers[@]}" "${mounts[@]}"; do printf ', "%s_ms": %s' "$n" "${ms[$n]}"; done
  printf ', "envcache_over_runc": %s, "envcache_over_bwrap": %s, "hook_over_overlay": %s}\n' \
    "$(ratio "${ms[envcache]}" "${ms[runc]}")" "$(ratio "${ms[envcache]}" "${ms[bwrap]}")" \
    "$(ratio "${ms[hook]}" "${ms[overlay]}")"
else
  echo
  echo "median of $runs runs (hyperfine):"
  for n in "${containers[@]}"; do
    printf '  %-9s %8s ms  (envcache/%s %s×)\n' "$n" "${ms[$n]}" "$n" "$(ratio "${ms[envcache]}" "${ms[$n]}")"
  done
  for n in "${mounts[@]}"; do
    printf '  %-9s %8s ms  (hook/%s %s×)\n' "$n" "${ms[$n]}" "$n" "$(ratio "${ms[hook]}" "${ms[$n]}")"
  done
fi
