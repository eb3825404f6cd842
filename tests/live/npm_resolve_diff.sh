#!/bin/bash
# Live differential test of the npm resolver: for each spec, the tree our
# resolver builds must equal what `npm install -g --prefix P --ignore-scripts`
# lays out at the same moment (path, package name, version of every non-bundled
# node, from P/lib/node_modules/.package-lock.json). Needs node, npm and the
# registry configured in npm (`npm config get registry`). Skips (77) unless
# EC_LIVE=1; run with: EC_LIVE=1 NPM_RESOLVE=build/tests/npm-resolve bash tests/live/npm_resolve_diff.sh
set -u
[ "${EC_LIVE:-0}" = 1 ] || { echo "skipped: set EC_LIVE=1"; exit 77; }
command -v npm >/dev/null || { echo "skipped: no npm"; exit 77; }
: "${NPM_RESOLVE:?path to the npm-resolve driver}"
REG=$(npm config get registry)
TMP=${EC_TEST_TMP:-/tmp}/npm-diff.$$
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
SPECS=${NPM_DIFF_SPECS:-"express@4.18.0 typescript eslint@8 @babel/core webpack react-dom @testing-library/react esbuild"}
pass=0 failed=0

npm_tree() { # $1 spec, $2 prefix -> "path<TAB>name<TAB>version" lines
  for try in 1 2 3; do
    rm -rf "$2"
    if npm install -g --prefix "$2" --ignore-scripts --no-audit --no-fund --loglevel=error "$1" >"$TMP/npm.log" 2>&1; then
      # the global prefix has no hidden lockfile: read the tree as npm sees it on disk
      NODE_PATH="$(npm root -g)/npm/node_modules" node -e '
        const Arborist = require("@npmcli/arborist");
        new Arborist({ path: process.argv[1] }).loadActual().then(tree => {
          for (const n of tree.inventory.values()) {
            if (n.isRoot || n.inBundle || n.isLink) continue;
            console.log(`${n.location}\t${n.packageName}\t${n.version}`);
          }
        });' "$2/lib" | LC_ALL=C sort
      return 0
    fi
    sleep $((try * 2))
  done
  cat "$TMP/npm.log" >&2
  return 1
}

for spec in $SPECS; do
  safe=$(echo "$spec" | tr '/@' '__')
  if ! npm_tree "$spec" "$TMP/p-$safe" >"$TMP/npm-$safe.txt"; then
    echo "FAIL $spec: npm install failed"; failed=$((failed + 1)); continue
  fi
  ok=0
  for try in 1 2 3; do
    if "$NPM_RESOLVE" --registry "$REG" --node "$(node --version)" --npm "$(npm --version)" \
        --cache "$TMP/cache" "$spec" 2>"$TMP/ours-$safe.err" | LC_ALL=C sort >"$TMP/ours-$safe.txt" \
        && [ "${PIPESTATUS[0]}" = 0 ]; then ok=1; break; fi
    sleep $((try * 2))
  done
  if [ $ok = 0 ]; then
    echo "FAIL $spec: resolver failed: $(cat "$TMP/ours-$safe.err")"; failed=$((failed + 1)); continue
  fi
  if diff -u "$TMP/npm-$safe.txt" "$TMP/ours-$safe.txt" >"$TMP/diff-$safe.txt"; then
    echo "ok   $spec ($(wc -l <"$TMP/npm-$safe.txt") packages)"; pass=$((pass + 1))
  else
    echo "FAIL $spec: npm (-) and ours (+) differ:"; cat "$TMP/diff-$safe.txt"; failed=$((failed + 1))
  fi
done
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
