#!/bin/bash
# `envcache serve` driven with curl: keys, the API's errors, a session created, used and
# deleted (needs root and overlayfs or copy), the mirror's 404, blobs with Range, metrics,
# the access log, and a SIGTERM that stops cleanly.
. "$(dirname "$0")/lib.sh"

key=$(ec keys create --workspace ws1)
key2=$(ec keys create --workspace ws2)
check "a key is printed once and stored hashed" bash -c "! grep -rqa '$key' '$ENVCACHE_HOME'"
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off --access-log "$T/access.log" 2>"$T/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
B=http://127.0.0.1:$port
H=(-H "anthropic-version: 2023-06-01" -H "anthropic-beta: managed-agents-2026-04-01")
api() { curl -s "${H[@]}" -H "x-api-key: $key" "$@"; }
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

check "healthz" test "$(curl -s $B/healthz)" = '{"status":"ok"}'
check "no key: 401" test "$(status "${H[@]}" $B/v1/environments)" = 401
check "no version: 400" test "$(status -H "x-api-key: $key" -H "anthropic-beta: managed-agents-2026-04-01" $B/v1/environments)" = 400
check "bearer key works" test "$(status "${H[@]}" -H "authorization: Bearer $key" $B/v1/environments)" = 200
# Keys: listed by id (never the key), revoked at once for this running server.
key3=$(ec keys create --workspace ws3)
check "a fresh key works" test "$(status "${H[@]}" -H "x-api-key: $key3" $B/v1/environments)" = 200
kid=$(ec keys list --workspace ws3 --json | json_get keys.0.id)
check "keys list shows an id, never a key" bash -c "[[ '$kid' =~ ^[0-9a-f]{12}$ ]] && ! ec keys list | grep -q eck_"
check "keys list names every workspace's keys" test "$(ec keys list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))')" = 3
check "keys revoke by id" bash -c "ec keys revoke $kid | grep -q 'revoked key $kid of workspace ws3'"
check "a revoked key is 401 at once in the running server" test "$(status "${H[@]}" -H "x-api-key: $key3" $B/v1/environments)" = 401
check "other keys still work" test "$(status "${H[@]}" -H "x-api-key: $key" $B/v1/environments)" = 200
expect_fail "revoking it again says so" "no key has the id" ec keys revoke "$kid"
key4=$(ec keys create --workspace ws3)
check "keys revoke by the key itself" bash -c "ec keys revoke --json '$key4' | grep -q '\"revoked\": *true'"
check "... and it is 401" test "$(status "${H[@]}" -H "x-api-key: $key4" $B/v1/environments)" = 401
expect_fail "an id too short is refused" "at least 8 digits" ec keys revoke abc
env=$(api $B/v1/environments -d '{"name":"web"}')
id=$(printf '%s' "$env" | json_get id)
check "create answers the environment" test "$(printf '%s' "$env" | json_get type)" = environment
check "API objects carry no base field" bash -c "! printf '%s' '$env' | grep -q '\"base\"' && ! curl -s ${H[*]/#/} -H 'anthropic-version: 2023-06-01' -H 'anthropic-beta: managed-agents-2026-04-01' -H 'x-api-key: $key' $B/v1/environments/$id | grep -q '\"base\"'"
check "the CLI sees the key's workspace and the base choice" test "$(ec --workspace ws1 env get web | json_get base.mode)" = default
check "duplicate name: 409" test "$(status "${H[@]}" -H "x-api-key: $key" $B/v1/environments -d '{"name":"web"}')" = 409
check "other workspace: 404" test "$(status "${H[@]}" -H "x-api-key: $key2" $B/v1/environments/$id)" = 404
check "error shape" bash -c "curl -s ${H[*]/#/} -H 'anthropic-version: 2023-06-01' -H 'anthropic-beta: managed-agents-2026-04-01' -H 'x-api-key: $key2' $B/v1/environments/$id | json_get error.type | grep -qx not_found_error"
head -c 1100000 /dev/zero | tr '\0' ' ' > "$T/big.json"
check "body over 1 MiB: 413" test "$(status "${H[@]}" -H "x-api-key: $key" $B/v1/environments --data-binary @"$T/big.json")" = 413

# A session: mounted, written to, seen, then deleted with its writes.
s=$(api $B/v1/sessions -d "{\"agent\":\"agt_1\",\"environment_id\":\"$id\"}")
sid=$(printf '%s' "$s" | json_get id 2>/dev/null)
if [ -z "$sid" ] && printf '%s' "$s" | grep -q 'not permitted\|Operation not'; then
  echo "skip: the kernel refuses mounts here"; kill $pid; exit 77
fi
check "session created" bash -c "[[ '$sid' == sesn_* ]]"
root=$(printf '%s' "$s" | json_get target)
echo hello > "$root/written" 2>/dev/null
check "the session's root is writable" test "$(cat "$root/written" 2>/dev/null)" = hello
check "session retrievable" test "$(status "${H[@]}" -H "x-api-key: $key" $B/v1/sessions/$sid)" = 200
api $B/v1/sessions/$sid > "$T/got.json"; printf '%s' "$s" > "$T/created.json"
check "GET answers what create answered, agent included" python3 -c "
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a == b and a['agent'] == 'agt_1', (a, b)" "$T/created.json" "$T/got.json"
check "delete env with a session: 409" test "$(status -X DELETE "${H[@]}" -H "x-api-key: $key" $B/v1/environments/$id)" = 409
busy=$(api -X DELETE $B/v1/environments/$id | json_get error.message)
check "the 409 says what to do through the API" bash -c "[[ '$busy' == *'DELETE /v1/sessions/'* && '$busy' != *'envcache '* ]]"
gone=$(api $B/v1/sessions/sesn_000000000000000000000009 | json_get error.message)
check "an unknown session's 404 names no CLI command" bash -c "[[ '$gone' == *'not found'* && '$gone' != *'envcache '* ]]"
check "session deleted" bash -c "curl -s -X DELETE ${H[*]/#/} -H 'anthropic-version: 2023-06-01' -H 'anthropic-beta: managed-agents-2026-04-01' -H 'x-api-key: $key' $B/v1/sessions/$sid | grep -q session_deleted"
check "its writes are gone" test ! -e "$root/written"
check "no mount left" bash -c "! grep -q ' $root ' /proc/self/mountinfo"
check "env deleted after" test "$(status -X DELETE "${H[@]}" -H "x-api-key: $key" $B/v1/environments/$id)" = 200

# Mirror and blobs need no key.
check "mirror of no manager: 404 naming it" bash -c "curl -s $B/mirror/nosuch/express | grep -q 'no mirror for manager nosuch'"
mkdir -p "$T/blobsrc"; echo 0123456789 > "$T/blobsrc/f"; ec layer import "$T/blobsrc" >/dev/null
blob=$(find "$ENVCACHE_HOME/blobs" -type f | head -1)
check "a layer blob to serve" test -n "$blob"
if [ -n "$blob" ]; then
  hex=$(basename "$blob")
  check "blob served" bash -c "curl -s $B/cache/blobs/sha256:$hex | cmp -s - '$blob'"
  check "blob range: 206" test "$(status -r 0-3 $B/cache/blobs/sha256:$hex)" = 206
  check "blob HEAD" bash -c "curl -sI $B/cache/blobs/sha256:$hex | grep -qi 'content-length: $(stat -c %s "$blob")'"
fi
check "metrics" bash -c "curl -s $B/metrics | grep -q '^envcache_http_requests_total{route=\"POST /v1/environments\",status=\"200\"} 1'"
check "access log lines are JSON" bash -c "tail -1 '$T/access.log' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"request_id\"].startswith(\"req_\")'"

# The cache of an environment nobody warmed (--warm off): API.md's states, an empty lock.
pe=$(api $B/v1/environments -d '{"name":"unwarmed","config":{"packages":{"pip":["pandas==2.2.0"]}}}' | json_get id)
api $B/v1/environments/$pe/cache > "$T/cache.json"
check "cache: API.md's states, the lock's packages (none yet)" python3 -c "
import json, sys
c = json.load(open(sys.argv[1]))
states = {'pending', 'building', 'ready', 'failed'}
assert c['state'] in states, c
pip = c['managers']['pip']
assert pip['state'] == 'pending' and pip['packages'] == [] and pip['specs'] == ['pandas==2.2.0'], c" "$T/cache.json"

kill -TERM $pid
wait $pid; rc=$?
check "SIGTERM stops cleanly" test $rc -eq 0
check "serve --help" bash -c "ec serve --help | grep -q SIGTERM"
check "keys --help" bash -c "ec keys --help | grep -q sha256"
finish
