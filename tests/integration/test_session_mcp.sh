#!/bin/bash
# POST /v1/sessions with mcp_servers (ours): kept with the session and answered by GET;
# an endpoint that the egress gate could not admit by name is a 400 naming it.
. "$(dirname "$0")/lib.sh"
key=$(ec keys create --workspace ws1)
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
B=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
H=(-H "anthropic-version: 2023-06-01" -H "anthropic-beta: managed-agents-2026-04-01" -H "x-api-key: $key")
api() { curl -s "${H[@]}" "$@"; }
id=$(api $B/v1/environments -d '{"name":"mcp"}' | json_get id)
bad() { # bad BODY-MCP TEXT: a 400 whose message contains TEXT
  local out; out=$(api -w '\n%{http_code}' $B/v1/sessions -d "{\"agent\":\"a\",\"environment_id\":\"$id\",\"mcp_servers\":$1}")
  [ "$(printf '%s' "$out" | tail -n1)" = 400 ] && printf '%s' "$out" | head -n1 | json_get error.message | grep -qF -- "$2"
}
check "mcp_servers not an array: 400" bad '"x"' "mcp_servers: must be an array"
check "an entry without url: 400 naming it" bad '[{"name":"a"}]' "mcp_servers[0].url: required"
check "an ftp URL: 400 naming it" bad '[{"type":"url","url":"ftp://mcp.test/"}]' 'mcp_servers[0].url: "ftp://mcp.test/" is not an http:// or https:// URL'
check "another port: 400 saying which ports" bad '[{"type":"url","url":"https://a.test/","name":"a"},{"type":"url","url":"https://mcp.test:8443/sse"}]' "mcp_servers[1].url"
check "an address instead of a name: 400" bad '[{"type":"url","url":"https://192.0.2.7/sse"}]' "admitted by name"
s=$(api $B/v1/sessions -d "{\"agent\":\"a\",\"environment_id\":\"$id\",\"mcp_servers\":[{\"type\":\"url\",\"url\":\"https://mcp.test/sse\",\"name\":\"t\"}]}")
sid=$(printf '%s' "$s" | json_get id 2>/dev/null)
if [ -z "$sid" ] && printf '%s' "$s" | grep -q 'not permitted\|Operation not'; then
  echo "skip: the kernel refuses mounts here"; exit 77
fi
check "a session with an MCP endpoint is created" bash -c "[[ '$sid' == sesn_* ]]"
check "create answers mcp_servers" test "$(printf '%s' "$s" | json_get mcp_servers.0.url)" = https://mcp.test/sse
check "GET answers them too" test "$(api $B/v1/sessions/$sid | json_get mcp_servers.0.name)" = t
check "session deleted" bash -c "curl -s -X DELETE ${H[*]@Q} $B/v1/sessions/$sid | grep -q session_deleted"
finish
