# Shared by the end-to-end scripts that run the engine against `gridstream replay`: source it after
# setting `bin` (the gridstream binary) and `work` (a scratch directory, emptied here).
#   ok NAME / bad NAME [FILE|TEXT]...   count a check; bad prints each file's last 30 lines
#   broker NAME [ARGS]                  start `gridstream broker --partitions $parts`, set $bs
#   stop_broker                         SIGTERM the last broker started
#   city CELLS DAYS SEED                gen a city into $work/in (5 kcat garbage records appended to
#                                       city.reports/1), its replay into $work/expected, $nrec
#   load NAME                           the city to the current broker: confluent-kafka, then kcat
#   compare NAME [read_outputs OPTS]    read the output topics, compare them with $work/expected
# Background processes appended to `pids` are killed on exit.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ref=$here/../reference
rm -rf "$work" && mkdir -p "$work"
pass=0 fail=0
pids=()
parts=${parts:-3}

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() {
  echo "FAIL $1"
  shift
  for d in "$@"; do if [[ -f $d ]]; then sed 's/^/     | /' "$d" | tail -30; else echo "     $d"; fi; done
  fail=$((fail + 1))
}
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

py=
for cand in /usr/bin/python3 python3; do
  if PYTHONPATH=/usr/lib/python3/dist-packages "$cand" -c 'import confluent_kafka' 2>/dev/null; then
    py=$cand; break
  fi
done
export PYTHONPATH=/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}
[[ -n $py ]] || { bad "python3 can import confluent_kafka" "install python3-confluent-kafka"; exit 1; }
command -v kcat >/dev/null || { bad "kcat is installed" "Debian package kcat"; exit 1; }

broker() {
  local name=$1
  shift
  "$bin" broker --partitions "$parts" "$@" >"$work/$name.broker.out" 2>"$work/$name.broker.err" &
  pids+=($!)
  bs=
  for _ in $(seq 100); do
    bs=$(sed -n 's/^bootstrap: //p' "$work/$name.broker.out")
    [[ -n $bs ]] && return 0
    sleep 0.1
  done
  bad "$name: broker started" "$work/$name.broker.err"
  return 1
}
stop_broker() { kill -TERM "${pids[-1]}" 2>/dev/null; wait "${pids[-1]}" 2>/dev/null; unset 'pids[-1]'; }

city() {
  "$bin" gen --output "$work/in" --partitions "$parts" --cells "$1" --days "$2" --seed "$3" --quiet ||
    { bad "gen"; exit 1; }
  # kcat's garbage: values that are not protobuf (decode), appended to city.reports partition 1,
  # also appended to the replay input so that the expected DLQ holds them
  for i in 1 2 3 4 5; do echo "k$i:garbage-$i"; done >"$work/garbage.txt"
  "$py" - "$work/garbage.txt" "$work/in/city.reports/1.rec" <<'PY'
import struct, sys
with open(sys.argv[2], "ab") as f:
    for line in open(sys.argv[1], "rb"):
        k, v = line.rstrip(b"\n").split(b":", 1)
        f.write(struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v)
PY
  "$bin" replay --input "$work/in" --output "$work/expected" --quiet >"$work/replay.out" 2>&1 ||
    { bad "replay" "$work/replay.out"; exit 1; }
  nrec=$("$py" - "$ref" "$work/in" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[1])
import gsproto
print(sum(len(gsproto.read_records(os.path.join(dp, f))) for dp, _, fs in os.walk(sys.argv[2]) for f in fs))
PY
)
  echo "     $nrec input records in $parts partitions"
  # the Python loader takes the files without the garbage lines (kcat produces those)
  cp -r "$work/in" "$work/in.nogarbage"
  "$py" - "$ref" "$work/in.nogarbage/city.reports/1.rec" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
import gsproto
recs = [r for r in gsproto.read_records(sys.argv[2]) if not r[1].startswith(b"garbage-")]
with open(sys.argv[2], "wb") as f:
    for k, v in recs:
        f.write(struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v)
PY
}

load() {
  "$py" "$here/load_inputs.py" --bootstrap "$bs" --input "$work/in.nogarbage" >"$work/$1.load.out" 2>&1 &&
    kcat -P -b "$bs" -t city.reports -p 1 -K: <"$work/garbage.txt" 2>"$work/$1.kcat.err"
}

compare() {
  local name=$1
  shift
  if "$py" "$here/read_outputs.py" --bootstrap "$bs" --output "$work/$name.actual" "$@" \
       >"$work/$name.read.out" 2>&1 &&
     "$py" "$ref/compare.py" --expected "$work/expected" --actual "$work/$name.actual" \
       >"$work/$name.cmp" 2>&1; then
    ok "$name: tables equal to replay ($(grep -c . "$work/$name.cmp") topics compared)"
  else
    bad "$name: tables equal to replay" "$work/$name.read.out" "$work/$name.cmp"
  fi
}
