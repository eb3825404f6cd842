#!/bin/bash
# Live: apt packages resolved against a bootstrapped base and the host's Debian archive,
# built into a layer (native unpack, maintainer scripts in the sandbox), mounted and run;
# dpkg in the session sees them installed; Python's bytecode that the maintainer scripts
# compiled is valid there; a second warm makes no request.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
base=$(base_digest) || { bad "a base"; finish; exit 1; }
printf '{"name":"media","config":{"packages":{"apt":["jq","ffmpeg","python3-yaml"]}}}' > "$T/env.json"
ec env create -f "$T/env.json" --base "$base" >/dev/null
ok=0
for i in 1 2 3; do ec --json warm media > "$T/warm.json" 2>"$T/warm.err" && { ok=1; break; }; sleep $((i * 3)); done
check "warm: jq and ffmpeg against the base" test "$ok" = 1 || cat "$T/warm.err"
res=$(tail -n 1 "$T/warm.json")
echo "# $(printf '%s' "$res" | json_get managers.apt.packages) packages"
R=$T/root
ec mount media --session media "$R" >/dev/null
check "chroot TARGET jq --version" bash -c "chroot '$R' jq --version | grep -q '^jq-'"
check "chroot TARGET ffmpeg -version" bash -c "chroot '$R' ffmpeg -version | grep -q '^ffmpeg version'"
check "chroot TARGET dpkg -s ffmpeg says installed" bash -c "chroot '$R' dpkg -s ffmpeg | grep -qx 'Status: install ok installed'"
check "dpkg -S knows whose file /usr/bin/jq is" bash -c "chroot '$R' dpkg -S /usr/bin/jq | grep -q '^jq:'"
# fc-cache ran at warm-up on a tree with the layer's times, so its caches hold in the session
check "fontconfig's caches from the warm-up are valid in the session" bash -c "chroot '$R' fc-cache -s -v 2>&1 | grep -q 'dejavu: skipping, existing cache is valid'"
# the layer's times are 0; py3compile compiled against them at warm-up, so the first import
# in a session finds every module's bytecode valid (stale bytecode: recompiled, written)
check "the layer carries the standard library's and python3-yaml's bytecode" bash -c "ls '$R'/usr/lib/python3.*/__pycache__/os.*.pyc '$R'/usr/lib/python3/dist-packages/yaml/__pycache__/__init__.*.pyc >/dev/null"
chroot "$R" python3 -v -c 'import json, email.message, http.client, yaml' > "$T/pyv.txt" 2>&1
check "the first import in the session compiles nothing" bash -c "grep -q 'code object from .*yaml/__pycache__' '$T/pyv.txt' && ! grep -E 'bytecode is stale|^# wrote' '$T/pyv.txt'"
check "dpkg --audit finds nothing half-installed" bash -c "test -z \"\$(chroot '$R' dpkg --audit)\""
check "apt in the session sees them installed" bash -c "in_root '$R' apt-get install -s --no-install-recommends jq | grep -q 'jq is already the newest'"
ec umount "$R" >/dev/null
check "umount leaves no mount" bash -c "! grep -q ' $R ' /proc/self/mountinfo"
check "the lock records the packages with their sha256" bash -c "ec env lock media apt | python3 -c '
import json,sys; l=json.load(sys.stdin); n={p[\"name\"] for p in l[\"packages\"]}
assert {\"jq\",\"ffmpeg\"} <= n and all(len(p[\"sha256\"])==64 for p in l[\"packages\"]), n'"
res2=$(ec --json warm media | tail -n 1)
check "second warm: zero upstream requests" test "$(printf '%s' "$res2" | json_get upstream_requests)" = 0
check "the store verifies" ec verify
finish
