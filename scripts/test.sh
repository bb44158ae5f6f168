#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite:
#   1. the parser and malformed-input tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#   2. every test with ctest on the Release build (its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true  # one cache for every clone
ASAN_DIR=${R1_ASAN_DIR:-build-asan}
if [[ ! -f "$ASAN_DIR/build.ninja" ]]; then
  cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DR1_SANITIZE=ON -DR1_CUDA=OFF \
    -DR1_EXAMPLES=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
cmake --build "$ASAN_DIR" -j "$(nproc)" --target r1_tests
echo "test: parser and malformed-input tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$ASAN_DIR/r1_tests" -ts=parsers

echo "test: full suite"
ctest --test-dir "${R1_BUILD_DIR:-build}" --output-on-failure -j 1
