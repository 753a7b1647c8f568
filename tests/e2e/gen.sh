#!/usr/bin/env bash
# `gridstream gen` end to end: the synthetic city it writes is replayed by `gridstream replay`, whose
# DLQ must hold every SPEC §3 reason exactly as many times as gen says it made invalid records of
# that reason (so every valid case event found the signal it references), and the same input fed to
# the independent Python reference (tests/reference) must give equal tables. Also: the same options
# give byte-identical files, another seed other files, --rate paces, stale partition files go,
# usage errors exit 2. When `gridstream broker` exists, gen also produces to it (paced) and kcat
# must read back, per topic and partition, exactly the records the file output holds, in order.
#   gen.sh GRIDSTREAM_BINARY WORKDIR
# Every wait is bounded; a background broker is killed on any exit.
set -uo pipefail
bin=$1 work=$2
ref=$(cd "$(dirname "$0")/../reference" && pwd)
rm -rf "$work" && mkdir -p "$work"
pass=0 fail=0
broker_pid=
topics="city.reports city.sensors city.video city.cases"

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { # name [detail file or text]...
  echo "FAIL $1"
  shift
  for d in "$@"; do if [[ -f $d ]]; then sed 's/^/     | /' "$d" | head -40; else echo "     $d"; fi; done
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

expect_usage() { # name stderr_regex -- args...: exit 2 and a message naming the problem
  local name=$1 re=$2
  shift 3
  timeout 20 "$bin" gen "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [[ $rc -eq 2 ]] && grep -Eq -- "$re" "$work/err"; then ok "$name"; else
    bad "$name: rc $rc (want 2), stderr must match /$re/" "$work/err"
  fi
}

# "gen: invalid by reason: decode 3, missing_id 4, ..." -> "decode=3 missing_id=4 ..."
gen_reasons() { sed -n 's/^gen: invalid by reason: //p' "$1" | sed 's/, /\n/g' | awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $1, $2}'; }
# DLQ reason counts of a replay output, in SPEC order
dlq_reasons() {
  python3 - "$ref" "$1" <<'EOF'
import collections, sys
sys.path.insert(0, sys.argv[1])
import gsproto
c = collections.Counter(k.decode() for k, _ in gsproto.read_records(sys.argv[2]))
print(" ".join("%s=%d" % (r, c[r]) for r in gsproto.DLQ_REASONS))
EOF
}

# --- usage -----------------------------------------------------------------------------------------
if "$bin" gen --help >"$work/out" 2>&1 && grep -q -- "--bootstrap HOST:PORT" "$work/out" &&
   grep -q -- "--invalid-rate" "$work/out"; then ok "gen --help"; else bad "gen --help" "$work/out"; fi
expect_usage "no destination" "exactly one of --output DIR and --bootstrap" --
expect_usage "two destinations" "exactly one of --output DIR and --bootstrap" -- \
  --output "$work/x" --bootstrap 127.0.0.1:9
expect_usage "--cells 0" "bad value '0' for --cells" -- --output "$work/x" --cells 0
expect_usage "--start 2024-02-30" "bad value '2024-02-30' for --start" -- --output "$work/x" --start 2024-02-30
expect_usage "--invalid-rate 0.7" "bad value '0.7' for --invalid-rate" -- --output "$work/x" --invalid-rate 0.7
expect_usage "--rate -1" "bad value '-1' for --rate" -- --output "$work/x" --rate -1
expect_usage "--seed without value" "--seed needs a value" -- --output "$work/x" --seed
expect_usage "unknown option" "unexpected argument '--bogus'" -- --output "$work/x" --bogus
expect_usage "unknown config key" "no.such.key: unknown configuration key" -- \
  --output "$work/x" --set no.such.key=1

# --- the default city, replayed and checked against the reference -----------------------------------
if timeout 120 "$bin" gen --output "$work/in" >"$work/gen.out" 2>"$work/gen.err" &&
   grep -Eq '^gen: [0-9]+ records in 4 partitions \(city.reports [0-9]+, city.sensors [0-9]+, city.video [0-9]+, city.cases [0-9]+\), invalid [0-9]+' "$work/gen.out"; then
  ok "gen --output (defaults): $(head -1 "$work/gen.out" | cut -c1-100)..."
else
  bad "gen --output (defaults)" "$work/gen.out" "$work/gen.err"
fi
nfiles=$(find "$work/in" -name '*.rec' | wc -l)
[[ $nfiles -eq 16 ]] && ok "16 partition files (4 topics x 4)" || bad "16 partition files" "found $nfiles"

timeout 120 "$bin" gen --output "$work/in2" --quiet >"$work/gen2.out" 2>&1
if [[ ! -s $work/gen2.out ]] && diff -r "$work/in" "$work/in2" >/dev/null; then
  ok "same options twice: byte-identical files, --quiet prints nothing"
else
  bad "determinism" "$work/gen2.out"
fi
timeout 120 "$bin" gen --output "$work/in3" --seed 2 --quiet
if ! diff -rq "$work/in" "$work/in3" >/dev/null; then ok "--seed 2 gives other records"; else bad "--seed 2"; fi

if timeout 300 "$bin" replay --quiet --input "$work/in" --output "$work/c" 2>"$work/replay.err"; then
  ok "replay of the generated city"
else
  bad "replay of the generated city" "$work/replay.err"
fi
want=$(gen_reasons "$work/gen.out")
got=$(dlq_reasons "$work/c/gridstream.dlq.rec")
if [[ -n $want && $want == "$got" ]] && ! grep -q '=0\b' <<<"$got"; then
  ok "DLQ has every reason, as many as gen made: $got"
else
  bad "DLQ reasons equal gen's" "gen:  $want" "dlq:  $got"
fi
if timeout 300 python3 "$ref/reference.py" --input "$work/in" --output "$work/py" >/dev/null 2>"$work/ref.err" &&
   python3 "$ref/compare.py" --expected "$work/py" --actual "$work/c" >"$work/compare.txt" 2>&1 &&
   grep -q '^EQUAL$' "$work/compare.txt"; then
  ok "replay equals the Python reference ($(grep -c ' 0 differ' "$work/compare.txt") tables)"
else
  bad "replay equals the Python reference" "$work/ref.err" "$work/compare.txt"
fi

# --- pacing and rewriting ---------------------------------------------------------------------------
t0=$(date +%s%N)
timeout 60 "$bin" gen --output "$work/paced" --cells 5 --days 3 --partitions 2 --rate 1000 >"$work/paced.out" 2>&1
t1=$(date +%s%N)
n=$(sed -n 's/^gen: \([0-9]*\) records.*/\1/p' "$work/paced.out")
ms=$(((t1 - t0) / 1000000))
# a token bucket of 100 ms: n records take at least (n - 100) ms at 1000/s
if [[ -n $n ]] && ((n > 200 && ms >= n - 100)); then ok "--rate 1000: $n records in $ms ms"; else
  bad "--rate 1000: $n records in $ms ms" "$work/paced.out"
fi
timeout 60 "$bin" gen --output "$work/paced" --cells 5 --days 3 --partitions 1 --quiet
if [[ -f $work/paced/city.cases/0.rec && ! -e $work/paced/city.cases/1.rec ]] &&
   timeout 60 "$bin" replay --quiet --input "$work/paced" --output "$work/paced.c"; then
  ok "rewriting with fewer partitions removes the stale files; replay accepts the result"
else
  bad "rewriting with fewer partitions"
fi

# --- producing to the embedded cluster (when `gridstream broker` exists) ----------------------------
if ! timeout 10 "$bin" broker --help >/dev/null 2>&1; then
  echo "skip --bootstrap checks: 'gridstream broker' is not available"
elif ! command -v kcat >/dev/null; then
  bad "kcat is installed" "kcat not found on PATH (Debian package kcat)"
else
  "$bin" broker --partitions 3 >"$work/broker.out" 2>"$work/broker.err" &
  broker_pid=$!
  bs=
  for _ in $(seq 1 100); do
    bs=$(sed -n 's/^bootstrap: //p' "$work/broker.out" 2>/dev/null)
    [[ -n $bs ]] && break
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [[ -z $bs ]]; then
    bad "broker --partitions 3 prints its bootstrap" "$work/broker.out" "$work/broker.err"
  else
    if timeout 120 "$bin" gen --bootstrap "$bs" --cells 30 --days 5 --rate 20000 \
         >"$work/kgen.out" 2>"$work/kgen.err" &&
       grep -q '^gen: [0-9]* records in 3 partitions' "$work/kgen.out"; then
      ok "gen --bootstrap (3 partitions from the topics, --rate 20000)"
    else
      bad "gen --bootstrap" "$work/kgen.out" "$work/kgen.err"
    fi
    # the same records as files, to compare with what the cluster holds
    timeout 60 "$bin" gen --output "$work/kfiles" --cells 30 --days 5 --partitions 3 --quiet
    allsame=1
    for t in $topics; do
      want=$(sed -n "s/.*$t \([0-9]*\).*/\1/p" "$work/kgen.out")
      got=$(timeout 60 kcat -C -b "$bs" -t "$t" -e -q -f 'x\n' 2>/dev/null | wc -l)
      if [[ -n $want && $want -eq $got ]]; then ok "$t: $got records read back (gen says $want)"; else
        bad "$t: $got records read back, gen says $want"
      fi
      for p in 0 1 2; do
        timeout 60 kcat -C -b "$bs" -t "$t" -p "$p" -e -q -f '%K %S\n%k%s' >"$work/k.bin" 2>/dev/null
        python3 - "$ref" "$work/k.bin" "$work/kfiles/$t/$p.rec" <<'EOF' || allsame=0
import sys
sys.path.insert(0, sys.argv[1])
import gsproto
d = open(sys.argv[2], "rb").read()
got, i = [], 0
while i < len(d):
    j = d.index(b"\n", i)
    kl, vl = map(int, d[i:j].split())
    i = j + 1
    got.append((d[i:i + kl], d[i + kl:i + kl + vl]))
    i += kl + vl
want = [tuple(r) for r in gsproto.read_records(sys.argv[3])]
if got != want:
    print("     %s: %d records from kafka, %d in the file" % (sys.argv[3], len(got), len(want)))
    sys.exit(1)
EOF
      done
    done
    ((allsame)) && ok "every partition holds the file output's records, in order" ||
      bad "kafka partitions equal the file output"
    timeout 60 "$bin" gen --bootstrap "$bs" --cells 3 --days 1 --partitions 4 --quiet >"$work/out" 2>"$work/err"
    rc=$?
    if [[ $rc -eq 1 ]] && grep -q -- "--partitions 4, but the topics on .* have 3" "$work/err"; then
      ok "--partitions that disagrees with the topics: exit 1"
    else
      bad "--partitions 4 against 3-partition topics: rc $rc (want 1)" "$work/err"
    fi
  fi
  cleanup
fi
timeout 30 "$bin" gen --bootstrap 127.0.0.1:1 --days 1 --quiet >"$work/out" 2>"$work/err"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "gridstream gen: metadata from 127.0.0.1:1" "$work/err"; then
  ok "unreachable bootstrap: exit 1 with the reason"
else
  bad "unreachable bootstrap: rc $rc (want 1)" "$work/err"
fi

echo "$pass passed, $fail failed"
((fail == 0))
