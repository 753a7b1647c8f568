#!/usr/bin/env python3
"""Self-test of the Python reference on tiny hand-built inputs with hand-computed results.

Run: python3 test_reference.py   (unittest; needs protoc and python3-protobuf)
"""

import datetime
import math
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import gsproto  # noqa: E402
import reference  # noqa: E402
from gsproto import pb  # noqa: E402

CST = datetime.timezone(datetime.timedelta(hours=8))
MIN = 60 * 1000
HOUR = 60 * MIN
DAY = 24 * HOUR
M_PER_DEG = 6371008.8 * math.pi / 180.0

CELL = 440902001001001
LAT, LON = 21.66, 110.92


def local_ms(y, mo, d, h=0, mi=0, s=0):
    return int(datetime.datetime(y, mo, d, h, mi, s, tzinfo=CST).timestamp() * 1000)


T = local_ms(2024, 3, 5, 10, 0)


def report(rid, t, code=20102, channel=1, cell=CELL, lat=LAT, lon=LON):
    return ("city.reports", pb.Report(report_id=rid, channel=channel, problem_code=code, cell=cell,
                                      event_time_ms=t, lat=lat, lon=lon))


def sensor(sid, seq, t, state, kind=1, cell=CELL):
    return ("city.sensors", pb.SensorReading(sensor_id=sid, kind=kind, cell=cell, event_time_ms=t,
                                             value=1.0, state=state, seq=seq, lat=LAT, lon=LON))


def video(did, t, conf, atype=890, cam="cam1", cell=CELL):
    return ("city.video", pb.VideoDetection(detection_id=did, camera_id=cam, alarm_type=atype,
                                            confidence=conf, cell=cell, event_time_ms=t,
                                            lat=LAT, lon=LON))


def case(cid, stage, ref_channel, ref_id, t, deadline=0, department="", cell=CELL):
    return ("city.cases", pb.CaseEvent(case_id=cid, stage=stage, ref_channel=ref_channel,
                                       ref_id=ref_id, cell=cell, event_time_ms=t,
                                       deadline_ms=deadline, department=department))


class RefCase(unittest.TestCase):
    """Runs reference.py on records given in partition order (one partition unless stated)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gs-ref-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_ref(self, records, partitions=1):
        """records: (topic, msg or bytes[, key bytes[, partition]]) tuples, in file order."""
        files = {}
        for r in records:
            topic, m = r[0], r[1]
            value = m if isinstance(m, bytes) else m.SerializeToString()
            key = r[2] if len(r) > 2 else str(m.cell).encode()
            p = r[3] if len(r) > 3 else gsproto.partition_for(key, partitions)
            files.setdefault((topic, p), []).append((key, value))
        inp = os.path.join(self.tmp, "in")
        for topic in gsproto.TOPICS:
            os.makedirs(os.path.join(inp, topic), exist_ok=True)
            for p in range(partitions):
                gsproto.write_records(os.path.join(inp, topic, "%d.rec" % p),
                                      files.get((topic, p), []))
        out = os.path.join(self.tmp, "out")
        reference.run(inp, out, quiet=True)
        self.out = out
        res = {}
        for topic in gsproto.OUTPUT_TOPICS:
            table = compare.load_table(out, topic)
            if topic == "dlq":
                res[topic] = sorted((k.decode(), v) for (k, v), c in table.items()
                                    for _ in range(c))
            else:
                res[topic] = {k.decode(): compare.parse(topic, k, v, out)
                              for k, v in table.items()}
        return res

    def kpi(self, res, level, scope, window, start):
        return res["kpi"]["%d:%d:%d:%d" % (level, scope, window, start)]


class TestMurmur2(unittest.TestCase):
    def test_published_vectors(self):
        # Apache Kafka clients UtilsTest.testMurmur2
        kafka = {b"21": -973932308, b"foobar": -790332482,
                 b"a-little-bit-long-string": -985981536,
                 b"a-little-bit-longer-string": -1486304829,
                 b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
                 b"abc": 479470107}
        for k, v in kafka.items():
            self.assertEqual(gsproto.murmur2(k), v, k)
        # librdkafka src/rdmurmur2.c unittest (java_murmur2_results)
        rdk = {b"kafka": 0xd067cf64, b"giberish123456789": 0x8f552b0c, b"1234": 0x9fc97b14,
               b"234": 0xe7c009ca, b"34": 0x873930da, b"4": 0x5a4b5ca1,
               b"PreAmbleWillBeRemoved,ThePrePartThatIs": 0x78424f1c, b"": 0x106e08d9}
        for k, v in rdk.items():
            self.assertEqual(gsproto.murmur2(k) & 0xFFFFFFFF, v, k)
        self.assertEqual(gsproto.murmur2(b""), 275646681)

    def test_partition(self):
        # (-973932308 & 0x7fffffff) = 1173551340; % 3 = 0, % 7 = 1173551340 - 7*167650191 = 3
        self.assertEqual(gsproto.partition_for(b"21", 3), 0)
        self.assertEqual(gsproto.partition_for(b"21", 7), 3)
        self.assertEqual(gsproto.partition_for(b"21", 1), 0)


class TestCorrelation(RefCase):
    def test_49m_merges_51m_does_not(self):
        north49 = LAT + 49.0 / M_PER_DEG
        north51 = LAT + 51.0 / M_PER_DEG
        res = self.run_ref([
            report("a", T, code=20102, channel=7),                        # HOTLINE
            report("c", T + 1, code=20103, channel=8),                    # CITIZEN_APP
            report("b", T + HOUR, code=20102, channel=1, lat=north49),    # INSPECTOR, 49 m
            report("d", T + HOUR + 1, code=20103, channel=1, lat=north51),  # 51 m
        ])
        inc = res["incidents"]
        self.assertEqual(len(inc), 3)
        a = inc["%d-20102-%d-7-a" % (CELL, T)]
        self.assertEqual(a.signal_count, 2)
        self.assertEqual(a.channel_mask, (1 << 7) | (1 << 1))
        self.assertEqual(a.first_channel, 7)
        self.assertFalse(a.captured)
        self.assertEqual(a.last_signal_ms, T + HOUR)
        self.assertIn("%d-20103-%d-8-c" % (CELL, T + 1), inc)
        self.assertIn("%d-20103-%d-1-d" % (CELL, T + HOUR + 1), inc)
        hour = self.kpi(res, 1, CELL, 1, T)     # CELL, HOUR 10:00
        self.assertEqual((hour.incidents, hour.signals, hour.merged, hour.captured), (2, 3, 1, 0))
        self.assertEqual(hour.capture_rate, 0.0)
        self.assertTrue(math.isnan(hour.timely_rate))   # nothing filed
        h11 = self.kpi(res, 1, CELL, 1, T + HOUR)
        self.assertEqual((h11.incidents, h11.signals, h11.captured), (1, 1, 1))

    def test_dedup_and_resend_after_ttl(self):
        t2 = T + 8 * DAY
        res = self.run_ref([
            report("r1", T),
            report("r1", T),                       # exact duplicate: dropped
            report("r1", t2),                      # same identity > 7 days later: new signal
            case("c1", 1, 1, "r1", t2 + HOUR, deadline=t2 + 2 * HOUR),
        ])
        first = "%d-20102-%d-1-r1" % (CELL, T)
        second = "%d-20102-%d-1-r1" % (CELL, t2)
        self.assertEqual(sorted(res["incidents"]), sorted([first, second]))
        self.assertEqual(res["incidents"][first].signal_count, 1)
        self.assertEqual(res["incidents"][first].filed_ms, 0)
        self.assertEqual(res["incidents"][second].filed_ms, t2 + HOUR)   # ref -> newest
        self.assertEqual(res["dlq"], [])

    def test_redelivered_opening_signal_after_forgetting(self):
        # TTL 60 s: the late exact copy of r1 is applied at watermark T+55min, its dedup entry
        # is forgotten (> 2 x TTL) and its incident is CLOSED: the incident it would open has
        # r1's incident_id, so it is dropped and changes nothing (reading of the reference).
        saved = reference.DEDUP_TTL
        reference.apply_setting("dedup.ttl.ms=60000")
        self.addCleanup(setattr, reference, "DEDUP_TTL", saved)
        res = self.run_ref([
            report("r1", T),
            report("x", T + HOUR, code=20103),
            report("r1", T),
            case("c1", 1, 1, "r1", T + 5 * MIN, deadline=T + DAY),
            case("c1", 7, 1, "r1", T + 10 * MIN),
        ])
        self.assertEqual(sorted(res["incidents"]), sorted([
            "%d-20102-%d-1-r1" % (CELL, T), "%d-20103-%d-1-x" % (CELL, T + HOUR)]))
        inc = res["incidents"]["%d-20102-%d-1-r1" % (CELL, T)]
        self.assertEqual((inc.signal_count, inc.stage), (1, 7))
        self.assertEqual(self.kpi(res, 1, CELL, 1, T).signals, 1)


class TestSignals(RefCase):
    def test_sensor_edges(self):
        res = self.run_ref([sensor("s1", 1, T, 1), sensor("s1", 2, T + 10 * MIN, 2),
                            sensor("s1", 3, T + 20 * MIN, 2), sensor("s1", 4, T + 30 * MIN, 1),
                            sensor("s1", 5, T + 40 * MIN, 2)])
        iid = "%d-10101-%d-3-s1:2" % (CELL, T + 10 * MIN)
        self.assertEqual(list(res["incidents"]), [iid])
        inc = res["incidents"][iid]
        self.assertEqual((inc.signal_count, inc.channel_mask, inc.first_channel, inc.captured),
                         (2, 8, 3, True))
        self.assertEqual(inc.last_signal_ms, T + 40 * MIN)
        alert = res["alerts"]["CRITICAL:" + iid]
        self.assertEqual((alert.kind, alert.event_time_ms, alert.count, alert.problem_code),
                         (2, T + 10 * MIN, 1, 10101))

    def test_video_burst_latch_and_expiry(self):
        s = 1000
        res = self.run_ref([
            video("d1", T, 0.9),
            video("d2", T + 20 * s, 0.5),              # low confidence: ignored
            video("d3", T + 30 * s, 0.6),              # 0.6f qualifies
            video("d4", T + 40 * s, 0.99, atype=999),  # unmapped: ignored
            video("d5", T + 59 * s, 0.7),              # 3rd qualifying within 59 s: fires
            video("d6", T + 5 * MIN, 0.7),             # latched: extends
            video("d7", T + 15 * MIN, 0.7),            # 10 min after d6: expired, first again
            video("d8", T + 15 * MIN + 10 * s, 0.7),
            video("d9", T + 15 * MIN + 20 * s, 0.7),   # fires again
            case("c1", 1, 2, "d9", T + HOUR, deadline=T + 2 * HOUR),
            case("c2", 1, 2, "d8", T + HOUR, deadline=T + 2 * HOUR),   # not a signal
        ])
        iid = "%d-20102-%d-2-d5" % (CELL, T + 59 * s)
        self.assertEqual(list(res["incidents"]), [iid])
        inc = res["incidents"][iid]
        self.assertEqual(inc.signal_count, 2)
        self.assertEqual(inc.last_signal_ms, T + 15 * MIN + 20 * s)
        self.assertEqual(inc.filed_ms, T + HOUR)
        self.assertEqual([r for r, _ in res["dlq"]], ["unknown_ref"])

    def test_hotspot_at_fifth_incident(self):
        codes = [20101, 20102, 20103, 20104, 20105, 20201, 20301]
        recs = [report("h%d" % i, T + i * 10 * MIN, code=codes[i]) for i in range(6)]
        recs.append(report("h6", T + 40 * MIN + 61 * MIN, code=codes[6]))
        res = self.run_ref(recs)
        hot = {k: a for k, a in res["alerts"].items() if a.kind == 1}
        t5 = T + 40 * MIN
        self.assertEqual(list(hot), ["HOTSPOT:%d:%d" % (CELL, t5)])
        a = hot["HOTSPOT:%d:%d" % (CELL, t5)]
        self.assertEqual((a.count, a.event_time_ms, a.cell, a.problem_code),
                         (5, t5, CELL, 20105))
        self.assertEqual(a.incident_id, "%d-20105-%d-1-h4" % (CELL, t5))


class TestLifecycleAndKpi(RefCase):
    def test_filed_rectified_on_time(self):
        res = self.run_ref([
            report("r1", T),
            case("c1", 1, 1, "r1", T + HOUR, deadline=T + 25 * HOUR),
            case("c1", 3, 1, "r1", T + 2 * HOUR, department="环卫处"),
            case("c1", 4, 1, "r1", T + 5 * HOUR),
        ])
        day_start = local_ms(2024, 3, 5)
        month_start = local_ms(2024, 3, 1)
        for level, scope in ((1, CELL), (5, 4409)):
            for window, start in ((2, day_start), (3, month_start)):
                k = self.kpi(res, level, scope, window, start)
                self.assertEqual((k.incidents, k.filed, k.rectified, k.rectified_on_time),
                                 (1, 1, 1, 1))
                self.assertEqual((k.timely_rate, k.rectification_rate, k.filing_rate,
                                  k.capture_rate), (1.0, 1.0, 1.0, 1.0))
        self.assertEqual(self.kpi(res, 1, CELL, 3, month_start).window_end_ms,
                         local_ms(2024, 4, 1))
        self.assertEqual(self.kpi(res, 1, CELL, 2, day_start).window_end_ms,
                         local_ms(2024, 3, 6))
        # ROLLING_24H only for DISTRICT and CITY: 24 windows each
        rolling = [k for k in res["kpi"] if k.split(":")[2] == "4"]
        self.assertEqual(len(rolling), 48)
        self.assertIn("4:440902:4:%d" % (T - 23 * HOUR), res["kpi"])
        inc = res["incidents"]["%d-20102-%d-1-r1" % (CELL, T)]
        self.assertEqual((inc.stage, inc.department, inc.rectified_ms, inc.deadline_ms),
                         (4, "环卫处", T + 5 * HOUR, T + 25 * HOUR))

    def test_rework_twice_and_late_change_past_retention(self):
        res = self.run_ref([
            report("r1", T),
            case("c1", 1, 1, "r1", T + HOUR, deadline=T + 2 * HOUR),
            case("c1", 4, 1, "r1", T + 90 * MIN),
            case("c1", 6, 1, "r1", T + 3 * HOUR),
            case("c1", 6, 1, "r1", T + 4 * HOUR),
            case("c1", 5, 1, "r1", T + 39 * DAY),
            case("c1", 7, 1, "r1", T + 40 * DAY),
        ])
        iid = "%d-20102-%d-1-r1" % (CELL, T)
        inc = res["incidents"][iid]
        self.assertEqual((inc.rework_count, inc.stage, inc.closed_ms), (2, 7, T + 40 * DAY))
        a = res["alerts"]["REWORK:" + iid]
        self.assertEqual((a.kind, a.event_time_ms, a.count), (4, T + 4 * HOUR, 2))
        # the CLOSED is applied at watermark T+39d-5min: past HOUR/DAY retention, not MONTH's
        self.assertEqual(self.kpi(res, 1, CELL, 2, local_ms(2024, 3, 5)).closed, 0)
        self.assertEqual(self.kpi(res, 1, CELL, 3, local_ms(2024, 3, 1)).closed, 1)
        self.assertEqual(self.kpi(res, 1, CELL, 3, local_ms(2024, 3, 1)).reworked, 1)
        self.assertNotIn("OVERDUE:" + iid, res["alerts"])


class TestScorecard(RefCase):
    def test_known_districts(self):
        c2 = 440904001001001
        res = self.run_ref([
            report("a", T),                                   # 440902, INSPECTOR, filed + on time
            report("b", T + 1, code=20103),                   # 440902, INSPECTOR, not filed
            report("c", T + 2, channel=7, cell=c2),           # 440904, HOTLINE, not filed
            case("k1", 1, 1, "a", T + HOUR, deadline=T + DAY),
            case("k1", 3, 1, "a", T + 2 * HOUR, department="环卫处"),
            case("k1", 4, 1, "a", T + 3 * HOUR),
        ])
        sc = res["scorecards"]["4409:2024-03"]
        self.assertEqual(sc.evaluated_at_ms, local_ms(2024, 4, 8))
        d1, d2 = sc.districts
        self.assertEqual(d1.district, 440902)
        self.assertEqual((d1.incidents, d1.captured, d1.filed, d1.due, d1.rectified,
                          d1.rectified_on_time, d1.reworked, d1.overdue_open),
                         (2, 2, 1, 1, 1, 1, 0, 0))
        self.assertEqual((d1.capture_rate, d1.filing_rate, d1.rectification_rate,
                          d1.timely_rate, d1.rework_rate), (1.0, 0.5, 1.0, 1.0, 0.0))
        # only the filing term: min(10, 100 * (0.90 - 0.5) * 0.5) = 10
        self.assertEqual((d1.deduction, d1.score, d1.grade, d1.rank, d1.reward_cny),
                         (10.0, 90.0, "A", 1, 1000000))
        self.assertEqual((d1.fail, d1.consecutive_fails, d1.accountability), (False, 0, False))
        self.assertEqual(d2.district, 440904)
        self.assertEqual((d2.incidents, d2.captured, d2.filed, d2.due), (1, 0, 0, 0))
        self.assertTrue(math.isnan(d2.timely_rate) and math.isnan(d2.rework_rate)
                        and math.isnan(d2.rectification_rate))
        # capture min(20, 100*0.9*0.5) = 20, filing min(10, 45) = 10, unset rates deduct nothing
        self.assertEqual((d2.deduction, d2.score, d2.grade, d2.rank, d2.reward_cny, d2.fail),
                         (30.0, 70.0, "C", 2, 600000, False))
        self.assertEqual(len(sc.departments), 1)
        dep = sc.departments[0]
        self.assertEqual((dep.department, dep.assigned, dep.rectified_on_time, dep.timely_rate,
                          dep.rank), ("环卫处", 1, 1, 1.0, 1))

    def test_fail_streak(self):
        cell = 440103001001001
        tf = local_ms(2024, 2, 10, 9)
        res = self.run_ref([
            report("f", tf, channel=7, cell=cell),
            report("m", T, channel=7, cell=cell),
            case("k1", 1, 7, "f", tf + HOUR, deadline=tf + 2 * HOUR, cell=cell),
            case("k2", 1, 7, "m", T + HOUR, deadline=T + 2 * HOUR, cell=cell),
        ])
        for month, streak in (("2024-02", 1), ("2024-03", 2)):
            (d,) = res["scorecards"]["4401:" + month].districts
            # timely 0 -> 40, capture 0 -> 20, filing 1.0 -> 0, overdue_open 1 -> 0.2
            self.assertEqual((d.due, d.rectified, d.overdue_open), (1, 0, 1))
            self.assertEqual(d.deduction, 40.0 + 20.0 + 0.2)
            self.assertEqual((d.score, d.grade, d.fail), (39.8, "E", True))
            self.assertEqual((d.consecutive_fails, d.accountability), (streak, streak >= 2))
            self.assertEqual((d.rank, d.reward_cny), (1, 1000000))
        self.assertEqual(sorted(k for k in res["alerts"] if k.startswith("OVERDUE:")),
                         sorted(["OVERDUE:%d-20102-%d-7-f" % (cell, tf),
                                 "OVERDUE:%d-20102-%d-7-m" % (cell, T)]))

    def test_freeze_at_evaluation_time(self):
        # The task's watermark passes E(March) = Apr 8 00:00 +08 on the Apr 9 event; the late
        # RECTIFIED (time < deadline <= E) applied after it changes KPIs and the incident, not
        # the frozen scorecard; OVERDUE fired when the watermark passed the deadline.
        res = self.run_ref([
            report("r1", T),
            case("c1", 1, 1, "r1", T + HOUR, deadline=T + 3 * HOUR),
            case("c1", 5, 1, "r1", local_ms(2024, 4, 9)),
            case("c1", 4, 1, "r1", T + 2 * HOUR),             # late in its partition
        ])
        iid = "%d-20102-%d-1-r1" % (CELL, T)
        self.assertEqual(res["incidents"][iid].rectified_ms, T + 2 * HOUR)
        self.assertEqual(res["incidents"][iid].stage, 5)
        self.assertEqual(self.kpi(res, 1, CELL, 3, local_ms(2024, 3, 1)).timely_rate, 1.0)
        (d,) = res["scorecards"]["4409:2024-03"].districts
        self.assertEqual((d.filed, d.due, d.rectified, d.overdue_open), (1, 1, 0, 1))
        self.assertEqual(res["alerts"]["OVERDUE:" + iid].event_time_ms, T + 3 * HOUR)


class TestValidation(RefCase):
    def test_every_reason(self):
        good = report("ok", T)[1]
        key = str(CELL).encode()
        p_ok = gsproto.partition_for(key, 2)

        def rep(**kw):
            m = pb.Report()
            m.CopyFrom(good)
            for k, v in kw.items():
                setattr(m, k, v)
            return ("city.reports", m, str(m.cell).encode(), p_ok)

        recs = [
            ("city.reports", good.SerializeToString() + b"\x0a\xc8\x01abc", key, p_ok),
            rep(report_id=""),
            rep(report_id="v", channel=2),                 # VIDEO report
            rep(report_id="z", channel=0),
            ("city.sensors", pb.SensorReading(sensor_id="s", kind=9, state=1, cell=CELL,
                                              event_time_ms=T), key, p_ok),
            rep(report_id="g", cell=440902001001000),      # GGG = 000 (key follows the cell)
            rep(report_id="p", problem_code=30101),
            rep(report_id="t", event_time_ms=0),
            ("city.cases", pb.CaseEvent(case_id="k", stage=1, ref_channel=1, ref_id="ok",
                                        cell=CELL, event_time_ms=T, deadline_ms=T - 1),
             key, p_ok),
            rep(report_id="n", lat=float("nan")),
            ("city.video", pb.VideoDetection(detection_id="d", camera_id="c", alarm_type=890,
                                             confidence=1.5, cell=CELL, event_time_ms=T),
             key, p_ok),
            rep(report_id="l", lat=90.5),
            ("city.reports", rep(report_id="x")[1], key + b" ", p_ok),
            ("city.reports", rep(report_id="w")[1], key, 1 - p_ok),
            ("city.reports", good, key, p_ok),
            ("city.cases", pb.CaseEvent(case_id="k", stage=3, ref_channel=7, ref_id="ok",
                                        cell=CELL, event_time_ms=T + 1), key, p_ok),
        ]
        # the rejected GGG=000 record keys on its own cell, so its partition may differ
        recs[5] = recs[5][:3] + (gsproto.partition_for(recs[5][2], 2),)
        res = self.run_ref(recs, partitions=2)
        self.assertEqual(sorted(r for r, _ in res["dlq"]), sorted([
            "decode", "missing_id", "invalid_enum", "invalid_enum", "invalid_enum",
            "invalid_cell", "invalid_problem_code", "invalid_time", "invalid_time",
            "invalid_number", "invalid_number", "invalid_position", "key_mismatch",
            "wrong_partition", "unknown_ref"]))
        self.assertEqual(list(res["incidents"]), ["%d-20102-%d-1-ok" % (CELL, T)])


if __name__ == "__main__":
    unittest.main()
