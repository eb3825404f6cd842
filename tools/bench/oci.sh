#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: a fleet's second node. Side by side in one run, over one environment
# (apt + npm, from the real registries) and Debian's docker-registry on loopback:
#   node A cold   envcache warm ENV on an empty store, no remote (resolve, fetch, build)
#   node B tier   first session on a fresh store whose remote holds node A's work:
#                 envcache warm ENV (locks and layers pulled) + envcache mount ENV
#   node B pull   envcache pull REF + envcache mount ENV (the whole image, base included)
#   skopeo copy   skopeo copy docker://REF oci:DIR (the same image, same registry), and
#                 skopeo copy to dir: + tar -x of each layer (a root fs, as a mount needs)
#
#   tools/bench/oci.sh [--runs N] [--apt LIST] [--npm LIST] [--base FILE] [--json] [--keep]
#
# LIST is comma-separated (default apt jq, npm ms@2.1.3). The base is FILE, else the live
# tests' cached bookworm minbase (~/.cache/envcache-tests/…); each node imports it before
# its runs, outside the timing. It prints medians (hyperfine) and the ratios; --json prints
# one object. The binary is $ENVCACHE_BIN, else ./build/tools/envcache; mounts need root.
set -euo pipefail

runs=3 apt=jq npm=ms@2.1.3 json=0 keep=0
base=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-tests/base-bookworm-minbase.tar.zst
usage() { sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/oci: $*" >&2; exit 1; }
say() { if [ "$json" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --apt) apt=${2?}; shift ;;
    --npm) npm=${2?}; shift ;;
    --base) base=${2:?}; shift ;;
    --json) json=1 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
bin=${ENVCACHE_BIN:-./build/tools/envcache}
[ -x "$bin" ] || die "no envcache binary at $bin (build it, or set ENVCACHE_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
for t in hyperfine skopeo docker-registry python3; do command -v $t >/dev/null || die "$t is needed (tools/install-deps.sh)"; done
[ -s "$base" ] || die "no base at $base: give --base FILE (a root file system tar[.zst]), or run tests/live/test_base_bootstrap.sh once"

W=$(mktemp -d "${TMPDIR:-/tmp}/bench-oci.XXXXXX")
T=$W
. "$(cd "$(dirname "$0")/../.." && pwd)/tests/integration/lib_registry.sh"
cleanup() {
  "$bin" --home "$W/b-tier" umount "$W/t-tier" >/dev/null 2>&1 || true
  "$bin" --home "$W/b-pull" umount "$W/t-pull" >/dev/null 2>&1 || true
  stop_registries
  [ "$keep" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

REG=$(start_registry bench)
REF=$REG/bench/env:v1
TIER=$REG/tier
python3 - "$apt" "$npm" > "$W/env.json" <<'PY'
import json, sys
p = {m: [s for s in v.split(",") if s] for m, v in (("apt", sys.argv[1]), ("npm", sys.argv[2]))}
print(json.dumps({"name": "bench", "config": {"packages": {m: s for m, s in p.items() if s}}}))
PY
say "== environment: $(cat "$W/env.json")"

# The seed: node A's work on the registry, as the tier (warm with a remote) and as an image.
ec() { "$bin" "$@"; }
b=$(ec --home "$W/seed" base import "$base")
ec --home "$W/seed" env create -f "$W/env.json" --base "$b" >/dev/null
ENVCACHE_REMOTE=$TIER ec --home "$W/seed" --quiet warm bench >/dev/null
ec --home "$W/seed" --quiet push bench "$REF"
fresh() { # HOME: an empty store with the base imported and the environment created
  rm -rf "$1" && ec --home "$1" base import "$base" >/dev/null &&
    ec --home "$1" env create -f "$W/env.json" --base "$b" >/dev/null
}
export -f fresh ec; export bin W base b

hyperfine --shell bash --runs "$runs" --export-json "$W/res.json" --style basic \
  --prepare "fresh '$W/a'" \
  -n "node A: envcache warm (empty store, no remote)" "'$bin' --home '$W/a' --quiet warm bench" \
  --prepare "'$bin' --home '$W/b-tier' umount '$W/t-tier' >/dev/null 2>&1; fresh '$W/b-tier'" \
  -n "node B: envcache warm + mount (remote tier)" \
  "ENVCACHE_REMOTE='$TIER' ENVCACHE_REMOTE_PUSH=0 '$bin' --home '$W/b-tier' --quiet warm bench && '$bin' --home '$W/b-tier' --quiet mount bench '$W/t-tier'" \
  --prepare "'$bin' --home '$W/b-pull' umount '$W/t-pull' >/dev/null 2>&1; rm -rf '$W/b-pull'" \
  -n "node B: envcache pull + mount (whole image)" \
  "'$bin' --home '$W/b-pull' --quiet pull '$REF' && '$bin' --home '$W/b-pull' --quiet mount bench '$W/t-pull'" \
  --prepare "rm -rf '$W/skopeo'" \
  -n "skopeo copy docker:// oci: (whole image)" \
  "skopeo copy -q --src-tls-verify=false 'docker://${REF#http://}' 'oci:$W/skopeo:v1'" \
  --prepare "rm -rf '$W/skopeo-dir' '$W/rootfs'" \
  -n "skopeo copy docker:// dir: + tar -x each layer (a root fs)" \
  "skopeo copy -q --src-tls-verify=false 'docker://${REF#http://}' 'dir:$W/skopeo-dir' && mkdir '$W/rootfs' && for l in \$(python3 -c 'import json,sys; print(\" \".join(l[\"digest\"].split(\":\")[1] for l in json.load(open(sys.argv[1]))[\"layers\"]))' '$W/skopeo-dir/manifest.json'); do tar --zstd -xf '$W/skopeo-dir/'\$l -C '$W/rootfs'; done"

python3 - "$json" "$W/res.json" "$(du -sb "$W/skopeo" | cut -f1)" <<'PY'
import json, sys
as_json = sys.argv[1] == "1"
res = {x["command"]: x["median"] for x in json.load(open(sys.argv[2]))["results"]}
get = lambda p: next(v for k, v in res.items() if k.startswith(p))
a, bt, bp, sk, sx = (get("node A"), get("node B: envcache warm"), get("node B: envcache pull"),
                     get("skopeo copy docker:// oci:"), get("skopeo copy docker:// dir:"))
out = {"medians_s": res, "image_bytes": int(sys.argv[3]),
       "ratio_cold_warm_over_tier_session": round(a / bt, 1),
       "ratio_cold_warm_over_pull_session": round(a / bp, 1),
       "ratio_skopeo_copy_over_pull_session": round(sk / bp, 2),
       "ratio_skopeo_copy_over_tier_session": round(sk / bt, 2),
       "ratio_skopeo_copy_untar_over_pull_session": round(sx / bp, 2)}
if as_json:
    print(json.dumps(out, indent=2))
else:
    for k, v in res.items():
        print(f"  {k:50} {v*1000:10.1f} ms")
    print(f"  image: {out['image_bytes']/1e6:.1f} MB on disk after skopeo copy")
    print(f"  node A cold warm / node B first session (tier) = {out['ratio_cold_warm_over_tier_session']}x")
    print(f"  node A cold warm / node B first session (pull) = {out['ratio_cold_warm_over_pull_session']}x")
    print(f"  skopeo copy / node B first session (pull)      = {out['ratio_skopeo_copy_over_pull_session']}x")
    print(f"  skopeo copy / node B first session (tier)      = {out['ratio_skopeo_copy_over_tier_session']}x")
    print(f"  skopeo copy + tar -x / node B first session (pull) = {out['ratio_skopeo_copy_untar_over_pull_session']}x")
PY
