/*
 * testkit.h - shared helpers for the operator unit tests (cmocka). Header-only (static inline), no
 * state outside the structures the caller owns. Include after <cmocka.h> and its prerequisites.
 *
 * What it gives:
 *
 *   tk_capture_t  a gs_sink_t that keeps every emitted record in arrival order: topic, key (a
 *                 NUL-terminated copy), raw value bytes, and the value unpacked with protobuf-c
 *                 (KpiRecord, Incident, Alert or Scorecard by topic; NULL for the DLQ).
 *                 Lookups: tk_count(), tk_nth(), tk_last() (latest record of a topic with a key,
 *                 i.e. the table view), and typed shortcuts tk_incident(), tk_alert(), tk_kpi(),
 *                 tk_nth_alert(), tk_nth_incident().
 *   tk_parts_t    a gs_partial_sink_t that copies every partial (the department name is copied
 *                 into the record, so it stays valid). tk_parts_last_wm() gives the latest
 *                 GS_PART_WATERMARK value.
 *   tk_ev_t       caller storage for one input event: the protobuf message and the gs_event_t
 *                 pointing to it. Builders tk_report(), tk_sensor(), tk_video(), tk_case() fill
 *                 it with the given fields (other fields zero / empty string, lat = lon = 0 =
 *                 "no position") and return the event. Strings are borrowed (string literals are
 *                 fine); change e.g. `e.u.report.lat` after building and before applying.
 *   tk_harness_t  params (SPEC defaults) + capture + partial sink + a task, wired together.
 *                 tk_harness_init() / tk_harness_init_params() / tk_harness_fini(). The harness
 *                 must not move after init (the sinks point into it).
 *   tk_apply()    gs_task_apply() of one event, then gs_task_flush() (flush result asserted
 *                 GS_OK); returns the apply result. tk_apply_noflush() skips the flush.
 *                 tk_apply_case() builds and applies a CaseEvent in TK_CELL.
 *   tk_must_incident()  the latest emitted state of an incident, failing the test if absent.
 *
 * Typical use:
 *
 *     tk_harness_t h;
 *     tk_harness_init(&h);
 *     tk_ev_t e;
 *     assert_int_equal(tk_apply(&h, tk_report(&e, "r1", 1, 20101, TK_CELL, TK_T0)), GS_OK);
 *     const Gridstream__V1__Incident *inc = tk_incident(&h.cap, "...-r1");
 *     tk_harness_fini(&h);
 *
 * Times: TK_T0 is 2024-03-01 00:00:00 UTC+8 (a round local midnight), TK_CELL a valid cell of
 * district 440902 (Maoming, 茂南区).
 */
#ifndef GS_TESTKIT_H
#define GS_TESTKIT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"
#include "params.h"
#include "rollup.h"
#include "store.h"
#include "task.h"

#define TK_CELL UINT64_C(440902001002003)
#define TK_CELL2 UINT64_C(440902001002004)
#define TK_T0 INT64_C(1709222400000) /* 2024-02-29T16:00:00Z = 2024-03-01 00:00 UTC+8 */

/* ---- capture sink ---------------------------------------------------------------------------- */

typedef struct tk_rec {
    gs_output_t topic;
    char *key;    /* NUL-terminated copy */
    uint8_t *val; /* raw bytes (copy) */
    size_t vlen;
    ProtobufCMessage *msg; /* unpacked by topic; NULL for DLQ or if it did not unpack */
} tk_rec_t;

typedef struct tk_capture {
    tk_rec_t *r;
    size_t n, cap;
} tk_capture_t;

static inline const ProtobufCMessageDescriptor *tk_descriptor(gs_output_t topic)
{
    switch (topic) {
    case GS_OUT_KPI:
        return &gridstream__v1__kpi_record__descriptor;
    case GS_OUT_INCIDENTS:
        return &gridstream__v1__incident__descriptor;
    case GS_OUT_ALERTS:
        return &gridstream__v1__alert__descriptor;
    case GS_OUT_SCORECARDS:
        return &gridstream__v1__scorecard__descriptor;
    default:
        return NULL;
    }
}

static inline void tk_capture_emit(void *ctx, gs_output_t topic, const void *key, size_t klen,
                                   const void *val, size_t vlen)
{
    tk_capture_t *c = ctx;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        tk_rec_t *nr = realloc(c->r, nc * sizeof(*nr));
        if (!nr) abort();
        c->r = nr;
        c->cap = nc;
    }
    tk_rec_t *r = &c->r[c->n++];
    r->topic = topic;
    r->key = malloc(klen + 1);
    r->val = malloc(vlen ? vlen : 1);
    if (!r->key || !r->val) abort();
    if (klen) memcpy(r->key, key, klen);
    r->key[klen] = '\0';
    if (vlen) memcpy(r->val, val, vlen);
    r->vlen = vlen;
    const ProtobufCMessageDescriptor *d = tk_descriptor(topic);
    r->msg = d ? protobuf_c_message_unpack(d, NULL, vlen, val) : NULL;
}

static inline void tk_capture_clear(tk_capture_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->r[i].key);
        free(c->r[i].val);
        if (c->r[i].msg) protobuf_c_message_free_unpacked(c->r[i].msg, NULL);
    }
    c->n = 0;
}

static inline void tk_capture_init(tk_capture_t *c)
{
    memset(c, 0, sizeof(*c));
}

static inline void tk_capture_fini(tk_capture_t *c)
{
    tk_capture_clear(c);
    free(c->r);
    memset(c, 0, sizeof(*c));
}

static inline gs_sink_t tk_capture_sink(tk_capture_t *c)
{
    gs_sink_t s = {tk_capture_emit, c};
    return s;
}

/* Records of `topic` so far. */
static inline size_t tk_count(const tk_capture_t *c, gs_output_t topic)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        k += c->r[i].topic == topic;
    return k;
}

/* Records of `topic` with exactly `key`. */
static inline size_t tk_count_key(const tk_capture_t *c, gs_output_t topic, const char *key)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        k += c->r[i].topic == topic && strcmp(c->r[i].key, key) == 0;
    return k;
}

/* The i-th (0-based) record of `topic`, or NULL. */
static inline const tk_rec_t *tk_nth(const tk_capture_t *c, gs_output_t topic, size_t idx)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->r[i].topic == topic && idx-- == 0) return &c->r[i];
    return NULL;
}

/* The latest record of `topic` with `key` (the table view), or NULL. */
static inline const tk_rec_t *tk_last(const tk_capture_t *c, gs_output_t topic, const char *key)
{
    for (size_t i = c->n; i-- > 0;)
        if (c->r[i].topic == topic && strcmp(c->r[i].key, key) == 0) return &c->r[i];
    return NULL;
}

static inline const Gridstream__V1__Incident *tk_incident(const tk_capture_t *c, const char *id)
{
    const tk_rec_t *r = tk_last(c, GS_OUT_INCIDENTS, id);
    return r ? (const Gridstream__V1__Incident *)r->msg : NULL;
}

static inline const Gridstream__V1__Alert *tk_alert(const tk_capture_t *c, const char *id)
{
    const tk_rec_t *r = tk_last(c, GS_OUT_ALERTS, id);
    return r ? (const Gridstream__V1__Alert *)r->msg : NULL;
}

static inline const Gridstream__V1__KpiRecord *tk_kpi(const tk_capture_t *c, const char *key)
{
    const tk_rec_t *r = tk_last(c, GS_OUT_KPI, key);
    return r ? (const Gridstream__V1__KpiRecord *)r->msg : NULL;
}

static inline const Gridstream__V1__Incident *tk_nth_incident(const tk_capture_t *c, size_t i)
{
    const tk_rec_t *r = tk_nth(c, GS_OUT_INCIDENTS, i);
    return r ? (const Gridstream__V1__Incident *)r->msg : NULL;
}

static inline const Gridstream__V1__Alert *tk_nth_alert(const tk_capture_t *c, size_t i)
{
    const tk_rec_t *r = tk_nth(c, GS_OUT_ALERTS, i);
    return r ? (const Gridstream__V1__Alert *)r->msg : NULL;
}

/* Number of alerts of `kind` (AlertKind) captured. */
static inline size_t tk_count_alerts(const tk_capture_t *c, int kind)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->r[i].topic == GS_OUT_ALERTS && c->r[i].msg &&
            (int)((const Gridstream__V1__Alert *)c->r[i].msg)->kind == kind)
            k++;
    return k;
}

/* Number of distinct incident keys captured (the incidents table size). */
static inline size_t tk_count_distinct(const tk_capture_t *c, gs_output_t topic)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->r[i].topic != topic) continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = c->r[j].topic == topic && strcmp(c->r[j].key, c->r[i].key) == 0;
        k += !seen;
    }
    return k;
}

/* ---- partial sink ---------------------------------------------------------------------------- */

typedef struct tk_part {
    gs_partial_t p; /* p.dept points to dept below */
    char dept[256];
} tk_part_t;

typedef struct tk_parts {
    tk_part_t *r;
    size_t n, cap;
} tk_parts_t;

static inline void tk_parts_emit(void *ctx, const gs_partial_t *part)
{
    tk_parts_t *c = ctx;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        tk_part_t *nr = realloc(c->r, nc * sizeof(*nr));
        if (!nr) abort();
        /* dept pointers point into the records themselves: re-aim after the move */
        for (size_t i = 0; i < c->n; i++)
            if (nr[i].p.dept) nr[i].p.dept = nr[i].dept;
        c->r = nr;
        c->cap = nc;
    }
    tk_part_t *r = &c->r[c->n++];
    r->p = *part;
    r->dept[0] = '\0';
    if (part->dept) {
        size_t l = part->dept_len < sizeof(r->dept) - 1 ? part->dept_len : sizeof(r->dept) - 1;
        memcpy(r->dept, part->dept, l);
        r->dept[l] = '\0';
        r->p.dept = r->dept;
        r->p.dept_len = l;
    }
}

static inline void tk_parts_init(tk_parts_t *c)
{
    memset(c, 0, sizeof(*c));
}

static inline void tk_parts_fini(tk_parts_t *c)
{
    free(c->r);
    memset(c, 0, sizeof(*c));
}

static inline gs_partial_sink_t tk_parts_sink(tk_parts_t *c)
{
    gs_partial_sink_t s = {tk_parts_emit, c};
    return s;
}

/* The wm of the latest GS_PART_WATERMARK partial; `dflt` if there is none. */
static inline int64_t tk_parts_last_wm(const tk_parts_t *c, int64_t dflt)
{
    for (size_t i = c->n; i-- > 0;)
        if (c->r[i].p.kind == GS_PART_WATERMARK) return c->r[i].p.wm;
    return dflt;
}

/* ---- input events ---------------------------------------------------------------------------- */

typedef struct tk_ev {
    union {
        Gridstream__V1__Report report;
        Gridstream__V1__SensorReading sensor;
        Gridstream__V1__VideoDetection video;
        Gridstream__V1__CaseEvent cas;
    } u;
    gs_event_t ev;
} tk_ev_t;

/* protobuf-c string fields are `char *`; the task only reads them. */
#define TK_STR(s) ((char *)(uintptr_t)(s))

static inline const gs_event_t *tk_report(tk_ev_t *e, const char *report_id, int channel,
                                          uint32_t problem, uint64_t cell, int64_t t)
{
    memset(e, 0, sizeof(*e));
    gridstream__v1__report__init(&e->u.report);
    e->u.report.report_id = TK_STR(report_id);
    e->u.report.channel = (Gridstream__V1__Channel)channel;
    e->u.report.problem_code = problem;
    e->u.report.cell = cell;
    e->u.report.event_time_ms = t;
    e->ev.src = GS_SRC_REPORTS;
    e->ev.t = t;
    e->ev.cell = cell;
    e->ev.m.report = &e->u.report;
    return &e->ev;
}

static inline const gs_event_t *tk_sensor(tk_ev_t *e, const char *sensor_id, int kind, int state,
                                          uint64_t seq, uint64_t cell, int64_t t)
{
    memset(e, 0, sizeof(*e));
    gridstream__v1__sensor_reading__init(&e->u.sensor);
    e->u.sensor.sensor_id = TK_STR(sensor_id);
    e->u.sensor.kind = (Gridstream__V1__SensorKind)kind;
    e->u.sensor.state = (Gridstream__V1__SensorState)state;
    e->u.sensor.seq = seq;
    e->u.sensor.cell = cell;
    e->u.sensor.event_time_ms = t;
    e->ev.src = GS_SRC_SENSORS;
    e->ev.t = t;
    e->ev.cell = cell;
    e->ev.m.sensor = &e->u.sensor;
    return &e->ev;
}

static inline const gs_event_t *tk_video(tk_ev_t *e, const char *detection_id,
                                         const char *camera_id, uint32_t alarm_type,
                                         float confidence, uint64_t cell, int64_t t)
{
    memset(e, 0, sizeof(*e));
    gridstream__v1__video_detection__init(&e->u.video);
    e->u.video.detection_id = TK_STR(detection_id);
    e->u.video.camera_id = TK_STR(camera_id);
    e->u.video.alarm_type = alarm_type;
    e->u.video.confidence = confidence;
    e->u.video.cell = cell;
    e->u.video.event_time_ms = t;
    e->ev.src = GS_SRC_VIDEO;
    e->ev.t = t;
    e->ev.cell = cell;
    e->ev.m.video = &e->u.video;
    return &e->ev;
}

/* `department` may be NULL (empty). deadline_ms is only meaningful for FILED. */
static inline const gs_event_t *tk_case(tk_ev_t *e, const char *case_id, int stage, int ref_channel,
                                        const char *ref_id, uint64_t cell, int64_t t,
                                        int64_t deadline_ms, const char *department)
{
    memset(e, 0, sizeof(*e));
    gridstream__v1__case_event__init(&e->u.cas);
    e->u.cas.case_id = TK_STR(case_id);
    e->u.cas.stage = (Gridstream__V1__Stage)stage;
    e->u.cas.ref_channel = (Gridstream__V1__Channel)ref_channel;
    e->u.cas.ref_id = TK_STR(ref_id);
    e->u.cas.cell = cell;
    e->u.cas.event_time_ms = t;
    e->u.cas.deadline_ms = deadline_ms;
    if (department) e->u.cas.department = TK_STR(department);
    e->ev.src = GS_SRC_CASES;
    e->ev.t = t;
    e->ev.cell = cell;
    e->ev.m.cas = &e->u.cas;
    return &e->ev;
}

/* ---- harness --------------------------------------------------------------------------------- */

typedef struct tk_harness {
    gs_params_t p;
    tk_capture_t cap;
    tk_parts_t parts;
    gs_sink_t sink;
    gs_partial_sink_t psink;
    gs_task_t *task;
} tk_harness_t;

/* A task (id 0) over a new store with `p` copied (NULL = SPEC defaults). */
static inline void tk_harness_init_params(tk_harness_t *h, const gs_params_t *p)
{
    memset(h, 0, sizeof(*h));
    if (p)
        h->p = *p;
    else
        gs_params_defaults(&h->p);
    tk_capture_init(&h->cap);
    tk_parts_init(&h->parts);
    h->sink = tk_capture_sink(&h->cap);
    h->psink = tk_parts_sink(&h->parts);
    h->task = gs_task_new(0, &h->p, NULL, &h->sink, &h->psink);
    assert_non_null(h->task);
}

static inline void tk_harness_init(tk_harness_t *h)
{
    tk_harness_init_params(h, NULL);
}

static inline void tk_harness_fini(tk_harness_t *h)
{
    gs_task_destroy(h->task);
    h->task = NULL;
    tk_capture_fini(&h->cap);
    tk_parts_fini(&h->parts);
}

/* Applies one event without flushing; returns gs_task_apply's result. */
static inline gs_err_t tk_apply_noflush(tk_harness_t *h, const gs_event_t *ev)
{
    return gs_task_apply(h->task, ev);
}

/* Applies one event, then flushes (asserting the flush succeeds); returns the apply result. */
static inline gs_err_t tk_apply(tk_harness_t *h, const gs_event_t *ev)
{
    gs_err_t err = gs_task_apply(h->task, ev);
    assert_int_equal(gs_task_flush(h->task), GS_OK);
    return err;
}

static inline void tk_flush(tk_harness_t *h)
{
    assert_int_equal(gs_task_flush(h->task), GS_OK);
}

static inline const gs_task_metrics_t *tk_metrics(const tk_harness_t *h)
{
    return gs_task_metrics(h->task);
}

/* The incident `id` as last emitted; fails the test if it was never emitted. */
static inline const Gridstream__V1__Incident *tk_must_incident(tk_harness_t *h, const char *id)
{
    const Gridstream__V1__Incident *inc = tk_incident(&h->cap, id);
    if (!inc) fail_msg("incident %s not emitted", id);
    return inc;
}

/* Applies (and flushes) a CaseEvent in TK_CELL; returns gs_task_apply's result. */
static inline gs_err_t tk_apply_case(tk_harness_t *h, const char *case_id, int stage, int ref_ch,
                                     const char *ref_id, int64_t t, int64_t deadline,
                                     const char *dept)
{
    tk_ev_t e;
    return tk_apply(h, tk_case(&e, case_id, stage, ref_ch, ref_id, TK_CELL, t, deadline, dept));
}

/* Marks the three partitions other than `keep` idle, so one source alone drives the watermark. */
static inline void tk_only_source(tk_harness_t *h, gs_source_t keep)
{
    for (int i = 0; i < GS_SRC__COUNT; i++)
        if (i != (int)keep) gs_task_set_idle(h->task, (gs_source_t)i, true);
}

#endif /* GS_TESTKIT_H */
