#!/usr/bin/env bash
# The benchmark harness on tiny inputs: every mode runs, emits well-formed JSON with the expected
# fields and sane values, and the report writes its files. Speed is never asserted.
#   smoke.sh GRIDSTREAM SCRATCH_DIR
set -euo pipefail
bin=$1 dir=$2
rm -rf "$dir"
mkdir -p "$dir"

"$bin" bench pipeline --cells 5 --days 2 --partitions 2 --threads 1,2 --runs 1 --json >"$dir/pipeline.json"
"$bin" bench state --cells 200,400 --memory 16777216 --dir "$dir" --json >"$dir/state.json"
"$bin" bench e2e --cells 5 --days 2 --partitions 2 --threads 1 --json >"$dir/e2e.json"
"$bin" bench restore --entries 2000 --value-bytes 64 --json >"$dir/restore.json"
"$bin" bench latency --quick --json >"$dir/latency.json"
"$bin" bench report --quick --out "$dir/report" --commit test >"$dir/report.txt" 2>/dev/null
"$bin" bench plan --preset zhengzhou --results "$dir/report/results.json" --json >"$dir/plan.json"
"$bin" bench plan --cells 5000 --events-per-second 100 --retention-days 30 \
  --results "$dir/report/results.json" >"$dir/plan.txt"
if "$bin" bench pipeline --threads 0 >/dev/null 2>&1; then echo "bad --threads accepted" >&2; exit 1; fi

python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
def load(name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)
def check(cond, what):
    if not cond:
        sys.exit("bench smoke: " + what)

p = load("pipeline.json")
check(p["mode"] == "pipeline" and p["available"] is True, "pipeline mode")
check(p["records"] > 0 and p["partitions"] == 2, "pipeline records")
check([r["threads"] for r in p["rows"]] == [1, 2], "pipeline rows")
for r in p["rows"]:
    check(r["gridstream_records_per_s"] > 0 and r["decode_only_records_per_s"] > 0, "rates")
    check(abs(r["ratio"] - r["gridstream_records_per_s"] / r["decode_only_records_per_s"]) < 1e-3 * max(1, r["ratio"]), "ratio")
a = p["allocations_per_million_records"]
check(a is None or a >= 0, "allocations")

s = load("state.json")
check(s["mode"] == "state" and len(s["rows"]) == 2, "state rows")
for r in s["rows"]:
    check(r["incidents"] == 2 * r["cells"], "state incidents")
    check(r["table_bytes_per_incident"] > 0 and r["packed_incident_bytes"] > 0, "state bytes")
    check(r["rocksdb_bytes"] > 0, "rocksdb bytes")
check(isinstance(s["rss_bounded_by_memory_bytes"], bool), "bound flag")

e = load("e2e.json")
check(e["mode"] == "e2e" and e["available"] is True and e["records"] > 0, "e2e mode")
check([(r["guarantee"], r["threads"]) for r in e["rows"]] == [("exactly_once", 1), ("at_least_once", 1)], "e2e rows")
for r in e["rows"]:
    check(r["gridstream_records_per_s"] > 0 and e["kcat_records_per_s"] > 0, "e2e rates")
    check(abs(r["ratio"] - r["gridstream_records_per_s"] / e["kcat_records_per_s"]) < 1e-2 * max(0.01, r["ratio"]), "e2e ratio")
    check(r["commits"] > 0 and r["join_seconds"] >= 0, "e2e commits")

rs = load("restore.json")
check(rs["mode"] == "restore" and rs["available"] is True and rs["entries"] == 2000, "restore mode")
check(rs["changelog_records"] == 2002 and rs["restore_records_per_s"] > 0, "restore records")
check(rs["statedb_records_per_s"] > 0 and rs["ratio"] > 0, "restore reference")
check(rs["ready_seconds"] >= rs["join_seconds"] and rs["finished_seconds"] >= rs["ready_seconds"], "restore times")

u = load("latency.json")
check(u["mode"] == "latency" and u["available"] is True and u["records"] > u["burst_records"] > 0, "latency mode")
check(u["capacity_records_per_s"] > 0 and u["commit_interval_ms"] > 0, "latency capacity")
check(u["target_p99_ms"] == u["commit_interval_ms"] + 20 and isinstance(u["target_met"], bool) and u["limit"], "latency target")
check([l["load_percent"] for l in u["levels"]] == [25, 50, 75], "latency levels")
q = u["cdf_quantiles"]
check(q[0] == 0 and q[-1] == 1 and q == sorted(q), "latency quantiles")
for l in u["levels"]:
    check(l["records"] > 0 and l["outputs"] >= l["alerts"] >= 0, "latency level records")
    check(abs(l["offered_records_per_s"] - u["capacity_records_per_s"] * l["load_percent"] / 100) <= 1, "latency offered load")
    ms = [l["p50_ms"], l["p99_ms"], l["p999_ms"], l["max_ms"]]
    if l["outputs"] == 0:
        check(ms == [None] * 4, "latency: no output, no figure")
        continue
    check(0 < ms[0] <= ms[1] <= ms[2] <= ms[3], "latency quantiles order")
    c = l["cdf_ms"]
    check(len(c) == len(q) and c == sorted(c) and c[-1] == ms[3], "latency cdf")
    k = [l["kafka_p50_ms"], l["kafka_p99_ms"], l["kafka_p999_ms"]]
    check(l["kafka_samples"] == 0 or 0 < k[0] <= k[1] <= k[2], "latency reference")
check(sum(l["outputs"] for l in u["levels"]) > 0, "latency: no output matched to its input")
check(sum(l["kafka_samples"] for l in u["levels"]) > 0, "latency: no reference sample")

r = load("report/results.json")
for k in ("machine", "commit", "pipeline", "state", "e2e", "latency", "restore", "planner_inputs"):
    check(k in r, "results.json: " + k)
check(r["planner_inputs"]["planner_per_core_records_per_s"] > 0, "planner inputs")
md = open(os.path.join(d, "report/RESULTS.md")).read()
check(r["latency"]["available"] is True and len(r["latency"]["levels"]) == 3, "results.json: latency")
for h in ("## pipeline", "## state", "## e2e", "## restore", "## latency", "## Capacity planner",
          "p99 ≤ commit.interval.ms + 20 ms at 50 % load"):
    check(h in md, "RESULTS.md: " + h)

pl = load("plan.json")
check(pl["preset"] == "zhengzhou" and pl["cores"] >= 1 and pl["instances"] >= 2, "plan")
check(pl["partitions"] >= pl["stream_threads"] and pl["memory_bytes_per_instance"] > 0, "plan sizes")
check(abs(pl["events_per_second"] - (332500 * 144 + 4716 * 2880 + 2604 * 1440 + 2500 * 6) / 86400) < 1, "plan load")
txt = open(os.path.join(d, "plan.txt")).read()
check("needs:" in txt and "assumed" in txt, "plan text")
print("bench smoke: ok")
PY
