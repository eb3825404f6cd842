#!/bin/bash
# Live: envcache serve end to end with the real warm-up: an environment created over the
# API is warmed in the background from the npm registry, a session waits for it and
# mounts it, a second session makes no upstream request, and /metrics shows the build.
. "$(dirname "$0")/lib_npm.sh"

key=$(ec keys create --workspace ws1)
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm eager --access-log "$T/access.log" 2>"$T/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
B=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
H=(-H "anthropic-version: 2023-06-01" -H "anthropic-beta: managed-agents-2026-04-01" -H "x-api-key: $key")
api() { curl -s "${H[@]}" "$@"; }
metric() { curl -s "$B/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }

env=$(api "$B/v1/environments" -d '{"name":"web","config":{"type":"cloud","packages":{"npm":["express@4.18.0"]}}}')
id=$(printf '%s' "$env" | json_get id)
check "create answers at once" bash -c "[[ '$id' == env_* ]]"
s=$(api "$B/v1/sessions" -d "{\"agent\":\"agt_1\",\"environment_id\":\"$id\"}")
sid=$(printf '%s' "$s" | json_get id 2>/dev/null)
check "a session on a warming environment waits for it, then mounts" bash -c "[[ '$sid' == sesn_* ]]"
root=$(printf '%s' "$s" | json_get target 2>/dev/null)
check "the session's root holds the npm layer" test -f "$root/usr/local/lib/node_modules/express/package.json"
cache=$(api "$B/v1/environments/$id/cache")
check "/cache says npm is ready with its layer" bash -c "printf '%s' '$cache' | python3 -c '
import json,sys; d=json.load(sys.stdin); s=json.dumps(d); assert \"ready\" in s and \"sha256:\" in s, s'"
check "metrics count the layer build" test "$(metric 'envcache_layer_builds_total{manager="npm",result="built"}')" -ge 1
up=$(metric envcache_upstream_requests_total)
check "upstream requests are counted" test "$up" -gt 0
s2=$(api "$B/v1/sessions" -d "{\"agent\":\"agt_2\",\"environment_id\":\"$id\"}")
sid2=$(printf '%s' "$s2" | json_get id 2>/dev/null)
check "a second session on the ready environment" bash -c "[[ '$sid2' == sesn_* ]]"
check "…made no upstream request" test "$(metric envcache_upstream_requests_total)" = "$up"
for x in "$sid" "$sid2"; do
  check "session $x deleted" test "$(curl -s -o /dev/null -w '%{http_code}' "${H[@]}" -X DELETE "$B/v1/sessions/$x")" = 200
done
check "no session mount is left" bash -c "! grep -q '$ENVCACHE_HOME/sessions' /proc/self/mountinfo"
finish
