#!/bin/bash
# Bootstraps a minbase Debian base from the host's configured archive (really, at least
# once: the tarball is then kept under ${XDG_CACHE_HOME:-~/.cache}/envcache-tests), checks
# that an unchanged archive reuses the layer, then apt-get installs a tiny local package
# in the sandbox through the loopback mirror port and runs its program from a mount of
# base + the resulting layer. EC_LIVE_BOOTSTRAP=1 forces a real bootstrap.
. "$(dirname "$0")/../integration/lib.sh"

suite=${EC_LIVE_SUITE:-bookworm}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests
cached=$cache/base-$suite-minbase.tar.zst
mkdir -p "$cache"

if [ "${EC_LIVE_BOOTSTRAP:-0}" = 1 ] || [ ! -s "$cached" ]; then
  t0=$(date +%s.%N)
  out=$(ec --json base bootstrap --suite "$suite" --variant minbase 2>"$T/boot.err") || {
    if grep -q "cannot read the archive's state" "$T/boot.err"; then
      echo "skip - the Debian archive is not reachable: $(cat "$T/boot.err")"; exit 77
    fi
    cat "$T/boot.err"; bad "bootstrap"; finish; exit 1
  }
  t1=$(date +%s.%N)
  base=$(printf '%s' "$out" | json_get digest)
  echo "# bootstrap of $suite minbase: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
  check "a fresh bootstrap is built" test "$(printf '%s' "$out" | json_get reused)" = False
  t0=$(date +%s.%N)
  again=$(ec --json base bootstrap --suite "$suite" --variant minbase 2>/dev/null)
  t1=$(date +%s.%N)
  echo "# second bootstrap (unchanged archive): $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
  check "an unchanged archive reuses the layer" test "$(printf '%s' "$again" | json_get reused)" = True
  check "the same layer" test "$(printf '%s' "$again" | json_get digest)" = "$base"
  ec layer export "$base" -o "$cached.part" && mv "$cached.part" "$cached"
else
  echo "# using the cached base $cached (EC_LIVE_BOOTSTRAP=1 bootstraps again)"
  base=$(ec base import "$cached")
fi
check "the base is recorded as a base" bash -c "ec --json layer ls | grep -q '\"base\": true'"

if ! root_is_mount; then
  echo "# / is not a mount point here (a chroot?): the sandbox half of this test is skipped"
  finish; exit
fi

# --- a tiny package, a flat repository, served on loopback ---
pkg=$T/pkg
mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$T/repo"
cat > "$pkg/DEBIAN/control" <<CTL
Package: ec-hello
Version: 1.0
Architecture: all
Maintainer: envcache tests <tests@localhost>
Description: prints a greeting (envcache sandbox test)
CTL
printf '#!/bin/sh\necho "hello from ec-hello"\n' > "$pkg/usr/bin/ec-hello"
printf '#!/bin/sh\nset -e\necho configured > /etc/ec-hello.conf\n' > "$pkg/DEBIAN/postinst"
chmod 0755 "$pkg/usr/bin/ec-hello" "$pkg/DEBIAN/postinst"
dpkg-deb --root-owner-group --build "$pkg" "$T/repo/ec-hello_1.0_all.deb" >/dev/null
(cd "$T/repo" && dpkg-scanpackages --multiversion . /dev/null > Packages 2>/dev/null)
port=$((20000 + RANDOM % 20000))
(cd "$T/repo" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) & srv=$!
trap 'kill $srv 2>/dev/null; cleanup' EXIT
for _ in $(seq 50); do bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break; sleep 0.1; done

install="echo 'deb [trusted=yes] http://127.0.0.1:$port ./' > /etc/apt/sources.list.d/ec-local.list &&
apt-get -o Dir::Etc::sourcelist=sources.list.d/ec-local.list -o Dir::Etc::sourceparts=- update &&
apt-get install -y --no-install-recommends ec-hello"
layer=$(ec sandbox run --base "$base" --mirror "$port" --timeout 300 -- sh -c "$install" 2>"$T/sb.err")
check "apt-get install in the sandbox yields a layer" bash -c "[[ '$layer' == sha256:* ]]" || cat "$T/sb.err"
ec layer export "$layer" -o "$T/l.tar.zst"
zstd -dcq "$T/l.tar.zst" | tar -t > "$T/list"
check "the layer holds the program" grep -q 'usr/bin/ec-hello$' "$T/list"
check "the maintainer script ran" grep -q 'etc/ec-hello.conf$' "$T/list"
check "apt's lists and caches are left out" bash -c "! grep -q 'var/lib/apt/lists/\|var/cache/apt/\|var/log/' '$T/list'"
ec mount --layers "$base,$layer" --session live-apt "$T/m" >/dev/null
check "the mounted stack runs the package's program" test "$(chroot "$T/m" /usr/bin/ec-hello)" = "hello from ec-hello"
check "dpkg knows the package" bash -c "chroot '$T/m' dpkg-query -W -f='\${Status}' ec-hello | grep -q 'install ok installed'"
ec umount "$T/m" >/dev/null
check "no mounts left" bash -c "! grep -q '$T' /proc/self/mountinfo"
finish
