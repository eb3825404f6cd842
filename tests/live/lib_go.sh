# Helpers of the live go tests: the host's go settings, a base that carries the host's
# own Go toolchain, retries, and build info listings.
. "$(dirname "$0")/../integration/lib.sh"
command -v go >/dev/null || { echo "go is not installed: tools/install-deps.sh installs it"; exit 77; }
GOPROXY_HOST=$(go env GOPROXY)
case $GOPROXY_HOST in http*) ;; *) echo "skip: the host's GOPROXY ($GOPROXY_HOST) names no proxy"; exit 77;; esac
# The checksum database as the host's go knows it: its name, and its key from the host's
# go (a built-in of go's own source tree) when GOSUMDB names no key.
GOSUMDB_HOST=$(go env GOSUMDB)
case $GOSUMDB_HOST in
  *+*|off) GOSUMDB_KEY=$GOSUMDB_HOST ;;
  *) GOSUMDB_KEY=$(grep -ho "\"$GOSUMDB_HOST+[0-9a-f]\{8\}+[A-Za-z0-9+/=]*\"" \
       "$(go env GOROOT)/src/cmd/go/internal/modfetch/"*.go | head -n 1 | tr -d '"') ;;
esac
# auto, as go 1.21+ has it: a module that needs a newer go than the host's makes the
# host's go fetch that toolchain through the proxy, as the build in the sandbox does
# through the mirror (Debian 12's backported go is older than today's modules need).
export GOTOOLCHAIN=auto GOFLAGS=-mod=mod
# retry N CMD…: transient proxy errors (resets, 5xx) get a few more tries.
retry() {
  local n=$1 i; shift
  for i in $(seq "$n"); do "$@" && return 0; sleep $((i * 2)); done
  return 1
}
# go_base DIR: a root made of the host's programs plus the host's Go toolchain in
# /usr/local/go (go on the PATH at /usr/local/bin/go); prints the imported base's digest.
go_base() {
  local r=$1
  bash "$EC_SOURCE_DIR/tests/integration/mkroot.sh" "$r" >/dev/null
  mkdir -p "$r/usr/local/bin" "$r/etc/ssl"
  # -L: Debian's GOROOT links src/ and others into /usr/share/go-1.X
  cp -aL "$(go env GOROOT)" "$r/usr/local/go"
  ln -sfn ../go/bin/go "$r/usr/local/bin/go"
  ec base import "$r"
}
# build_list BINARY: "module version" of the main module and every dependency that
# `go version -m` prints, sorted.
build_list() {
  go version -m "$1" | awk '$1 == "mod" || $1 == "dep" {print $2, $3}' | sort
}
export -f build_list
