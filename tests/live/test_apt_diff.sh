#!/bin/bash
# Live differential test: the (package, version) set ec_apt_solve picks equals what
# `apt-get install -s --no-install-recommends PKG` would install in a Debian minbase root,
# both against the same Packages indexes (those apt-get update left in the root, so the
# same moment of the archive) and the root's own /var/lib/dpkg/status.
#
# The root is the cached minbase tarball of test_base_bootstrap.sh
# (${XDG_CACHE_HOME:-~/.cache}/envcache-tests/base-bookworm-minbase.tar.zst); without it,
# mmdebstrap bootstraps one from the host's apt sources. APT_DIFF_PKGS="a b" picks other
# packages. Needs root (unshare -m, chroot) and the archive; exit 77 when either is missing.
set -u
pkgs=${APT_DIFF_PKGS:-"jq ffmpeg graphviz git build-essential python3-numpy"}
suite=bookworm
driver=${APT_SOLVE_DRIVER:-$(dirname "${ENVCACHE_BIN:-build/tools/envcache}")/../tests/apt-solve-driver}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests
tarball=$cache/base-$suite-minbase.tar.zst
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }
retry() { local n=$1 i; shift; for ((i = 1; i <= n; i++)); do "$@" && return 0; sleep $((i * 3)); done; return 1; }

[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
[ -x "$driver" ] || { echo "skip: no driver at $driver (build the apt-solve-driver target)"; exit 77; }
T=$(mktemp -d "${EC_TEST_TMP:-/tmp}/aptdiff.XXXXXX")
trap 'rm -rf "$T"' EXIT
R=$T/root
mkdir -p "$R"
if [ -f "$tarball" ]; then
  tar --zstd -xf "$tarball" -C "$R" || { bad "unpack $tarball"; exit 1; }
else
  src=/etc/apt/sources.list.d/debian.sources
  [ -f "$src" ] || src=/etc/apt/sources.list
  command -v mmdebstrap >/dev/null || { echo "skip: no cached base and no mmdebstrap"; exit 77; }
  retry 2 mmdebstrap --variant=minbase "$suite" "$R" "$src" >"$T/boot.log" 2>&1 ||
    { echo "skip: bootstrap failed: $(tail -n 3 "$T/boot.log")"; exit 77; }
fi
mkdir -p "$R/dev" "$R/proc"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null
inroot() {
  unshare -m --propagation private sh -c 'mount --bind /proc "$0/proc" && mount --rbind /dev "$0/dev" && exec chroot "$0" "$@"' "$R" "$@"
}
retry 3 inroot apt-get update >"$T/update.log" 2>&1 ||
  { echo "skip: apt-get update in the root failed: $(tail -n 3 "$T/update.log")"; exit 77; }

# The indexes apt-get update fetched, each with the source line it came from.
args=()
for f in "$R"/var/lib/apt/lists/*_Packages; do
  base=$(basename "$f")
  uri= sfx=
  while read -r u s c; do
    for comp in $c; do
      key=$(printf '%s/dists/%s/%s/binary-' "${u#*://}" "$s" "$comp" | tr / _)
      case "$base" in "$key"*) uri=$u sfx="$s $comp" ;; esac
    done
  done < <(inroot apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' 2>/dev/null | sed 's|/ | |' | sort -u)
  if [ -z "$uri" ]; then bad "no source line for $base"; continue; fi
  # shellcheck disable=SC2086
  args+=(--index "$uri" $sfx "$f")
done
[ ${#args[@]} -gt 0 ] || { bad "no Packages index in the root"; exit 1; }
arch=$(inroot dpkg --print-architecture)

for p in $pkgs; do
  if ! inroot apt-get install -s --no-install-recommends "$p" >"$T/apt-$p.log" 2>&1; then
    bad "$p: apt-get install -s failed: $(tail -n 3 "$T/apt-$p.log")"; continue
  fi
  sed -nE 's/^Inst ([^ ]+) (\[[^]]*\] )?\(([^ ]+) .*/\1 \3/p' "$T/apt-$p.log" | sed 's/:[a-z0-9-]* / /' | sort >"$T/want-$p"
  t0=$(date +%s.%N)
  if ! "$driver" --arch "$arch" --status "$R/var/lib/dpkg/status" "${args[@]}" -- "$p" >"$T/ours-$p" 2>"$T/err-$p"; then
    bad "$p: ec_apt_solve failed: $(cat "$T/err-$p")"; continue
  fi
  t1=$(date +%s.%N)
  awk '{print $1, $2}' "$T/ours-$p" | sort >"$T/got-$p"
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  if diff -u "$T/want-$p" "$T/got-$p" >"$T/diff-$p"; then
    ok "$p: $(wc -l <"$T/want-$p") packages, the same as apt (solved in $secs s)"
  else
    bad "$p: differs from apt (- apt, + envcache):"; cat "$T/diff-$p"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
