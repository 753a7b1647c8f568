#!/usr/bin/env bash
# Replay throughput against a protobuf-c decode-only loop over the same records, in one run, and
# bench/RESULTS.md rewritten with the result and the machine it ran on.
#   bench/run.sh [--scale X] [--partitions N] [--runs R] [--no-write]
set -euo pipefail
cd "$(dirname "$0")/.."
scale=20 partitions=4 runs=5 write=1
while (($#)); do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
bash deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
in=build/bench/input
rm -rf "$in"
python3 tests/reference/gen_sample.py --out "$in" --partitions "$partitions" --seed 42 --scale "$scale"
text=$(./build/release/gridstream bench replay --input "$in" --runs "$runs")
json=$(./build/release/gridstream bench replay --input "$in" --runs "$runs" --json)
echo "$text"
((write)) || exit 0

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ratio=$(python3 -c 'import json,sys; print("%.3f" % json.loads(sys.argv[1])["ratio"])' "$json")
cat >bench/RESULTS.md <<EOT
# Benchmark results

Written by \`bench/run.sh\`; numbers are from one machine, measured in one run, and the ratio
against the reference measured beside it is the figure to compare across machines.

- machine: $(nproc) cores, ${cpu}, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)
- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- operators engine bench || echo ' (with uncommitted changes)')
- date: $(date -u +%Y-%m-%d)
- build: release preset (RelWithDebInfo, -O2, jemalloc)
- input: \`gen_sample.py --partitions $partitions --seed 42 --scale $scale\`

## replay vs. decode-only (1 thread)

\`\`\`
$text
\`\`\`

| mode | gridstream | reference | ratio | target |
|---|---|---|---|---|
| replay (all operators, outputs packed, not written) | $(python3 -c 'import json,sys; print("%.0f rec/s" % json.loads(sys.argv[1])["replay_records_per_s"])' "$json") | protobuf-c decode only: $(python3 -c 'import json,sys; print("%.0f rec/s" % json.loads(sys.argv[1])["decode_only_records_per_s"])' "$json") | $ratio | ≥ 0.33 |

Raw: \`$json\`
EOT
echo "bench: wrote bench/RESULTS.md"
