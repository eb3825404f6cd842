#!/bin/sh
# The README's second command: build and run every test through ctest.
#   tools/run-tests.sh              unit + integration tests (the default build)
#   tools/run-tests.sh --sanitize   the same under AddressSanitizer + UBSan
#   tools/run-tests.sh --live       also the live tests (npm registry, Debian archive)
set -eu
cd "$(dirname "$0")/.."
./tools/install-deps.sh
dir=build labels="unit|integration" extra=""
for a in "$@"; do
  case "$a" in
    --sanitize) dir=build-asan extra="-DENVCACHE_SANITIZE=ON" ;;
    --live) labels="unit|integration|live" ;;
    *) echo "run-tests: unknown option $a" >&2; exit 2 ;;
  esac
done
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug $extra >/dev/null
cmake --build "$dir" -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$dir" -L "$labels" --output-on-failure -j2 --timeout 900
