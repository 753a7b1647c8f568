/*
 * test_correlate.c - unit tests of correlation (SPEC §5, §11 Correlation; operators/incident.c
 * gs_correlate): merging of signals into incidents, the inclusive 24 h limits on both sides, the
 * inclusive 50 m great-circle limit measured from the incident's first signal, "no position",
 * cell and problem separation, CLOSED / REJECTED incidents as non-candidates (and REWORK making
 * them joinable again), the candidate tie-breaks, the incident_id format, `captured`, and case
 * events referencing a merged signal.
 *
 * Every expected value is computed by hand from SPEC and docs/SPEC-READINGS.md, not from the code:
 * positions are placed at a known great-circle distance (along a meridian the haversine distance
 * is exactly R·Δφ; along a parallel at latitude φ it is 2R·asin(cos φ·sin(Δλ/2))).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testkit.h"

#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS INT64_C(86400000)
#define EARTH_R 6371008.8
#define LAT0 21.66
#define LON0 110.92
#define PROB 20102u /* 暴露垃圾, not critical */
/* Exactly representable latitudes for exact ties: LATS ± DLAT are both R·DLAT·π/180 = 27.146 m
   from LATS, computed bit-identically (Δλ = 0, sin is odd), and 54.29 m (> 50) from each other. */
#define LATS 21.5
#define DLAT (1.0 / 4096.0)

/* Stage and channel numbers of the wire enums, spelled out so a renumbering would show. */
enum { ST_FILED = 1, ST_REJECTED = 2, ST_DISPATCHED = 3, ST_REWORK = 6, ST_CLOSED = 7 };
enum { CH_INSPECTOR = 1, CH_DRONE = 4, CH_HOTLINE = 7 };

/* Latitude `d` metres north of LAT0 (along a meridian: distance = R·Δφ). */
static double north(double d)
{
    return LAT0 + d / EARTH_R * 180.0 / M_PI;
}

/* Longitude `d` metres east of LON0 along the parallel LAT0. */
static double east(double d)
{
    double phi = LAT0 * M_PI / 180.0;
    double dl = 2.0 * asin(sin(d / (2.0 * EARTH_R)) / cos(phi));
    return LON0 + dl * 180.0 / M_PI;
}

/* Applies one report with a position (0, 0 = none) and flushes; returns the apply result. */
static gs_err_t rep(tk_harness_t *h, const char *id, int ch, uint32_t prob, uint64_t cell,
                    int64_t t, double lat, double lon)
{
    tk_ev_t e;
    tk_report(&e, id, ch, prob, cell, t);
    e.u.report.lat = lat;
    e.u.report.lon = lon;
    return tk_apply(h, &e.ev);
}

/* Two reports of the same cell and problem merge; a late third one too. */
static void test_merge_same_cell_problem(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    assert_int_equal(rep(&h, "r1", CH_INSPECTOR, PROB, TK_CELL, t0, LAT0, LON0), GS_OK);
    assert_int_equal(rep(&h, "h2", CH_HOTLINE, PROB, TK_CELL, t0 + 10 * MIN_MS, LAT0, LON0), GS_OK);

    const char *id = "440902001002003-20102-1709222400000-1-r1";
    const Gridstream__V1__Incident *i = tk_must_incident(&h, id);
    assert_string_equal(i->incident_id, id);
    assert_int_equal(i->cell, TK_CELL);
    assert_int_equal(i->problem_code, 20102);
    assert_int_equal(i->opened_ms, INT64_C(1709222400000));
    assert_int_equal(i->first_channel, 1);
    assert_true(i->captured);
    assert_int_equal(i->signal_count, 2);
    assert_int_equal(i->channel_mask, (1u << 1) | (1u << 7)); /* 130 */
    assert_int_equal(i->channel_mask, 130);
    assert_int_equal(i->last_signal_ms, INT64_C(1709223000000));
    assert_int_equal(i->stage, 0);
    assert_int_equal(i->filed_ms, 0);
    assert_int_equal(i->rework_count, 0);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 1);

    /* a late drone signal 5 min before opening joins; last_signal_ms stays the max */
    assert_int_equal(rep(&h, "d3", CH_DRONE, PROB, TK_CELL, t0 - 5 * MIN_MS, LAT0, LON0), GS_OK);
    i = tk_must_incident(&h, id);
    assert_int_equal(i->signal_count, 3);
    assert_int_equal(i->channel_mask, 2 + 16 + 128);
    assert_int_equal(i->last_signal_ms, INT64_C(1709223000000));
    assert_int_equal(i->opened_ms, INT64_C(1709222400000));
    assert_int_equal(i->first_channel, 1);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 1);

    const gs_task_metrics_t *m = tk_metrics(&h);
    assert_int_equal(m->signals, 3);
    assert_int_equal(m->incidents_opened, 1);
    assert_int_equal(m->signals_merged, 2);

    /* merged signals count in the window of the incident's opening (cohort), not their own */
    gs_task_finish(h.task);
    tk_flush(&h);
    const Gridstream__V1__KpiRecord *k = tk_kpi(&h.cap, "1:440902001002003:1:1709222400000");
    assert_non_null(k);
    assert_int_equal(k->signals, 3);
    assert_int_equal(k->incidents, 1);
    assert_int_equal(k->merged, 2);
    assert_int_equal(k->captured, 1);
    k = tk_kpi(&h.cap, "1:440902001002003:2:1709222400000"); /* DAY 2024-03-01 local */
    assert_non_null(k);
    assert_int_equal(k->merged, 2);
    /* the hour of the late signal (23:00 local on 02-29) has no incident: no record */
    assert_null(tk_kpi(&h.cap, "1:440902001002003:1:1709218800000"));
    tk_harness_fini(&h);
}

/* t − last_signal_ms ≤ 24 h is inclusive; 1 ms more opens a new incident. */
static void test_window_after_last_inclusive(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    /* chain: each signal exactly 24 h after the previous last signal */
    rep(&h, "a1", 1, PROB, TK_CELL, t0, 0, 0);
    rep(&h, "a2", 1, PROB, TK_CELL, t0 + DAY_MS, 0, 0);
    rep(&h, "a3", 1, PROB, TK_CELL, t0 + 2 * DAY_MS, 0, 0);
    const Gridstream__V1__Incident *i =
        tk_must_incident(&h, "440902001002003-20102-1709222400000-1-a1");
    assert_int_equal(i->signal_count, 3);
    assert_int_equal(i->last_signal_ms, INT64_C(1709395200000)); /* t0 + 2 d */
    assert_int_equal(i->opened_ms, INT64_C(1709222400000));
    /* 24 h + 1 ms after the last signal: new incident */
    rep(&h, "a4", 1, PROB, TK_CELL, t0 + 3 * DAY_MS + 1, 0, 0);
    i = tk_must_incident(&h, "440902001002003-20102-1709481600001-1-a4");
    assert_int_equal(i->signal_count, 1);
    assert_int_equal(i->opened_ms, INT64_C(1709481600001));
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-a1")->signal_count,
                     3);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 2);

    /* the +1 ms case directly, in another cell */
    rep(&h, "b1", 1, PROB, TK_CELL2, t0, 0, 0);
    rep(&h, "b2", 1, PROB, TK_CELL2, t0 + DAY_MS + 1, 0, 0);
    assert_int_equal(tk_must_incident(&h, "440902001002004-20102-1709222400000-1-b1")->signal_count,
                     1);
    assert_int_equal(tk_must_incident(&h, "440902001002004-20102-1709308800001-1-b2")->signal_count,
                     1);
    assert_int_equal(tk_metrics(&h)->incidents_opened, 4);
    assert_int_equal(tk_metrics(&h)->signals_merged, 2);
    tk_harness_fini(&h);
}

/* A late signal joins iff t ≥ opened_ms − 24 h (inclusive), measured from opened, not last. */
static void test_window_before_opened_inclusive(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    /* cell 1: opened t0, last t0 + 20 h; a signal at exactly t0 − 24 h joins */
    rep(&h, "a1", 1, PROB, TK_CELL, t0, 0, 0);
    rep(&h, "a2", 1, PROB, TK_CELL, t0 + 20 * HOUR_MS, 0, 0);
    rep(&h, "a3", 1, PROB, TK_CELL, t0 - DAY_MS, 0, 0);
    const Gridstream__V1__Incident *i =
        tk_must_incident(&h, "440902001002003-20102-1709222400000-1-a1");
    assert_int_equal(i->signal_count, 3);
    assert_int_equal(i->opened_ms, INT64_C(1709222400000));      /* opened_ms is not moved back */
    assert_int_equal(i->last_signal_ms, INT64_C(1709294400000)); /* t0 + 20 h */
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 1);

    /* cell 2: same shape, the late signal 1 ms earlier than opened − 24 h opens its own */
    rep(&h, "b1", 1, PROB, TK_CELL2, t0, 0, 0);
    rep(&h, "b2", 1, PROB, TK_CELL2, t0 + 20 * HOUR_MS, 0, 0);
    rep(&h, "b3", 1, PROB, TK_CELL2, t0 - DAY_MS - 1, 0, 0);
    assert_int_equal(tk_must_incident(&h, "440902001002004-20102-1709222400000-1-b1")->signal_count,
                     2);
    i = tk_must_incident(&h, "440902001002004-20102-1709135999999-1-b3");
    assert_int_equal(i->signal_count, 1);
    assert_int_equal(i->opened_ms, INT64_C(1709135999999));
    assert_int_equal(i->last_signal_ms, INT64_C(1709135999999));
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 3);
    tk_harness_fini(&h);
}

/* ≤ 50 m joins, > 50 m does not; north-south and east-west. */
static void test_distance_boundary(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    rep(&h, "a1", 1, PROB, TK_CELL, t0, LAT0, LON0);
    rep(&h, "a2", 1, PROB, TK_CELL, t0 + MIN_MS, north(49.9), LON0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-a1")->signal_count,
                     2);
    rep(&h, "a3", 1, PROB, TK_CELL, t0 + 2 * MIN_MS, north(50.1), LON0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-a1")->signal_count,
                     2);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222520000-1-a3")->signal_count,
                     1);

    /* tighter: 49.99 m joins, 50.01 m does not (south this time) */
    rep(&h, "b1", 1, 20103, TK_CELL, t0, LAT0, LON0);
    rep(&h, "b2", 1, 20103, TK_CELL, t0 + MIN_MS, north(-49.99), LON0);
    rep(&h, "b3", 1, 20103, TK_CELL, t0 + 2 * MIN_MS, north(-50.01), LON0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20103-1709222400000-1-b1")->signal_count,
                     2);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20103-1709222520000-1-b3")->signal_count,
                     1);

    /* along the parallel (needs the cos φ factor: 50.1 m east is 0.000486° of longitude) */
    rep(&h, "c1", 1, 20104, TK_CELL, t0, LAT0, LON0);
    rep(&h, "c2", 1, 20104, TK_CELL, t0 + MIN_MS, LAT0, east(49.9));
    rep(&h, "c3", 1, 20104, TK_CELL, t0 + 2 * MIN_MS, LAT0, east(50.1));
    assert_int_equal(tk_must_incident(&h, "440902001002003-20104-1709222400000-1-c1")->signal_count,
                     2);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20104-1709222520000-1-c3")->signal_count,
                     1);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 6);
    tk_harness_fini(&h);
}

/* The distance is to the incident's first signal, not its latest one. */
static void test_distance_from_first_signal(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    rep(&h, "a1", 1, PROB, TK_CELL, t0, LAT0, LON0);
    rep(&h, "a2", 1, PROB, TK_CELL, t0 + MIN_MS, north(40), LON0);
    /* 40 m from a2 but 80 m from a1: new incident */
    rep(&h, "a3", 1, PROB, TK_CELL, t0 + 2 * MIN_MS, north(80), LON0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-a1")->signal_count,
                     2);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222520000-1-a3")->signal_count,
                     1);
    tk_harness_fini(&h);
}

/* lat = lon = 0 exactly is "no position" (distance 0) on either side; lat = 0 alone is not. */
static void test_no_position(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    /* incident without position, signal far away: joins */
    rep(&h, "a1", 1, 20101, TK_CELL, t0, 0.0, 0.0);
    rep(&h, "a2", 1, 20101, TK_CELL, t0 + MIN_MS, 30.0, 100.0);
    /* ... and stays at distance 0 for a third signal 1 km from the second */
    rep(&h, "a3", 1, 20101, TK_CELL, t0 + 2 * MIN_MS, 30.009, 100.0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20101-1709222400000-1-a1")->signal_count,
                     3);

    /* incident with position, signal without: joins */
    rep(&h, "b1", 1, 20102, TK_CELL, t0, LAT0, LON0);
    rep(&h, "b2", 1, 20102, TK_CELL, t0 + MIN_MS, 0.0, 0.0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-b1")->signal_count,
                     2);

    /* lat 0 with lon ≠ 0 is a position: 0.001° north on the equator is 111.2 m away */
    rep(&h, "c1", 1, 20103, TK_CELL, t0, 0.0, LON0);
    rep(&h, "c2", 1, 20103, TK_CELL, t0 + MIN_MS, 0.001, LON0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20103-1709222400000-1-c1")->signal_count,
                     1);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20103-1709222460000-1-c2")->signal_count,
                     1);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 4);
    tk_harness_fini(&h);
}

/* Different problem or different cell never join, even at the same place and time. */
static void test_other_problem_or_cell_never_joins(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    rep(&h, "r1", 1, 20102, TK_CELL, TK_T0, LAT0, LON0);
    rep(&h, "r2", 1, 20103, TK_CELL, TK_T0, LAT0, LON0);
    rep(&h, "r3", 1, 20102, TK_CELL2, TK_T0, LAT0, LON0);
    rep(&h, "r4", 1, 20103, TK_CELL, TK_T0, 0, 0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-r1")->signal_count,
                     1);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20103-1709222400000-1-r2")->signal_count,
                     2);
    assert_int_equal(tk_must_incident(&h, "440902001002004-20102-1709222400000-1-r3")->signal_count,
                     1);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 3);
    assert_int_equal(tk_metrics(&h)->signals_merged, 1);
    tk_harness_fini(&h);
}

/* CLOSED and REJECTED (by latest stage) are not candidates; a later REWORK reopens. */
static void test_closed_rejected_not_candidates(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;

    /* CLOSED: the next signal opens a new incident */
    rep(&h, "a1", 1, 20101, TK_CELL, t0, 0, 0);
    assert_int_equal(tk_apply_case(&h, "ka", ST_FILED, 1, "a1", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_OK);
    assert_int_equal(tk_apply_case(&h, "ka", ST_CLOSED, 1, "a1", t0 + HOUR_MS, 0, NULL), GS_OK);
    rep(&h, "a2", 1, 20101, TK_CELL, t0 + 2 * HOUR_MS, 0, 0);
    const Gridstream__V1__Incident *i =
        tk_must_incident(&h, "440902001002003-20101-1709222400000-1-a1");
    assert_int_equal(i->stage, ST_CLOSED);
    assert_int_equal(i->signal_count, 1);
    assert_int_equal(i->closed_ms, INT64_C(1709226000000));
    assert_int_equal(tk_must_incident(&h, "440902001002003-20101-1709229600000-1-a2")->signal_count,
                     1);

    /* REJECTED: same */
    rep(&h, "b1", 1, 20102, TK_CELL, t0, 0, 0);
    assert_int_equal(tk_apply_case(&h, "kb", ST_REJECTED, 1, "b1", t0 + HOUR_MS, 0, NULL), GS_OK);
    rep(&h, "b2", 1, 20102, TK_CELL, t0 + 2 * HOUR_MS, 0, 0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-b1")->stage,
                     ST_REJECTED);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-b1")->signal_count,
                     1);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709229600000-1-b2")->signal_count,
                     1);

    /* REWORK timed after CLOSED: stage REWORK, joinable again */
    rep(&h, "c1", 1, 20103, TK_CELL, t0, 0, 0);
    tk_apply_case(&h, "kc", ST_CLOSED, 1, "c1", t0 + HOUR_MS, 0, NULL);
    tk_apply_case(&h, "kc", ST_REWORK, 1, "c1", t0 + 90 * MIN_MS, 0, NULL);
    rep(&h, "c2", 1, 20103, TK_CELL, t0 + 2 * HOUR_MS, 0, 0);
    i = tk_must_incident(&h, "440902001002003-20103-1709222400000-1-c1");
    assert_int_equal(i->stage, ST_REWORK);
    assert_int_equal(i->signal_count, 2);
    assert_int_equal(i->closed_ms, INT64_C(1709226000000)); /* REWORK clears nothing */
    assert_null(tk_incident(&h.cap, "440902001002003-20103-1709229600000-1-c2"));

    /* REWORK timed before CLOSED (arriving after it): the stage stays CLOSED, not joinable */
    rep(&h, "d1", 1, 20104, TK_CELL, t0, 0, 0);
    tk_apply_case(&h, "kd", ST_CLOSED, 1, "d1", t0 + HOUR_MS, 0, NULL);
    tk_apply_case(&h, "kd", ST_REWORK, 1, "d1", t0 + 30 * MIN_MS, 0, NULL);
    rep(&h, "d2", 1, 20104, TK_CELL, t0 + 2 * HOUR_MS, 0, 0);
    i = tk_must_incident(&h, "440902001002003-20104-1709222400000-1-d1");
    assert_int_equal(i->stage, ST_CLOSED);
    assert_int_equal(i->rework_count, 1);
    assert_int_equal(i->signal_count, 1);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20104-1709229600000-1-d2")->signal_count,
                     1);

    /* a DISPATCHED (not CLOSED/REJECTED) incident is still a candidate */
    rep(&h, "e1", 1, 20105, TK_CELL, t0, 0, 0);
    tk_apply_case(&h, "ke", ST_DISPATCHED, 1, "e1", t0 + HOUR_MS, 0, "环卫处");
    rep(&h, "e2", 1, 20105, TK_CELL, t0 + 2 * HOUR_MS, 0, 0);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20105-1709222400000-1-e1")->signal_count,
                     2);
    tk_harness_fini(&h);
}

/* Nearer candidate wins over an earlier-opened one. */
static void test_tie_nearer_wins(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    const char *a = "440902001002003-20102-1709222400000-1-a";
    const char *b = "440902001002003-20102-1709222460000-1-b";
    rep(&h, "a", 1, PROB, TK_CELL, t0, LAT0, LON0);
    rep(&h, "b", 1, PROB, TK_CELL, t0 + MIN_MS, north(80), LON0); /* 80 m: own incident */
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 2);
    /* 45 m from a, 35 m from b: b */
    rep(&h, "s1", 1, PROB, TK_CELL, t0 + 2 * MIN_MS, north(45), LON0);
    assert_int_equal(tk_must_incident(&h, a)->signal_count, 1);
    assert_int_equal(tk_must_incident(&h, b)->signal_count, 2);
    /* 35 m from a, 45 m from b: a */
    rep(&h, "s2", 1, PROB, TK_CELL, t0 + 3 * MIN_MS, north(35), LON0);
    assert_int_equal(tk_must_incident(&h, a)->signal_count, 2);
    assert_int_equal(tk_must_incident(&h, b)->signal_count, 2);
    tk_harness_fini(&h);
}

/* Equal distance: the earliest opened wins (not the first created); no position = distance 0. */
static void test_tie_earliest_opened_and_no_position_nearest(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    const char *a = "440902001002003-20102-1709132400000-1-a1"; /* t0 − 25 h */
    const char *b = "440902001002003-20102-1709222400000-1-b1";
    rep(&h, "a1", 1, PROB, TK_CELL, t0 - 25 * HOUR_MS, LAT0, LON0);
    /* 25 h after a's last signal: b opens its own incident, without position */
    rep(&h, "b1", 1, PROB, TK_CELL, t0, 0, 0);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 2);
    /* at t0 − 1 h at a's place: both candidates at distance 0 (b has no position): a opened
       earlier */
    rep(&h, "a2", 1, PROB, TK_CELL, t0 - HOUR_MS, LAT0, LON0);
    assert_int_equal(tk_must_incident(&h, a)->signal_count, 2);
    assert_int_equal(tk_must_incident(&h, a)->last_signal_ms, INT64_C(1709218800000));
    assert_int_equal(tk_must_incident(&h, b)->signal_count, 1);
    /* 10 m from a's first signal; b is at distance 0 and wins although a opened earlier */
    rep(&h, "s", 1, PROB, TK_CELL, t0 + MIN_MS, north(10), LON0);
    assert_int_equal(tk_must_incident(&h, a)->signal_count, 2);
    assert_int_equal(tk_must_incident(&h, b)->signal_count, 2);
    assert_int_equal(tk_must_incident(&h, b)->last_signal_ms, INT64_C(1709222460000));
    tk_harness_fini(&h);
}

/* Earliest opened wins although the other incident was created first. */
static void test_tie_earliest_opened_not_arrival(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    rep(&h, "b", 1, PROB, TK_CELL, t0, LATS + DLAT, LON0);          /* created first */
    rep(&h, "a", 1, PROB, TK_CELL, t0 - MIN_MS, LATS - DLAT, LON0); /* 54 m away: own incident */
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 2);
    rep(&h, "s", 1, PROB, TK_CELL, t0 + MIN_MS, LATS, LON0); /* 27.1 m from both */
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222340000-1-a")->signal_count,
                     2);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-b")->signal_count,
                     1);
    tk_harness_fini(&h);
}

/* Equal distance and opening time: the smaller incident_id as bytes ("…-r10" < "…-r9"). */
static void test_tie_smallest_id_bytes(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    rep(&h, "r9", 1, PROB, TK_CELL, t0, LAT0, LON0);
    rep(&h, "r10", 1, PROB, TK_CELL, t0, north(80), LON0);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 2);
    rep(&h, "s", 1, PROB, TK_CELL, t0 + MIN_MS, 0, 0);
    assert_int_equal(
        tk_must_incident(&h, "440902001002003-20102-1709222400000-1-r10")->signal_count, 2);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20102-1709222400000-1-r9")->signal_count,
                     1);

    /* same with the channel digit deciding: "…-1-z" < "…-7-a" */
    rep(&h, "a", 7, 20103, TK_CELL, t0, LATS - DLAT, LON0);
    rep(&h, "z", 1, 20103, TK_CELL, t0, LATS + DLAT, LON0);
    rep(&h, "s2", 8, 20103, TK_CELL, t0 + MIN_MS, LATS, LON0); /* 27.1 m from both */
    assert_int_equal(tk_must_incident(&h, "440902001002003-20103-1709222400000-1-z")->signal_count,
                     2);
    assert_int_equal(tk_must_incident(&h, "440902001002003-20103-1709222400000-7-a")->signal_count,
                     1);
    tk_harness_fini(&h);
}

/* incident_id and `captured` for every channel, through reports, a sensor edge and video. */
static void test_incident_id_and_captured(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    static const struct {
        int ch;
        uint64_t cell;
        const char *rid, *id;
        bool captured;
    } rows[] = {
        {1, UINT64_C(440902001003001), "x1", "440902001003001-20102-1709222400000-1-x1", true},
        {4, UINT64_C(440902001003004), "x4", "440902001003004-20102-1709222400000-4-x4", true},
        {5, UINT64_C(440902001003005), "x5", "440902001003005-20102-1709222400000-5-x5", true},
        {6, UINT64_C(440902001003006), "x6", "440902001003006-20102-1709222400000-6-x6", true},
        {7, UINT64_C(440902001003007), "x7", "440902001003007-20102-1709222400000-7-x7", false},
        {8, UINT64_C(440902001003008), "x8", "440902001003008-20102-1709222400000-8-x8", false},
        {9, UINT64_C(440902001003009), "x9", "440902001003009-20102-1709222400000-9-x9", false},
    };
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        assert_int_equal(rep(&h, rows[k].rid, rows[k].ch, PROB, rows[k].cell, t0, 0, 0), GS_OK);
        const Gridstream__V1__Incident *i = tk_must_incident(&h, rows[k].id);
        assert_int_equal(i->first_channel, rows[k].ch);
        assert_int_equal(i->captured, rows[k].captured);
        assert_int_equal(i->channel_mask, 1u << rows[k].ch);
        assert_int_equal(i->cell, rows[k].cell);
    }

    /* sensor: MANHOLE_COVER alarm edge -> 10101, channel 3, signal id "sensor_id:seq" */
    tk_ev_t e;
    tk_apply(&h, tk_sensor(&e, "MH-7", 1, 2, 42, UINT64_C(440902001003003), t0 + 1));
    const Gridstream__V1__Incident *i =
        tk_must_incident(&h, "440902001003003-10101-1709222400001-3-MH-7:42");
    assert_int_equal(i->first_channel, 3);
    assert_true(i->captured);
    assert_int_equal(i->channel_mask, 8);
    assert_int_equal(i->problem_code, 10101);

    /* video: alarm 890 (暴露垃圾 20102), the third detection within 60 s is the signal */
    const uint64_t vc = UINT64_C(440902001003002);
    tk_apply(&h, tk_video(&e, "v1", "cam1", 890, 0.9f, vc, t0));
    tk_apply(&h, tk_video(&e, "v2", "cam1", 890, 0.9f, vc, t0 + 10000));
    tk_apply(&h, tk_video(&e, "v3", "cam1", 890, 0.9f, vc, t0 + 20000));
    i = tk_must_incident(&h, "440902001003002-20102-1709222420000-2-v3");
    assert_int_equal(i->first_channel, 2);
    assert_true(i->captured);
    assert_int_equal(i->channel_mask, 4);
    assert_int_equal(i->opened_ms, INT64_C(1709222420000));
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 9);

    /* KPI captured: 6 of the 9 cells' incidents; check two CELL HOUR records */
    gs_task_finish(h.task);
    tk_flush(&h);
    const Gridstream__V1__KpiRecord *k = tk_kpi(&h.cap, "1:440902001003007:1:1709222400000");
    assert_non_null(k);
    assert_int_equal(k->incidents, 1);
    assert_int_equal(k->captured, 0);
    assert_true(k->capture_rate == 0.0);
    k = tk_kpi(&h.cap, "1:440902001003006:1:1709222400000");
    assert_non_null(k);
    assert_int_equal(k->captured, 1);
    assert_true(k->capture_rate == 1.0);
    tk_harness_fini(&h);
}

/* A case event that references a merged (not the first) signal finds the incident. */
static void test_case_ref_to_merged_signal(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    const char *id = "440902001002003-10101-1709222400000-1-r1";
    rep(&h, "r1", 1, 10101, TK_CELL, t0, 0, 0);
    rep(&h, "h2", 7, 10101, TK_CELL, t0 + MIN_MS, 0, 0);
    tk_ev_t e;
    tk_apply(&h, tk_sensor(&e, "MH-1", 1, 2, 5, TK_CELL, t0 + 2 * MIN_MS));
    const Gridstream__V1__Incident *i = tk_must_incident(&h, id);
    assert_int_equal(i->signal_count, 3);
    assert_int_equal(i->channel_mask, 2 + 8 + 128);

    assert_int_equal(tk_apply_case(&h, "c1", ST_FILED, 7, "h2", t0 + 3 * MIN_MS, t0 + DAY_MS, NULL),
                     GS_OK);
    i = tk_must_incident(&h, id);
    assert_int_equal(i->stage, ST_FILED);
    assert_int_equal(i->filed_ms, INT64_C(1709222580000));
    assert_int_equal(i->deadline_ms, INT64_C(1709308800000));
    assert_int_equal(
        tk_apply_case(&h, "c1", ST_DISPATCHED, 3, "MH-1:5", t0 + 4 * MIN_MS, 0, "市政"), GS_OK);
    i = tk_must_incident(&h, id);
    assert_int_equal(i->stage, ST_DISPATCHED);
    assert_string_equal(i->department, "市政");
    /* the merged signal's id with the wrong channel is not a reference */
    assert_int_equal(tk_apply_case(&h, "c1", ST_CLOSED, 1, "h2", t0 + 5 * MIN_MS, 0, NULL),
                     GS_ERR_UNKNOWN_REF);
    assert_int_equal(tk_must_incident(&h, id)->closed_ms, 0);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 1);
    tk_harness_fini(&h);
}

/*
 * One incident_id is one incident. The signal that opened an incident, delivered again after its
 * dedup entry is forgotten (watermark > t0 + 2 × TTL) and the incident is no longer kept for
 * joining (watermark > last + 24 h + TTL), must not open a second incident under the same id:
 * that would re-emit the key with a fresh state (stage 0) over the filed one and count the
 * incident twice in its KPI windows. (tests/reference/reference.py drops such a signal.)
 */
static void test_redelivered_opening_signal_keeps_one_incident(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    tk_only_source(&h, GS_SRC_REPORTS);
    const int64_t t0 = TK_T0;
    const char *id = "440902001002003-20102-1709222400000-1-r1";
    rep(&h, "r1", 1, PROB, TK_CELL, t0, 0, 0);
    assert_int_equal(tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_OK);
    rep(&h, "far", 1, PROB, TK_CELL2, t0 + 15 * DAY_MS, 0, 0);
    assert_int_equal(gs_task_watermark(h.task), t0 + 15 * DAY_MS - 5 * MIN_MS);
    /* the same report again */
    rep(&h, "r1", 1, PROB, TK_CELL, t0, 0, 0);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, id);
    assert_int_equal(i->stage, ST_FILED);
    assert_int_equal(i->filed_ms, INT64_C(1709222460000));
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 2);
    assert_int_equal(tk_metrics(&h)->incidents_opened, 2);
    tk_flush(&h);
    const Gridstream__V1__KpiRecord *k = tk_kpi(&h.cap, "1:440902001002003:1:1709222400000");
    assert_non_null(k);
    assert_int_equal(k->incidents, 1);
    assert_int_equal(k->filed, 1);
    tk_harness_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_same_cell_problem),
        cmocka_unit_test(test_window_after_last_inclusive),
        cmocka_unit_test(test_window_before_opened_inclusive),
        cmocka_unit_test(test_distance_boundary),
        cmocka_unit_test(test_distance_from_first_signal),
        cmocka_unit_test(test_no_position),
        cmocka_unit_test(test_other_problem_or_cell_never_joins),
        cmocka_unit_test(test_closed_rejected_not_candidates),
        cmocka_unit_test(test_tie_nearer_wins),
        cmocka_unit_test(test_tie_earliest_opened_and_no_position_nearest),
        cmocka_unit_test(test_tie_earliest_opened_not_arrival),
        cmocka_unit_test(test_tie_smallest_id_bytes),
        cmocka_unit_test(test_incident_id_and_captured),
        cmocka_unit_test(test_case_ref_to_merged_signal),
        cmocka_unit_test(test_redelivered_opening_signal_keeps_one_incident),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
