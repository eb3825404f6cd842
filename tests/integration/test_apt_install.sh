#!/bin/bash
# The apt install step against dpkg itself: real .debs from the host's apt (jq and its
# libraries) installed natively over the cached bootstrapped bookworm base, the layer
# overlaid on the base, its build steps run in a chroot, and then dpkg agrees: dpkg -l,
# dpkg -S, dpkg --audit and the program itself.
# A live test (ctest: live/test_apt_install): it needs root and the archive through the
# host's apt, and exits 77 without them. The base is the one live/test_base_bootstrap
# keeps (a ctest fixture runs that first); without it, this test bootstraps and keeps it.
. "$(dirname "$0")/lib.sh"

cache=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests/base-bookworm-minbase.tar.zst
driver=${APT_INSTALL_DRIVER:-$(dirname "$ENVCACHE_BIN")/../tests/apt-install-driver}
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
[ -x "$driver" ] || { echo "skip: no $driver"; exit 77; }
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { echo "skip: no apt"; exit 77; }
if [ ! -s "$cache" ]; then
  echo "# no cached base at $cache: bootstrapping it"
  out=$(ENVCACHE_HOME=$T/boot ec --json base bootstrap --suite bookworm --variant minbase 2>"$T/boot.err") || {
    if grep -q "cannot read the archive's state" "$T/boot.err"; then
      echo "skip - the Debian archive is not reachable: $(cat "$T/boot.err")"; exit 77
    fi
    cat "$T/boot.err"; bad "bootstrap the base"; finish; exit 1
  }
  mkdir -p "$(dirname "$cache")"
  ENVCACHE_HOME=$T/boot ec layer export "$(printf '%s' "$out" | json_get digest)" -o "$cache.part" && mv "$cache.part" "$cache"
fi

mkdir -p "$T/root" "$T/debs" "$T/stage" "$T/home"
zstd -dcq "$cache" | tar -x -C "$T/root"
chmod 777 "$T/debs"
debs=${APT_INSTALL_DEBS:-jq libjq1 libonig5}
(cd "$T/debs" && timeout 300 apt-get download $debs >/dev/null 2>&1) ||
  { echo "skip: apt-get download failed (no archive?)"; exit 77; }

# The lock as the solver would write it, in the order apt lists the packages.
for f in "$T"/debs/*.deb; do
  printf '%s\t%s\t%s\t%s\t%s\n' "$(dpkg-deb -f "$f" Package)" "$(dpkg-deb -f "$f" Version)" \
    "$(dpkg-deb -f "$f" Architecture)" "$(dpkg-deb -f "$f" Multi-Arch)" \
    "$(sha256sum "$f" | cut -d' ' -f1)"
done | python3 -c 'import json, sys
pk = []
for l in sys.stdin:
    n, v, a, m, s = l.rstrip("\n").split("\t")
    pk.append({"name": n, "version": v, "arch": a, "multi_arch": m or "no", "sha256": s})
json.dump({"manager": "apt", "packages": pk}, open(sys.argv[1], "w"))' "$T/lock.json"

start=$(date +%s%N)
check "install runs" bash -c "'$driver' '$T/home' '$T/root' '$T/stage' '$T/lock.json' '$T'/debs/*.deb > '$T/out.json'"
echo "install of $(ls "$T/debs" | wc -l) .debs: $(( ($(date +%s%N) - start) / 1000000 )) ms (driver: $(json_get install_ms < "$T/out.json") ms unpack+db)"
check "no real /lib in the layer (the base's link stays)" test ! -e "$T/stage/lib"
check "jq is in the layer" test -x "$T/stage/usr/bin/jq"
check "status keeps the base's packages" grep -q '^Package: libc6$' "$T/stage/var/lib/dpkg/status"

# The layer over the base, as a session sees it.
mkdir -p "$T/upper" "$T/work" "$T/m"
if mount -t overlay overlay -o "lowerdir=$T/stage:$T/root,upperdir=$T/upper,workdir=$T/work" "$T/m" 2>/dev/null; then
  R=$T/m
else
  cp -a "$T/stage/." "$T/root/"; R=$T/root
fi
# The sandbox gives scripts /dev and /proc; the chroot needs them too (the base has no /dev).
mkdir -p "$R/dev" "$R/proc"
mount --bind /dev "$R/dev" && mount -t proc proc "$R/proc"
python3 - "$R" "$T/out.json" <<'PY' > "$T/steps.log" 2>&1
import json, subprocess, sys
root, out = sys.argv[1], json.load(open(sys.argv[2]))
for s in out["steps"]:
    print("step:", s["what"], flush=True)
    subprocess.run(["chroot", root, "env", "-i"] + s["env"] + s["argv"], check=True, cwd="/")
PY
check "build steps run in the chroot" test $? -eq 0 || cat "$T/steps.log"
check "dpkg -l jq: installed" bash -c "chroot '$R' dpkg -l jq | grep -q '^ii  jq '"
check "dpkg -S /usr/bin/jq" bash -c "chroot '$R' dpkg -S /usr/bin/jq | grep -qx 'jq: /usr/bin/jq'"
check "dpkg -S of a Multi-Arch: same library" bash -c "chroot '$R' dpkg -S /usr/lib/x86_64-linux-gnu/libjq.so.1 | grep -q '^libjq1:amd64: '"
check "dpkg --audit is clean" test -z "$(chroot "$R" dpkg --audit 2>&1)"
check "dpkg --verify jq" test -z "$(chroot "$R" dpkg --verify jq libjq1 libonig5 2>&1)"
check "jq --version" bash -c "chroot '$R' jq --version | grep -q '^jq-1'"
check "jq works" test "$(echo '{"a":[1,2]}' | chroot "$R" jq -c '.a|length')" = 2
umount "$R/proc" "$R/dev"
[ "$R" = "$T/m" ] && umount "$T/m"
finish
