#!/bin/sh
# The README's first command: install what is needed, build, and run the main job on an
# example environment (tools/demo.sh) on the embedded default store.
set -eu
cd "$(dirname "$0")/.."
./tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec ./tools/demo.sh
