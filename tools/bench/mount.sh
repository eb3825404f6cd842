#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: time from nothing to a usable TARGET for a stack of warm layers, with
# `envcache mount` against `zstd -dc | tar -x` of the same layer blobs, side by side.
#
#   tools/bench/mount.sh [--rounds N] [--layers N] [--files N] [--dir DIR] [--json]
#                        [--with-teardown] [--no-copy] [--no-hyperfine] [--keep]
# Defaults: 10 rounds, 6 layers, 20000 files, the work tree in $TMPDIR or /tmp
# (--dir picks the file system, e.g. one with reflinks for the copy mode).
#
# It builds LAYERS deterministic trees holding FILES regular files in all (0-8 KiB
# each, nested directories), imports them with `envcache layer import`, exports the
# blobs with `envcache layer export`, and then times, ROUNDS times each:
#   envcache   envcache mount --layers D1,..,Dn --session ID T, then reads a file from
#              the bottom and the top layer
#   copy       the same with `mount --copy` (when the CLI has it): the fallback mode
#   tar        mkdir T; zstd -dc BLOB | tar -x -C T for each blob in order; the same reads
# Undoing a round (envcache umount T; rm -rf T) runs untimed before the next one,
# unless --with-teardown puts it inside the timed command.
# It prints the median of each and the ratio tar/envcache; --json prints one object.
# The binary is $ENVCACHE_BIN, else ./build/tools/envcache. Overlay mounts need root;
# without it envcache copies and the result says so.
set -euo pipefail

rounds=10 layers=6 files=20000 json=0 teardown_timed=0 want_copy=1 use_hyperfine=1 keep=0
base_dir=${TMPDIR:-/tmp}

usage() { sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/mount: $*" >&2; exit 1; }
say() { if [ "$json" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=${2:?}; shift ;;
    --layers) layers=${2:?}; shift ;;
    --files) files=${2:?}; shift ;;
    --dir) base_dir=${2:?}; shift ;;
    --json) json=1 ;;
    --with-teardown) teardown_timed=1 ;;
    --no-copy) want_copy=0 ;;
    --no-hyperfine) use_hyperfine=0 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
case "$rounds$layers$files" in *[!0-9]*) die "--rounds, --layers and --files take numbers" ;; esac
if [ "$layers" -lt 1 ] || [ "$rounds" -lt 1 ]; then
  die "--rounds and --layers must be at least 1"
fi
[ "$files" -ge $((layers + 2)) ] || die "--files must be at least --layers + 2"

bin=${ENVCACHE_BIN:-./build/tools/envcache}
[ -x "$bin" ] || die "no envcache binary at $bin (build it, or set ENVCACHE_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
for tool in zstd tar awk; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
if [ "$use_hyperfine" = 1 ] && ! command -v hyperfine >/dev/null; then
  use_hyperfine=0
fi
if [ "$want_copy" = 1 ] && ! "$bin" mount --help 2>&1 | grep -q -- '--copy'; then
  want_copy=0
fi

work=$(mktemp -d "$base_dir/envcache-bench.XXXXXX")
home=$work/home src=$work/src blobs=$work/blobs
t_env=$work/t-envcache t_copy=$work/t-copy t_tar=$work/t-tar

# Nothing may stay mounted, and rm -rf must never run through a mount.
cleanup() {
  local rc=$? t
  for t in "$t_env" "$t_copy"; do
    "$bin" --home "$home" umount "$t" >/dev/null 2>&1 || true
  done
  awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r t; do umount -l "$t" || true; done
  if [ "$keep" = 1 ]; then
    echo "bench/mount: kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- layers ---

# Layer L gets usr/lib/pkgL/dNN/eN/fNNNNN files (usr and usr/lib merge across layers)
# and bench/layer; the base has bench/bottom and the top bench/top. Contents are cut
# from a pool of pseudo-random text (Park-Miller, the same in every awk).
gen_layers() {
  local l
  for ((l = 0; l < layers; l++)); do
    mkdir -p "$src/L$l/bench" "$src/L$l/usr/lib/pkg$l/d"{00..16}"/e"{0..4}
  done
  awk -v root="$src" -v layers="$layers" -v files="$files" '
    function rnd() { seed = (seed * 16807) % 2147483647; return seed }
    function put(path, size,    k, left) {
      k = rnd() % npool
      for (left = size; left >= 64; left -= 64) { printf "%s", pool[k] > path; k = (k + 1) % npool }
      if (left > 0) printf "%s", substr(pool[k], 1, left) > path
      if (size == 0) printf "" > path
      close(path)
      bytes += size
    }
    BEGIN {
      seed = 20240601; npool = 16384
      cs = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
      for (i = 0; i < npool; i++) {
        line = ""
        for (j = 0; j < 63; j++) line = line substr(cs, rnd() % 64 + 1, 1)
        pool[i] = line "\n"
      }
      rest = files - 2 - layers
      for (l = 0; l < layers; l++) {
        n = int(rest / layers) + (l < rest % layers ? 1 : 0)
        for (i = 0; i < n; i++)
          put(sprintf("%s/L%d/usr/lib/pkg%d/d%02d/e%d/f%05d", root, l, l, i % 17,
                      int(i / 17) % 5, i), rnd() % 8193)
        path = sprintf("%s/L%d/bench/layer", root, l); printf "%d\n", l > path; close(path)
      }
      path = root "/L0/bench/bottom"; printf "bottom\n" > path; close(path)
      path = sprintf("%s/L%d/bench/top", root, layers - 1); printf "top\n" > path; close(path)
      print bytes
    }'
}

say "bench/mount: generating $layers layers with $files files in $work"
data_bytes=$(gen_layers)
mkdir -p "$home" "$blobs"

digests=()
for ((l = 0; l < layers; l++)); do
  d=$("$bin" --home "$home" layer import "$src/L$l" | grep -o 'sha256:[0-9a-f]\{64\}' | tail -n 1)
  [ -n "$d" ] || die "layer import of $src/L$l printed no digest"
  # -o first: it works whether or not the CLI permutes options after DIGEST
  "$bin" --home "$home" layer export -o "$blobs/L$l.tar.zst" "$d" >/dev/null
  digests+=("$d")
done
list=$(IFS=,; echo "${digests[*]}")
blob_bytes=$(cat "$blobs"/*.tar.zst | wc -c)

# One untimed mount warms the layers (unpacked in the store) and says which mode we get.
mode=$("$bin" --home "$home" --json mount --layers "$list" --session bench-probe "$t_env" |
  grep -o '"mode": *"[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"')
[ "$(cat "$t_env/bench/bottom" "$t_env/bench/top")" = $'bottom\ntop' ] ||
  die "the mounted stack does not show the bottom and top layers"
"$bin" --home "$home" umount "$t_env" >/dev/null

# --- the commands ---

q() { printf '%q' "$1"; }
reads() { echo "cat $(q "$1/bench/bottom") $(q "$1/bench/top") >/dev/null"; }
setup_env="$(q "$bin") --home $(q "$home") mount --layers $list --session bench-overlay $(q "$t_env") >/dev/null && $(reads "$t_env")"
undo_env="$(q "$bin") --home $(q "$home") umount $(q "$t_env") >/dev/null 2>&1 || true"
setup_copy="$(q "$bin") --home $(q "$home") mount --copy --layers $list --session bench-copy $(q "$t_copy") >/dev/null && $(reads "$t_copy")"
undo_copy="$(q "$bin") --home $(q "$home") umount $(q "$t_copy") >/dev/null 2>&1 || true"
setup_tar="set -o pipefail; mkdir $(q "$t_tar") && for b in $(q "$blobs")/L{0..$((layers - 1))}.tar.zst; do zstd -dcq \"\$b\" | tar -x -C $(q "$t_tar") || exit 1; done && $(reads "$t_tar")"
undo_tar="rm -rf $(q "$t_tar")"

names=(envcache tar) setups=("$setup_env" "$setup_tar") undos=("$undo_env" "$undo_tar")
if [ "$want_copy" = 1 ]; then
  names+=(copy) setups+=("$setup_copy") undos+=("$undo_copy")
fi

# --- timing ---

declare -A median_ms
timer=hyperfine
if [ "$use_hyperfine" = 1 ]; then
  args=(--warmup 2 --runs "$rounds" --shell bash --export-json "$work/hyperfine.json")
  [ "$json" = 1 ] && args+=(--style none)
  for i in "${!names[@]}"; do
    if [ "$teardown_timed" = 1 ]; then
      args+=(--prepare "${undos[$i]}" -n "${names[$i]}" "${setups[$i]} && ${undos[$i]}")
    else
      args+=(--prepare "${undos[$i]}" -n "${names[$i]}" "${setups[$i]}")
    fi
  done
  if [ "$json" = 1 ]; then hyperfine "${args[@]}" >&2; else hyperfine "${args[@]}"; fi
  bash -c "$undo_env; $undo_copy; $undo_tar"
  while read -r name sec; do
    median_ms[$name]=$(awk -v s="$sec" 'BEGIN { printf "%.2f", s * 1000 }')
  done < <(awk -F'"' '/"command":/ { c = $4 } /"median":/ { gsub(/[^0-9.eE+-]/, "", $3); print c, $3 }' \
             "$work/hyperfine.json")
else
  timer=bash
  now_ns() { date +%s%N; }
  declare -A samples
  for ((r = -2; r < rounds; r++)); do # two warm-up rounds, then the timed ones, interleaved
    for i in "${!names[@]}"; do
      bash -c "${undos[$i]}"
      t0=$(now_ns)
      if [ "$teardown_timed" = 1 ]; then
        bash -c "${setups[$i]} && ${undos[$i]}"
      else
        bash -c "${setups[$i]}"
      fi
      t1=$(now_ns)
      [ "$r" -ge 0 ] && samples[${names[$i]}]+="$(( (t1 - t0) / 1000 )) "
    done
  done
  bash -c "$undo_env; $undo_copy; $undo_tar"
  for name in "${names[@]}"; do
    median_ms[$name]=$(tr ' ' '\n' <<<"${samples[$name]}" | grep . | sort -n |
      awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m / 1000 }')
  done
fi

for name in "${names[@]}"; do
  [ -n "${median_ms[$name]:-}" ] || die "no timing for $name"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
env_ms=${median_ms[envcache]} tar_ms=${median_ms[tar]} copy_ms=${median_ms[copy]:-}
r_env=$(ratio "$tar_ms" "$env_ms")
r_copy=$([ -n "$copy_ms" ] && ratio "$tar_ms" "$copy_ms" || echo "")
what=$([ "$teardown_timed" = 1 ] && echo "setup + teardown" || echo "setup only")

if [ "$json" = 1 ]; then
  printf '{"layers": %d, "files": %d, "data_bytes": %d, "blob_bytes": %d, "rounds": %d, ' \
    "$layers" "$files" "$data_bytes" "$blob_bytes" "$rounds"
  printf '"timer": "%s", "teardown_timed": %s, "mode": "%s", ' \
    "$timer" "$([ "$teardown_timed" = 1 ] && echo true || echo false)" "$mode"
  printf '"envcache_ms": %s, "tar_ms": %s, "copy_ms": %s, "ratio": %s, "copy_ratio": %s}\n' \
    "$env_ms" "$tar_ms" "${copy_ms:-null}" "$r_env" "${r_copy:-null}"
else
  echo
  echo "stack: $layers layers, $files files, $((data_bytes / 1024)) KiB of data, $((blob_bytes / 1024)) KiB of tar.zst"
  echo "median of $rounds rounds ($timer, $what):"
  printf '  %-28s %10s ms\n' "envcache mount ($mode)" "$env_ms"
  [ -n "$copy_ms" ] && printf '  %-28s %10s ms\n' "envcache mount --copy" "$copy_ms"
  printf '  %-28s %10s ms\n' "zstd -dc | tar -x" "$tar_ms"
  echo "tar/envcache = ${r_env}×"
  [ -n "$r_copy" ] && echo "tar/envcache --copy = ${r_copy}×"
fi
