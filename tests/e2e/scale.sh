#!/usr/bin/env bash
# Scale out and in while processing: instances of `gridstream run` join and leave one consumer
# group while the inputs are being produced, and the output tables still equal `gridstream replay`
# over the same records.
#   1. the inputs are produced; instance a starts alone on the backlog; b, then c join while it is
#      being processed (tasks move, state is restored from the changelogs on the new owner);
#   2. b is stopped with SIGTERM (commits, exits 0), c is killed with SIGKILL and restarted;
#   3. the live instances stop, and one `run --until-end` processes what is left and ends the input
#      (every window closes, as replay does at its end);
#   then the tables equal replay's (alerts by id, DLQ by source coordinates: a kill may leave a
#   cut-short transaction visible on the embedded cluster, see read_outputs.py). Every rebalance's
#   pause and restore time (the engine's "resumed" log lines) is printed.
#   scale.sh GRIDSTREAM_BINARY WORKDIR
set -uo pipefail
bin=$1 work=$2
parts=8
source "$(dirname "$0")/lib.sh"

city 40 40 7

# idle.timeout.ms=0: a partition read to its end leaves the watermark at once, as in replay at the
# end of its files. With the default 30 s, the live watermark (and so which incidents are OVERDUE
# before their rectification is applied, SPEC §11) would depend on wall-clock timing.
# commit.interval.ms=500 and 8 partitions keep every changelog partition under the embedded
# cluster's ~5 MB, so that a task can move to an instance without local state.
common=(--quiet --set metrics.port=0 --set kafka.session.timeout.ms=6000 --set log.level=info
        --set commit.interval.ms=500 --set num.stream.threads=1 --set idle.timeout.ms=0)
declare -A pid
start() { # instance id: a live run, state in $work/ID.state, log in $work/ID.N.err
  local id=$1 n
  n=$(ls "$work"/"$id".*.err 2>/dev/null | wc -l)
  "$bin" run "${common[@]}" --set bootstrap.servers="$bs" --set instance.id="$id" \
    --set state.dir="$work/$id.state" >>"$work/$id.out" 2>"$work/$id.$n.err" &
  pid[$id]=$!
  pids+=($!)
  log[$id]=$work/$id.$n.err
}
declare -A log
resumed() { grep -c "event=resumed" "${log[$1]}" 2>/dev/null; }
wait_resumed() { # id count seconds: until instance id has resumed `count` times
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    (($(resumed "$1") >= $2)) && return 0
    sleep 0.1
  done
  return 1
}
tasks_of() { grep "event=resumed" "${log[$1]}" | tail -1 | sed -n 's/.* tasks=\([0-9]*\).*/\1/p'; }

broker scale || exit 1
# the whole input first: the merge rule makes the result a function of the data only for records
# already in the topics (SPEC §4), so the load the instances share is this backlog
if load scale; then ok "load: $(tail -1 "$work/scale.load.out")"; else bad "load" "$work/scale.load.out"; fi

start a
if wait_resumed a 1 60 && [[ $(tasks_of a) == "$parts" ]]; then ok "a alone: all $parts tasks"; else
  bad "a alone: all $parts tasks" "${log[a]}"; fi
sleep 3
start b
if wait_resumed b 1 90 && (($(tasks_of b) >= 1)); then ok "b joins under load: $(tasks_of b) tasks move to it"; else
  bad "b joins and gets tasks" "${log[b]}" "${log[a]}"; fi
sleep 3
start c
if wait_resumed c 1 90 && (($(tasks_of c) >= 1)); then ok "c joins under load: $(tasks_of c) tasks"; else
  bad "c joins and gets tasks" "${log[c]}"; fi
sleep 3
na=$(resumed a)
kill -TERM "${pid[b]}"
wait "${pid[b]}"
rc=$?
if [[ $rc -eq 0 ]] && grep -q "event=stopped" "${log[b]}"; then ok "b: SIGTERM commits and exits 0"; else
  bad "b: SIGTERM exits 0 (rc $rc)" "${log[b]}"; fi
# b's tasks go to a and c once b's session expires (static members do not leave on close)
if wait_resumed a $((na + 1)) 60; then ok "b's tasks taken over ($(tasks_of a) on a, $(tasks_of c) on c)"; else
  bad "b's tasks taken over" "${log[a]}"; fi
sleep 2
kill -KILL "${pid[c]}"
wait "${pid[c]}" 2>/dev/null
sleep 1
start c
if wait_resumed c 1 90; then ok "c killed and restarted: resumes with $(tasks_of c) tasks"; else
  bad "c restarted" "${log[c]}"; fi
sleep 3 # a and c work on what is left
for id in a c; do kill -TERM "${pid[$id]}"; done
rcs=
for id in a c; do wait "${pid[$id]}"; rcs+=" $?"; done
[[ $rcs == " 0 0" ]] && ok "a, c: SIGTERM exits 0" || bad "a, c: SIGTERM exits 0 (rc$rcs)" "${log[a]}" "${log[c]}"
# the static members' sessions expire, then one run ends the input with every task
sleep 8
if timeout 300 "$bin" run --until-end "${common[@]}" --set bootstrap.servers="$bs" --set instance.id=a \
     --set state.dir="$work/a.state" >>"$work/a.out" 2>"$work/final.err"; then
  ok "final: run --until-end exits 0"
else
  bad "final: run --until-end exits 0" "$work/final.err"
fi
# state really moved: some instance restored another's commits from the changelogs
# (grep reads the files itself: with pipefail, `cat | grep -q` fails when grep stops first and cat
# gets SIGPIPE writing the next file; seen once in CI)
if grep -q "event=restore_end.*unit=task.*applied=[1-9]" "$work"/[bc].*.err; then
  ok "tasks moved with their state (restored from the changelogs on b or c)"
else
  bad "tasks moved with their state" "$work/b.0.err"
fi
compare scale --dlq-by-source

# per-rebalance pause and restore time, from the "resumed" lines of every instance
cat "$work"/[abc].*.err "$work/final.err" | "$py" -c '
import re, sys
p, r = [], []
for line in sys.stdin:
    if "event=resumed" in line:
        p.append(int(re.search(r"pause_ms=(\d+)", line).group(1)))
        r.append(int(re.search(r"restore_ms=(\d+)", line).group(1)))
p.sort(); r.sort()
med = lambda v: v[len(v) // 2] if v else 0
print("     %d rebalances: pause median %d ms, max %d ms; restore median %d ms, max %d ms"
      % (len(p), med(p), p[-1] if p else 0, med(r), r[-1] if r else 0))'

echo "scale.sh: $pass passed, $fail failed"
((fail == 0))
