#!/usr/bin/env bash
# The embedded cluster seen from clients gridstream did not write: `gridstream broker` must serve
# the whole topic plan to kcat and to Python confluent-kafka (metadata, produce, group consume,
# offset commit), and stop cleanly on SIGTERM; `gridstream topics` must print the decided plan and
# refuse bad arguments with exit code 2.
#   broker.sh GRIDSTREAM_BINARY WORKDIR
# Every wait is bounded; the background broker is killed on any exit.
set -uo pipefail
bin=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
pass=0 fail=0
broker_pid=

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { # name [detail file or text]...
  echo "FAIL $1"
  shift
  for d in "$@"; do if [[ -f $d ]]; then sed 's/^/     | /' "$d"; else echo "     $d"; fi; done
  fail=$((fail + 1))
}
cleanup() {
  if [[ -n $broker_pid ]] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -KILL "$broker_pid" 2>/dev/null
    wait "$broker_pid" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# Python with confluent-kafka: Debian's python3-confluent-kafka lives in /usr/lib/python3/dist-packages,
# which a pyenv or venv python3 earlier on PATH does not see.
py=
for cand in /usr/bin/python3 python3; do
  if PYTHONPATH=/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH} \
     "$cand" -c 'import confluent_kafka' 2>/dev/null; then py=$cand; break; fi
done
export PYTHONPATH=/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}
command -v kcat >/dev/null || bad "kcat is installed" "kcat not found on PATH (Debian package kcat)"
[[ -n $py ]] || bad "python3 can import confluent_kafka" "install python3-confluent-kafka"

expect_fail() { # name want_stderr_regex -- command...: exit 2 and a message naming the problem
  local name=$1 re=$2
  shift 3
  timeout 20 "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [[ $rc -eq 2 ]] && grep -Eq -- "$re" "$work/err"; then
    ok "$name"
  else
    bad "$name: rc $rc (want 2), stderr must match /$re/" "$work/err"
  fi
}

# --- gridstream topics ---------------------------------------------------------------------------
cat >"$work/plan5.want" <<'EOF'
city.reports 5 delete
city.sensors 5 delete
city.video 5 delete
city.cases 5 delete
gridstream.kpi 5 compact
gridstream.incidents 5 compact
gridstream.alerts 5 compact
gridstream.scorecards 1 compact
gridstream.dlq 5 delete
city1-partials 5 compact
city1-state-changelog 5 compact
city1-rollup-changelog 5 compact
EOF
timeout 20 "$bin" topics --partitions 5 --set application.id=city1 >"$work/plan5" 2>"$work/err"
rc=$?
if [[ $rc -eq 0 ]] && diff -u "$work/plan5.want" "$work/plan5" >"$work/diff"; then
  ok "topics --partitions 5 --set application.id=city1"
else
  bad "topics --partitions 5 --set application.id=city1: rc $rc" "$work/diff" "$work/err"
fi

printf 'application.id = fromfile\n' >"$work/app.properties"
timeout 20 "$bin" topics --config "$work/app.properties" --partitions 2 >"$work/plan2" 2>"$work/err"
rc=$?
if [[ $rc -eq 0 ]] && [[ $(sed -n '10p' "$work/plan2") == "fromfile-partials 2 compact" ]] &&
   [[ $(wc -l <"$work/plan2") -eq 12 ]]; then
  ok "topics --config FILE takes application.id from the file"
else
  bad "topics --config FILE" "$work/plan2" "$work/err"
fi

timeout 20 "$bin" topics --help >"$work/out" 2>&1
rc=$?
if [[ $rc -eq 0 ]] && grep -q -- "--partitions N" "$work/out"; then ok "topics --help"; else
  bad "topics --help" "$work/out"; fi

expect_fail "topics --partitions 0" "--partitions: '0' is not an integer in 1\.\.10000" -- \
  "$bin" topics --partitions 0
expect_fail "topics --partitions x" "--partitions: 'x' is not an integer" -- \
  "$bin" topics --partitions x
expect_fail "topics --partitions 10001" "'10001' is not an integer in 1\.\.10000" -- \
  "$bin" topics --partitions 10001
expect_fail "topics unknown option" "unexpected argument '--bogus'" -- \
  "$bin" topics --partitions 3 --bogus
expect_fail "topics without --partitions" "--partitions N is required" -- "$bin" topics
expect_fail "topics --partitions without value" "--partitions needs a value" -- \
  "$bin" topics --partitions
expect_fail "topics unknown config key" "configuration error: no\.such\.key" -- \
  "$bin" topics --partitions 3 --set no.such.key=1
expect_fail "topics bad application.id" "application\.id" -- \
  "$bin" topics --partitions 3 --set 'application.id=a b'
expect_fail "broker --partitions 0" "--partitions: '0' is not an integer" -- \
  "$bin" broker --partitions 0
expect_fail "broker --brokers 0" "--brokers: '0' is not an integer" -- "$bin" broker --brokers 0
expect_fail "broker unknown option" "unexpected argument '--port'" -- "$bin" broker --port 9092

# --- gridstream broker --partitions 3 ------------------------------------------------------------
"$bin" broker --partitions 3 >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
bs=
for _ in $(seq 1 300); do # 30 s
  if grep -q '^bootstrap: ' "$work/broker.out" 2>/dev/null; then
    bs=$(sed -n 's/^bootstrap: //p' "$work/broker.out")
    break
  fi
  kill -0 "$broker_pid" 2>/dev/null || break
  sleep 0.1
done
sleep 0.2 # anything else the broker might (wrongly) print on stdout
if [[ -n $bs ]] && [[ $(wc -l <"$work/broker.out") -eq 1 ]] &&
   grep -Eq '^bootstrap: 127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2}$' "$work/broker.out"; then
  ok "broker prints one bootstrap line with 3 loopback brokers"
else
  bad "broker bootstrap line (within 30 s)" "$work/broker.out" "$work/broker.err"
fi

if [[ -n $bs ]]; then
  # (a) metadata as kcat sees it: the whole plan, nothing else, 3 brokers.
  timeout 20 "$bin" topics --partitions 3 >"$work/plan3" 2>&1
  if timeout 30 kcat -L -J -m 10 -b "$bs" >"$work/meta.json" 2>"$work/kcat.err"; then
    if "${py:-python3}" - "$work/meta.json" "$work/plan3" >"$work/meta.check" 2>&1 <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
plan = {}
for line in open(sys.argv[2]):
    name, parts, policy = line.split()
    plan[name] = int(parts)
errors = []
brokers = {b["id"]: b["name"] for b in meta["brokers"]}
if len(brokers) != 3:
    errors.append(f"{len(brokers)} brokers listed, want 3: {brokers}")
for bid, name in brokers.items():
    if not name.startswith("127.0.0.1:"):
        errors.append(f"broker {bid} advertises {name}, want 127.0.0.1:PORT")
got = {t["topic"]: t for t in meta["topics"]}
if set(got) != set(plan):
    errors.append(f"topics differ: missing {sorted(set(plan) - set(got))}, "
                  f"unexpected {sorted(set(got) - set(plan))}")
for name, want in plan.items():
    t = got.get(name)
    if not t:
        continue
    if t.get("error"):
        errors.append(f"{name}: error {t['error']}")
    ps = sorted(p["partition"] for p in t["partitions"])
    if ps != list(range(want)):
        errors.append(f"{name}: partitions {ps}, want 0..{want - 1}")
    for p in t["partitions"]:
        if p["leader"] not in brokers:
            errors.append(f"{name}[{p['partition']}]: leader {p['leader']} is not a broker")
        if len(p["replicas"]) != 3:
            errors.append(f"{name}[{p['partition']}]: {len(p['replicas'])} replicas, want 3")
print("\n".join(errors) if errors else f"{len(plan)} topics, {len(brokers)} brokers")
sys.exit(1 if errors else 0)
EOF
    then ok "kcat -L: every plan topic with its partition count, 3 brokers, replication 3"
    else bad "kcat -L metadata" "$work/meta.check"; fi
  else
    bad "kcat -L -b $bs" "$work/kcat.err"
  fi

  # (b) keyed messages produced by kcat, read back by a confluent-kafka group consumer.
  printf '%s\n' r1:a1 r2:a2 r3:a3 r4:a4 r1:b1 r2:b2 r3:b3 r4:b4 >"$work/produce.txt"
  if timeout 30 kcat -P -b "$bs" -t city.reports -K: -m 10 -X message.timeout.ms=20000 \
       -l "$work/produce.txt" >"$work/kcat.out" 2>"$work/kcat.err"; then
    ok "kcat produced 8 keyed messages to city.reports"
  else
    bad "kcat -P city.reports" "$work/kcat.err"
  fi
  if [[ -n $py ]]; then
    BS=$bs timeout 60 "$py" - >"$work/consume.check" 2>&1 <<'EOF'
import os, sys, time
from confluent_kafka import Consumer, TopicPartition

want = [("r1", "a1"), ("r2", "a2"), ("r3", "a3"), ("r4", "a4"),
        ("r1", "b1"), ("r2", "b2"), ("r3", "b3"), ("r4", "b4")]
c = Consumer({"bootstrap.servers": os.environ["BS"], "group.id": "e2e-broker",
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "session.timeout.ms": 6000})
c.subscribe(["city.reports"])
got, deadline = [], time.monotonic() + 40
while len(got) < len(want) and time.monotonic() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        print("consumer error:", m.error())
        continue
    got.append((m.key().decode(), m.value().decode(), m.partition(), m.offset()))
errors = []
if sorted((k, v) for k, v, _, _ in got) != sorted(want):
    errors.append(f"consumed {[(k, v) for k, v, _, _ in got]}, want {want}")
part_of = {}
for k, v, p, o in got:
    if part_of.setdefault(k, p) != p:
        errors.append(f"key {k} in partitions {part_of[k]} and {p}")
per_part = {}
for k, v, p, o in got:
    per_part.setdefault(p, []).append(o)
for p, offs in per_part.items():
    if offs != list(range(len(offs))):
        errors.append(f"partition {p}: offsets {offs}, want 0..{len(offs) - 1}")
    if [v for k, v, q, _ in got if q == p] != sorted(v for k, v, q, _ in got if q == p):
        errors.append(f"partition {p}: order of values not preserved")
assigned = sorted(tp.partition for tp in c.assignment())
if assigned != [0, 1, 2]:
    errors.append(f"assignment {assigned}, want [0, 1, 2]")
if not errors:
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition("city.reports", p) for p in range(3)], timeout=10)
    for tp in committed:
        want_off = len(per_part.get(tp.partition, []))
        if want_off and tp.offset != want_off:
            errors.append(f"committed offset of partition {tp.partition}: {tp.offset}, want {want_off}")
c.close()
print("\n".join(errors) if errors else f"{len(got)} messages, partitions {sorted(per_part)}")
sys.exit(1 if errors else 0)
EOF
    rc=$?
    if [[ $rc -eq 0 ]]; then
      ok "confluent-kafka consumer group reads the keyed messages back and commits offsets"
    else
      bad "confluent-kafka consumer" "$work/consume.check"
    fi
  fi
fi

# (c) SIGTERM: exit 0 within 10 s.
if kill -0 "$broker_pid" 2>/dev/null; then
  kill -TERM "$broker_pid"
  for _ in $(seq 1 100); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$broker_pid" 2>/dev/null; then
    bad "broker stops within 10 s of SIGTERM" "$work/broker.err"
  else
    wait "$broker_pid"
    rc=$?
    broker_pid=
    if [[ $rc -eq 0 ]] && grep -q "stopped" "$work/broker.err"; then
      ok "SIGTERM stops the broker with exit 0"
    else
      bad "SIGTERM: broker exit code $rc (want 0)" "$work/broker.err"
    fi
  fi
else
  bad "broker still running before SIGTERM" "$work/broker.err"
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
