#!/usr/bin/env bash
# The test suite, from a fresh Debian 12 machine: install dependencies, build with AddressSanitizer
# and UndefinedBehaviorSanitizer (-Werror), and run every test (unit: cmocka per module;
# integration: replay against the independent Python reference, determinism, bad input files,
# the CLI).
#   tests/run.sh [ctest arguments...]      e.g. tests/run.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh --test
cmake --preset asan >/dev/null
cmake --build build/asan -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build/asan --output-on-failure -j"$(nproc)" "$@"
