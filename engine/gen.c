/*
 * gen.c - the deterministic synthetic city of `gridstream gen` (see gen.h for what it produces and
 * the invariants it keeps), and the command that writes it to replay files or produces it to Kafka.
 *
 * How the order comes about: the simulation walks the days; for each day it visits every cell and
 * decides that cell's records of the day, and every record decided on (also case events days later,
 * follow-up reports the next morning) is queued in a min-heap by (placement time, sequence). After
 * a day is decided for all cells, every queued record placed before the end of that day is handed
 * over. Nothing decided later can be placed earlier than the current day, so the stream comes out
 * in placement order, which is event-time order except for the records deliberately placed late.
 */
#include "gen.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "codes.h"
#include "config.h"
#include "recfile.h"
#include "timeutil.h"

#define DAY GS_DAY_MS
#define HOUR GS_HOUR_MS
#define MINUTE GS_MINUTE_MS
#define SECOND INT64_C(1000)
#define M_PER_DEG (6371008.8 * 3.14159265358979323846 / 180.0)

/* Channels, sensor kinds and states, stages: the wire enum numbers. */
enum {
    CH_INSPECTOR = 1,
    CH_VIDEO,
    CH_SENSOR,
    CH_DRONE,
    CH_PATROL,
    CH_TERMINAL,
    CH_HOTLINE,
    CH_APP,
    CH_SUPERIOR
};
enum { ST_NORMAL = 1, ST_ALARM = 2 };
enum { SG_FILED = 1, SG_REJECTED, SG_DISPATCHED, SG_RECTIFIED, SG_VERIFIED, SG_REWORK, SG_CLOSED };

/* ---- the city ------------------------------------------------------------------------------ */

typedef struct gen_city {
    double lat, lon;
    int ndistricts;
    uint32_t districts[5];
} gen_city_t;

/* Maoming (4409) and Guangzhou (4401). Small runs use Maoming only. */
static const gen_city_t CITIES[] = {
    {21.66, 110.92, 4, {440902, 440904, 440981, 440982}},
    {23.12, 113.26, 3, {440103, 440104, 440106}},
};

static const uint32_t PROBLEM_CODES[] = {
    20101, 20102, 20103, 20104, 20105, 20201, 20301, 20302, 20303, 20304, 20501, 20502, 20506,
    20507, 20509, 20510, 20601, 10101, 10102, 10201, 10202, 10301, 10401, 10501, 20401};
#define N_CODES (sizeof(PROBLEM_CODES) / sizeof(PROBLEM_CODES[0]))

static const char *const DEPARTMENTS[] = {
    "城管执法局", "环卫处", "市政公用局", "园林绿化局",
    "交通运输局", "住建局", "水务局",     "Street Lighting Office"};
#define N_DEPTS (sizeof(DEPARTMENTS) / sizeof(DEPARTMENTS[0]))

static const char *const DESCRIPTIONS[] = {
    "暴露垃圾",    "占道经营",     "井盖缺失",
    "路面积水",    "机动车乱停放", "乱张贴",
    "绿地脏乱",    "路灯不亮",     "litter near the bus stop",
    "渣土车未覆盖"};
#define N_DESCR (sizeof(DESCRIPTIONS) / sizeof(DESCRIPTIONS[0]))

/* Mapped video alarm types (SPEC §4) and types with no mapping (ignored, not DLQ). */
static const uint32_t ALARM_TYPES[8] = {882, 883, 887, 890, 891, 892, 893, 894};
static const uint32_t UNMAPPED_TYPES[] = {0, 880, 899, 1001};
static const float QUAL_CONF[] = {0.6f, 0.65f, 0.72f, 0.8f, 0.9f, 0.97f};

/* Sensor value ranges (NORMAL lo..hi, ALARM lo..hi) by kind 1..7. */
static const double SENSOR_RANGE[8][4] = {
    {0, 0, 0, 0},      {0, 5, 30, 90},   {0, 5, 15, 60}, {20, 80, 150, 400},
    {35, 65, 75, 110}, {0, 70, 90, 100}, {0, 1, 1, 1},   {0, 0.5, 1, 3},
};

typedef struct gen_cell {
    uint64_t code;
    char key[24];
    uint32_t klen, part;
    double lat, lon, quality;
    /* a sensor (kind 0 = none) */
    int skind, sprev, alarm_left;
    char sid[40];
    uint64_t sseq;
    int64_t snext;
    double slat, slon;
    /* a camera */
    bool cam;
    char cam_id[40];
    double clat, clon;
    int64_t last_qual[8]; /* last qualifying detection per alarm type (latch bookkeeping) */
    /* ids that are not signals or not under another channel, for unknown_ref records */
    char last_report[24];
    int last_report_ch;
    char last_noise_det[24];
    char last_normal[56];
} gen_cell_t;

/* A queued record: key and value bytes in one allocation. */
typedef struct gen_item {
    int64_t place, t;
    uint64_t seq;
    uint8_t *buf;
    uint32_t klen, vlen, partition;
    int8_t topic, intent;
    bool dup, late;
} gen_item_t;

struct gs_gen {
    gs_gen_opts_t o;
    uint64_t s[4]; /* xoshiro256** state */
    gen_cell_t *cells;
    int ncells;
    gen_item_t *heap;
    size_t n, cap;
    uint64_t seq, next_id, rr;
    double dup_rate, late_rate, invalid_p;
    gs_gen_stats_t st;
    bool ran, nomem;
};

/* ---- PRNG: splitmix64 seeding xoshiro256** ----------------------------------------------------
 */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(gs_gen_t *g)
{
    uint64_t *s = g->s;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, n), n > 0, without modulo bias. */
static uint64_t rng_below(gs_gen_t *g, uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do
        x = rng_next(g);
    while (x >= lim);
    return x % n;
}

/* Uniform in [lo, hi]. */
static int64_t rng_range(gs_gen_t *g, int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below(g, (uint64_t)(hi - lo) + 1);
}

static double rng_unit(gs_gen_t *g)
{
    return (double)(rng_next(g) >> 11) * 0x1.0p-53;
}

static bool rng_chance(gs_gen_t *g, double p)
{
    return rng_unit(g) < p;
}

/* ---- geometry ----------------------------------------------------------------------------- */

static void offset(double lat, double lon, double north_m, double east_m, double *olat,
                   double *olon)
{
    *olat = lat + north_m / M_PER_DEG;
    *olon = lon + east_m / (M_PER_DEG * cos(lat * 3.14159265358979323846 / 180.0));
}

/* A position within `radius` m of (lat, lon); with probability `none`, no position (0, 0). */
static void jitter(gs_gen_t *g, double lat, double lon, double radius, double none, double *olat,
                   double *olon)
{
    if (rng_chance(g, none)) {
        *olat = *olon = 0.0;
        return;
    }
    double r = radius * sqrt(rng_unit(g)), a = rng_unit(g) * 2 * 3.14159265358979323846;
    offset(lat, lon, r * cos(a), r * sin(a), olat, olon);
}

/* ---- the queue ------------------------------------------------------------------------------ */

static bool item_less(const gen_item_t *a, const gen_item_t *b)
{
    return a->place < b->place || (a->place == b->place && a->seq < b->seq);
}

static void heap_push(gs_gen_t *g, gen_item_t *it)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4096;
        gen_item_t *h = realloc(g->heap, cap * sizeof(*h));
        if (!h) {
            free(it->buf);
            g->nomem = true;
            return;
        }
        g->heap = h;
        g->cap = cap;
    }
    size_t i = g->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(it, &g->heap[p])) break;
        g->heap[i] = g->heap[p];
        i = p;
    }
    g->heap[i] = *it;
}

static gen_item_t heap_pop(gs_gen_t *g)
{
    gen_item_t top = g->heap[0], last = g->heap[--g->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g->n) break;
        if (c + 1 < g->n && item_less(&g->heap[c + 1], &g->heap[c])) c++;
        if (!item_less(&g->heap[c], &last)) break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (g->n) g->heap[i] = last;
    return top;
}

/* Queues one record (key and value copied). */
static void queue_raw(gs_gen_t *g, gs_source_t topic, const char *key, size_t klen,
                      uint32_t partition, const uint8_t *val, size_t vlen, int64_t t, int64_t place,
                      gs_err_t intent, bool dup, bool late)
{
    if (g->nomem) return;
    gen_item_t it = {.place = place,
                     .t = t,
                     .seq = g->seq++,
                     .klen = (uint32_t)klen,
                     .vlen = (uint32_t)vlen,
                     .partition = partition,
                     .topic = (int8_t)topic,
                     .intent = (int8_t)intent,
                     .dup = dup,
                     .late = late};
    it.buf = malloc(klen + vlen + 1);
    if (!it.buf) {
        g->nomem = true;
        return;
    }
    memcpy(it.buf, key, klen);
    memcpy(it.buf + klen, val, vlen);
    heap_push(g, &it);
}

/* Packs a message into a fresh buffer (NULL on no memory). */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len + 1);
    if (b) protobuf_c_message_pack(m, b);
    return b;
}

static int64_t *msg_time(gs_source_t topic, ProtobufCMessage *m)
{
    switch (topic) {
    case GS_SRC_REPORTS:
        return &((Gridstream__V1__Report *)m)->event_time_ms;
    case GS_SRC_SENSORS:
        return &((Gridstream__V1__SensorReading *)m)->event_time_ms;
    case GS_SRC_VIDEO:
        return &((Gridstream__V1__VideoDetection *)m)->event_time_ms;
    default:
        return &((Gridstream__V1__CaseEvent *)m)->event_time_ms;
    }
}

static void make_invalid(gs_gen_t *g, gen_cell_t *c, int64_t t);

/*
 * Queues a valid record of cell `c` at its event time; a small share is placed late (when
 * `may_be_late`) and a small share is re-sent (exact copy, or for reports the same identity with a
 * later time); with the invalid rate, an invalid record follows.
 */
static void put_valid(gs_gen_t *g, gs_source_t topic, gen_cell_t *c, ProtobufCMessage *m,
                      bool may_be_late)
{
    int64_t t = *msg_time(topic, m), place = t;
    bool late = may_be_late && rng_chance(g, g->late_rate);
    if (late) place += rng_range(g, MINUTE, GS_GEN_LATE_MAX_MS);
    size_t len;
    uint8_t *b = pack(m, &len);
    if (!b) {
        g->nomem = true;
        return;
    }
    queue_raw(g, topic, c->key, c->klen, c->part, b, len, t, place, GS_OK, false, late);
    if (rng_chance(g, g->dup_rate)) {
        int64_t dplace = place + rng_range(g, MINUTE, HOUR);
        if (topic == GS_SRC_REPORTS && rng_chance(g, 0.25)) {
            /* same (channel, report_id) with a later time: a duplicate by identity */
            int64_t *tp = msg_time(topic, m), t0 = *tp;
            *tp = t + rng_range(g, MINUTE, 10 * MINUTE);
            size_t l2;
            uint8_t *b2 = pack(m, &l2);
            if (b2) {
                queue_raw(g, topic, c->key, c->klen, c->part, b2, l2, *tp,
                          dplace > *tp ? dplace : *tp, GS_OK, true, false);
                free(b2);
            } else {
                g->nomem = true;
            }
            *tp = t0;
        } else {
            queue_raw(g, topic, c->key, c->klen, c->part, b, len, t, dplace, GS_OK, true, false);
        }
    }
    free(b);
    if (rng_chance(g, g->invalid_p)) make_invalid(g, c, t);
}

static void next_id(gs_gen_t *g, char *buf, size_t len, char prefix)
{
    snprintf(buf, len, "%c%08llu", prefix, (unsigned long long)++g->next_id);
}

/* ---- case lifecycles (SPEC §6) ----------------------------------------------------------------
 */

static void put_case(gs_gen_t *g, gen_cell_t *c, const char *cid, int stage, int ref_ch,
                     const char *ref_id, int64_t t, int64_t deadline, const char *dept)
{
    Gridstream__V1__CaseEvent m = GRIDSTREAM__V1__CASE_EVENT__INIT;
    m.case_id = (char *)cid;
    m.stage = (Gridstream__V1__Stage)stage;
    m.ref_channel = (Gridstream__V1__Channel)ref_ch;
    m.ref_id = (char *)ref_id;
    m.cell = c->code;
    m.event_time_ms = t;
    m.deadline_ms = deadline;
    m.department = (char *)(dept ? dept : "");
    put_valid(g, GS_SRC_CASES, c, &m.base, true);
}

/*
 * The case of one signal (`ref_ch`, `ref_id` at t_sig): filed with a deadline of 1-3 days,
 * dispatched, rectified before or after the deadline (the cell's quality decides how often late),
 * reworked sometimes once or twice, verified and closed; some rejected, some never rectified.
 */
static void lifecycle(gs_gen_t *g, gen_cell_t *c, int ref_ch, const char *ref_id, int64_t t_sig)
{
    double q = c->quality;
    char cid[24];
    next_id(g, cid, sizeof(cid), 'C');
    g->st.cases++;
    int64_t t = t_sig + rng_range(g, GS_GEN_CASE_MIN_DELAY_MS, 3 * HOUR);
    if (rng_chance(g, 0.03 + 0.05 * (1 - q))) {
        put_case(g, c, cid, SG_REJECTED, ref_ch, ref_id, t, 0, NULL);
        return;
    }
    int64_t deadline = t + rng_range(g, 1, 3) * DAY;
    put_case(g, c, cid, SG_FILED, ref_ch, ref_id, t, deadline, NULL);
    if (rng_chance(g, 0.03)) {
        put_case(g, c, cid, SG_REJECTED, ref_ch, ref_id, t + rng_range(g, 5, 120) * MINUTE, 0,
                 NULL);
        return;
    }
    t += rng_range(g, 10, 120) * MINUTE;
    const char *dept = rng_chance(g, 0.03) ? "" : DEPARTMENTS[rng_below(g, N_DEPTS)];
    put_case(g, c, cid, SG_DISPATCHED, ref_ch, ref_id, t, 0, dept);
    if (rng_chance(g, 0.06)) { /* re-dispatched to another department */
        t += rng_range(g, 30, 300) * MINUTE;
        put_case(g, c, cid, SG_DISPATCHED, ref_ch, ref_id, t, 0,
                 DEPARTMENTS[rng_below(g, N_DEPTS)]);
    }
    if (rng_chance(g, 0.04 + 0.12 * (1 - q))) return; /* never rectified: overdue */
    int64_t span = deadline - t;
    if (span < HOUR) span = HOUR;
    t += 10 * MINUTE + (int64_t)((double)span * (0.1 + rng_unit(g) * (0.6 + 0.9 * (1 - q))));
    put_case(g, c, cid, SG_RECTIFIED, ref_ch, ref_id, t, 0, NULL);
    for (int k = 0; k < 2 && rng_chance(g, k == 0 ? 0.06 + 0.15 * (1 - q) : 0.35); k++) {
        t += rng_range(g, 1, 10) * HOUR;
        put_case(g, c, cid, SG_REWORK, ref_ch, ref_id, t, 0, NULL);
        t += rng_range(g, 2, 30) * HOUR;
        put_case(g, c, cid, SG_RECTIFIED, ref_ch, ref_id, t, 0, NULL);
    }
    if (rng_chance(g, 0.08)) return; /* not verified yet */
    t += rng_range(g, 1, 10) * HOUR;
    put_case(g, c, cid, SG_VERIFIED, ref_ch, ref_id, t, 0, NULL);
    t += rng_range(g, 30, 300) * MINUTE;
    put_case(g, c, cid, SG_CLOSED, ref_ch, ref_id, t, 0, NULL);
}

static void maybe_lifecycle(gs_gen_t *g, gen_cell_t *c, int ref_ch, const char *ref_id,
                            int64_t t_sig, double p)
{
    if (rng_chance(g, p)) lifecycle(g, c, ref_ch, ref_id, t_sig);
}

/* ---- signals ------------------------------------------------------------------------------- */

static int pick_channel(gs_gen_t *g, double q)
{
    static const int active[] = {CH_INSPECTOR, CH_INSPECTOR, CH_INSPECTOR,
                                 CH_INSPECTOR, CH_INSPECTOR, CH_INSPECTOR,
                                 CH_DRONE,     CH_PATROL,    CH_TERMINAL};
    static const int all[] = {CH_INSPECTOR, CH_INSPECTOR, CH_INSPECTOR, CH_INSPECTOR, CH_INSPECTOR,
                              CH_DRONE,     CH_PATROL,    CH_TERMINAL,  CH_HOTLINE,   CH_HOTLINE,
                              CH_APP,       CH_APP,       CH_SUPERIOR};
    if (rng_chance(g, q)) return active[rng_below(g, sizeof(active) / sizeof(active[0]))];
    return all[rng_below(g, sizeof(all) / sizeof(all[0]))];
}

static void put_report(gs_gen_t *g, gen_cell_t *c, const char *id, int ch, uint32_t code, int64_t t,
                       double lat, double lon)
{
    char reporter[32] = "";
    switch (ch) {
    case CH_INSPECTOR:
        snprintf(reporter, sizeof(reporter), "JD%03u", (unsigned)rng_range(g, 1, 120));
        break;
    case CH_DRONE:
        snprintf(reporter, sizeof(reporter), "UAV-%02u", (unsigned)rng_range(g, 1, 8));
        break;
    case CH_PATROL:
        snprintf(reporter, sizeof(reporter), "XC-%03u", (unsigned)rng_range(g, 1, 40));
        break;
    case CH_TERMINAL:
        snprintf(reporter, sizeof(reporter), "ZF-%03u", (unsigned)rng_range(g, 1, 60));
        break;
    case CH_HOTLINE:
        snprintf(reporter, sizeof(reporter), "12345-%06u", (unsigned)rng_range(g, 1, 999999));
        break;
    case CH_APP:
        if (rng_chance(g, 0.7))
            snprintf(reporter, sizeof(reporter), "U%07u", (unsigned)rng_range(g, 1, 9999999));
        break;
    default:
        break;
    }
    Gridstream__V1__Report m = GRIDSTREAM__V1__REPORT__INIT;
    m.report_id = (char *)id;
    m.channel = (Gridstream__V1__Channel)ch;
    m.problem_code = code;
    m.cell = c->code;
    m.event_time_ms = t;
    m.lat = lat;
    m.lon = lon;
    m.reporter_id = reporter;
    m.description = (char *)(rng_chance(g, 0.4) ? "" : DESCRIPTIONS[rng_below(g, N_DESCR)]);
    put_valid(g, GS_SRC_REPORTS, c, &m.base, true);
    g->st.signals++;
    snprintf(c->last_report, sizeof(c->last_report), "%s", id);
    c->last_report_ch = ch;
}

/*
 * A problem reported at t; sometimes followed by a report of the same problem nearby (a merge),
 * or one just too far (> 50 m) or too late (> 24 h) to merge. A case is opened for one of them.
 */
static void report_signal(gs_gen_t *g, gen_cell_t *c, int64_t t)
{
    int ch = pick_channel(g, c->quality);
    uint32_t code = PROBLEM_CODES[rng_below(g, N_CODES)];
    double lat, lon;
    jitter(g, c->lat, c->lon, 40, 0.06, &lat, &lon);
    char id[24];
    next_id(g, id, sizeof(id), 'R');
    put_report(g, c, id, ch, code, t, lat, lon);
    double p_case = gs_channel_active(ch) ? 0.45 + 0.4 * c->quality : 0.35 + 0.3 * c->quality;
    if (!rng_chance(g, 0.25)) {
        maybe_lifecycle(g, c, ch, id, t, p_case);
        return;
    }
    bool near = rng_chance(g, 0.85), soon = rng_chance(g, 0.9);
    int64_t t2 =
        t + (soon ? rng_range(g, 10 * MINUTE, 20 * HOUR) : rng_range(g, 25 * HOUR, 30 * HOUR));
    double lat2 = 0, lon2 = 0;
    if (lat != 0.0 || lon != 0.0) {
        double d = near ? 5 + rng_unit(g) * 40 : 55 + rng_unit(g) * 35;
        double a = rng_unit(g) * 2 * 3.14159265358979323846;
        offset(lat, lon, d * cos(a), d * sin(a), &lat2, &lon2);
    } else {
        jitter(g, c->lat, c->lon, 40, 0.3, &lat2, &lon2);
    }
    static const int follow[] = {CH_INSPECTOR, CH_INSPECTOR, CH_PATROL,
                                 CH_DRONE,     CH_APP,       CH_HOTLINE};
    int ch2 = follow[rng_below(g, sizeof(follow) / sizeof(follow[0]))];
    char id2[24];
    next_id(g, id2, sizeof(id2), 'R');
    put_report(g, c, id2, ch2, code, t2, lat2, lon2);
    if (rng_chance(g, 0.5))
        maybe_lifecycle(g, c, ch, id, t, p_case);
    else
        maybe_lifecycle(g, c, ch2, id2, t2, p_case);
}

/* 5-7 reports of different problems in one cell within 40 minutes (HOTSPOT, SPEC §8). */
static void hotspot(gs_gen_t *g, gen_cell_t *c, int64_t t)
{
    uint32_t codes[N_CODES];
    memcpy(codes, PROBLEM_CODES, sizeof(codes));
    int n = (int)rng_range(g, 5, 7);
    for (int i = 0; i < n; i++) {
        size_t j = i + rng_below(g, N_CODES - i);
        uint32_t x = codes[i];
        codes[i] = codes[j];
        codes[j] = x;
        int ch = pick_channel(g, c->quality);
        double lat, lon;
        jitter(g, c->lat, c->lon, 45, 0.05, &lat, &lon);
        char id[24];
        next_id(g, id, sizeof(id), 'R');
        int64_t ti = t + i * rng_range(g, 3, 6) * MINUTE + rng_range(g, 0, 59999);
        put_report(g, c, id, ch, codes[i], ti, lat, lon);
        maybe_lifecycle(g, c, ch, id, ti, 0.6);
    }
}

static void put_detection(gs_gen_t *g, gen_cell_t *c, char *id, uint32_t type, float conf,
                          int64_t t)
{
    next_id(g, id, 24, 'D');
    Gridstream__V1__VideoDetection m = GRIDSTREAM__V1__VIDEO_DETECTION__INIT;
    m.detection_id = id;
    m.camera_id = c->cam_id;
    m.alarm_type = type;
    m.confidence = conf;
    m.cell = c->code;
    m.event_time_ms = t;
    m.lat = c->clat;
    m.lon = c->clon;
    /* never late: the arrival order of a camera's detections decides which one fires */
    put_valid(g, GS_SRC_VIDEO, c, &m.base, false);
}

/*
 * A burst of detections of one mapped alarm type: 3 qualifying within 60 s (the 3rd fires), with
 * low-confidence and unmapped detections in between, latch extensions, sometimes a second firing
 * after the latch expired; or a near miss (the 3rd 61-70 s after the 1st) that fires nothing.
 */
static void video_burst(gs_gen_t *g, gen_cell_t *c, int64_t t)
{
    int ti = (int)rng_below(g, 8);
    uint32_t type = ALARM_TYPES[ti];
    if (t < c->last_qual[ti] + 15 * MINUTE) /* keep bursts of one type apart: latch expired */
        t = c->last_qual[ti] + 15 * MINUTE + rng_range(g, 0, 5 * MINUTE);
    char id[24];
    if (rng_chance(g, 0.1)) {
        int64_t ts[3] = {t, t + rng_range(g, 10, 40) * SECOND, t + rng_range(g, 61, 70) * SECOND};
        for (int i = 0; i < 3; i++)
            put_detection(g, c, id, type, 0.8f, ts[i]);
        c->last_qual[ti] = ts[2];
        return;
    }
    int64_t ts[3] = {t, t + rng_range(g, 5 * SECOND, 25 * SECOND),
                     t + rng_range(g, 30 * SECOND, 60 * SECOND)};
    for (int i = 0; i < 3; i++) {
        if (i == 1 && rng_chance(g, 0.3)) {
            static const float low[] = {0.2f, 0.45f, 0.59f};
            put_detection(g, c, id, type, low[rng_below(g, 3)], ts[1] - 1000);
            snprintf(c->last_noise_det, sizeof(c->last_noise_det), "%s", id);
        }
        if (i == 1 && rng_chance(g, 0.2)) {
            put_detection(g, c, id, UNMAPPED_TYPES[rng_below(g, 4)], 0.95f, ts[1] - 500);
            snprintf(c->last_noise_det, sizeof(c->last_noise_det), "%s", id);
        }
        put_detection(g, c, id, type, QUAL_CONF[rng_below(g, 6)], ts[i]);
    }
    g->st.signals++;
    maybe_lifecycle(g, c, CH_VIDEO, id, ts[2], 0.3 + 0.4 * c->quality);
    int64_t last = ts[2];
    for (int k = (int)rng_range(g, 0, 3); k > 0; k--) { /* latch extensions: no new signal */
        last += rng_range(g, 1, 9) * MINUTE;
        put_detection(g, c, id, type, 0.7f, last);
    }
    if (rng_chance(g, 0.3)) { /* quiet for >= 10 min: the latch expired, the next triple fires */
        int64_t t2 = last + (rng_chance(g, 0.3) ? 10 * MINUTE : rng_range(g, 11, 40) * MINUTE);
        int64_t t3[3] = {t2, t2 + rng_range(g, 5, 30) * SECOND, t2 + rng_range(g, 31, 59) * SECOND};
        for (int i = 0; i < 3; i++)
            put_detection(g, c, id, type, 0.75f, t3[i]);
        g->st.signals++;
        maybe_lifecycle(g, c, CH_VIDEO, id, t3[2], 0.3 + 0.4 * c->quality);
        last = t3[2];
    }
    c->last_qual[ti] = last;
}

/* The cell's sensor readings up to `until`: NORMAL, with ALARM episodes of 1-3 readings. */
static void sensor_readings(gs_gen_t *g, gen_cell_t *c, int64_t until)
{
    /* alarm episodes a day: ~15 % of the cell's events; ~9.6 readings a day */
    double p_alarm = fmin(0.5, 0.15 * g->o.events_per_day / 9.6);
    while (c->snext < until) {
        int64_t t = c->snext;
        if (c->alarm_left == 0 && rng_chance(g, p_alarm)) c->alarm_left = (int)rng_range(g, 1, 3);
        int state = c->alarm_left > 0 ? ST_ALARM : ST_NORMAL;
        const double *r = SENSOR_RANGE[c->skind];
        double lo = state == ST_ALARM ? r[2] : r[0], hi = state == ST_ALARM ? r[3] : r[1];
        Gridstream__V1__SensorReading m = GRIDSTREAM__V1__SENSOR_READING__INIT;
        m.sensor_id = c->sid;
        m.kind = (Gridstream__V1__SensorKind)c->skind;
        m.cell = c->code;
        m.event_time_ms = t;
        m.value = round((lo + rng_unit(g) * (hi - lo)) * 10) / 10;
        m.state = (Gridstream__V1__SensorState)state;
        m.seq = c->sseq;
        m.lat = c->slat;
        m.lon = c->slon;
        /* may be late: readings are >= 1 h apart, more than the lateness, so order holds */
        put_valid(g, GS_SRC_SENSORS, c, &m.base, true);
        char ref[56];
        snprintf(ref, sizeof(ref), "%s:%llu", c->sid, (unsigned long long)c->sseq);
        if (state == ST_ALARM) {
            c->alarm_left--;
            if (c->sprev != ST_ALARM) { /* an edge: the signal */
                g->st.signals++;
                maybe_lifecycle(g, c, CH_SENSOR, ref, t, 0.4 + 0.4 * c->quality);
            }
        } else {
            memcpy(c->last_normal, ref, sizeof(ref));
        }
        c->sprev = state;
        c->sseq++;
        c->snext = t + rng_range(g, 60, 240) * MINUTE + rng_range(g, 0, 59999);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void cell_day(gs_gen_t *g, gen_cell_t *c, int64_t d0)
{
    if (c->skind) sensor_readings(g, c, d0 + DAY);
    /* reports and bursts, decided in time order (the video latch bookkeeping needs it) */
    int64_t times[64];
    double e = g->o.events_per_day;
    int n = (int)(e * (0.5 + rng_unit(g)) + rng_unit(g));
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++)
        times[i] = d0 + rng_range(g, 6 * HOUR, 22 * HOUR - 1);
    qsort(times, (size_t)n, sizeof(times[0]), cmp_i64);
    for (int i = 0; i < n; i++) {
        if (c->cam && rng_chance(g, 0.2))
            video_burst(g, c, times[i]);
        else
            report_signal(g, c, times[i]);
    }
    if (rng_chance(g, 0.008 * e / 4)) hotspot(g, c, d0 + rng_range(g, 8 * HOUR, 18 * HOUR));
}

/* ---- invalid records (SPEC §3) ------------------------------------------------------------- */

static const gs_err_t REASONS[] = {
    GS_ERR_DECODE,          GS_ERR_MISSING_ID,           GS_ERR_INVALID_ENUM,
    GS_ERR_INVALID_CELL,    GS_ERR_INVALID_PROBLEM_CODE, GS_ERR_INVALID_TIME,
    GS_ERR_INVALID_NUMBER,  GS_ERR_INVALID_POSITION,     GS_ERR_KEY_MISMATCH,
    GS_ERR_WRONG_PARTITION, GS_ERR_UNKNOWN_REF};

/*
 * One invalid record of the next reason in turn, made from a fresh valid message of cell `c` at
 * time t; sometimes sent twice (a rejected message is rejected again). Placed at t: an invalid
 * record's event time is never after its placement.
 */
static void make_invalid(gs_gen_t *g, gen_cell_t *c, int64_t t)
{
    gs_err_t reason = REASONS[g->rr++ % (sizeof(REASONS) / sizeof(REASONS[0]))];
    if (reason == GS_ERR_WRONG_PARTITION && g->o.partitions < 2) reason = GS_ERR_KEY_MISMATCH;
    char rid[24], did[24], cid[24], sid[48], ref[56] = "", key[40];
    next_id(g, rid, sizeof(rid), 'R');
    next_id(g, did, sizeof(did), 'D');
    next_id(g, cid, sizeof(cid), 'C');
    snprintf(sid, sizeof(sid), "S-%llu-X", (unsigned long long)c->code);
    snprintf(ref, sizeof(ref), "R-GHOST-%llu", (unsigned long long)g->next_id);
    double lat, lon;
    jitter(g, c->lat, c->lon, 40, 0, &lat, &lon);

    Gridstream__V1__Report rep = GRIDSTREAM__V1__REPORT__INIT;
    rep.report_id = rid;
    rep.channel = (Gridstream__V1__Channel)pick_channel(g, 0.5);
    rep.problem_code = PROBLEM_CODES[rng_below(g, N_CODES)];
    rep.cell = c->code;
    rep.event_time_ms = t;
    rep.lat = lat;
    rep.lon = lon;
    Gridstream__V1__SensorReading sen = GRIDSTREAM__V1__SENSOR_READING__INIT;
    sen.sensor_id = sid;
    sen.kind = (Gridstream__V1__SensorKind)rng_range(g, 1, 7);
    sen.cell = c->code;
    sen.event_time_ms = t;
    sen.value = 12.5;
    sen.state = (Gridstream__V1__SensorState)rng_range(g, 1, 2);
    sen.seq = (uint64_t)rng_range(g, 0, 1000);
    sen.lat = lat;
    sen.lon = lon;
    Gridstream__V1__VideoDetection vid = GRIDSTREAM__V1__VIDEO_DETECTION__INIT;
    vid.detection_id = did;
    vid.camera_id = c->cam ? c->cam_id : "CAM-X";
    vid.alarm_type = ALARM_TYPES[rng_below(g, 8)];
    vid.confidence = 0.8f;
    vid.cell = c->code;
    vid.event_time_ms = t;
    vid.lat = lat;
    vid.lon = lon;
    Gridstream__V1__CaseEvent cas = GRIDSTREAM__V1__CASE_EVENT__INIT;
    cas.case_id = cid;
    cas.stage = (Gridstream__V1__Stage)rng_range(g, SG_FILED, SG_CLOSED);
    cas.ref_channel = (Gridstream__V1__Channel)CH_INSPECTOR;
    cas.ref_id = ref;
    cas.cell = c->code;
    cas.event_time_ms = t;
    cas.deadline_ms = (int)cas.stage == SG_FILED ? t + DAY : 0;
    cas.department = (char *)DEPARTMENTS[rng_below(g, N_DEPTS)];

    ProtobufCMessage *msgs[4] = {&rep.base, &sen.base, &vid.base, &cas.base};
    uint64_t *cells[4] = {&rep.cell, &sen.cell, &vid.cell, &cas.cell};
    gs_source_t topic = (gs_source_t)rng_below(g, 4);
    static const uint8_t garbage[][6] = {{0xff, 0xff, 0xff, 0xff}, {0x0f, 0x01}};
    const uint8_t *raw = NULL;
    size_t rawlen = 0;
    uint8_t tail[8] = {0x0a, 0xc8, 0x01, 'a', 'b', 'c'}; /* field 1, 200 bytes, only 3 follow */
    bool append_tail = false;

    switch (reason) {
    case GS_ERR_DECODE: {
        int v = (int)rng_below(g, 3);
        if (v < 2) {
            raw = garbage[v];
            rawlen = v == 0 ? 4 : 2;
        } else {
            append_tail = true;
        }
        break;
    }
    case GS_ERR_MISSING_ID:
        switch (topic) {
        case GS_SRC_REPORTS:
            rep.report_id = "";
            break;
        case GS_SRC_SENSORS:
            sen.sensor_id = "";
            break;
        case GS_SRC_VIDEO:
            if (rng_chance(g, 0.5))
                vid.detection_id = "";
            else
                vid.camera_id = "";
            break;
        default:
            if (rng_chance(g, 0.5))
                cas.case_id = "";
            else
                cas.ref_id = "";
        }
        break;
    case GS_ERR_INVALID_ENUM: {
        static const gs_source_t ts[] = {GS_SRC_REPORTS, GS_SRC_SENSORS, GS_SRC_CASES};
        topic = ts[rng_below(g, 3)];
        if (topic == GS_SRC_REPORTS) {
            static const int chs[] = {0, CH_VIDEO, CH_SENSOR, 12};
            rep.channel = (Gridstream__V1__Channel)chs[rng_below(g, 4)];
        } else if (topic == GS_SRC_SENSORS) {
            if (rng_chance(g, 0.5))
                sen.kind = (Gridstream__V1__SensorKind)(rng_chance(g, 0.5) ? 0 : 8);
            else
                sen.state = (Gridstream__V1__SensorState)(rng_chance(g, 0.5) ? 0 : 3);
        } else {
            if (rng_chance(g, 0.5))
                cas.stage = (Gridstream__V1__Stage)(rng_chance(g, 0.5) ? 0 : 8);
            else
                cas.ref_channel = (Gridstream__V1__Channel)(rng_chance(g, 0.5) ? 0 : 10);
        }
        break;
    }
    case GS_ERR_INVALID_CELL: {
        uint64_t bad[3] = {c->code / 1000 * 1000, c->code / 10, c->code * 10 + 1};
        *cells[topic] = bad[rng_below(g, 3)];
        break;
    }
    case GS_ERR_INVALID_PROBLEM_CODE: {
        static const uint32_t codes[] = {30101, 10001, 20100, 0, 21000, 1234567};
        topic = GS_SRC_REPORTS;
        rep.problem_code = codes[rng_below(g, 6)];
        break;
    }
    case GS_ERR_INVALID_TIME:
        if (topic == GS_SRC_CASES && rng_chance(g, 0.5)) {
            cas.stage = (Gridstream__V1__Stage)SG_FILED;
            cas.deadline_ms = t - (rng_chance(g, 0.5) ? 1 : HOUR);
        } else {
            int64_t bad[3] = {0, -1000, -t};
            *msg_time(topic, msgs[topic]) = bad[rng_below(g, 3)];
        }
        break;
    case GS_ERR_INVALID_NUMBER: {
        topic = (gs_source_t)rng_below(g, 3);
        double x = rng_unit(g);
        double *plat = topic == GS_SRC_REPORTS   ? &rep.lat
                       : topic == GS_SRC_SENSORS ? &sen.lat
                                                 : &vid.lat;
        double *plon = topic == GS_SRC_REPORTS   ? &rep.lon
                       : topic == GS_SRC_SENSORS ? &sen.lon
                                                 : &vid.lon;
        if (topic == GS_SRC_VIDEO && x < 0.5) {
            static const float confs[] = {1.5f, -0.1f, NAN};
            vid.confidence = confs[rng_below(g, 3)];
        } else if (topic == GS_SRC_SENSORS && x < 0.4) {
            sen.value = rng_chance(g, 0.5) ? NAN : INFINITY;
        } else if (x < 0.8) {
            *plat = NAN;
        } else {
            *plon = rng_chance(g, 0.5) ? INFINITY : -INFINITY;
        }
        break;
    }
    case GS_ERR_INVALID_POSITION: {
        topic = (gs_source_t)rng_below(g, 3);
        double *plat = topic == GS_SRC_REPORTS   ? &rep.lat
                       : topic == GS_SRC_SENSORS ? &sen.lat
                                                 : &vid.lat;
        double *plon = topic == GS_SRC_REPORTS   ? &rep.lon
                       : topic == GS_SRC_SENSORS ? &sen.lon
                                                 : &vid.lon;
        static const double lats[] = {91.0, -90.5, 123.4}, lons[] = {180.5, -181.0};
        if (rng_chance(g, 0.6))
            *plat = lats[rng_below(g, 3)];
        else
            *plon = lons[rng_below(g, 2)];
        break;
    }
    case GS_ERR_UNKNOWN_REF: {
        topic = GS_SRC_CASES;
        int v = (int)rng_below(g, 4);
        if (v == 1 && c->last_report[0]) { /* a real report under another channel */
            snprintf(ref, sizeof(ref), "%s", c->last_report);
            cas.ref_channel =
                (Gridstream__V1__Channel)(c->last_report_ch == CH_SUPERIOR ? CH_INSPECTOR
                                                                           : CH_SUPERIOR);
        } else if (v == 2 && c->last_normal[0]) { /* a NORMAL reading: not a signal */
            snprintf(ref, sizeof(ref), "%s", c->last_normal);
            cas.ref_channel = (Gridstream__V1__Channel)CH_SENSOR;
        } else if (v == 3 && c->last_noise_det[0]) { /* an ignored detection */
            snprintf(ref, sizeof(ref), "%s", c->last_noise_det);
            cas.ref_channel = (Gridstream__V1__Channel)CH_VIDEO;
        } else {
            static const int chs[] = {CH_INSPECTOR, CH_VIDEO, CH_SENSOR, CH_HOTLINE};
            cas.ref_channel = (Gridstream__V1__Channel)chs[rng_below(g, 4)];
        }
        break;
    }
    default: /* key_mismatch, wrong_partition: a valid value */
        break;
    }

    uint64_t cell = *cells[topic];
    int klen = snprintf(key, sizeof(key), "%llu", (unsigned long long)cell);
    if (reason == GS_ERR_KEY_MISMATCH) {
        int v = (int)rng_below(g, 3);
        if (v == 2 && g->ncells > 1) {
            const gen_cell_t *o =
                &g->cells[(c - g->cells + 1 + (ptrdiff_t)rng_below(g, (uint64_t)g->ncells - 1)) %
                          g->ncells];
            klen = snprintf(key, sizeof(key), "%s", o->key);
        } else if (v == 1) {
            klen = snprintf(key, sizeof(key), "%llu ", (unsigned long long)cell);
        } else {
            klen = snprintf(key, sizeof(key), "0%llu", (unsigned long long)cell);
        }
    }
    uint32_t part = gs_partition_for_key(key, (size_t)klen, g->o.partitions);
    if (reason == GS_ERR_WRONG_PARTITION)
        part = (part + 1 + (uint32_t)rng_below(g, g->o.partitions - 1)) % g->o.partitions;

    size_t len = 0;
    uint8_t *b = NULL;
    int64_t et = 0;
    if (raw) {
        b = malloc(rawlen);
        if (b) memcpy(b, raw, rawlen);
        len = rawlen;
    } else {
        size_t n = protobuf_c_message_get_packed_size(msgs[topic]);
        b = malloc(n + sizeof(tail));
        if (b) {
            protobuf_c_message_pack(msgs[topic], b);
            len = n;
            if (append_tail) {
                memcpy(b + n, tail, 6);
                len += 6;
            } else {
                et = *msg_time(topic, msgs[topic]);
            }
        }
    }
    if (!b) {
        g->nomem = true;
        return;
    }
    queue_raw(g, topic, key, (size_t)klen, part, b, len, et, t, reason, false, false);
    if (rng_chance(g, 0.1))
        queue_raw(g, topic, key, (size_t)klen, part, b, len, et, t + rng_range(g, 1, 30) * MINUTE,
                  reason, false, false);
    free(b);
}

/* ---- setup and run ------------------------------------------------------------------------- */

void gs_gen_opts_defaults(gs_gen_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->partitions = 4;
    o->cells = 200;
    o->days = 35;
    o->start_ms = gs_days_from_civil(2024, 3, 1) * DAY - 8 * HOUR;
    o->events_per_day = 4;
    o->invalid_rate = 0.02;
}

static void build_cells(gs_gen_t *g)
{
    int ncity = g->ncells >= 30 ? 2 : 1;
    int first = ncity == 2 ? g->ncells * 3 / 5 : g->ncells; /* cells of the first city */
    double dq[2][5];
    for (int ci = 0; ci < 2; ci++)
        for (int d = 0; d < 5; d++)
            dq[ci][d] = 0.35 + 0.65 * rng_unit(g); /* how well each district works */
    int nsensor = 0;
    for (int i = 0; i < g->ncells; i++) {
        gen_cell_t *c = &g->cells[i];
        int ci = i < first ? 0 : 1, idx = i < first ? i : i - first;
        const gen_city_t *city = &CITIES[ci];
        int nd = city->ndistricts;
        int d = idx % nd, s = (idx / nd) % 3 + 1, cm = (idx / (nd * 3)) % 4 + 1,
            gseq = idx / (nd * 12) + 1;
        c->code = ((uint64_t)city->districts[d] * 1000 + (uint64_t)s) * 1000000 +
                  (uint64_t)cm * 1000 + (uint64_t)gseq;
        c->klen = (uint32_t)snprintf(c->key, sizeof(c->key), "%llu", (unsigned long long)c->code);
        c->part = gs_partition_for_key(c->key, c->klen, g->o.partitions);
        offset(city->lat, city->lon, d * 3000.0 + cm * 330.0 + ((gseq - 1) / 10) * 110.0,
               s * 1100.0 + ((gseq - 1) % 10) * 110.0, &c->lat, &c->lon);
        c->quality = dq[ci][d];
        if (i % 3 == 0) {
            c->skind = 1 + nsensor % 7;
            snprintf(c->sid, sizeof(c->sid), "S-%llu-%d", (unsigned long long)c->code, c->skind);
            c->sseq = (uint64_t)(nsensor % 2); /* some sensors start at seq 0 */
            c->sprev = 0;
            c->snext = g->o.start_ms + rng_range(g, 0, 4 * HOUR);
            if (nsensor % 7 == 6) {
                c->slat = c->slon = 0.0; /* no position */
            } else {
                jitter(g, c->lat, c->lon, 30, 0, &c->slat, &c->slon);
            }
            nsensor++;
        }
        if (i % 4 == 1 || g->ncells == 1) {
            c->cam = true;
            snprintf(c->cam_id, sizeof(c->cam_id), "CAM-%llu-%d", (unsigned long long)c->code,
                     (int)rng_range(g, 1, 4));
            jitter(g, c->lat, c->lon, 30, 0, &c->clat, &c->clon);
        }
        for (int k = 0; k < 8; k++)
            c->last_qual[k] = INT64_MIN / 2;
    }
}

gs_gen_t *gs_gen_new(const gs_gen_opts_t *o, char *errbuf, size_t errlen)
{
    if (o->partitions < 1 || o->partitions > 10000) {
        snprintf(errbuf, errlen, "partitions must be 1..10000");
        return NULL;
    }
    if (o->cells < 1 || o->cells > GS_GEN_MAX_CELLS) {
        snprintf(errbuf, errlen, "cells must be 1..%d", GS_GEN_MAX_CELLS);
        return NULL;
    }
    if (o->days < 1 || o->days > 3660) {
        snprintf(errbuf, errlen, "days must be 1..3660");
        return NULL;
    }
    if (!(o->events_per_day > 0 && o->events_per_day <= 40)) {
        snprintf(errbuf, errlen, "events per day must be > 0 and <= 40");
        return NULL;
    }
    if (!(o->invalid_rate >= 0 && o->invalid_rate <= 0.5)) {
        snprintf(errbuf, errlen, "invalid rate must be 0..0.5");
        return NULL;
    }
    if (o->start_ms <= 0) {
        snprintf(errbuf, errlen, "start must be after 1970-01-01");
        return NULL;
    }
    gs_gen_t *g = calloc(1, sizeof(*g));
    if (g) g->cells = calloc((size_t)o->cells, sizeof(*g->cells));
    if (!g || !g->cells) {
        free(g);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    g->o = *o;
    g->ncells = o->cells;
    uint64_t x = o->seed;
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&x);
    g->dup_rate = 0.02;
    g->late_rate = 0.01;
    /* each valid record is followed by an invalid one with this probability, so that invalid
       records are about invalid_rate of all */
    g->invalid_p = o->invalid_rate / (1 - o->invalid_rate);
    build_cells(g);
    return g;
}

/* Hands over every queued record placed before `until`. */
static gs_err_t drain(gs_gen_t *g, int64_t until, gs_gen_emit_fn emit, void *ctx)
{
    while (g->n > 0 && g->heap[0].place < until) {
        gen_item_t it = heap_pop(g);
        gs_gen_rec_t r = {.topic = (gs_source_t)it.topic,
                          .partition = it.partition,
                          .key = (const char *)it.buf,
                          .klen = it.klen,
                          .val = it.buf + it.klen,
                          .vlen = it.vlen,
                          .event_time_ms = it.t,
                          .place_ms = it.place,
                          .intent = (gs_err_t)it.intent,
                          .duplicate = it.dup,
                          .late = it.late};
        g->st.records++;
        g->st.per_topic[it.topic]++;
        if (r.intent != GS_OK) {
            g->st.invalid++;
            g->st.per_reason[gs_reason_index(r.intent)]++;
        }
        g->st.duplicates += it.dup;
        g->st.late += it.late;
        int stop = emit(ctx, &r);
        free(it.buf);
        if (stop) return GS_ERR_INVAL;
    }
    return GS_OK;
}

gs_err_t gs_gen_run(gs_gen_t *g, gs_gen_emit_fn emit, void *ctx)
{
    if (g->ran) return GS_ERR_INVAL;
    g->ran = true;
    gs_err_t err = GS_OK;
    for (int day = 0; day < g->o.days && err == GS_OK; day++) {
        int64_t d0 = g->o.start_ms + day * DAY;
        for (int i = 0; i < g->ncells; i++)
            cell_day(g, &g->cells[i], d0);
        if (g->nomem) return GS_ERR_NOMEM;
        err = drain(g, d0 + DAY, emit, ctx);
    }
    if (err == GS_OK) err = drain(g, INT64_MAX, emit, ctx);
    return err;
}

const gs_gen_stats_t *gs_gen_stats(const gs_gen_t *g)
{
    return &g->st;
}

void gs_gen_destroy(gs_gen_t *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n; i++)
        free(g->heap[i].buf);
    free(g->heap);
    free(g->cells);
    free(g);
}

/* ---- the command ------------------------------------------------------------------------------
 */

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

extern char **environ;

static void gen_usage(FILE *f)
{
    fprintf(
        f,
        "usage: gridstream gen (--output DIR | --bootstrap HOST:PORT) [options]\n"
        "\n"
        "Produces a synthetic city (reports of every channel, duplicates, merges, sensor alarms,\n"
        "video bursts, case lifecycles, invalid records of every DLQ reason) to the four input\n"
        "topics: as replay input files DIR/<topic>/<partition>.rec, or to a Kafka cluster whose\n"
        "topics city.reports, city.sensors, city.video, city.cases exist with one partition "
        "count.\n"
        "The same options give the same records, byte for byte.\n"
        "\n"
        "options:\n"
        "  --output DIR            write replay input files\n"
        "  --bootstrap HOST:PORT   produce to Kafka (acks=all, idempotent, explicit partitions)\n"
        "  --partitions N          partitions (default 4; with --bootstrap, from the topics)\n"
        "  --seed S                PRNG seed (default 1)\n"
        "  --cells C               grid cells (default 200; 1..%d)\n"
        "  --days D                simulated days (default 35)\n"
        "  --start YYYY-MM-DD      first day, local UTC+8 midnight (default 2024-03-01)\n"
        "  --events-per-day E      reports and video bursts per cell and day (default 4)\n"
        "  --invalid-rate R        share of invalid records, 0..0.5 (default 0.02)\n"
        "  --rate N                records per second, 0 = as fast as possible (default 0)\n"
        "  --config FILE, --set k=v  configuration (kafka.* passed to the producer)\n"
        "  --quiet                 no progress line, no summary\n"
        "\n"
        "exit codes: 0 ok, 1 runtime failure (I/O, Kafka), 2 usage or configuration error\n",
        GS_GEN_MAX_CELLS);
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "gridstream gen: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see gridstream gen --help)\n");
    return EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s || *s == ' ') return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_date(const char *s, int64_t *start_ms)
{
    unsigned y, m, d;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || y < 1971 ||
        y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap)) return false;
    *start_ms = gs_days_from_civil(y, m, d) * DAY - 8 * HOUR;
    return true;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* State of one `gen` run: where records go, pacing and progress. Single-threaded (librdkafka's
   delivery reports are served by rd_kafka_poll() on this thread). */
typedef struct gen_cli {
    const gs_gen_opts_t *o;
    bool quiet;
    double rate, tokens, burst, last_refill;
    double t0, last_progress;
    uint64_t emitted;
    bool printed; /* a progress line is on the terminal */
    /* --output */
    gs_recwriter_t *w; /* [topic * partitions + p] */
    /* --bootstrap */
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt[GS_SRC__COUNT];
    bool failed;
    char err[512];
    uint64_t delivered;
} gen_cli_t;

static void progress(gen_cli_t *c, int64_t place, bool force)
{
    double now = now_s();
    if (c->quiet || (!force && now - c->last_progress < 1.0)) return;
    c->last_progress = now;
    int64_t day = (place - c->o->start_ms) / DAY;
    if (day < 0) day = 0;
    int64_t y;
    unsigned mo, d;
    gs_civil_from_days((c->o->start_ms + 8 * HOUR) / DAY + day, &y, &mo, &d);
    double el = now - c->t0;
    c->printed = true;
    fprintf(stderr,
            "\rgen: %llu records, %.0f records/s, simulated day %lld/%d (%04lld-%02u-%02u)  ",
            (unsigned long long)c->emitted, el > 0 ? (double)c->emitted / el : 0.0,
            (long long)day + 1, c->o->days, (long long)y, mo, d);
    fflush(stderr);
}

/* Token bucket: blocks until one record may go (serving Kafka callbacks while waiting). */
static void pace(gen_cli_t *c)
{
    if (c->rate <= 0) return;
    for (;;) {
        double now = now_s();
        c->tokens += (now - c->last_refill) * c->rate;
        if (c->tokens > c->burst) c->tokens = c->burst;
        c->last_refill = now;
        if (c->tokens >= 1) {
            c->tokens -= 1;
            return;
        }
        double wait = (1 - c->tokens) / c->rate;
        if (c->rk) {
            rd_kafka_poll(c->rk, (int)(wait * 1000) + 1);
        } else {
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
}

static int emit_file(void *ctx, const gs_gen_rec_t *r)
{
    gen_cli_t *c = ctx;
    pace(c);
    gs_recwriter_put(&c->w[r->topic * c->o->partitions + r->partition], r->key, r->klen, r->val,
                     r->vlen);
    c->emitted++;
    progress(c, r->place_ms, false);
    return 0;
}

static int emit_kafka(void *ctx, const gs_gen_rec_t *r)
{
    gen_cli_t *c = ctx;
    pace(c);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            c->rk, RD_KAFKA_V_RKT(c->rkt[r->topic]), RD_KAFKA_V_PARTITION((int32_t)r->partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r->key, r->klen),
            RD_KAFKA_V_VALUE((void *)r->val, r->vlen), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(c->err, sizeof(c->err), "produce to %s [%u]: %s", gs_source_topic[r->topic],
                     r->partition, rd_kafka_err2str(e));
            c->failed = true;
            return 1;
        }
        rd_kafka_poll(c->rk, 50); /* the local queue is full: let deliveries drain it */
        if (c->failed) return 1;
    }
    rd_kafka_poll(c->rk, 0);
    c->emitted++;
    progress(c, r->place_ms, false);
    return c->failed ? 1 : 0;
}

/* Delivery report (on the polling thread): the first failure stops the run. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    gen_cli_t *c = opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        c->delivered++;
        return;
    }
    if (!c->failed)
        snprintf(c->err, sizeof(c->err), "delivery to %s [%d] failed: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
    c->failed = true;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    gen_cli_t *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        if (!c->failed) snprintf(c->err, sizeof(c->err), "fatal producer error: %s", buf);
        c->failed = true;
    }
}

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        snprintf(err, errlen, "%.200s...: path too long", path);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char ch = *p;
            *p = '\0';
            struct stat sb;
            if (mkdir(buf, 0777) != 0 &&
                (errno != EEXIST || stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
                snprintf(err, errlen, "%.900s: %s", buf,
                         errno == EEXIST ? "not a directory" : strerror(errno));
                return -1;
            }
            *p = ch;
            if (!ch) return 0;
        }
    }
}

/* Removes <p>.rec files with p >= nparts left by an earlier run with more partitions. */
static void remove_stale(const char *dir, uint32_t nparts)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t p;
        char num[32];
        size_t n = strlen(e->d_name);
        if (n < 5 || n > 24 || strcmp(e->d_name + n - 4, ".rec") != 0) continue;
        memcpy(num, e->d_name, n - 4);
        num[n - 4] = '\0';
        if (parse_u64(num, nparts, UINT32_MAX, &p)) {
            char path[4200];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

static int run_files(gs_gen_t *g, gen_cli_t *c, const char *out)
{
    char err[1024];
    int rc = 0;
    uint32_t np = c->o->partitions;
    c->w = calloc((size_t)GS_SRC__COUNT * np, sizeof(*c->w));
    if (!c->w) {
        fprintf(stderr, "gridstream gen: out of memory\n");
        return EXIT_RUNTIME;
    }
    size_t opened = 0;
    for (int t = 0; t < GS_SRC__COUNT && rc == 0; t++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", out, gs_source_topic[t]);
        if (mkdir_p(dir, err, sizeof(err)) != 0) {
            fprintf(stderr, "gridstream gen: %s\n", err);
            rc = EXIT_RUNTIME;
            break;
        }
        remove_stale(dir, np);
        for (uint32_t p = 0; p < np; p++) {
            char path[4200];
            snprintf(path, sizeof(path), "%s/%u.rec", dir, p);
            if (gs_recwriter_open(&c->w[t * np + p], path, err, sizeof(err)) != GS_OK) {
                fprintf(stderr, "gridstream gen: %s\n", err);
                rc = EXIT_RUNTIME;
                break;
            }
            opened = (size_t)t * np + p + 1;
        }
    }
    if (rc == 0) {
        gs_err_t e = gs_gen_run(g, emit_file, c);
        if (e != GS_OK) {
            fprintf(stderr, "%sgridstream gen: %s\n", c->printed ? "\n" : "", gs_err_str(e));
            rc = EXIT_RUNTIME;
        }
    }
    for (size_t i = 0; i < opened; i++)
        if (gs_recwriter_close(&c->w[i], err, sizeof(err)) != GS_OK && rc == 0) {
            fprintf(stderr, "%sgridstream gen: %s\n", c->printed ? "\n" : "", err);
            rc = EXIT_RUNTIME;
        }
    free(c->w);
    return rc;
}

/*
 * Checks that the four topics exist and have one partition count; returns it, or 0 (err set).
 * The check lists all topics rather than naming ours: a Metadata request that names a topic may
 * create it on a broker that auto-creates (the embedded mock cluster does, whatever the client's
 * allow.auto.create.topics), and a missing topic must be refused, not created.
 */
static uint32_t kafka_partitions(gen_cli_t *c, const char *bootstrap, char *err, size_t errlen)
{
    int32_t counts[GS_SRC__COUNT] = {0};
    for (int attempt = 0;; attempt++) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(c->rk, 1, NULL, &md, 10000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "metadata from %s: %s", bootstrap, rd_kafka_err2str(e));
            return 0;
        }
        int missing = -1;
        bool retry = false;
        for (int t = 0; t < GS_SRC__COUNT; t++) {
            const rd_kafka_metadata_topic_t *mt = NULL;
            for (int i = 0; i < md->topic_cnt && !mt; i++)
                if (strcmp(md->topics[i].topic, gs_source_topic[t]) == 0) mt = &md->topics[i];
            if (!mt || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                if (missing < 0) missing = t;
                continue;
            }
            if (mt->err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) /* just created */
                retry = true;
            else if (mt->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(err, errlen, "metadata of %s from %s: %s", gs_source_topic[t], bootstrap,
                         rd_kafka_err2str(mt->err));
                rd_kafka_metadata_destroy(md);
                return 0;
            }
            counts[t] = mt->partition_cnt;
        }
        rd_kafka_metadata_destroy(md);
        if ((retry || missing >= 0) && attempt < 5) {
            rd_kafka_poll(c->rk, 500);
            continue;
        }
        if (missing >= 0) {
            snprintf(err, errlen,
                     "topic %s does not exist on %s (create city.reports, city.sensors, "
                     "city.video and city.cases with the same partition count)",
                     gs_source_topic[missing], bootstrap);
            return 0;
        }
        break;
    }
    for (int t = 1; t < GS_SRC__COUNT; t++)
        if (counts[t] != counts[0]) {
            snprintf(err, errlen,
                     "the input topics are not co-partitioned: %s has %d partitions, %s has %d",
                     gs_source_topic[0], (int)counts[0], gs_source_topic[t], (int)counts[t]);
            return 0;
        }
    if (counts[0] < 1) {
        snprintf(err, errlen, "%s has no partitions", gs_source_topic[0]);
        return 0;
    }
    return (uint32_t)counts[0];
}

static int run_kafka(gs_gen_opts_t *o, gen_cli_t *c, const gs_config_t *cfg, const char *bootstrap,
                     bool partitions_given, gs_gen_t **gp)
{
    char err[1024];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (gs_config_kafka_apply(cfg, conf, err, sizeof(err)) != GS_OK) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "gridstream gen: configuration error: %s\n", err);
        return EXIT_USAGE;
    }
    static const char *const props[][2] = {{"acks", "all"},
                                           {"enable.idempotence", "true"},
                                           {"linger.ms", "5"},
                                           {"allow.auto.create.topics", "false"},
                                           {"client.id", "gridstream-gen"}};
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "gridstream gen: bootstrap.servers: %s\n", err);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            fprintf(stderr, "gridstream gen: %s: %s\n", props[i][0], err);
            return EXIT_RUNTIME;
        }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "gridstream gen: cannot create the Kafka producer: %s\n", err);
        return EXIT_RUNTIME;
    }
    int rc = 0;
    uint32_t np = kafka_partitions(c, bootstrap, err, sizeof(err));
    if (np == 0) {
        fprintf(stderr, "gridstream gen: %s\n", err);
        rc = EXIT_RUNTIME;
    } else if (partitions_given && np != o->partitions) {
        fprintf(stderr, "gridstream gen: --partitions %u, but the topics on %s have %u\n",
                o->partitions, bootstrap, np);
        rc = EXIT_RUNTIME;
    }
    if (rc == 0) {
        /* topic handles only now: naming a topic may create it (see kafka_partitions) */
        for (int t = 0; t < GS_SRC__COUNT; t++)
            c->rkt[t] = rd_kafka_topic_new(c->rk, gs_source_topic[t], NULL);
        o->partitions = np;
        *gp = gs_gen_new(o, err, sizeof(err));
        if (!*gp) {
            fprintf(stderr, "gridstream gen: %s\n", err);
            rc = EXIT_RUNTIME;
        }
    }
    if (rc == 0) {
        c->t0 = c->last_refill = now_s();
        gs_err_t e = gs_gen_run(*gp, emit_kafka, c);
        if (e != GS_OK && !c->failed) {
            snprintf(c->err, sizeof(c->err), "%s", gs_err_str(e));
            c->failed = true;
        }
        /* wait for every delivery report: acks=all, so a record counts once it is replicated */
        while (!c->failed && rd_kafka_outq_len(c->rk) > 0) {
            if (rd_kafka_flush(c->rk, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            progress(c, (*gp)->o.start_ms + (*gp)->o.days * DAY, false);
        }
        if (!c->failed && rd_kafka_outq_len(c->rk) > 0) {
            snprintf(c->err, sizeof(c->err), "%d records not delivered", rd_kafka_outq_len(c->rk));
            c->failed = true;
        }
        if (c->failed) {
            if (c->printed) fprintf(stderr, "\n");
            c->printed = false;
            fprintf(stderr, "gridstream gen: %s\n", c->err);
            rc = EXIT_RUNTIME;
        }
    }
    if (rc != 0) {
        rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(c->rk, 2000);
    }
    for (int t = 0; t < GS_SRC__COUNT; t++)
        if (c->rkt[t]) rd_kafka_topic_destroy(c->rkt[t]);
    rd_kafka_destroy(c->rk);
    c->rk = NULL;
    return rc;
}

static void print_summary(const gs_gen_t *g, const char *dest, FILE *f)
{
    const gs_gen_stats_t *s = &g->st;
    fprintf(f,
            "gen: %llu records in %u partitions (city.reports %llu, city.sensors %llu, city.video "
            "%llu, city.cases %llu), invalid %llu, duplicates %llu, late %llu -> %s\n",
            (unsigned long long)s->records, g->o.partitions,
            (unsigned long long)s->per_topic[GS_SRC_REPORTS],
            (unsigned long long)s->per_topic[GS_SRC_SENSORS],
            (unsigned long long)s->per_topic[GS_SRC_VIDEO],
            (unsigned long long)s->per_topic[GS_SRC_CASES], (unsigned long long)s->invalid,
            (unsigned long long)s->duplicates, (unsigned long long)s->late, dest);
    fprintf(f, "gen: invalid by reason:");
    for (int i = 0; i < GS_REASON_COUNT; i++)
        fprintf(f, "%s %s %llu", i ? "," : "", gs_err_str((gs_err_t)(-i - 1)),
                (unsigned long long)s->per_reason[i]);
    fprintf(f, "\n");
}

int gs_gen_main(int argc, char **argv)
{
    static const char *const valued[] = {
        "--output", "--bootstrap",      "--partitions",   "--seed", "--cells",  "--days",
        "--start",  "--events-per-day", "--invalid-rate", "--rate", "--config", "--set",
        NULL};
    gs_gen_opts_t o;
    gs_gen_opts_defaults(&o);
    const char *out = NULL, *bootstrap = NULL;
    bool quiet = false, partitions_given = false;
    double rate = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            gen_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0) {
            quiet = true;
            continue;
        }
        bool known = false;
        for (const char *const *k = valued; *k && !known; k++)
            known = strcmp(a, *k) == 0;
        if (!known) return usage_error("unexpected argument '%s'%s", a, "");
        if (i + 1 >= argc) return usage_error("%s needs a value%s", a, "");
        const char *v = argv[++i];
        uint64_t u;
        bool ok = true;
        if (strcmp(a, "--output") == 0)
            out = v;
        else if (strcmp(a, "--bootstrap") == 0)
            bootstrap = v;
        else if (strcmp(a, "--partitions") == 0) {
            ok = parse_u64(v, 1, 10000, &u);
            o.partitions = (uint32_t)u;
            partitions_given = true;
        } else if (strcmp(a, "--seed") == 0)
            ok = parse_u64(v, 0, UINT64_MAX, &o.seed);
        else if (strcmp(a, "--cells") == 0) {
            ok = parse_u64(v, 1, GS_GEN_MAX_CELLS, &u);
            o.cells = (int)u;
        } else if (strcmp(a, "--days") == 0) {
            ok = parse_u64(v, 1, 3660, &u);
            o.days = (int)u;
        } else if (strcmp(a, "--start") == 0)
            ok = parse_date(v, &o.start_ms);
        else if (strcmp(a, "--events-per-day") == 0)
            ok = parse_double(v, 1e-9, 40, &o.events_per_day);
        else if (strcmp(a, "--invalid-rate") == 0)
            ok = parse_double(v, 0, 0.5, &o.invalid_rate);
        else if (strcmp(a, "--rate") == 0)
            ok = parse_double(v, 0, 1e9, &rate);
        if (!ok) return usage_error("bad value '%s' for %s", v, a);
    }
    if (!out == !bootstrap)
        return usage_error("exactly one of --output DIR and --bootstrap HOST:PORT is required%s%s",
                           "", "");
    gs_config_t cfg;
    if (gs_config_from_cli(&cfg, NULL, argc, argv, environ) != GS_OK) return EXIT_USAGE;

    gen_cli_t c = {.o = &o, .quiet = quiet, .rate = rate};
    c.burst = rate > 10 ? rate / 10 : 1; /* at most 100 ms of records at once */
    c.t0 = c.last_refill = now_s();
    c.last_progress = c.t0;
    gs_gen_t *g = NULL;
    int rc;
    char err[1024];
    if (out) {
        g = gs_gen_new(&o, err, sizeof(err));
        if (!g) return usage_error("%s%s", err, "");
        rc = run_files(g, &c, out);
    } else {
        rc = run_kafka(&o, &c, &cfg, bootstrap, partitions_given, &g);
        c.o = &o; /* partitions may come from the topics */
    }
    if (c.printed) fprintf(stderr, "\r%90s\r", "");
    if (rc == 0 && !quiet) print_summary(g, out ? out : bootstrap, stdout);
    gs_gen_destroy(g);
    return rc;
}
