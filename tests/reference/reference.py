#!/usr/bin/env python3
"""Independent Python reference of gridstream (SPEC.md §3-§9, read as docs/SPEC-READINGS.md says).

It reads a replay input directory (`DIR/<topic>/<partition>.rec`), processes it task by task
(task p = partition p of the four input topics) in SPEC §4's event-time merge order, and writes
the final tables `gridstream.{kpi,incidents,alerts,scorecards,dlq}.rec` that `replay` must
reproduce record for record (compare.py checks that).

It is written for obviousness, not speed: plain dicts and lists, everything recomputed the
simple way. Every rule names the SPEC / SPEC-READINGS paragraph it comes from.

Usage: reference.py --input DIR --output DIR [--set key=value]... [--quiet]
"""

import argparse
import collections
import datetime
import heapq
import math
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gsproto  # noqa: E402
from gsproto import pb  # noqa: E402

# ---------------------------------------------------------------------------------------------
# configuration defaults (SPEC; "the default is what tests and the demo use")

MINUTE = 60 * 1000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

TZ_OFFSET_MS = 480 * MINUTE          # §7 timezone_offset_minutes = 480
WATERMARK_LAG = 5 * MINUTE           # §7 watermark = max event time - 5 min
KPI_GRACE = 5 * MINUTE               # §7 first emission at window_end + 5 min
DEDUP_TTL = 7 * DAY                  # §4.1
JOIN_TIME = 24 * HOUR                # §5
JOIN_DISTANCE_M = 50.0               # §5
EARTH_RADIUS_M = 6371008.8           # §5
VIDEO_MIN_CONFIDENCE = 0.6           # §4.4
VIDEO_WINDOW = 60 * 1000             # §4.4
VIDEO_LATCH = 10 * MINUTE            # §4.4
HOTSPOT_WINDOW = HOUR                # §8
HOTSPOT_MIN = 5                      # §8
SCORECARD_GRACE = 7 * DAY            # §9
CRITICAL_CODES = {10101, 20401}      # §8

NEG_INF = float("-inf")
POS_INF = float("inf")

# enums (SPEC §2)
INSPECTOR, VIDEO, SENSOR = 1, 2, 3
ACTIVE_CHANNELS = {1, 2, 3, 4, 5, 6}
NORMAL, ALARM = 1, 2
FILED, REJECTED, DISPATCHED, RECTIFIED, VERIFIED, REWORK, CLOSED = 1, 2, 3, 4, 5, 6, 7
CELL, COMMUNITY, STREET, DISTRICT, CITY = 1, 2, 3, 4, 5
W_HOUR, W_DAY, W_MONTH, W_ROLLING = 1, 2, 3, 4
HOTSPOT, CRITICAL, OVERDUE, REPEATED_REWORK = 1, 2, 3, 4

RETENTION = {W_HOUR: 35 * DAY, W_DAY: 35 * DAY, W_ROLLING: 35 * DAY, W_MONTH: 400 * DAY}  # §7

SENSOR_PROBLEM = {1: 10101, 2: 20401, 3: 20301, 4: 20302, 5: 20103, 6: 10201, 7: 20304}  # §4.3
VIDEO_PROBLEM = {882: 20506, 883: 20103, 887: 20501, 890: 20102, 891: 20507, 892: 20104,
                 893: 20509, 894: 20510}  # §4.4

# scorecard deductions (SPEC §9): (target, weight, cap)
SC_TIMELY = (0.95, 1.0, 40.0)
SC_CAPTURE = (0.90, 0.5, 20.0)
SC_FILING = (0.90, 0.5, 10.0)
SC_REWORK = (0.05, 1.0, 15.0)
SC_OVERDUE = (0.2, 15.0)
GRADES = [(90.0, "A"), (75.0, "B"), (60.0, "C"), (40.0, "D")]
FAIL_BELOW = 60.0
TOP_REWARDS = [1000000, 600000, 300000]        # ranks 1, 2, 3
BOTTOM_PENALTIES = [-1000000, -600000, -300000]  # ranks N, N-1, N-2 (when > 3)

# Latest accepted event time, 9999-12-31T23:59:59.999Z (SPEC-READINGS: beyond it, invalid_time).
LATEST_TIME = 253402300799999

# --set key=value: the configurable values the reference knows, and the global each one sets
SETTINGS = {
    "dedup.ttl.ms": ("DEDUP_TTL", int),
    "video.confidence.min": ("VIDEO_MIN_CONFIDENCE", float),
    "video.burst.window.ms": ("VIDEO_WINDOW", int),
    "video.latch.ms": ("VIDEO_LATCH", int),
    "correlation.window.ms": ("JOIN_TIME", int),
    "correlation.distance.m": ("JOIN_DISTANCE_M", float),
    "alert.hotspot.window.ms": ("HOTSPOT_WINDOW", int),
    "alert.hotspot.threshold": ("HOTSPOT_MIN", int),
    "scorecard.grace.ms": ("SCORECARD_GRACE", int),
    "timezone.offset.minutes": ("TZ_OFFSET_MS", lambda v: int(v) * MINUTE),
}


def apply_setting(assignment):
    """Apply one `key=value` to the module's configuration; ValueError when unknown or bad."""
    key, sep, value = assignment.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or key not in SETTINGS:
        raise ValueError("%s: unknown setting (known: %s)" % (key, ", ".join(sorted(SETTINGS))))
    name, conv = SETTINGS[key]
    try:
        globals()[name] = conv(value)
    except ValueError:
        raise ValueError("%s: bad value %r" % (key, value))


KPI_FIELDS = ["signals", "incidents", "merged", "captured", "filed", "rejected", "rectified",
              "rectified_on_time", "closed", "reworked"]

EPOCH = datetime.date(1970, 1, 1)


# ---------------------------------------------------------------------------------------------
# codes and time

def valid_cell(cell):
    """SPEC §1: 15 digits and grid sequence GGG != 000."""
    return 100000000000000 <= cell <= 999999999999999 and cell % 1000 != 0


def valid_problem(code):
    """SPEC §1: kind in {1,2}, major 1..99, minor 1..99."""
    kind, major, minor = code // 10000, (code // 100) % 100, code % 100
    return kind in (1, 2) and 1 <= major <= 99 and 1 <= minor <= 99


def local_floor(t, size):
    """Start (UTC ms) of the local-time window of `size` ms containing t."""
    return (t + TZ_OFFSET_MS) // size * size - TZ_OFFSET_MS


def local_date(t):
    return EPOCH + datetime.timedelta(days=(t + TZ_OFFSET_MS) // DAY)


def date_start_ms(d):
    """UTC ms of local midnight starting date d."""
    return (d - EPOCH).days * DAY - TZ_OFFSET_MS


def month_of(t):
    """(start_ms, end_ms, "YYYY-MM") of the local calendar month containing t."""
    d = local_date(t)
    first = datetime.date(d.year, d.month, 1)
    nxt = datetime.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return date_start_ms(first), date_start_ms(nxt), "%04d-%02d" % (d.year, d.month)


def evaluation_time(month_end_ms):
    """SPEC §9: E = end of M + 7 days."""
    return month_end_ms + SCORECARD_GRACE


def distance_m(lat1, lon1, lat2, lon2):
    """Haversine great-circle distance (SPEC-READINGS), point 1 = the incident's first signal."""
    rad = math.pi / 180.0
    p1 = lat1 * rad
    p2 = lat2 * rad
    dp = (lat2 - lat1) * rad
    dl = (lon2 - lon1) * rad
    sp = math.sin(dp / 2.0)
    sl = math.sin(dl / 2.0)
    a = sp * sp + math.cos(p1) * math.cos(p2) * sl * sl
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def has_position(lat, lon):
    """SPEC §11: "no position" is lat = lon = 0.0 exactly."""
    return not (lat == 0.0 and lon == 0.0)


def rate(num, den):
    """A rate whose denominator is 0 is not set: NaN on the wire (SPEC §2)."""
    return num / den if den else math.nan


def scopes_of(cell):
    return [(CELL, cell), (COMMUNITY, cell // 10**3), (STREET, cell // 10**6),
            (DISTRICT, cell // 10**9), (CITY, cell // 10**11)]


def windows_of(cell, t):
    """Every KPI window an incident opened in `cell` at t belongs to: (key, level, scope, kind,
    start, end). SPEC §7 / §11: HOUR, DAY, MONTH at every level; ROLLING_24H (start at
    hour_start(t) - k h, k = 0..23, 24 h long) at DISTRICT and CITY."""
    out = []
    hs = local_floor(t, HOUR)
    ds = local_floor(t, DAY)
    ms, me, _ = month_of(t)
    for level, scope in scopes_of(cell):
        spans = [(W_HOUR, hs, hs + HOUR), (W_DAY, ds, ds + DAY), (W_MONTH, ms, me)]
        if level in (DISTRICT, CITY):
            for k in range(24):
                spans.append((W_ROLLING, hs - k * HOUR, hs - k * HOUR + DAY))
        for kind, start, end in spans:
            key = "%d:%d:%d:%d" % (level, scope, kind, start)
            out.append((key, level, scope, kind, start, end))
    return out


# ---------------------------------------------------------------------------------------------
# validation (SPEC §3, first applicable reason wins)

def finite(*xs):
    return all(math.isfinite(x) for x in xs)


def validate(topic, msg, key, partition, num_partitions):
    """The DLQ reason of a decoded message, or None when it is accepted (before dedup)."""
    if topic == "city.reports":
        if msg.report_id == "":
            return "missing_id"
        if not (1 <= msg.channel <= 9) or msg.channel in (VIDEO, SENSOR):
            return "invalid_enum"
        if not valid_cell(msg.cell):
            return "invalid_cell"
        if not valid_problem(msg.problem_code):
            return "invalid_problem_code"
        if not 0 < msg.event_time_ms <= LATEST_TIME:
            return "invalid_time"
        if not finite(msg.lat, msg.lon):
            return "invalid_number"
        if abs(msg.lat) > 90 or abs(msg.lon) > 180:
            return "invalid_position"
    elif topic == "city.sensors":
        if msg.sensor_id == "":
            return "missing_id"
        if not (1 <= msg.kind <= 7) or not (1 <= msg.state <= 2):
            return "invalid_enum"
        if not valid_cell(msg.cell):
            return "invalid_cell"
        if not 0 < msg.event_time_ms <= LATEST_TIME:
            return "invalid_time"
        if not finite(msg.lat, msg.lon, msg.value):
            return "invalid_number"
        if abs(msg.lat) > 90 or abs(msg.lon) > 180:
            return "invalid_position"
    elif topic == "city.video":
        if msg.detection_id == "" or msg.camera_id == "":
            return "missing_id"
        if not valid_cell(msg.cell):
            return "invalid_cell"
        if not 0 < msg.event_time_ms <= LATEST_TIME:
            return "invalid_time"
        if not finite(msg.lat, msg.lon) or not (0.0 <= msg.confidence <= 1.0):
            return "invalid_number"
        if abs(msg.lat) > 90 or abs(msg.lon) > 180:
            return "invalid_position"
    elif topic == "city.cases":
        if msg.case_id == "" or msg.ref_id == "":
            return "missing_id"
        if not (1 <= msg.stage <= 7) or not (1 <= msg.ref_channel <= 9):
            return "invalid_enum"
        if not valid_cell(msg.cell):
            return "invalid_cell"
        if not 0 < msg.event_time_ms <= LATEST_TIME or (msg.stage == FILED and msg.deadline_ms < msg.event_time_ms):
            return "invalid_time"
    else:
        raise ValueError(topic)
    if key != str(msg.cell).encode("ascii"):
        return "key_mismatch"
    if gsproto.partition_for(key, num_partitions) != partition:
        return "wrong_partition"
    return None


def identity(topic, msg):
    """Exact-dedup identity (SPEC §4.1)."""
    if topic == "city.reports":
        return ("R", msg.channel, msg.report_id)
    if topic == "city.sensors":
        return ("S", msg.sensor_id, msg.seq)
    if topic == "city.video":
        return ("V", msg.detection_id)
    return ("C", msg.case_id, msg.stage, msg.event_time_ms)


# ---------------------------------------------------------------------------------------------
# state objects

class Incident:
    def __init__(self, iid, cell, problem, t, channel, lat, lon):
        self.id = iid
        self.cell = cell
        self.problem = problem
        self.opened = t
        self.first_channel = channel
        self.captured = channel in ACTIVE_CHANNELS
        self.signal_count = 1
        self.channel_mask = 1 << channel
        self.last_signal = t
        self.lat, self.lon = lat, lon          # position of the first signal
        self.stage = 0
        self.stage_time = None
        self.has_filed = False
        self.filed_ms = 0
        self.deadline_ms = 0
        self.has_rejected = False
        self.has_rectified = False
        self.rectified_ms = 0
        self.has_closed = False
        self.closed_ms = 0
        self.rework_count = 0
        self.department = ""
        self.windows = windows_of(cell, t)
        ms, me, label = month_of(t)
        self.month = ms
        self.month_label = label
        self.E = evaluation_time(me)
        # the scorecard's view: only case events with time <= E (SPEC-READINGS, Scorecards)
        self.sc_filed = False
        self.sc_deadline = 0
        self.sc_rectified = False
        self.sc_rectified_ms = 0
        self.sc_reworked = False
        self.sc_department = ""

    def kpi_vector(self):
        """This incident's contribution to each count of its windows (SPEC-READINGS, KPIs)."""
        on_time = self.has_rectified and self.has_filed and self.rectified_ms <= self.deadline_ms
        return [self.signal_count, 1, self.signal_count - 1, int(self.captured), int(self.has_filed),
                int(self.has_rejected), int(self.has_rectified), int(on_time), int(self.has_closed),
                int(self.rework_count >= 1)]

    def scorecard_view(self):
        return {
            "city": self.cell // 10**11,
            "district": self.cell // 10**9,
            "captured": self.captured,
            "filed": self.sc_filed,
            "deadline": self.sc_deadline,
            "rectified": self.sc_rectified,
            "rectified_ms": self.sc_rectified_ms,
            "reworked": self.sc_reworked,
            "department": self.sc_department,
        }

    def to_pb(self):
        m = pb.Incident()
        m.incident_id = self.id
        m.cell = self.cell
        m.problem_code = self.problem
        m.opened_ms = self.opened
        m.first_channel = self.first_channel
        m.captured = self.captured
        m.signal_count = self.signal_count
        m.channel_mask = self.channel_mask
        m.stage = self.stage
        m.filed_ms = self.filed_ms
        m.deadline_ms = self.deadline_ms
        m.rectified_ms = self.rectified_ms
        m.closed_ms = self.closed_ms
        m.rework_count = self.rework_count
        m.department = self.department
        m.last_signal_ms = self.last_signal
        return m


class VideoState:
    """Per (camera_id, alarm_type) persistence state (SPEC-READINGS, Video persistence)."""

    def __init__(self):
        self.latched = False
        self.last = 0
        self.pending = []   # (time, marker) of qualifying detections not yet part of a signal


# ---------------------------------------------------------------------------------------------
# one task

class Task:
    def __init__(self, partition, num_partitions, records_by_topic, out, stats):
        self.p = partition
        self.n = num_partitions
        self.out = out
        self.stats = stats
        # queues[i] = list of (merge_time, key, value, decoded message or None), partition order
        self.queues = []
        for topic in gsproto.TOPICS:
            q = []
            for key, value in records_by_topic.get(topic, []):
                msg = gsproto.decode(gsproto.TOPIC_TYPES[topic], value)
                mt = msg.event_time_ms if msg is not None else NEG_INF
                q.append((mt, key, value, msg))
            self.queues.append(q)
        self.pos = [0, 0, 0, 0]
        self.max_applied = [None, None, None, None]
        self.wm = self.compute_watermark()

        self.dedup = {}                                   # identity -> first sighting t0
        self.sensor_last = {}                             # sensor_id -> last accepted state
        self.video = {}                                   # (camera_id, alarm_type) -> VideoState
        self.incidents = {}                               # incident_id -> Incident (all, forever)
        self.by_cell_problem = collections.defaultdict(list)
        self.opened_by_cell = collections.defaultdict(list)  # cell -> opened_ms of every incident
        self.hotspot_times = collections.defaultdict(list)   # cell -> times of emitted HOTSPOTs
        self.refs = {}                                    # (channel, signal id) -> incident_id
        self.kpi = {}                                     # window key -> [meta, counts]
        self.overdue_timers = []                          # heap of (deadline, incident_id)
        self.months = {}                                  # month start -> frozen? (bool)
        self.month_E = {}

    # -- watermark (SPEC §7, §11; SPEC-READINGS "Tasks, merge order, watermark")

    def compute_watermark(self):
        vals = []
        for i, q in enumerate(self.queues):
            if self.pos[i] >= len(q):
                continue  # exhausted file: idle, left out of the min
            m = self.max_applied[i]
            vals.append(NEG_INF if m is None else m - WATERMARK_LAG)
        return min(vals) if vals else POS_INF

    # -- main loop

    def run(self):
        while True:
            best = None
            for i, q in enumerate(self.queues):
                if self.pos[i] < len(q):
                    mt = q[self.pos[i]][0]
                    if best is None or mt < best[0]:  # strict: ties keep the earlier topic
                        best = (mt, i)
            if best is None:
                break
            i = best[1]
            _, key, value, msg = self.queues[i][self.pos[i]]
            self.pos[i] += 1
            applied = self.apply(gsproto.TOPICS[i], key, value, msg)
            if applied:
                t = msg.event_time_ms
                if self.max_applied[i] is None or t > self.max_applied[i]:
                    self.max_applied[i] = t
            self.wm = self.compute_watermark()
            self.run_timers()

    def dlq(self, reason, value):
        self.out.dlq.append((reason, value))
        self.stats["dlq." + reason] += 1

    def apply(self, topic, key, value, msg):
        """Apply one record; True when it is not rejected (then it advances the watermark)."""
        self.stats["in." + topic] += 1
        if msg is None:
            self.dlq("decode", value)
            return False
        reason = validate(topic, msg, key, self.p, self.n)
        if reason is not None:
            self.dlq(reason, value)
            return False
        ident = identity(topic, msg)
        t = msg.event_time_ms
        if self.is_duplicate(ident, t):
            self.stats["duplicates_exact"] += 1
            return True
        if topic == "city.reports":
            self.signal(msg.cell, msg.problem_code, t, msg.lat, msg.lon, msg.channel, msg.report_id)
        elif topic == "city.sensors":
            self.sensor(msg)
        elif topic == "city.video":
            self.video_detection(msg)
        else:
            if not self.case_event(msg):
                self.dlq("unknown_ref", value)
                return False  # registers no identity
        self.dedup[ident] = t
        return True

    def is_duplicate(self, ident, t):
        """SPEC §11 / SPEC-READINGS Dedup: duplicate iff t - t0 <= TTL for a remembered first
        sighting t0; an entry is forgotten once the watermark is more than 2 x TTL past t0."""
        t0 = self.dedup.get(ident)
        if t0 is None:
            return False
        if self.wm > t0 + 2 * DEDUP_TTL:
            del self.dedup[ident]
            return False
        return t - t0 <= DEDUP_TTL

    # -- signals (SPEC §4)

    def sensor(self, m):
        prev = self.sensor_last.get(m.sensor_id)
        self.sensor_last[m.sensor_id] = m.state
        if m.state == ALARM and prev != ALARM:
            self.signal(m.cell, SENSOR_PROBLEM[m.kind], m.event_time_ms, m.lat, m.lon, SENSOR,
                        "%s:%d" % (m.sensor_id, m.seq))
        else:
            self.stats["sensor.no_edge"] += 1

    def video_detection(self, m):
        problem = VIDEO_PROBLEM.get(m.alarm_type)
        if problem is None or m.confidence < VIDEO_MIN_CONFIDENCE:
            self.stats["video.ignored"] += 1
            return
        t = m.event_time_ms
        st = self.video.setdefault((m.camera_id, m.alarm_type), VideoState())
        if st.latched:
            if t - st.last >= VIDEO_LATCH:
                st.latched = False
                st.pending = [(t, object())]  # first of a new triple
            else:
                st.last = max(st.last, t)
            return
        me = object()  # marks this detection's own entry in pending
        st.pending.append((t, me))
        newest = max(x for x, _ in st.pending)
        st.pending = [(x, o) for x, o in st.pending if newest - x <= VIDEO_WINDOW]
        others = [x for x, o in st.pending if o is not me]
        fire = False
        for a in range(len(others)):
            for b in range(a + 1, len(others)):
                p, q = others[a], others[b]
                if max(t, p, q) - min(t, p, q) <= VIDEO_WINDOW:
                    fire = True
        if fire:
            st.latched = True
            st.last = t
            st.pending = []
            self.signal(m.cell, problem, t, m.lat, m.lon, VIDEO, m.detection_id)

    # -- correlation (SPEC §5)

    def signal(self, cell, problem, t, lat, lon, channel, sig_id):
        self.stats["signals"] += 1
        pos = has_position(lat, lon)
        cands = []
        for inc in self.by_cell_problem[(cell, problem)]:
            if inc.stage in (CLOSED, REJECTED):
                continue
            if self.wm > inc.last_signal + JOIN_TIME + DEDUP_TTL:
                continue  # no longer kept for joining (SPEC-READINGS)
            if not (t - inc.last_signal <= JOIN_TIME and t >= inc.opened - JOIN_TIME):
                continue
            if pos and has_position(inc.lat, inc.lon):
                d = distance_m(inc.lat, inc.lon, lat, lon)
                if d > JOIN_DISTANCE_M:
                    continue
            else:
                d = 0.0
            cands.append((d, inc.opened, inc.id.encode("utf-8"), inc))
        if cands:
            inc = min(cands, key=lambda c: c[:3])[3]
            old = inc.kpi_vector()
            inc.signal_count += 1
            inc.channel_mask |= 1 << channel
            inc.last_signal = max(inc.last_signal, t)
            self.kpi_change(inc, old)
            self.stats["merged"] += 1
        else:
            iid = "%d-%d-%d-%d-%s" % (cell, problem, t, channel, sig_id)
            if iid in self.incidents:
                # The very signal that opened this incident, delivered again after its dedup
                # entry was forgotten, with the incident no longer joinable (closed, rejected or
                # evicted). SPEC leaves this open; the reading here: it is dropped and changes
                # nothing (no second incident under one id, no double counting).
                self.stats["signal_id_collisions"] += 1
                return
            inc = Incident(iid, cell, problem, t, channel, lat, lon)
            self.incidents[iid] = inc
            self.by_cell_problem[(cell, problem)].append(inc)
            self.kpi_change(inc, [0] * len(KPI_FIELDS))
            self.opened(inc)
        self.refs[(channel, sig_id)] = inc.id

    def opened(self, inc):
        cell, t = inc.cell, inc.opened
        # HOTSPOT (SPEC §8, §11). SPEC-READINGS: open and hotspot times more than 1 h + the HOUR
        # KPI retention behind the watermark (before this record) are forgotten.
        horizon = self.wm - HOTSPOT_WINDOW - RETENTION[W_HOUR]
        self.opened_by_cell[cell] = [o for o in self.opened_by_cell[cell] if o >= horizon]
        self.hotspot_times[cell] = [h for h in self.hotspot_times[cell] if h >= horizon]
        self.opened_by_cell[cell].append(t)
        count = sum(1 for o in self.opened_by_cell[cell] if t - HOTSPOT_WINDOW < o <= t)
        if count >= HOTSPOT_MIN:
            recent = any(t - HOTSPOT_WINDOW < h <= t for h in self.hotspot_times[cell])
            if not recent:
                self.hotspot_times[cell].append(t)
                self.alert("HOTSPOT:%d:%d" % (cell, t), HOTSPOT, inc, t, count,
                           "%d incidents in cell %d within 1 h" % (count, cell))
        # CRITICAL
        if inc.problem in CRITICAL_CODES:
            self.alert("CRITICAL:" + inc.id, CRITICAL, inc, t, 1,
                       "critical problem %d" % inc.problem)
        # scorecard month timer
        if inc.month not in self.months:
            self.months[inc.month] = False
            self.month_E[inc.month] = inc.E

    def alert(self, alert_id, kind, inc, t, count, message):
        if alert_id in self.out.alerts:
            return
        a = pb.Alert()
        a.alert_id = alert_id
        a.kind = kind
        a.cell = inc.cell
        a.incident_id = inc.id
        a.event_time_ms = t
        a.problem_code = inc.problem
        a.count = count
        a.message = message
        self.out.alerts[alert_id] = a
        self.stats["alerts.%d" % kind] += 1

    # -- case lifecycle (SPEC §6)

    def case_event(self, m):
        iid = self.refs.get((m.ref_channel, m.ref_id))
        if iid is None:
            return False
        inc = self.incidents[iid]
        t = m.event_time_ms
        old = inc.kpi_vector()
        if inc.stage_time is None or t >= inc.stage_time:  # latest by time, ties: later arrival
            inc.stage = m.stage
            inc.stage_time = t
        in_view = t <= inc.E
        if m.stage == FILED:
            if not inc.has_filed:
                inc.has_filed = True
                inc.filed_ms = t
                inc.deadline_ms = m.deadline_ms
                heapq.heappush(self.overdue_timers, (inc.deadline_ms, inc.id))
            if in_view and not inc.sc_filed:
                inc.sc_filed = True
                inc.sc_deadline = m.deadline_ms
        elif m.stage == REJECTED:
            inc.has_rejected = True
        elif m.stage == DISPATCHED:
            inc.department = m.department
            if in_view and m.department != "":
                inc.sc_department = m.department
        elif m.stage == RECTIFIED:
            if not inc.has_rectified:
                inc.has_rectified = True
                inc.rectified_ms = t
            if in_view and not inc.sc_rectified:
                inc.sc_rectified = True
                inc.sc_rectified_ms = t
        elif m.stage == REWORK:
            inc.rework_count += 1
            if in_view:
                inc.sc_reworked = True
            if inc.rework_count == 2:
                self.alert("REWORK:" + inc.id, REPEATED_REWORK, inc, t, 2, "reworked twice")
        elif m.stage == CLOSED:
            if not inc.has_closed:
                inc.has_closed = True
                inc.closed_ms = t
        # VERIFIED only changes stage
        self.kpi_change(inc, old)
        return True

    # -- KPI windows (SPEC §7, SPEC-READINGS KPIs)

    def kpi_change(self, inc, old):
        new = inc.kpi_vector()
        delta = [b - a for a, b in zip(old, new)]
        if not any(delta):
            return
        for key, level, scope, kind, start, end in inc.windows:
            if self.wm > end + RETENTION[kind]:
                self.stats["kpi_late_dropped"] += 1
                continue
            entry = self.kpi.get(key)
            if entry is None:
                entry = self.kpi[key] = [(level, scope, kind, start, end), [0] * len(KPI_FIELDS)]
            counts = entry[1]
            for j, d in enumerate(delta):
                counts[j] += d

    # -- timers (SPEC-READINGS: checked after every record)

    def run_timers(self):
        while self.overdue_timers and self.overdue_timers[0][0] < self.wm:
            deadline, iid = heapq.heappop(self.overdue_timers)
            inc = self.incidents[iid]
            if not inc.has_rectified and inc.stage != REJECTED:
                self.alert("OVERDUE:" + iid, OVERDUE, inc, deadline, 1, "deadline passed")
        for month, frozen in sorted(self.months.items()):
            if not frozen and self.month_E[month] < self.wm:
                self.months[month] = True
                views = [inc.scorecard_view() for inc in self.incidents.values()
                         if inc.month == month]
                self.out.frozen.append((month, self.month_E[month], views))


# ---------------------------------------------------------------------------------------------
# cross-task output

class Output:
    def __init__(self):
        self.dlq = []           # (reason, original bytes)
        self.alerts = {}        # alert_id -> pb.Alert
        self.incidents = {}     # incident_id -> pb.Incident
        self.kpi = {}           # key -> [meta, counts]
        self.frozen = []        # (month start, E, [views]) per task freeze


def kpi_records(kpi):
    out = []
    for key in sorted(kpi):
        (level, scope, kind, start, end), c = kpi[key]
        counts = dict(zip(KPI_FIELDS, c))
        if counts["incidents"] < 1:
            continue  # SPEC §11: only windows with >= 1 incident
        r = pb.KpiRecord()
        r.level = level
        r.scope = scope
        r.window = kind
        r.window_start_ms = start
        r.window_end_ms = end
        for f in KPI_FIELDS:
            setattr(r, f, counts[f])
        r.capture_rate = rate(counts["captured"], counts["incidents"])
        r.filing_rate = rate(counts["filed"], counts["incidents"])
        r.rectification_rate = rate(counts["rectified"], counts["filed"])
        r.timely_rate = rate(counts["rectified_on_time"], counts["filed"])
        r.version = 1
        out.append((key, r))
    return out


def deduction_of(timely, capture, filing, rework, overdue_open):
    """SPEC §9 deductions, summed in the order the SPEC lists them; unset rates deduct nothing."""
    d = 0.0
    target, weight, cap = SC_TIMELY
    if not math.isnan(timely):
        d += min(cap, 100.0 * max(0.0, target - timely) * weight)
    target, weight, cap = SC_CAPTURE
    if not math.isnan(capture):
        d += min(cap, 100.0 * max(0.0, target - capture) * weight)
    target, weight, cap = SC_FILING
    if not math.isnan(filing):
        d += min(cap, 100.0 * max(0.0, target - filing) * weight)
    target, weight, cap = SC_REWORK
    if not math.isnan(rework):
        d += min(cap, 100.0 * max(0.0, rework - target) * weight)
    per, cap = SC_OVERDUE
    d += min(cap, per * overdue_open)
    return d


def round_score(score):
    return math.floor(score * 100.0 + 0.5 + 1e-9) / 100.0


def grade_of(score):
    for bound, g in GRADES:
        if score >= bound:
            return g
    return "E"


def scorecards(frozen):
    """Build every (city, month) scorecard from the tasks' frozen contributions (SPEC §9)."""
    by_city_month = collections.defaultdict(list)   # (city, month start) -> views
    E_of = {}
    for month, E, views in frozen:
        E_of[month] = E
        for v in views:
            by_city_month[(v["city"], month)].append(v)
    out = []
    fails = {}  # (city, month start, district) -> consecutive_fails
    for (city, month) in sorted(by_city_month):
        views = by_city_month[(city, month)]
        E = E_of[month]
        _, _, label = month_of(month)
        prev_month = month_of(month - 1)[0]
        districts = collections.defaultdict(list)
        for v in views:
            districts[v["district"]].append(v)
        rows = []
        for d, vs in districts.items():
            s = pb.DistrictScore()
            s.district = d
            s.incidents = len(vs)
            s.captured = sum(1 for v in vs if v["captured"])
            filed = [v for v in vs if v["filed"]]
            s.filed = len(filed)
            s.due = sum(1 for v in filed if v["rectified"] or v["deadline"] <= E)
            s.rectified = sum(1 for v in filed if v["rectified"])
            s.rectified_on_time = sum(1 for v in filed
                                      if v["rectified"] and v["rectified_ms"] <= v["deadline"])
            s.reworked = sum(1 for v in vs if v["reworked"])
            s.overdue_open = s.due - s.rectified
            s.capture_rate = rate(s.captured, s.incidents)
            s.filing_rate = rate(s.filed, s.incidents)
            s.rectification_rate = rate(s.rectified, s.due)
            s.timely_rate = rate(s.rectified_on_time, s.due)
            s.rework_rate = rate(s.reworked, s.rectified)
            s.deduction = deduction_of(s.timely_rate, s.capture_rate, s.filing_rate,
                                       s.rework_rate, s.overdue_open)
            s.score = round_score(max(0.0, 100.0 - s.deduction))
            s.grade = grade_of(s.score)
            s.fail = s.score < FAIL_BELOW
            if s.fail:
                s.consecutive_fails = 1 + fails.get((city, prev_month, d), 0)
            else:
                s.consecutive_fails = 0
            fails[(city, month, d)] = s.consecutive_fails
            s.accountability = s.consecutive_fails >= 2
            rows.append(s)

        def district_order(s):
            tr = s.timely_rate
            return (-s.score, (1, 0.0) if math.isnan(tr) else (0, -tr), s.district)

        rows.sort(key=district_order)
        n = len(rows)
        for i, s in enumerate(rows):
            r = i + 1
            s.rank = r
            if r <= 3:
                s.reward_cny = TOP_REWARDS[r - 1]
            elif n - r < 3:
                s.reward_cny = BOTTOM_PENALTIES[n - r]
            else:
                s.reward_cny = 0

        deps = {}
        for v in views:
            name = v["department"]
            if name == "":
                continue
            a = deps.setdefault(name, [0, 0])
            a[0] += 1
            if v["filed"] and v["rectified"] and v["rectified_ms"] <= v["deadline"]:
                a[1] += 1
        drows = []
        for name, (assigned, on_time) in deps.items():
            ds = pb.DepartmentScore()
            ds.department = name
            ds.assigned = assigned
            ds.rectified_on_time = on_time
            ds.timely_rate = rate(on_time, assigned)
            drows.append(ds)
        drows.sort(key=lambda x: (-x.timely_rate, -x.assigned, x.department.encode("utf-8")))
        for i, ds in enumerate(drows):
            ds.rank = i + 1

        sc = pb.Scorecard()
        sc.city = city
        sc.month = label
        sc.evaluated_at_ms = E
        sc.districts.extend(rows)
        sc.departments.extend(drows)
        out.append(("%d:%s" % (city, label), sc))
    return out


# ---------------------------------------------------------------------------------------------
# driver

def read_input(input_dir):
    """{topic: {partition: [(key, value)]}} and the partition count N (SPEC-READINGS)."""
    data = {}
    n = 0
    for topic in gsproto.TOPICS:
        data[topic] = {}
        d = os.path.join(input_dir, topic)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            mt = re.fullmatch(r"(\d+)\.rec", name)
            if not mt:
                continue
            p = int(mt.group(1))
            data[topic][p] = gsproto.read_records(os.path.join(d, name))
            n = max(n, p + 1)
    return data, n


def run(input_dir, output_dir, quiet=False):
    started = time.monotonic()
    data, n = read_input(input_dir)
    out = Output()
    stats = collections.Counter()   # metrics: dlq.<reason>, duplicates_exact, ...
    for p in range(n):
        task = Task(p, n, {t: data[t].get(p, []) for t in gsproto.TOPICS}, out, stats)
        task.run()
        for iid, inc in task.incidents.items():
            out.incidents[iid] = inc.to_pb()
        for key, (meta, counts) in task.kpi.items():
            entry = out.kpi.setdefault(key, [meta, [0] * len(KPI_FIELDS)])
            for j, c in enumerate(counts):
                entry[1][j] += c

    os.makedirs(output_dir, exist_ok=True)
    kpis = kpi_records(out.kpi)
    cards = scorecards(out.frozen)

    def write(name, pairs):
        gsproto.write_records(os.path.join(output_dir, "gridstream.%s.rec" % name), pairs)

    write("kpi", [(k.encode(), r.SerializeToString()) for k, r in kpis])
    write("incidents", [(k.encode(), out.incidents[k].SerializeToString())
                        for k in sorted(out.incidents)])
    write("alerts", [(k.encode(), out.alerts[k].SerializeToString()) for k in sorted(out.alerts)])
    write("scorecards", [(k.encode(), sc.SerializeToString()) for k, sc in cards])
    write("dlq", [(reason.encode(), value) for reason, value in out.dlq])

    elapsed = time.monotonic() - started
    if not quiet:
        c = stats
        inputs = sum(v for k, v in c.items() if k.startswith("in."))
        print("reference: %d partitions, %d input records (%s)" % (
            n, inputs, ", ".join("%s %d" % (t, c["in." + t]) for t in gsproto.TOPICS)))
        print("  dlq %d (%s)" % (len(out.dlq), ", ".join(
            "%s %d" % (r, c["dlq." + r]) for r in gsproto.DLQ_REASONS if c["dlq." + r])))
        print("  duplicates_exact %d, signals %d, merged %d, incidents %d, id collisions %d" % (
            c["duplicates_exact"], c["signals"], c["merged"], len(out.incidents),
            c["signal_id_collisions"]))
        print("  alerts %d (HOTSPOT %d, CRITICAL %d, OVERDUE %d, REPEATED_REWORK %d)" % (
            len(out.alerts), c["alerts.1"], c["alerts.2"], c["alerts.3"], c["alerts.4"]))
        print("  kpi windows %d, kpi_late_dropped %d, scorecards %d" % (
            len(kpis), c["kpi_late_dropped"], len(cards)))
        print("  %.2f s" % elapsed)
    return out, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a default: " + ", ".join(sorted(SETTINGS)))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    for assignment in args.set:
        try:
            apply_setting(assignment)
        except ValueError as e:
            ap.error(str(e))
    run(args.input, args.output, args.quiet)


if __name__ == "__main__":
    main()
