/*
 * task.c - one task's record loop: dispatch of a validated record to the operators, the watermark
 * (SPEC §7, §11), deadline timers, the task's KPI buckets and scorecard view, and flush.
 *
 * KPI updates take a fast path: a change to an incident's counts is added to one bucket
 * (cell, opening hour) and fanned out to the incident's 63 windows only at flush, so a burst of
 * changes to the same cell-hour costs one fan-out. That is exact as long as every window of the
 * incident still takes changes; when the watermark is past the hour window's retention the change
 * takes the slow path instead, window by window, each with its own retention.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "pbwire.h"
#include "timeutil.h"
#include "task_int.h"

#define BUCKET_KEY_LEN 16

typedef struct bucket {
    int64_t d[GS_KPI_NCOUNTS]; /* change since the last flush */
} bucket_t;

typedef struct score_val {
    int64_t v[GS_KPI_NCOUNTS];
    uint8_t changed, pad[7];
} score_val_t;

enum { SCORE_DISTRICT = 'D', SCORE_DEPT = 'P' };

/* GS_NS_META "task": what a task needs back after a restart besides its keyed state. Followed by
   the registered months (gs_month_state_t each). The idle flags are kept too: a partition that had
   gone idle is still out of the watermark after a restart, as it would have been without one. */
typedef struct task_meta {
    uint64_t next_handle;
    int64_t wm, next_sweep;
    int64_t part_max[GS_SRC__COUNT];
    uint8_t part_seen[GS_SRC__COUNT];
    uint8_t part_idle[GS_SRC__COUNT];
} task_meta_t;

void gs_task_note_oom(gs_task_t *t)
{
    t->oom = GS_ERR_NOMEM;
}

uint8_t *gs_task_scratch(gs_task_t *t, size_t n)
{
    if (!GS_RESERVE(t->scratch, t->cscratch, n)) {
        gs_task_note_oom(t);
        return NULL;
    }
    return t->scratch;
}

gs_err_t gs_keylist_push(gs_keylist_t *kl, const void *key, size_t klen)
{
    if (!GS_RESERVE(kl->buf, kl->cap, kl->len + 2 + klen)) return GS_ERR_NOMEM;
    kl->buf[kl->len] = (uint8_t)(klen >> 8);
    kl->buf[kl->len + 1] = (uint8_t)klen;
    memcpy(kl->buf + kl->len + 2, key, klen);
    kl->len += 2 + klen;
    return GS_OK;
}

gs_task_t *gs_task_new(uint32_t id, const gs_params_t *p, gs_store_t *st, const gs_sink_t *sink,
                       const gs_partial_sink_t *parts)
{
    gs_task_t *t = calloc(1, sizeof(*t));
    if (!t) {
        gs_store_destroy(st);
        return NULL;
    }
    t->id = id;
    t->p = p;
    t->st = st ? st : gs_store_new();
    if (!t->st) {
        free(t);
        return NULL;
    }
    t->sink = *sink;
    t->parts = *parts;
    for (int i = 0; i < GS_SRC__COUNT; i++)
        t->part_max[i] = GS_TIME_MIN;
    t->wm = GS_TIME_MIN;
    t->next_sweep = GS_TIME_MIN;
    t->next_handle = 1;
    /* a restored task picks up its counters, watermark and months where its last flush left them */
    size_t ml = 0;
    const task_meta_t *meta = gs_store_get(t->st, GS_NS_META, "task", 4, &ml);
    if (meta && ml >= sizeof(*meta)) {
        t->next_handle = meta->next_handle;
        t->wm = meta->wm;
        t->next_sweep = meta->next_sweep;
        for (int i = 0; i < GS_SRC__COUNT; i++) {
            t->part_max[i] = meta->part_max[i];
            t->part_seen[i] = meta->part_seen[i];
            t->part_idle[i] = meta->part_idle[i] != 0;
        }
        size_t nm = (ml - sizeof(*meta)) / sizeof(gs_month_state_t);
        if (nm && GS_RESERVE(t->months, t->cmonths, nm)) {
            memcpy(t->months, meta + 1, nm * sizeof(gs_month_state_t));
            t->nmonths = nm;
        }
    }
    gs_kpi_table_init(&t->win, t->st, GS_NS_KPI_WINDOW);
    return t;
}

void gs_task_destroy(gs_task_t *t)
{
    if (!t) return;
    gs_kpi_table_fini(&t->win);
    free(t->kpi_buckets.buf);
    free(t->score_keys.buf);
    free(t->out_inc);
    free(t->heap);
    free(t->months);
    free(t->scratch);
    gs_store_destroy(t->st);
    free(t);
}

const gs_task_metrics_t *gs_task_metrics(const gs_task_t *t)
{
    return &t->m;
}

gs_store_t *gs_task_store(gs_task_t *t)
{
    return t->st;
}

int64_t gs_task_watermark(const gs_task_t *t)
{
    return t->wm;
}

int gs_merge_pick(const int64_t head_t[GS_SRC__COUNT], const bool has[GS_SRC__COUNT])
{
    int best = -1;
    for (int i = 0; i < GS_SRC__COUNT; i++)
        if (has[i] && (best < 0 || head_t[i] < head_t[best])) best = i;
    return best;
}

/* ---- timers -----------------------------------------------------------------------------------
 */

static bool timer_less(const gs_timer_t *a, const gs_timer_t *b)
{
    return a->at < b->at || (a->at == b->at && a->handle < b->handle);
}

void gs_task_timer_add(gs_task_t *t, int64_t at, uint64_t handle)
{
    if (!GS_RESERVE(t->heap, t->cheap, t->nheap + 1)) {
        gs_task_note_oom(t);
        return;
    }
    size_t i = t->nheap++;
    t->heap[i] = (gs_timer_t){at, handle};
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!timer_less(&t->heap[i], &t->heap[up])) break;
        gs_timer_t tmp = t->heap[i];
        t->heap[i] = t->heap[up];
        t->heap[up] = tmp;
        i = up;
    }
}

static gs_timer_t timer_pop(gs_task_t *t)
{
    gs_timer_t top = t->heap[0];
    t->heap[0] = t->heap[--t->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->nheap && timer_less(&t->heap[l], &t->heap[m])) m = l;
        if (r < t->nheap && timer_less(&t->heap[r], &t->heap[m])) m = r;
        if (m == i) break;
        gs_timer_t tmp = t->heap[i];
        t->heap[i] = t->heap[m];
        t->heap[m] = tmp;
        i = m;
    }
    return top;
}

/* OVERDUE: evaluated once per incident, when the watermark first exceeds its deadline. */
static void fire_timers(gs_task_t *t)
{
    while (t->nheap > 0 && t->wm != GS_TIME_MIN && t->wm > t->heap[0].at) {
        gs_timer_t tm = timer_pop(t);
        gs_incident_t *inc = gs_incident_get(t, tm.handle);
        if (!inc || inc->overdue_done) continue;
        inc->overdue_done = 1;
        if (inc->rectified_ms == 0 && inc->stage != GRIDSTREAM__V1__STAGE__REJECTED)
            gs_alert_emit(t, GRIDSTREAM__V1__ALERT_KIND__OVERDUE, inc, inc->deadline_ms, 1,
                          "deadline passed before rectification");
    }
}

/*
 * Scorecard months: registered when the task opens its first incident in one, frozen by the first
 * watermark check that finds the watermark past E. A month first registered when the watermark is
 * already past E takes that one record's changes and freezes right after it, like any timer.
 */
static gs_month_state_t *month_find(gs_task_t *t, int32_t month)
{
    for (size_t i = t->nmonths; i > 0; i--) /* the newest months are the ones asked for */
        if (t->months[i - 1].month == month) return &t->months[i - 1];
    return NULL;
}

void gs_task_month_register(gs_task_t *t, int32_t month, int64_t e)
{
    if (month_find(t, month)) return;
    if (!GS_RESERVE(t->months, t->cmonths, t->nmonths + 1)) {
        gs_task_note_oom(t);
        return;
    }
    size_t i = t->nmonths++;
    while (i > 0 && t->months[i - 1].month > month) {
        t->months[i] = t->months[i - 1];
        i--;
    }
    t->months[i] = (gs_month_state_t){month, 0, e};
}

static void freeze_months(gs_task_t *t)
{
    for (size_t i = 0; i < t->nmonths; i++)
        if (!t->months[i].frozen && t->wm != GS_TIME_MIN && t->wm > t->months[i].e)
            t->months[i].frozen = 1;
}

/* ---- watermark --------------------------------------------------------------------------------
 */

static void recompute_wm(gs_task_t *t)
{
    int64_t wm = GS_TIME_MAX;
    bool any = false;
    for (int i = 0; i < GS_SRC__COUNT; i++) {
        if (t->part_idle[i]) continue;
        any = true;
        int64_t w = t->part_seen[i] ? t->part_max[i] - t->p->watermark_lag_ms : GS_TIME_MIN;
        if (w < wm) wm = w;
    }
    if (!any) return; /* every partition idle: the watermark stays where it is */
    if (wm > t->wm) t->wm = wm;
}

static void after_watermark(gs_task_t *t)
{
    fire_timers(t);
    freeze_months(t);
    if (t->wm != GS_TIME_MIN && t->wm != GS_TIME_MAX && t->wm >= t->next_sweep) {
        if (t->next_sweep != GS_TIME_MIN) gs_dedup_sweep(t);
        /* lookups already ignore expired identities; the sweep only frees their memory, so a
           quarter of the TTL between sweeps bounds the garbage without rescanning every hour */
        int64_t every = t->p->dedup_ttl_ms / 4;
        t->next_sweep = t->wm + (every > GS_HOUR_MS ? every : GS_HOUR_MS);
    }
}

bool gs_task_idle(const gs_task_t *t, gs_source_t src)
{
    return t->part_idle[src];
}

void gs_task_set_idle(gs_task_t *t, gs_source_t src, bool idle)
{
    t->part_idle[src] = idle;
    recompute_wm(t);
    after_watermark(t);
}

void gs_task_finish(gs_task_t *t)
{
    t->wm = GS_TIME_MAX;
    fire_timers(t);
    freeze_months(t);
}

/* ---- KPI and scorecard views of an incident ----------------------------------------------------
 */

void gs_incident_score_counts(const gs_incident_t *inc, int64_t v[GS_SCORE_NCOUNTS])
{
    memset(v, 0, GS_SCORE_NCOUNTS * sizeof(int64_t));
    if (!inc) return;
    bool filed = inc->sc_filed, rect = inc->sc_rectified_ms != 0;
    v[0] = 1;
    v[1] = gs_channel_active(inc->first_channel);
    v[2] = filed;
    v[3] = filed && (rect || inc->sc_deadline_ms <= inc->sc_e);
    v[4] = filed && rect;
    v[5] = filed && rect && inc->sc_rectified_ms <= inc->sc_deadline_ms;
    v[6] = inc->sc_reworked;
}

static size_t score_key(uint8_t *k, int kind, const gs_incident_t *inc, const char *dept,
                        size_t dlen)
{
    k[0] = (uint8_t)kind;
    gs_put_be64(k + 1, inc->cell / UINT64_C(100000000000));
    gs_put_be32(k + 9, (uint32_t)inc->month);
    if (kind == SCORE_DISTRICT) {
        gs_put_be64(k + 13, inc->cell / UINT64_C(1000000000));
        return 21;
    }
    memcpy(k + 13, dept, dlen);
    return 13 + dlen;
}

static void score_add(gs_task_t *t, const uint8_t *k, size_t kl, const int64_t *d, int n)
{
    bool zero = true;
    for (int i = 0; i < n; i++)
        zero = zero && d[i] == 0;
    if (zero) return;
    score_val_t *sv = gs_store_upsert(t->st, GS_NS_SCORE, k, kl, sizeof(*sv), NULL);
    if (!sv) {
        gs_task_note_oom(t);
        return;
    }
    for (int i = 0; i < n; i++)
        sv->v[i] += d[i];
    if (!sv->changed) {
        sv->changed = 1;
        if (gs_keylist_push(&t->score_keys, k, kl) != GS_OK) gs_task_note_oom(t);
    }
}

static void kpi_add(gs_task_t *t, const gs_incident_t *inc, const int64_t *d)
{
    bool zero = true;
    for (int i = 0; i < GS_KPI_NCOUNTS; i++)
        zero = zero && d[i] == 0;
    if (zero) return;
    const gs_params_t *p = t->p;
    int64_t hour = gs_time_hour_start(inc->opened_ms, p->tz_offset_minutes);
    if (t->wm == GS_TIME_MIN || t->wm <= hour + GS_HOUR_MS + p->kpi_retention_ms) {
        uint8_t k[BUCKET_KEY_LEN];
        gs_put_be64(k, inc->cell);
        gs_put_be64(k + 8, (uint64_t)hour);
        bool created;
        bucket_t *b =
            gs_store_upsert(t->st, GS_NS_KPI_BUCKET, k, BUCKET_KEY_LEN, sizeof(*b), &created);
        if (!b) {
            gs_task_note_oom(t);
            return;
        }
        if (created && gs_keylist_push(&t->kpi_buckets, k, BUCKET_KEY_LEN) != GS_OK)
            gs_task_note_oom(t);
        for (int i = 0; i < GS_KPI_NCOUNTS; i++)
            b->d[i] += d[i];
        return;
    }
    /* late beyond the hour window's retention: window by window */
    gs_kpi_wkey_t w[GS_KPI_MAX_WINDOWS];
    int n = gs_kpi_windows_for(inc->cell, inc->opened_ms, p->tz_offset_minutes, GS_LEVEL_CELL,
                               GS_LEVEL_CITY, w);
    for (int i = 0; i < n; i++) {
        int64_t end = gs_kpi_window_end(&w[i], p->tz_offset_minutes);
        if (t->wm > end + gs_kpi_retention(p, w[i].kind)) {
            t->m.kpi_late_dropped++;
            continue;
        }
        if (gs_kpi_table_add(&t->win, &w[i], d) != GS_OK) gs_task_note_oom(t);
    }
}

void gs_task_incident_changed(gs_task_t *t, gs_incident_t *inc,
                              const int64_t kpi_before[GS_KPI_NCOUNTS],
                              const int64_t score_before[GS_SCORE_NCOUNTS], const char *dept_before,
                              size_t dept_before_len)
{
    int64_t now[GS_KPI_NCOUNTS], d[GS_KPI_NCOUNTS];
    gs_incident_kpi_counts(inc, now);
    for (int i = 0; i < GS_KPI_NCOUNTS; i++)
        d[i] = now[i] - kpi_before[i];
    kpi_add(t, inc, d);

    /* the scorecard view: frozen once this task's watermark has passed the month's E */
    const gs_month_state_t *ms = month_find(t, inc->month);
    if (ms && !ms->frozen) {
        int64_t sn[GS_SCORE_NCOUNTS], sd[GS_SCORE_NCOUNTS];
        gs_incident_score_counts(inc, sn);
        for (int i = 0; i < GS_SCORE_NCOUNTS; i++)
            sd[i] = sn[i] - score_before[i];
        uint8_t k[13 + GS_DEPT_MAX];
        score_add(t, k, score_key(k, SCORE_DISTRICT, inc, NULL, 0), sd, GS_SCORE_NCOUNTS);
        /* departments: assigned and on-time counts move with the department */
        const char *dn = gs_inc_sc_dept(inc);
        size_t dnl = inc->sc_dept_len;
        int64_t before2[2] = {dept_before_len > 0, dept_before_len > 0 ? score_before[5] : 0};
        int64_t after2[2] = {dnl > 0, dnl > 0 ? sn[5] : 0};
        if (dept_before_len == dnl && (dnl == 0 || memcmp(dept_before, dn, dnl) == 0)) {
            if (dnl > 0) {
                int64_t dd[2] = {after2[0] - before2[0], after2[1] - before2[1]};
                score_add(t, k, score_key(k, SCORE_DEPT, inc, dn, dnl), dd, 2);
            }
        } else {
            if (dept_before_len > 0) {
                int64_t dd[2] = {-before2[0], -before2[1]};
                score_add(t, k, score_key(k, SCORE_DEPT, inc, dept_before, dept_before_len), dd, 2);
            }
            if (dnl > 0) score_add(t, k, score_key(k, SCORE_DEPT, inc, dn, dnl), after2, 2);
        }
    }

    if (!inc->out_dirty) {
        inc->out_dirty = 1;
        if (!GS_RESERVE(t->out_inc, t->cout, t->nout + 1)) {
            gs_task_note_oom(t);
            return;
        }
        t->out_inc[t->nout++] = inc->handle;
    }
}

void gs_task_restore_incident(gs_task_t *t, const void *val, size_t vlen)
{
    const gs_incident_t *inc = val;
    if (vlen < sizeof(*inc) || vlen < gs_inc_size(inc)) return;
    if (inc->filed_ms != 0 && !inc->overdue_done)
        gs_task_timer_add(t, inc->deadline_ms, inc->handle);
}

static bool restore_incident_cb(void *ctx, const void *key, size_t klen, void *val, size_t vlen)
{
    gs_task_restore_incident(ctx, val, vlen);
    return true;
}

gs_err_t gs_task_restored(gs_task_t *t)
{
    gs_store_scan(t->st, GS_NS_INCIDENT, NULL, 0, restore_incident_cb, t);
    return gs_kpi_table_restore(&t->win);
}

/* ---- apply ------------------------------------------------------------------------------------
 */

static void advance(gs_task_t *t, gs_source_t src, int64_t ts)
{
    if (!t->part_seen[src] || ts > t->part_max[src]) t->part_max[src] = ts;
    t->part_seen[src] = true;
    recompute_wm(t);
    after_watermark(t);
}

gs_err_t gs_task_apply(gs_task_t *t, const gs_event_t *ev)
{
    uint8_t key[GS_DEDUP_KEY_MAX];
    size_t klen;
    t->m.records_in[ev->src]++;
    if (gs_dedup_seen(t, ev, key, &klen)) {
        t->m.duplicates_exact++;
        advance(t, ev->src, ev->t);
        return GS_OK;
    }
    gs_signal_t sig;
    char sidbuf[1100];
    switch (ev->src) {
    case GS_SRC_REPORTS: {
        const Gridstream__V1__Report *r = ev->m.report;
        gs_dedup_register(t, key, klen, ev->t);
        sig = (gs_signal_t){ev->cell, r->problem_code, (int)r->channel, ev->t,
                            r->lat,   r->lon,          r->report_id,    strlen(r->report_id)};
        gs_correlate(t, &sig);
        break;
    }
    case GS_SRC_SENSORS:
        gs_dedup_register(t, key, klen, ev->t);
        if (gs_signal_from_sensor(t, ev, &sig, sidbuf, sizeof(sidbuf))) gs_correlate(t, &sig);
        break;
    case GS_SRC_VIDEO:
        gs_dedup_register(t, key, klen, ev->t);
        if (gs_signal_from_video(t, ev, &sig)) gs_correlate(t, &sig);
        break;
    default: {
        gs_err_t err = gs_lifecycle_apply(t, ev->m.cas);
        if (err != GS_OK) {
            t->m.dlq[gs_reason_index(err)]++;
            return err; /* rejected: registers nothing, advances nothing */
        }
        gs_dedup_register(t, key, klen, ev->t);
        break;
    }
    }
    advance(t, ev->src, ev->t);
    return GS_OK;
}

/* ---- flush ------------------------------------------------------------------------------------
 */

static void publish_kpi(void *ctx, const gs_kpi_wkey_t *w, const int64_t v[GS_KPI_NCOUNTS])
{
    gs_task_t *t = ctx;
    gs_partial_t part = {.kind = GS_PART_KPI, .source = t->id, .w = *w};
    memcpy(part.v, v, sizeof(part.v));
    t->parts.emit(t->parts.ctx, &part);
}

void gs_incident_fill(const gs_incident_t *inc, Gridstream__V1__Incident *m,
                      char id[GS_INC_ID_MAX + 1], char dept[GS_DEPT_MAX + 1])
{
    size_t il = inc->id_len < GS_INC_ID_MAX ? inc->id_len : GS_INC_ID_MAX;
    memcpy(id, gs_inc_id(inc), il);
    id[il] = 0;
    memcpy(dept, gs_inc_dept(inc), inc->dept_len); /* dept_len <= GS_DEPT_MAX */
    dept[inc->dept_len] = 0;
    gridstream__v1__incident__init(m);
    m->incident_id = id;
    m->cell = inc->cell;
    m->problem_code = inc->problem;
    m->opened_ms = inc->opened_ms;
    m->first_channel = (Gridstream__V1__Channel)inc->first_channel;
    m->captured = gs_channel_active(inc->first_channel);
    m->signal_count = inc->signal_count;
    m->channel_mask = inc->channel_mask;
    m->stage = (Gridstream__V1__Stage)inc->stage;
    m->filed_ms = inc->filed_ms;
    m->deadline_ms = inc->deadline_ms;
    m->rectified_ms = inc->rectified_ms;
    m->closed_ms = inc->closed_ms;
    m->rework_count = inc->rework_count;
    m->department = dept;
    m->last_signal_ms = inc->last_signal_ms;
}

/* Bytes of a string kept with its length, up to a NUL: what protobuf-c writes of it as a C
   string. */
static size_t cstr_len(const char *s, size_t n)
{
    const char *z = memchr(s, 0, n);
    return z ? (size_t)(z - s) : n;
}

size_t gs_incident_pack(const gs_incident_t *inc, uint8_t out[GS_INCIDENT_RECORD_MAX])
{
    uint8_t *o = out;
    size_t il = inc->id_len < GS_INC_ID_MAX ? inc->id_len : GS_INC_ID_MAX;
    o = gs_pb_sfield(o, 1, gs_inc_id(inc), cstr_len(gs_inc_id(inc), il));
    o = gs_pb_vfield(o, 2, inc->cell);
    o = gs_pb_vfield(o, 3, inc->problem);
    o = gs_pb_vfield(o, 4, (uint64_t)inc->opened_ms);
    o = gs_pb_vfield(o, 5, inc->first_channel);
    o = gs_pb_vfield(o, 6, gs_channel_active(inc->first_channel));
    o = gs_pb_vfield(o, 7, inc->signal_count);
    o = gs_pb_vfield(o, 8, inc->channel_mask);
    o = gs_pb_vfield(o, 9, inc->stage);
    o = gs_pb_vfield(o, 10, (uint64_t)inc->filed_ms);
    o = gs_pb_vfield(o, 11, (uint64_t)inc->deadline_ms);
    o = gs_pb_vfield(o, 12, (uint64_t)inc->rectified_ms);
    o = gs_pb_vfield(o, 13, (uint64_t)inc->closed_ms);
    o = gs_pb_vfield(o, 14, inc->rework_count);
    o = gs_pb_sfield(o, 15, gs_inc_dept(inc), cstr_len(gs_inc_dept(inc), inc->dept_len));
    o = gs_pb_vfield(o, 16, (uint64_t)inc->last_signal_ms);
    return (size_t)(o - out);
}

static void emit_incident(gs_task_t *t, gs_incident_t *inc)
{
    uint8_t val[GS_INCIDENT_RECORD_MAX];
    size_t vlen = gs_incident_pack(inc, val);
    size_t il = inc->id_len < GS_INC_ID_MAX ? inc->id_len : GS_INC_ID_MAX;
    t->sink.emit(t->sink.ctx, GS_OUT_INCIDENTS, gs_inc_id(inc), cstr_len(gs_inc_id(inc), il), val,
                 vlen);
}

gs_err_t gs_task_flush(gs_task_t *t)
{
    const gs_params_t *p = t->p;
    /* 1. KPI buckets fan out to the windows */
    for (size_t off = 0; off < t->kpi_buckets.len;) {
        const uint8_t *k = t->kpi_buckets.buf + off + 2;
        off += 2 + BUCKET_KEY_LEN;
        const bucket_t *b = gs_store_get(t->st, GS_NS_KPI_BUCKET, k, BUCKET_KEY_LEN, NULL);
        if (!b) continue;
        if (gs_kpi_table_stage_bucket(&t->win, gs_get_be64(k), (int64_t)gs_get_be64(k + 8), b->d) !=
            GS_OK)
            gs_task_note_oom(t);
        gs_store_del(t->st, GS_NS_KPI_BUCKET, k, BUCKET_KEY_LEN);
    }
    t->kpi_buckets.len = 0;
    if (gs_kpi_table_apply_staged(&t->win, p->tz_offset_minutes) != GS_OK) gs_task_note_oom(t);
    /* 2. CELL windows to gridstream.kpi, higher levels to the rollup */
    if (gs_kpi_table_flush(&t->win, t->wm, p, &t->sink, publish_kpi, t) != GS_OK)
        gs_task_note_oom(t);
    /* 3. incidents */
    for (size_t i = 0; i < t->nout; i++) {
        gs_incident_t *inc = gs_incident_get(t, t->out_inc[i]);
        if (!inc) continue;
        inc->out_dirty = 0;
        emit_incident(t, inc);
    }
    t->nout = 0;
    /* 4. scorecard partials */
    for (size_t off = 0; off < t->score_keys.len;) {
        size_t kl = (size_t)t->score_keys.buf[off] << 8 | t->score_keys.buf[off + 1];
        const uint8_t *k = t->score_keys.buf + off + 2;
        off += 2 + kl;
        score_val_t *sv = gs_store_update(t->st, GS_NS_SCORE, k, kl, NULL);
        if (!sv) continue;
        sv->changed = 0;
        gs_partial_t part = {
            .source = t->id, .city = gs_get_be64(k + 1), .month = (int32_t)gs_get_be32(k + 9)};
        if (k[0] == SCORE_DISTRICT) {
            part.kind = GS_PART_DISTRICT;
            part.district = gs_get_be64(k + 13);
        } else {
            part.kind = GS_PART_DEPARTMENT;
            part.dept = (const char *)k + 13;
            part.dept_len = kl - 13;
        }
        memcpy(part.v, sv->v, sizeof(part.v));
        t->parts.emit(t->parts.ctx, &part);
    }
    t->score_keys.len = 0;
    /* 5. the watermark, last: the rollup may act on it only after the counts above */
    gs_partial_t wp = {.kind = GS_PART_WATERMARK, .source = t->id, .wm = t->wm};
    t->parts.emit(t->parts.ctx, &wp);
    size_t ml = sizeof(task_meta_t) + t->nmonths * sizeof(gs_month_state_t);
    task_meta_t *meta = gs_store_put(t->st, GS_NS_META, "task", 4, NULL, ml);
    if (!meta) {
        gs_task_note_oom(t);
    } else {
        meta->next_handle = t->next_handle;
        meta->wm = t->wm;
        meta->next_sweep = t->next_sweep;
        for (int i = 0; i < GS_SRC__COUNT; i++) {
            meta->part_max[i] = t->part_max[i];
            meta->part_seen[i] = t->part_seen[i];
            meta->part_idle[i] = t->part_idle[i];
        }
        if (t->nmonths) memcpy(meta + 1, t->months, t->nmonths * sizeof(gs_month_state_t));
    }
    gs_err_t err = t->oom;
    t->oom = GS_OK;
    return err;
}
