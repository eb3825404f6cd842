#!/bin/bash
# Live differential test: the (install path, name, version) set of our npm layer equals
# what `npm install -g` lays out for the same specs at the same moment.
. "$(dirname "$0")/lib_npm.sh"
# The resolver follows npm 10 and later (npm-pick-manifest avoiding engine-incompatible
# versions); npm 9 still picks them, so comparing with it would compare two rules.
npm_major=$(npm --version | cut -d. -f1)
[ "$npm_major" -ge 10 ] || { echo "skip: npm $(npm --version) is older than the npm 10+ rules the resolver follows"; exit 77; }

SETS=(
  "express@4.18.0"
  "typescript"
  "eslint@8"
  "@babel/core"
  "webpack"
  "react-dom"
  "@testing-library/react"   # peer dependencies (react, react-dom, @testing-library/dom)
  "esbuild"                  # platform-specific optional dependencies
)
i=0
for spec in "${SETS[@]}"; do
  i=$((i + 1))
  P=$T/npm-$i R=$T/root-$i
  printf '{"name":"diff-%d","config":{"packages":{"npm":["%s"]}}}' "$i" "$spec" > "$T/env-$i.json"
  ec env create -f "$T/env-$i.json" >/dev/null
  if ! retry 3 ec --quiet warm "diff-$i" >"$T/warm-$i.log" 2>&1; then
    bad "$spec: envcache warm failed: $(tail -n 5 "$T/warm-$i.log")"; continue
  fi
  if ! retry 3 npm install -g --prefix "$P" --ignore-scripts --no-audit --no-fund \
      --cache "$T/npm-cache" "$spec" >"$T/npm-$i.log" 2>&1; then
    bad "$spec: npm install failed: $(tail -n 5 "$T/npm-$i.log")"; continue
  fi
  ec mount "diff-$i" --session "diff-$i" "$R" >/dev/null
  list_tree "$P" > "$T/want-$i"
  list_tree "$R/usr/local" > "$T/got-$i"
  ec umount "$R" >/dev/null
  if diff -u "$T/want-$i" "$T/got-$i" > "$T/diff-$i"; then
    ok "$spec: $(wc -l < "$T/want-$i") packages, same tree as npm"
  else
    bad "$spec: differs from npm (- npm, + envcache):"; cat "$T/diff-$i"
  fi
done
finish
