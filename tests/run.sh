#!/usr/bin/env bash
# The test suite, from a fresh Debian 12 machine: install dependencies, build with AddressSanitizer
# and UndefinedBehaviorSanitizer (-Werror), and run every test (unit: cmocka per module;
# integration: RocksDB state, replay against the independent Python reference, determinism, bad
# input files, the CLI; e2e: the embedded cluster, gen and tail with kcat and confluent-kafka;
# style; fuzz: the fuzz targets over their corpus and saved crashes), then the integration tests
# once more on the optimised release build, and a short libFuzzer run of every fuzz target.
#   tests/run.sh [ctest arguments...]      e.g. tests/run.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh --test
cmake --preset asan >/dev/null
cmake --build build/asan -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build/asan --output-on-failure -j"$(nproc)" "$@"

# The optimised build (pooled state blocks, jemalloc, -O2) must give the same results: the
# integration tests again, on the release preset.
if [[ $# -eq 0 ]]; then
  cmake --preset release >/dev/null
  cmake --build build/release -j"$(nproc)"
  ctest --test-dir build/release --output-on-failure -L integration
  # The fuzz targets under libFuzzer, 20 s each (ctest -L fuzz above only replays their corpus).
  bash tests/fuzz/run.sh
fi
