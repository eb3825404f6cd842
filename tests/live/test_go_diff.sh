#!/bin/bash
# Live differential: for each spec, the go fetcher's resolution (build/tests/go-resolve,
# the lock) against what the real `go install PKG@QUERY` builds at the same moment. go's
# side is the build info it embeds in the binary — the text `go version -m` prints —
# taken from `go install -n` (the link step's modinfo, the same bytes, without compiling).
# Every module and version go puts in the binary must be the lock's selection with the
# lock's h1 (the lock also lists modules that provide no package: go builds with them
# but does not name them), and the main module must be the one the lock found.
# The cases: a plain @latest, a pinned gopls, staticcheck, a program with +incompatible
# dependencies, and a query that must skip retracted versions.
. "$(dirname "$0")/lib_go.sh"
RESOLVE=${GO_RESOLVE:-$(dirname "$ENVCACHE_BIN")/../tests/go-resolve}
[ -x "$RESOLVE" ] || { bad "no go-resolve driver at $RESOLVE (build the tests)"; finish; exit 1; }
specs=(
  golang.org/x/tools/cmd/goimports@latest
  golang.org/x/tools/gopls@v0.18.1
  honnef.co/go/tools/cmd/staticcheck@latest
  github.com/google/go-containerregistry/cmd/crane@v0.20.2
  'github.com/swaggo/swag/cmd/swag@<v1.16.1'
)
gover=$(go env GOVERSION)
# go_info SPEC OUT: go's build info for SPEC as "kind path version h1" lines.
go_info() {
  env GOMODCACHE="$T/mod" GOCACHE="$T/gocache" GOBIN="$T/bin" GOPROXY="$GOPROXY_HOST" \
    GOSUMDB="$GOSUMDB_KEY" go install -n "$1" >"$T/n.out" 2>&1 || return 1
  python3 - "$T/n.out" >"$2" <<'EOF'
import codecs, re, sys
m = re.search(r'^modinfo "(.*)"$', open(sys.argv[1], encoding="latin-1").read(), re.M)
info = codecs.escape_decode(m.group(1).encode("latin-1"))[0][16:-16].decode()
for line in info.splitlines():
    f = line.split("\t")
    if f[0] in ("mod", "dep"):
        print(f[0], f[1], f[2], f[3] if len(f) > 3 else "")
EOF
}
# compare LOCK INFO: prints every difference; fails when there is one.
compare() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
lock = json.load(open(sys.argv[1]))
t = lock["targets"][0]
h1 = {(p["name"], p["version"]): p.get("h1") for p in lock["packages"]}
bad = []
for line in open(sys.argv[2]):
    kind, path, ver, h = (line.split() + [""])[:4]
    if kind == "mod" and (path, ver) != (t["module"], t["version"]):
        bad.append(f"main module: go {path} {ver}, lock {t['module']} {t['version']}")
    if t["build_list"].get(path) != ver:
        bad.append(f"{path}: go {ver}, lock {t['build_list'].get(path)}")
    elif h and h1.get((path, ver)) != h:
        bad.append(f"{path}@{ver}: go's h1 {h}, lock's {h1.get((path, ver))}")
for b in bad:
    print("   ", b)
sys.exit(1 if bad else 0)
EOF
}
for spec in "${specs[@]}"; do
  if ! retry 3 go_info "$spec" "$T/go.list"; then bad "$spec: go install -n failed: $(tail -n 3 "$T/n.out")"; continue; fi
  if ! retry 3 bash -c '"$1" --store "$2/store" --proxy "$3" --gosumdb "$4" --probe "$5" "$6" \
         >"$2/lock.json" 2>"$2/resolve.err"' _ "$RESOLVE" "$T" "$GOPROXY_HOST" "$GOSUMDB_KEY" "$gover" "$spec"; then
    bad "$spec: go-resolve failed: $(cat "$T/resolve.err")"; continue
  fi
  n=$(grep -c '^mod ' "$T/go.list")
  [ "$n" = 1 ] || { bad "$spec: no main module in go's build info"; continue; }
  n=$(grep -c . "$T/go.list")
  case $spec in *crane*) check "$spec: go builds with +incompatible modules" grep -q '+incompatible ' "$T/go.list";; esac
  check "$spec: go's $n modules are the lock's ($(json_get targets.0.module < "$T/lock.json")@$(json_get targets.0.version < "$T/lock.json"))" compare "$T/lock.json" "$T/go.list"
done
chmod -R u+w "$T/mod" 2>/dev/null
finish
