#!/bin/bash
# Live (the Debian archive for the base's Ruby): the differential test of the gem
# resolver. For every top-level gem of the test registry, the (name, version, platform)
# set of the lock (gems to install plus the ones met beneath) equals what the real
# `gem install --explain` chooses with the same Ruby (the mounted base + apt ruby) against
# the same loopback registry. Differences print in full.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
. "$(dirname "$0")/lib_gem.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
base=$(base_digest) || { bad "a base"; finish; exit 1; }
gem_registry_serve || { bad "the test registry"; finish; exit 1; }
trap 'kill $GEM_REG_PID 2>/dev/null; cleanup' EXIT
# sqlitever's extension is built by the warm-up: the stack needs what it compiles with
apt='["ruby", "ruby-dev", "build-essential", "libsqlite3-dev"]'
printf '{"name":"rb","config":{"packages":{"apt":%s}}}' "$apt" > "$T/rb.json"
ec env create -f "$T/rb.json" --base "$base" >/dev/null
ok=0
for i in 1 2 3; do ec --quiet warm rb > "$T/rb.out" 2>&1 && { ok=1; break; }; sleep $((i * 3)); done
check "warm: the base with apt's ruby" test "$ok" = 1 || { cat "$T/rb.out"; finish; exit 1; }
R=$T/rb
ec mount rb --session rb "$R" >/dev/null
while read -r top; do
  [ -n "$top" ] || continue
  in_root "$R" gem install --explain --clear-sources --source "$GEM_REG/" "$top" > "$T/gem.$top" 2>&1
  sed -n 's/^  //p' "$T/gem.$top" | sort > "$T/want.$top"
  gem_env "d-$top" "$apt" "[\"$top\"]"
  if ! ec --quiet warm "d-$top" > "$T/warm.$top" 2>&1; then
    bad "$top: envcache could not warm it: $(tail -n 3 "$T/warm.$top")"; continue
  fi
  ec env lock "d-$top" gem | python3 -c 'import json,sys
l=json.load(sys.stdin)
for p in l["packages"]: print(p["full_name"])
for f in l["beneath"]: print(f)' | sort > "$T/got.$top"
  if [ -s "$T/want.$top" ] && cmp -s "$T/want.$top" "$T/got.$top"; then
    ok "$top: the same $(wc -l < "$T/got.$top") gems as gem install --explain"
  else
    bad "$top: envcache's lock differs from gem install --explain"
    echo "# gem install --explain $top:"; sed 's/^/#   /' "$T/gem.$top"
    echo "# diff (- gem, + envcache):"; diff "$T/want.$top" "$T/got.$top" | sed 's/^/#   /'
  fi
done < "$EC_GEM_REGISTRY/tops"
ec umount "$R" >/dev/null
finish
