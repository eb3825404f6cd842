# Helpers of the live tests that need a Debian base: the cached bootstrapped minbase
# (tests/live/test_base_bootstrap.sh keeps it), else a real bootstrap now.
base_digest() {
  local cache=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests/base-bookworm-minbase.tar.zst
  if [ -s "$cache" ]; then ec base import "$cache"; return; fi
  ec --json base bootstrap --suite bookworm --variant minbase | json_get digest
}
# in_root ROOT CMD…: runs CMD chrooted in ROOT with /dev and /proc, in a private mount
# namespace (so nothing stays mounted), on the host's network.
in_root() {
  local r; r=$(realpath "$1"); shift
  mkdir -p "$r/dev" "$r/proc" || return 1
  unshare -m sh -c 'r=$1; shift
    mount --rbind /dev "$r/dev" && mount -t proc proc "$r/proc" || exit 125
    cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null
    exec chroot "$r" "$@"' sh "$r" "$@"
}
export -f in_root
