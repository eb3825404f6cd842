#!/bin/bash
# Common runtimes out of the box: a new store with no default base makes one on first
# need (a real bootstrap with the runtimes, from the host's archive and its security
# archive), and the sessions of a python-dev and a data-analysis environment run their
# programs as containers (`envcache run`), with Python, Node.js, Ruby, Go, Rust, a C
# toolchain, git and curl there; apt in a session installs through the mirror; in limited
# sessions pip and npm install through the mirror only when package managers are allowed.
. "$(dirname "$0")/../integration/lib.sh"
export ENVCACHE_AUTO_BASE=on

cat > "$T/python-dev.json" <<'EOF'
{"name": "python-dev", "config": {"type": "cloud", "packages": {"pip": ["requests==2.31.0", "pytest"]}}}
EOF
cat > "$T/data-analysis.json" <<'EOF'
{"name": "data-analysis", "config": {"type": "cloud", "packages": {"pip": ["pandas==2.2.0"]}}}
EOF
ec env create -f "$T/python-dev.json" >/dev/null
ec env create -f "$T/data-analysis.json" >/dev/null

t0=$(date +%s.%N)
ec warm python-dev >"$T/warm.out" 2>"$T/warm.err" && rc=0 || rc=$?
t1=$(date +%s.%N)
echo "# first warm-up, with the default base made on first need: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
check "the first warm-up of a manager that needs a base succeeds" test "$rc" = 0 ||
  tail -n 20 "$T/warm.err"
check "…saying it makes the default base first" grep -q 'no default base is set: bootstrapping' "$T/warm.err"
check "…which is now the store's default base" bash -c "ec --json base default | grep -q sha256:"
check "the base has the suite's security archive in its sources" \
  bash -c "ec run python-dev -- sh -c 'cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null' | grep -q -- '-security'"

check "python-dev: requests in a container" \
  test "$(ec run python-dev -- python3 -c 'import requests; print(requests.__version__)')" = 2.31.0
check "python-dev: pytest runs" bash -c "ec run python-dev -- pytest --version 2>&1 | grep -q '^pytest '"
cat > "$T/probe.sh" <<'EOF'
set -e
python3 -m venv /tmp/venv && /tmp/venv/bin/pip --version >/dev/null && echo venv
pip3 --version >/dev/null && echo pip
node -e 'process.exit(0)' && npm --version >/dev/null && echo node
ruby -e 'exit 0' && test -f "$(ruby -e 'print RbConfig::CONFIG["rubyhdrdir"]')/ruby.h" && echo ruby
go version >/dev/null && echo go
rustc --version >/dev/null && cargo --version >/dev/null && echo rust
printf 'int main(void){return 0;}\n' > /tmp/t.c && gcc -o /tmp/t /tmp/t.c && /tmp/t && echo cc
git --version >/dev/null && curl --version >/dev/null && test -s /etc/ssl/certs/ca-certificates.crt && echo tools
EOF
out=$(ec run python-dev -- sh -c "$(cat "$T/probe.sh")" 2>&1)
for rt in venv pip node ruby go rust cc tools; do
  check "the base's runtimes: $rt" bash -c "grep -qx '$rt' <<<'$out' || { echo '$out' >&2; false; }"
done
ec run python-dev -- sh -c 'python3 --version; node --version; ruby --version; go version; rustc --version; gcc --version | head -n 1' |
  sed 's/^/# /'

check "the base's Python bytecode is valid in a session (nothing recompiled at import)" bash -c \
  "[ \"\$(ec run python-dev -- python3 -v -c 'import json, email.message, http.client, sitecustomize' 2>&1 | grep -c 'bytecode is stale')\" = 0 ]"
check "data-analysis: warms on the same base" bash -c "ec warm data-analysis >/dev/null 2>&1"
check "data-analysis: pandas in a container" \
  test "$(ec run data-analysis -- python3 -c 'import pandas; print(pandas.__version__)')" = 2.2.0
ec run data-analysis -- python3 -W ignore -c 'import time; t = time.perf_counter(); import pandas
print("# first import pandas in a session: %.0f ms" % ((time.perf_counter() - t) * 1000))'
# apt in a session installs through the mirror: the root's sources rewritten to it, the
# files of sources.list.d emptied (so nothing goes upstream directly)
ec run python-dev -- sh -c 'apt-get update && apt-get install -y --no-install-recommends tree && tree --version' \
  > "$T/apt.out" 2>&1 && rc=0 || rc=$?
check "apt-get install in a session succeeds" test "$rc" = 0 || tail -n 20 "$T/apt.out"
check "…fetching from the envcache mirror" grep -q '/mirror/apt/' "$T/apt.out"
check "…and nothing from elsewhere" bash -c "! grep -E '^(Get|Hit|Ign|Err):' '$T/apt.out' | grep -v '/mirror/apt/'"
check "…and the program runs" grep -q '^tree v' "$T/apt.out"
# limited networking, in real containers with the real clients: with the package managers
# allowed, pip and npm install through the mirror; without, they cannot reach anything
echo '{"name": "pm-open", "config": {"type": "cloud", "packages": {}, "networking": {"type": "limited", "allow_package_managers": true}}}' |
  ec env create -f - >/dev/null
echo '{"name": "pm-closed", "config": {"type": "cloud", "packages": {}, "networking": {"type": "limited", "allowed_hosts": []}}}' |
  ec env create -f - >/dev/null
cat > "$T/install.sh" <<'SH'
python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --disable-pip-version-check --timeout 10 \
  --retries 1 six==1.16.0 && /tmp/v/bin/python -c 'import six' && echo pip-ok
npm install -q --prefix /tmp/n --no-audit --no-fund --fetch-retries 0 --fetch-timeout 10000 \
  is-number@7.0.0 && test -f /tmp/n/node_modules/is-number/package.json && echo npm-ok
SH
ok=0
for i in 1 2 3; do
  ec run pm-open -- sh -c "$(cat "$T/install.sh")" > "$T/pm-open.out" 2>&1
  grep -qx pip-ok "$T/pm-open.out" && grep -qx npm-ok "$T/pm-open.out" && { ok=1; break; }
  sleep $((i * 3))
done
check "limited with allow_package_managers: pip and npm install in a container, through the mirror" \
  test "$ok" = 1 || tail -n 15 "$T/pm-open.out" >&2
ec run pm-closed -- sh -c "$(cat "$T/install.sh")" > "$T/pm-closed.out" 2>&1 || true
check "limited without it: pip install in a container fails" bash -c "! grep -qx pip-ok '$T/pm-closed.out'"
check "limited without it: npm install in a container fails" bash -c "! grep -qx npm-ok '$T/pm-closed.out'"
check "sessions are gone after" test "$(ec --json session ls)" = "[]"
finish
