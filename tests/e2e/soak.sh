#!/usr/bin/env bash
# Fault-tolerance scenarios of `gridstream run` on the embedded cluster, each checked against
# `gridstream replay` over the same records (tables latest per key, alert ids, DLQ per reason):
#   crash         SIGKILL the same instance KILLS times at random points after its assignment
#                 (some within 150 ms: mid-restore, some after wiping its local state: a full
#                 restore; commit.interval.ms=30 so that most land mid-transaction or mid-RocksDB
#                 write), then a run to the end: tables equal; alert ids are replay's, and every
#                 extra copy of an alert id is identical and was written by a transaction that a
#                 kill cut short (see "alerts" below);
#   backpressure  the whole input is in the topics before the engine starts (produced far faster
#                 than it is processed): peak RSS within state.memory.bytes plus the bound README
#                 documents, the backlog really was there (lag), tables equal;
#   badinput      10 % bad records of every SPEC §3 reason, derived from a generated city
#                 (soak_tools.py garbage) and produced with kcat between confluent-kafka rounds of
#                 the good records: tables equal, the DLQ holds every bad record with its reason
#                 (multiset of reason and bytes), counts per reason as intended.
# Alerts after crashes: librdkafka's mock cluster writes no transaction markers, so a
# read_committed reader also sees the records of a transaction that a kill cut short, and an alert
# id can appear twice there (on a real Kafka it cannot). The crash scenario therefore asserts
# alerts as a set of ids, requires every copy of an id to be identical, and requires every copy
# but the last to have been written (CreateTime) at most ALERT_WINDOW_MS before a SIGKILL; the
# number of such copies is reported.
# Sizes: ci (ctest e2e.soak, asan build, about 4 minutes on 2 cores) and soak (tests/soak.sh, release
# build: 184k records in 24 partitions for the crash loop, a backlog of 1M records in 24
# partitions, 615k records with 61k bad ones in 12 partitions). The embedded cluster keeps about
# 5 MB per partition and drops older records, so bigger cities use more partitions, and each
# scenario checks that no record it reads was dropped.
#   soak.sh GRIDSTREAM_BINARY WORKDIR [ci|soak] [SCENARIO...]     (default: ci, all three)
# SEED (environment, default 20261123) fixes the kill delays and the bad records.
set -uo pipefail
bin=$1 work=$2
size=${3:-ci}
shift 2
(($# > 0)) && shift
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(crash backpressure badinput)
seed=${SEED:-20261123}
parts=3
source "$(dirname "$0")/lib.sh"
tools=$here/soak_tools.py

case $size in
  ci)
    crash_city=(40 40) crash_parts=6 kills=20 max_delay_ms=2500
    bp_city=(60 40) bp_parts=4
    bad_city=(40 40) bad_parts=3 bad_rounds=3
    ;;
  soak)
    crash_city=(200 40) crash_parts=24 kills=20 max_delay_ms=5000
    bp_city=(1000 40) bp_parts=24
    bad_city=(600 40) bad_parts=12 bad_rounds=4
    ;;
  *) echo "soak.sh: size must be ci or soak, not '$size'" >&2; exit 2 ;;
esac
session_ms=3000
state_mb=64
# static members do not leave the group on close; the mock makes a restart wait session.timeout.ms,
# and a heartbeat interval below it keeps a live member in the group
# commits of the backpressure run: every 100 ms in CI; every 1000 ms in the soak size, so that the
# partials (every task's watermark to every rollup partition at each commit) stay under 5 MB
commit_ms=100
[[ $size == soak ]] && commit_ms=1000
common=(--quiet --set metrics.port=0 --set kafka.session.timeout.ms=$session_ms --set kafka.heartbeat.interval.ms=1000
  --set log.level=info)
summary=()
echo "soak.sh: size $size, seed $seed, scenarios ${scenarios[*]}"

fresh() { rm -rf "$work/in" "$work/in.nogarbage" "$work/expected"; }
# the embedded cluster keeps about 5 MB per partition and drops older records: sizes are chosen
# to stay under it (more partitions for bigger cities), and each scenario checks that it did
kept_all() { # NAME [TOPIC_REGEX]: every partition of the matching topics still starts at offset 0
  if "$py" "$tools" lows --bootstrap "$bs" | grep -E "^(${2:-.*})\[" >"$work/$1.lows"; then
    bad "$1: the embedded cluster dropped records (5 MB per partition): use more partitions" "$work/$1.lows"
  else
    ok "$1: the embedded cluster dropped no record of ${2:+the topics read (}${2:-any topic}${2:+)}"
  fi
}
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# --- crash loop -------------------------------------------------------------------------------------
scenario_crash() {
  parts=$crash_parts
  fresh
  city "${crash_city[@]}" 11
  broker crash && load crash || return
  local crash_f0=$fail st=$work/crash.state i delay kill_at restores=0 early=0 wiped=0 finished=0
  : >"$work/crash.kills" >"$work/crash.err"
  RANDOM=$seed
  echo "     $kills kills, delays from the \"assigned\" line (seed $seed):"
  for ((i = 1; i <= kills; i++)); do
    # one kill in four within 150 ms (restore), the others up to max_delay_ms
    if ((i % 4 == 2)); then delay=$((RANDOM % 150)); else delay=$((RANDOM * 32768 + RANDOM)); delay=$((delay % max_delay_ms)); fi
    local note=
    if ((i % 5 == 0)); then rm -rf "$st"; note=" (local state wiped: full restore)"; wiped=$((wiped + 1)); fi
    "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" --set state.dir="$st" \
      --set num.stream.threads=1 --set commit.interval.ms=30 >>"$work/crash.out" 2>"$work/crash.$i.err" &
    local p=$!
    pids+=($p)
    for _ in $(seq 600); do grep -q "event=assigned" "$work/crash.$i.err" && break; sleep 0.05; done
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    if kill -KILL $p 2>/dev/null; then
      wait $p 2>/dev/null
      # taken once it is gone: it may still write in the moment before the signal lands
      kill_at=$(now_ms)
      echo "$kill_at" >>"$work/crash.kills"
    else
      wait $p 2>/dev/null
      finished=$((finished + 1)) note="$note (had already exited)"
    fi
    unset 'pids[-1]'
    # where it landed: inside a restore (restore_start without its restore_end) or after it
    local where=processing
    if [[ $(grep -c "event=restore_start" "$work/crash.$i.err") -gt $(grep -c "event=restore_end" "$work/crash.$i.err") ]]; then
      where=restore early=$((early + 1))
    fi
    printf '     kill %2d: %5d ms after assignment, in %s%s\n' "$i" "$delay" "$where" "$note"
    cat "$work/crash.$i.err" >>"$work/crash.err"
    echo "--- kill $i: ${delay} ms after the assignment, $where$note" >>"$work/crash.err"
  done
  if timeout 600 "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" --set state.dir="$st" \
       --set num.stream.threads=1 >>"$work/crash.out" 2>"$work/crash.final.err"; then
    ok "crash: the run after $kills kill -9 exits 0"
  else
    bad "crash: the run after $kills kill -9 exits 0" "$work/crash.final.err"
  fi
  cat "$work/crash.final.err" >>"$work/crash.err"
  local nk
  nk=$(grep -c . "$work/crash.kills")
  if ((nk == kills)) && ((early > 0)); then
    ok "crash: $nk SIGKILLs landed on a live process ($early in a restore, $wiped after a wipe)"
  else
    bad "crash: $kills SIGKILLs on a live process, some in a restore (got $nk, $early in a restore)"
  fi
  restores=$(grep -c "event=restore_end.*applied=[1-9]" "$work/crash.err")
  if ((restores > 0)); then ok "crash: restarts restored committed state ($restores restores applied entries)"; else
    bad "crash: restarts restored committed state" "$work/crash.err"; fi
  compare crash --dlq-by-source
  if ((fail > crash_f0)); then # diagnostics: every changelog group of every task
    "$py" "$tools" changelog --bootstrap "$bs" --topic gridstream-state-changelog >"$work/crash.changelog" 2>&1
    echo "     changelog groups in $work/crash.changelog"
  fi
  if "$py" "$tools" alerts --bootstrap "$bs" --kills "$work/crash.kills" --window-ms "$alert_window_ms" \
       --expected "$work/expected" >"$work/crash.alerts" 2>&1; then
    ok "crash: $(cat "$work/crash.alerts")"
  else
    bad "crash: alerts by id, duplicates only from transactions cut short" "$work/crash.alerts"
  fi
  kept_all crash
  crash_note="$nk kills ($early mid-restore), $(sed -n 's/.*, \([0-9]* duplicate copies\).*/\1/p' "$work/crash.alerts") of alerts"
  stop_broker
}

# --- backpressure -----------------------------------------------------------------------------------
scenario_backpressure() {
  parts=$bp_parts
  fresh
  city "${bp_city[@]}" 12
  broker bp || return
  local t0=$SECONDS
  load bp || { bad "bp: load" "$work/bp.load.out"; return; }
  echo "     $nrec records produced in $((SECONDS - t0)) s, before the engine starts"
  local port
  port=$(free_port)
  t0=$SECONDS
  # under AddressSanitizer freed memory waits in a quarantine (256 MiB by default): keep it small
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8 \
  "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" --set state.dir="$work/bp.state" \
    --set num.stream.threads=1 --set state.memory.bytes=$((state_mb << 20)) --set commit.interval.ms=$commit_ms \
    --set metrics.port="$port" --set metrics.host=127.0.0.1 >"$work/bp.out" 2>"$work/bp.err" &
  local p=$!
  pids+=($p)
  "$py" "$tools" watch --pid $p --port "$port" --out "$work/bp.samples" >"$work/bp.watch"
  wait $p
  local rc=$? secs=$((SECONDS - t0))
  unset 'pids[-1]'
  if ((rc == 0)); then ok "bp: run --until-end over the backlog exits 0 (${secs} s)"; else
    bad "bp: run --until-end exits 0 (rc $rc)" "$work/bp.err"; fi
  local peak max_lag bufrec peak_mb
  peak=$(sed -n 's/.*hwm_kb=\([0-9]*\).*/\1/p' "$work/bp.watch")
  max_lag=$(sed -n 's/.*max_lag=\([0-9]*\).*/\1/p' "$work/bp.watch")
  # README "Guarantees": RSS <= state.memory.bytes + 160 MiB (code, clients, librdkafka's queues)
  # + 2 KiB per record the tasks may buffer (4 x partitions x buffered.records.per.partition, plus
  # one poll batch of 2000 before the pause applies) + 1 KiB per record applied so far (the hot
  # tables: every incident, dedup identity and window stays in memory; not bounded yet). Checked at
  # every sample: a consumer that buffered its backlog would exceed it while the lag is large.
  # Records applied: the highest count seen (tasks leave the metric when unassigned at the end).
  bufrec=$((4 * parts * 1000 + 2000))
  local base_kb=$(((state_mb + 160) * 1024 + bufrec * 2)) worst
  worst=$(awk -v base="$base_kb" 'BEGIN { last = 0 } { rss = $2; sub("rss_kb=", "", rss); n = $4; sub("in=", "", n)
      if (n != "None" && n + 0 > last) last = n + 0; over = rss - (base + last); if (NR == 1 || over > w) { w = over; at = $0 } }
      END { printf "%d %s", w / 1024, at }' "$work/bp.samples")
  peak_mb=$((peak / 1024))
  bp_note="peak RSS ${peak_mb} MiB (state.memory.bytes ${state_mb} MiB), max lag $max_lag of $nrec, ${secs} s"
  if ((max_lag * 2 >= nrec)); then ok "bp: the backlog was there: lag up to $max_lag of $nrec records"; else
    bad "bp: lag up to $max_lag, want at least half of $nrec" "$work/bp.samples"; fi
  if ((peak_mb > 0 && ${worst%% *} <= 0)); then
    ok "bp: RSS within ${state_mb} + 160 MiB + 2 KiB x $bufrec buffered + 1 KiB x applied at every sample (peak ${peak_mb} MiB, closest ${worst%% *} MiB: ${worst#* })"
  else
    bad "bp: RSS over the bound by ${worst%% *} MiB at: ${worst#* }" "$work/bp.samples"
  fi
  compare bp
  kept_all bp 'city\..*|gridstream\..*|gridstream-partials'
  stop_broker
}

# --- bad input at volume ----------------------------------------------------------------------------
scenario_badinput() {
  parts=$bad_parts
  fresh
  rm -rf "$work/good" "$work/bad" "$work/baseline"
  "$bin" gen --output "$work/good" --partitions "$parts" --cells "${bad_city[0]}" --days "${bad_city[1]}" \
    --seed 13 --invalid-rate 0 --quiet || { bad "gen"; return; }
  "$py" "$tools" garbage --input "$work/good" --output "$work/bad" --partitions "$parts" --seed "$seed" \
    --share 0.1 --rounds "$bad_rounds" >"$work/bad.gen" 2>&1 || { bad "garbage" "$work/bad.gen"; return; }
  echo "     $(cat "$work/bad.gen")"
  "$bin" replay --input "$work/bad/replay" --output "$work/expected" --quiet >"$work/replay.out" 2>&1 &&
    "$bin" replay --input "$work/good" --output "$work/baseline" --quiet >>"$work/replay.out" 2>&1 ||
    { bad "replay" "$work/replay.out"; return; }
  broker bad || return
  local r f t p nk=0
  for ((r = 0; r < bad_rounds; r++)); do
    "$py" "$here/load_inputs.py" --bootstrap "$bs" --input "$work/bad/round$r/good" >>"$work/bad.load.out" 2>&1 ||
      { bad "badinput: confluent-kafka round $r" "$work/bad.load.out"; return; }
    for f in "$work/bad/round$r/kcat"/*; do
      t=${f##*/} p=${t##*.} t=${t%.*}
      kcat -P -b "$bs" -t "$t" -p "$p" -K '#%gs-soak-key%#' -D '#%gs-soak-end%#' \
        -X enable.idempotence=true <"$f" 2>>"$work/bad.kcat.err" ||
        { bad "badinput: kcat to $t/$p" "$work/bad.kcat.err"; return; }
      nk=$((nk + 1))
    done
  done
  echo "     produced in $bad_rounds rounds: confluent-kafka for the good records, then $nk kcat runs"
  local t0=$SECONDS
  if timeout 600 "$bin" run --until-end "${common[@]}" --set log.level=warn --set bootstrap.servers="$bs" \
       --set state.dir="$work/bad.state" --set num.stream.threads=2 >"$work/bad.out" 2>"$work/bad.err"; then
    ok "badinput: run --until-end exits 0 ($((SECONDS - t0)) s)"
  else
    bad "badinput: run --until-end exits 0" "$work/bad.err"
  fi
  compare bad --alerts-once
  # per reason: the engine's DLQ = replay's = the clean city's own + the bad records made
  "$py" "$tools" dlq-counts "$work/bad.actual/gridstream.dlq.rec" >"$work/bad.dlq.actual"
  "$py" "$tools" dlq-counts "$work/expected/gridstream.dlq.rec" >"$work/bad.dlq.expected"
  "$py" "$tools" dlq-counts "$work/baseline/gridstream.dlq.rec" >"$work/bad.dlq.baseline"
  awk 'FNR == NR { base[$1] = $2; next } { print $1, base[$1] + $2 }' "$work/bad.dlq.baseline" \
    "$work/bad/intended.txt" | sort >"$work/bad.dlq.want"
  local line reason
  printf '     %-22s %8s %8s %8s\n' reason engine replay made
  while read -r reason n; do
    printf '     %-22s %8s %8s %8s\n' "$reason" "$n" "$(awk -v r="$reason" '$1 == r { print $2 }' "$work/bad.dlq.expected")" \
      "$(awk -v r="$reason" '$1 == r { print $2 }' "$work/bad.dlq.want")"
  done <"$work/bad.dlq.actual"
  if diff <(sort "$work/bad.dlq.actual") <(sort "$work/bad.dlq.expected") >"$work/bad.dlq.diff" &&
     diff <(sort "$work/bad.dlq.actual" | awk '$2 > 0') "$work/bad.dlq.want" >>"$work/bad.dlq.diff" &&
     (($(awk '$2 > 0' "$work/bad.dlq.want" | grep -c .) == 11)); then
    ok "badinput: DLQ counts per reason equal replay's and the bad records made, all 11 reasons"
  else
    bad "badinput: DLQ counts per reason" "$work/bad.dlq.diff"
  fi
  # every good record processed as if there were no bad ones: replay's tables with and without them
  if "$py" "$ref/compare.py" --expected "$work/baseline" --actual "$work/expected" >"$work/bad.clean.cmp" 2>&1 ||
     [[ $(grep -c ' 0 differ$' "$work/bad.clean.cmp") -eq 4 && $(grep -c '^dlq: ' "$work/bad.clean.cmp") -eq 1 ]]; then
    ok "badinput: the bad records change no table (replay with and without them: only the DLQ differs)"
  else
    bad "badinput: the bad records change no table" "$work/bad.clean.cmp"
  fi
  kept_all badinput 'city\..*|gridstream\..*'
  bad_note="$(awk '{ s += $2 } END { print s }' "$work/bad/intended.txt") bad records of 11 reasons"
  stop_broker
}

alert_window_ms=${ALERT_WINDOW_MS:-2000}
crash_note= bp_note= bad_note=
for s in "${scenarios[@]}"; do
  echo "--- $s ($size)"
  f0=$fail t0=$SECONDS
  case $s in
    crash) scenario_crash ;;
    backpressure) scenario_backpressure ;;
    badinput) scenario_badinput ;;
    *) bad "unknown scenario '$s'" ;;
  esac
  res=ok
  ((fail > f0)) && res=FAIL
  summary+=("$(printf '%-13s %-4s %5d s  ' "$s" "$res" $((SECONDS - t0)))")
  case $s in crash) summary[-1]+=$crash_note ;; backpressure) summary[-1]+=$bp_note ;; badinput) summary[-1]+=$bad_note ;; esac
done
echo "--- summary ($size, seed $seed)"
for l in "${summary[@]}"; do echo "    $l"; done
echo "soak.sh: $pass passed, $fail failed"
((fail == 0))
