/*
 * test_kpi.c - unit tests of operators/kpi.c and the KPI path of a task (SPEC §7, §11 KPIs,
 * docs/SPEC-READINGS.md "KPIs"): which local HOUR / DAY / MONTH / ROLLING_24H windows contain an
 * instant at UTC+8, window ends (leap Februaries), window-key packing, then end to end through a
 * task: cohort counts, merged / captured, NaN rates, the key string, the strict emission rule
 * (end + 5 min grace), re-emission with version + 1 only on a change, and retention.
 *
 * Every expected value is computed by hand from SPEC's defaults. Local-time anchors (UTC+8) in
 * UTC ms:
 *   2024-03-10 00:00 = 1 710 000 000 000   (so 2024-03-10 23:30 = 1 710 084 600 000)
 *   2024-03-01 00:00 = 1 709 222 400 000   2024-04-01 00:00 = 1 711 900 800 000
 *   2024-05-01 00:00 = 1 714 492 800 000   2024-02-01 00:00 = 1 706 716 800 000
 *   2024-01-01 00:00 = 1 704 038 400 000   2024-01-05 00:00 = 1 704 384 000 000
 *   2023-02-01 00:00 = 1 675 180 800 000   2023-03-01 00:00 = 1 677 600 000 000
 *   2000-02-01 00:00 =   949 334 400 000   2000-03-01 00:00 =   951 840 000 000
 *   2100-02-01 00:00 = 4 105 094 400 000   2100-03-01 00:00 = 4 107 513 600 000
 *
 * In the task tests only city.reports drives the watermark (the other three partitions are marked
 * idle, tk_only_source), so watermark = (latest report time) - 5 min. "Clock" reports in a cell of
 * another city (4401) move it without touching the cell under test.
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
#include "testkit.h"

#define H GS_HOUR_MS
#define D GS_DAY_MS
#define MIN GS_MINUTE_MS
#define TZ 480

#define L_2024_03_10 INT64_C(1710000000000)
#define L_2024_03_01 INT64_C(1709222400000)
#define L_2024_04_01 INT64_C(1711900800000)
#define L_2024_05_01 INT64_C(1714492800000)
#define L_2024_02_01 INT64_C(1706716800000)
#define L_2024_01_01 INT64_C(1704038400000)
#define L_2024_01_05 INT64_C(1704384000000)

#define CELL UINT64_C(440902001002003)
#define CLOCK_CELL UINT64_C(440106001001001) /* city 4401: never in the scopes of CELL */

#define CH_INSPECTOR 1
#define CH_DRONE 4
#define CH_HOTLINE 7
#define CH_CITIZEN_APP 8
#define CH_SUPERIOR 9

#define ST_FILED 1
#define ST_DISPATCHED 3
#define ST_RECTIFIED 4
#define ST_VERIFIED 5

/* ---- helpers --------------------------------------------------------------------------------- */

static gs_kpi_wkey_t wk(int level, int kind, uint64_t scope, int64_t start)
{
    gs_kpi_wkey_t w = {(uint8_t)level, (uint8_t)kind, scope, start};
    return w;
}

static bool wk_eq(const gs_kpi_wkey_t *a, const gs_kpi_wkey_t *b)
{
    return a->level == b->level && a->kind == b->kind && a->scope == b->scope &&
           a->start == b->start;
}

/* The wire key "<level>:<scope>:<window>:<start>" of a window. */
static const char *kkey(int level, uint64_t scope, int kind, int64_t start)
{
    static char buf[4][96];
    static int i;
    char *b = buf[i++ & 3];
    snprintf(b, 96, "%d:%llu:%d:%lld", level, (unsigned long long)scope, kind, (long long)start);
    return b;
}

/* A harness whose watermark follows city.reports alone. */
static void harness(tk_harness_t *h)
{
    tk_harness_init(h);
    tk_only_source(h, GS_SRC_REPORTS);
    assert_int_equal(gs_task_watermark(h->task), GS_TIME_MIN);
}

static void report(tk_harness_t *h, const char *id, int channel, uint32_t problem, uint64_t cell,
                   int64_t t)
{
    tk_ev_t e;
    assert_int_equal(tk_apply_noflush(h, tk_report(&e, id, channel, problem, cell, t)), GS_OK);
}

static void kase(tk_harness_t *h, const char *case_id, int stage, int ref_channel,
                 const char *ref_id, int64_t t, int64_t deadline, const char *dept)
{
    tk_ev_t e;
    assert_int_equal(tk_apply_noflush(h, tk_case(&e, case_id, stage, ref_channel, ref_id, CELL, t,
                                                 deadline, dept)),
                     GS_OK);
}

/* A report in CLOCK_CELL at t: the watermark becomes t - 5 min (reports only). */
static void clock_to(tk_harness_t *h, int64_t t)
{
    static int n;
    char id[32];
    snprintf(id, sizeof(id), "clk-%d", n++);
    report(h, id, CH_INSPECTOR, 20102, CLOCK_CELL, t);
    assert_int_equal(gs_task_watermark(h->task), t - 5 * MIN);
}

/* KPI records with `key` captured from index `from` on. */
static size_t kpi_count_from(const tk_capture_t *c, const char *key, size_t from)
{
    size_t k = 0;
    for (size_t i = from; i < c->n; i++)
        k += c->r[i].topic == GS_OUT_KPI && strcmp(c->r[i].key, key) == 0;
    return k;
}

/* KPI records whose key starts with "1:<CELL>:" captured from index `from` on. */
static size_t cell_kpi_from(const tk_capture_t *c, size_t from)
{
    char pre[40];
    int pl = snprintf(pre, sizeof(pre), "1:%llu:", (unsigned long long)CELL);
    size_t k = 0;
    for (size_t i = from; i < c->n; i++)
        k += c->r[i].topic == GS_OUT_KPI && strncmp(c->r[i].key, pre, (size_t)pl) == 0;
    return k;
}

/* The latest KPI partial of window w sent to the rollup from index `from` on, or NULL. */
static const gs_partial_t *kpi_part(const tk_parts_t *ps, const gs_kpi_wkey_t *w, size_t from)
{
    for (size_t i = ps->n; i-- > from;)
        if (ps->r[i].p.kind == GS_PART_KPI && wk_eq(&ps->r[i].p.w, w)) return &ps->r[i].p;
    return NULL;
}

typedef struct counts {
    uint64_t signals, incidents, merged, captured, filed, rejected, rectified, on_time, closed,
        reworked;
} counts_t;

static void assert_counts(const Gridstream__V1__KpiRecord *r, counts_t c)
{
    assert_non_null(r);
    assert_int_equal(r->signals, c.signals);
    assert_int_equal(r->incidents, c.incidents);
    assert_int_equal(r->merged, c.merged);
    assert_int_equal(r->captured, c.captured);
    assert_int_equal(r->filed, c.filed);
    assert_int_equal(r->rejected, c.rejected);
    assert_int_equal(r->rectified, c.rectified);
    assert_int_equal(r->rectified_on_time, c.on_time);
    assert_int_equal(r->closed, c.closed);
    assert_int_equal(r->reworked, c.reworked);
}

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-12)

/* ---- windows --------------------------------------------------------------------------------- */

static void test_wkey_pack_roundtrip(void **state)
{
    (void)state;
    const gs_kpi_wkey_t keys[] = {
        wk(GS_LEVEL_CELL, GS_WIN_HOUR, CELL, INT64_C(1711897200000)),
        wk(GS_LEVEL_CITY, GS_WIN_ROLLING_24H, 4409, -1),
        wk(GS_LEVEL_DISTRICT, GS_WIN_DAY, 440902, -28800000), /* 1970-01-01 00:00 +08 */
        wk(GS_LEVEL_STREET, GS_WIN_MONTH, 440902001, -INT64_C(2208988800000)), /* 1900 */
        wk(GS_LEVEL_COMMUNITY, GS_WIN_HOUR, 440902001002, INT64_MIN),
        wk(GS_LEVEL_CELL, GS_WIN_DAY, UINT64_MAX, INT64_MAX),
        wk(GS_LEVEL_CELL, GS_WIN_HOUR, 0, 0),
    };
    uint8_t packed[sizeof(keys) / sizeof(keys[0])][GS_KPI_WKEY_LEN];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        uint8_t buf[GS_KPI_WKEY_LEN + 2];
        memset(buf, 0xA5, sizeof(buf));
        gs_kpi_wkey_pack(&keys[i], buf);
        assert_int_equal(buf[GS_KPI_WKEY_LEN], 0xA5); /* writes exactly 18 bytes */
        memcpy(packed[i], buf, GS_KPI_WKEY_LEN);
        gs_kpi_wkey_t back;
        memset(&back, 0x5A, sizeof(back));
        gs_kpi_wkey_unpack(buf, &back);
        assert_int_equal(back.level, keys[i].level);
        assert_int_equal(back.kind, keys[i].kind);
        assert_true(back.scope == keys[i].scope);
        assert_true(back.start == keys[i].start);
        /* level and kind lead, the scope follows as big-endian bytes (rollup.h) */
        assert_int_equal(buf[0], keys[i].level);
        assert_int_equal(buf[1], keys[i].kind);
        uint64_t sc = 0;
        for (int b = 2; b < 10; b++)
            sc = sc << 8 | buf[b];
        assert_true(sc == keys[i].scope);
    }
    /* distinct keys pack to distinct bytes (-1 vs 0 vs INT64_MIN vs INT64_MAX starts) */
    gs_kpi_wkey_t a = wk(1, 1, 7, -1), b = wk(1, 1, 7, 0), c = wk(1, 1, 7, INT64_MIN),
                  d = wk(1, 1, 7, INT64_MAX);
    uint8_t pa[GS_KPI_WKEY_LEN], pb[GS_KPI_WKEY_LEN], pc[GS_KPI_WKEY_LEN], pd[GS_KPI_WKEY_LEN];
    gs_kpi_wkey_pack(&a, pa);
    gs_kpi_wkey_pack(&b, pb);
    gs_kpi_wkey_pack(&c, pc);
    gs_kpi_wkey_pack(&d, pd);
    assert_true(memcmp(pa, pb, GS_KPI_WKEY_LEN) != 0);
    assert_true(memcmp(pa, pc, GS_KPI_WKEY_LEN) != 0);
    assert_true(memcmp(pa, pd, GS_KPI_WKEY_LEN) != 0);
    assert_true(memcmp(pb, pc, GS_KPI_WKEY_LEN) != 0);
    assert_true(memcmp(pc, pd, GS_KPI_WKEY_LEN) != 0);
}

/* 1 ms before local midnight of 2024-04-01 (March's last instant), and 1 ms after. */
static void test_windows_around_local_midnight_and_month_end(void **state)
{
    (void)state;
    gs_kpi_wkey_t w[GS_KPI_MAX_WINDOWS];
    const int64_t t = L_2024_04_01 - 1; /* 2024-03-31 23:59:59.999 +08 = 15:59:59.999Z */

    assert_int_equal(gs_kpi_windows_for(CELL, t, TZ, GS_LEVEL_CELL, GS_LEVEL_CELL, w), 3);
    assert_int_equal(w[0].kind, GS_WIN_HOUR);
    assert_true(w[0].start == L_2024_04_01 - H); /* 2024-03-31 23:00 +08 */
    assert_int_equal(w[1].kind, GS_WIN_DAY);
    assert_true(w[1].start == L_2024_04_01 - D); /* 2024-03-31 00:00 +08 */
    assert_int_equal(w[2].kind, GS_WIN_MONTH);
    assert_true(w[2].start == L_2024_03_01);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w[i].level, GS_LEVEL_CELL);
        assert_true(w[i].scope == CELL);
        /* all three windows end at local midnight 2024-04-01 */
        assert_true(gs_kpi_window_end(&w[i], TZ) == L_2024_04_01);
    }

    assert_int_equal(gs_kpi_windows_for(CELL, t + 1, TZ, GS_LEVEL_CELL, GS_LEVEL_CELL, w), 3);
    assert_true(w[0].start == L_2024_04_01);
    assert_true(w[1].start == L_2024_04_01);
    assert_true(w[2].start == L_2024_04_01);
    assert_true(gs_kpi_window_end(&w[0], TZ) == L_2024_04_01 + H);
    assert_true(gs_kpi_window_end(&w[1], TZ) == L_2024_04_01 + D);
    assert_true(gs_kpi_window_end(&w[2], TZ) == L_2024_05_01); /* April has 30 days */
    assert_true(L_2024_05_01 - L_2024_04_01 == 30 * D);

    /* the offset matters: in UTC the same instant t is on 2024-03-31 15:59Z, still in March */
    assert_int_equal(gs_kpi_windows_for(CELL, t + 1, 0, GS_LEVEL_CELL, GS_LEVEL_CELL, w), 3);
    assert_true(w[0].start == L_2024_04_01);          /* 16:00Z is an hour start */
    assert_true(w[1].start == L_2024_04_01 - 16 * H); /* 2024-03-31 00:00Z */
    assert_true(w[2].start == L_2024_03_01 + 8 * H);  /* 2024-03-01 00:00Z */
}

/* Local midnight inside a month: the day changes, the month does not. */
static void test_windows_local_midnight_mid_month(void **state)
{
    (void)state;
    gs_kpi_wkey_t w[GS_KPI_MAX_WINDOWS];
    const int64_t mid = L_2024_03_10 + D; /* 2024-03-11 00:00 +08 = 2024-03-10T16:00Z */
    assert_int_equal(gs_kpi_windows_for(CELL, mid - 1, TZ, GS_LEVEL_CELL, GS_LEVEL_CELL, w), 3);
    assert_true(w[0].start == mid - H);
    assert_true(w[1].start == L_2024_03_10);
    assert_true(w[2].start == L_2024_03_01);
    assert_true(gs_kpi_window_end(&w[2], TZ) == L_2024_04_01);
    assert_int_equal(gs_kpi_windows_for(CELL, mid, TZ, GS_LEVEL_CELL, GS_LEVEL_CELL, w), 3);
    assert_true(w[0].start == mid);
    assert_true(w[1].start == mid);
    assert_true(w[2].start == L_2024_03_01);
}

/* All levels: 5 x (HOUR, DAY, MONTH) + 24 ROLLING_24H for DISTRICT and CITY = 63. */
static void test_windows_all_levels(void **state)
{
    (void)state;
    gs_kpi_wkey_t w[GS_KPI_MAX_WINDOWS];
    const int64_t t = L_2024_03_10 + 23 * H + 30 * MIN; /* 2024-03-10 23:30 +08 */
    const int64_t hour = L_2024_03_10 + 23 * H;
    const uint64_t scope[6] = {
        0, CELL, UINT64_C(440902001002), UINT64_C(440902001), UINT64_C(440902), UINT64_C(4409)};

    int n = gs_kpi_windows_for(CELL, t, TZ, GS_LEVEL_CELL, GS_LEVEL_CITY, w);
    assert_int_equal(n, 63);
    assert_int_equal(GS_KPI_MAX_WINDOWS, 63);

    /* documented order: level, then HOUR, DAY, MONTH, then ROLLING_24H starts ascending */
    int i = 0;
    for (int level = GS_LEVEL_CELL; level <= GS_LEVEL_CITY; level++) {
        assert_true(w[i].level == level && w[i].kind == GS_WIN_HOUR && w[i].start == hour);
        assert_true(w[i].scope == scope[level]);
        i++;
        assert_true(w[i].level == level && w[i].kind == GS_WIN_DAY && w[i].start == L_2024_03_10);
        assert_true(w[i].scope == scope[level]);
        i++;
        assert_true(w[i].level == level && w[i].kind == GS_WIN_MONTH && w[i].start == L_2024_03_01);
        assert_true(w[i].scope == scope[level]);
        i++;
        if (level == GS_LEVEL_DISTRICT || level == GS_LEVEL_CITY) {
            for (int k = 23; k >= 0; k--, i++) {
                assert_int_equal(w[i].level, level);
                assert_int_equal(w[i].kind, GS_WIN_ROLLING_24H);
                assert_true(w[i].scope == scope[level]);
                assert_true(w[i].start == hour - k * H);
                /* each rolling window is 24 h long and contains t */
                int64_t end = gs_kpi_window_end(&w[i], TZ);
                assert_true(end == w[i].start + 24 * H);
                assert_true(w[i].start <= t && t < end);
            }
        }
    }
    assert_int_equal(i, 63);

    /* rolling windows only at DISTRICT and CITY */
    int rolling[6] = {0};
    for (int j = 0; j < n; j++)
        if (w[j].kind == GS_WIN_ROLLING_24H) rolling[w[j].level]++;
    assert_int_equal(rolling[GS_LEVEL_CELL], 0);
    assert_int_equal(rolling[GS_LEVEL_COMMUNITY], 0);
    assert_int_equal(rolling[GS_LEVEL_STREET], 0);
    assert_int_equal(rolling[GS_LEVEL_DISTRICT], 24);
    assert_int_equal(rolling[GS_LEVEL_CITY], 24);

    /* sub-ranges */
    assert_int_equal(gs_kpi_windows_for(CELL, t, TZ, GS_LEVEL_COMMUNITY, GS_LEVEL_CITY, w), 60);
    assert_true(w[0].level == GS_LEVEL_COMMUNITY && w[0].scope == scope[GS_LEVEL_COMMUNITY]);
    assert_int_equal(gs_kpi_windows_for(CELL, t, TZ, GS_LEVEL_DISTRICT, GS_LEVEL_CITY, w), 54);
    assert_int_equal(gs_kpi_windows_for(CELL, t, TZ, GS_LEVEL_STREET, GS_LEVEL_STREET, w), 3);
    assert_true(w[2].scope == scope[GS_LEVEL_STREET] && w[2].kind == GS_WIN_MONTH);
    assert_int_equal(gs_kpi_windows_for(CELL, t, TZ, GS_LEVEL_CITY, GS_LEVEL_CITY, w), 27);
    assert_true(w[3].start == hour - 23 * H && w[26].start == hour);
}

/* An instant exactly on an hour boundary: the newest rolling window starts there. */
static void test_windows_rolling_on_hour_boundary(void **state)
{
    (void)state;
    gs_kpi_wkey_t w[GS_KPI_MAX_WINDOWS];
    const int64_t t = L_2024_03_10; /* local midnight */
    assert_int_equal(gs_kpi_windows_for(CELL, t, TZ, GS_LEVEL_DISTRICT, GS_LEVEL_DISTRICT, w), 27);
    assert_true(w[3].start == t - 23 * H); /* 2024-03-09 01:00 +08, ends exactly at t + 1 h */
    assert_true(gs_kpi_window_end(&w[3], TZ) == t + H);
    assert_true(w[26].start == t);
    /* the 24 h window ending at t (start t - 24 h) does not contain t: not listed */
    for (int i = 3; i < 27; i++)
        assert_true(w[i].start != t - 24 * H);
}

static void test_window_end_kinds_and_february(void **state)
{
    (void)state;
    gs_kpi_wkey_t w = wk(GS_LEVEL_CELL, GS_WIN_HOUR, CELL, L_2024_03_10 + 5 * H);
    assert_true(gs_kpi_window_end(&w, TZ) == L_2024_03_10 + 6 * H);
    w.kind = GS_WIN_DAY;
    w.start = L_2024_03_10;
    assert_true(gs_kpi_window_end(&w, TZ) == L_2024_03_10 + D);
    w.kind = GS_WIN_ROLLING_24H;
    w.start = L_2024_03_10 + 7 * H;
    assert_true(gs_kpi_window_end(&w, TZ) == L_2024_03_10 + 31 * H);

    /* February: 29 days in 2024 and 2000 (leap), 28 in 2023 and 2100 (not leap) */
    struct {
        int64_t feb, mar;
        int days;
    } f[] = {{L_2024_02_01, L_2024_03_01, 29},
             {INT64_C(1675180800000), INT64_C(1677600000000), 28},
             {INT64_C(949334400000), INT64_C(951840000000), 29},
             {INT64_C(4105094400000), INT64_C(4107513600000), 28}};
    gs_kpi_wkey_t ws[GS_KPI_MAX_WINDOWS];
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        assert_true(f[i].mar - f[i].feb == f[i].days * D);
        /* the last instant of February (local) is in February's MONTH window */
        assert_int_equal(gs_kpi_windows_for(CELL, f[i].mar - 1, TZ, 1, 1, ws), 3);
        assert_true(ws[2].kind == GS_WIN_MONTH && ws[2].start == f[i].feb);
        assert_true(gs_kpi_window_end(&ws[2], TZ) == f[i].mar);
        assert_true(ws[1].start == f[i].mar - D); /* Feb 29 or Feb 28 */
        /* local March 1 00:00 is in March */
        assert_int_equal(gs_kpi_windows_for(CELL, f[i].mar, TZ, 1, 1, ws), 3);
        assert_true(ws[2].start == f[i].mar);
    }
    /* a MONTH window keyed by its start: January 2024 ends at local Feb 1 */
    w = wk(GS_LEVEL_CITY, GS_WIN_MONTH, 4409, L_2024_01_01);
    assert_true(gs_kpi_window_end(&w, TZ) == L_2024_02_01);
}

/* Before the epoch: 1969-12-31T23:59:59.999Z is 1970-01-01 07:59:59.999 at UTC+8. */
static void test_windows_negative_times(void **state)
{
    (void)state;
    gs_kpi_wkey_t w[GS_KPI_MAX_WINDOWS];
    assert_int_equal(gs_kpi_windows_for(CELL, -1, TZ, GS_LEVEL_CELL, GS_LEVEL_CITY, w), 63);
    assert_true(w[0].start == -H);     /* 07:00 +08 */
    assert_true(w[1].start == -8 * H); /* 1970-01-01 00:00 +08 */
    assert_true(w[2].start == -8 * H); /* January 1970 */
    assert_true(gs_kpi_window_end(&w[2], TZ) == 31 * D - 8 * H);
    /* the first DISTRICT rolling window starts 23 h before the hour */
    assert_true(w[12].level == GS_LEVEL_DISTRICT && w[12].kind == GS_WIN_ROLLING_24H);
    assert_true(w[12].start == -24 * H);
    /* every window round-trips through the packed key */
    for (int i = 0; i < 63; i++) {
        uint8_t k[GS_KPI_WKEY_LEN];
        gs_kpi_wkey_t back;
        gs_kpi_wkey_pack(&w[i], k);
        gs_kpi_wkey_unpack(k, &back);
        assert_true(wk_eq(&back, &w[i]));
    }
    /* 1969-12-31 23:59:59.999 +08 = -8 h - 1 ms: December 1969 */
    assert_int_equal(gs_kpi_windows_for(CELL, -8 * H - 1, TZ, 1, 1, w), 3);
    assert_true(w[1].start == -8 * H - D);
    assert_true(w[2].start == -8 * H - 31 * D);
    assert_true(gs_kpi_window_end(&w[2], TZ) == -8 * H);
}

static void test_retention_by_kind(void **state)
{
    (void)state;
    gs_params_t p;
    gs_params_defaults(&p);
    assert_true(gs_kpi_retention(&p, GS_WIN_HOUR) == 35 * D);
    assert_true(gs_kpi_retention(&p, GS_WIN_DAY) == 35 * D);
    assert_true(gs_kpi_retention(&p, GS_WIN_ROLLING_24H) == 35 * D);
    assert_true(gs_kpi_retention(&p, GS_WIN_MONTH) == 400 * D);
}

/* ---- end to end through a task --------------------------------------------------------------- */

/*
 * Cohort: an incident opened 2024-03-10 23:30 local, FILED and RECTIFIED on 2024-03-12 (day D+2).
 * Its counts belong to day D's windows; day D+2 has no incident in CELL and is never emitted.
 */
static void test_cohort_counts_in_opening_day(void **state)
{
    (void)state;
    tk_harness_t h;
    harness(&h);
    const int64_t t0 = L_2024_03_10 + 23 * H + 30 * MIN;
    const int64_t d2 = L_2024_03_10 + 2 * D;
    report(&h, "r1", CH_INSPECTOR, 20102, CELL, t0);
    kase(&h, "c1", ST_FILED, CH_INSPECTOR, "r1", d2 + 10 * H, d2 + 18 * H, NULL);
    kase(&h, "c1", ST_RECTIFIED, CH_INSPECTOR, "r1", d2 + 12 * H, 0, NULL);
    /* watermark past the end of day D+2 + grace: D+2's DAY window would be due if it existed */
    clock_to(&h, d2 + D + 11 * MIN);
    tk_flush(&h);

    const counts_t want = {
        .signals = 1, .incidents = 1, .captured = 1, .filed = 1, .rectified = 1, .on_time = 1};
    const char *kday = kkey(1, CELL, 2, L_2024_03_10);
    assert_string_equal(kday, "1:440902001002003:2:1710000000000");
    const Gridstream__V1__KpiRecord *day = tk_kpi(&h.cap, kday);
    assert_counts(day, want);
    assert_int_equal(day->level, GRIDSTREAM__V1__LEVEL__CELL);
    assert_true(day->scope == CELL);
    assert_int_equal(day->window, GRIDSTREAM__V1__WINDOW_KIND__DAY);
    assert_true(day->window_start_ms == L_2024_03_10);
    assert_true(day->window_end_ms == L_2024_03_10 + D);
    assert_near(day->capture_rate, 1.0);
    assert_near(day->filing_rate, 1.0);
    assert_near(day->rectification_rate, 1.0);
    assert_near(day->timely_rate, 1.0);
    assert_int_equal(day->version, 1);
    assert_int_equal(tk_count_key(&h.cap, GS_OUT_KPI, kday), 1);

    const Gridstream__V1__KpiRecord *hour = tk_kpi(&h.cap, kkey(1, CELL, 1, t0 - 30 * MIN));
    assert_counts(hour, want);
    assert_true(hour->window_end_ms == L_2024_03_10 + D);

    /* nothing for the cell on day D+1 or D+2, in any HOUR of D+2, nor March (not due) */
    assert_null(tk_kpi(&h.cap, kkey(1, CELL, 2, L_2024_03_10 + D)));
    assert_null(tk_kpi(&h.cap, kkey(1, CELL, 2, d2)));
    assert_null(tk_kpi(&h.cap, kkey(1, CELL, 1, d2 + 10 * H)));
    assert_null(tk_kpi(&h.cap, kkey(1, CELL, 1, d2 + 12 * H)));
    assert_null(tk_kpi(&h.cap, kkey(1, CELL, 3, L_2024_03_01)));
    assert_int_equal(cell_kpi_from(&h.cap, 0), 2);
    /* the task emits CELL windows only (its own and the clock cell's); the rest are partials */
    for (size_t i = 0; i < h.cap.n; i++)
        if (h.cap.r[i].topic == GS_OUT_KPI)
            assert_int_equal(((const Gridstream__V1__KpiRecord *)h.cap.r[i].msg)->level,
                             GRIDSTREAM__V1__LEVEL__CELL);

    /* the higher levels go to the rollup with the same cohort counts */
    gs_kpi_wkey_t dd = wk(GS_LEVEL_DISTRICT, GS_WIN_DAY, 440902, L_2024_03_10);
    const gs_partial_t *p = kpi_part(&h.parts, &dd, 0);
    assert_non_null(p);
    assert_int_equal(p->source, 0);
    assert_int_equal(p->v[GS_C_INCIDENTS], 1);
    assert_int_equal(p->v[GS_C_FILED], 1);
    assert_int_equal(p->v[GS_C_RECTIFIED], 1);
    assert_int_equal(p->v[GS_C_ON_TIME], 1);
    gs_kpi_wkey_t dd2 = wk(GS_LEVEL_DISTRICT, GS_WIN_DAY, 440902, d2);
    assert_null(kpi_part(&h.parts, &dd2, 0));
    /* the oldest CITY ROLLING_24H window containing t0 (starts 23 h before its hour) */
    gs_kpi_wkey_t r0 = wk(GS_LEVEL_CITY, GS_WIN_ROLLING_24H, 4409, t0 - 30 * MIN - 23 * H);
    const gs_partial_t *pr = kpi_part(&h.parts, &r0, 0);
    assert_non_null(pr);
    assert_int_equal(pr->v[GS_C_RECTIFIED], 1);
    tk_harness_fini(&h);
}

/*
 * Rectified 1 ms after the deadline: rectified, not on time; rectified exactly at the deadline: on
 * time (rectified_ms <= deadline_ms). Two incidents of the same 09:00 hour (different problems).
 */
static void test_cohort_on_time_boundary(void **state)
{
    (void)state;
    tk_harness_t h;
    harness(&h);
    const int64_t t0 = L_2024_03_10 + 9 * H + 15 * MIN;
    report(&h, "r1", CH_INSPECTOR, 20102, CELL, t0);
    report(&h, "r2", CH_INSPECTOR, 20506, CELL, t0 + MIN);
    kase(&h, "c1", ST_FILED, CH_INSPECTOR, "r1", t0 + H, t0 + 3 * H, NULL);
    kase(&h, "c2", ST_FILED, CH_INSPECTOR, "r2", t0 + H, t0 + 3 * H, NULL);
    kase(&h, "c2", ST_RECTIFIED, CH_INSPECTOR, "r2", t0 + 3 * H, 0, NULL);
    kase(&h, "c1", ST_RECTIFIED, CH_INSPECTOR, "r1", t0 + 3 * H + 1, 0, NULL);
    clock_to(&h, L_2024_03_10 + D + 11 * MIN);
    tk_flush(&h);
    const Gridstream__V1__KpiRecord *day = tk_kpi(&h.cap, kkey(1, CELL, 2, L_2024_03_10));
    assert_counts(
        day,
        (counts_t){
            .signals = 2, .incidents = 2, .captured = 2, .filed = 2, .rectified = 2, .on_time = 1});
    assert_near(day->rectification_rate, 1.0);
    assert_near(day->timely_rate, 0.5);
    assert_counts(
        tk_kpi(&h.cap, kkey(1, CELL, 1, L_2024_03_10 + 9 * H)),
        (counts_t){
            .signals = 2, .incidents = 2, .captured = 2, .filed = 2, .rectified = 2, .on_time = 1});
    tk_harness_fini(&h);
}

/* Rectified after the deadline alone: timely_rate 0.0, not NaN (the denominator is filed = 1). */
static void test_cohort_late_rectification(void **state)
{
    (void)state;
    tk_harness_t h;
    harness(&h);
    const int64_t t0 = L_2024_03_10 + 9 * H + 15 * MIN;
    report(&h, "r1", CH_INSPECTOR, 20102, CELL, t0);
    kase(&h, "c1", ST_FILED, CH_INSPECTOR, "r1", t0 + H, t0 + 3 * H, NULL);
    kase(&h, "c1", ST_RECTIFIED, CH_INSPECTOR, "r1", t0 + 3 * H + 1, 0, NULL);
    clock_to(&h, L_2024_03_10 + D + 11 * MIN);
    tk_flush(&h);
    const Gridstream__V1__KpiRecord *day = tk_kpi(&h.cap, kkey(1, CELL, 2, L_2024_03_10));
    assert_counts(
        day,
        (counts_t){
            .signals = 1, .incidents = 1, .captured = 1, .filed = 1, .rectified = 1, .on_time = 0});
    assert_near(day->rectification_rate, 1.0);
    assert_false(isnan(day->timely_rate));
    assert_near(day->timely_rate, 0.0);
    tk_harness_fini(&h);
}

/*
 * merged = signals - incidents, by the incident's opening window; captured by first channel only;
 * rectification and timely rates NaN without a FILED incident, filing_rate 0.0.
 */
static void test_merged_captured_and_nan_rates(void **state)
{
    (void)state;
    tk_harness_t h;
    harness(&h);
    const int64_t hr = L_2024_03_10 + 10 * H; /* 10:00 local */
    /* incident A: INSPECTOR first, joined by HOTLINE and CITIZEN_APP in the same hour */
    report(&h, "a1", CH_INSPECTOR, 20102, CELL, hr + 10 * MIN);
    report(&h, "a2", CH_HOTLINE, 20102, CELL, hr + 20 * MIN);
    report(&h, "a3", CH_CITIZEN_APP, 20102, CELL, hr + 30 * MIN);
    /* incident B: HOTLINE first (passive: not captured), later joined by an INSPECTOR */
    report(&h, "b1", CH_HOTLINE, 20506, CELL, hr + 40 * MIN);
    /* incident C: DRONE first (active) */
    report(&h, "c1", CH_DRONE, 20509, CELL, hr + 50 * MIN);
    /* next hour: joins A and B; counted in 10:00's window, not 11:00's */
    report(&h, "a4", CH_SUPERIOR, 20102, CELL, hr + H + 10 * MIN);
    report(&h, "b2", CH_INSPECTOR, 20506, CELL, hr + H + 20 * MIN);
    clock_to(&h, hr + 2 * H + 11 * MIN); /* wm = 12:06 > 11:00 + 5 min and 12:00 + 5 min */
    tk_flush(&h);
    assert_int_equal(tk_metrics(&h)->incidents_opened, 3 + 1 /* clock */);

    const Gridstream__V1__KpiRecord *r = tk_kpi(&h.cap, kkey(1, CELL, 1, hr));
    assert_counts(r, (counts_t){.signals = 7, .incidents = 3, .merged = 4, .captured = 2});
    assert_near(r->capture_rate, 2.0 / 3.0);
    assert_false(isnan(r->filing_rate));
    assert_near(r->filing_rate, 0.0);
    assert_true(isnan(r->rectification_rate));
    assert_true(isnan(r->timely_rate));
    assert_int_equal(r->version, 1);
    assert_null(tk_kpi(&h.cap, kkey(1, CELL, 1, hr + H))); /* no incident opened at 11:00 */
    assert_int_equal(cell_kpi_from(&h.cap, 0), 1);         /* DAY and MONTH not due yet */
    tk_harness_fini(&h);
}

/*
 * Emission: first when the watermark passes end + 5 min (strict), then once per change, with
 * version + 1, and not when the counts stay the same.
 */
static void test_emission_strict_grace_and_versions(void **state)
{
    (void)state;
    tk_harness_t h;
    harness(&h);
    const int64_t t0 = L_2024_03_10 + 23 * H + 30 * MIN;
    const int64_t end = L_2024_03_10 + D; /* end of HOUR 23:00 and of DAY 2024-03-10 */
    const char *kh = kkey(1, CELL, 1, L_2024_03_10 + 23 * H);
    const char *kd = kkey(1, CELL, 2, L_2024_03_10);

    report(&h, "r1", CH_INSPECTOR, 20102, CELL, t0);
    tk_flush(&h);
    assert_int_equal(cell_kpi_from(&h.cap, 0), 0); /* watermark t0 - 5 min: nothing due */
    kase(&h, "c1", ST_FILED, CH_INSPECTOR, "r1", t0 + 5 * MIN, t0 + 3 * H, NULL);
    clock_to(&h, end + 10 * MIN); /* watermark = end + 5 min exactly: not past */
    tk_flush(&h);
    assert_int_equal(cell_kpi_from(&h.cap, 0), 0);
    tk_flush(&h);
    assert_int_equal(cell_kpi_from(&h.cap, 0), 0);

    clock_to(&h, end + 10 * MIN + 1); /* end + 5 min + 1 ms */
    tk_flush(&h);
    assert_int_equal(cell_kpi_from(&h.cap, 0), 2); /* HOUR and DAY, once each */
    const Gridstream__V1__KpiRecord *r = tk_kpi(&h.cap, kh);
    assert_counts(r, (counts_t){.signals = 1, .incidents = 1, .captured = 1, .filed = 1});
    assert_int_equal(r->version, 1);
    assert_false(isnan(r->rectification_rate)); /* filed 1, rectified 0 */
    assert_near(r->rectification_rate, 0.0);
    assert_false(isnan(r->timely_rate));
    assert_near(r->timely_rate, 0.0);
    r = tk_kpi(&h.cap, kd);
    assert_counts(r, (counts_t){.signals = 1, .incidents = 1, .captured = 1, .filed = 1});
    assert_int_equal(r->version, 1);

    /* a flush with nothing new emits nothing */
    size_t mark = h.cap.n;
    tk_flush(&h);
    assert_int_equal(cell_kpi_from(&h.cap, mark), 0);

    /* a count changes: both windows re-emitted once, version 2 */
    kase(&h, "c1", ST_RECTIFIED, CH_INSPECTOR, "r1", end + 20 * MIN, 0, NULL);
    tk_flush(&h);
    assert_int_equal(kpi_count_from(&h.cap, kh, mark), 1);
    assert_int_equal(kpi_count_from(&h.cap, kd, mark), 1);
    assert_int_equal(cell_kpi_from(&h.cap, mark), 2);
    r = tk_kpi(&h.cap, kh);
    assert_counts(
        r,
        (counts_t){
            .signals = 1, .incidents = 1, .captured = 1, .filed = 1, .rectified = 1, .on_time = 1});
    assert_int_equal(r->version, 2);
    assert_near(r->timely_rate, 1.0);
    assert_int_equal(tk_kpi(&h.cap, kd)->version, 2);

    /* DISPATCHED and VERIFIED change the incident but no KPI count: no KPI record */
    mark = h.cap.n;
    kase(&h, "c1", ST_DISPATCHED, CH_INSPECTOR, "r1", end + 30 * MIN, 0, "sanitation");
    kase(&h, "c1", ST_VERIFIED, CH_INSPECTOR, "r1", end + 40 * MIN, 0, NULL);
    tk_flush(&h);
    assert_int_equal(cell_kpi_from(&h.cap, mark), 0);
    const Gridstream__V1__Incident *inc =
        tk_incident(&h.cap, "440902001002003-20102-1710084600000-1-r1");
    assert_non_null(inc);
    assert_string_equal(inc->department, "sanitation");
    assert_int_equal(inc->stage, GRIDSTREAM__V1__STAGE__VERIFIED);

    /* a signal joining the incident (within 24 h) changes signals and merged: version 3 */
    mark = h.cap.n;
    report(&h, "r2", CH_HOTLINE, 20102, CELL, end + 50 * MIN);
    tk_flush(&h);
    assert_int_equal(kpi_count_from(&h.cap, kh, mark), 1);
    assert_int_equal(kpi_count_from(&h.cap, kd, mark), 1);
    r = tk_kpi(&h.cap, kh);
    assert_counts(r, (counts_t){.signals = 2,
                                .incidents = 1,
                                .merged = 1,
                                .captured = 1,
                                .filed = 1,
                                .rectified = 1,
                                .on_time = 1});
    assert_int_equal(r->version, 3);
    tk_harness_fini(&h);
}

/*
 * Retention: an incident opened 2024-01-05 00:30 local. HOUR [00:00, 01:00) ends at
 * 1 704 387 600 000; + 35 d = 1 707 411 600 000 (2024-02-09 01:00). Its DAY ends 23 h later,
 * its MONTH on 2024-02-01 (+ 400 d). A FILED applied with the watermark 1 ms past the HOUR's
 * retention is dropped for every level's HOUR window (5) and for the two ROLLING_24H windows
 * ending with that hour (DISTRICT, CITY: start 2024-01-04 01:00) = 7 drops; DAY and MONTH take it.
 */
static void test_retention_drops_hour_keeps_day_and_month(void **state)
{
    (void)state;
    tk_harness_t h;
    harness(&h);
    const int64_t t0 = L_2024_01_05 + 30 * MIN;
    const int64_t hend = L_2024_01_05 + H;
    const int64_t hret = hend + 35 * D;
    assert_true(hret == INT64_C(1707411600000));
    const char *kh = kkey(1, CELL, 1, L_2024_01_05);
    const char *kd = kkey(1, CELL, 2, L_2024_01_05);
    const char *km = kkey(1, CELL, 3, L_2024_01_01);

    report(&h, "r1", CH_INSPECTOR, 20102, CELL, t0);
    clock_to(&h, hret + 5 * MIN + 1); /* watermark = hret + 1 ms */
    tk_flush(&h);
    assert_int_equal(tk_kpi(&h.cap, kh)->version, 1);
    assert_int_equal(tk_kpi(&h.cap, kd)->version, 1);
    assert_int_equal(tk_kpi(&h.cap, km)->version, 1);
    assert_int_equal(tk_kpi(&h.cap, km)->filed, 0);
    assert_int_equal(tk_metrics(&h)->kpi_late_dropped, 0);

    size_t mark = h.cap.n, pmark = h.parts.n;
    kase(&h, "c1", ST_FILED, CH_INSPECTOR, "r1", hret + 6 * MIN, hret + D, NULL);
    tk_flush(&h);
    assert_int_equal(tk_metrics(&h)->kpi_late_dropped, 7);
    assert_int_equal(kpi_count_from(&h.cap, kh, mark), 0);
    assert_int_equal(tk_kpi(&h.cap, kh)->filed, 0);
    const Gridstream__V1__KpiRecord *r = tk_kpi(&h.cap, kd);
    assert_int_equal(r->version, 2);
    assert_counts(r, (counts_t){.signals = 1, .incidents = 1, .captured = 1, .filed = 1});
    r = tk_kpi(&h.cap, km);
    assert_int_equal(r->version, 2);
    assert_counts(r, (counts_t){.signals = 1, .incidents = 1, .captured = 1, .filed = 1});
    assert_near(r->filing_rate, 1.0);
    assert_true(r->window_end_ms == L_2024_02_01);

    /* the rollup partials follow the same rule */
    gs_kpi_wkey_t dh = wk(GS_LEVEL_DISTRICT, GS_WIN_HOUR, 440902, L_2024_01_05);
    gs_kpi_wkey_t dm = wk(GS_LEVEL_DISTRICT, GS_WIN_MONTH, 440902, L_2024_01_01);
    gs_kpi_wkey_t cr23 = wk(GS_LEVEL_CITY, GS_WIN_ROLLING_24H, 4409, L_2024_01_05 - 23 * H);
    gs_kpi_wkey_t cr22 = wk(GS_LEVEL_CITY, GS_WIN_ROLLING_24H, 4409, L_2024_01_05 - 22 * H);
    assert_null(kpi_part(&h.parts, &dh, pmark));
    assert_null(kpi_part(&h.parts, &cr23, pmark));
    const gs_partial_t *p = kpi_part(&h.parts, &dm, pmark);
    assert_non_null(p);
    assert_int_equal(p->v[GS_C_FILED], 1);
    p = kpi_part(&h.parts, &cr22, pmark); /* ends 2024-01-05 02:00, still retained */
    assert_non_null(p);
    assert_int_equal(p->v[GS_C_FILED], 1);

    /*
     * Later still, watermark 2024-04-01 00:00 local: past every HOUR, DAY and ROLLING_24H
     * window (+35 d) and past the MONTH end + 35 d (2024-03-07), but not past MONTH end + 400 d.
     * A RECTIFIED is taken by the 5 MONTH windows only: 58 more drops.
     */
    clock_to(&h, L_2024_04_01 + 5 * MIN);
    tk_flush(&h);
    mark = h.cap.n;
    pmark = h.parts.n;
    kase(&h, "c1", ST_RECTIFIED, CH_INSPECTOR, "r1", L_2024_04_01 + 6 * MIN, 0, NULL);
    tk_flush(&h);
    assert_int_equal(tk_metrics(&h)->kpi_late_dropped, 7 + 58);
    assert_int_equal(kpi_count_from(&h.cap, kh, mark), 0);
    assert_int_equal(kpi_count_from(&h.cap, kd, mark), 0);
    assert_int_equal(kpi_count_from(&h.cap, km, mark), 1);
    r = tk_kpi(&h.cap, km);
    assert_int_equal(r->version, 3);
    assert_counts(
        r, (counts_t){.signals = 1, .incidents = 1, .captured = 1, .filed = 1, .rectified = 1});
    p = kpi_part(&h.parts, &dm, pmark);
    assert_non_null(p);
    assert_int_equal(p->v[GS_C_RECTIFIED], 1);
    gs_kpi_wkey_t dd = wk(GS_LEVEL_DISTRICT, GS_WIN_DAY, 440902, L_2024_01_05);
    assert_null(kpi_part(&h.parts, &dd, pmark));
    tk_harness_fini(&h);
}

/* At exactly end + 35 d the HOUR window still takes the change (retention is "past"). */
static void test_retention_boundary_inclusive(void **state)
{
    (void)state;
    tk_harness_t h;
    harness(&h);
    const int64_t t0 = L_2024_01_05 + 30 * MIN;
    const int64_t hret = L_2024_01_05 + H + 35 * D;
    const char *kh = kkey(1, CELL, 1, L_2024_01_05);

    report(&h, "r1", CH_INSPECTOR, 20102, CELL, t0);
    clock_to(&h, hret + 5 * MIN); /* watermark = hret exactly */
    tk_flush(&h);
    assert_int_equal(tk_kpi(&h.cap, kh)->version, 1);
    kase(&h, "c1", ST_FILED, CH_INSPECTOR, "r1", hret + MIN, hret + D, NULL);
    tk_flush(&h);
    assert_int_equal(tk_metrics(&h)->kpi_late_dropped, 0);
    const Gridstream__V1__KpiRecord *r = tk_kpi(&h.cap, kh);
    assert_int_equal(r->version, 2);
    assert_int_equal(r->filed, 1);
    tk_harness_fini(&h);
}

/*
 * The slow path's own boundary: the watermark exactly at the DAY window's end + 35 d
 * (2024-01-06 00:00 + 35 d = 1 707 494 400 000). The HOUR windows are past (5 drops), DAY is not
 * (taken). ROLLING_24H windows start at 2024-01-05 00:00 - k h and end at 2024-01-06 00:00 - k h:
 * k = 0 ends with the day (taken), k = 1..23 are past (23 x 2 levels = 46 drops). 51 in all.
 */
static void test_retention_day_boundary_on_slow_path(void **state)
{
    (void)state;
    tk_harness_t h;
    harness(&h);
    const int64_t t0 = L_2024_01_05 + 30 * MIN;
    const int64_t dret = L_2024_01_05 + D + 35 * D;
    assert_true(dret == INT64_C(1707494400000));
    const char *kh = kkey(1, CELL, 1, L_2024_01_05);
    const char *kd = kkey(1, CELL, 2, L_2024_01_05);

    report(&h, "r1", CH_INSPECTOR, 20102, CELL, t0);
    clock_to(&h, dret + 5 * MIN); /* watermark = dret exactly */
    tk_flush(&h);
    size_t mark = h.cap.n, pmark = h.parts.n;
    kase(&h, "c1", ST_FILED, CH_INSPECTOR, "r1", dret + 6 * MIN, dret + D, NULL);
    tk_flush(&h);
    assert_int_equal(tk_metrics(&h)->kpi_late_dropped, 51);
    assert_int_equal(kpi_count_from(&h.cap, kh, mark), 0);
    assert_int_equal(kpi_count_from(&h.cap, kd, mark), 1);
    assert_int_equal(tk_kpi(&h.cap, kd)->filed, 1);
    gs_kpi_wkey_t cd = wk(GS_LEVEL_CITY, GS_WIN_DAY, 4409, L_2024_01_05);
    gs_kpi_wkey_t r0 = wk(GS_LEVEL_DISTRICT, GS_WIN_ROLLING_24H, 440902, L_2024_01_05);
    gs_kpi_wkey_t r1 = wk(GS_LEVEL_DISTRICT, GS_WIN_ROLLING_24H, 440902, L_2024_01_05 - H);
    const gs_partial_t *p = kpi_part(&h.parts, &cd, pmark);
    assert_non_null(p);
    assert_int_equal(p->v[GS_C_FILED], 1);
    p = kpi_part(&h.parts, &r0, pmark);
    assert_non_null(p);
    assert_int_equal(p->v[GS_C_FILED], 1);
    assert_null(kpi_part(&h.parts, &r1, pmark));
    tk_harness_fini(&h);
}

/* The hand-written KpiRecord encoder writes exactly protobuf-c's bytes: zero fields left out,
   NaN rates written, negative times and counts as ten-byte varints, every field's extremes. */
static void test_record_pack_equals_protobuf_c(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252u; /* xorshift64 */
    for (int round = 0; round < 20000; round++) {
        int64_t r[16];
        for (int i = 0; i < 16; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r[i] = (int64_t)x;
        }
        gs_kpi_wkey_t w = {(uint8_t)(1 + (uint64_t)r[0] % 5), (uint8_t)(1 + (uint64_t)r[1] % 4),
                           (uint64_t)r[2], r[3] % (400 * D)};
        int64_t v[GS_KPI_NCOUNTS];
        for (int i = 0; i < GS_KPI_NCOUNTS; i++) {
            int mode = (int)(((uint64_t)r[4 + i] >> 3) % 6);
            v[i] = mode == 0   ? 0
                   : mode == 1 ? 1
                   : mode == 2 ? (int64_t)((uint64_t)r[4 + i] % 300)
                   : mode == 3 ? r[4 + i]
                   : mode == 4 ? -(int64_t)((uint64_t)r[4 + i] % 5)
                               : INT64_MAX;
        }
        if (round % 7 == 0) memset(v, 0, sizeof(v));
        if (round % 11 == 0) w.scope = 0;
        if (round % 13 == 0) w.start = 0;
        if (round % 17 == 0) w.start = INT64_MIN / 2;
        uint64_t version = round % 5 == 0 ? 0 : (uint64_t)r[14] % 1000000;
        if (round % 19 == 0) version = UINT64_MAX;
        Gridstream__V1__KpiRecord rec;
        gs_kpi_record_fill(&rec, &w, TZ, v, version);
        uint8_t want[GS_KPI_RECORD_MAX], got[GS_KPI_RECORD_MAX];
        size_t wl = protobuf_c_message_get_packed_size(&rec.base);
        assert_true(wl <= sizeof(want));
        assert_int_equal(protobuf_c_message_pack(&rec.base, want), wl);
        size_t gl = gs_kpi_record_pack(&w, TZ, v, version, got);
        assert_int_equal(gl, wl);
        assert_memory_equal(got, want, wl);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wkey_pack_roundtrip),
        cmocka_unit_test(test_record_pack_equals_protobuf_c),
        cmocka_unit_test(test_windows_around_local_midnight_and_month_end),
        cmocka_unit_test(test_windows_local_midnight_mid_month),
        cmocka_unit_test(test_windows_all_levels),
        cmocka_unit_test(test_windows_rolling_on_hour_boundary),
        cmocka_unit_test(test_window_end_kinds_and_february),
        cmocka_unit_test(test_windows_negative_times),
        cmocka_unit_test(test_retention_by_kind),
        cmocka_unit_test(test_cohort_counts_in_opening_day),
        cmocka_unit_test(test_cohort_on_time_boundary),
        cmocka_unit_test(test_cohort_late_rectification),
        cmocka_unit_test(test_merged_captured_and_nan_rates),
        cmocka_unit_test(test_emission_strict_grace_and_versions),
        cmocka_unit_test(test_retention_drops_hour_keeps_day_and_month),
        cmocka_unit_test(test_retention_boundary_inclusive),
        cmocka_unit_test(test_retention_day_boundary_on_slow_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
