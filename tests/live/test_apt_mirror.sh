#!/bin/bash
# Live: real apt-get in a bootstrapped base, its sources pointing at envcache's apt mirror
# (which pulls through from the host's archive, keeping InRelease byte for byte so apt
# checks Debian's own signature); a second run in a fresh base makes no upstream request.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
base=$(base_digest) || { bad "a base"; finish; exit 1; }
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off --access-log "$T/access.log" 2>"$T/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
misses() { curl -s "http://127.0.0.1:$port/metrics" |
  awk '/^envcache_cache_requests_total\{.*manager="apt".*result="miss"/ {s += $2} END {print s + 0}'; }
route=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1)
route=${route%/}; route=${route##*/}

apt_via_mirror() { # SESSION: a fresh base session whose apt uses only the mirror
  local R=$T/$1
  ec mount --layers "$base" --session "$1" "$R" >/dev/null || return 1
  rm -f "$R"/etc/apt/sources.list.d/* "$R/etc/apt/sources.list"
  echo "deb http://127.0.0.1:$port/mirror/apt/$route bookworm main" > "$R/etc/apt/sources.list"
  in_root "$R" sh -c 'apt-get update && apt-get install -y --no-install-recommends jq' \
    > "$T/$1.log" 2>&1
}
if apt_via_mirror m1; then ok "apt-get update && install jq through the mirror"; else bad "apt through the mirror: $(tail -n 5 "$T/m1.log")"; fi
check "jq runs in the first base" bash -c "chroot '$T/m1' jq --version | grep -q '^jq-'"
check "apt verified the archive's signature (no unauthenticated warning)" bash -c "! grep -qi 'unauthenticated\|NO_PUBKEY\|not signed' '$T/m1.log'"
first=$(misses)
check "the first run went upstream ($first misses)" test "$first" -gt 0
if apt_via_mirror m2; then ok "the same in a fresh base"; else bad "second run: $(tail -n 5 "$T/m2.log")"; fi
check "jq runs in the second base" bash -c "chroot '$T/m2' jq --version | grep -q '^jq-'"
check "the second run made no upstream request" test "$(misses)" = "$first"
# apt pipelines up to 10 requests on one connection: the answers must come in order.
check "pipelined requests are answered in order" python3 - "$port" "$route" <<'PY'
import socket, sys
port, route = int(sys.argv[1]), sys.argv[2]
paths = [f"/mirror/apt/{route}/dists/bookworm/InRelease", f"/mirror/apt/{route}/dists/bookworm/Release"] * 2
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
f = s.makefile("rb")
for p in paths:
    status = f.readline(); n = 0
    while (h := f.readline()) not in (b"\r\n", b""):
        if h.lower().startswith(b"content-length:"): n = int(h.split(b":")[1])
    body = f.read(n)
    want = b"-----BEGIN PGP SIGNED" if p.endswith("InRelease") else b"Origin:"
    assert b" 200 " in status and body.startswith(want), (p, status, body[:40])
PY
deb=$(curl -sf "http://127.0.0.1:$port/mirror/apt/$route/dists/bookworm/main/binary-amd64/Packages.xz" | xz -dc |
  awk '/^Package: jq$/ {p=1} p && /^Filename:/ {print $2; exit}')
check "a Range request for a .deb gets 206 and exactly those bytes" bash -c "
  curl -sf -r 100-199 -o '$T/part' -w '%{http_code}' 'http://127.0.0.1:$port/mirror/apt/$route/$deb' | grep -qx 206 &&
  test \$(stat -c %s '$T/part') = 100 &&
  curl -sf 'http://127.0.0.1:$port/mirror/apt/$route/$deb' | tail -c +101 | head -c 100 | cmp -s - '$T/part'"
for s in m1 m2; do ec umount --session $s >/dev/null; done
check "no mount is left" bash -c "! grep -q ' $T/m' /proc/self/mountinfo"
finish
