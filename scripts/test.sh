#!/usr/bin/env bash
# Installs dependencies, builds with ASan+UBSan and runs every test.
# Usage: scripts/test.sh   (as root on Debian 12; see README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD=${CONDUIT_BUILD_DIR:-build-test}
cmake -S . -B "$BUILD" -DCONDUIT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
# Warnings are errors with clang too: compile everything with it once.
if command -v clang >/dev/null; then
  CC=clang cmake -S . -B "$BUILD-clang" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD-clang" -j"$(nproc)" >/dev/null
  echo "test.sh: clang build clean"
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD"
ctest --output-on-failure -j"$(nproc)" --timeout 300 "$@"
