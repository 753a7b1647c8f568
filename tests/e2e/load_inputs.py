#!/usr/bin/env python3
"""Produce replay input files to the input topics with confluent-kafka (a client we did not write).

DIR/<topic>/<partition>.rec (replay's framing) goes to <topic> partition <partition>, in file
order, idempotent, acks=all, at most --rate records per second (the embedded cluster keeps only
about 5 MB per partition, so a consumer must not fall behind by more). Prints the count.

Usage: load_inputs.py --bootstrap HOST:PORT --input DIR [--rate N]
"""

import argparse
import os
import sys
import time

from confluent_kafka import Producer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import gsproto  # noqa: E402

TOPICS = ["city.reports", "city.sensors", "city.video", "city.cases"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--rate", type=float, default=0)
    a = ap.parse_args()
    p = Producer({"bootstrap.servers": a.bootstrap, "enable.idempotence": True,
                  "linger.ms": 5})
    failed = []
    n = 0
    t0 = time.time()
    for t in TOPICS:
        d = os.path.join(a.input, t)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            part = int(name.split(".")[0])
            for key, value in gsproto.read_records(os.path.join(d, name)):
                while True:
                    try:
                        p.produce(t, key=key, value=value, partition=part,
                                  on_delivery=lambda err, m: err and failed.append(err))
                        break
                    except BufferError:
                        p.poll(0.05)
                n += 1
                if a.rate and n % 100 == 0:
                    ahead = n / a.rate - (time.time() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
                p.poll(0)
    if p.flush(60) or failed:
        raise SystemExit("load_inputs: %d records not delivered: %s" % (len(failed), failed[:3]))
    print("load_inputs: %d records" % n)


if __name__ == "__main__":
    main()
