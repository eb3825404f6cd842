#!/bin/bash
# Live differential against go itself: the programs envcache builds and the ones
# `GOBIN=R go install PKG@VERSION` builds at the same moment carry the same modules. For
# each spec, the list `go version -m` prints of our binary (the main module and every
# dependency: module, version, go.sum hash) must equal the list of go's; every difference
# is printed in full.
# Ours: one environment holding all the specs, as a user would write it, warmed on a base
# carrying the host's Go (one build step in the sandbox, through the mirror), then
# mounted. go's: one `go install` per spec right after, with one GOMODCACHE and GOCACHE
# shared by all of them (so what the programs share is compiled once on that side too).
# The cases: goimports@latest, a pinned gopls (one the host's go can compile: older
# x/tools no longer builds with newer go), staticcheck@latest, crane (+incompatible
# dependencies), and s2c@<v1.18.2, whose highest match v1.18.1 the module's latest go.mod
# retracts. Takes about 8 minutes on 2 shared cores (both sides compile gopls cold).
. "$(dirname "$0")/lib_go.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
need_sandbox
specs=(
  golang.org/x/tools/cmd/goimports@latest
  golang.org/x/tools/gopls@v0.23.0
  honnef.co/go/tools/cmd/staticcheck@latest
  github.com/google/go-containerregistry/cmd/crane@v0.20.2
  'github.com/klauspost/compress/s2/cmd/s2c@<v1.18.2'
)
base=$(go_base "$T/base") || { bad "a base with the host's go"; finish; exit 1; }
python3 -c 'import json,sys
print(json.dumps({"name": "godiff", "config": {"packages": {"go": sys.argv[1:]}}}))' "${specs[@]}" > "$T/env.json"
ec env create -f "$T/env.json" --base "$base" >/dev/null
t0=$(date +%s)
if retry 3 bash -c 'ec --json warm godiff > "$1/warm.json" 2>"$1/warm.err"' _ "$T"; then
  ok "warm: ${#specs[@]} go entries in one environment"; echo "  (envcache warm: $(( $(date +%s) - t0 )) s)"
else bad "warm: $(tail -n 8 "$T/warm.err"; tail -n 1 "$T/warm.json" | json_get error.message)"; finish; exit 1; fi
R=$T/root
ec mount godiff --session s1 "$R" >/dev/null
ec env lock godiff go > "$T/lock.json"

# full_list BINARY: "kind module version h1" of every mod and dep line of its build info.
full_list() {
  go version -m "$1" | awk '$1 == "mod" || $1 == "dep" {print $1, $2, $3, $4}' | sort
}
# binary_of SPEC: the program's name, from the lock's target for that spec.
binary_of() {
  python3 -c 'import json,sys
print(next(t["binary"] for t in json.load(open(sys.argv[1]))["targets"] if t["spec"] == sys.argv[2]))' \
    "$T/lock.json" "$1"
}
goinstall() {
  env GOBIN="$T/gobin" GOMODCACHE="$T/mod" GOCACHE="$T/gocache" GOPROXY="$GOPROXY_HOST" \
    GOSUMDB="$GOSUMDB_KEY" go install "$1" >"$T/goinstall.log" 2>&1
}
t0=$(date +%s)
for spec in "${specs[@]}"; do
  name=$(binary_of "$spec") || { bad "$spec: no target in the lock"; continue; }
  if ! retry 3 goinstall "$spec"; then bad "$spec: go install failed: $(tail -n 3 "$T/goinstall.log")"; continue; fi
  full_list "$T/gobin/$name" > "$T/go.$name"
  full_list "$R/usr/local/bin/$name" > "$T/ours.$name"
  n=$(grep -c . "$T/go.$name")
  main=$(awk '$1 == "mod" {print $2 "@" $3}' "$T/go.$name")
  if [ -n "$main" ] && diff -u --label "go install $spec" --label "envcache ($name)" \
       "$T/go.$name" "$T/ours.$name" > "$T/diff.$name"; then
    ok "$spec: the same $n modules as go's binary ($main)"
  else
    bad "$spec: our binary's modules differ from go's ($main):"; cat "$T/diff.$name"
  fi
  case $spec in
    *crane*) check "$spec: built with +incompatible modules" grep -q '+incompatible ' "$T/go.$name" ;;
    *s2c*)
      # The retraction mattered: the highest listed version below v1.18.2 is not the one built.
      top=$(curl -sf "${GOPROXY_HOST%%,*}/github.com/klauspost/compress/@v/list" | grep -v -- - | sort -V |
            awk '{split(substr($1,2),a,"."); if (a[1] < 1 || (a[1] == 1 && (a[2] < 18 || (a[2] == 18 && a[3] < 2)))) v=$1} END {print v}')
      check "$spec: the highest version below v1.18.2 ($top) is retracted and skipped by both ($main)" \
        test -n "$top" -a "$main" != "github.com/klauspost/compress@$top" ;;
  esac
done
echo "  (go's side, ${#specs[@]} go installs with shared caches: $(( $(date +%s) - t0 )) s)"
ec umount "$R" >/dev/null
chmod -R u+w "$T/mod" 2>/dev/null
finish
