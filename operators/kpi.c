/*
 * kpi.c - KPI windows and their accumulators (SPEC §7).
 *
 * Counts are cohort counts: every number of a window is about the incidents opened in it, so an
 * incident's later case events change the windows of its opening time. Callers hand in deltas of an
 * incident's counts; this file knows which windows an instant belongs to and when a window is
 * emitted.
 */
#include "kpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "pbwire.h"
#include "timeutil.h"

void gs_kpi_wkey_pack(const gs_kpi_wkey_t *w, uint8_t out[GS_KPI_WKEY_LEN])
{
    out[0] = w->level;
    out[1] = w->kind;
    gs_put_be64(out + 2, w->scope);
    gs_put_be64(out + 10,
                (uint64_t)w->start ^ (UINT64_C(1) << 63)); /* order-preserving for negatives */
}

void gs_kpi_wkey_unpack(const uint8_t in[GS_KPI_WKEY_LEN], gs_kpi_wkey_t *w)
{
    w->level = in[0];
    w->kind = in[1];
    w->scope = gs_get_be64(in + 2);
    w->start = (int64_t)(gs_get_be64(in + 10) ^ (UINT64_C(1) << 63));
}

int64_t gs_kpi_window_end(const gs_kpi_wkey_t *w, int tz_min)
{
    switch (w->kind) {
    case GS_WIN_HOUR:
        return w->start + GS_HOUR_MS;
    case GS_WIN_DAY:
    case GS_WIN_ROLLING_24H:
        return w->start + GS_DAY_MS;
    default:
        return gs_time_month_start(gs_time_month_index(w->start, tz_min) + 1, tz_min);
    }
}

int64_t gs_kpi_retention(const gs_params_t *p, int kind)
{
    return kind == GS_WIN_MONTH ? p->kpi_month_retention_ms : p->kpi_retention_ms;
}

/* The windows of one level: HOUR, DAY, MONTH, then ROLLING_24H starts ascending. */
static int level_windows(int level, uint64_t scope, int64_t hour, int64_t day, int64_t month,
                         gs_kpi_wkey_t *out)
{
    int n = 0;
    out[n++] = (gs_kpi_wkey_t){(uint8_t)level, GS_WIN_HOUR, scope, hour};
    out[n++] = (gs_kpi_wkey_t){(uint8_t)level, GS_WIN_DAY, scope, day};
    out[n++] = (gs_kpi_wkey_t){(uint8_t)level, GS_WIN_MONTH, scope, month};
    if (level == GS_LEVEL_DISTRICT || level == GS_LEVEL_CITY)
        for (int k = 23; k >= 0; k--)
            out[n++] =
                (gs_kpi_wkey_t){(uint8_t)level, GS_WIN_ROLLING_24H, scope, hour - k * GS_HOUR_MS};
    return n;
}

int gs_kpi_windows_for(uint64_t cell, int64_t t, int tz_min, int lo, int hi,
                       gs_kpi_wkey_t out[GS_KPI_MAX_WINDOWS])
{
    int64_t hour = gs_time_hour_start(t, tz_min);
    int64_t day = gs_time_day_start(t, tz_min);
    int64_t month = gs_time_month_start(gs_time_month_index(t, tz_min), tz_min);
    int n = 0;
    for (int level = lo; level <= hi; level++)
        n += level_windows(level, gs_cell_scope(cell, level), hour, day, month, out + n);
    return n;
}

int gs_kpi_scope_windows(int level, uint64_t scope, int64_t t, int tz_min,
                         gs_kpi_wkey_t out[GS_KPI_MAX_WINDOWS])
{
    int64_t hour = gs_time_hour_start(t, tz_min);
    int64_t day = gs_time_day_start(t, tz_min);
    int64_t month = gs_time_month_start(gs_time_month_index(t, tz_min), tz_min);
    return level_windows(level, scope, hour, day, month, out);
}

void gs_kpi_table_init(gs_kpi_table_t *tab, gs_store_t *st, gs_ns_t ns)
{
    memset(tab, 0, sizeof(*tab));
    tab->st = st;
    tab->ns = ns;
}

static void stage_fini(gs_kpi_stage_t *sg)
{
    free(sg->e);
    free(sg->slots);
}

void gs_kpi_table_fini(gs_kpi_table_t *tab)
{
    free(tab->changed);
    free(tab->pending);
    stage_fini(&tab->hours);
    stage_fini(&tab->wins);
    memset(tab, 0, sizeof(*tab));
}

static gs_err_t push_key(uint8_t (**arr)[GS_KPI_WKEY_LEN], size_t *n, size_t *cap, const uint8_t *k)
{
    if (!GS_RESERVE(*arr, *cap, *n + 1)) return GS_ERR_NOMEM;
    memcpy((*arr)[(*n)++], k, GS_KPI_WKEY_LEN);
    return GS_OK;
}

static gs_kpi_win_t *win_get(gs_kpi_table_t *tab, const uint8_t *k)
{
    gs_kpi_win_t *w =
        gs_store_upsert(tab->st, tab->ns, k, GS_KPI_WKEY_LEN, sizeof(gs_kpi_win_t), NULL);
    if (w && !w->changed) {
        if (push_key(&tab->changed, &tab->nchanged, &tab->cchanged, k) != GS_OK) return NULL;
        w->changed = 1;
    }
    return w;
}

gs_err_t gs_kpi_table_add(gs_kpi_table_t *tab, const gs_kpi_wkey_t *wk,
                          const int64_t delta[GS_KPI_NCOUNTS])
{
    uint8_t k[GS_KPI_WKEY_LEN];
    gs_kpi_wkey_pack(wk, k);
    gs_kpi_win_t *w = win_get(tab, k);
    if (!w) return GS_ERR_NOMEM;
    for (int i = 0; i < GS_KPI_NCOUNTS; i++)
        w->v[i] += delta[i];
    return GS_OK;
}

static uint64_t wkey_hash(const gs_kpi_wkey_t *w)
{
    uint64_t h = w->scope * UINT64_C(0x9e3779b97f4a7c15);
    h ^= ((uint64_t)w->start + ((uint64_t)w->level << 56 | (uint64_t)w->kind << 48)) *
         UINT64_C(0xc2b2ae3d27d4eb4f);
    return h ^ (h >> 29);
}

static bool wkey_eq(const gs_kpi_wkey_t *a, const gs_kpi_wkey_t *b)
{
    return a->scope == b->scope && a->start == b->start && a->level == b->level &&
           a->kind == b->kind;
}

/* Rebuilds the slots for at least `need` keys at a load of at most one half. */
static bool stage_grow(gs_kpi_stage_t *sg, size_t need)
{
    size_t n = sg->nslots ? sg->nslots : 256;
    while (n < need * 2)
        n *= 2;
    if (n != sg->nslots) {
        uint32_t *s = malloc(n * sizeof(*s));
        if (!s) return false;
        free(sg->slots);
        sg->slots = s;
        sg->nslots = n;
    }
    memset(sg->slots, 0, sg->nslots * sizeof(*sg->slots));
    for (size_t i = 0; i < sg->n; i++) {
        size_t j = (size_t)wkey_hash(&sg->e[i].w) & (sg->nslots - 1);
        while (sg->slots[j])
            j = (j + 1) & (sg->nslots - 1);
        sg->slots[j] = (uint32_t)i + 1;
        sg->e[i].slot = j;
    }
    return true;
}

/* Adds delta to each of the n keys w, appending the keys not staged yet. */
static gs_err_t stage_add(gs_kpi_stage_t *sg, const gs_kpi_wkey_t *w, int n,
                          const int64_t delta[GS_KPI_NCOUNTS])
{
    size_t need = sg->n + (size_t)n;
    if (need >= UINT32_MAX || !GS_RESERVE(sg->e, sg->cap, need) ||
        (need * 2 > sg->nslots && !stage_grow(sg, need)))
        return GS_ERR_NOMEM;
    size_t mask = sg->nslots - 1;
    for (int i = 0; i < n; i++) {
        size_t j = (size_t)wkey_hash(&w[i]) & mask;
        gs_kpi_staged_t *e = NULL;
        for (; sg->slots[j]; j = (j + 1) & mask)
            if (wkey_eq(&sg->e[sg->slots[j] - 1].w, &w[i])) {
                e = &sg->e[sg->slots[j] - 1];
                break;
            }
        if (!e) {
            e = &sg->e[sg->n++];
            sg->slots[j] = (uint32_t)sg->n;
            e->w = w[i];
            e->slot = j;
            memset(e->v, 0, sizeof(e->v));
        }
        for (int c = 0; c < GS_KPI_NCOUNTS; c++)
            e->v[c] += delta[c];
    }
    return GS_OK;
}

/* Staging of up to this many keys keeps its memory from flush to flush (the engine's commits);
   a larger one (a replay's single flush, a restore) gives it back. */
#define STAGE_KEEP 4096

static void stage_clear(gs_kpi_stage_t *sg)
{
    if (sg->cap > STAGE_KEEP) {
        stage_fini(sg);
        memset(sg, 0, sizeof(*sg));
        return;
    }
    for (size_t i = 0; i < sg->n; i++)
        sg->slots[sg->e[i].slot] = 0;
    sg->n = 0;
}

gs_err_t gs_kpi_table_stage_bucket(gs_kpi_table_t *tab, uint64_t cell, int64_t hour,
                                   const int64_t delta[GS_KPI_NCOUNTS])
{
    gs_kpi_wkey_t h[GS_LEVEL_CITY];
    for (int level = GS_LEVEL_CELL; level <= GS_LEVEL_CITY; level++)
        h[level - 1] = (gs_kpi_wkey_t){(uint8_t)level, 0, gs_cell_scope(cell, level), hour};
    return stage_add(&tab->hours, h, GS_LEVEL_CITY, delta);
}

/*
 * Why the order is the one of adding every bucket's 63 windows in turn: a window W of level L is
 * first reached by the first bucket b whose hour at L lies in W. The (L, scope, hour) entry of
 * that hour was created by b (an earlier bucket creating it would have reached W first), and
 * entries are created bucket by bucket, level by level, so the expansion below meets W first in
 * b's entry of level L, at the position W has among b's windows of that level.
 */
gs_err_t gs_kpi_table_apply_staged(gs_kpi_table_t *tab, int tz_min)
{
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < tab->hours.n && err == GS_OK; i++) {
        const gs_kpi_staged_t *h = &tab->hours.e[i];
        gs_kpi_wkey_t w[GS_KPI_MAX_WINDOWS];
        int n = gs_kpi_scope_windows(h->w.level, h->w.scope, h->w.start, tz_min, w);
        err = stage_add(&tab->wins, w, n, h->v);
    }
    stage_clear(&tab->hours);
    for (size_t i = 0; i < tab->wins.n; i++)
        if (gs_kpi_table_add(tab, &tab->wins.e[i].w, tab->wins.e[i].v) != GS_OK) err = GS_ERR_NOMEM;
    stage_clear(&tab->wins);
    return err;
}

static double rate(int64_t num, int64_t den)
{
    return den > 0 ? (double)num / (double)den : NAN;
}

void gs_kpi_record_fill(Gridstream__V1__KpiRecord *rec, const gs_kpi_wkey_t *w, int tz_min,
                        const int64_t v[GS_KPI_NCOUNTS], uint64_t version)
{
    gridstream__v1__kpi_record__init(rec);
    rec->level = (Gridstream__V1__Level)w->level;
    rec->scope = w->scope;
    rec->window = (Gridstream__V1__WindowKind)w->kind;
    rec->window_start_ms = w->start;
    rec->window_end_ms = gs_kpi_window_end(w, tz_min);
    rec->signals = (uint64_t)v[GS_C_SIGNALS];
    rec->incidents = (uint64_t)v[GS_C_INCIDENTS];
    rec->merged = (uint64_t)v[GS_C_MERGED];
    rec->captured = (uint64_t)v[GS_C_CAPTURED];
    rec->filed = (uint64_t)v[GS_C_FILED];
    rec->rejected = (uint64_t)v[GS_C_REJECTED];
    rec->rectified = (uint64_t)v[GS_C_RECTIFIED];
    rec->rectified_on_time = (uint64_t)v[GS_C_ON_TIME];
    rec->closed = (uint64_t)v[GS_C_CLOSED];
    rec->reworked = (uint64_t)v[GS_C_REWORKED];
    rec->capture_rate = rate(v[GS_C_CAPTURED], v[GS_C_INCIDENTS]);
    rec->filing_rate = rate(v[GS_C_FILED], v[GS_C_INCIDENTS]);
    rec->rectification_rate = rate(v[GS_C_RECTIFIED], v[GS_C_FILED]);
    rec->timely_rate = rate(v[GS_C_ON_TIME], v[GS_C_FILED]);
    rec->version = version;
}

size_t gs_kpi_record_pack(const gs_kpi_wkey_t *w, int tz_min, const int64_t v[GS_KPI_NCOUNTS],
                          uint64_t version, uint8_t out[GS_KPI_RECORD_MAX])
{
    uint8_t *o = out;
    /* enums are int32 on the wire: a negative one is sign-extended to ten bytes */
    o = gs_pb_vfield(o, 1, (uint64_t)(int64_t)(int32_t)w->level);
    o = gs_pb_vfield(o, 2, w->scope);
    o = gs_pb_vfield(o, 3, (uint64_t)(int64_t)(int32_t)w->kind);
    o = gs_pb_vfield(o, 4, (uint64_t)w->start);
    o = gs_pb_vfield(o, 5, (uint64_t)gs_kpi_window_end(w, tz_min));
    for (unsigned i = 0; i < GS_KPI_NCOUNTS; i++)
        o = gs_pb_vfield(o, 6 + i, (uint64_t)v[i]);
    o = gs_pb_dfield(o, 16, rate(v[GS_C_CAPTURED], v[GS_C_INCIDENTS]));
    o = gs_pb_dfield(o, 17, rate(v[GS_C_FILED], v[GS_C_INCIDENTS]));
    o = gs_pb_dfield(o, 18, rate(v[GS_C_RECTIFIED], v[GS_C_FILED]));
    o = gs_pb_dfield(o, 19, rate(v[GS_C_ON_TIME], v[GS_C_FILED]));
    o = gs_pb_vfield(o, 20, version);
    return (size_t)(o - out);
}

typedef struct restore_ctx {
    gs_kpi_table_t *tab;
    gs_err_t err;
} restore_ctx_t;

static bool restore_one(void *ctx, const void *key, size_t klen, void *val, size_t vlen)
{
    restore_ctx_t *r = ctx;
    const gs_kpi_win_t *win = val;
    if (klen != GS_KPI_WKEY_LEN || vlen < sizeof(*win)) return true;
    gs_kpi_table_t *tab = r->tab;
    if (win->changed && push_key(&tab->changed, &tab->nchanged, &tab->cchanged, key) != GS_OK)
        r->err = GS_ERR_NOMEM;
    else if (!win->changed && win->pending &&
             push_key(&tab->pending, &tab->npending, &tab->cpending, key) != GS_OK)
        r->err = GS_ERR_NOMEM;
    return r->err == GS_OK;
}

gs_err_t gs_kpi_table_restore(gs_kpi_table_t *tab)
{
    restore_ctx_t r = {tab, GS_OK};
    tab->nchanged = tab->npending = 0;
    gs_store_scan(tab->st, tab->ns, NULL, 0, restore_one, &r);
    return r.err;
}

static bool is_due(const gs_kpi_wkey_t *w, int64_t wm, const gs_params_t *p)
{
    int64_t end = gs_kpi_window_end(w, p->tz_offset_minutes);
    return wm != GS_TIME_MIN && wm > end + p->kpi_grace_ms;
}

static gs_err_t emit(gs_kpi_win_t *win, const gs_kpi_wkey_t *w, const gs_params_t *p,
                     const gs_sink_t *sink)
{
    if (win->v[GS_C_INCIDENTS] < 1) return GS_OK;
    uint8_t val[GS_KPI_RECORD_MAX];
    size_t vlen = gs_kpi_record_pack(w, p->tz_offset_minutes, win->v, ++win->version, val);
    char key[96];
    char *q = gs_fmt_u64(key, w->level); /* "<level>:<scope>:<window>:<start>" */
    *q++ = ':';
    q = gs_fmt_u64(q, w->scope);
    *q++ = ':';
    q = gs_fmt_u64(q, w->kind);
    *q++ = ':';
    q = gs_fmt_i64(q, w->start);
    sink->emit(sink->ctx, GS_OUT_KPI, key, (size_t)(q - key), val, vlen);
    return GS_OK;
}

gs_err_t gs_kpi_table_flush(gs_kpi_table_t *tab, int64_t wm, const gs_params_t *p,
                            const gs_sink_t *sink, gs_kpi_publish_fn publish, void *ctx)
{
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < tab->nchanged; i++) {
        gs_kpi_win_t *win =
            gs_store_update(tab->st, tab->ns, tab->changed[i], GS_KPI_WKEY_LEN, NULL);
        if (!win) continue;
        win->changed = 0;
        gs_kpi_wkey_t w;
        gs_kpi_wkey_unpack(tab->changed[i], &w);
        if (publish && w.level != GS_LEVEL_CELL) {
            publish(ctx, &w, win->v);
        } else if (win->pending) {
            /* already waiting: the pending pass below emits it once due */
        } else if (is_due(&w, wm, p)) {
            if (emit(win, &w, p, sink) != GS_OK) err = GS_ERR_NOMEM;
        } else {
            win->pending = 1;
            if (push_key(&tab->pending, &tab->npending, &tab->cpending, tab->changed[i]) != GS_OK)
                err = GS_ERR_NOMEM;
        }
    }
    tab->nchanged = 0;
    size_t keep = 0;
    for (size_t i = 0; i < tab->npending; i++) {
        gs_kpi_wkey_t w;
        gs_kpi_wkey_unpack(tab->pending[i], &w);
        gs_kpi_win_t *win = NULL;
        if (is_due(&w, wm, p))
            win = gs_store_update(tab->st, tab->ns, tab->pending[i], GS_KPI_WKEY_LEN, NULL);
        if (!win) {
            if (keep != i) memcpy(tab->pending[keep], tab->pending[i], GS_KPI_WKEY_LEN);
            keep++;
            continue;
        }
        win->pending = 0;
        if (emit(win, &w, p, sink) != GS_OK) err = GS_ERR_NOMEM;
    }
    tab->npending = keep;
    return err;
}
