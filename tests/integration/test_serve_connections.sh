#!/bin/bash
# `envcache serve` under connection pressure on loopback (conn_flood.py): bursts of new
# connections answered at once (none left to the timeout), 10,000 kept-alive
# connections held and answered, those past the limit answered 503 (never silence), every
# socket freed once the clients close, and a slow loris of 2,000 connections that leaves
# /healthz answering while the server cuts the dribblers at their deadline, and how
# connections end (a copy of their sockets elsewhere, slow bodies, a request with the end
# of the stream). Bounded: each
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

# Connections' ends, each checked on one server with a short timeout:
# - a copy of the server's sockets held by another process (as the sandbox's first process,
#   cloned during a warm-up, holds them) does not keep a closed connection in the server's
#   epoll set: the client's next request finds it closed, and the server lives on;
# - a body sent slowly, a byte every half second past the timeout in all, is still read:
#   the timeout counts from its last bytes;
# - a request sent with the end of the client's stream is answered and closed at once,
#   not at the timeout (on a server of its own with a long one).
serve ends --timeout 2s
check "connection ends: sockets copied elsewhere, a slow body" \
  python3 - "$port" "$pid" <<'PY'
import ctypes, json, os, socket, sys, time
port, spid = int(sys.argv[1]), int(sys.argv[2])
def get(s):
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    return s.recv(4096)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
assert get(s).startswith(b"HTTP/1.1 200"), "first answer"
libc = ctypes.CDLL(None, use_errno=True)
pfd, held = os.pidfd_open(spid), []
for name in os.listdir(f"/proc/{spid}/fd"):
    try:
        if os.readlink(f"/proc/{spid}/fd/{name}").startswith("socket:"):
            fd = libc.syscall(438, pfd, int(name), 0)  # pidfd_getfd
            if fd >= 0:
                held.append(fd)
    except OSError:
        pass
assert held, "no copy of the server's sockets could be taken"
time.sleep(3)  # past the 2 s timeout: the server closes the idle connection
try:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    late = s.recv(4096)
except OSError:
    late = b""
assert late == b"", "the timed-out connection answered: %r" % late[:40]
for fd in held:
    os.close(fd)
c = socket.create_connection(("127.0.0.1", port), timeout=10)
assert get(c).startswith(b"HTTP/1.1 200"), "the server did not live on"
c.close()
body = b'{"name":"slow-body-x"}' + b" " * 8  # 30 bytes over 15 s
b = socket.create_connection(("127.0.0.1", port), timeout=30)
b.sendall(b"POST /v1/environments HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
for i in range(len(body)):
    b.sendall(body[i:i + 1])
    time.sleep(0.5)
slow = b.recv(4096)
assert slow.startswith(b"HTTP/1.1 401"), "the slow body: %r" % slow[:60]  # no key: 401, read whole
print("# figures: the slow body was read whole")
PY
kill "$pid"; wait "$pid"
serve eos --timeout 60s
check "a request sent with the end of the stream is answered and closed at once" \
  python3 - "$port" <<'PY'
import socket, sys, time
e = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
e.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
first = e.recv(4096)
assert first.startswith(b"HTTP/1.1 200"), first[:40]
# The second request and the end of the stream in one segment, on the kept-alive connection.
e.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
e.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
e.shutdown(socket.SHUT_WR)
t0, got = time.monotonic(), b""
while True:
    part = e.recv(4096)
    if not part:
        break
    got += part
took = time.monotonic() - t0
print("# figures: closed %.3f s after the request" % took)
assert got.startswith(b"HTTP/1.1 200"), got[:40]
sys.exit(0 if took < 30 else 1)  # at the timeout it would be 60 s
PY
kill "$pid"; wait "$pid"

# A hard descriptor limit too low for the connection limit: said, and fewer held.
(ulimit -n 2048; ulimit -Hn 2048; exec "$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off \
  --access-log off 2>"$T/low.err") & lpid=$!
for _ in $(seq 200); do grep -q 'port [0-9]' "$T/low.err" && break; sleep 0.05; done
check "a low descriptor limit is said, with what to raise" \
  grep -q 'descriptor limit is 2048.*holding at most 512 connections.*LimitNOFILE' "$T/low.err"
kill "$lpid"; wait "$lpid"
finish
