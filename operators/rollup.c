/*
 * rollup.c - the cross-task aggregator of rollup.h.
 *
 * Partials are cumulative, so the rollup stores the latest one per (key, source) in
 * GS_NS_ROLL_PART and moves the sum by the difference to the previous one: a partial received twice
 * changes nothing. KPI sums live in a gs_kpi_table_t (GS_NS_KPI_WINDOW) and follow the KPI emission
 * rule with the rollup's watermark, the minimum over all sources. Scorecard sums live in
 * GS_NS_ROLL_SUM; GS_NS_ROLL_META remembers the (city, month) pairs that have incidents, whether
 * each has been emitted, and each district's fail streak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpi.h"
#include "rollup.h"
#include "scorecard.h"
#include "task_int.h"
#include "timeutil.h"

#define PART_KEY_MAX (1 + 4 + 13 + GS_DEPT_MAX)

struct gs_rollup {
    const gs_params_t *p;
    uint32_t nsources;
    int64_t *src_wm;
    gs_store_t *st;
    gs_sink_t sink;
    gs_kpi_table_t sums;
    uint64_t scorecards;
    gs_err_t oom;
};

typedef struct sum_val {
    int64_t v[GS_KPI_NCOUNTS];
} sum_val_t;

typedef struct month_val {
    uint8_t done;
} month_val_t;

typedef struct streak_val {
    int32_t last_month;
    uint32_t streak;
} streak_val_t;

gs_rollup_t *gs_rollup_new(const gs_params_t *p, uint32_t nsources, gs_store_t *st,
                           const gs_sink_t *sink)
{
    gs_rollup_t *r = calloc(1, sizeof(*r));
    if (!r) goto fail;
    r->src_wm = malloc(nsources * sizeof(int64_t));
    r->st = st ? st : gs_store_new();
    if (!r->src_wm || !r->st) goto fail;
    for (uint32_t i = 0; i < nsources; i++)
        r->src_wm[i] = GS_TIME_MIN;
    r->p = p;
    r->nsources = nsources;
    r->sink = *sink;
    gs_kpi_table_init(&r->sums, r->st, GS_NS_KPI_WINDOW);
    return r;
fail:
    if (r) {
        free(r->src_wm);
        if (!st) gs_store_destroy(r->st);
        free(r);
    }
    return NULL;
}

void gs_rollup_destroy(gs_rollup_t *r)
{
    if (!r) return;
    gs_kpi_table_fini(&r->sums);
    gs_store_destroy(r->st);
    free(r->src_wm);
    free(r);
}

gs_store_t *gs_rollup_store(gs_rollup_t *r)
{
    return r->st;
}

uint64_t gs_rollup_scorecards(const gs_rollup_t *r)
{
    return r->scorecards;
}

gs_err_t gs_rollup_restored(gs_rollup_t *r)
{
    for (uint32_t i = 0; i < r->nsources; i++) {
        uint8_t wk[5];
        wk[0] = 'W';
        gs_put_be32(wk + 1, i);
        size_t n = 0;
        const int64_t *wm = gs_store_get(r->st, GS_NS_ROLL_META, wk, 5, &n);
        r->src_wm[i] = wm && n == sizeof(*wm) ? *wm : GS_TIME_MIN;
    }
    return gs_kpi_table_restore(&r->sums);
}

int64_t gs_rollup_watermark(const gs_rollup_t *r)
{
    int64_t wm = GS_TIME_MAX;
    for (uint32_t i = 0; i < r->nsources; i++)
        if (r->src_wm[i] < wm) wm = r->src_wm[i];
    return wm;
}

/* The partial's key without the source: the key of its sum. */
static size_t sum_key(const gs_partial_t *part, uint8_t *k)
{
    k[0] = (uint8_t)part->kind;
    if (part->kind == GS_PART_KPI) {
        gs_kpi_wkey_pack(&part->w, k + 1);
        return 1 + GS_KPI_WKEY_LEN;
    }
    gs_put_be64(k + 1, part->city);
    gs_put_be32(k + 9, (uint32_t)part->month);
    if (part->kind == GS_PART_DISTRICT) {
        gs_put_be64(k + 13, part->district);
        return 21;
    }
    size_t dl = part->dept_len > GS_DEPT_MAX ? GS_DEPT_MAX : part->dept_len;
    memcpy(k + 13, part->dept, dl);
    return 13 + dl;
}

void gs_rollup_add(gs_rollup_t *r, const gs_partial_t *part)
{
    if (part->source >= r->nsources) return;
    if (part->kind == GS_PART_WATERMARK) {
        if (part->wm > r->src_wm[part->source]) {
            r->src_wm[part->source] = part->wm;
            /* persisted, so that a restored rollup knows how far every source has come */
            uint8_t wk[5];
            wk[0] = 'W';
            gs_put_be32(wk + 1, part->source);
            if (!gs_store_put(r->st, GS_NS_ROLL_META, wk, 5, &part->wm, sizeof(part->wm)))
                r->oom = GS_ERR_NOMEM;
        }
        return;
    }
    uint8_t sk[PART_KEY_MAX], pk[PART_KEY_MAX + 4];
    size_t skl = sum_key(part, sk);
    /* partial key: source first so that one source's partials are one range */
    gs_put_be32(pk, part->source);
    memcpy(pk + 4, sk, skl);
    size_t pkl = skl + 4;
    int64_t delta[GS_KPI_NCOUNTS];
    sum_val_t *prev = gs_store_upsert(r->st, GS_NS_ROLL_PART, pk, pkl, sizeof(*prev), NULL);
    if (!prev) {
        r->oom = GS_ERR_NOMEM;
        return;
    }
    for (int i = 0; i < GS_KPI_NCOUNTS; i++) {
        delta[i] = part->v[i] - prev->v[i];
        prev->v[i] = part->v[i];
    }
    bool unchanged = true;
    for (int i = 0; i < GS_KPI_NCOUNTS; i++)
        unchanged = unchanged && delta[i] == 0;
    if (unchanged) return; /* a partial seen before: nothing moves, nothing is re-emitted */
    if (part->kind == GS_PART_KPI) {
        if (gs_kpi_table_add(&r->sums, &part->w, delta) != GS_OK) r->oom = GS_ERR_NOMEM;
        return;
    }
    sum_val_t *sum = gs_store_upsert(r->st, GS_NS_ROLL_SUM, sk, skl, sizeof(*sum), NULL);
    if (!sum) {
        r->oom = GS_ERR_NOMEM;
        return;
    }
    for (int i = 0; i < GS_KPI_NCOUNTS; i++)
        sum->v[i] += delta[i];
    if (part->kind == GS_PART_DISTRICT) {
        uint8_t mk[13];
        mk[0] = 'M';
        memcpy(mk + 1, sk + 1, 12);
        if (!gs_store_get(r->st, GS_NS_ROLL_META, mk, 13, NULL))
            if (!gs_store_put(r->st, GS_NS_ROLL_META, mk, 13, NULL, sizeof(month_val_t)))
                r->oom = GS_ERR_NOMEM;
    }
}

/* ---- scorecards -------------------------------------------------------------------------------
 */

typedef struct due_month {
    uint64_t city;
    int32_t month;
} due_month_t;

typedef struct collect {
    gs_rollup_t *r;
    int64_t wm;
    due_month_t *due;
    size_t n, cap;
    gs_district_counts_t *d;
    size_t nd, cd;
    gs_dept_counts_t *dp;
    size_t ndp, cdp;
    char *names; /* department names, NUL-separated */
    size_t nlen, ncap;
    bool oom;
} collect_t;

static int64_t month_e(const gs_params_t *p, int32_t month)
{
    return gs_time_month_start(month + 1, p->tz_offset_minutes) + p->score_grace_ms;
}

static bool collect_due(void *ctx, const void *key, size_t klen, void *val, size_t vlen)
{
    collect_t *c = ctx;
    const uint8_t *k = key;
    const month_val_t *mv = val;
    if (klen != 13 || k[0] != 'M' || mv->done) return true;
    int32_t month = (int32_t)gs_get_be32(k + 9);
    if (!(c->wm > month_e(c->r->p, month))) return true;
    if (!GS_RESERVE(c->due, c->cap, c->n + 1)) {
        c->oom = true;
        return false;
    }
    c->due[c->n++] = (due_month_t){gs_get_be64(k + 1), month};
    return true;
}

static int due_cmp(const void *a, const void *b)
{
    const due_month_t *x = a, *y = b;
    if (x->month != y->month) return x->month < y->month ? -1 : 1;
    return (x->city > y->city) - (x->city < y->city);
}

static bool collect_rows(void *ctx, const void *key, size_t klen, void *val, size_t vlen)
{
    collect_t *c = ctx;
    const uint8_t *k = key;
    const sum_val_t *s = val;
    if (k[0] == GS_PART_DISTRICT) {
        if (!GS_RESERVE(c->d, c->cd, c->nd + 1)) {
            c->oom = true;
            return false;
        }
        gs_district_counts_t *d = &c->d[c->nd++];
        memset(d, 0, sizeof(*d));
        d->district = gs_get_be64(k + 13);
        d->incidents = (uint64_t)s->v[0];
        d->captured = (uint64_t)s->v[1];
        d->filed = (uint64_t)s->v[2];
        d->due = (uint64_t)s->v[3];
        d->rectified = (uint64_t)s->v[4];
        d->rectified_on_time = (uint64_t)s->v[5];
        d->reworked = (uint64_t)s->v[6];
    } else if (k[0] == GS_PART_DEPARTMENT && s->v[0] > 0) {
        size_t nl = klen - 13;
        if (!GS_RESERVE(c->dp, c->cdp, c->ndp + 1) ||
            !GS_RESERVE(c->names, c->ncap, c->nlen + nl + 1)) {
            c->oom = true;
            return false;
        }
        memcpy(c->names + c->nlen, k + 13, nl);
        c->names[c->nlen + nl] = 0;
        /* name pointers are fixed up after the scan: the buffer may still move */
        c->dp[c->ndp++] = (gs_dept_counts_t){(const char *)(uintptr_t)c->nlen, (uint64_t)s->v[0],
                                             (uint64_t)s->v[1]};
        c->nlen += nl + 1;
    }
    return true;
}

static gs_err_t evaluate(gs_rollup_t *r, collect_t *c, uint64_t city, int32_t month)
{
    const gs_params_t *p = r->p;
    c->nd = c->ndp = c->nlen = 0;
    uint8_t prefix[13];
    gs_put_be64(prefix + 1, city);
    gs_put_be32(prefix + 9, (uint32_t)month);
    prefix[0] = GS_PART_DISTRICT;
    gs_store_scan(r->st, GS_NS_ROLL_SUM, prefix, 13, collect_rows, c);
    prefix[0] = GS_PART_DEPARTMENT;
    gs_store_scan(r->st, GS_NS_ROLL_SUM, prefix, 13, collect_rows, c);
    if (c->oom) return GS_ERR_NOMEM;
    for (size_t i = 0; i < c->ndp; i++)
        c->dp[i].name = c->names + (uintptr_t)c->dp[i].name;
    for (size_t i = 0; i < c->nd; i++) {
        uint8_t hk[9];
        hk[0] = 'H';
        gs_put_be64(hk + 1, c->d[i].district);
        const streak_val_t *sv = gs_store_get(r->st, GS_NS_ROLL_META, hk, 9, NULL);
        c->d[i].prev_consecutive_fails = sv && sv->last_month == month - 1 ? sv->streak : 0;
    }
    gs_scorecard_t *sc =
        gs_scorecard_build(p, city, month, month_e(p, month), c->d, c->nd, c->dp, c->ndp);
    if (!sc) return GS_ERR_NOMEM;
    for (size_t i = 0; i < sc->msg.n_districts; i++) {
        uint8_t hk[9];
        hk[0] = 'H';
        gs_put_be64(hk + 1, sc->msg.districts[i]->district);
        streak_val_t sv = {month, sc->msg.districts[i]->consecutive_fails};
        if (!gs_store_put(r->st, GS_NS_ROLL_META, hk, 9, &sv, sizeof(sv))) r->oom = GS_ERR_NOMEM;
    }
    char key[40];
    char label[8];
    gs_time_month_label(month, label);
    snprintf(key, sizeof(key), "%llu:%s", (unsigned long long)city, label);
    gs_err_t err = gs_sink_emit_msg(&r->sink, GS_OUT_SCORECARDS, key, &sc->msg.base);
    gs_scorecard_destroy(sc);
    r->scorecards++;
    return err;
}

gs_err_t gs_rollup_flush(gs_rollup_t *r)
{
    int64_t wm = gs_rollup_watermark(r);
    gs_err_t err = gs_kpi_table_flush(&r->sums, wm, r->p, &r->sink, NULL, NULL);
    collect_t c = {.r = r, .wm = wm};
    gs_store_scan(r->st, GS_NS_ROLL_META, "M", 1, collect_due, &c);
    if (c.n) qsort(c.due, c.n, sizeof(*c.due), due_cmp);
    for (size_t i = 0; i < c.n && !c.oom; i++) {
        gs_err_t e = evaluate(r, &c, c.due[i].city, c.due[i].month);
        if (e != GS_OK) err = e;
        uint8_t mk[13];
        mk[0] = 'M';
        gs_put_be64(mk + 1, c.due[i].city);
        gs_put_be32(mk + 9, (uint32_t)c.due[i].month);
        month_val_t *mv = gs_store_update(r->st, GS_NS_ROLL_META, mk, 13, NULL);
        if (mv) mv->done = 1;
    }
    if (c.oom) err = GS_ERR_NOMEM;
    free(c.due);
    free(c.d);
    free(c.dp);
    free(c.names);
    if (r->oom != GS_OK) {
        err = r->oom;
        r->oom = GS_OK;
    }
    return err;
}
