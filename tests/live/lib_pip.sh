# Helpers of the pip live tests: the index they use (as envcache finds it), and the pip wheel
# a lock was resolved with, to run the real client on the same interpreter.
pip_upstream() {
  if [ -n "${ENVCACHE_PIP_INDEX:-}" ]; then echo "$ENVCACHE_PIP_INDEX"; return; fi
  if [ -n "${PIP_INDEX_URL:-}" ]; then echo "$PIP_INDEX_URL"; return; fi
  python3 -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)' 2>/dev/null
}
# pip_wheel_into DIR LOCK_JSON: downloads the lock's resolver wheel into DIR; prints its name.
pip_wheel_into() {
  local w; w=$(printf '%s' "$2" | json_get resolver_wheel) || return 1
  local v=${w#pip-}; v=${v%%-*}
  python3 -m pip download -q --no-deps --index-url "$(pip_upstream)" -d "$1" "pip==$v" >&2 || return 1
  echo "$w"
}
# The (name, version) set of a lock, one "name==version" a line, sorted.
lock_set() { python3 -c 'import json,sys
for p in sorted(json.load(sys.stdin)["packages"], key=lambda p: p["name"]): print(p["name"]+"=="+p["version"])'; }
# The same of a pip report.
report_set() { python3 -c 'import json,re,sys
n=lambda s: re.sub(r"[-_.]+","-",s).lower()
for m in sorted((n(i["metadata"]["name"]), i["metadata"]["version"]) for i in json.load(open(sys.argv[1]))["install"]): print(m[0]+"=="+m[1])' "$1"; }
retry() { local n=$1 i; shift; for i in $(seq "$n"); do "$@" && return 0; sleep $((i * 3)); done; return 1; }
