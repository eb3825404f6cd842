# Helpers of the gem tests: the test registry (tests/fixtures/gem-registry/), made once per
# ctest run by the fixture test live/gem_registry into $EC_GEM_REGISTRY (made here when a
# test runs alone), served on loopback with every request logged.
EC_GEM_REGISTRY=${EC_GEM_REGISTRY:-$EC_TEST_TMP/gem-registry}
gem_registry_make() {
  [ -s "$EC_GEM_REGISTRY/versions" ] && return 0
  ruby "$EC_SOURCE_DIR/tests/fixtures/gem-registry/make-registry.rb" "$EC_GEM_REGISTRY" >/dev/null
}
# gem_registry_serve: starts the server, sets GEM_REG (its URL) and GEM_REG_LOG.
gem_registry_serve() {
  gem_registry_make || return 1
  GEM_REG_LOG=$T/registry.log
  : > "$GEM_REG_LOG"
  python3 "$EC_SOURCE_DIR/tests/fixtures/gem-registry/serve.py" "$EC_GEM_REGISTRY" "$GEM_REG_LOG" > "$T/reg.port" &
  GEM_REG_PID=$!
  for _ in $(seq 100); do [ -s "$T/reg.port" ] && break; sleep 0.05; done
  GEM_REG=http://127.0.0.1:$(cat "$T/reg.port")
  export ENVCACHE_GEM_SOURCE=$GEM_REG
}
# gem_env NAME APT-JSON-LIST GEM-JSON-LIST: creates an environment on the cached base.
gem_env() {
  printf '{"name":"%s","config":{"packages":{"apt":%s,"gem":%s}}}' "$1" "$2" "$3" > "$T/$1.json"
  ec env create -f "$T/$1.json" --base "$base" >/dev/null
}
# gem_warm ENV: `ec --json warm ENV` into $T/ENV.out and .err, retried (the Debian archive,
# which the apt layer beneath needs, may hiccup), but not when gem itself refused.
gem_warm() {
  local i; for i in 1 2 3; do ec --json warm "$1" > "$T/$1.out" 2>"$T/$1.err" && return 0
    grep -q '"gem"' "$T/$1.out" && grep -q 'gem:' "$T/$1.out" && return 1; sleep $((i * 3)); done; return 1; }
