#!/bin/sh
# The main job, end to end on the embedded default store (LMDB + a local directory):
# register an example environment, build a layer, mount it for a session, show that the
# session's writes stay private, unmount, and verify the store.
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
if ! $bin env get example-data-tools >/dev/null 2>&1; then
  $bin env create -f tools/examples/example-env.json >/dev/null
fi
$bin env get example-data-tools | head -n 20
env_id=$($bin env get example-data-tools | sed -n 's/^  "id": "\(env_[^"]*\)".*/\1/p')

# The package fetchers (npm, apt, …) land with their own issues; until then the demo
# packs a small prepared tree the way a fetcher would hand over its staging root.
say "layer: packing an example tree (deterministic tar + zstd)"
mkdir -p "$work/tree/usr/local/bin" "$work/tree/usr/local/share/example"
printf '#!/bin/sh\necho "hello from an envcache layer"\n' > "$work/tree/usr/local/bin/hello"
chmod 755 "$work/tree/usr/local/bin/hello"
echo "example data" > "$work/tree/usr/local/share/example/data.txt"
ln -s ../share/example/data.txt "$work/tree/usr/local/bin/data-link"
$bin layer import --json "$work/tree"
digest=$($bin layer import "$work/tree")

say "mount: session demo-$$ at $work/root"
$bin mount --layers "$digest" --session "demo-$$" "$work/root"
"$work/root/usr/local/bin/hello"
echo "scratch" > "$work/root/usr/local/share/example/written-in-session.txt"
ls -l "$work/root/usr/local/bin" "$work/root/usr/local/share/example"
$bin session ls
$bin umount --session "demo-$$"
test ! -e "$work/root/usr/local/share/example/written-in-session.txt"

say "verify"
$bin verify
say "layers in $home"
$bin layer ls
say "done: environment $env_id is registered and the layer $digest is cached in $home"
