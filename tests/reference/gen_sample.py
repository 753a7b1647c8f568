#!/usr/bin/env python3
"""Deterministic synthetic city for replay tests.

Writes DIR/<topic>/<partition>.rec for the four input topics (framing of gsproto.read_records,
key = decimal cell code, partition = Java-client murmur2 partitioner). The content is chosen to
exercise every rule of SPEC §3-§9: two cities (4409 Maoming with 3 districts, 4401 Guangzhou with
2), reports of every channel merging or not (49 m / 51 m, 24 h), exact duplicates (also re-sent
after more than the 7-day TTL), sensor NORMAL/ALARM sequences, video bursts (triples within 60 s,
low confidence, unmapped types, latch extension and expiry), case lifecycles (filed, dispatched,
rectified on time or late, rework once or twice, verified, closed, rejected, very late closings
past KPI retention, events after the month's evaluation time), unknown references, HOTSPOT
bursts, critical codes, records late by minutes to hours in their partition, and about 3 %
invalid records of every SPEC §3 reason.

Usage: gen_sample.py --out DIR --partitions N --seed S [--cells K] [--days D] [--scale X]
  --cells K   grid cells per community (default 3; 2 streets x 2 communities per district)
  --days D    days of signals, starting 2024-01-22 local time (default 45)
  --scale X   multiplies the number of events per day (default 1.0)
"""

import argparse
import datetime
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gsproto  # noqa: E402
from gsproto import pb  # noqa: E402

MINUTE = 60 * 1000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
TZ_OFFSET_MS = 8 * HOUR
M_PER_DEG = 6371008.8 * math.pi / 180.0
INSPECTOR, VIDEO, SENSOR, DRONE, PATROL, TERMINAL, HOTLINE, APP, SUPERIOR = 1, 2, 3, 4, 5, 6, 7, 8, 9

START = (datetime.date(2024, 1, 22) - datetime.date(1970, 1, 1)).days * DAY - TZ_OFFSET_MS

CITIES = {
    4409: {"base": (21.66, 110.92), "districts": [440902, 440904, 440981, 440982]},
    4401: {"base": (23.12, 113.26), "districts": [440103, 440104]},
}
# How well each district works, per month from the start (index 0 = January 2024): drives the
# channel mix, how many problems get a case and how fast they are rectified, so that scorecards
# show every grade, passing and failing months and broken fail streaks.
QUALITY = {440902: [0.3, 0.95, 0.4], 440904: [0.9, 0.85, 1.0], 440981: [0.1, 0.2, 0.5],
           440982: [0.6, 0.7, 0.15], 440103: [1.0, 1.0, 1.0], 440104: [0.5, 0.45, 0.6]}
ACTIVE_REPORT_CHANNELS = [INSPECTOR, INSPECTOR, INSPECTOR, DRONE, PATROL, TERMINAL]

REPORT_CHANNELS = [INSPECTOR] * 5 + [DRONE, PATROL, TERMINAL, HOTLINE, HOTLINE, APP, APP, SUPERIOR]
FILED, REJECTED, DISPATCHED, RECTIFIED, VERIFIED, REWORK, CLOSED = 1, 2, 3, 4, 5, 6, 7

PROBLEM_CODES = [20101, 20102, 20103, 20104, 20105, 20201, 20301, 20303, 20501, 20502, 20506,
                 20509, 20510, 20601, 10101, 10102, 10201, 10202, 10301, 10401, 10501, 20401]
DEPARTMENTS = ["城管执法局", "环卫处", "市政公用局", "园林局", "交警大队", "住建局",
               "Water Works", "Roads Dept"]
ALARM_TYPES = [882, 883, 887, 890, 891, 892, 893, 894]
UNMAPPED_TYPES = [0, 880, 899, 1001]


class Cell:
    def __init__(self, code, lat, lon):
        self.code = code
        self.lat = lat
        self.lon = lon
        self.key = str(code).encode("ascii")


def offset(lat, lon, north_m, east_m):
    """Position `north_m` north and `east_m` east of (lat, lon)."""
    return (lat + north_m / M_PER_DEG,
            lon + east_m / (M_PER_DEG * math.cos(lat * math.pi / 180.0)))


class Gen:
    def __init__(self, rng, partitions, cells_per_community, days, scale):
        self.rng = rng
        self.n = partitions
        self.days = days
        self.scale = scale
        self.records = []   # dicts: topic, key, value, place, partition, seq
        self.seq = 0
        self.ids = 0
        self.cells = []
        for city, c in CITIES.items():
            blat, blon = c["base"]
            for di, d in enumerate(c["districts"]):
                for s in range(1, 3):
                    for cm in range(1, 3):
                        for g in range(1, cells_per_community + 1):
                            code = ((d * 1000 + s) * 1000 + cm) * 1000 + g
                            lat, lon = offset(blat, blon, di * 2500 + s * 600 + cm * 250,
                                              g * 110)
                            self.cells.append(Cell(code, lat, lon))
        self.reports = []       # (cell, channel, report_id, t, lat, lon, code) of valid reports

    # -- low level

    def next_id(self, prefix):
        self.ids += 1
        return "%s%06d" % (prefix, self.ids)

    def add(self, topic, key, value, place, partition=None, late=True):
        """Queue a record; `place` orders it inside its partition. Valid records are sometimes
        late (placed minutes to hours after their time) and sometimes sent twice."""
        rng = self.rng
        if late and rng.random() < 0.05:
            place += rng.choice([rng.randint(2, 30) * MINUTE, rng.randint(30, 180) * MINUTE])
        if partition is None:
            partition = gsproto.partition_for(key, self.n)
        self.seq += 1
        rec = {"topic": topic, "key": key, "value": value, "place": place,
               "partition": partition, "seq": self.seq}
        self.records.append(rec)
        if late and rng.random() < 0.025:  # exact duplicate, re-sent a little later
            self.seq += 1
            dup = dict(rec, place=place + rng.randint(1, 120) * MINUTE, seq=self.seq)
            self.records.append(dup)
        return rec

    def jitter(self, cell, radius=40.0):
        if self.rng.random() < 0.08:
            return 0.0, 0.0  # no position
        r = radius * math.sqrt(self.rng.random())
        a = self.rng.random() * 2 * math.pi
        return offset(cell.lat, cell.lon, r * math.cos(a), r * math.sin(a))

    # -- messages

    def report(self, cell, channel, code, t, lat, lon, report_id=None):
        m = pb.Report()
        m.report_id = report_id or self.next_id("R")
        m.channel = channel
        m.problem_code = code
        m.cell = cell.code
        m.event_time_ms = t
        m.lat, m.lon = lat, lon
        if self.rng.random() < 0.7:
            m.reporter_id = "P%03d" % self.rng.randint(1, 80)
        if self.rng.random() < 0.5:
            m.description = self.rng.choice(["暴露垃圾", "占道经营", "井盖缺失", "积水", "乱停放",
                                             "litter near bus stop"])
        self.add("city.reports", cell.key, m.SerializeToString(), t)
        self.reports.append((cell, channel, m.report_id, t, lat, lon, code))
        return m

    def sensor_reading(self, cell, sensor_id, kind, t, state, seq, lat, lon):
        m = pb.SensorReading()
        m.sensor_id = sensor_id
        m.kind = kind
        m.cell = cell.code
        m.event_time_ms = t
        m.value = round(self.rng.uniform(0, 100), 2) if state == 1 else round(
            self.rng.uniform(100, 300), 2)
        m.state = state
        m.seq = seq
        m.lat, m.lon = lat, lon
        self.add("city.sensors", cell.key, m.SerializeToString(), t)
        return m

    def detection(self, cell, camera_id, alarm_type, conf, t, lat, lon):
        m = pb.VideoDetection()
        m.detection_id = self.next_id("D")
        m.camera_id = camera_id
        m.alarm_type = alarm_type
        m.confidence = conf
        m.cell = cell.code
        m.event_time_ms = t
        m.lat, m.lon = lat, lon
        self.add("city.video", cell.key, m.SerializeToString(), t)
        return m

    def case(self, cell, case_id, stage, ref_channel, ref_id, t, deadline=0, department=""):
        m = pb.CaseEvent()
        m.case_id = case_id
        m.stage = stage
        m.ref_channel = ref_channel
        m.ref_id = ref_id
        m.cell = cell.code
        m.event_time_ms = t
        m.deadline_ms = deadline
        m.department = department
        self.add("city.cases", cell.key, m.SerializeToString(), t)
        return m

    def quality(self, cell, t):
        q = QUALITY[cell.code // 10**9]
        d = datetime.date(1970, 1, 1) + datetime.timedelta(days=(t + TZ_OFFSET_MS) // DAY)
        return q[min(len(q) - 1, (d.year - 2024) * 12 + d.month - 1)]

    def channel_for(self, cell, t):
        if self.rng.random() < self.quality(cell, t):
            return self.rng.choice(ACTIVE_REPORT_CHANNELS)
        return self.rng.choice(REPORT_CHANNELS)

    # -- case lifecycles (SPEC §6)

    def lifecycle(self, cell, ref_channel, ref_id, t_signal):
        rng = self.rng
        q = self.quality(cell, t_signal)
        cid = self.next_id("C")
        t = t_signal + rng.randint(10, 180) * MINUTE
        r = rng.random()
        if r < 0.01 + 0.06 * (1 - q):   # rejected without filing
            self.case(cell, cid, REJECTED, ref_channel, ref_id, t)
            return
        if r < 0.02 + 0.08 * (1 - q):   # rectified directly, never filed
            self.case(cell, cid, RECTIFIED, ref_channel, ref_id, t + HOUR)
            self.case(cell, cid, CLOSED, ref_channel, ref_id, t + 3 * HOUR)
            return
        slow = r > 0.95
        span = rng.choice([4 * HOUR, DAY, 3 * DAY]) if not slow else rng.choice([5 * DAY, 15 * DAY])
        deadline = t + span
        self.case(cell, cid, FILED, ref_channel, ref_id, t, deadline=deadline)
        if rng.random() < 0.05:  # filed then rejected
            self.case(cell, cid, REJECTED, ref_channel, ref_id, t + rng.randint(5, 120) * MINUTE)
            return
        t += rng.randint(5, 120) * MINUTE
        dep = "" if rng.random() < 0.04 else rng.choice(DEPARTMENTS)
        self.case(cell, cid, DISPATCHED, ref_channel, ref_id, t, department=dep)
        if rng.random() < 0.08:  # re-dispatched to another department
            t += rng.randint(10, 300) * MINUTE
            self.case(cell, cid, DISPATCHED, ref_channel, ref_id, t,
                      department=rng.choice(DEPARTMENTS))
        if rng.random() < 0.1 * (1 - q):
            return  # never rectified: OVERDUE
        if slow:
            t_rect = t + rng.randint(8 * 24, 14 * 24) * HOUR
        else:
            t_rect = t + int(span * rng.uniform(0.2, 1.5 - 0.7 * q))
        self.case(cell, cid, RECTIFIED, ref_channel, ref_id, t_rect)
        t = t_rect
        reworks = 0
        while reworks < 2 and rng.random() < (0.25 * (1 - q) + 0.02 if reworks == 0 else 0.35):
            reworks += 1
            t += rng.randint(1, 10) * HOUR
            self.case(cell, cid, REWORK, ref_channel, ref_id, t)
            t += rng.randint(2, 30) * HOUR
            self.case(cell, cid, RECTIFIED, ref_channel, ref_id, t)
        if rng.random() < 0.1:
            return
        t += rng.randint(1, 10) * HOUR
        self.case(cell, cid, VERIFIED, ref_channel, ref_id, t)
        if rng.random() < 0.03:  # archived very late: past the 35-day KPI retention
            t = t_signal + rng.randint(37, 42) * DAY
        else:
            t += rng.randint(30, 300) * MINUTE
        self.case(cell, cid, CLOSED, ref_channel, ref_id, t)

    def maybe_lifecycle(self, cell, channel, ref_id, t, p=None):
        if p is None:
            p = 0.5 + 0.5 * self.quality(cell, t)
        if self.rng.random() < p:
            self.lifecycle(cell, channel, ref_id, t)

    # -- scenarios

    def day_time(self, day, lo_h=7, hi_h=22):
        return START + day * DAY + self.rng.randint(lo_h * 60, hi_h * 60 - 1) * MINUTE \
            + self.rng.randint(0, 59999)

    def background_reports(self, day):
        rng = self.rng
        for _ in range(int(round(rng.randint(14, 24) * self.scale))):
            cell = rng.choice(self.cells)
            t = self.day_time(day)
            ch = self.channel_for(cell, t)
            code = rng.choice(PROBLEM_CODES)
            lat, lon = self.jitter(cell)
            m = self.report(cell, ch, code, t, lat, lon)
            self.maybe_lifecycle(cell, ch, m.report_id, t)

    def merge_pairs(self, day):
        """A public report then an inspector report nearby (in or just out of 50 m, 24 h)."""
        rng = self.rng
        for _ in range(int(round(3 * self.scale))):
            cell = rng.choice(self.cells)
            code = rng.choice(PROBLEM_CODES)
            t = self.day_time(day, 7, 12)
            lat, lon = offset(cell.lat, cell.lon, rng.uniform(-20, 20), rng.uniform(-20, 20))
            first = self.report(cell, rng.choice([HOTLINE, APP]), code, t, lat, lon)
            dist = rng.choice([rng.uniform(5, 45), 49.0, 51.0, rng.uniform(52, 70)])
            a = rng.random() * 2 * math.pi
            lat2, lon2 = offset(lat, lon, dist * math.cos(a), dist * math.sin(a))
            if rng.random() < 0.5:   # purely north/south: distance is exactly the offset
                lat2, lon2 = offset(lat, lon, rng.choice([-1, 1]) * dist, 0.0)
            gap = rng.choice([rng.randint(5, 600) * MINUTE, rng.randint(10, 23) * HOUR,
                              25 * HOUR])
            second = self.report(cell, INSPECTOR, code, t + gap, lat2, lon2)
            ref = rng.choice([(first.channel, first.report_id), (INSPECTOR, second.report_id)])
            self.maybe_lifecycle(cell, ref[0], ref[1], t + gap)
            if rng.random() < 0.3:   # a third signal a few hours later, at the first's place
                self.report(cell, rng.choice([PATROL, DRONE, APP]), code,
                            t + gap + rng.randint(1, 6) * HOUR, lat, lon)

    def hotspot(self, day):
        rng = self.rng
        cell = rng.choice(self.cells)
        t = START + day * DAY + rng.randint(8 * 60, 16 * 60) * MINUTE
        codes = rng.sample(PROBLEM_CODES, 7)
        for i in range(rng.randint(5, 7)):
            lat, lon = self.jitter(cell)
            ch = self.channel_for(cell, t)
            m = self.report(cell, ch, codes[i], t + i * rng.randint(3, 9) * MINUTE, lat, lon)
            self.maybe_lifecycle(cell, ch, m.report_id, m.event_time_ms)
        if rng.random() < 0.6:   # a second wave more than an hour later
            t2 = t + rng.randint(70, 150) * MINUTE
            for i in range(5):
                lat, lon = self.jitter(cell)
                ch = self.channel_for(cell, t2)
                m = self.report(cell, ch, rng.choice(PROBLEM_CODES), t2 + i * 4 * MINUTE,
                                lat, lon)
                self.maybe_lifecycle(cell, ch, m.report_id, m.event_time_ms)

    def sensors(self):
        rng = self.rng
        n_sensors = max(6, int(round(8 * self.scale)))
        end = START + self.days * DAY
        for i in range(n_sensors):
            cell = rng.choice(self.cells)
            kind = [1, 2, 3, 4, 5, 6, 7, 1][i % 8]
            sid = "S-%d-%d" % (cell.code, i)
            lat, lon = (0.0, 0.0) if i % 7 == 6 else offset(cell.lat, cell.lon,
                                                              rng.uniform(-30, 30),
                                                              rng.uniform(-30, 30))
            seq = i % 2  # some sensors start at seq 0
            t = START + rng.randint(0, 6 * 60) * MINUTE
            alarm_left = 0
            prev = 1
            while t < end:
                if alarm_left == 0 and rng.random() < 0.09:
                    alarm_left = rng.randint(1, 4)  # an ALARM episode of 1-4 readings
                state = 2 if alarm_left > 0 else 1
                self.sensor_reading(cell, sid, kind, t, state, seq, lat, lon)
                if state == 2:
                    alarm_left -= 1
                    edge = prev != 2
                    # cases reference the edge reading; rarely a repeated ALARM (unknown ref)
                    if edge or rng.random() < 0.05:
                        self.maybe_lifecycle(cell, SENSOR, "%s:%d" % (sid, seq), t)
                prev = state
                seq += 1
                t += rng.randint(4 * 60, 8 * 60) * MINUTE

    def video(self):
        rng = self.rng
        n_cams = max(3, int(round(4 * self.scale)))
        for i in range(n_cams):
            cell = rng.choice(self.cells)
            cam = "CAM-%d-%d" % (cell.code, i)
            lat, lon = offset(cell.lat, cell.lon, rng.uniform(-30, 30), rng.uniform(-30, 30))
            for day in range(self.days):
                if rng.random() < 0.2:
                    continue
                atype = rng.choice(ALARM_TYPES)
                t = self.day_time(day, 8, 20)
                kind = rng.random()
                if kind < 0.15:
                    # near miss: the 3rd qualifying detection is 61-70 s after the 1st
                    for dt in (0, rng.randint(10, 40), rng.randint(61, 70)):
                        self.detection(cell, cam, atype, 0.8, t + dt * 1000, lat, lon)
                    continue
                # a burst: 3 qualifying detections within 60 s (some with noise in between)
                times = [t, t + rng.randint(5, 25) * 1000, t + rng.randint(30, 60) * 1000]
                confs = [rng.choice([0.6, 0.65, 0.9]) for _ in times]
                fired = None
                for j, (tt, c) in enumerate(zip(times, confs)):
                    if j == 1 and rng.random() < 0.3:
                        self.detection(cell, cam, atype, rng.choice([0.3, 0.59]), tt - 1000,
                                       lat, lon)
                    if j == 1 and rng.random() < 0.2:
                        self.detection(cell, cam, rng.choice(UNMAPPED_TYPES), 0.95, tt - 500,
                                       lat, lon)
                    fired = self.detection(cell, cam, atype, c, tt, lat, lon)
                self.maybe_lifecycle(cell, VIDEO, fired.detection_id, times[2])
                # latch extensions, then maybe expiry and a second firing
                last = times[2]
                for _ in range(rng.randint(0, 4)):
                    last += rng.randint(1, 9) * MINUTE
                    self.detection(cell, cam, atype, 0.7, last, lat, lon)
                if rng.random() < 0.5:
                    gap = rng.choice([10 * MINUTE, rng.randint(11, 40) * MINUTE])
                    t2 = last + gap
                    ts = [t2, t2 + rng.randint(5, 30) * 1000, t2 + rng.randint(31, 59) * 1000]
                    for tt in ts:
                        d = self.detection(cell, cam, atype, 0.75, tt, lat, lon)
                    self.maybe_lifecycle(cell, VIDEO, d.detection_id, ts[2])

    def resend_after_ttl(self):
        """Some reports re-sent with the same identity more than 7 days later (new signals),
        some within the TTL with a later time, and exact copies delivered 8 days late (the last
        two are duplicates)."""
        rng = self.rng
        pool = [r for r in self.reports if r[3] < START + (self.days - 10) * DAY]
        for cell, ch, rid, t, lat, lon, code in rng.sample(pool, min(len(pool), 6)):
            t2 = t + 7 * DAY + rng.randint(1, 48) * HOUR
            self.report(cell, ch, code, t2, lat, lon, report_id=rid)
            self.maybe_lifecycle(cell, ch, rid, t2, p=0.8)
        for cell, ch, rid, t, lat, lon, code in rng.sample(pool, min(len(pool), 8)):
            # same identity again within the TTL at a later time: a duplicate by identity
            t2 = t + rng.choice([rng.randint(10, 600) * MINUTE, rng.randint(1, 6) * DAY])
            self.report(cell, ch, code, t2, lat, lon, report_id=rid)
        for cell, ch, rid, t, lat, lon, code in rng.sample(pool, min(len(pool), 3)):
            m = pb.Report(report_id=rid, channel=ch, problem_code=code, cell=cell.code,
                          event_time_ms=t, lat=lat, lon=lon)
            self.add("city.reports", cell.key, m.SerializeToString(), t + 8 * DAY, late=False)

    def unknown_refs(self):
        rng = self.rng
        for i in range(int(round(12 * self.scale))):
            cell = rng.choice(self.cells)
            t = START + rng.randint(0, self.days * 24 * 60 - 1) * MINUTE
            if i % 2 == 0 or not self.reports:
                self.case(cell, self.next_id("C"), rng.choice([FILED, DISPATCHED, CLOSED]),
                          rng.choice([INSPECTOR, VIDEO, SENSOR, HOTLINE]), "GHOST-%d" % i, t,
                          deadline=t + DAY, department="环卫处")
            else:   # a known report id under the wrong channel
                rc, ch, rid, rt, _, _, _ = rng.choice(self.reports)
                wrong = SUPERIOR if ch != SUPERIOR else INSPECTOR
                self.case(rc, self.next_id("C"), FILED, wrong, rid, rt + HOUR, deadline=rt + DAY)

    # -- invalid records (SPEC §3)

    def invalid(self, count):
        rng = self.rng
        valid = [r for r in self.records]
        by_topic = {t: [r for r in valid if r["topic"] == t] for t in gsproto.TOPICS}
        other_cells = self.cells

        def pick(topic):
            r = rng.choice(by_topic[topic])
            m = gsproto.TOPIC_TYPES[topic]()
            m.ParseFromString(r["value"])
            return r, m

        def emit(topic, m_or_bytes, r, key=None, partition=None):
            value = m_or_bytes if isinstance(m_or_bytes, bytes) else m_or_bytes.SerializeToString()
            k = key if key is not None else (str(m_or_bytes.cell).encode()
                                             if not isinstance(m_or_bytes, bytes) else r["key"])
            place = r["place"] + rng.randint(-120, 120) * MINUTE
            self.add(topic, k, value, place, partition=partition, late=False)
            if rng.random() < 0.1:  # a rejected message delivered twice is rejected twice
                self.add(topic, k, value, place + rng.randint(1, 30) * MINUTE,
                         partition=partition, late=False)

        def decode_bad():
            topic = rng.choice(gsproto.TOPICS)
            r, _ = pick(topic)
            bad = rng.choice([r["value"] + b"\x0a\xc8\x01abc", b"\xff\xff\xff\xff",
                              r["value"][:1] + b"\x12\x7f"])
            emit(topic, bad, r)

        def missing_id():
            topic = rng.choice(gsproto.TOPICS)
            r, m = pick(topic)
            field = {"city.reports": ["report_id"], "city.sensors": ["sensor_id"],
                     "city.video": ["detection_id", "camera_id"],
                     "city.cases": ["case_id", "ref_id"]}[topic]
            setattr(m, rng.choice(field), "")
            emit(topic, m, r)

        def bad_enum():
            topic = rng.choice(["city.reports", "city.sensors", "city.cases"])
            r, m = pick(topic)
            if topic == "city.reports":
                m.channel = rng.choice([0, VIDEO, SENSOR, 12])
            elif topic == "city.sensors":
                if rng.random() < 0.5:
                    m.kind = rng.choice([0, 8])
                else:
                    m.state = rng.choice([0, 3])
            else:
                if rng.random() < 0.5:
                    m.stage = rng.choice([0, 8])
                else:
                    m.ref_channel = rng.choice([0, 10])
            emit(topic, m, r)

        def bad_cell():
            topic = rng.choice(gsproto.TOPICS)
            r, m = pick(topic)
            m.cell = rng.choice([m.cell // 1000 * 1000, 44090200100100, 4409020010010011,
                                 99999999999999])
            emit(topic, m, r)

        def bad_problem():
            r, m = pick("city.reports")
            m.problem_code = rng.choice([30101, 10001, 10100, 0, 20000, 1234567])
            emit("city.reports", m, r)

        def bad_time():
            topic = rng.choice(gsproto.TOPICS + ["city.cases"])
            r, m = pick(topic)
            if topic == "city.cases" and rng.random() < 0.6:
                m.stage = FILED
                m.deadline_ms = m.event_time_ms - rng.choice([1, HOUR])
            else:
                m.event_time_ms = rng.choice([0, -1000, -m.event_time_ms])
            emit(topic, m, r)

        def bad_number():
            topic = rng.choice(["city.reports", "city.sensors", "city.video"])
            r, m = pick(topic)
            x = rng.random()
            if topic == "city.video" and x < 0.6:
                m.confidence = rng.choice([1.5, -0.1, float("nan")])
            elif topic == "city.sensors" and x < 0.4:
                m.value = rng.choice([float("nan"), float("inf")])
            elif x < 0.8:
                m.lat = float("nan")
            else:
                m.lon = rng.choice([float("inf"), float("-inf")])
            emit(topic, m, r)

        def bad_position():
            topic = rng.choice(["city.reports", "city.sensors", "city.video"])
            r, m = pick(topic)
            if rng.random() < 0.6:
                m.lat = rng.choice([91.0, -90.0001, 123.4])
            else:
                m.lon = rng.choice([180.5, -181.0])
            emit(topic, m, r)

        def key_mismatch():
            topic = rng.choice(gsproto.TOPICS)
            r, m = pick(topic)
            other = rng.choice(other_cells)
            key = rng.choice([other.key if other.code != m.cell else b"0" + r["key"],
                              r["key"] + b" ", b"0" + r["key"]])
            emit(topic, m, r, key=key)

        def wrong_partition():
            topic = rng.choice(gsproto.TOPICS)
            r, m = pick(topic)
            if self.n < 2:
                return key_mismatch()
            p = (gsproto.partition_for(r["key"], self.n) + rng.randint(1, self.n - 1)) % self.n
            # placed before the original: the rejected copy registers no identity
            self.add(topic, r["key"], r["value"], r["place"] - rng.randint(1, 60) * MINUTE,
                     partition=p, late=False)

        makers = [decode_bad, missing_id, bad_enum, bad_cell, bad_problem, bad_time, bad_number,
                  bad_position, key_mismatch, wrong_partition]
        for i in range(count):
            makers[i % len(makers)]()

    # -- output

    def write(self, out):
        for topic in gsproto.TOPICS:
            os.makedirs(os.path.join(out, topic), exist_ok=True)
        parts = {}
        for r in self.records:
            parts.setdefault((r["topic"], r["partition"]), []).append(r)
        for topic in gsproto.TOPICS:
            for p in range(self.n):
                recs = sorted(parts.get((topic, p), []), key=lambda r: (r["place"], r["seq"]))
                gsproto.write_records(os.path.join(out, topic, "%d.rec" % p),
                                      [(r["key"], r["value"]) for r in recs])


def generate(out, partitions, seed, cells=3, days=45, scale=1.0):
    rng = random.Random(seed)
    g = Gen(rng, partitions, cells, days, scale)
    for day in range(days):
        g.background_reports(day)
        g.merge_pairs(day)
        if day % 4 == 1:
            g.hotspot(day)
    g.sensors()
    g.video()
    g.resend_after_ttl()
    g.unknown_refs()
    n_valid = len(g.records)
    g.invalid(int(round(n_valid * 0.03)))
    g.write(out)
    return g


def main():
    ap = argparse.ArgumentParser(description="deterministic synthetic gridstream replay input")
    ap.add_argument("--out", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--cells", type=int, default=3, help="grid cells per community")
    ap.add_argument("--days", type=int, default=45)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    if args.partitions < 1 or args.cells < 1 or args.cells > 999 or args.days < 1:
        ap.error("bad --partitions/--cells/--days")
    g = generate(args.out, args.partitions, args.seed, args.cells, args.days, args.scale)
    counts = {}
    for r in g.records:
        counts[r["topic"]] = counts.get(r["topic"], 0) + 1
    print("gen_sample: %d records (%s) in %d partitions, %d cells -> %s" % (
        len(g.records), ", ".join("%s %d" % (t, counts.get(t, 0)) for t in gsproto.TOPICS),
        args.partitions, len(g.cells), args.out))


if __name__ == "__main__":
    main()
