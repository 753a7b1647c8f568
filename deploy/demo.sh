#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install dependencies, build the release binary and
# run `gridstream demo`: the embedded Kafka-protocol cluster, a synthetic city produced to it (two
# cities, 200 grid cells, 45 days of reports, sensor readings, video detections and case events,
# 2 % of them bad records), the engine over it with a live view, then each month's scorecard.
#   deploy/demo.sh [--partitions N] [--seed S] [--cells C] [--days D]
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
while (($#)); do
  case "$1" in
    --partitions|--seed|--cells|--days) args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "demo: unknown option $1" >&2; exit 2 ;;
  esac
done

bash deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
exec ./build/release/gridstream demo --set state.dir="$PWD/build/demo-state" "${args[@]}"
