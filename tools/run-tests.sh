#!/bin/sh
# The README's second command: build and run every test through ctest.
#   tools/run-tests.sh              unit, integration and live tests (the default build);
#                                   live tests use the npm registry and the Debian archive
#   tools/run-tests.sh --sanitize   the same under AddressSanitizer + UBSan
#   tools/run-tests.sh --offline    leave the live tests out
#   tools/run-tests.sh --release-build   only build the Release configuration: gcc's
#                                   optimiser warns (as errors) where -O0 cannot see
set -eu
cd "$(dirname "$0")/.."
./tools/install-deps.sh
dir=build labels="unit|integration|live" extra="" type=Debug run=1
for a in "$@"; do
  case "$a" in
    --release-build) dir=build-release type=Release run=0 ;;
    --sanitize) dir=build-asan extra="-DENVCACHE_SANITIZE=ON" ;;
    --live) labels="unit|integration|live" ;;
    --offline) labels="unit|integration" ;;
    *) echo "run-tests: unknown option $a" >&2; exit 2 ;;
  esac
done
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=$type $extra >/dev/null
cmake --build "$dir" -j"$(nproc)"
[ "$run" = 1 ] || exit 0
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$dir" -L "$labels" --output-on-failure -j2 --timeout 900
