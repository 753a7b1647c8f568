#!/usr/bin/env python3
"""Compare two gridstream output directories (e.g. reference.py's and `replay`'s).

Each `gridstream.<topic>.rec` is read as a table (latest value per key, in file order) and
compared: kpi (every field except `version`), incidents and scorecards (every field, doubles
exactly, NaN == NaN), alerts (same ids, every field except `message`), dlq (same multiset of
(reason, value bytes)). Keys must also agree with their values (kpi key = level:scope:window:start,
incidents/alerts key = id, scorecards key = city:month, dlq key = a known reason).

Prints `topic: N keys, M differ` per topic and up to 20 differences; exits 1 on any difference or
on a missing or malformed file, 0 when equal.

Usage: compare.py --expected DIR --actual DIR [--max-diffs 20]
"""

import argparse
import collections
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gsproto  # noqa: E402

IGNORED = {"kpi": {"version"}, "alerts": {"message"}}


class Bad(Exception):
    """A missing or malformed output file."""


def load_table(out_dir, topic):
    """{key bytes: value bytes} (latest per key), or for dlq a Counter of (key, value)."""
    path = os.path.join(out_dir, "gridstream.%s.rec" % topic)
    if not os.path.isfile(path):
        raise Bad("%s: missing" % path)
    try:
        recs = gsproto.read_records(path)
    except gsproto.MalformedFile as e:
        raise Bad(str(e))
    if topic == "dlq":
        return collections.Counter(recs)
    table = {}
    for key, value in recs:
        table[key] = value
    return table


def parse(topic, key, value, where):
    msg = gsproto.decode(gsproto.OUTPUT_TYPES[topic], value)
    if msg is None:
        raise Bad("%s: %s key %r: value does not decode" % (where, topic, key))
    return msg


def key_of(topic, msg):
    if topic == "kpi":
        return "%d:%d:%d:%d" % (msg.level, msg.scope, msg.window, msg.window_start_ms)
    if topic == "incidents":
        return msg.incident_id
    if topic == "alerts":
        return msg.alert_id
    if topic == "scorecards":
        return "%d:%s" % (msg.city, msg.month)
    raise ValueError(topic)


def same_scalar(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def fmt(v):
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, bytes):
        return v.hex()
    return repr(v)


def diff_messages(a, b, prefix, ignored=frozenset()):
    """List of 'path: expected != actual' for every differing field of two messages."""
    out = []
    for fd in a.DESCRIPTOR.fields:
        if fd.name in ignored:
            continue
        va = getattr(a, fd.name)
        vb = getattr(b, fd.name)
        path = prefix + fd.name
        if fd.label == fd.LABEL_REPEATED:
            if len(va) != len(vb):
                out.append("%s: %d entries != %d entries" % (path, len(va), len(vb)))
            for i in range(min(len(va), len(vb))):
                if fd.type == fd.TYPE_MESSAGE:
                    out.extend(diff_messages(va[i], vb[i], "%s[%d]." % (path, i)))
                elif not same_scalar(va[i], vb[i]):
                    out.append("%s[%d]: %s != %s" % (path, i, fmt(va[i]), fmt(vb[i])))
        elif fd.type == fd.TYPE_MESSAGE:
            out.extend(diff_messages(va, vb, path + "."))
        elif not same_scalar(va, vb):
            out.append("%s: %s != %s" % (path, fmt(va), fmt(vb)))
    return out


def compare(expected_dir, actual_dir, max_diffs=20, out=sys.stdout):
    """Return True when both directories hold the same tables."""
    ok = True
    shown = 0
    pending = []

    def show(line):
        pending.append(line)

    def flush(summary):
        nonlocal shown
        print(summary, file=out)
        for line in pending:
            if shown < max_diffs:
                print("  " + line, file=out)
            shown += 1
        del pending[:]

    for topic in gsproto.OUTPUT_TOPICS:
        try:
            exp = load_table(expected_dir, topic)
            act = load_table(actual_dir, topic)
        except Bad as e:
            flush("%s: ERROR %s" % (topic, e))
            ok = False
            continue
        if topic == "dlq":
            for key, _ in list(exp) + list(act):
                if key.decode("utf-8", "replace") not in gsproto.DLQ_REASONS:
                    show("dlq: unknown reason %r" % key)
                    ok = False
            missing = exp - act
            extra = act - exp
            n = sum(exp.values())
            m = sum(missing.values()) + sum(extra.values())
            for (reason, value), c in sorted(missing.items()):
                show("dlq: expected %d x (%s, %s) not in actual" % (c, reason.decode(), value.hex()))
            for (reason, value), c in sorted(extra.items()):
                show("dlq: actual has %d x (%s, %s) not expected" % (c, reason.decode(), value.hex()))
            if m:
                ok = False
            flush("dlq: %d records, %d differ" % (n, m))
            continue
        try:
            emsg = {k: parse(topic, k, v, expected_dir) for k, v in exp.items()}
            amsg = {k: parse(topic, k, v, actual_dir) for k, v in act.items()}
        except Bad as e:
            flush("%s: ERROR %s" % (topic, e))
            ok = False
            continue
        differ = set()
        for side, table in (("expected", emsg), ("actual", amsg)):
            for k, msg in sorted(table.items()):
                if key_of(topic, msg).encode("utf-8") != k:
                    show("%s %s: key %r does not match its value (%r)" % (
                        side, topic, k.decode("utf-8", "replace"), key_of(topic, msg)))
                    differ.add(k)
        keys = sorted(set(emsg) | set(amsg))
        for k in keys:
            name = k.decode("utf-8", "replace")
            if k not in amsg:
                show("%s %s: missing in actual" % (topic, name))
                differ.add(k)
            elif k not in emsg:
                show("%s %s: not expected (only in actual)" % (topic, name))
                differ.add(k)
            else:
                d = diff_messages(emsg[k], amsg[k], "", IGNORED.get(topic, frozenset()))
                if d:
                    differ.add(k)
                    show("%s %s: %s" % (topic, name, "; ".join(d)))
        flush("%s: %d keys, %d differ" % (topic, len(keys), len(differ)))
        if differ:
            ok = False
    if shown > max_diffs:
        print("  ... %d more differences not shown" % (shown - max_diffs), file=out)
    return ok


def main():
    ap = argparse.ArgumentParser(description="compare two gridstream output directories")
    ap.add_argument("--expected", required=True)
    ap.add_argument("--actual", required=True)
    ap.add_argument("--max-diffs", type=int, default=20)
    args = ap.parse_args()
    ok = compare(args.expected, args.actual, args.max_diffs)
    print("EQUAL" if ok else "DIFFERENT")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
