# Shared helpers of the integration tests: a temporary store, the real binary, checks.
# Sourced by test_*.sh; each test prints "N passed, N failed" and exits non-zero on failure.
set -u
ENVCACHE_BIN=${ENVCACHE_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/tools/envcache}
base=${EC_TEST_TMP:-/tmp}
mkdir -p "$base"
T=$(mktemp -d "$base/it-XXXXXX")
export ENVCACHE_HOME="$T/home"
# Offline tests never bootstrap a default base from the archive on first need.
export ENVCACHE_AUTO_BASE=off
passed=0 failed=0
cleanup() {
  # Session networks a failed test left (namespaces, veths, host tables, gate and resolver
  # processes live outside its directory): torn down from their records first.
  for d in "$ENVCACHE_HOME"/net/*/; do
    [ -d "$d" ] && "$ENVCACHE_BIN" net teardown "$(basename "$d")" >/dev/null 2>&1
  done
  # Unmount anything a failed test left under its directory, innermost first.
  grep -o " $T[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup EXIT
ec() { "$ENVCACHE_BIN" "$@"; }
ok() { passed=$((passed + 1)); echo "ok - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { # check "description" command…
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
# expect_fail "description" "text the error must contain" command…
expect_fail() {
  local what=$1 text=$2; shift 2
  local out rc
  out=$("$@" 2>&1) && rc=0 || rc=$?
  if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -qF -- "$text"; then ok "$what"
  else bad "$what (rc=$rc, output: $out)"; fi
}
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d if not isinstance(d,(dict,list)) else json.dumps(d))' "$1"; }
# The prebuild sandbox (and unshare -m) need "/" to be a mount point: not so in a chroot.
root_is_mount() { awk '$5 == "/" {f = 1} END {exit !f}' /proc/self/mountinfo; }
need_sandbox() {
  root_is_mount || { echo "skip: / is not a mount point here (a chroot?): no namespaced sandbox"; exit 77; }
}
export ENVCACHE_BIN
export -f ec json_get
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
