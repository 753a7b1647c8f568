/*
 * test_rollup.c - unit tests of operators/rollup.c (DESIGN.md "Rollups and scorecards", SPEC §7,
 * §9, §11): the rollup fed directly with gs_partial_t values and a capture sink. Sums over source
 * tasks, idempotence of cumulative partials, replacement by a newer partial, the KPI emission rule
 * with the watermark = min over ALL sources (a silent source holds everything back), the scorecard
 * of (city, month) emitted once when every source's watermark is past E (strict), district rows
 * from summed district partials, departments from department partials, fail streaks across
 * consecutive months, a gap month resetting a streak, and months evaluated in order.
 *
 * Expected values are computed by hand from SPEC's defaults. Local-time anchors (UTC+8), UTC ms:
 *   2024-03-10 00:00 = 1 710 000 000 000 (DAY window [.., + 86 400 000))
 *   2024-01-01 00:00 = 1 704 038 400 000   2024-02-01 00:00 = 1 706 716 800 000
 *   2024-03-01 00:00 = 1 709 222 400 000
 * E (= local end of month + 7 d): Dec 2023 1 704 643 200 000, Jan 2024 1 707 321 600 000,
 * Feb 2024 1 709 827 200 000.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codes.h"
#include "kpi.h"
#include "rollup.h"
#include "testkit.h"

#define H GS_HOUR_MS
#define D GS_DAY_MS
#define MIN GS_MINUTE_MS

#define L_2024_03_10 INT64_C(1710000000000)
#define DAY_END (L_2024_03_10 + D) /* 1 710 086 400 000 */
#define DUE_AT (DAY_END + 5 * MIN) /* the watermark must be > this */

#define CITY UINT64_C(4409)
#define CITY2 UINT64_C(4401)
#define DX UINT64_C(440902)
#define DY UINT64_C(440903)
#define DZ UINT64_C(440904)

#define M_2023_12 (2023 * 12 + 11)
#define M_2024_01 (2024 * 12 + 0)
#define M_2024_02 (2024 * 12 + 1)
#define E_2023_12 INT64_C(1704643200000)
#define E_2024_01 INT64_C(1707321600000)
#define E_2024_02 INT64_C(1709827200000)

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-9)

typedef struct fixture {
    gs_params_t p;
    tk_capture_t cap;
    gs_sink_t sink;
    gs_rollup_t *r;
} fixture_t;

static fixture_t *fx_new(uint32_t nsources)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    gs_params_defaults(&f->p);
    tk_capture_init(&f->cap);
    f->sink = tk_capture_sink(&f->cap);
    f->r = gs_rollup_new(&f->p, nsources, NULL, &f->sink);
    assert_non_null(f->r);
    return f;
}

static void fx_free(fixture_t *f)
{
    gs_rollup_destroy(f->r);
    tk_capture_fini(&f->cap);
    free(f);
}

static int teardown(void **state)
{
    if (*state) fx_free(*state);
    *state = NULL;
    return 0;
}

static void flush(fixture_t *f)
{
    assert_int_equal(gs_rollup_flush(f->r), GS_OK);
}

static gs_kpi_wkey_t district_day(void)
{
    gs_kpi_wkey_t w = {GS_LEVEL_DISTRICT, GS_WIN_DAY, DX, L_2024_03_10};
    return w;
}

/* KPI counts in KpiRecord order: signals incidents merged captured filed rejected rectified
 * rectified_on_time closed reworked. */
static void add_kpi(fixture_t *f, uint32_t src, gs_kpi_wkey_t w, const int64_t v[GS_KPI_NCOUNTS])
{
    gs_partial_t p;
    memset(&p, 0, sizeof(p));
    p.kind = GS_PART_KPI;
    p.source = src;
    p.w = w;
    memcpy(p.v, v, sizeof(p.v));
    gs_rollup_add(f->r, &p);
}

static void add_wm(fixture_t *f, uint32_t src, int64_t wm)
{
    gs_partial_t p;
    memset(&p, 0, sizeof(p));
    p.kind = GS_PART_WATERMARK;
    p.source = src;
    p.wm = wm;
    gs_rollup_add(f->r, &p);
}

/* District counts: incidents captured filed due rectified rectified_on_time reworked. */
static void add_district(fixture_t *f, uint32_t src, uint64_t city, int32_t month,
                         uint64_t district, const int64_t c[GS_SCORE_NCOUNTS])
{
    gs_partial_t p;
    memset(&p, 0, sizeof(p));
    p.kind = GS_PART_DISTRICT;
    p.source = src;
    p.city = city;
    p.month = month;
    p.district = district;
    memcpy(p.v, c, GS_SCORE_NCOUNTS * sizeof(int64_t));
    gs_rollup_add(f->r, &p);
}

static void add_dept(fixture_t *f, uint32_t src, uint64_t city, int32_t month, const char *name,
                     int64_t assigned, int64_t on_time)
{
    gs_partial_t p;
    memset(&p, 0, sizeof(p));
    p.kind = GS_PART_DEPARTMENT;
    p.source = src;
    p.city = city;
    p.month = month;
    p.dept = name;
    p.dept_len = strlen(name);
    p.v[0] = assigned;
    p.v[1] = on_time;
    gs_rollup_add(f->r, &p);
}

static size_t kpi_count_from(const tk_capture_t *c, const char *key, size_t from)
{
    size_t k = 0;
    for (size_t i = from; i < c->n; i++)
        k += c->r[i].topic == GS_OUT_KPI && strcmp(c->r[i].key, key) == 0;
    return k;
}

static const Gridstream__V1__Scorecard *scorecard(const tk_capture_t *c, const char *key)
{
    const tk_rec_t *r = tk_last(c, GS_OUT_SCORECARDS, key);
    return r ? (const Gridstream__V1__Scorecard *)r->msg : NULL;
}

static const Gridstream__V1__DistrictScore *row(const Gridstream__V1__Scorecard *sc, uint64_t d)
{
    for (size_t i = 0; i < sc->n_districts; i++)
        if (sc->districts[i]->district == d) return sc->districts[i];
    return NULL;
}

#define KEY_DAY "4:440902:2:1710000000000"

/* Source 0 and source 1 of the DISTRICT DAY window 440902 / 2024-03-10; their sum. */
static const int64_t S0[GS_KPI_NCOUNTS] = {5, 3, 2, 2, 2, 0, 1, 1, 1, 0};
static const int64_t S1[GS_KPI_NCOUNTS] = {2, 2, 0, 1, 2, 1, 2, 1, 0, 1};

static void assert_sum_s0_s1(const Gridstream__V1__KpiRecord *k)
{
    assert_non_null(k);
    assert_int_equal(k->signals, 7);
    assert_int_equal(k->incidents, 5);
    assert_int_equal(k->merged, 2);
    assert_int_equal(k->captured, 3);
    assert_int_equal(k->filed, 4);
    assert_int_equal(k->rejected, 1);
    assert_int_equal(k->rectified, 3);
    assert_int_equal(k->rectified_on_time, 2);
    assert_int_equal(k->closed, 1);
    assert_int_equal(k->reworked, 1);
    assert_near(k->capture_rate, 0.6);
    assert_near(k->filing_rate, 0.8);
    assert_near(k->rectification_rate, 0.75);
    assert_near(k->timely_rate, 0.5);
}

/* ---- KPI sums -------------------------------------------------------------------------------- */

/* A flush with nothing due (no partial at all, then counts but no watermark) emits nothing. */
static void test_flush_with_nothing_due(void **state)
{
    fixture_t *f = *state = fx_new(2);
    flush(f);
    add_kpi(f, 0, district_day(), S0);
    flush(f);
    add_wm(f, 0, DUE_AT + 1);
    add_wm(f, 1, DUE_AT - 1);
    flush(f);
    assert_int_equal(f->cap.n, 0);
    assert_int_equal(gs_rollup_scorecards(f->r), 0);
}

static void test_kpi_sums_over_sources(void **state)
{
    fixture_t *f = *state = fx_new(2);
    add_kpi(f, 0, district_day(), S0);
    add_kpi(f, 1, district_day(), S1);
    add_wm(f, 0, DUE_AT + 1);
    add_wm(f, 1, DUE_AT + H);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 1);
    const Gridstream__V1__KpiRecord *k = tk_kpi(&f->cap, KEY_DAY);
    assert_sum_s0_s1(k);
    assert_int_equal(k->level, GRIDSTREAM__V1__LEVEL__DISTRICT);
    assert_true(k->scope == DX);
    assert_int_equal(k->window, GRIDSTREAM__V1__WINDOW_KIND__DAY);
    assert_true(k->window_start_ms == L_2024_03_10);
    assert_true(k->window_end_ms == DAY_END);
    assert_int_equal(k->version, 1);
    /* nothing changed: a second flush emits nothing */
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 1);
    assert_int_equal(gs_rollup_scorecards(f->r), 0);
}

/* The same cumulative partial delivered twice changes no sum. */
static void test_kpi_duplicate_partial_is_harmless(void **state)
{
    fixture_t *f = *state = fx_new(2);
    add_kpi(f, 0, district_day(), S0);
    add_kpi(f, 0, district_day(), S0);
    add_kpi(f, 1, district_day(), S1);
    add_kpi(f, 0, district_day(), S0);
    add_wm(f, 0, DUE_AT + 1);
    add_wm(f, 1, DUE_AT + 1);
    add_wm(f, 1, DUE_AT + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 1);
    assert_sum_s0_s1(tk_kpi(&f->cap, KEY_DAY));
    assert_int_equal(tk_kpi(&f->cap, KEY_DAY)->version, 1);

    /* replayed after the emission: the table value (latest per key) keeps the same counts */
    add_kpi(f, 1, district_day(), S1);
    add_kpi(f, 0, district_day(), S0);
    flush(f);
    assert_sum_s0_s1(tk_kpi(&f->cap, KEY_DAY));
}

/*
 * A duplicate delivered after the window was emitted moves no count, so nothing is re-emitted
 * (SPEC §7: re-emitted, version + 1, when its counts change; rollup.h: "a replayed or duplicated
 * partial changes nothing"). The task's own CELL windows behave so (test_kpi.c).
 */
static void test_kpi_duplicate_partial_not_reemitted(void **state)
{
    fixture_t *f = *state = fx_new(2);
    add_kpi(f, 0, district_day(), S0);
    add_kpi(f, 1, district_day(), S1);
    add_wm(f, 0, DUE_AT + 1);
    add_wm(f, 1, DUE_AT + 1);
    flush(f);
    assert_int_equal(tk_count_key(&f->cap, GS_OUT_KPI, KEY_DAY), 1);
    size_t mark = f->cap.n;
    add_kpi(f, 0, district_day(), S0);
    flush(f);
    assert_int_equal(kpi_count_from(&f->cap, KEY_DAY, mark), 0);
    assert_int_equal(tk_kpi(&f->cap, KEY_DAY)->version, 1);
}

/* A newer cumulative partial from a source replaces its older one: the sum moves by the delta. */
static void test_kpi_newer_partial_replaces_older(void **state)
{
    fixture_t *f = *state = fx_new(2);
    add_kpi(f, 0, district_day(), S0);
    add_kpi(f, 1, district_day(), S1);
    add_wm(f, 0, DUE_AT + 1);
    add_wm(f, 1, DUE_AT + 1);
    flush(f);
    assert_int_equal(tk_kpi(&f->cap, KEY_DAY)->incidents, 5);

    /* source 0 now has one more incident (signal 6, captured 3) and one more filed */
    const int64_t s0b[GS_KPI_NCOUNTS] = {6, 4, 2, 3, 3, 0, 1, 1, 1, 0};
    add_kpi(f, 0, district_day(), s0b);
    flush(f);
    const Gridstream__V1__KpiRecord *k = tk_kpi(&f->cap, KEY_DAY);
    assert_int_equal(k->version, 2);
    assert_int_equal(k->signals, 8);
    assert_int_equal(k->incidents, 6);
    assert_int_equal(k->merged, 2);
    assert_int_equal(k->captured, 4);
    assert_int_equal(k->filed, 5);
    assert_int_equal(k->rectified, 3);
    assert_near(k->capture_rate, 4.0 / 6.0);
    assert_near(k->timely_rate, 2.0 / 5.0);
    assert_int_equal(tk_count_key(&f->cap, GS_OUT_KPI, KEY_DAY), 2);

    /* an older partial of the same source arriving late is a replacement too (latest wins) */
    add_kpi(f, 0, district_day(), S0);
    flush(f);
    assert_sum_s0_s1(tk_kpi(&f->cap, KEY_DAY));
    assert_int_equal(tk_kpi(&f->cap, KEY_DAY)->version, 3);
}

/* Due only when the minimum watermark over all sources is > end + 5 min (strict). */
static void test_kpi_min_watermark_over_all_sources(void **state)
{
    fixture_t *f = *state = fx_new(3);
    add_kpi(f, 0, district_day(), S0);
    add_kpi(f, 2, district_day(), S1);
    add_wm(f, 0, DUE_AT + 30 * D);
    add_wm(f, 1, DUE_AT + 30 * D); /* source 1 has no counts for this window, still counts */
    add_wm(f, 2, DUE_AT - 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 0);
    add_wm(f, 2, DUE_AT); /* min = end + grace exactly: not past */
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 0);
    add_wm(f, 2, DUE_AT + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 1);
    assert_sum_s0_s1(tk_kpi(&f->cap, KEY_DAY));

    /* a pending window changed while waiting is emitted once, with the newest sums */
    fixture_t *g = fx_new(2);
    add_kpi(g, 0, district_day(), S0);
    add_wm(g, 0, DUE_AT + 1);
    flush(g); /* source 1 has not reported: wm = -inf */
    add_kpi(g, 1, district_day(), S1);
    add_wm(g, 1, DUE_AT);
    flush(g);
    assert_int_equal(tk_count(&g->cap, GS_OUT_KPI), 0);
    add_wm(g, 1, DUE_AT + 1);
    flush(g);
    assert_int_equal(tk_count(&g->cap, GS_OUT_KPI), 1);
    assert_sum_s0_s1(tk_kpi(&g->cap, KEY_DAY));
    assert_int_equal(tk_kpi(&g->cap, KEY_DAY)->version, 1);
    fx_free(g);
}

static void copy_entry(void *ctx, gs_ns_t ns, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    if (val) assert_non_null(gs_store_put(ctx, ns, key, klen, val, vlen));
}

/*
 * Restore (what the engine does after a crash): every persisted entry put into a fresh store, a
 * new rollup over it, gs_rollup_restored. The sources' watermarks and the pending window come
 * back: the window is emitted once the last source passes, with the sums from before the crash.
 */
static void test_restored_rollup_continues(void **state)
{
    fixture_t *f = *state = fx_new(2);
    add_kpi(f, 0, district_day(), S0);
    add_kpi(f, 1, district_day(), S1);
    add_wm(f, 0, DUE_AT + 1);
    add_wm(f, 1, DUE_AT);
    flush(f); /* pending: source 1 is not past */
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 0);
    gs_store_t *copy = gs_store_new();
    assert_non_null(copy);
    gs_store_flush(gs_rollup_store(f->r), copy_entry, copy);
    gs_store_flush(copy, NULL, NULL);
    gs_rollup_destroy(f->r);
    f->r = gs_rollup_new(&f->p, 2, copy, &f->sink);
    assert_non_null(f->r);
    assert_int_equal(gs_rollup_restored(f->r), GS_OK);
    assert_int_equal(gs_rollup_watermark(f->r), DUE_AT); /* min over both restored sources */
    add_wm(f, 1, DUE_AT + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 1);
    assert_sum_s0_s1(tk_kpi(&f->cap, KEY_DAY));
    /* a restored duplicate partial still changes nothing */
    add_kpi(f, 0, district_day(), S0);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 1);
}

/* A window whose summed incidents are 0 is never emitted. */
static void test_kpi_window_without_incidents_not_emitted(void **state)
{
    fixture_t *f = *state = fx_new(1);
    const int64_t none[GS_KPI_NCOUNTS] = {0};
    add_kpi(f, 0, district_day(), none);
    gs_kpi_wkey_t city_hour = {GS_LEVEL_CITY, GS_WIN_HOUR, CITY, L_2024_03_10 + 3 * H};
    const int64_t one[GS_KPI_NCOUNTS] = {1, 1, 0, 1, 0, 0, 0, 0, 0, 0};
    add_kpi(f, 0, city_hour, one);
    add_wm(f, 0, DUE_AT + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 1);
    const Gridstream__V1__KpiRecord *k = tk_kpi(&f->cap, "5:4409:1:1710010800000");
    assert_non_null(k);
    assert_int_equal(k->incidents, 1);
    assert_true(k->window_end_ms == L_2024_03_10 + 4 * H);
    assert_true(isnan(k->rectification_rate)); /* filed 0 */
    assert_true(isnan(k->timely_rate));
    assert_near(k->capture_rate, 1.0);
    assert_near(k->filing_rate, 0.0);
}

/* A source that never reported a watermark holds back every KPI window and every scorecard. */
static void test_silent_source_holds_everything_back(void **state)
{
    fixture_t *f = *state = fx_new(3);
    const int64_t c[GS_SCORE_NCOUNTS] = {10, 10, 10, 10, 10, 10, 0};
    add_kpi(f, 0, district_day(), S0);
    add_kpi(f, 1, district_day(), S1);
    add_district(f, 0, CITY, M_2024_02, DX, c);
    add_wm(f, 0, E_2024_02 + 365 * D);
    add_wm(f, 1, E_2024_02 + 365 * D);
    flush(f);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 0);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 0);
    assert_int_equal(gs_rollup_scorecards(f->r), 0);
    /* source 2 reports its watermark only (no counts): both are released (E < DAY_END) */
    assert_true(E_2024_02 < DUE_AT);
    add_wm(f, 2, DUE_AT + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_KPI), 1);
    assert_sum_s0_s1(tk_kpi(&f->cap, KEY_DAY));
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 1);
    assert_non_null(scorecard(&f->cap, "4409:2024-02"));
    assert_int_equal(gs_rollup_scorecards(f->r), 1);
}

/* ---- scorecards ------------------------------------------------------------------------------ */

/*
 * February 2024, city 4409, two sources.
 * District 440902: source 0 {6,5,5,4,4,3,1} + source 1 {4,4,4,4,4,4,0} = {10,9,9,8,8,7,1}:
 *   capture .9, filing .9, rectification 8/8 = 1, timely 7/8 = .875, rework 1/8 = .125,
 *   overdue_open 0; deduction 100(.95-.875) + 0 + 0 + 100(.125-.05) + 0 = 7.5 + 7.5 = 15 -> 85 B.
 * District 440903: source 1 {10,0,10,10,0,0,0}: capture 0 -> min(20, 45) = 20, filing 1 -> 0,
 *   timely 0 -> min(40, 95) = 40, rework unset -> 0, overdue_open 10 -> 2; 62 -> 38 E, fail.
 * Departments: 城管执法局 2/2 = 1.0 rank 1; 市容环卫局 (3/2 + 1/1) = 4/3 = .75 rank 2.
 */
static void test_scorecard_emitted_once_when_all_past_e(void **state)
{
    fixture_t *f = *state = fx_new(2);
    const int64_t x0[GS_SCORE_NCOUNTS] = {6, 5, 5, 4, 4, 3, 1};
    const int64_t x1[GS_SCORE_NCOUNTS] = {4, 4, 4, 4, 4, 4, 0};
    const int64_t y1[GS_SCORE_NCOUNTS] = {10, 0, 10, 10, 0, 0, 0};
    add_district(f, 0, CITY, M_2024_02, DX, x0);
    add_district(f, 1, CITY, M_2024_02, DX, x1);
    add_district(f, 1, CITY, M_2024_02, DY, y1);
    add_dept(f, 0, CITY, M_2024_02, "市容环卫局", 3, 2);
    add_dept(f, 1, CITY, M_2024_02, "市容环卫局", 1, 1);
    add_dept(f, 0, CITY, M_2024_02, "城管执法局", 2, 2);

    add_wm(f, 0, E_2024_02);
    add_wm(f, 1, E_2024_02);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 0); /* at exactly E: not past */
    add_wm(f, 1, E_2024_02 + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 0); /* source 0 still at E */
    add_wm(f, 0, E_2024_02 + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 1);
    assert_int_equal(gs_rollup_scorecards(f->r), 1);

    const Gridstream__V1__Scorecard *sc = scorecard(&f->cap, "4409:2024-02");
    assert_non_null(sc);
    assert_true(sc->city == CITY);
    assert_string_equal(sc->month, "2024-02");
    assert_true(sc->evaluated_at_ms == E_2024_02);
    assert_int_equal(sc->n_districts, 2);

    const Gridstream__V1__DistrictScore *x = sc->districts[0];
    assert_true(x->district == DX);
    assert_int_equal(x->incidents, 10);
    assert_int_equal(x->captured, 9);
    assert_int_equal(x->filed, 9);
    assert_int_equal(x->due, 8);
    assert_int_equal(x->rectified, 8);
    assert_int_equal(x->rectified_on_time, 7);
    assert_int_equal(x->reworked, 1);
    assert_int_equal(x->overdue_open, 0);
    assert_near(x->capture_rate, 0.9);
    assert_near(x->filing_rate, 0.9);
    assert_near(x->rectification_rate, 1.0);
    assert_near(x->timely_rate, 0.875);
    assert_near(x->rework_rate, 0.125);
    assert_near(x->deduction, 15.0);
    assert_near(x->score, 85.0);
    assert_string_equal(x->grade, "B");
    assert_int_equal(x->rank, 1);
    assert_int_equal(x->reward_cny, 1000000);
    assert_false(x->fail);
    assert_int_equal(x->consecutive_fails, 0);
    assert_false(x->accountability);

    const Gridstream__V1__DistrictScore *y = sc->districts[1];
    assert_true(y->district == DY);
    assert_int_equal(y->incidents, 10);
    assert_int_equal(y->captured, 0);
    assert_int_equal(y->due, 10);
    assert_int_equal(y->rectified, 0);
    assert_int_equal(y->overdue_open, 10);
    assert_near(y->capture_rate, 0.0);
    assert_near(y->timely_rate, 0.0);
    assert_true(isnan(y->rework_rate));
    assert_near(y->deduction, 62.0);
    assert_near(y->score, 38.0);
    assert_string_equal(y->grade, "E");
    assert_int_equal(y->rank, 2);
    assert_int_equal(y->reward_cny, 600000);
    assert_true(y->fail);
    assert_int_equal(y->consecutive_fails, 1);
    assert_false(y->accountability);

    assert_int_equal(sc->n_departments, 2);
    assert_string_equal(sc->departments[0]->department, "城管执法局");
    assert_int_equal(sc->departments[0]->assigned, 2);
    assert_int_equal(sc->departments[0]->rectified_on_time, 2);
    assert_near(sc->departments[0]->timely_rate, 1.0);
    assert_int_equal(sc->departments[0]->rank, 1);
    assert_string_equal(sc->departments[1]->department, "市容环卫局");
    assert_int_equal(sc->departments[1]->assigned, 4);
    assert_int_equal(sc->departments[1]->rectified_on_time, 3);
    assert_near(sc->departments[1]->timely_rate, 0.75);
    assert_int_equal(sc->departments[1]->rank, 2);

    /* emitted once: later flushes, later watermarks and even late partials do not re-emit */
    add_district(f, 0, CITY, M_2024_02, DX, x1);
    add_wm(f, 0, E_2024_02 + 30 * D);
    add_wm(f, 1, E_2024_02 + 30 * D);
    flush(f);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 1);
    assert_int_equal(gs_rollup_scorecards(f->r), 1);
}

/*
 * Fail streaks, all three months due at one flush (so they must be evaluated in order):
 *   Dec 2023: X fail, Y fail, Z pass   -> X 1, Y 1, Z 0
 *   Jan 2024: X fail,  (no Y), Z pass  -> X 2 + accountability, Z 0
 *   Feb 2024: X pass,  Y fail, Z pass  -> X 0, Y 1 (the gap month reset it), Z 0
 * A fail row {10,0,10,10,0,0,0} scores 38 (see above); a pass row {10 x 6, 0} scores 100.
 * City 4401 also has a January scorecard (its own district 440106).
 */
static const int64_t FAIL[GS_SCORE_NCOUNTS] = {10, 0, 10, 10, 0, 0, 0};
static const int64_t PASS[GS_SCORE_NCOUNTS] = {10, 10, 10, 10, 10, 10, 0};

static void assert_streak(const Gridstream__V1__Scorecard *sc, uint64_t d, bool fail, uint32_t cf,
                          bool acc)
{
    const Gridstream__V1__DistrictScore *r = row(sc, d);
    assert_non_null(r);
    assert_int_equal(r->fail, fail);
    assert_int_equal(r->consecutive_fails, cf);
    assert_int_equal(r->accountability, acc);
}

static void test_scorecard_streaks_months_in_order(void **state)
{
    fixture_t *f = *state = fx_new(1);
    /* delivered newest month first, to show that arrival order does not matter */
    add_district(f, 0, CITY, M_2024_02, DX, PASS);
    add_district(f, 0, CITY, M_2024_02, DY, FAIL);
    add_district(f, 0, CITY, M_2024_02, DZ, PASS);
    add_district(f, 0, CITY, M_2024_01, DX, FAIL);
    add_district(f, 0, CITY, M_2024_01, DZ, PASS);
    add_district(f, 0, CITY2, M_2024_01, UINT64_C(440106), PASS);
    add_district(f, 0, CITY, M_2023_12, DX, FAIL);
    add_district(f, 0, CITY, M_2023_12, DY, FAIL);
    add_district(f, 0, CITY, M_2023_12, DZ, PASS);
    add_wm(f, 0, E_2024_02 + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 4);
    assert_int_equal(gs_rollup_scorecards(f->r), 4);

    /* emitted month by month */
    int32_t last = 0;
    for (size_t i = 0; i < 4; i++) {
        const Gridstream__V1__Scorecard *sc =
            (const Gridstream__V1__Scorecard *)tk_nth(&f->cap, GS_OUT_SCORECARDS, i)->msg;
        int y = 0, m = 0;
        assert_int_equal(sscanf(sc->month, "%d-%d", &y, &m), 2);
        assert_true(y * 12 + m - 1 >= last);
        last = y * 12 + m - 1;
    }

    const Gridstream__V1__Scorecard *dec = scorecard(&f->cap, "4409:2023-12");
    assert_non_null(dec);
    assert_true(dec->evaluated_at_ms == E_2023_12);
    assert_int_equal(dec->n_districts, 3);
    assert_near(row(dec, DX)->score, 38.0);
    assert_near(row(dec, DZ)->score, 100.0);
    assert_streak(dec, DX, true, 1, false);
    assert_streak(dec, DY, true, 1, false);
    assert_streak(dec, DZ, false, 0, false);

    const Gridstream__V1__Scorecard *jan = scorecard(&f->cap, "4409:2024-01");
    assert_non_null(jan);
    assert_true(jan->evaluated_at_ms == E_2024_01);
    assert_int_equal(jan->n_districts, 2);
    assert_null(row(jan, DY));
    assert_streak(jan, DX, true, 2, true);
    assert_streak(jan, DZ, false, 0, false);

    const Gridstream__V1__Scorecard *jan2 = scorecard(&f->cap, "4401:2024-01");
    assert_non_null(jan2);
    assert_true(jan2->city == CITY2);
    assert_int_equal(jan2->n_districts, 1);
    assert_streak(jan2, UINT64_C(440106), false, 0, false);

    const Gridstream__V1__Scorecard *feb = scorecard(&f->cap, "4409:2024-02");
    assert_non_null(feb);
    assert_true(feb->evaluated_at_ms == E_2024_02);
    assert_int_equal(feb->n_districts, 3);
    assert_streak(feb, DX, false, 0, false);
    assert_streak(feb, DY, true, 1, false); /* January had no Y row: the streak restarts */
    assert_streak(feb, DZ, false, 0, false);
    assert_null(scorecard(&f->cap, "4401:2024-02"));
    assert_null(scorecard(&f->cap, "4401:2023-12"));
}

/* The same streak built across separate flushes, each month due on its own. */
static void test_scorecard_streak_across_flushes(void **state)
{
    fixture_t *f = *state = fx_new(2);
    add_district(f, 0, CITY, M_2024_01, DX, FAIL);
    add_district(f, 1, CITY, M_2024_01, DY, PASS);
    add_wm(f, 0, E_2024_01 + 1);
    add_wm(f, 1, E_2024_01 + 1);
    /* February already has counts but is not due yet */
    add_district(f, 1, CITY, M_2024_02, DX, FAIL);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 1);
    const Gridstream__V1__Scorecard *jan = scorecard(&f->cap, "4409:2024-01");
    assert_non_null(jan);
    assert_streak(jan, DX, true, 1, false);
    assert_streak(jan, DY, false, 0, false);
    assert_int_equal(jan->districts[0]->district, DY); /* rank 1: score 100 */

    add_district(f, 0, CITY, M_2024_02, DY, FAIL);
    add_wm(f, 0, E_2024_02 + 1);
    add_wm(f, 1, E_2024_02);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 1); /* source 1 at E exactly */
    add_wm(f, 1, E_2024_02 + 1);
    flush(f);
    assert_int_equal(tk_count(&f->cap, GS_OUT_SCORECARDS), 2);
    const Gridstream__V1__Scorecard *feb = scorecard(&f->cap, "4409:2024-02");
    assert_non_null(feb);
    assert_streak(feb, DX, true, 2, true);
    assert_streak(feb, DY, true, 1, false);
    /* the summed FAIL row of X came from source 1 alone, Y's from source 0 alone */
    assert_int_equal(row(feb, DX)->incidents, 10);
    assert_int_equal(row(feb, DY)->incidents, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_flush_with_nothing_due, teardown),
        cmocka_unit_test_teardown(test_kpi_sums_over_sources, teardown),
        cmocka_unit_test_teardown(test_kpi_duplicate_partial_is_harmless, teardown),
        cmocka_unit_test_teardown(test_kpi_duplicate_partial_not_reemitted, teardown),
        cmocka_unit_test_teardown(test_kpi_newer_partial_replaces_older, teardown),
        cmocka_unit_test_teardown(test_kpi_min_watermark_over_all_sources, teardown),
        cmocka_unit_test_teardown(test_kpi_window_without_incidents_not_emitted, teardown),
        cmocka_unit_test_teardown(test_restored_rollup_continues, teardown),
        cmocka_unit_test_teardown(test_silent_source_holds_everything_back, teardown),
        cmocka_unit_test_teardown(test_scorecard_emitted_once_when_all_past_e, teardown),
        cmocka_unit_test_teardown(test_scorecard_streaks_months_in_order, teardown),
        cmocka_unit_test_teardown(test_scorecard_streak_across_flushes, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
