# Debian's docker-registry on loopback, for the OCI tests and tools/bench/oci.sh: one
# instance per call, from a config file in its own directory, stopped by stop_registries.
# Sourced after lib.sh (uses $T). Variants: anonymous; basic auth (htpasswd, bcrypt) and TLS
# with a CA made here (openssl). Callers run start_* in $(…), a subshell: the processes'
# ids go to a file, which stop_registries reads.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# make_ca DIR: a CA and a server certificate for 127.0.0.1 signed by it.
make_ca() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=envcache test CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" \
    -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > "$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
}

# start_registry NAME [USER PASSWORD] [TLSDIR]: prints the registry's base URL.
start_registry() {
  local name=$1 user=${2:-} pass=${3:-} tls=${4:-}
  local d=$T/registry-$name port
  mkdir -p "$d/data"
  port=$(free_port)
  {
    printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$d/data"
    printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
    [ -n "$tls" ] && printf '  tls:\n    certificate: %s\n    key: %s\n' "$tls/server.crt" "$tls/server.key"
    if [ "$user" = "@token" ]; then # bearer tokens from tests/integration/token_server.py at $pass
      printf 'auth:\n  token:\n    realm: %s/token\n    service: envcache-test\n    issuer: envcache-test-issuer\n    rootcertbundle: %s\n' \
        "$pass" "$T/token/cert.pem"
    elif [ -n "$user" ]; then
      htpasswd -Bbn "$user" "$pass" > "$d/htpasswd"
      printf 'auth:\n  htpasswd:\n    realm: envcache-test\n    path: %s\n' "$d/htpasswd"
    fi
  } > "$d/config.yml"
  docker-registry serve "$d/config.yml" > "$d/log" 2>&1 &
  echo $! >> "$T/registry.pids"
  local scheme=http; [ -n "$tls" ] && scheme=https
  for _ in $(seq 200); do
    curl -s -o /dev/null ${tls:+--cacert "$tls/ca.crt"} "$scheme://127.0.0.1:$port/v2/" && break
    sleep 0.05
  done
  echo "$scheme://127.0.0.1:$port"
}
stop_registries() {
  [ -f "$T/registry.pids" ] || return 0
  local p; for p in $(cat "$T/registry.pids"); do kill "$p" 2>/dev/null; done
  # Bounded: a killed process whose parent (the subshell) is gone may stay a zombie.
  for p in $(cat "$T/registry.pids"); do
    for _ in $(seq 100); do [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null || break; sleep 0.05; done
  done
  rm -f "$T/registry.pids"
}
# registry_requests NAME: how many requests the registry's access log shows.
registry_requests() { grep -c '"GET \|"HEAD \|"PUT \|"POST \|"PATCH ' "$T/registry-$1/log" || true; }
# start_token_server: prints the token service's base URL (tests/integration/token_server.py).
start_token_server() {
  mkdir -p "$T/token"
  python3 "$(dirname "${BASH_SOURCE[0]}")/token_server.py" "$T/token" envcache-test-issuer > "$T/token/port" 2>"$T/token/log" &
  echo $! >> "$T/registry.pids"
  for _ in $(seq 200); do [ -s "$T/token/port" ] && break; sleep 0.05; done
  echo "http://127.0.0.1:$(cat "$T/token/port")"
}
