#!/bin/bash
# Session networks against a fake internet (no real network): hosts in a network
# namespace this test makes (HTTP, HTTPS with a test CA, UDP echoes), their names given
# to the session's resolver and gate through a hosts file. A limited session reaches an
# allowed host and nothing else (not another name, not the host by address, not another
# port, no UDP, no DNS of its own, no allowed SNI or Host sent to another address); with
# package managers allowed, pip and npm install through the real mirror; an unrestricted
# session reaches the fake hosts but not the blocklist (metadata, link-local, the host's
# own services). Every refusal has its control: the same probe from outside succeeds.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "skip: session networks need root"; exit 77; }
for t in ip nft squid dnsmasq openssl curl /usr/bin/python3; do
  command -v "$t" >/dev/null || { bad "$t is installed (tools/install-deps.sh)"; finish; exit 1; }
done
PY=/usr/bin/python3
FX=$EC_SOURCE_DIR/tests/fixtures/fake-internet
X=$(( $$ % 250 + 1 ))              # this run's fake /24: 198.18.X.0/24
F=ecfake$$ FIF=ecfk$$               # the fake internet's namespace and its host veth
N=t$$                               # prefix of this run's session names
ALLOWED=198.18.$X.2 OTHER=198.18.$X.3 PKG=198.18.$X.4 MCP=198.18.$X.5 LL=169.254.$X.9
pids=()
net_cleanup() {
  for s in $(ec net ls --json 2>/dev/null | json_lines_names); do ec net teardown "$s"; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  ip route del 169.254.169.254/32 via "$ALLOWED" 2>/dev/null; ip route del "$LL/32" 2>/dev/null
  ip netns pids "$F" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$F" 2>/dev/null
  cleanup
}
json_lines_names() { $PY -c 'import json,sys
for l in sys.stdin: print(json.loads(l)["name"])'; }
trap net_cleanup EXIT

# --- the fake internet ---
ip netns add "$F"
ip link add "$FIF" type veth peer name eth0 netns "$F"
ip addr add "198.18.$X.1/24" dev "$FIF"; ip link set "$FIF" up
for a in $ALLOWED $OTHER $PKG $MCP; do ip -n "$F" addr add "$a/24" dev eth0; done
ip -n "$F" addr add 169.254.169.254/32 dev eth0; ip -n "$F" addr add "$LL/32" dev eth0
ip -n "$F" link set eth0 up; ip -n "$F" link set lo up
ip -n "$F" route add default via "198.18.$X.1"
# the metadata address and a link-local one live on the fake host, as on a cloud VM
# (replace: a concurrent run of this test may hold the metadata route; each deletes only its own)
ip route replace 169.254.169.254/32 via "$ALLOWED"; ip route add "$LL/32" via "$ALLOWED"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$T/ca.key" -out "$T/ca.pem" -subj /CN=fake-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/srv.key" \
  -out "$T/srv.csr" -subj /CN=allowed.test 2>/dev/null
printf 'subjectAltName=DNS:allowed.test,DNS:other.test,DNS:pkg.test,DNS:mcp.test,DNS:a.wild.test\n' > "$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
  -out "$T/srv.pem" -days 2 -extfile "$T/ext" 2>/dev/null
ip netns exec "$F" $PY "$FX/servers.py" "$T/srv.pem" "$T/srv.key" > "$T/fake.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -qs ready "$T/fake.out" && break; sleep 0.05; done
# The fake host's listeners can take a moment longer to answer from the host side (seen on
# a freshly made machine): wait for an answer, so that the controls below test the host.
for _ in $(seq 150); do
  curl -sf -m 2 -o /dev/null --cacert "$T/ca.pem" --resolve "allowed.test:443:$ALLOWED" \
    https://allowed.test/ && break
  sleep 0.2
done
grep -qs ready "$T/fake.out" || { echo "# the fake internet did not start:"; sed 's/^/#   /' "$T/fake.out"; }
cat > "$T/hosts" <<HOSTS
$ALLOWED allowed.test a.wild.test
$OTHER other.test
$PKG pkg.test
$MCP mcp.test
HOSTS

# A service of the host's own, on every address (it must not be reachable from sessions).
HPORT=$(( 20000 + $$ % 10000 ))
$PY -m http.server --bind 0.0.0.0 "$HPORT" --directory "$T" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$HPORT/" && break; sleep 0.05; done

check "control: the fake host answers from outside any session" \
  bash -c "curl -sf -m 5 --cacert '$T/ca.pem' --resolve allowed.test:443:$ALLOWED https://allowed.test/ | grep -q 'hello from $ALLOWED'"
check "control: UDP echo answers from outside" $PY "$FX/udp_probe.py" "$ALLOWED" 53
check "control: the metadata address answers from outside" curl -sf -m 5 -o /dev/null http://169.254.169.254/
check "control: the host's service answers" curl -sf -m 5 -o /dev/null "http://198.18.$X.1:$HPORT/"

# --- the mirror: envcache serve with pip and npm upstreams on loopback ---
pipwhl=$(ls /usr/share/python-wheels/pip-*-py3-none-any.whl 2>/dev/null | tail -n 1)
IX=$T/index
$PY "$EC_SOURCE_DIR/tests/fixtures/pip-index/index.py" make "$IX" "$pipwhl" >/dev/null
: > "$T/index.log"
$PY "$EC_SOURCE_DIR/tests/fixtures/pip-index/index.py" serve "$IX" "$T/index.log" > "$T/pip.port" &
pids+=($!)
$PY "$EC_SOURCE_DIR/tests/fixtures/npm-registry/serve.py" "$T/npmreg" > "$T/npm.port" &
pids+=($!)
for _ in $(seq 200); do [ -s "$T/pip.port" ] && [ -s "$T/npm.port" ] && break; sleep 0.05; done
export ENVCACHE_PIP_INDEX=http://127.0.0.1:$(cat "$T/pip.port")/simple/
export ENVCACHE_NPM_REGISTRY=http://127.0.0.1:$(cat "$T/npm.port")
export ENVCACHE_NODE_VERSION=20.0.0
"$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm off >"$T/serve.out" 2>"$T/serve.err" &
pids+=($!)
for _ in $(seq 100); do grep -qs 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
MPORT=$(grep -o 'port [0-9]*' "$T/serve.err" | head -n1 | cut -d' ' -f2)

# --- bad input: clear errors, nothing made ---
expect_fail "a host with a bad character is refused, naming it" 'allowed_hosts[0]: "bad_host.test"' \
  ec net prepare "${N}bad" --limited --allow bad_host.test
expect_fail "an address is refused as an allowed host" "hosts are admitted by name" \
  ec net prepare "${N}bad" --limited --allow "$ALLOWED"
expect_fail "an MCP URL of another scheme is refused" 'mcp_servers[0]: "ftp://mcp.test/"' \
  ec net prepare "${N}bad" --limited --allow-mcp-servers --mcp ftp://mcp.test/
expect_fail "an MCP URL on another port is refused" "ports 80 and 443 only" \
  ec net prepare "${N}bad" --limited --allow-mcp-servers --mcp https://mcp.test:8443/
expect_fail "a mirror that is not ADDR:PORT is refused" 'mirror: "localhost:80"' \
  ec net prepare "${N}bad" --mirror localhost:80
expect_fail "a bad session name is refused" "is not a session network name" \
  ec net prepare "../x"
check "…and none of them left anything" test -z "$(ec net ls)"
check "…nor a namespace" test ! -e "/run/netns/envcache-${N}bad"

# --- a limited session ---
L=${N}lim
ec --json net prepare "$L" --limited --allow allowed.test --allow '*.wild.test' \
  --mirror "127.0.0.1:$MPORT" --hosts-file "$T/hosts" > "$T/lim.json" || bad "prepare limited"
GATE=$(json_get gate < "$T/lim.json")
in_l() { ec net exec "$L" -- "$@"; }
noproxy=(--noproxy '*')   # the redirect path: a program that ignores the proxy variables
check "limited: an allowed host answers over HTTPS (redirected to the gate, SNI admitted)" \
  bash -c "ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' https://allowed.test/ | grep -q 'hello from $ALLOWED host=allowed.test'"
check "limited: …over HTTP (Host admitted)" \
  bash -c "ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} http://allowed.test/ | grep -q 'hello from $ALLOWED host=allowed.test'"
check "limited: …through the proxy variables (CONNECT to the gate)" \
  bash -c "ec net exec $L -- curl -sf -m 10 --cacert '$T/ca.pem' https://allowed.test/ | grep -q 'hello from $ALLOWED'"
check "limited: a name under an allowed wildcard answers" \
  bash -c "ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' https://a.wild.test/ | grep -q 'host=a.wild.test'"
check "limited: the session's resolver answers an allowed name" in_l getent hosts allowed.test
check "limited: the resolver does not answer a name not on the list" bash -c "! ec net exec $L -- getent hosts other.test"
check "limited: a host not on the list fails (HTTPS, its address given)" \
  bash -c "! ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' --resolve other.test:443:$OTHER https://other.test/"
check "limited: …and through the proxy" \
  bash -c "! ec net exec $L -- curl -sf -m 10 --cacert '$T/ca.pem' https://other.test/"
check "limited: …and over HTTP" \
  bash -c "! ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} --resolve other.test:80:$OTHER http://other.test/"
check "limited: the allowed host by IP fails (HTTP)" \
  bash -c "! ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} http://$ALLOWED/"
check "limited: the allowed host by IP fails (HTTPS)" \
  bash -c "! ec net exec $L -- curl -sfk -m 10 ${noproxy[*]@Q} https://$ALLOWED/"
check "limited: another port of the allowed host fails" \
  bash -c "! ec net exec $L -- curl -sf -m 5 ${noproxy[*]@Q} http://allowed.test:8080/"
check "control: that port answers from outside" curl -sf -m 5 -o /dev/null "http://$ALLOWED:8080/"
check "limited: a UDP probe (DNS to an outside server) gets no answer" bash -c "! ec net exec $L -- $PY $FX/udp_probe.py $ALLOWED 53"
check "limited: a QUIC-style UDP probe on 443 gets no answer" bash -c "! ec net exec $L -- $PY $FX/udp_probe.py $ALLOWED 443"
check "limited: the allowed SNI sent to another host's address fails" \
  bash -c "! ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' --resolve allowed.test:443:$OTHER https://allowed.test/"
check "limited: …and the allowed Host sent there over HTTP" \
  bash -c "! ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} --resolve allowed.test:80:$OTHER http://allowed.test/"
check "control: that address serves allowed.test to anyone who reaches it" \
  bash -c "curl -sf -m 5 --cacert '$T/ca.pem' --resolve allowed.test:443:$OTHER https://allowed.test/ | grep -q 'hello from $OTHER'"
check "limited: the metadata address fails" bash -c "! ec net exec $L -- curl -sf -m 5 ${noproxy[*]@Q} http://169.254.169.254/"
check "limited: the host's own service fails" bash -c "! ec net exec $L -- curl -sf -m 5 ${noproxy[*]@Q} http://$GATE:$HPORT/"
check "limited: without allow_package_managers the mirror is not reachable" \
  bash -c "! ec net exec $L -- curl -sf -m 5 -o /dev/null http://$GATE:$MPORT/mirror/pip/simple/good/"
check "limited: …nor a registry's name" \
  bash -c "! ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' --resolve pkg.test:443:$PKG https://pkg.test/"
check "limited: the env file sets the proxy to the gate" grep -qx "https_proxy=http://$GATE:3138" "$(json_get env_file < "$T/lim.json")"
check "limited: resolv.conf names the session's resolver" grep -qx "nameserver $GATE" "$(json_get root_dir < "$T/lim.json")/etc/resolv.conf"

not() { ! "$@"; }
root_of() { sed -n 's|^.*"root_dir": "\(.*\)".*$|\1|p' "$T/$1.json"; }
# pip_in JSON VENV SPEC [ARG…]: Debian's pip in a fresh venv inside the session, with the
# session's own /etc/pip.conf when it has one (the mirror), else none.
pip_in() {
  local sess conf; sess=$(json_get name < "$T/$1.json"); conf=$(root_of "$1")/etc/pip.conf
  [ -f "$conf" ] || conf=/dev/null
  $PY -m venv "$T/$2" >/dev/null &&
  ec net exec "$sess" -- env PIP_CONFIG_FILE="$conf" "$T/$2/bin/python" -m pip install -q \
    --no-cache-dir --disable-pip-version-check --timeout 5 --retries 0 "${@:4}" "$3" 2>"$T/$2.err"
}
# npm_in JSON DIR SPEC [ARG…]: npm into DIR inside the session, with its npmrc if any.
npm_in() {
  local sess conf; sess=$(json_get name < "$T/$1.json"); conf=$(root_of "$1")/etc/npmrc
  [ -f "$conf" ] || conf=/dev/null
  mkdir -p "$T/$2" && ec net exec "$sess" -- npm install --prefix "$T/$2" --no-audit --no-fund \
    --userconfig "$conf" --cache "$T/$2/.cache" --fetch-retries 0 --fetch-timeout 5000 \
    "${@:4}" "$3" >"$T/$2.out" 2>&1
}
not() { ! "$@"; }
check "limited without allow_package_managers: pip install through the mirror's address fails" \
  not pip_in lim venv-no good --index-url "http://$GATE:$MPORT/mirror/pip/simple/" --trusted-host "$GATE"
check "limited without allow_package_managers: npm install through the mirror's address fails" \
  not npm_in lim npm-no okpkg --registry "http://$GATE:$MPORT/mirror/npm/"
check "limited without allow_package_managers: no package manager is configured" test ! -e "$(root_of lim)/etc/pip.conf"

# --- limited with package managers and MCP allowed ---
P=${N}pm
ec --json net prepare "$P" --limited --allow-package-managers --pm-host pkg.test \
  --allow-mcp-servers --mcp https://mcp.test/sse --mirror "127.0.0.1:$MPORT" \
  --hosts-file "$T/hosts" > "$T/pm.json" || bad "prepare limited with package managers"
PG=$(json_get gate < "$T/pm.json")
check "allow_package_managers: the mirror is reachable at the gate" \
  ec net exec "$P" -- curl -sf -m 10 -o /dev/null "http://$PG:$MPORT/mirror/pip/simple/good/"
check "allow_package_managers: the env file names the mirror" grep -qx "ENVCACHE_MIRROR=http://$PG:$MPORT/mirror" "$(json_get env_file < "$T/pm.json")"
check "allow_package_managers: the session's pip.conf names the mirror" \
  grep -qx "index-url = http://$PG:$MPORT/mirror/pip/simple/" "$(root_of pm)/etc/pip.conf"
check "allow_package_managers: pip install succeeds through the mirror (the session's pip.conf)" \
  pip_in pm venv-yes good
check "…and the package imports" "$T/venv-yes/bin/python" -c 'import good'
check "allow_package_managers: npm install succeeds through the mirror (the session's npmrc)" \
  npm_in pm npm-yes okpkg
check "…and the package is there" test -f "$T/npm-yes/node_modules/okpkg/package.json"
check "allow_package_managers: an upstream registry's name is admitted" \
  bash -c "ec net exec $P -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' https://pkg.test/ | grep -q 'host=pkg.test'"
check "allow_mcp_servers: the session's MCP endpoint host is admitted" \
  bash -c "ec net exec $P -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' https://mcp.test/sse | grep -q 'host=mcp.test'"
check "…but not the limited session's allowed host" \
  bash -c "! ec net exec $P -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' --resolve allowed.test:443:$ALLOWED https://allowed.test/"
check "limited without allow_mcp_servers: the MCP host fails" \
  bash -c "! ec net exec $L -- curl -sf -m 10 ${noproxy[*]@Q} --cacert '$T/ca.pem' --resolve mcp.test:443:$MCP https://mcp.test/sse"

# --- an unrestricted session ---
U=${N}open
ec --json net prepare "$U" --mirror "127.0.0.1:$MPORT" --hosts-file "$T/hosts" > "$T/open.json" || bad "prepare unrestricted"
UG=$(json_get gate < "$T/open.json")
check "unrestricted: a fake host answers by name (HTTPS)" \
  bash -c "ec net exec $U -- curl -sf -m 10 --cacert '$T/ca.pem' https://other.test/ | grep -q 'hello from $OTHER'"
check "unrestricted: …on another port" ec net exec "$U" -- curl -sf -m 10 -o /dev/null "http://$ALLOWED:8080/"
check "unrestricted: …and over UDP" ec net exec "$U" -- $PY "$FX/udp_probe.py" "$ALLOWED" 53
check "unrestricted: the metadata address fails" bash -c "! ec net exec $U -- curl -sf -m 5 -o /dev/null http://169.254.169.254/"
check "unrestricted: a link-local address fails" bash -c "! ec net exec $U -- curl -sf -m 5 -o /dev/null http://$LL/"
check "control: the link-local address answers from outside" curl -sf -m 5 -o /dev/null "http://$LL/"
check "unrestricted: the host's service fails at the host's address" bash -c "! ec net exec $U -- curl -sf -m 5 -o /dev/null http://198.18.$X.1:$HPORT/"
check "unrestricted: …and at the gate's address" bash -c "! ec net exec $U -- curl -sf -m 5 -o /dev/null http://$UG:$HPORT/"
check "unrestricted: the mirror is reachable" ec net exec "$U" -- curl -sf -m 10 -o /dev/null "http://$UG:$MPORT/mirror/pip/simple/good/"

# --- state, concurrency, teardown ---
check "ls lists the three sessions" test "$(ec net ls | grep -c "^${N}")" = 3
expect_fail "preparing a name twice is refused" "already prepared" ec net prepare "$U"
check "each session has its own /30" test "$(printf '%s\n' "$GATE" "$PG" "$UG" | sort -u | wc -l)" = 3
ec --json net prepare "${N}c1" > "$T/c1.json" & c1=$!
ec --json net prepare "${N}c2" > "$T/c2.json" & c2=$!
wait $c1; r1=$?; wait $c2; r2=$?
check "two sessions prepared at once both succeed" test "$r1$r2" = 00
check "…with different addresses" test "$(json_get address < "$T/c1.json")" != "$(json_get address < "$T/c2.json")"

state_of() { # state_of NAME: what the session made that exists now
  local slot; slot=$(sed -n 's/^slot=//p' "$ENVCACHE_HOME/net/$1/state")
  echo "slot=$slot"
  ip link show "ecn$slot" >/dev/null 2>&1 && echo "veth"
  nft list table ip "envcache_$slot" >/dev/null 2>&1 && echo "table"
  test -e "/run/netns/envcache-$1" && echo "netns"
  pgrep -f "$ENVCACHE_HOME/net/$1/" >/dev/null && echo "processes"
}
before=$(state_of "$L")
check "the limited session has its veth, table, namespace and processes" \
  bash -c "printf '%s\n' '$before' | grep -c -e veth -e table -e netns -e processes | grep -qx 4"
slot=$(sed -n 's/^slot=//p' "$ENVCACHE_HOME/net/$L/state")
# A crash: the gate and the resolver killed, the record left as it was.
pkill -9 -f "$ENVCACHE_HOME/net/$L/" ; sleep 0.2
check "teardown after a crash succeeds" ec net teardown "$L"
check "…no veth left" bash -c "! ip link show ecn$slot 2>/dev/null"
check "…no table left" bash -c "! nft list table ip envcache_$slot 2>/dev/null"
check "…no namespace left" test ! -e "/run/netns/envcache-$L"
check "…no state left" test ! -e "$ENVCACHE_HOME/net/$L"
check "teardown again is fine" ec net teardown "$L"
pslot=$(sed -n 's/^slot=//p' "$ENVCACHE_HOME/net/$P/state")
check "teardown of a running limited session" ec net teardown "$P"
none_running() { ! pgrep -f "$1" >/dev/null; }
check "…stops its gate and resolver" none_running "$ENVCACHE_HOME/net/$P/"
check "…and leaves no table" bash -c "! nft list table ip envcache_$pslot 2>/dev/null"

# A prepare that fails half-way (no squid on PATH) undoes what it made.
mkdir -p "$T/bin"
for t in ip nft dnsmasq openssl; do ln -sf "$(command -v $t)" "$T/bin/$t"; done
expect_fail "a prepare whose gate cannot start fails, naming squid" "squid" \
  env PATH="$T/bin" "$ENVCACHE_BIN" net prepare "${N}half" --limited --allow allowed.test
check "…and leaves no namespace" test ! -e "/run/netns/envcache-${N}half"
check "…nor state" test ! -e "$ENVCACHE_HOME/net/${N}half"
check "…nor a resolver" none_running "$ENVCACHE_HOME/net/${N}half/"
for s in "$U" "${N}c1" "${N}c2"; do ec net teardown "$s"; done
check "after teardown nothing of ours is left: no ecn links of these sessions, no tables" \
  test -z "$(ec net ls)"
check "net --help" bash -c "ec net --help | grep -q 'net prepare NAME'"

# --- envcache run: the environment's networking applied to a container (runc) ---
if command -v runc >/dev/null && root_is_mount; then
  bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$T/rootsrc" curl >/dev/null
  mkdir -p "$T/rootsrc/proc" "$T/rootsrc/dev" "$T/rootsrc/sys"
  cp "$T/ca.pem" "$T/rootsrc/ca.pem"
  ec base default "$(ec base import "$T/rootsrc")" >/dev/null
  echo '{"name":"lim","config":{"type":"cloud","networking":{"type":"limited","allowed_hosts":["allowed.test"]},"packages":{}}}' | ec env create -f - >/dev/null
  echo '{"name":"open","config":{"type":"cloud","packages":{}}}' | ec env create -f - >/dev/null
  export ENVCACHE_NET_HOSTS_FILE=$T/hosts
  check "run, limited: the allowed host answers over HTTPS in the container" \
    bash -c "ec run lim -- curl -sf -m 10 --cacert /ca.pem https://allowed.test/ | grep -q 'host=allowed.test'"
  check "run, limited: …and over HTTP with no proxy variables" \
    bash -c "ec run lim -- curl -sf -m 10 --noproxy '*' http://allowed.test/ | grep -q 'host=allowed.test'"
  check "run, limited: the container's resolv.conf is the session's" bash -c "ec run lim -- cat /etc/resolv.conf | grep -q '^nameserver 10\.231\.'"
  check "run, limited: another host fails" not ec run lim -- curl -sf -m 10 --noproxy '*' --resolve other.test:80:$OTHER http://other.test/
  check "run, limited: an address fails" not ec run lim -- curl -sf -m 10 --noproxy '*' "http://$ALLOWED/"
  check "run, unrestricted: a fake host answers by name" \
    bash -c "ec run open -- curl -sf -m 10 http://other.test/ | grep -q 'hello from $OTHER'"
  check "run, unrestricted: the metadata address fails" not ec run open -- curl -sf -m 5 http://169.254.169.254/
  check "run: no session network stays after" test -z "$(ec net ls)"
  unset ENVCACHE_NET_HOSTS_FILE
else
  bad "envcache run needs runc and / as a mount point here"
fi
finish
