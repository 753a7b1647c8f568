#!/usr/bin/env bash
# The CLI on bad input: every case must fail with the documented exit code and a message that
# names the problem (file and byte offset, key), never crash.
#   replay_errors.sh GRIDSTREAM_BINARY WORKDIR
set -uo pipefail
bin=$1 work=$2
ref=$(cd "$(dirname "$0")/../reference" && pwd)
rm -rf "$work" && mkdir -p "$work"
pass=0 fail=0

expect() { # name want_rc want_stderr_regex -- command...
  local name=$1 want=$2 re=$3
  shift 4
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [[ $rc -eq $want ]] && grep -Eq -- "$re" "$work/err"; then
    echo "ok   $name"; pass=$((pass + 1))
  else
    echo "FAIL $name: rc $rc (want $want), stderr:"; cat "$work/err"; fail=$((fail + 1))
  fi
}

python3 "$ref/gen_sample.py" --out "$work/in" --partitions 2 --seed 3 --scale 0.3 >/dev/null

# a truncated file: the error names the file and the byte offset of the broken record
cp -r "$work/in" "$work/trunc"
f=$work/trunc/city.reports/0.rec
size=$(stat -c %s "$f")
truncate -s $((size - 3)) "$f"
expect truncated_file 1 "city.reports/0.rec: record [0-9]+ at byte offset [0-9]+ is truncated" -- \
  "$bin" replay --input "$work/trunc" --output "$work/o1"

# a length field far beyond the end of the file
cp -r "$work/in" "$work/huge"
printf '\xff\xff\xff\xf0abc' >>"$work/huge/city.cases/1.rec"
expect huge_length 1 "city.cases/1.rec: record [0-9]+ at byte offset [0-9]+" -- \
  "$bin" replay --input "$work/huge" --output "$work/o2"

expect missing_input 1 "nope: not a directory" -- "$bin" replay --input "$work/nope" --output "$work/o3"
mkdir -p "$work/empty"
expect no_records 1 "no input records" -- "$bin" replay --input "$work/empty" --output "$work/o4"
mkdir -p "$work/odd/city.video" && touch "$work/odd/city.video/x.rec"
expect odd_file_name 1 "x.rec: unexpected file" -- "$bin" replay --input "$work/odd" --output "$work/o5"

expect unknown_key 2 "no.such.key: unknown configuration key" -- \
  "$bin" replay --input "$work/in" --output "$work/o6" --set no.such.key=1
expect bad_value 2 "dedup.ttl.ms: " -- \
  "$bin" replay --input "$work/in" --output "$work/o7" --set dedup.ttl.ms=abc
printf 'video.confidence.min = 0.7\n\ncorrelation.distance.m: fifty\n' >"$work/bad.properties"
expect bad_file_line 2 "bad.properties:3: correlation.distance.m" -- \
  "$bin" replay --input "$work/in" --output "$work/o8" --config "$work/bad.properties"
expect bad_env 2 "GRIDSTREAM_DEDUP_TTL_MS" -- \
  env GRIDSTREAM_DEDUP_TTL_MS=-5 "$bin" replay --input "$work/in" --output "$work/o9"
expect bad_kafka_key 2 "kafka.no.such.property: No such configuration property" -- \
  "$bin" replay --input "$work/in" --output "$work/o11" --set kafka.no.such.property=1
expect bad_application_id 2 "application.id: 'a b' must be" -- \
  "$bin" replay --input "$work/in" --output "$work/o12" --set "application.id=a b"
expect missing_args 2 "--input DIR and --output DIR are required" -- "$bin" replay --input "$work/in"
expect unknown_command 2 "unknown command 'frobnicate'" -- "$bin" frobnicate
expect unexpected_arg 2 "unexpected argument '--bogus'" -- \
  "$bin" replay --input "$work/in" --output "$work/o10" --bogus

# a good run with a properties file and an environment override: exit 0, summary printed
printf '# demo settings\nvideo.confidence.min = 0.7\n' >"$work/good.properties"
if GRIDSTREAM_DEDUP_TTL_MS=3600000 "$bin" replay --input "$work/in" --output "$work/ok" \
     --config "$work/good.properties" >"$work/out" 2>&1 && grep -q "replay: [0-9]* records" "$work/out"; then
  echo "ok   good_run"; pass=$((pass + 1))
else
  echo "FAIL good_run"; cat "$work/out"; fail=$((fail + 1))
fi
if "$bin" config check "$work/good.properties" --set dedup.ttl.ms=1000 >"$work/out" 2>&1 &&
   grep -q '^video.confidence.min=0.7' "$work/out" && grep -q '^dedup.ttl.ms=1000$' "$work/out"; then
  echo "ok   config_check"; pass=$((pass + 1))
else
  echo "FAIL config_check"; cat "$work/out"; fail=$((fail + 1))
fi

# dump: every output record as one JSON line, with the same keys as the file and NaN rates as null
if "$bin" dump "$work/ok/gridstream.kpi.rec" "$work/ok/gridstream.dlq.rec" >"$work/dump.jsonl" 2>"$work/err" &&
   python3 - "$work/dump.jsonl" "$work/ok" "$ref" <<'PY'
import json, math, sys
sys.path.insert(0, sys.argv[3])
import gsproto
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
kpi = list(gsproto.read_records(sys.argv[2] + "/gridstream.kpi.rec"))
dlq = list(gsproto.read_records(sys.argv[2] + "/gridstream.dlq.rec"))
assert len(lines) == len(kpi) + len(dlq), (len(lines), len(kpi), len(dlq))
nulls = 0
for line, (key, val) in zip(lines, kpi):
    assert line["key"] == key.decode(), (line["key"], key)
    rec = gsproto.pb.KpiRecord.FromString(val)
    assert line["value"]["incidents"] == rec.incidents and line["value"]["level"] == gsproto.pb.Level.Name(rec.level)
    if math.isnan(rec.timely_rate):
        assert line["value"]["timely_rate"] is None
        nulls += 1
    else:
        assert line["value"]["timely_rate"] == rec.timely_rate
assert nulls > 0, "sample has no unset rate"
for line, (key, val) in zip(lines[len(kpi):], dlq):
    assert line["key"] == key.decode() and line["value"] == {"bytes": len(val)}
PY
then echo "ok   dump"; pass=$((pass + 1)); else echo "FAIL dump"; cat "$work/err"; fail=$((fail + 1)); fi

echo "$pass passed, $fail failed"
((fail == 0))
