#!/usr/bin/env python3
"""Read gridstream's output topics from Kafka into replay-style record files.

A client we did not write (confluent-kafka, read_committed) reads every partition of
gridstream.kpi, .incidents, .alerts, .scorecards and .dlq from the beginning to its end and writes
DIR/gridstream.<topic>.rec in replay's framing, in offset order per partition (partitions one after
the other), so that tests/reference/compare.py can compare `run` with `replay`. DLQ records are
written with the `error` header as key (replay's DLQ key); their source headers are checked to be
present and well formed.

With --dlq-by-source, DLQ records are a table keyed by their source coordinates (topic,
partition, offset): a record rejected again after a crash counts once. The embedded cluster
writes no transaction markers, so records of a transaction cut short by a crash stay visible to
read_committed readers there; on a real Kafka they are not.

Also checks, and exits 1 otherwise: every record of kpi/incidents/alerts/scorecards has a key and
a value; with --alerts-once no alert id appears twice (read_committed, exactly-once).

Usage: read_outputs.py --bootstrap HOST:PORT --output DIR [--alerts-once] [--dlq-by-source]
"""

import argparse
import os
import struct
import sys

from confluent_kafka import Consumer, TopicPartition

TOPICS = ["kpi", "incidents", "alerts", "scorecards", "dlq"]


def read_topic(bootstrap, topic):
    """Every record of every partition of `topic`: list of (partition, offset, key, value, headers)."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "read-outputs",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    })
    md = c.list_topics(timeout=10)
    if topic not in md.topics:
        raise SystemExit("read_outputs: topic %s does not exist" % topic)
    parts = sorted(md.topics[topic].partitions)
    out = []
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if hi <= lo:
            continue
        c.assign([TopicPartition(topic, p, lo)])
        while True:
            m = c.poll(10)
            if m is None:
                raise SystemExit("read_outputs: %s[%d]: no end of partition within 10 s" % (topic, p))
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    break
                raise SystemExit("read_outputs: %s[%d]: %s" % (topic, p, m.error()))
            out.append((p, m.offset(), m.key(), m.value(), m.headers() or []))
            if m.offset() + 1 >= hi:
                break
    c.close()
    return out


def frame(key, value):
    return struct.pack(">I", len(key)) + key + struct.pack(">I", len(value)) + value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--alerts-once", action="store_true")
    ap.add_argument("--dlq-by-source", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.output, exist_ok=True)
    bad = 0
    for t in TOPICS:
        topic = "gridstream." + t
        recs = read_topic(a.bootstrap, topic)
        with open(os.path.join(a.output, topic + ".rec"), "wb") as f:
            seen = set()
            for p, off, key, value, headers in recs:
                if t == "dlq":
                    h = dict(headers)
                    ok = all(k in h for k in ("error", "source.topic", "source.partition",
                                               "source.offset"))
                    if not ok or not h["source.partition"].isdigit() or \
                            not h["source.offset"].isdigit() or \
                            not h["source.topic"].startswith(b"city."):
                        print("read_outputs: %s[%d]@%d: bad DLQ headers %r" % (topic, p, off, headers))
                        bad += 1
                        continue
                    src = (h["source.topic"], h["source.partition"], h["source.offset"])
                    if a.dlq_by_source and src in seen:
                        continue
                    seen.add(src)
                    f.write(frame(h["error"], value or b""))
                    continue
                if key is None or value is None:
                    print("read_outputs: %s[%d]@%d: record without key or value" % (topic, p, off))
                    bad += 1
                    continue
                if t == "alerts" and a.alerts_once:
                    if key in seen:
                        print("read_outputs: alert %r seen twice" % key)
                        bad += 1
                    seen.add(key)
                f.write(frame(key, value))
        print("%s: %d records" % (topic, len(recs)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
