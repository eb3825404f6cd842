#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: npm packages, envcache against npm and pnpm, side by side in one run.
#
#   tools/bench/npm.sh [--runs N] [--set express|big|all] [--json] [--keep]
#
# For each package set (express; big = jest + typescript + eslint, 300+ packages):
#   cold  envcache warm ENV with an empty store
#         npm install -g --prefix P with an empty npm cache
#         pnpm install (the current major, native engine) with an empty store
#   warm  envcache-mount ENV TARGET (the container start-up hook) of the built environment
#         envcache mount ENV TARGET (the same through the main binary)
#         npm ci --offline from a lockfile with a warm npm cache
#         pnpm install --offline --frozen-lockfile with a warm store
# Every tool starts each cold run from nothing of its own (store, cache, prefix) and
# uses the host's configured npm registry. Scripts are off for all (--ignore-scripts).
# It prints medians (hyperfine) and the ratios pnpm/envcache; --json prints one object.
# pnpm is installed with npm into ~/.cache/envcache-bench/pnpm on first use.
# The binary is $ENVCACHE_BIN, else ./build/tools/envcache; mounts need root.
set -euo pipefail

runs=3 sets="express big" json=0 keep=0
usage() { sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bench/npm: $*" >&2; exit 1; }
say() { if [ "$json" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift ;;
    --set) case "${2:?}" in all) sets="express big" ;; express|big) sets=$2 ;;
             *) die "--set is express, big or all" ;; esac; shift ;;
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
for t in hyperfine npm node python3; do command -v $t >/dev/null || die "$t is needed"; done

tools=${XDG_CACHE_HOME:-$HOME/.cache}/envcache-bench
pnpm=$tools/pnpm/bin/pnpm
if [ ! -x "$pnpm" ]; then
  say "installing pnpm into $tools/pnpm"
  npm install -g --prefix "$tools/pnpm" --no-audit --no-fund pnpm@latest >/dev/null
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-npm.XXXXXX")
cleanup() {
  "$bin" --home "$W/warm-home" umount "$W/target" >/dev/null 2>&1 || true
  [ "$keep" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

specs_of() { case "$1" in express) echo "express" ;; big) echo "jest typescript eslint" ;; esac; }

project() { # DIR SPECS… : a package.json depending on the latest of each spec
  mkdir -p "$1"; local d=$1; shift
  node -e 'const d={}; for (const s of process.argv.slice(1)) d[s]="*";
    console.log(JSON.stringify({name:"bench",version:"1.0.0",private:true,dependencies:d}))' \
    "$@" > "$d/package.json"
}

env_json() { # NAME SPECS…
  local n=$1; shift
  node -e 'console.log(JSON.stringify({name:process.argv[1],config:{packages:{npm:process.argv.slice(2)}}}))' "$n" "$@"
}

results=()
for set in $sets; do
  read -r -a specs <<< "$(specs_of "$set")"
  S=$W/$set; mkdir -p "$S"
  env_json "bench-$set" "${specs[@]}" > "$S/env.json"
  # A lockfile each for the warm rows, resolved once now.
  project "$S/npm" "${specs[@]}"
  project "$S/pnpm" "${specs[@]}"
  (cd "$S/npm" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund >/dev/null)
  (cd "$S/pnpm" && "$pnpm" install --lockfile-only --ignore-scripts >/dev/null 2>&1)
  say "== $set: ${specs[*]}"

  hyperfine --runs "$runs" --export-json "$S/cold.json" --style basic \
    --prepare "rm -rf '$S/eh' && '$bin' --home '$S/eh' env create -f '$S/env.json' >/dev/null" \
    -n "envcache warm (empty store)" "'$bin' --home '$S/eh' --quiet warm bench-$set" \
    --prepare "rm -rf '$S/np' '$S/nc'" \
    -n "npm install -g (empty cache)" \
    "npm install -g --prefix '$S/np' --cache '$S/nc' --ignore-scripts --no-audit --no-fund ${specs[*]} >/dev/null" \
    --prepare "rm -rf '$S/pnpm/node_modules' '$S/ps' '$S/pc'" \
    -n "pnpm install (empty store)" \
    "cd '$S/pnpm' && '$pnpm' install --store-dir '$S/ps' --cache-dir '$S/pc' --ignore-scripts --reporter silent"

  # Warm state for each tool: envcache's built env, npm's cache, pnpm's store.
  "$bin" --home "$W/warm-home" env create -f "$S/env.json" >/dev/null
  "$bin" --home "$W/warm-home" --quiet warm "bench-$set" >/dev/null
  (cd "$S/npm" && npm ci --cache "$S/nc-warm" --ignore-scripts --no-audit --no-fund >/dev/null)
  (cd "$S/pnpm" && "$pnpm" install --store-dir "$S/ps-warm" --cache-dir "$S/pc-warm" --ignore-scripts --frozen-lockfile --reporter silent)

  hyperfine --runs "$((runs * 3))" --warmup 1 --export-json "$S/warm.json" --style basic \
    --prepare "'$bin' --home '$W/warm-home' umount '$W/target' >/dev/null 2>&1 || true" \
    -n "envcache-mount hook (built)" "'$hook' --home '$W/warm-home' bench-$set '$W/target' >/dev/null" \
    --prepare "'$bin' --home '$W/warm-home' umount '$W/target' >/dev/null 2>&1 || true" \
    -n "envcache mount (built)" "'$bin' --home '$W/warm-home' mount bench-$set '$W/target' >/dev/null" \
    --prepare "rm -rf '$S/npm/node_modules'" \
    -n "npm ci --offline (warm cache)" \
    "cd '$S/npm' && npm ci --offline --cache '$S/nc-warm' --ignore-scripts --no-audit --no-fund >/dev/null" \
    --prepare "rm -rf '$S/pnpm/node_modules'" \
    -n "pnpm install --offline (warm store)" \
    "cd '$S/pnpm' && '$pnpm' install --offline --frozen-lockfile --store-dir '$S/ps-warm' --cache-dir '$S/pc-warm' --ignore-scripts --reporter silent"
  pkgs=$(node -e 'const l=require(process.argv[1]); console.log(Object.keys(l.packages).filter(k=>k).length)' "$S/npm/package-lock.json")
  results+=("$set:$pkgs:$S/cold.json:$S/warm.json")
done

python3 - "$json" "${results[@]}" <<'PY'
import json, sys
as_json, out = sys.argv[1] == "1", {}
for r in sys.argv[2:]:
    name, pkgs, cold, warm = r.split(":")
    row = {"packages_approx": int(pkgs)}
    for kind, f in (("cold", cold), ("warm", warm)):
        res = {x["command"]: x["median"] for x in json.load(open(f))["results"]}
        row[kind] = res
    c, w = row["cold"], row["warm"]
    ec_c = next(v for k, v in c.items() if k.startswith("envcache"))
    ec_w = next(v for k, v in w.items() if k.startswith("envcache-mount"))
    ec_wm = next(v for k, v in w.items() if k.startswith("envcache mount"))
    pn_c = next(v for k, v in c.items() if k.startswith("pnpm"))
    pn_w = next(v for k, v in w.items() if k.startswith("pnpm"))
    row["ratio_cold_pnpm_over_envcache"] = round(pn_c / ec_c, 2)
    row["ratio_warm_pnpm_over_envcache"] = round(pn_w / ec_w, 1)
    row["ratio_warm_pnpm_over_envcache_cli"] = round(pn_w / ec_wm, 1)
    out[name] = row
if as_json:
    print(json.dumps(out, indent=2))
else:
    for name, row in out.items():
        print(f"\n{name} ({row['packages_approx']} packages in npm's lock)")
        for kind in ("cold", "warm"):
            for cmd, m in row[kind].items():
                print(f"  {kind:4}  {cmd:40} {m*1000:10.1f} ms")
        print(f"  cold: pnpm/envcache = {row['ratio_cold_pnpm_over_envcache']}x   "
              f"warm: pnpm/envcache-mount = {row['ratio_warm_pnpm_over_envcache']}x "
              f"(pnpm/envcache mount = {row['ratio_warm_pnpm_over_envcache_cli']}x)")
PY
