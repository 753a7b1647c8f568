#!/usr/bin/env bash
# The capacity-planning benchmark: builds the release preset and runs `gridstream bench report`,
# which measures every mode against its reference in one run and writes bench/RESULTS.md,
# bench/results.json, bench/threads.svg and bench/latency.svg, then prints the capacity plans.
#   bench/run.sh [--quick]        (--quick: tiny inputs, a minute at most; figures not meaningful)
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
while (($#)); do
  case "$1" in
    --quick) args+=(--quick); shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
bash deploy/install-deps.sh --bench
cmake --preset release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- operators engine bench/'*.c' bench/'*.h' 2>/dev/null || rev="$rev (with uncommitted changes)"
./build/release/gridstream bench report --out bench --commit "$rev" "${args[@]}"
