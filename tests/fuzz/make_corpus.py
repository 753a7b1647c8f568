#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/) from `gridstream gen`.

    tests/fuzz/make_corpus.py build/dev/gridstream

Validation targets (reports, sensors, video, cases): records of a small generated city, valid and
invalid of every kind, each as [key length byte][key][value] (255: no key). recfile: small record
files cut from the same city, an empty one and truncated ones. properties: hand-written files of
every syntax the parser knows, and the full effective configuration as `config check` prints it.
The same binary gives the same files; the corpus is committed, so this runs only to renew it.
"""

import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
TOPICS = {"reports": "city.reports", "sensors": "city.sensors", "video": "city.video",
          "cases": "city.cases"}
PER_TOPIC = 16

PROPERTIES = {
    "empty.properties": "",
    "comments.properties": "# a comment\n! another\n\n   \n#dedup.ttl.ms=1\n",
    "separators.properties": "dedup.ttl.ms=3600000\nvideo.burst.count: 4\n"
                             "video.latch.ms 600000\n  kpi.grace.ms   =   1000  \n",
    "continuation.properties": "video.alarm.map=882:20506,\\\n    883:20103,\\\n  890:20102\n"
                               "alert.critical.codes = 10101,\\\n20401\n",
    "crlf.properties": "timezone.offset.minutes=-300\r\nscorecard.rewards=3,2,1\r\n",
    "engine.properties": "application.id=city-a\nprocessing.guarantee=at_least_once\n"
                         "num.stream.threads=2\nstate.dir=/var/lib/gridstream\n"
                         "log.format=json\nlog.level=warn\nmetrics.port=0\n"
                         "bootstrap.servers=broker-1:9092,broker-2:9092\n",
    "kafka.properties": "kafka.client.id=gridstream-test\nkafka.socket.timeout.ms=30000\n"
                        "kafka.sasl.password=secret\n",
    "bad-key.properties": "dedup.ttl.ms=1\nno.such.key=1\n",
    "bad-value.properties": "correlation.distance.m=-5\n",
    "bad-map.properties": "sensor.problem.map=1:10101,1:20401\n",
    "doubles.properties": "video.confidence.min=0.55\ncorrelation.earth.radius.m=6.3710088e6\n"
                          "scorecard.weight.timely=1.5\n",
}


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    pos, out = 0, []
    while pos < len(data):
        (kl,) = struct.unpack_from(">I", data, pos)
        key = data[pos + 4:pos + 4 + kl]
        (vl,) = struct.unpack_from(">I", data, pos + 4 + kl)
        val = data[pos + 8 + kl:pos + 8 + kl + vl]
        out.append((key, val))
        pos += 8 + kl + vl
    return out


def frame(recs):
    return b"".join(struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
                    for k, v in recs)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    gridstream = sys.argv[1]
    rng = random.Random(7)
    for target in list(TOPICS) + ["recfile", "properties"]:
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix="gridstream-corpus-")
    try:
        subprocess.run([gridstream, "gen", "--output", tmp, "--partitions", "1", "--cells", "6",
                        "--days", "2", "--invalid-rate", "0.3", "--seed", "7"], check=True,
                       stdout=subprocess.DEVNULL)
        every = []
        for target, topic in TOPICS.items():
            recs = records(os.path.join(tmp, topic, "0.rec"))
            every += recs[:4]
            for i, (key, val) in enumerate(sorted(rng.sample(recs, min(PER_TOPIC, len(recs))))):
                write(target, "%s-%02d" % (target, i), bytes([len(key)]) + key + val)
            write(target, "%s-nokey" % target, b"\xff" + recs[0][1])
            write("recfile", "%s.rec" % target, frame(recs[:3]))
        write("recfile", "mixed.rec", frame(every))
        write("recfile", "empty.rec", b"")
        write("recfile", "truncated-value.rec", frame(every[:2])[:-3])
        write("recfile", "truncated-header.rec", frame(every[:1]) + b"\x00\x00")
        write("recfile", "huge-length.rec", frame(every[:1]) + b"\xff\xff\xff\xf0key")
        for name, text in PROPERTIES.items():
            write("properties", name, text.encode())
        full = subprocess.run([gridstream, "config", "check", "/dev/null"], check=True,
                              stdout=subprocess.PIPE).stdout
        write("properties", "effective.properties", full)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
