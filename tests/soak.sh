#!/usr/bin/env bash
# The long fault-tolerance scenarios (tests/e2e/soak.sh, size "soak") on the optimised release
# build: 20 kill -9 on a bigger city, minutes of backpressure with peak RSS, a large stream with
# 10 % bad records. Prints each check as it goes and a summary with timings and peak RSS.
# The CI size of the same scenarios runs in ctest (e2e.soak, asan build).
#   tests/soak.sh [SCENARIO...]          crash, backpressure, badinput (default: all three)
#   WORK=/tmp/dir SEED=n tests/soak.sh   scratch directory (default build/release/soak), seed
set -uo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null && cmake --build build/release -j2 --target gridstream >/dev/null ||
  { echo "soak: release build failed" >&2; exit 1; }
t0=$SECONDS
bash tests/e2e/soak.sh build/release/gridstream "${WORK:-$PWD/build/release/soak}" soak "$@"
rc=$?
echo "soak: $((SECONDS - t0)) s in all"
exit $rc
