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
# base_security_digest: the cached base with the release's security archive added to its
# sources (the host's own source for it), as an installed Debian 12 has it: Debian's
# current toolchains (cargo-web, rustc-web) are updated there only.
base_security_digest() {
  local b r codename uri
  b=$(base_digest) || return 1
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
    awk -v r="$codename-security" '$2 == r {print $1; exit}')
  [ -n "$uri" ] || { echo "the host's sources name no $codename-security archive" >&2; return 1; }
  r=$T/base-security
  mkdir -p "$r" && ec layer export "$b" -o "$T/base.tar.zst" >/dev/null &&
    tar --zstd -xf "$T/base.tar.zst" -C "$r" || return 1
  echo "deb $uri $codename-security main" >> "$r/etc/apt/sources.list"
  ec base import "$r"
}
