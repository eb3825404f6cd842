#!/bin/bash
# Live: an npm environment warmed from the registry, mounted, and run with the host's node;
# a second warm of the unchanged environment makes no request, even with no network at all.
. "$(dirname "$0")/lib_npm.sh"

cat > "$T/env.json" <<JSON
{"name":"npm-live","config":{"type":"cloud","packages":{"npm":["express@4.18.0","typescript@5.4.5"]}}}
JSON
ec env create -f "$T/env.json" >/dev/null
if retry 3 ec --json warm npm-live > "$T/warm1.json"; then ok "first warm"; else bad "first warm"; cat "$T/warm1.json"; fi
res=$(tail -n 1 "$T/warm1.json")
check "warm reports a built npm layer" bash -c "printf '%s' '$res' | json_get managers.npm.layer | grep -q '^sha256:'"
check "progress events are JSON lines" bash -c "head -n 1 '$T/warm1.json' | json_get event | grep -qx progress"

lock=$(ec env lock npm-live npm)
check "the lock lists express 4.18.0" bash -c "printf '%s' '$lock' | python3 -c '
import json,sys; l=json.load(sys.stdin)
assert any(p[\"path\"]==\"node_modules/express\" and p[\"version\"]==\"4.18.0\" and p[\"integrity\"].startswith(\"sha512-\") for p in l[\"packages\"])'"
check "the lock is canonical JSON (sorted keys, compact)" bash -c "printf '%s' '$lock' | python3 -c '
import json,sys; s=sys.stdin.read().strip(); assert s==json.dumps(json.loads(s),sort_keys=True,separators=(\",\",\":\"))'"

res2=$(ec --json warm npm-live | tail -n 1)
check "second warm makes no upstream request" test "$(printf '%s' "$res2" | json_get upstream_requests)" = 0
check "second warm reuses the layer" test "$(printf '%s' "$res2" | json_get managers.npm.reused)" = True
if command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  check "second warm works with no network at all" unshare -n "$ENVCACHE_BIN" warm npm-live
fi

R=$T/root
ec mount npm-live --session live-npm "$R" >/dev/null
check "tsc runs from the mounted tree with the host's node" bash -c "'$R/usr/local/bin/tsc' --version | grep -q 'Version 5.4.5'"
check "require('express') works from the mounted tree" \
  bash -c "NODE_PATH='$R/usr/local/lib/node_modules' node -e \"require('express'); console.log(require('express/package.json').version)\" | grep -qx 4.18.0"
ec umount "$R" >/dev/null
check "umount leaves no mount" bash -c "! grep -q ' $R ' /proc/self/mountinfo"
check "the store verifies" ec verify
finish
