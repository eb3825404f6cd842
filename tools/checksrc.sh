#!/bin/sh
# Source checks that the compiler does not make: banned functions, and the dependency
# direction tools -> cache -> fetchers -> store (an include may only go downwards).
set -eu
cd "$(dirname "$0")/.."
fail=0
say() { echo "checksrc: $*" >&2; fail=1; }
# cache/'s rooms, lowest first (cache/README.md): a room includes only its own headers and
# those of rooms before it. The top files (cache.h, cache_int.h, metrics, ids) sit just above
# mount/, whose flags cache.h shows.
rooms="mount net top sandbox env oci warm session api"
rank() { i=0; for r in $rooms; do [ "$r" = "$1" ] && { echo $i; return; }; i=$((i+1)); done; echo 99; }
room_of() { case "$1" in cache/*/*) r=${1#cache/}; echo "${r%%/*}" ;; *) echo top ;; esac; }
check_room() {
  mine=$(rank "$(room_of "$1")")
  for inc in $(grep -oE '#include "cache/[^"]+"' "$1" | sed 's/#include "//; s/"$//'); do
    theirs=$(rank "$(room_of "$inc")")
    [ "$theirs" -le "$mine" ] || say "$1 includes $inc, a room above its own (order: $rooms)"
  done
}
for f in $(git ls-files '*.c' '*.h'); do
  case "$f" in tests/*) continue ;; esac
  if grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|gets|alloca)\s*\(' "$f" | grep -v '^\s*/\*' >/dev/null; then
    grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|gets|alloca)\s*\(' "$f" | sed "s|^|checksrc: $f:|" >&2; fail=1
  fi
  if grep -nE '\bsystem\s*\(' "$f" >/dev/null; then say "$f calls system()"; fi
  layer=${f%%/*}
  case "$layer" in
    store) bad='"(fetchers|cache|tools)/' ;;
    fetchers) bad='"(cache|tools)/' ;;
    cache) bad='"tools/' ;;
    *) bad='^$' ;;
  esac
  if grep -nE "#include $bad" "$f" >/dev/null; then say "$f includes upwards: $(grep -nE "#include $bad" "$f" | head -1)"; fi
  [ "$layer" = cache ] && check_room "$f"
done
# No manager's name outside its folder and the table: cache/, tools/ and fetchers/' shared
# files ask the table (fetchers/manager.h) instead.
names=$(git ls-files -co --exclude-standard '*.c' '*.h' |
  grep -E '^(cache/|tools/|fetchers/[^/]+$|fetchers/http/)' | grep -v '^fetchers/managers\.c$')
perl tools/checknames.pl $names >&2 || fail=1
[ "$fail" -eq 0 ] && echo "checksrc: ok"
exit $fail
