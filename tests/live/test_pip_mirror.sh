#!/bin/bash
# Live: the real pip and the real uv install through envcache's /mirror/pip/, which pulls
# through from the configured index. Debian's python3 -m venv gives a pip; that pip
# installs the newest pip and uv through the mirror; each then installs a set into a fresh
# virtual environment with an empty client cache, twice: the second time makes zero
# upstream requests (the server's own metrics). Both forms of the simple API, by Accept.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_pip.sh"
PY=/usr/bin/python3
up=$(pip_upstream)
[ -n "$up" ] || { echo "skip: no pip index configured and no pip to ask"; exit 77; }
export ENVCACHE_PIP_INDEX=$up
# The clients read only what this test gives them.
unset $(env | sed -n 's/^\(PIP_[A-Z_]*\|UV_[A-Z_]*\)=.*/\1/p')
export PIP_CONFIG_FILE=/dev/null UV_NO_CONFIG=1 PIP_DISABLE_PIP_VERSION_CHECK=1

"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off 2>"$T/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$T/serve.err" | head -n 1 | cut -d' ' -f2)
M=http://127.0.0.1:$port/mirror/pip
upstream() { # requests that went upstream, from the server's own metrics
  curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^envcache_cache_requests_total\{.*manager="pip".*result="miss"/ {s += $2} END {print s + 0}'
}
SET="requests==2.31.0 flask six"

check "JSON page by Accept, files at the mirror, with hashes" bash -c "
  curl -sf -H 'Accept: application/vnd.pypi.simple.v1+json' '$M/simple/six/' | $PY -c '
import json,sys; p=json.load(sys.stdin); fs=p[\"files\"]
assert fs and all(f[\"url\"].startswith(\"$M/files/six/\") and len(f[\"hashes\"][\"sha256\"])==64 for f in fs)'"
check "HTML page otherwise, with #sha256= links" bash -c "
  curl -sf '$M/simple/six/' | grep -q 'href=\"$M/files/six/six-[^\"]*#sha256=[0-9a-f]\{64\}\"'"
# PEP 658 metadata where the index offers it (the loopback test covers it in any case).
meta=$(curl -sf -H 'Accept: application/vnd.pypi.simple.v1+json' "$M/simple/flask/" | $PY -c '
import json,sys; fs=[f for f in json.load(sys.stdin)["files"] if f.get("core-metadata")]
print(fs[-1]["url"], fs[-1]["core-metadata"]["sha256"]) if fs else None')
if [ -n "$meta" ]; then
  set -- $meta
  check "PEP 658 metadata of a wheel, matching its hash" test "$(curl -sf "$1.metadata" | sha256sum | cut -d' ' -f1)" = "$2"
else echo "# the index offers no PEP 658 metadata for flask: the mirror lists none either"; fi
check "an unknown project is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$M/simple/no-such-project-envcache-test-zz/")" = 404

# The clients: Debian's venv pip installs the newest pip and uv through the mirror.
$PY -m venv "$T/tools" >/dev/null || { bad "python3 -m venv (python3-venv)"; finish; exit 1; }
if retry 3 "$T/tools/bin/python" -m pip install -q --no-cache-dir --index-url "$M/simple/" -U pip uv 2>"$T/tools.err"
then ok "pip installs the newest pip and uv through the mirror"
else bad "pip installs pip and uv through the mirror"; tail -5 "$T/tools.err"; finish; exit 1; fi
echo "# $("$T/tools/bin/pip" --version | cut -d' ' -f1-2), $("$T/tools/bin/uv" --version)"

pip_via() { # VENV
  $PY -m venv --without-pip "$1" && "$T/tools/bin/pip" --python "$1/bin/python" install -q \
    --no-cache-dir --index-url "$M/simple/" $SET 2>"$T/pip.err"
}
uv_via() { # VENV CACHE
  "$T/tools/bin/uv" venv -q --python "$PY" "$1" && "$T/tools/bin/uv" pip install -q \
    --python "$1/bin/python" --cache-dir "$2" --index-url "$M/simple/" $SET 2>"$T/uv.err"
}
frozen() { "$1/bin/python" -c 'import importlib.metadata as m
print("\n".join(sorted(d.metadata["Name"].lower() + "==" + d.version for d in m.distributions())))' |
  grep -v -e '^pip==' -e '^setuptools=='; }

if retry 3 pip_via "$T/p1"; then ok "pip installs $SET through the mirror"; else bad "pip through the mirror"; tail -5 "$T/pip.err"; fi
check "…and they import" "$T/p1/bin/python" -c 'import requests, flask, six; assert requests.__version__ == "2.31.0"'
before=$(upstream)
check "the mirror went upstream for it" test "$before" -gt 0
if pip_via "$T/p2"; then ok "pip again, a fresh venv, no cache"; else bad "pip again"; tail -5 "$T/pip.err"; fi
after=$(upstream)
check "…zero upstream requests ($before → $after)" test "$after" = "$before"
check "…the same packages" diff <(frozen "$T/p1") <(frozen "$T/p2")

if retry 3 uv_via "$T/u1" "$T/uvc1"; then ok "uv installs $SET through the mirror"; else bad "uv through the mirror"; tail -5 "$T/uv.err"; fi
check "…and they import" "$T/u1/bin/python" -c 'import requests, flask, six'
before=$(upstream)
if uv_via "$T/u2" "$T/uvc2"; then ok "uv again, a fresh venv, an empty cache"; else bad "uv again"; tail -5 "$T/uv.err"; fi
after=$(upstream)
check "…zero upstream requests ($before → $after)" test "$after" = "$before"
check "uv and pip chose the same packages" diff <(frozen "$T/p1") <(frozen "$T/u2")
check "the store verifies" ec --quiet verify
finish
