#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: a session's network made and unmade (ec_net_prepare + ec_net_teardown through
# `envcache net`), unrestricted and limited, side by side with the bare floor a runtime
# pays anyway: `ip netns add` + a veth pair into it + `ip netns del`.
#
#   tools/bench/net.sh [--runs N]      (default 10; needs root, squid, dnsmasq, nft, ip)
#
# Prints hyperfine's table (mean ± σ) and the ratios to the bare floor.
# The binary is $ENVCACHE_BIN, else ./build/tools/envcache.
set -euo pipefail
runs=10
[ "${1:-}" = --runs ] && runs=${2:?}
E=${ENVCACHE_BIN:-./build/tools/envcache}
H=$(mktemp -d)
trap 'ENVCACHE_HOME=$H "$E" net teardown bl 2>/dev/null; ENVCACHE_HOME=$H "$E" net teardown bu 2>/dev/null; rm -rf "$H"' EXIT
export ENVCACHE_HOME=$H
# the gate's certificate is made once per store: not part of what is measured
"$E" net prepare warm --limited --allow example.test >/dev/null && "$E" net teardown warm
hyperfine -N --runs "$runs" --warmup 1 --export-json "$H/r.json" \
  -n "bare: netns + veth + del" \
  "sh -c 'ip netns add ecbench && ip link add ecbench0 type veth peer name eth0 netns ecbench && ip link set ecbench0 up && ip netns del ecbench'" \
  -n "envcache net unrestricted" \
  "sh -c '$E net prepare bu >/dev/null && $E net teardown bu'" \
  -n "envcache net limited" \
  "sh -c '$E net prepare bl --limited --allow example.test --allow *.example.org >/dev/null && $E net teardown bl'"
python3 - "$H/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["mean"]
for x in r:
    print("%-28s %8.1f ms  %5.1fx the bare floor" % (x["command"], x["mean"] * 1000, x["mean"] / base))
PY
