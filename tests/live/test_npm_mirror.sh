#!/bin/bash
# Live: the real npm client installs express through envcache's npm mirror, which pulls
# through from the host's configured registry; a second install (new prefix, fresh npm
# cache) is served without one upstream request.
. "$(dirname "$0")/lib_npm.sh"

"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off --access-log "$T/access.log" 2>"$T/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
M=http://127.0.0.1:$port/mirror/npm/
upstream() { # requests that went upstream, from the server's own metrics
  curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^envcache_cache_requests_total\{.*manager="npm".*result="miss"/ {s += $2} END {print s + 0}'
}
npm_via() { # PREFIX CACHE
  npm install -g --prefix "$1" --cache "$2" --registry "$M" --no-audit --no-fund \
    --ignore-scripts --prefer-online express@4.18.0 >"$T/npm.log" 2>&1
}

tarballs_at() { # URL ACCEPT: every dist.tarball of the packument starts with the mirror
  curl -sf -H "Accept: $2" "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
urls = [v["dist"]["tarball"] for v in d["versions"].values()]
assert urls and all(u.startswith(sys.argv[1]) for u in urls), urls[:3]' "$M"
}
check "abbreviated packument, tarballs pointed at the mirror" \
  tarballs_at "${M}express" "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
check "full packument, tarballs pointed at the mirror" tarballs_at "${M}express" "application/json"
check "abbreviated answers carry npm's content type" bash -c \
  "curl -sf -o /dev/null -w '%{content_type}' -H 'Accept: application/vnd.npm.install-v1+json' ${M}express | grep -q vnd.npm.install-v1"
for n in '@types%2fnode' '@types%2Fnode' '@types/node' '%40types%2fnode'; do
  check "scoped name as $n" bash -c "curl -sf '${M}$n' | json_get name | grep -qx @types/node"
done
check "an unknown package is 404" test "$(curl -s -o /dev/null -w '%{http_code}' ${M}no-such-package-envcache-test-zz)" = 404

if retry 3 npm_via "$T/p1" "$T/c1"; then ok "npm install through the mirror"; else bad "npm install through the mirror: $(tail -n 5 "$T/npm.log")"; fi
check "express is installed from the mirror" test -f "$T/p1/lib/node_modules/express/package.json"
check "the mirror went upstream for the first install" test "$(upstream)" -gt 0
before=$(upstream)
if npm_via "$T/p2" "$T/c2"; then ok "second install, fresh prefix and npm cache"; else bad "second install: $(tail -n 5 "$T/npm.log")"; fi
after=$(upstream)
check "second install: zero upstream requests ($before → $after)" test "$after" = "$before"
list_tree "$T/p1" > "$T/tree1"; list_tree "$T/p2" > "$T/tree2"
check "the first tree has express and its dependencies" test "$(wc -l < "$T/tree1")" -gt 50
check "same tree both times" diff "$T/tree1" "$T/tree2"
check "a served tarball matches the registry's integrity" bash -c "
  want=\$(curl -sf ${M}express | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"versions\"][\"4.18.0\"][\"dist\"][\"integrity\"])')
  got=sha512-\$(curl -sf ${M}express/-/express-4.18.0.tgz | openssl dgst -sha512 -binary | base64 -w0)
  test \"\$want\" = \"\$got\""
finish
