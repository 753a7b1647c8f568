#!/usr/bin/env bash
# Runs every fuzz target under libFuzzer for a fixed time: builds the fuzz preset (clang,
# -fsanitize=fuzzer,address,undefined), then fuzzes each target for SECONDS (default 20) over a
# scratch copy of its seed corpus and regressions, so the committed corpus does not change.
# A crash, a failed invariant, a leak, a timeout or an out-of-memory fails the run; the input
# that caused it is copied to tests/fuzz/regressions/<target>/, where the normal test suite
# (ctest -L fuzz) replays it on every run once it is committed.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-20}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(reports sensors video cases properties recfile)

cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

work=build/fuzz/run
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  rm -rf "$work/$t"
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/corpus/"
  cp tests/fuzz/regressions/"$t"/* "$work/$t/corpus/" 2>/dev/null || true
  # properties: the parser's limits are 8 KiB lines and 16 KiB logical lines; reach past them
  limits=(-max_len=4096)
  [[ $t == properties ]] && limits=(-max_len=20000 -len_control=0)
  echo "fuzz: $t for ${seconds}s"
  if ! build/fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" "${limits[@]}" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
      "$work/$t/corpus" >"$work/$t/log" 2>&1; then
    failed+=("$t")
    tail -n 40 "$work/$t/log" >&2
    mkdir -p tests/fuzz/regressions/"$t"
    for a in "$work/$t"/artifacts/*; do
      [[ -e $a ]] || continue
      cp "$a" tests/fuzz/regressions/"$t"/
      echo "fuzz: $t: saved tests/fuzz/regressions/$t/$(basename "$a")" >&2
    done
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$work/$t/log" | tr '\n' ' '
  echo
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}; fix the bug, then commit the saved input under" \
       "tests/fuzz/regressions/ as its regression test (ctest -L fuzz replays it)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each: no crash"
