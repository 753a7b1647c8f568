#!/usr/bin/env bash
# `gridstream run` end to end, on the embedded cluster, against `gridstream replay` over the same
# records. Inputs are produced by clients gridstream did not write (Python confluent-kafka for the
# generated city, kcat for garbage records) and outputs are read back with confluent-kafka
# (read_committed) and compared table for table with tests/reference/compare.py:
#   1. exactly_once, 2 stream threads: tables equal, DLQ equal (with kcat's garbage as `decode`),
#      every alert id exactly once;
#   2. at_least_once, 1 thread: tables equal;
#   3. kill -9 three times at different points, then a run to the end: tables equal (DLQ as a
#      table keyed by source coordinates, alerts by id; see read_outputs.py);
#   4. SIGTERM on a live run (no --until-end): drains, commits, exit 0;
#   5. bad clusters: unreachable brokers, a missing input topic, an internal topic with the wrong
#      partition count: a message naming the problem, exit 1, within seconds.
#   run.sh GRIDSTREAM_BINARY WORKDIR
set -uo pipefail
bin=$1 work=$2
parts=3
source "$(dirname "$0")/lib.sh"

city 40 40 11

common=(--quiet --set metrics.port=0 --set kafka.session.timeout.ms=6000 --set log.level=warn)
# --- 1. exactly once, two threads -------------------------------------------------------------------
if broker eos && load eos; then
  if timeout 300 "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" \
       --set state.dir="$work/eos.state" --set num.stream.threads=2 >"$work/eos.out" 2>"$work/eos.err"; then
    ok "eos: run --until-end with 2 threads exits 0"
  else
    bad "eos: run --until-end exits 0" "$work/eos.err"
  fi
  compare eos --alerts-once
  stop_broker
fi

# --- 2. at least once ------------------------------------------------------------------------------
if broker alos && load alos; then
  if timeout 300 "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" \
       --set state.dir="$work/alos.state" --set num.stream.threads=1 \
       --set processing.guarantee=at_least_once >"$work/alos.out" 2>"$work/alos.err"; then
    ok "alos: run --until-end exits 0"
  else
    bad "alos: run --until-end exits 0" "$work/alos.err"
  fi
  compare alos
  stop_broker
fi

# --- 3. kill -9, three times -----------------------------------------------------------------------
if broker crash && load crash; then
  # each kill lands a while after the run got its partitions (restore, processing, commits):
  # the delays count from the "assigned" line, so slow builds kill at comparable points
  i=0
  for delay in 0.5 2 4; do
    i=$((i + 1))
    "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" --set state.dir="$work/crash.state" \
      --set num.stream.threads=1 --set commit.interval.ms=50 --set log.level=info \
      >>"$work/crash.out" 2>"$work/crash.$i.err" &
    p=$!
    for _ in $(seq 600); do grep -q "event=assigned" "$work/crash.$i.err" && break; sleep 0.1; done
    sleep "$delay"
    kill -KILL $p 2>/dev/null
    wait $p 2>/dev/null
    cat "$work/crash.$i.err" >>"$work/crash.err"
    echo "--- killed ${delay}s after the assignment" >>"$work/crash.err"
  done
  # local state damaged between runs: the engine sets it aside and restores from the changelogs
  printf 'garbage' >"$work/crash.state/gridstream/CURRENT"
  if timeout 300 "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" \
       --set state.dir="$work/crash.state" --set num.stream.threads=1 --set log.level=info \
       >>"$work/crash.out" 2>>"$work/crash.err"; then
    ok "crash: the run after three kill -9 exits 0"
  else
    bad "crash: the run after three kill -9 exits 0" "$work/crash.err"
  fi
  if grep -q "event=state_corrupt" "$work/crash.err" && ls -d "$work"/crash.state/gridstream.corrupt-* >/dev/null 2>&1; then
    ok "crash: damaged local state detected and set aside"
  else
    bad "crash: damaged local state detected and set aside" "$work/crash.err"
  fi
  # the kills must have hit a run that had committed something: a later run restored it
  if grep -q "event=restore_end.*applied=[1-9]" "$work/crash.err"; then
    ok "crash: restarts restored committed state ($(grep -c 'event=restore_end' "$work/crash.err") restores)"
  else
    bad "crash: restarts restored committed state" "$work/crash.err"
  fi
  compare crash --dlq-by-source
  stop_broker
fi

# --- 4. SIGTERM on a live run -----------------------------------------------------------------------
if broker live && load live; then
  port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" run "${common[@]}" --set bootstrap.servers="$bs" --set state.dir="$work/live.state" \
    --set num.stream.threads=1 --set log.level=info --set log.format=json \
    --set metrics.port="$port" --set metrics.host=127.0.0.1 >"$work/live.out" 2>"$work/live.err" &
  p=$!
  pids+=($p)
  # the operations endpoint while it runs: ready, alive, and counting what it applied
  "$py" - "$port" "$nrec" >"$work/live.http" 2>&1 <<'EOF'
import sys, urllib.request
port, nrec = sys.argv[1], int(sys.argv[2])
def get(path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:  # not listening yet
        return 0, ""
import time
deadline = time.time() + 180  # the sanitizer build is slow: wait for every record
while True:
    code, text = get("/metrics")
    total = sum(float(l.split()[-1]) for l in text.splitlines()
                if l.startswith("gridstream_records_in_total{"))
    if total == nrec or time.time() > deadline:
        break
    time.sleep(0.5)
print("records_in_total", total, "of", nrec)
ok = True
for path in ("/healthz", "/readyz"):
    code2, body = get(path)
    print(path, code2, body.strip()[:80])
    ok = ok and code2 == 200
ok = ok and code == 200 and total == nrec and "gridstream_commit_duration_seconds_bucket" in text
sys.exit(0 if ok else 1)
EOF
  if [[ $? -eq 0 ]]; then ok "live: /healthz, /readyz 200 and /metrics counts every record"; else
    bad "live: operations endpoint" "$work/live.http"; fi
  if "$py" -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$work/live.err" 2>/dev/null &&
     grep -q '"event":"assigned"' "$work/live.err" && grep -q '"event":"dlq".*"reason":"' "$work/live.err" &&
     (($(grep -c '"event":"dlq"' "$work/live.err") < 800)); then
    ok "live: log.format=json gives JSON lines; DLQ lines rate-limited ($(grep -c '"event":"dlq"' "$work/live.err"))"
  else
    bad "live: JSON log lines" "$work/live.err"; fi
  kill -TERM $p
  t0=$(date +%s)
  wait $p
  rc=$?
  unset 'pids[-1]'
  if [[ $rc -eq 0 ]] && (($(date +%s) - t0 <= 20)) && grep -q '"event":"stopped"' "$work/live.err"; then
    ok "live: SIGTERM commits and exits 0 within 20 s"
  else
    bad "live: SIGTERM exits 0 (rc $rc)" "$work/live.err"
  fi
  "$py" "$here/read_outputs.py" --bootstrap "$bs" --output "$work/live.actual" >"$work/live.read.out" 2>&1
  n=$(grep -c . <("$py" - "$ref" "$work/live.actual/gridstream.incidents.rec" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import gsproto
for k in {k for k, _ in gsproto.read_records(sys.argv[2])}: print(k)
EOF
))
  want=$("$py" - "$ref" "$work/expected/gridstream.incidents.rec" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import gsproto
print(len({k for k, _ in gsproto.read_records(sys.argv[2])}))
EOF
)
  if [[ $n -eq $want ]]; then ok "live: every incident written before the stop ($n)"; else
    bad "live: incidents $n, want $want" "$work/live.read.out"; fi
  stop_broker
fi

# --- 5. bad clusters -------------------------------------------------------------------------------
expect_exit1() { # name regex -- run args
  local name=$1 re=$2
  shift 3
  local t0=$SECONDS
  timeout 60 "$bin" run --quiet --set metrics.port=0 --set state.dir="$work/bad.state" "$@" \
    >"$work/bad.out" 2>"$work/bad.err"
  local rc=$?
  if [[ $rc -eq 1 ]] && grep -Eq -- "$re" "$work/bad.err" && ((SECONDS - t0 <= 30)); then ok "$name"; else
    bad "$name: rc $rc (want 1) within 30 s, stderr /$re/" "$work/bad.err"
  fi
}
expect_exit1 "unreachable brokers: clear error" "cannot reach the Kafka cluster at bootstrap.servers=127.0.0.1:1" \
  -- --set bootstrap.servers=127.0.0.1:1
if broker bare --no-topics; then
  kcat -P -b "$bs" -t city.reports -p 0 -K: <<<"k:v" 2>/dev/null
  expect_exit1 "missing input topic: named" "input topic city.sensors does not exist" \
    -- --set bootstrap.servers="$bs"
  stop_broker
fi
if broker wrongparts; then
  kcat -P -b "$bs" -t other-partials -p 0 -K: <<<"k:v" 2>/dev/null # auto-created: 4 partitions
  expect_exit1 "internal topic with the wrong partition count: named with the plan line" \
    "topic other-partials has 4 partitions, the plan needs $parts: \"other-partials $parts compact\"" \
    -- --set bootstrap.servers="$bs" --set application.id=other
  stop_broker
fi

# --- 6. the demo: its scorecards are replay's for the same city ----------------------------------
"$bin" gen --output "$work/demo.in" --partitions 4 --cells 30 --days 40 --seed 1 --quiet &&
  "$bin" replay --input "$work/demo.in" --output "$work/demo.expected" >"$work/demo.replay" 2>&1
if timeout 300 "$bin" demo --cells 30 --days 40 --seed 1 --set state.dir="$work/demo.state" \
     >"$work/demo.out" 2>"$work/demo.err"; then
  ok "demo: exits 0"
else
  bad "demo: exits 0" "$work/demo.err"
fi
# scorecard tables: header and district rows, as replay prints them
sc_lines() { grep -E '^(Scorecard city|  +[0-9]+ [0-9]+ )' "$1" | sort; }
if [[ -n $(sc_lines "$work/demo.replay") ]] && diff <(sc_lines "$work/demo.replay") <(sc_lines "$work/demo.out") \
     >"$work/demo.diff"; then
  ok "demo: scorecards equal replay's ($(grep -c '^Scorecard city' "$work/demo.out"))"
else
  bad "demo: scorecards equal replay's" "$work/demo.diff" "$work/demo.out"
fi

echo "run.sh: $pass passed, $fail failed"
((fail == 0))
