/*
 * signals.c - from accepted input records to signals (SPEC §4): exact dedup with a TTL, sensor
 * alarm edges, and video persistence (N qualifying detections within a window, then a latch that
 * each further detection extends and that expires after a quiet period).
 *
 * State: GS_NS_DEDUP (identity -> first sighting), GS_NS_SENSOR (sensor_id -> last state),
 * GS_NS_VIDEO (alarm_type, camera_id -> burst state). The readings followed are in
 * docs/SPEC-READINGS.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "task_int.h"

/* ---- exact dedup ------------------------------------------------------------------------------
 */

typedef struct dedup_val {
    int64_t t0;
} dedup_val_t;

/* Builds the identity key: [source][identity bytes]. Returns false if it does not fit. */
static bool dedup_key(const gs_event_t *ev, uint8_t *key, size_t *klen)
{
    size_t n = 1;
    key[0] = (uint8_t)ev->src;
#define APPEND(ptr, len)                                                                           \
    do {                                                                                           \
        size_t l_ = (len);                                                                         \
        if (n + l_ > GS_DEDUP_KEY_MAX) return false;                                               \
        memcpy(key + n, (ptr), l_);                                                                \
        n += l_;                                                                                   \
    } while (0)
    switch (ev->src) {
    case GS_SRC_REPORTS: {
        uint8_t ch = (uint8_t)ev->m.report->channel;
        APPEND(&ch, 1);
        APPEND(ev->m.report->report_id, strlen(ev->m.report->report_id));
        break;
    }
    case GS_SRC_SENSORS: {
        uint8_t seq[8];
        gs_put_be64(seq, ev->m.sensor->seq);
        APPEND(seq, 8);
        APPEND(ev->m.sensor->sensor_id, strlen(ev->m.sensor->sensor_id));
        break;
    }
    case GS_SRC_VIDEO:
        APPEND(ev->m.video->detection_id, strlen(ev->m.video->detection_id));
        break;
    default: {
        uint8_t hdr[9];
        hdr[0] = (uint8_t)ev->m.cas->stage;
        gs_put_be64(hdr + 1, (uint64_t)ev->m.cas->event_time_ms);
        APPEND(hdr, 9);
        APPEND(ev->m.cas->case_id, strlen(ev->m.cas->case_id));
        break;
    }
    }
#undef APPEND
    *klen = n;
    return true;
}

/* Forgotten once the watermark is more than 2 x TTL past the first sighting. */
static bool dedup_expired(const gs_task_t *t, int64_t t0)
{
    return t->wm != GS_TIME_MIN && t->wm != GS_TIME_MAX && t->wm - t0 > 2 * t->p->dedup_ttl_ms;
}

bool gs_dedup_seen(gs_task_t *t, const gs_event_t *ev, uint8_t *key, size_t *klen)
{
    if (!dedup_key(ev, key, klen)) {
        *klen = 0; /* an identity too long to remember is never a duplicate */
        return false;
    }
    const dedup_val_t *d = gs_store_get(t->st, GS_NS_DEDUP, key, *klen, NULL);
    if (!d || dedup_expired(t, d->t0)) return false;
    return ev->t - d->t0 <= t->p->dedup_ttl_ms;
}

void gs_dedup_register(gs_task_t *t, const uint8_t *key, size_t klen, int64_t ts)
{
    if (klen == 0) return;
    dedup_val_t d = {ts};
    if (!gs_store_put(t->st, GS_NS_DEDUP, key, klen, &d, sizeof(d))) gs_task_note_oom(t);
}

static bool sweep_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    const dedup_val_t *d = val;
    return dedup_expired(ctx, d->t0);
}

void gs_dedup_sweep(gs_task_t *t)
{
    t->m.dedup_expired += gs_store_del_if(t->st, GS_NS_DEDUP, sweep_one, t);
}

/* ---- sensor edges -----------------------------------------------------------------------------
 */

bool gs_signal_from_sensor(gs_task_t *t, const gs_event_t *ev, gs_signal_t *sig, char *sidbuf,
                           size_t sidcap)
{
    const Gridstream__V1__SensorReading *r = ev->m.sensor;
    size_t idlen = strlen(r->sensor_id);
    const uint8_t *prev = gs_store_get(t->st, GS_NS_SENSOR, r->sensor_id, idlen, NULL);
    bool was_alarm = prev && *prev == GRIDSTREAM__V1__SENSOR_STATE__ALARM;
    uint8_t now = (uint8_t)r->state;
    if (!prev || *prev != now)
        if (!gs_store_put(t->st, GS_NS_SENSOR, r->sensor_id, idlen, &now, 1)) gs_task_note_oom(t);
    if (now != GRIDSTREAM__V1__SENSOR_STATE__ALARM || was_alarm) return false;
    uint32_t problem = gs_code_map_get(&t->p->sensor_problem_map, (uint32_t)r->kind);
    if (!problem) return false;
    int n = snprintf(sidbuf, sidcap, "%s:%llu", r->sensor_id, (unsigned long long)r->seq);
    if (n < 0 || (size_t)n >= sidcap) return false;
    *sig = (gs_signal_t){ev->cell, problem,  GRIDSTREAM__V1__CHANNEL__SENSOR, ev->t, r->lat, r->lon,
                         sidbuf,   (size_t)n};
    return true;
}

/* ---- video persistence ------------------------------------------------------------------------
 */

#define VIDEO_PENDING 16

typedef struct video_val {
    uint8_t latched, npending, pad[6];
    int64_t last;
    int64_t pending[VIDEO_PENDING];
} video_val_t;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* True if some `count` pending times including `ts` span at most `window`. */
static bool burst(const video_val_t *v, int64_t ts, int count, int64_t window)
{
    int64_t s[VIDEO_PENDING];
    int n = v->npending;
    memcpy(s, v->pending, (size_t)n * sizeof(int64_t));
    qsort(s, (size_t)n, sizeof(int64_t), cmp_i64);
    for (int i = 0; i + count <= n; i++) {
        if (s[i] > ts || s[i + count - 1] < ts) continue;
        if (s[i + count - 1] - s[i] <= window) return true;
    }
    return false;
}

bool gs_signal_from_video(gs_task_t *t, const gs_event_t *ev, gs_signal_t *sig)
{
    const Gridstream__V1__VideoDetection *d = ev->m.video;
    const gs_params_t *p = t->p;
    uint32_t problem = gs_code_map_get(&p->video_alarm_map, d->alarm_type);
    if (!problem || (double)d->confidence < p->video_min_confidence) {
        t->m.video_ignored++;
        return false;
    }
    size_t clen = strlen(d->camera_id);
    uint8_t key[4 + GS_DEDUP_KEY_MAX];
    if (clen > GS_DEDUP_KEY_MAX)
        clen = GS_DEDUP_KEY_MAX; /* ids that long share state past this length */
    gs_put_be32(key, d->alarm_type);
    memcpy(key + 4, d->camera_id, clen);
    video_val_t *v = gs_store_upsert(t->st, GS_NS_VIDEO, key, 4 + clen, sizeof(*v), NULL);
    if (!v) {
        gs_task_note_oom(t);
        return false;
    }
    int64_t ts = ev->t;
    if (v->latched) {
        if (ts - v->last < p->video_latch_ms) {
            if (ts > v->last) v->last = ts;
            return false;
        }
        v->latched = 0; /* expired: this detection is the first of a new burst */
        v->npending = 0;
    }
    if (v->npending == VIDEO_PENDING) { /* drop the oldest */
        int oldest = 0;
        for (int i = 1; i < v->npending; i++)
            if (v->pending[i] < v->pending[oldest]) oldest = i;
        v->pending[oldest] = v->pending[--v->npending];
    }
    v->pending[v->npending++] = ts;
    int64_t newest = v->pending[0];
    for (int i = 1; i < v->npending; i++)
        if (v->pending[i] > newest) newest = v->pending[i];
    int keep = 0;
    bool has_ts = false;
    for (int i = 0; i < v->npending; i++)
        if (newest - v->pending[i] <= p->video_burst_window_ms) {
            if (v->pending[i] == ts) has_ts = true;
            v->pending[keep++] = v->pending[i];
        }
    v->npending = (uint8_t)keep;
    /* the detection itself takes part even when it is too old to stay pending */
    video_val_t probe = *v;
    if (!has_ts && probe.npending < VIDEO_PENDING) probe.pending[probe.npending++] = ts;
    if (!burst(&probe, ts, p->video_burst_count, p->video_burst_window_ms)) return false;
    v->latched = 1;
    v->last = ts;
    v->npending = 0;
    *sig = (gs_signal_t){ev->cell, problem,         GRIDSTREAM__V1__CHANNEL__VIDEO, ts, d->lat,
                         d->lon,   d->detection_id, strlen(d->detection_id)};
    return true;
}
