# Helpers of the live npm tests: the host's npm registry, retries, tree listings.
. "$(dirname "$0")/../integration/lib.sh"
command -v npm >/dev/null || { echo "npm is not installed: cannot compare with it"; exit 77; }
REGISTRY=$(npm config get registry)
# retry N CMD…: transient registry errors (resets, 5xx) get a few more tries.
retry() {
  local n=$1 i; shift
  for i in $(seq "$n"); do "$@" && return 0; sleep $((i * 2)); done
  return 1
}
# Lists "install-path name version" for every package under DIR/lib/node_modules, the
# same way for npm's tree and ours: paths are relative to lib/.
list_tree() {
  node -e '
const fs = require("fs"), path = require("path");
const root = process.argv[1], out = [];
function walk(nm) {
  let ents; try { ents = fs.readdirSync(nm); } catch { return; }
  for (const e of ents) {
    if (e.startsWith(".")) continue;
    const dirs = e.startsWith("@") ? fs.readdirSync(path.join(nm, e)).map(s => e + "/" + s) : [e];
    for (const d of dirs) {
      const p = path.join(nm, d);
      try {
        const pj = JSON.parse(fs.readFileSync(path.join(p, "package.json"), "utf8"));
        out.push(path.relative(root, p) + " " + pj.name + " " + pj.version);
      } catch { continue; }
      walk(path.join(p, "node_modules"));
    }
  }
}
walk(path.join(root, "node_modules"));
console.log(out.sort().join("\n"));' "$1/lib"
}
