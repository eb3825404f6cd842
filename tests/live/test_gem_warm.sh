#!/bin/bash
# Live (the Debian archive for the base's Ruby): gems from the loopback test registry
# resolved against the Ruby of `apt: [ruby]`, verified, installed (pure-Ruby gems
# natively, the native one by that Ruby in the sandbox), mounted and used: require
# works, programs run, `gem list` lists them, the
# platform variant was chosen, the gems sit where `gem install` as root puts them. A
# native gem builds against libsqlite3-dev and loads; without ruby-dev it fails naming
# what to add. Tampered .gem and info files are refused with nothing stored; a base
# without Ruby is a clear error; a second warm asks upstream nothing.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
. "$(dirname "$0")/lib_gem.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
base=$(base_digest) || { bad "a base"; finish; exit 1; }
gem_registry_serve || { bad "the test registry"; finish; exit 1; }
trap 'kill $GEM_REG_PID 2>/dev/null; cleanup' EXIT


gem_env web '["ruby"]' '["webstack", "platy", "edgy:>= 1.1.a"]'
check "warm: webstack, platy and a pre-release on apt's ruby" gem_warm web || cat "$T/web.err" "$T/web.out" | tail -n 20
R=$T/root
ec mount web --session web "$R" >/dev/null
check "chroot: require rack, active_support, thor, platy" chroot "$R" ruby -e 'require "rack"; require "active_support"; require "thor"; require "platy"; exit(Platy::PLATFORM == Gem::Platform.local.to_s ? 0 : 1)'
check "chroot: the gems' programs run (tilde, rackup)" bash -c "in_root '$R' tilde | grep -qx 'tilde 1.0.0' && in_root '$R' rackup --version | grep -q Rack"
check "chroot: gem list lists them" bash -c "chroot '$R' gem list | grep -q '^webstack (1.0.0)' && chroot '$R' gem list | grep -q '^activesupport (6.1.7.10)'"
check "the pre-release was asked for and chosen" bash -c "chroot '$R' gem list edgy | grep -q '1.1.0.pre1'"
gemdir=$(chroot "$R" gem env gemdir)
check "gems are in gem env gemdir ($gemdir) and programs in /usr/local/bin" bash -c "test -d '$R$gemdir/gems/rack-2.2.22' && test -f '$R$gemdir/specifications/webstack-1.0.0.gemspec' && test -x '$R/usr/local/bin/tilde'"
check "the installed minitest beneath was kept, not the registry's newer one" bash -c "! test -e '$R$gemdir/gems/minitest-5.99.0' && ! test -e '$R$gemdir/gems/minitest-5.15.0'"
check "each .gem is kept where gem install keeps it ($gemdir/cache)" bash -c "test -f '$R$gemdir/cache/rack-2.2.22.gem' && test -f '$R$gemdir/cache/platy-1.0.0-x86_64-linux.gem'"
ec umount "$R" >/dev/null

: > "$GEM_REG_LOG"
ec --json warm web > "$T/web2.out" 2>&1
check "second warm: zero upstream requests" test "$(tail -n 1 "$T/web2.out" | json_get upstream_requests)" = 0
check "…and the registry saw none" test ! -s "$GEM_REG_LOG"

gem_env native '["ruby", "ruby-dev", "build-essential", "libsqlite3-dev"]' '["sqlitever"]'
check "warm: a native gem linking SQLite builds in the sandbox" gem_warm native || tail -n 30 "$T/native.out" "$T/native.err"
ec mount native --session native "$R" >/dev/null
check "chroot: the extension loads and reports SQLite's version" bash -c "chroot '$R' ruby -e 'require \"sqlitever\"; puts Sqlitever.sqlite_version' | grep -q '^3\.'"
check "chroot: its program runs" bash -c "in_root '$R' sqlitever | grep -qx 'sqlitever 1.0.0'"
ec umount "$R" >/dev/null

gem_env nodev '["ruby"]' '["sqlitever"]'
expect_fail "without ruby-dev the native gem fails naming the gem and what to add" "add ruby-dev" ec warm nodev
check "…naming the gem" bash -c "ec warm nodev 2>&1 | grep -q 'sqlitever-1.0.0'"

gem_env bad1 '["ruby"]' '["tampered"]'
expect_fail "a tampered .gem is refused, naming it" "tampered-1.0.0.gem" ec warm bad1
check "…and nothing of it is stored" bash -c "! find '$ENVCACHE_HOME' -path '*blobs/sha256/*' -type f -exec cmp -s {} '$EC_GEM_REGISTRY/gems/tampered-1.0.0.gem' \; -print | grep -q ."
gem_env bad2 '["ruby"]' '["badinfo"]'
expect_fail "a tampered info file is refused, naming it" "info/badinfo" ec warm bad2
check "…and nothing of it is stored" bash -c "test -n \"\$(find '$ENVCACHE_HOME' -path '*blobs/sha256/*' -type f | head -n1)\" && ! find '$ENVCACHE_HOME' -path '*blobs/sha256/*' -type f -exec grep -l -F '9.9.9 |checksum:' {} + | grep -q ."

printf '{"name":"noruby","config":{"packages":{"gem":["rack"]}}}' > "$T/noruby.json"
ec env create -f "$T/noruby.json" --base "$base" >/dev/null
expect_fail "a base without Ruby: a clear error" "add ruby to the environment's apt packages" ec warm noruby
gem_env nosuch '["ruby"]' '["no-such-gem"]'
expect_fail "an unknown gem is named" "no-such-gem is not in the registry" ec warm nosuch
check "the store verifies" ec --quiet verify
finish
