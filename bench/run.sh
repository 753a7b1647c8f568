#!/usr/bin/env bash
# Replay throughput against a protobuf-c decode-only loop over the same records, in one run, and
# bench/RESULTS.md rewritten with the result and the machine it ran on.
#   bench/run.sh [--cells C] [--days D] [--partitions N] [--runs R] [--no-write]
set -euo pipefail
cd "$(dirname "$0")/.."
cells=200 days=35 partitions=4 runs=5 write=1
while (($#)); do
  case "$1" in
    --cells) cells=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
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
./build/release/gridstream gen --quiet --output "$in" --partitions "$partitions" --seed 42 --cells "$cells" --days "$days"
json=$(./build/release/gridstream bench replay --input "$in" --runs "$runs" --json)
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(v if isinstance(v,int) else ("%.3f" % v if v < 10 else "%.0f" % v))' "$json" "$1"; }
text="replay: $(field records) records in $(field partitions) partitions, best of $runs runs, 1 thread
  protobuf-c decode only (reference): $(field decode_only_records_per_s) records/s
  gridstream replay, all operators:   $(field replay_records_per_s) records/s
  ratio: $(field ratio) (target >= 0.33)
  heap allocations per 1M records (whole replay, jemalloc stats): $(field allocations_per_million_records) (target 0 in the steady state)"
echo "$text"
((write)) || exit 0

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ratio=$(field ratio)
cat >bench/RESULTS.md <<EOT
# Benchmark results

Written by \`bench/run.sh\`; numbers are from one machine, measured in one run, and the ratio
against the reference measured beside it is the figure to compare across machines.

- machine: $(nproc) cores, ${cpu}, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr)
- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- operators engine 'bench/*.c' 'bench/*.h' || echo ' (with uncommitted changes)')
- date: $(date -u +%Y-%m-%d)
- build: release preset (RelWithDebInfo, -O2, jemalloc)
- input: \`gridstream gen --partitions $partitions --seed 42 --cells $cells --days $days\`

## replay vs. decode-only (1 thread)

\`\`\`
$text
\`\`\`

| mode | gridstream | reference | ratio | target |
|---|---|---|---|---|
| replay (all operators, outputs packed, not written) | $(field replay_records_per_s) rec/s | protobuf-c decode only: $(field decode_only_records_per_s) rec/s | $ratio | ≥ 0.33 |
| heap allocations per 1M records, whole replay | $(field allocations_per_million_records) | — | — | 0 in the steady state |

What the figures mean and where the time goes: [bench/README.md](README.md).

Raw: \`$json\`
EOT
echo "bench: wrote bench/RESULTS.md"
