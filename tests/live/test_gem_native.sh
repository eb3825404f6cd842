#!/bin/bash
# Live (the Debian archive for the base's Ruby): pure-Ruby gems installed natively equal
# what the real `gem install` run as root puts in the same base. For the same gems of the
# loopback test registry (webstack's closure, platy, a pre-release, oddfiles with a
# symlink, odd modes and programs with and without "#!" options), the gem directory
# (`gem env gemdir`) and /usr/local/bin of the mounted environment are compared with a
# copy of the same apt root where the real gem install ran: every path, its type, mode,
# owner and content (symlinks: target); differences print in full, spec files and
# wrappers as diffs. The warm-up ran no gem install (its one step writes specifications).
# Then in the mounted session: gem list, require, the programs, and gem uninstall.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
. "$(dirname "$0")/lib_gem.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
base=$(base_digest) || { bad "a base"; finish; exit 1; }
gem_registry_serve || { bad "the test registry"; finish; exit 1; }
trap 'kill $GEM_REG_PID 2>/dev/null; cleanup' EXIT


# tree ROOT DIR…: one line per path under each DIR: path, type, mode, owner, then the
# sha256 of a file or the target of a symlink.
tree() {
  python3 - "$@" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
for top in sys.argv[2:]:
    for d, dirs, files in os.walk(root + top):
        for n in sorted(dirs + files):
            p = os.path.join(d, n); st = os.lstat(p); m = st.st_mode
            kind = "l" if stat.S_ISLNK(m) else "d" if stat.S_ISDIR(m) else "f"
            what = os.readlink(p) if kind == "l" else \
                hashlib.sha256(open(p, "rb").read()).hexdigest() if kind == "f" else ""
            print(p[len(root):], kind, oct(stat.S_IMODE(m)), f"{st.st_uid}:{st.st_gid}", what)
PY
}

gems='["webstack", "platy", "edgy:>= 1.1.a", "oddfiles"]'
gem_env pure '["ruby"]' "$gems"
check "warm: pure-Ruby gems (webstack, platy, edgy, oddfiles) on apt's ruby" gem_warm pure || cat "$T/pure.err" "$T/pure.out" | tail -n 20
gem_env rb '["ruby"]' '[]'
check "warm: the same apt root without gems" gem_warm rb || tail -n 20 "$T/rb.err"

R=$T/root G=$T/ref
ec mount pure --session pure "$R" >/dev/null || bad "mount pure"
ec mount rb --session ref "$G" >/dev/null || bad "mount rb"
gemdir=$(chroot "$R" gem env gemdir)
check "gem env gemdir is the same in both ($gemdir)" test "$gemdir" = "$(chroot "$G" gem env gemdir)"
in_root "$G" gem install --no-document --clear-sources --source "$GEM_REG/" webstack platy oddfiles > "$T/ref.out" 2>&1 &&
  in_root "$G" gem install --no-document --clear-sources --source "$GEM_REG/" edgy -v '>= 1.1.a' >> "$T/ref.out" 2>&1
check "the real gem install of the same gems in the reference root" test $? = 0 || cat "$T/ref.out"

tree "$R" "$gemdir" /usr/local/bin | grep -v "^$gemdir/specifications/default" | sort > "$T/got"
tree "$G" "$gemdir" /usr/local/bin | grep -v "^$gemdir/specifications/default" | sort > "$T/want"
n=$(grep -c "^$gemdir/gems/[^/]*/" "$T/got")
if [ "$n" -gt 100 ] && cmp -s "$T/want" "$T/got"; then
  ok "the gem directory and /usr/local/bin equal gem install's: $(wc -l < "$T/got") paths, $n of them gem files"
else
  bad "the natively installed tree differs from gem install's ($n gem files)"
  echo "# diff of path, type, mode, owner, content (- gem install, + envcache):"
  diff "$T/want" "$T/got" | sed 's/^/#   /'
  for f in $(diff "$T/want" "$T/got" | awk '/^[<>] / && $3 == "f" {print $2}' | sort -u); do
    [ -f "$G$f" ] && [ -f "$R$f" ] || continue
    echo "# diff -u of $f:"; diff -u "$G$f" "$R$f" | sed 's/^/#   /'
  done
fi
for f in "$gemdir/specifications/oddfiles-1.0.0.gemspec" /usr/local/bin/oddfiles /usr/local/bin/odd-plain; do
  check "$f is byte for byte gem install's" cmp "$G$f" "$R$f"
done
check "the wrapper of a program with '#!…ruby -w' passes -w to the Ruby beneath" \
  bash -c "head -n1 '$R/usr/local/bin/oddfiles' | grep -qx '#!/usr/bin/ruby[0-9.]* -w'"
check "the spec's '# stub:' line names the gem" bash -c "grep -q '^# stub: oddfiles 1.0.0 ruby lib$' '$R$gemdir/specifications/oddfiles-1.0.0.gemspec'"
check "the symlink in the gem is kept" test "$(readlink "$R$gemdir/gems/oddfiles-1.0.0/lib/oddfiles/alias.rb")" = real.rb
# the build log (a blob) names each step: "==> what"
check "the build ran no gem install: its one step wrote the specifications" bash -c "
  grep -rqF '==> the specifications of ' '$ENVCACHE_HOME' && ! grep -rqF '==> gem install' '$ENVCACHE_HOME'"
ec umount "$G" >/dev/null

check "chroot: gem list lists them" bash -c "chroot '$R' gem list > '$T/list' && grep -q '^webstack (1.0.0)' '$T/list' && grep -q '^oddfiles (1.0.0)' '$T/list' && grep -q '^edgy (1.1.0.pre1)' '$T/list' && grep -q '^activesupport (6.1.7.10)' '$T/list'"
check "chroot: require rack, active_support, thor, oddfiles" chroot "$R" ruby -e 'require "rack"; require "active_support"; require "thor"; require "oddfiles"; exit(Oddfiles::VERSION == "1.0.0" ? 0 : 1)'
check "chroot: the programs run (oddfiles, odd-plain, tilde, rackup, thor, rake)" bash -c "
  in_root '$R' oddfiles | grep -qx 'oddfiles 1.0.0' && in_root '$R' odd-plain | grep -qx 'odd-plain 1.0.0' &&
  in_root '$R' tilde | grep -qx 'tilde 1.0.0' && in_root '$R' rackup --version | grep -q Rack &&
  in_root '$R' thor version | grep -q Thor && in_root '$R' rake --version | grep -q rake"
check "chroot: gem uninstall removes a natively installed gem and its programs" bash -c "
  in_root '$R' gem uninstall -a -x --ignore-dependencies oddfiles >'$T/un' 2>&1 &&
  ! test -e '$R$gemdir/gems/oddfiles-1.0.0' && ! test -e '$R$gemdir/specifications/oddfiles-1.0.0.gemspec' &&
  ! test -e '$R/usr/local/bin/oddfiles' && ! chroot '$R' gem list oddfiles | grep -q oddfiles" || cat "$T/un"
check "chroot: gem uninstall of rack works too" bash -c "in_root '$R' gem uninstall -a -x --ignore-dependencies rack >/dev/null 2>&1 && ! chroot '$R' ruby -e 'require \"rack\"' 2>/dev/null"
ec umount "$R" >/dev/null
finish
