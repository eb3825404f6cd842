#!/bin/sh
# The main job, end to end on the embedded default store (LMDB + a local directory):
# register an example environment, warm it (resolve, fetch and build its npm layer from
# the host's configured npm registry), mount it for a session, run what it installed,
# show that the session's writes stay private, unmount, warm again (nothing to do), and
# verify the store.
set -eu
cd "$(dirname "$0")/.."
bin=${ENVCACHE_BIN:-./build/tools/envcache}
home=${ENVCACHE_HOME:-/var/lib/envcache}
export ENVCACHE_HOME="$home"
work=$(mktemp -d /tmp/envcache-demo.XXXXXX)
trap '$bin umount --session demo-$$ >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
say() { printf '\n== %s\n' "$*"; }

say "store: $home"
say "environment from tools/examples/example-env.json"
if $bin env get example-data-tools >/dev/null 2>&1; then
  # an older run's copy: bring it to the example's current packages
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["config"]
p={m: [] for m in ("apt","cargo","gem","go","npm","pip")}; p.update(c["packages"]); c["packages"]=p
print(json.dumps({"config": c}))' \
    tools/examples/example-env.json | $bin env update example-data-tools -f - >/dev/null
else
  $bin env create -f tools/examples/example-env.json >/dev/null
fi
$bin env get example-data-tools | head -n 20

say "warm: resolve, fetch and build the environment's layers"
$bin warm example-data-tools
$bin env lock example-data-tools npm | head -c 300; echo " …"

say "mount: session demo-$$ at $work/root (one overlayfs mount)"
$bin mount example-data-tools --session "demo-$$" "$work/root"
"$work/root/usr/local/bin/tsc" --version
NODE_PATH="$work/root/usr/local/lib/node_modules" \
  node -e "console.log('express', require('express/package.json').version, 'loads from the mount')"
echo "scratch" > "$work/root/usr/local/lib/node_modules/written-in-session.txt"
$bin session ls
$bin umount --session "demo-$$"
test ! -e "$work/root/usr/local/lib/node_modules/written-in-session.txt"
echo "the session's write is gone with its upper directory; the cache never saw it"

say "warm again: the lock and the layer are reused, no request goes upstream"
$bin --json warm example-data-tools | tail -n 1

say "verify"
$bin verify
say "layers in $home"
$bin layer ls
say "done: environment example-data-tools is warm in $home; mount it with: envcache mount example-data-tools TARGET"
