#!/bin/sh
# Source checks that the compiler does not make: banned functions, and the dependency
# direction tools -> cache -> fetchers -> store (an include may only go downwards).
set -eu
cd "$(dirname "$0")/.."
fail=0
say() { echo "checksrc: $*" >&2; fail=1; }
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
done
[ "$fail" -eq 0 ] && echo "checksrc: ok"
exit $fail
