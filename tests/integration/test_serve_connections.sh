#!/bin/bash
# `envcache serve` under connection pressure on loopback (conn_flood.py): bursts of new
# connections answered at once (none left to the timeout), 10,000 kept-alive
# connections held and answered, those past the limit answered 503 (never silence), every
# socket freed once the clients close, and a slow loris of 2,000 connections that leaves
# /healthz answering while the server cuts the dribblers at their deadline. Bounded: each
# phase stops by itself. Times are printed as figures, never asserted.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
HOLD=${EC_CONN_HOLD:-10000} OVER=${EC_CONN_OVER:-300} LORIS=${EC_CONN_LORIS:-2000}
need=$((HOLD + OVER + 2200))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
  echo "skip: the hard descriptor limit ($(ulimit -Hn)) is below the $need this test needs"; exit 77
fi

serve() { # serve NAME ARGS…: starts a server, sets $port and $pid
  local name=$1; shift
  "$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off --access-log off "$@" 2>"$T/$name.err" &
  pid=$!
  for _ in $(seq 200); do grep -q 'port [0-9]' "$T/$name.err" && break; sleep 0.05; done
  port=$(grep -o 'port [0-9]*' "$T/$name.err" | cut -d' ' -f2)
}

# One worker, so that a whole burst lands on it.
serve burst --threads 1 --timeout 60s
if python3 "$here/conn_flood.py" burst "$port" "$pid" > "$T/burst.json"; then
  ok "bursts of new and of kept-alive connections answered at once, none left to the timeout"
else
  bad "bursts: $(cat "$T/burst.json")"
fi
echo "# figures: $(cat "$T/burst.json")"
kill "$pid"; wait "$pid"

# Deferred answers (a mirror miss runs on a thread of its own, then resumes its
# connection) come back at once, not at the worker's next tick: 20 misses in a row on one
# kept-alive connection, of packages the upstream (a generated registry) answers 404.
python3 "$here/../fixtures/npm-registry/serve.py" "$T" > "$T/regport" & rpid=$!
for _ in $(seq 100); do [ -s "$T/regport" ] && break; sleep 0.05; done
ENVCACHE_NPM_REGISTRY=http://127.0.0.1:$(cat "$T/regport") serve deferred --threads 1
check "20 deferred answers in a row come back promptly (under 5 s in all)" python3 - "$port" <<'PY'
import http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
t0 = time.monotonic()
for i in range(20):
    c.request("GET", f"/mirror/npm/nopkg{i}")
    r = c.getresponse()
    r.read()
    assert r.status >= 400, r.status
total = time.monotonic() - t0
print(json.dumps({"deferred_20_seconds": round(total, 3)}))
sys.exit(0 if total < 5 else 1)
PY
kill "$pid" "$rpid"; wait "$pid" "$rpid"

serve hold --max-connections "$HOLD" --timeout 120s
if python3 "$here/conn_flood.py" hold "$port" "$pid" "$HOLD" "$OVER" > "$T/hold.json"; then
  ok "$HOLD connections held and answered, $OVER past the limit answered 503, sockets freed"
else
  bad "connections: $(cat "$T/hold.json")"
fi
echo "# figures: $(cat "$T/hold.json")"
check "the server says nothing about its descriptor limit when it fits" \
  bash -c "! grep -q 'descriptor limit' '$T/hold.err'"
kill "$pid"; wait "$pid"

serve loris --timeout 5s
if python3 "$here/conn_flood.py" loris "$port" "$pid" "$LORIS" > "$T/loris.json"; then
  ok "a slow loris of $LORIS connections: /healthz answered throughout, dribblers cut"
else
  bad "slow loris: $(cat "$T/loris.json")"
fi
echo "# figures: $(cat "$T/loris.json")"
kill "$pid"; wait "$pid"

# A hard descriptor limit too low for the connection limit: said, and fewer held.
(ulimit -n 2048; ulimit -Hn 2048; exec "$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off \
  --access-log off 2>"$T/low.err") & lpid=$!
for _ in $(seq 200); do grep -q 'port [0-9]' "$T/low.err" && break; sleep 0.05; done
check "a low descriptor limit is said, with what to raise" \
  grep -q 'descriptor limit is 2048.*holding at most 512 connections.*LimitNOFILE' "$T/low.err"
kill "$lpid"; wait "$lpid"
finish
