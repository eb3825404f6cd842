#!/bin/bash
# Live: two nodes (two homes) share Debian's docker-registry on loopback as their remote
# tier. Node A warms an apt + npm environment from the real registries and publishes its
# locks and layers; node B, serving the API, starts a session of the same environment with
# zero requests to any package registry (its /metrics) and the same layer digests. Then two
# fresh nodes warm one new environment at the same moment: each builds at most once, the
# npm layer is the same digest on both (reproducible), and the apt layer is reported
# (reproducible or which files differ). Variants: anonymous, and basic auth over TLS.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib_base.sh"
. "$(dirname "$0")/../integration/lib_registry.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
trap 'stop_registries; cleanup' EXIT
BASE_TAR=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests/base-bookworm-minbase.tar.zst
HOME_BASE=$T/seed
base=$(ENVCACHE_HOME=$HOME_BASE base_digest) || { bad "a base"; finish; exit 1; }
ENVCACHE_HOME=$HOME_BASE ec layer export "$base" -o "$T/base.tar.zst" >/dev/null
node_base() { ENVCACHE_HOME=$1 ec base import "$T/base.tar.zst"; }
ENV1='{"name":"web","config":{"packages":{"apt":["jq"],"npm":["ms@2.1.3"]}}}'
# ca-certificates: its maintainer script runs at the build (update-ca-certificates).
ENV2='{"name":"two","config":{"packages":{"apt":["tree","ca-certificates"],"npm":["ms@2.1.2"]}}}'
make_ca "$T/ca"

for variant in anon secure; do
  echo "# variant: $variant"
  if [ $variant = secure ]; then
    REG=$(start_registry secure alice s3cret "$T/ca")
    export ENVCACHE_REGISTRY_CA=$T/ca/ca.crt ENVCACHE_REGISTRY_USER=alice ENVCACHE_REGISTRY_PASSWORD=s3cret
  else
    REG=$(start_registry anon)
  fi
  export ENVCACHE_REMOTE=$REG/tier
  A=$T/$variant-a B=$T/$variant-b
  b=$(node_base "$A")
  check "$variant: both nodes import the same base" test "$b" = "$(node_base "$B")"
  printf '%s' "$ENV1" > "$T/env1.json"
  ENVCACHE_HOME=$A ec env create -f "$T/env1.json" --base "$b" >/dev/null
  ok=0
  for i in 1 2 3; do ENVCACHE_HOME=$A ec --json warm web > "$T/a.json" 2>"$T/a.err" && { ok=1; break; }; sleep $((i * 3)); done
  check "$variant: node A warms apt + npm from the package registries" test "$ok" = 1 || cat "$T/a.err"
  stack_a=$(tail -n 1 "$T/a.json" | json_get stack)

  # Node B serves the API; its first session warms from the remote.
  ENVCACHE_HOME=$B ec base default "$b" >/dev/null
  key=$(ENVCACHE_HOME=$B ec keys create --workspace default)
  ENVCACHE_HOME=$B "$ENVCACHE_BIN" serve --listen 127.0.0.1:0 --warm session 2>"$T/serve.err" &
  srv=$!
  for _ in $(seq 100); do grep -q 'port [0-9]' "$T/serve.err" && break; sleep 0.05; done
  S=http://127.0.0.1:$(grep -o 'port [0-9]*' "$T/serve.err" | cut -d' ' -f2)
  H=(-H "anthropic-version: 2023-06-01" -H "anthropic-beta: managed-agents-2026-04-01" -H "x-api-key: $key")
  id=$(curl -s "${H[@]}" "$S/v1/environments" -d "${ENV1/\"config\":\{/\"config\":{\"type\":\"cloud\",}" | json_get id)
  sess=$(curl -s "${H[@]}" "$S/v1/sessions" -d "{\"agent\":\"agt_1\",\"environment_id\":\"$id\"}")
  sid=$(printf '%s' "$sess" | json_get id 2>/dev/null)
  check "$variant: node B starts a session of it" bash -c "[[ '$sid' == sesn_* ]]" || echo "$sess"
  up=$(curl -s "$S/metrics" | awk 'index($0, "envcache_upstream_requests_total") == 1 {s += $NF} END {print s + 0}')
  check "$variant: …with zero requests to any package registry (/metrics: $up)" test "$up" = 0
  pulled=$(curl -s "$S/metrics" | awk 'index($0, "envcache_remote_objects_total{kind=\"layer\",result=\"pulled\"}") == 1 {s += $NF} END {print s + 0}')
  check "$variant: …its layers pulled from the remote (/metrics: $pulled)" test "$pulled" -ge 2
  check "$variant: …and node A's layer digests" test "$(printf '%s' "$sess" | json_get layers)" = "$stack_a"
  root=$(printf '%s' "$sess" | json_get target 2>/dev/null)
  check "$variant: jq and ms are in the session's root" bash -c "test -x '$root/usr/bin/jq' && test -f '$root/usr/local/lib/node_modules/ms/package.json'"
  curl -s -o /dev/null "${H[@]}" -X DELETE "$S/v1/sessions/$sid"
  kill $srv; wait $srv 2>/dev/null

  # Two fresh nodes warm one new environment at the same moment.
  C=$T/$variant-c D=$T/$variant-d
  printf '%s' "$ENV2" > "$T/env2.json"
  for n in "$C" "$D"; do
    bb=$(node_base "$n"); ENVCACHE_HOME=$n ec env create -f "$T/env2.json" --base "$bb" >/dev/null
  done
  ENVCACHE_HOME=$C ec --json warm two > "$T/c.json" 2>"$T/c.err" & pc=$!
  ENVCACHE_HOME=$D ec --json warm two > "$T/d.json" 2>"$T/d.err" & pd=$!
  wait $pc; rc=$?; wait $pd; rd=$?
  check "$variant: both nodes warm it at once ($rc, $rd)" test "$rc$rd" = 00
  for n in c d; do
    check "$variant: node $n has both layers, each built here once or pulled" python3 -c '
import json,sys
r=[json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")][-1]
for m in ("apt","npm"):
    s=r["managers"][m]; assert s["state"]=="ready" and isinstance(s["reused"], bool), r
print("# node %s: apt %s, npm %s" % (sys.argv[2], *("pulled or reused" if r["managers"][m]["reused"] else "built" for m in ("apt","npm"))))' "$T/$n.json" $n
  done
  npm_c=$(tail -n 1 "$T/c.json" | json_get managers.npm.layer)
  npm_d=$(tail -n 1 "$T/d.json" | json_get managers.npm.layer)
  check "$variant: the npm layer is the same digest on both nodes" test "$npm_c" = "$npm_d"
  apt_c=$(tail -n 1 "$T/c.json" | json_get managers.apt.layer)
  apt_d=$(tail -n 1 "$T/d.json" | json_get managers.apt.layer)
  built_c=$(tail -n 1 "$T/c.json" | json_get managers.apt.reused)
  built_d=$(tail -n 1 "$T/d.json" | json_get managers.apt.reused)
  echo "# $variant: apt layer on C $apt_c (reused: $built_c), on D $apt_d (reused: $built_d)"
  dc=$(ENVCACHE_HOME=$C ec --json layer ls | python3 -c 'import json,sys; print([l["diff_id"] for l in json.load(sys.stdin) if l["digest"]==sys.argv[1]][0].split(":")[1])' "$apt_c")
  check "$variant: ca-certificates' maintainer script ran at the build (its bundle is in the layer)" \
    test -s "$C/layers/$dc/etc/ssl/certs/ca-certificates.crt"
  if [ "$apt_c" = "$apt_d" ]; then
    echo "# $variant: apt layer identical on both nodes"
  else
    dd=$(ENVCACHE_HOME=$D ec --json layer ls | python3 -c 'import json,sys; print([l["diff_id"] for l in json.load(sys.stdin) if l["digest"]==sys.argv[1]][0].split(":")[1])' "$apt_d")
    echo "# $variant: apt layers differ; files that differ:"
    diff -rq --no-dereference "$C/layers/$dc" "$D/layers/$dd" 2>&1 | sed "s|$C/layers/$dc|C|; s|$D/layers/$dd|D|; s/^/#   /" | head -20
  fi
  stack_c=$(tail -n 1 "$T/c.json" | json_get stack)
  stack_d=$(tail -n 1 "$T/d.json" | json_get stack)
  check "$variant: the registry holds one set of layers: its layer tags are exactly the nodes' layers" bash -c "
    curl -s ${ENVCACHE_REGISTRY_USER:+-u alice:s3cret} --cacert $T/ca/ca.crt $REG/v2/tier/tags/list | python3 -c '
import json,sys
tags={t[6:] for t in json.load(sys.stdin)[\"tags\"] if t.startswith(\"layer-\")}
want={d.split(\":\")[1] for s in sys.argv[1:] for d in json.loads(s)}
assert tags == want, (sorted(tags - want), sorted(want - tags))' '$stack_a' '$stack_c' '$stack_d'"
  echo "# $variant: $(ls "$T/registry-$variant/data/docker/registry/v2/repositories/tier/_layers/sha256" | wc -l) blobs in the tier repository (layers, configs, locks)"
  stop_registries
  unset ENVCACHE_REGISTRY_CA ENVCACHE_REGISTRY_USER ENVCACHE_REGISTRY_PASSWORD ENVCACHE_REMOTE
done
finish
