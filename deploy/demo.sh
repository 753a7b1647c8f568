#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install dependencies, build the release binary,
# generate a synthetic city with `gridstream gen` (two cities, 200 grid cells, 35 days of reports,
# sensor readings, video detections and case events, 2 % of them bad records), replay it through
# every operator and print the monthly district scorecards and a summary.
#   deploy/demo.sh [--partitions N] [--seed S] [--cells C] [--days D]
set -euo pipefail
cd "$(dirname "$0")/.."

gen_args=()
partitions=4
while (($#)); do
  case "$1" in
    --partitions) partitions=$2; shift 2 ;;
    --seed|--cells|--days) gen_args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "demo: unknown option $1" >&2; exit 2 ;;
  esac
done

bash deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
out=build/demo
rm -rf "$out"
./build/release/gridstream gen --output "$out/input" --partitions "$partitions" "${gen_args[@]}"
./build/release/gridstream replay --input "$out/input" --output "$out/output"
echo
echo "Outputs as JSON lines: ./build/release/gridstream dump $out/output/gridstream.kpi.rec | head"
