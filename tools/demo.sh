#!/bin/sh
# The main job, end to end on the embedded default store (LMDB + a local directory):
# register an example environment, warm it (resolve, fetch and build its npm layer from
# the host's configured npm registry), run what it installed in containers whose root is
# a session of it (`envcache run`, runc), show that a session's writes stay private, mount
# it at a path, warm again (nothing to do), and verify the store.
set -eu
cd "$(dirname "$0")/.."
bin=${ENVCACHE_BIN:-./build/tools/envcache}
home=${ENVCACHE_HOME:-/var/lib/envcache}
export ENVCACHE_HOME="$home"
work=$(mktemp -d /tmp/envcache-demo.XXXXXX)
trap '$bin umount --session demo-$$ >/dev/null 2>&1 || true
  $bin umount --session demo-mnt-$$ >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
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

say "run: commands in containers whose root is a new session of the environment"
# The first run in a store without a default base makes one (Debian with the common
# runtimes, a few minutes, once); the warm-up below it then puts it under the layers.
$bin run example-data-tools -- tsc --version
$bin run example-data-tools -- node -e \
  "console.log('express', require('/usr/local/lib/node_modules/express/package.json').version, 'in a container')"
$bin run example-data-tools -- sh -c 'echo "PID $$ of its own namespace; hostname $(hostname)"; ls /proc/1 >/dev/null && echo "/proc is the container'"'"'s"'
$bin run --keep --session "demo-$$" example-data-tools -- \
  sh -c 'echo scratch > /usr/local/lib/node_modules/written-in-session.txt'
$bin session ls
$bin umount --session "demo-$$"
$bin run example-data-tools -- sh -c 'test ! -e /usr/local/lib/node_modules/written-in-session.txt' &&
  echo "the session's write is gone with its upper directory; the cache never saw it"

say "mount: the same stack at a path of your choosing, for a runtime you start yourself"
$bin mount example-data-tools --session "demo-mnt-$$" "$work/root"
"$work/root/usr/local/bin/tsc" --version
$bin umount --session "demo-mnt-$$"

say "warm again: the lock and the layer are reused, no request goes upstream"
$bin --json warm example-data-tools | tail -n 1

say "verify"
$bin verify
say "layers in $home"
$bin layer ls
say "done: environment example-data-tools is warm in $home; try: envcache run example-data-tools -- sh"
