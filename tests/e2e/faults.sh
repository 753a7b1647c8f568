#!/usr/bin/env bash
# Broker faults: `gridstream run --until-end` (exactly_once) on an embedded cluster whose faults
# are injected through `gridstream broker --control`, compared table for table with `gridstream
# replay` over the same records (DLQ by source coordinates, alerts by id: the embedded cluster
# writes no transaction markers, so records of aborted transactions stay visible there).
#   0. the control: bad commands get "error: ..." and change nothing;
#   1. retriable: leaders pinned so that every broker serves every request kind; errors stacked
#      before the run (NOT_LEADER on Produce and Fetch on every broker, InitProducerId,
#      AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit on their coordinators) and a
#      slow broker (a Produce answered after 6 s, records timing out after 3 s); while it runs: the
#      transaction coordinator's broker down for 10 s (input partition 1 leaderless meanwhile, so
#      the run cannot end during the outage) with 100 ms RTT on every broker and the coordinator
#      moved away after 5 s, then leader moves and a group coordinator move: exit 0, every
#      stacked error consumed, an abort and a rewind seen, tables equal;
#   2. fencing: the embedded cluster fences nothing (a second process with the same ids simply
#      joins as another member), so the broker's answers are injected into a running process:
#      FENCED_INSTANCE_ID on Heartbeat, then PRODUCER_FENCED on EndTxn in a second run with the
#      same application.id and instance.id: each stops at once with event=fenced naming the ids
#      and exit 1; a third run with the same ids resumes from the last commit, exit 0, tables equal;
#   3. non-retriable: TRANSACTIONAL_ID_AUTHORIZATION_FAILED on InitProducerId (exit 1 at start),
#      then TOPIC_AUTHORIZATION_FAILED on Produce once a quarter of the records are in (exit 1,
#      event=fatal_error naming it, no endless abort and retry); a normal run over the same
#      state.dir resumes from the last commit, exit 0, tables equal.
# About 2 minutes under ASan on 2 cores.
#   faults.sh GRIDSTREAM_BINARY WORKDIR
set -uo pipefail
bin=$1 work=$2
parts=3
source "$(dirname "$0")/lib.sh"
t_start=$SECONDS

city 30 30 5

common=(--quiet --set metrics.port=0 --set kafka.session.timeout.ms=6000 --set log.level=info
        --set num.stream.threads=1)

# cbroker NAME: `gridstream broker --control` (3 brokers, ids 1..3) in the background, its stdin
# and stdout on two FIFOs held open here as $ctl_in and $ctl_out; sets $bs.
cbroker() {
  local name=$1 line=
  rm -f "$work/$name.ctl.in" "$work/$name.ctl.out"
  mkfifo "$work/$name.ctl.in" "$work/$name.ctl.out"
  "$bin" broker --control --partitions "$parts" <"$work/$name.ctl.in" >"$work/$name.ctl.out" \
    2>"$work/$name.broker.err" &
  ctl_pid=$!
  pids+=("$ctl_pid")
  exec {ctl_in}>"$work/$name.ctl.in" {ctl_out}<"$work/$name.ctl.out"
  ctl_log=$work/$name.ctl
  read -r -t 60 line <&"$ctl_out"
  bs=${line#bootstrap: }
  [[ $line == bootstrap:* ]] && return 0
  bad "$name: broker --control started" "$work/$name.broker.err"
  return 1
}
# stop_cbroker: SIGTERM the control broker, wait for it, close its FIFOs, forget its pid
stop_cbroker() {
  local p keep=()
  kill -TERM "$ctl_pid" 2>/dev/null
  wait "$ctl_pid" 2>/dev/null
  exec {ctl_in}>&- {ctl_out}<&-
  for p in "${pids[@]}"; do [[ $p == "$ctl_pid" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# ctl COMMAND...: one control command; its answer in $reply; 0 when it is "ok ..."
ctl() {
  reply=
  echo "$*" >&"$ctl_in"
  read -r -t 60 reply <&"$ctl_out"
  echo "$* -> $reply" >>"$ctl_log"
  [[ $reply == ok* ]]
}
# must COMMAND...: ctl, counted as a failure when the answer is not "ok"
must() { ctl "$@" || bad "control '$*' answers ok" "$reply"; }
# start_run NAME INSTANCE STATE [--set k=v]...: `run --until-end` in the background, $run_pid;
# returns once it logged its assignment (false if it did not within 120 s)
start_run() {
  local name=$1 inst=$2 state=$3
  shift 3
  "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" --set state.dir="$state" \
    --set instance.id="$inst" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  run_pid=$!
  pids+=("$run_pid")
  for _ in $(seq 1200); do
    grep -q "event=assigned" "$work/$name.err" && return 0
    kill -0 "$run_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# finish_run: waits for $run_pid (at most $1 s, default 240), sets $rc (124 on timeout)
finish_run() {
  local limit=${1:-240} t0=$SECONDS
  while kill -0 "$run_pid" 2>/dev/null && ((SECONDS - t0 < limit)); do sleep 0.2; done
  if kill -0 "$run_pid" 2>/dev/null; then
    kill -KILL "$run_pid" 2>/dev/null
    wait "$run_pid" 2>/dev/null
    rc=124
  else
    wait "$run_pid"
    rc=$?
  fi
}
alive() { kill -0 "$run_pid" 2>/dev/null; }
# pending_zero REQUEST...: every broker-errors entry of these requests was consumed (waits 30 s)
pending_zero() {
  local req left
  for req in "$@"; do
    left=
    for _ in $(seq 60); do
      ctl pending all "$req" && [[ $reply == "ok 0" ]] && break
      left=$reply
      sleep 0.5
    done
    [[ $reply == "ok 0" ]] || { echo "$req: $left"; return 1; }
  done
}

# pin_leaders: partition p of every topic led by broker p + 1
pin_leaders() {
  local t p
  for t in city.reports city.sensors city.video city.cases gridstream.kpi gridstream.incidents \
           gridstream.alerts gridstream.dlq gridstream-partials gridstream-state-changelog \
           gridstream-rollup-changelog; do
    for p in 0 1 2; do ctl leader $t $p $((p + 1)) || bad "control: leader $t $p" "$reply"; done
  done
}

# --- 0. the control itself: bad commands get an error line and change nothing --------------------
if cbroker ctl; then
  n_bad=0
  for c in "bogus" "errors Produce" "errors NoSuchRequest 1 NOT_LEADER_FOR_PARTITION" \
           "errors Produce 0 NOT_LEADER_FOR_PARTITION" "errors Produce 1 NO_SUCH_ERROR" \
           "down 4" "up x" "rtt all -5" "leader no.such.topic 0 1" "leader city.reports 99 1" \
           "leader city.reports 0 7" "coordinator shard k 1" "pending 0 Produce" ""; do
    if ctl "$c"; then n_bad=$((n_bad + 1)); echo "'$c' -> $reply"; fi
    [[ $reply == error:* ]] || n_bad=$((n_bad + 1))
  done
  if ((n_bad == 0)) && ctl help && ctl broker-errors 2 EndTxn 3 NOT_COORDINATOR &&
     ctl pending all EndTxn && [[ $reply == "ok 3" ]] && kill -0 "$ctl_pid"; then
    ok "control: 14 bad commands answered 'error: ...', good ones 'ok', broker alive"
  else
    bad "control: bad commands refused" "$ctl_log"
  fi
  stop_cbroker
fi

# --- 1. retriable faults -----------------------------------------------------------------------------
# one stream thread, instance r1: transactional.id gridstream-r1-0, group gridstream. Leaders are
# pinned first (partition p of every topic on broker p + 1) so that every broker serves requests
# of every kind and the outage of broker 2 holds up input partition 1: the run cannot end while
# broker 2 is down.
txid=gridstream-r1-0
if cbroker retry && load retry; then
  pin_leaders
  must coordinator group gridstream 1
  must coordinator txn $txid 2
  must broker-errors all Produce 2 NOT_LEADER_FOR_PARTITION
  # then a slow broker: each broker answers its third Produce after 6 s, its records time out
  # after 3 s (delivery fails, yet they may be written): the engine must abort and rewind
  must broker-errors all Produce 1 NO_ERROR 6000
  must broker-errors all Fetch 2 NOT_LEADER_FOR_PARTITION
  must broker-errors 2 InitProducerId 2 COORDINATOR_LOAD_IN_PROGRESS
  # broker 3 is the transaction coordinator from the outage on
  must broker-errors 3 AddPartitionsToTxn 2 CONCURRENT_TRANSACTIONS
  must broker-errors 3 AddOffsetsToTxn 1 COORDINATOR_NOT_AVAILABLE
  must broker-errors 3 EndTxn 2 NOT_COORDINATOR
  must broker-errors all TxnOffsetCommit 1 COORDINATOR_LOAD_IN_PROGRESS
  if start_run retry r1 "$work/retry.state" --set kafka.message.timeout.ms=3000 \
       --set kafka.request.timeout.ms=2000; then
    # the transaction coordinator's broker down for 10 s (its partitions leaderless meanwhile),
    # latency on the others; after 5 s the coordinator moves to a live broker
    sleep 1
    alive && down_mid=1 || down_mid=0
    must down 2
    must rtt all 100
    sleep 5
    must coordinator txn $txid 3
    sleep 5
    must up 2
    alive || down_mid=0
    must rtt all 0
    # leaders move, then the group coordinator
    must leader city.reports 0 3
    must leader gridstream-state-changelog 1 1
    must leader gridstream.kpi 2 2
    must coordinator group gridstream 3
    finish_run 180
    left=
    if [[ $rc -eq 0 ]]; then ok "retry: run --until-end under faults exits 0"; else
      bad "retry: run exits 0 (rc $rc)" "$work/retry.err"; fi
    if ((down_mid)); then ok "retry: broker 2 (the transaction coordinator) was down 10 s mid-run"; else
      bad "retry: the outage landed while the run was running" "$work/retry.ctl"; fi
    # TxnOffsetCommit goes to the group coordinator the producer last found: one of the three
    ctl pending all TxnOffsetCommit
    [[ $reply == "ok 0" || $reply == "ok 1" || $reply == "ok 2" ]] || left="TxnOffsetCommit: $reply"
    if [[ -z ${left:-} ]] &&
       left=$(pending_zero Produce Fetch InitProducerId AddPartitionsToTxn AddOffsetsToTxn EndTxn); then
      ok "retry: every injected request error was met by the engine"
    else
      bad "retry: injected errors not consumed: $left" "$work/retry.ctl"
    fi
    if grep -q "event=rewound" "$work/retry.err"; then
      ok "retry: records timed out on a slow broker: transaction aborted, state rewound ($(grep -c event=rewound "$work/retry.err"))"
    else
      bad "retry: abort and rewind after the abortable error" "$work/retry.err"
    fi
  else
    bad "retry: run started" "$work/retry.err"
  fi
  compare retry --dlq-by-source
  stop_cbroker
fi

# --- 2. fencing ----------------------------------------------------------------------------------
# A second process with the same application.id and instance.id (a copy started by mistake, say on
# another machine with its own state.dir) takes over on a Kafka cluster: its InitProducerId fences
# the first one's transactional producer and its JoinGroup fences the first one's static member.
# The embedded cluster does neither (measured: both processes run as two members, nothing is
# fenced), so the test gives the running process the broker's answers itself: FENCED_INSTANCE_ID
# on a Heartbeat, then, for the next run, PRODUCER_FENCED on EndTxn. Each fenced run must stop at
# once with a message naming the fencing and exit 1, committing nothing more; a run with the same
# ids then finishes the work from the committed state (the first run's state.dir, or none).
if cbroker fence && load fence; then
  must rtt all 20 # slower runs: the faults surely land while they run
  i=0
  for fault in "Heartbeat 1 FENCED_INSTANCE_ID" "EndTxn 1 PRODUCER_FENCED"; do
    i=$((i + 1))
    if start_run fence$i f2 "$work/fence$i.state"; then
      sleep 2
      alive && mid=1 || mid=0
      must errors $fault
      finish_run 90
      if ((mid)) && [[ $rc -eq 1 ]] && grep -Eq "event=fenced .*instance.id=f2" "$work/fence$i.err"; then
        ok "fence: ${fault##* } mid-run: exit 1, the message names the fencing"
      else
        bad "fence: ${fault##* } mid-run: exit 1 and event=fenced (rc $rc, mid-run $mid)" "$work/fence$i.err"
      fi
    else
      bad "fence: run $i started" "$work/fence$i.err"
    fi
  done
  must rtt all 0
  timeout 200 "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" \
    --set state.dir="$work/fence1.state" --set instance.id=f2 >"$work/fence3.out" 2>"$work/fence3.err"
  rc=$?
  n=$(sed -n 's/.*event=progress records_in=\([0-9]*\).*/\1/p' "$work/fence3.err" | tail -1)
  if [[ $rc -eq 0 && -n $n ]] && ((n < nrec)); then
    ok "fence: a run with the same ids resumes from the last commit ($n of $nrec records), exit 0"
  else
    bad "fence: the run after the fencing resumes and exits 0 (rc $rc, records_in ${n:-?} of $nrec)" "$work/fence3.err"
  fi
  compare fence --dlq-by-source
  stop_cbroker
fi

# --- 3. non-retriable faults ---------------------------------------------------------------------
if cbroker auth && load auth; then
  must errors InitProducerId 1 TRANSACTIONAL_ID_AUTHORIZATION_FAILED
  timeout 120 "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" \
    --set state.dir="$work/auth.state" --set instance.id=a3 >"$work/auth0.out" 2>"$work/auth0.err"
  rc=$?
  if [[ $rc -eq 1 ]] && grep -q "TRANSACTIONAL_ID_AUTHORIZATION_FAILED\|not authorized\|authorization" "$work/auth0.err"; then
    ok "auth: InitProducerId refused: exit 1, message names the authorization failure"
  else
    bad "auth: InitProducerId refused: exit 1 with a message (rc $rc)" "$work/auth0.err"
  fi
  port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if start_run auth1 a3 "$work/auth.state" --set metrics.port="$port" --set metrics.host=127.0.0.1; then
    # once a quarter of the records are in and a commit has ended after that (so that the state
    # holds positions to resume from), the next Produce request is refused
    commits() {
      curl -s "http://127.0.0.1:$port/metrics" |
        awk '/^gridstream_commit_duration_seconds_count/ { s += $NF } END { print int(s) }'
    }
    for _ in $(seq 1200); do
      n=$(curl -s "http://127.0.0.1:$port/metrics" |
            awk '/^gridstream_records_in_total\{/ { s += $NF } END { print int(s) }')
      ((${n:-0} >= nrec / 4)) && break
      sleep 0.05
    done
    c0=$(commits)
    for _ in $(seq 200); do
      (($(commits) > ${c0:-0})) && break
      sleep 0.01
    done
    alive && mid=1 || mid=0
    must errors Produce 1 TOPIC_AUTHORIZATION_FAILED
    finish_run 120
    must clear Produce
    if ((mid)) && [[ $rc -eq 1 ]] && grep -q "event=fatal_error .*TOPIC_AUTHORIZATION_FAILED\|event=fatal_error .*authoriz" "$work/auth1.err"; then
      ok "auth: Produce refused mid-run: exit 1, message names the authorization failure"
    else
      bad "auth: Produce refused mid-run: exit 1 with event=fatal_error (rc $rc)" "$work/auth1.err"
    fi
  else
    bad "auth: run started" "$work/auth1.err"
  fi
  # the state left behind is sound: a normal run over it finishes and the tables are right
  timeout 200 "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" \
    --set state.dir="$work/auth.state" --set instance.id=a3 >"$work/auth2.out" 2>"$work/auth2.err"
  rc=$?
  # it goes on from the last commit: it reads fewer records than the inputs hold
  n=$(sed -n 's/.*event=progress records_in=\([0-9]*\).*/\1/p' "$work/auth2.err" | tail -1)
  if [[ $rc -eq 0 && -n $n ]] && ((n < nrec)); then
    ok "auth: the next run over the same state.dir resumes from the last commit ($n of $nrec records) and exits 0"
  else
    bad "auth: the next run resumes and exits 0 (rc $rc, records_in ${n:-?} of $nrec)" "$work/auth2.err"
  fi
  compare auth --dlq-by-source
  stop_cbroker
fi

echo "faults.sh: $pass passed, $fail failed ($((SECONDS - t_start)) s)"
((fail == 0))
