#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install dependencies, build the release binary,
# generate a sample city (two cities, seven districts, about two months of reports, sensor
# readings, video detections and case events, with some bad records), replay it through every
# operator and print the KPI summary and the monthly district scorecards.
#   deploy/demo.sh [--partitions N] [--seed S] [--scale X]
set -euo pipefail
cd "$(dirname "$0")/.."

partitions=4 seed=7 scale=1
while (($#)); do
  case "$1" in
    --partitions) partitions=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "demo: unknown option $1" >&2; exit 2 ;;
  esac
done

bash deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
out=build/demo
rm -rf "$out"
python3 tests/reference/gen_sample.py --out "$out/input" --partitions "$partitions" --seed "$seed" --scale "$scale"
./build/release/gridstream replay --input "$out/input" --output "$out/output"
echo
echo "Outputs as JSON lines: ./build/release/gridstream dump $out/output/gridstream.kpi.rec | head"
