#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: a Go program, envcache against go install, side by side in one run.
#
#   tools/bench/go.sh [--runs N] [--spec PKG@VERSION] [--json] [--keep]
#
# For the spec (default golang.org/x/tools/gopls@v0.23.0):
#   cold  envcache warm ENV with an empty store (a base carrying the host's Go toolchain
#         imported first, outside the timing)
#         go install PKG@VERSION with an empty GOMODCACHE and GOCACHE
#   warm  envcache-mount ENV TARGET (the container start-up hook) of the built environment
#         envcache mount ENV TARGET (the same through the main binary)
#         go install PKG@VERSION with warm GOMODCACHE and GOCACHE
# Both use the host's go settings (GOPROXY, GOSUMDB); the warm rows use what the last
# cold run left. Then, for where the cold time goes: the go fetcher's resolve and fetch
# alone (build/tests/go-resolve --fetch, empty store: the go.mod graph, the checksum
# database, verified zips), the rest of envcache's cold time being the probe, the build
# in the sandbox and packing; and `go mod download` of the lock's modules alone, from
# an empty cache, for how much of go's own cold time is downloading.
# It prints medians (hyperfine), the cold rows' CPU time (user + system, children included:
# a build that spins shows here first), and the ratios go/envcache; --json prints one object.
# The binary is $ENVCACHE_BIN, else ./build/tools/envcache; mounts and sandboxes need root.
set -euo pipefail

runs=1 spec=golang.org/x/tools/gopls@v0.23.0 json=0 keep=0
usage() { sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/go: $*" >&2; exit 1; }
say() { if [ "$json" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --spec) spec=${2:?}; shift ;;
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
hook=$(dirname "$bin")/envcache-mount
[ -x "$hook" ] || die "no envcache-mount next to $bin"
resolve=$(dirname "$bin")/../tests/go-resolve
[ -x "$resolve" ] || die "no go-resolve at $resolve (build the tests)"
src=$(cd "$(dirname "$0")/../.." && pwd)
for t in hyperfine go python3; do command -v $t >/dev/null || die "$t is needed"; done
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

W=$(mktemp -d "${TMPDIR:-/tmp}/bench-go.XXXXXX")
cleanup() {
  "$bin" --home "$W/warm-home" umount "$W/target" >/dev/null 2>&1 || true
  chmod -R u+w "$W" 2>/dev/null || true
  [ "$keep" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

# The base: the host's programs and its Go toolchain in /usr/local/go.
bash "$src/tests/integration/mkroot.sh" "$W/base" >/dev/null
mkdir -p "$W/base/usr/local/bin"
cp -aL "$(go env GOROOT)" "$W/base/usr/local/go" # -L: Debian's GOROOT links src/ into /usr/share
ln -sfn ../go/bin/go "$W/base/usr/local/bin/go"
printf '{"name":"bench-go","config":{"packages":{"go":["%s"]}}}\n' "$spec" > "$W/env.json"
fresh_home() { # HOME: an empty store with the base and the environment
  rm -rf "$1"
  local b
  b=$("$bin" --home "$1" base import "$W/base")
  "$bin" --home "$1" env create -f "$W/env.json" --base "$b" >/dev/null
}
export -f fresh_home
export bin W

say "== $spec (go $(go env GOVERSION))"
hyperfine --shell bash --runs "$runs" --export-json "$W/cold.json" --style basic \
  --prepare "fresh_home '$W/eh' 2>'$W/prepare.err' || { cat '$W/prepare.err' >&2; false; }" \
  -n "envcache warm (empty store)" "'$bin' --home '$W/eh' --quiet warm bench-go" \
  --prepare "chmod -R u+w '$W/gm' 2>/dev/null; rm -rf '$W/gm' '$W/gc' '$W/gb'" \
  -n "go install (empty GOMODCACHE, GOCACHE)" \
  "GOMODCACHE='$W/gm' GOCACHE='$W/gc' GOBIN='$W/gb' go install '$spec'"

# Warm state for each: what the last cold run left (envcache's built environment, go's
# module and build caches).
hyperfine --shell bash --runs "$((runs * 5))" --warmup 1 --export-json "$W/warm.json" --style basic \
  --prepare "'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1 || true" \
  -n "envcache-mount hook (built)" "'$hook' --home '$W/eh' bench-go '$W/target' >/dev/null" \
  --prepare "'$bin' --home '$W/eh' umount '$W/target' >/dev/null 2>&1 || true" \
  -n "envcache mount (built)" "'$bin' --home '$W/eh' mount bench-go '$W/target' >/dev/null" \
  --prepare "rm -rf '$W/gb'" \
  -n "go install (warm GOMODCACHE, GOCACHE)" \
  "GOMODCACHE='$W/gm' GOCACHE='$W/gc' GOBIN='$W/gb' go install '$spec'"
"$bin" --home "$W/eh" umount "$W/target" >/dev/null 2>&1 || true

# Where the cold time goes: the go fetcher's resolve and fetch alone, and go's download
# of the same modules alone.
"$bin" --home "$W/eh" env lock bench-go go > "$W/lock.json"
mods=$(python3 -c 'import json,sys
t=json.load(open(sys.argv[1]))["targets"][0]["build_list"]
print(" ".join(p+"@"+v for p,v in sorted(t.items())))' "$W/lock.json")
sumdb=$(go env GOSUMDB)
case $sumdb in *+*|off) ;; *) sumdb=$(grep -ho "\"$sumdb+[0-9a-f]\{8\}+[A-Za-z0-9+/=]*\"" \
  "$(go env GOROOT)/src/cmd/go/internal/modfetch/"*.go | head -n 1 | tr -d '"') ;; esac
t0=$(date +%s%N)
"$resolve" --store "$W/rs" --proxy "$(go env GOPROXY)" --gosumdb "$sumdb" --fetch "$spec" >/dev/null
t1=$(date +%s%N)
mkdir -p "$W/dl" && printf 'module dl\n' > "$W/dl/go.mod"
t2=$(date +%s%N)
(cd "$W/dl" && GOMODCACHE="$W/gm-dl" go mod download $mods)
t3=$(date +%s%N)

python3 - "$json" "$W/cold.json" "$W/warm.json" "$W/lock.json" \
  "$(( (t1 - t0) / 1000000 ))" "$(( (t3 - t2) / 1000000 ))" <<'PY'
import json, sys
as_json = sys.argv[1] == "1"
med = lambda f: {x["command"]: x["median"] for x in json.load(open(f))["results"]}
cpu = lambda f: {x["command"]: round(x["user"] + x["system"], 1) for x in json.load(open(f))["results"]}
cold, warm = med(sys.argv[2]), med(sys.argv[3])
lock = json.load(open(sys.argv[4]))
rf_ms, dl_ms = int(sys.argv[5]), int(sys.argv[6])
pick = lambda d, p: next(v for k, v in d.items() if k.startswith(p))
total_ms = round(pick(cold, "envcache") * 1000)
row = {"spec": lock["targets"][0]["spec"], "modules": len(lock["packages"]),
       "cold": cold, "warm": warm, "cold_cpu_s": cpu(sys.argv[2]),
       "ratio_cold_go_over_envcache": round(pick(cold, "go install") / pick(cold, "envcache"), 2),
       "ratio_warm_go_over_envcache_mount_hook":
           round(pick(warm, "go install") / pick(warm, "envcache-mount"), 1),
       "ratio_warm_go_over_envcache_mount":
           round(pick(warm, "go install") / pick(warm, "envcache mount"), 1),
       "envcache_cold_breakdown_ms": {"total": total_ms, "resolve_fetch_verify": rf_ms,
                                      "probe_build_pack": total_ms - rf_ms},
       "go_mod_download_alone_ms": dl_ms}
if as_json:
    print(json.dumps(row, indent=2))
else:
    print(f"\n{row['spec']} ({row['modules']} modules in the lock)")
    for kind in ("cold", "warm"):
        for cmd, m in row[kind].items():
            print(f"  {kind:4}  {cmd:42} {m*1000:10.1f} ms")
    for cmd, c in row["cold_cpu_s"].items():
        print(f"  cold  {cmd:42} {c:10.1f} s CPU (user + system, the command and its children)")
    b = row["envcache_cold_breakdown_ms"]
    print(f"  cold: go/envcache = {row['ratio_cold_go_over_envcache']}x   warm: "
          f"go/envcache-mount = {row['ratio_warm_go_over_envcache_mount_hook']}x "
          f"(go/envcache mount = {row['ratio_warm_go_over_envcache_mount']}x)")
    print(f"  envcache cold: {b['total']} ms = resolve, fetch, verify {b['resolve_fetch_verify']} ms"
          f" + probe, build in the sandbox, pack {b['probe_build_pack']} ms;"
          f" go mod download of the same modules alone: {row['go_mod_download_alone_ms']} ms")
PY
