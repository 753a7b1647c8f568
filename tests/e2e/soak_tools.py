#!/usr/bin/env python3
"""Helpers of tests/e2e/soak.sh (fault-tolerance scenarios of `gridstream run`).

  garbage  --input GOOD --output DIR --partitions N --seed S --share 0.1 --rounds R
      Derives bad records of every SPEC §3 DLQ reason from the good city in GOOD (replay input
      files) and mixes them in: DIR/replay/ is replay's input (per partition: good slice 0, bad
      slice 0, good slice 1, ...), DIR/round<r>/good/ is what confluent-kafka produces in round r
      and DIR/round<r>/kcat/<topic>.<p> what kcat produces after it (binary safe: multi-byte key
      and message delimiters KEY_DELIM / MSG_DELIM, checked to occur in no record).
      DIR/intended.txt: "<reason> <count>" per reason, the share of bad records in the stream.
  dlq-counts FILE
      "<reason> <count>" per reason of a replay-style DLQ file (key = reason).
  alerts   --bootstrap B --kills FILE --window-ms W --expected DIR
      Reads gridstream.alerts (read_committed) with each record's CreateTime. Checks: the set of
      alert ids is replay's; every copy of an id has the same content (all fields but `message`);
      every copy but the last was written within W ms before one of the SIGKILLs listed in FILE
      (epoch ms, one a line), i.e. by a transaction a crash cut short. Prints the number of
      duplicate copies and the oldest such copy's age; exit 1 on any violation.
  watch    --pid P --port PORT --out FILE [--every 0.5]
      Samples /proc/P/status (VmRSS, VmHWM) and the /metrics lag and records-in until P exits;
      prints "peak_rss_kb=.. hwm_kb=.. max_lag=.. samples=.." and writes every sample to FILE.
  lows     --bootstrap B
      Lists partitions whose first records are gone (the embedded cluster keeps about 5 MB per
      partition); exit 1 if any.
  changelog --bootstrap B --topic T
      One line per gs.txn group of each partition of a changelog topic (diagnostics).
"""

import argparse
import collections
import os
import random
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import gsproto  # noqa: E402

KEY_DELIM = b"#%gs-soak-key%#"
MSG_DELIM = b"#%gs-soak-end%#"
DAY = 86400000
HOUR = 3600000

# reasons of SPEC §3 in check order, with the topics each can be made on
REASONS = [
    ("decode", gsproto.TOPICS),
    ("missing_id", gsproto.TOPICS),
    ("invalid_enum", ["city.reports", "city.sensors", "city.cases"]),
    ("invalid_cell", gsproto.TOPICS),
    ("invalid_problem_code", ["city.reports"]),
    ("invalid_time", gsproto.TOPICS),
    ("invalid_number", ["city.reports", "city.sensors", "city.video"]),
    ("invalid_position", ["city.reports", "city.sensors", "city.video"]),
    ("key_mismatch", gsproto.TOPICS),
    ("wrong_partition", gsproto.TOPICS),
    ("unknown_ref", ["city.cases"]),
]


def make_bad(rng, reason, topic, key, value, nparts, serial):
    """(key, value, partition) of one record rejected with `reason`, derived from a good one."""
    pb = gsproto.pb
    m = gsproto.TOPIC_TYPES[topic]()
    m.ParseFromString(value)
    home = gsproto.partition_for(key, nparts)
    if reason == "decode":
        bad = rng.choice([value + b"\x0a\xc8\x01abc", b"\xff\xff\xff\xff", value[:1] + b"\x12\x7f"])
        return key, bad, home
    if reason == "missing_id":
        field = {"city.reports": ["report_id"], "city.sensors": ["sensor_id"],
                 "city.video": ["detection_id", "camera_id"],
                 "city.cases": ["case_id", "ref_id"]}[topic]
        setattr(m, rng.choice(field), "")
    elif reason == "invalid_enum":
        if topic == "city.reports":
            m.channel = rng.choice([0, pb.VIDEO, pb.SENSOR, 12])
        elif topic == "city.sensors":
            if rng.random() < 0.5:
                m.kind = rng.choice([0, 8])
            else:
                m.state = rng.choice([0, 3])
        elif rng.random() < 0.5:
            m.stage = rng.choice([0, 8])
        else:
            m.ref_channel = rng.choice([0, 10])
    elif reason == "invalid_cell":
        m.cell = rng.choice([m.cell // 1000 * 1000, 44090200100100, 4409020010010011,
                             99999999999999])
        key = str(m.cell).encode()
        return key, m.SerializeToString(), gsproto.partition_for(key, nparts)
    elif reason == "invalid_problem_code":
        m.problem_code = rng.choice([30101, 10001, 10100, 0, 20000, 1234567])
    elif reason == "invalid_time":
        if topic == "city.cases" and rng.random() < 0.5:
            m.stage = pb.FILED
            m.deadline_ms = m.event_time_ms - rng.choice([1, HOUR])
        else:
            m.event_time_ms = rng.choice([0, -1000, -m.event_time_ms])
    elif reason == "invalid_number":
        x = rng.random()
        if topic == "city.video" and x < 0.6:
            m.confidence = rng.choice([1.5, -0.1, float("nan")])
        elif topic == "city.sensors" and x < 0.4:
            m.value = rng.choice([float("nan"), float("inf")])
        elif x < 0.8:
            m.lat = float("nan")
        else:
            m.lon = rng.choice([float("inf"), float("-inf")])
    elif reason == "invalid_position":
        if rng.random() < 0.6:
            m.lat = rng.choice([91.0, -90.0001, 123.4])
        else:
            m.lon = rng.choice([180.5, -181.0])
    elif reason == "key_mismatch":
        key = rng.choice([b"0" + key, key + b" ", str(m.cell + 1).encode()])
    elif reason == "wrong_partition":
        if nparts < 2:
            raise SystemExit("soak_tools: wrong_partition needs 2 partitions or more")
        return key, value, (home + rng.randint(1, nparts - 1)) % nparts
    elif reason == "unknown_ref":
        # a case event of a signal nobody reported: a fresh identity, so never a duplicate
        ev = pb.CaseEvent(case_id="SOAK-C%d" % serial, stage=rng.choice([pb.FILED, pb.DISPATCHED,
                                                                         pb.CLOSED]),
                          ref_channel=rng.choice([pb.INSPECTOR, pb.HOTLINE, pb.CITIZEN_APP]),
                          ref_id="SOAK-GHOST-%d" % serial, cell=m.cell,
                          event_time_ms=m.event_time_ms, department="soak")
        if ev.stage == pb.FILED:
            ev.deadline_ms = ev.event_time_ms + DAY
        return str(ev.cell).encode(), ev.SerializeToString(), gsproto.partition_for(
            str(ev.cell).encode(), nparts)
    return key, m.SerializeToString(), home


def event_time(topic, value):
    m = gsproto.decode(gsproto.TOPIC_TYPES[topic], value)
    return None if m is None else m.event_time_ms


def cmd_garbage(a):
    rng = random.Random(a.seed)
    good = {}  # (topic, p) -> records
    for t in gsproto.TOPICS:
        for p in range(a.partitions):
            path = os.path.join(a.input, t, "%d.rec" % p)
            good[(t, p)] = gsproto.read_records(path) if os.path.exists(path) else []
    n_good = sum(len(v) for v in good.values())
    n_bad = int(round(n_good * a.share / (1 - a.share)))
    # round r's bad records come after slice r of every partition and are derived from records of
    # slice r whose event time is at most the earliest end of slice r over all partitions: a
    # rejected record is merged at its event time (SPEC §11), so a later one would hold its
    # partition back and change the order in which good records are applied
    slices = {}  # (topic, p, r) -> records
    for (t, p), g in good.items():
        cuts = [len(g) * r // a.rounds for r in range(a.rounds + 1)]
        for r in range(a.rounds):
            slices[(t, p, r)] = g[cuts[r]:cuts[r + 1]]
    pools = {}
    for r in range(a.rounds):
        ends = [max(x for x in (event_time(t, v) for _, v in slices[(t, p, r)]) if x is not None)
                for t in gsproto.TOPICS for p in range(a.partitions) if slices[(t, p, r)]]
        limit = min(ends)
        for t in gsproto.TOPICS:
            pools[(t, r)] = [kv for p in range(a.partitions) for kv in slices[(t, p, r)]
                             if (event_time(t, kv[1]) or limit + 1) <= limit]
    bad = collections.defaultdict(list)  # (topic, p, round) -> records
    intended = collections.Counter()
    for i in range(n_bad):
        reason, topics = REASONS[i % len(REASONS)]
        r = rng.randrange(a.rounds)
        topic = rng.choice([t for t in topics if pools[(t, r)]])
        k, v = rng.choice(pools[(topic, r)])
        k2, v2, p = make_bad(rng, reason, topic, k, v, a.partitions, i)
        bad[(topic, p, r)].append((k2, v2))
        intended[reason] += 1
    for recs in list(good.values()) + list(bad.values()):
        for k, v in recs:
            if KEY_DELIM in k or KEY_DELIM in v or MSG_DELIM in k or MSG_DELIM in v:
                raise SystemExit("soak_tools: a record holds a kcat delimiter; change the seed")
    for t in gsproto.TOPICS:
        os.makedirs(os.path.join(a.output, "replay", t), exist_ok=True)
        for r in range(a.rounds):
            os.makedirs(os.path.join(a.output, "round%d" % r, "good", t), exist_ok=True)
            os.makedirs(os.path.join(a.output, "round%d" % r, "kcat"), exist_ok=True)
        for p in range(a.partitions):
            merged = []
            for r in range(a.rounds):
                gs = slices[(t, p, r)]
                bs = bad.get((t, p, r), [])
                merged += gs + bs
                gsproto.write_records(os.path.join(a.output, "round%d" % r, "good", t,
                                                   "%d.rec" % p), gs)
                if bs:
                    with open(os.path.join(a.output, "round%d" % r, "kcat", "%s.%d" % (t, p)),
                              "wb") as f:
                        for k, v in bs:
                            f.write(k + KEY_DELIM + v + MSG_DELIM)
            gsproto.write_records(os.path.join(a.output, "replay", t, "%d.rec" % p), merged)
    with open(os.path.join(a.output, "intended.txt"), "w") as f:
        for reason, _ in REASONS:
            f.write("%s %d\n" % (reason, intended[reason]))
    print("garbage: %d good + %d bad records (%.1f %% bad), %d reasons, %d rounds" % (
        n_good, n_bad, 100.0 * n_bad / (n_good + n_bad), len(intended), a.rounds))


def cmd_dlq_counts(a):
    c = collections.Counter(k.decode() for k, _ in gsproto.read_records(a.file))
    for reason in gsproto.DLQ_REASONS:
        print("%s %d" % (reason, c.get(reason, 0)))
    for reason in sorted(set(c) - set(gsproto.DLQ_REASONS)):
        print("%s %d" % (reason, c[reason]))


def cmd_alerts(a):
    from confluent_kafka import Consumer, TopicPartition
    kills = sorted(int(x) for x in open(a.kills).read().split())
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "soak-alerts",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "enable.partition.eof": True})
    topic = "gridstream.alerts"
    md = c.list_topics(topic, timeout=10)
    copies = collections.defaultdict(list)  # id -> [(timestamp ms, content)]
    for p in sorted(md.topics[topic].partitions):
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if hi <= lo:
            continue
        c.assign([TopicPartition(topic, p, lo)])
        while True:
            m = c.poll(10)
            if m is None:
                raise SystemExit("soak_tools: %s[%d]: no end within 10 s" % (topic, p))
            if m.error():
                if m.error().code() == -191:
                    break
                raise SystemExit("soak_tools: %s" % m.error())
            al = gsproto.pb.Alert.FromString(m.value())
            al.message = ""
            copies[m.key()].append((m.timestamp()[1], al.SerializeToString()))
            if m.offset() + 1 >= hi:
                break
    c.close()
    want = {k for k, _ in gsproto.read_records(os.path.join(a.expected, "gridstream.alerts.rec"))}
    bad = 0
    if set(copies) != want:
        print("alerts: ids differ from replay's: %d missing, %d unexpected" % (
            len(want - set(copies)), len(set(copies) - want)))
        bad += 1
    dups = oldest = 0
    for k, cs in sorted(copies.items()):
        if len({v for _, v in cs}) != 1:
            print("alerts: %s: copies differ in content" % k.decode())
            bad += 1
        cs.sort()
        for ts, _ in cs[:-1]:
            dups += 1
            after = [x for x in kills if x >= ts]
            age = after[0] - ts if after else None
            if age is None or age > a.window_ms:
                print("alerts: %s: a copy written at %d is not within %d ms before a kill "
                      "(next kill %s)" % (k.decode(), ts, a.window_ms, after[0] if after else "none"))
                bad += 1
            else:
                oldest = max(oldest, age)
    print("alerts: %d ids (replay %d), %d duplicate copies, all within %d ms before a kill "
          "(oldest %d ms)" % (len(copies), len(want), dups, a.window_ms, oldest)
          if not bad else "alerts: %d violations" % bad)
    sys.exit(1 if bad else 0)


def cmd_changelog(a):
    """One line per group of gs.txn header in each changelog partition (diagnostics)."""
    import struct
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "soak-changelog",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "enable.partition.eof": True})
    md = c.list_topics(a.topic, timeout=10)
    for p in sorted(md.topics[a.topic].partitions):
        lo, hi = c.get_watermark_offsets(TopicPartition(a.topic, p), timeout=10)
        print("%s[%d]: offsets %d..%d" % (a.topic, p, lo, hi))
        if hi <= lo:
            continue
        c.assign([TopicPartition(a.topic, p, lo)])
        group = None
        def show(g):
            print("  %7d..%-7d seq %4d nonce %016x entries %6d %s" % (
                g["first"], g["last"], g["seq"], g["nonce"], g["n"],
                "marker " + str(g["marker"]) if g["marker"] is not None else "NO MARKER"))
        while True:
            m = c.poll(10)
            if m is None or (m.error() and m.error().code() == -191):
                break
            h = dict(m.headers() or [])
            seq, nonce = struct.unpack(">qQ", h["gs.txn"]) if "gs.txn" in h else (-1, 0)
            if group is None or (seq, nonce) != (group["seq"], group["nonce"]) or \
                    group["marker"] is not None:
                if group:
                    show(group)
                group = {"first": m.offset(), "seq": seq, "nonce": nonce, "n": 0, "marker": None}
            group["last"] = m.offset()
            if m.key() == b"\xffcommit":
                v = m.value()
                n = v[16]
                group["marker"] = list(struct.unpack(">%dq" % n, v[17:17 + 8 * n]))
            else:
                group["n"] += 1
            if m.offset() + 1 >= hi:
                break
        if group:
            show(group)
    c.close()


def cmd_lows(a):
    """Topics whose partitions lost their first records (the embedded cluster's size limit)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "soak-lows"})
    md = c.list_topics(timeout=10)
    lost = 0
    for t in sorted(md.topics):
        if t.startswith("__"):
            continue
        for p in sorted(md.topics[t].partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
            if lo > 0:
                print("%s[%d]: records before offset %d dropped (end %d)" % (t, p, lo, hi))
                lost += 1
    c.close()
    sys.exit(1 if lost else 0)


def scrape(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None, None
    lag = rin = 0.0
    for line in text.splitlines():
        if line.startswith("gridstream_consumer_lag_records{"):
            lag += float(line.split()[-1])
        elif line.startswith("gridstream_records_in_total{"):
            rin += float(line.split()[-1])
    return lag, rin


def cmd_watch(a):
    peak = hwm = 0
    max_lag = 0.0
    n = 0
    t0 = time.time()
    with open(a.out, "w") as out:
        while True:
            try:
                with open("/proc/%d/status" % a.pid) as f:
                    st = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                break
            if st.get("State", "").strip().startswith("Z"):
                break
            rss = int(st.get("VmRSS", "0 kB").split()[0])
            hwm = max(hwm, int(st.get("VmHWM", "0 kB").split()[0]))
            peak = max(peak, rss)
            lag, rin = scrape(a.port) if a.port else (None, None)
            if lag is not None:
                max_lag = max(max_lag, lag)
            out.write("%.1f rss_kb=%d lag=%s in=%s\n" % (time.time() - t0, rss, lag, rin))
            out.flush()
            n += 1
            time.sleep(a.every)
    print("peak_rss_kb=%d hwm_kb=%d max_lag=%d samples=%d" % (peak, hwm, max_lag, n))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("garbage")
    g.add_argument("--input", required=True)
    g.add_argument("--output", required=True)
    g.add_argument("--partitions", type=int, required=True)
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--share", type=float, default=0.1)
    g.add_argument("--rounds", type=int, default=3)
    d = sub.add_parser("dlq-counts")
    d.add_argument("file")
    al = sub.add_parser("alerts")
    al.add_argument("--bootstrap", required=True)
    al.add_argument("--kills", required=True)
    al.add_argument("--window-ms", type=int, required=True)
    al.add_argument("--expected", required=True)
    cl = sub.add_parser("changelog")
    cl.add_argument("--bootstrap", required=True)
    cl.add_argument("--topic", required=True)
    lw = sub.add_parser("lows")
    lw.add_argument("--bootstrap", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--pid", type=int, required=True)
    w.add_argument("--port", type=int, default=0)
    w.add_argument("--out", required=True)
    w.add_argument("--every", type=float, default=0.5)
    a = ap.parse_args()
    {"garbage": cmd_garbage, "dlq-counts": cmd_dlq_counts, "alerts": cmd_alerts,
     "watch": cmd_watch, "changelog": cmd_changelog,
     "lows": cmd_lows}[a.cmd](a)


if __name__ == "__main__":
    main()
