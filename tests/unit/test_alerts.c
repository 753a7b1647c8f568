/*
 * test_alerts.c - unit tests of the alerts (SPEC §8, §11 Alerts; operators/alerts.c and the
 * OVERDUE timers and REPEATED_REWORK of task.c / incident.c): HOTSPOT (the threshold, the
 * half-open window (t − 1 h, t], any problem and any stage, counting by opening time, suppression
 * and re-firing), CRITICAL (the two fixed codes and a configured one), REPEATED_REWORK (at the
 * second REWORK only) and OVERDUE (strictly past the deadline, not when rectified or rejected,
 * and right after a filing whose deadline is already behind the watermark).
 *
 * Expected values are computed by hand from SPEC and docs/SPEC-READINGS.md.
 */
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

enum { K_HOTSPOT = 1, K_CRITICAL = 2, K_OVERDUE = 3, K_REWORK = 4 };
enum {
    ST_FILED = 1,
    ST_REJECTED = 2,
    ST_DISPATCHED = 3,
    ST_RECTIFIED = 4,
    ST_REWORK = 6,
    ST_CLOSED = 7
};

static gs_err_t rep(tk_harness_t *h, const char *id, uint32_t prob, uint64_t cell, int64_t t)
{
    tk_ev_t e;
    return tk_apply(h, tk_report(&e, id, 1, prob, cell, t));
}

static gs_err_t cas(tk_harness_t *h, const char *case_id, int stage, const char *ref_id, int64_t t,
                    int64_t deadline)
{
    tk_ev_t e;
    return tk_apply(h, tk_case(&e, case_id, stage, 1, ref_id, TK_CELL, t, deadline, NULL));
}

/* The alert with this id, asserting it was emitted exactly once. */
static const Gridstream__V1__Alert *alert_once(tk_harness_t *h, const char *id)
{
    if (tk_count_key(&h->cap, GS_OUT_ALERTS, id) != 1)
        fail_msg("alert %s emitted %zu times", id, tk_count_key(&h->cap, GS_OUT_ALERTS, id));
    const Gridstream__V1__Alert *a = tk_alert(&h->cap, id);
    assert_non_null(a);
    assert_string_equal(a->alert_id, id);
    return a;
}

/* HOTSPOT exactly at the 5th incident of a cell within the hour; merged signals and other cells'
   incidents do not count. */
static void test_hotspot_at_fifth_incident(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    rep(&h, "h1", 20101, TK_CELL, t0);
    rep(&h, "h2", 20102, TK_CELL, t0 + 10 * MIN_MS);
    rep(&h, "h3", 20103, TK_CELL, t0 + 20 * MIN_MS);
    rep(&h, "h4", 20104, TK_CELL, t0 + 30 * MIN_MS);
    /* noise: a signal merged into h1's incident, and three incidents of the neighbour cell */
    rep(&h, "m1", 20101, TK_CELL, t0 + 35 * MIN_MS);
    rep(&h, "n1", 20101, TK_CELL2, t0 + 31 * MIN_MS);
    rep(&h, "n2", 20102, TK_CELL2, t0 + 32 * MIN_MS);
    rep(&h, "n3", 20103, TK_CELL2, t0 + 33 * MIN_MS);
    assert_int_equal(tk_metrics(&h)->signals_merged, 1);
    assert_int_equal(tk_count(&h.cap, GS_OUT_ALERTS), 0);

    rep(&h, "h5", 20105, TK_CELL, t0 + 40 * MIN_MS);
    assert_int_equal(tk_count(&h.cap, GS_OUT_ALERTS), 1);
    const Gridstream__V1__Alert *a = alert_once(&h, "HOTSPOT:440902001002003:1709224800000");
    assert_int_equal(a->kind, K_HOTSPOT);
    assert_int_equal(a->cell, TK_CELL);
    assert_string_equal(a->incident_id, "440902001002003-20105-1709224800000-1-h5");
    assert_int_equal(a->event_time_ms, INT64_C(1709224800000));
    assert_int_equal(a->problem_code, 20105);
    assert_int_equal(a->count, 5);
    assert_int_equal(tk_metrics(&h)->alerts[K_HOTSPOT], 1);
    tk_harness_fini(&h);
}

/* An incident exactly 1 h earlier is outside the window; a CLOSED incident still counts. */
static void test_hotspot_window_lower_bound_exclusive(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    rep(&h, "h1", 20101, TK_CELL, t0);
    rep(&h, "h2", 20102, TK_CELL, t0 + 20 * MIN_MS);
    rep(&h, "h3", 20103, TK_CELL, t0 + 30 * MIN_MS);
    rep(&h, "h4", 20104, TK_CELL, t0 + 40 * MIN_MS);
    cas(&h, "k2", ST_CLOSED, "h2", t0 + 50 * MIN_MS, 0);
    /* (t0, t0 + 60 min]: h2, h3, h4, h5 = 4 */
    rep(&h, "h5", 20105, TK_CELL, t0 + 60 * MIN_MS);
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 0);
    /* (t0 + 1 min, t0 + 61 min]: h2 (closed), h3, h4, h5, h6 = 5 */
    rep(&h, "h6", 20106, TK_CELL, t0 + 61 * MIN_MS);
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 1);
    const Gridstream__V1__Alert *a = alert_once(&h, "HOTSPOT:440902001002003:1709226060000");
    assert_int_equal(a->count, 5);
    assert_int_equal(a->event_time_ms, INT64_C(1709226060000));
    assert_int_equal(a->problem_code, 20106);
    assert_string_equal(a->incident_id, "440902001002003-20106-1709226060000-1-h6");
    tk_harness_fini(&h);
}

/* The window is by opening time: a late incident does not see later ones; count = the number. */
static void test_hotspot_counts_by_open_time(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    rep(&h, "h1", 20101, TK_CELL, t0 + 10 * MIN_MS);
    rep(&h, "h2", 20102, TK_CELL, t0 + 20 * MIN_MS);
    rep(&h, "h3", 20103, TK_CELL, t0 + 30 * MIN_MS);
    rep(&h, "h4", 20104, TK_CELL, t0 + 40 * MIN_MS);
    /* late: (t0 − 55 min, t0 + 5 min] holds only itself */
    rep(&h, "h5", 20105, TK_CELL, t0 + 5 * MIN_MS);
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 0);
    /* (t0 − 10 min, t0 + 50 min]: +5, +10, +20, +30, +40, +50 = 6 */
    rep(&h, "h6", 20106, TK_CELL, t0 + 50 * MIN_MS);
    const Gridstream__V1__Alert *a = alert_once(&h, "HOTSPOT:440902001002003:1709225400000");
    assert_int_equal(a->count, 6);
    assert_string_equal(a->incident_id, "440902001002003-20106-1709225400000-1-h6");
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 1);
    tk_harness_fini(&h);
}

/* Suppressed while a HOTSPOT lies in (t − 1 h, t]; fires again once it is ≥ 1 h old. */
static void test_hotspot_suppression_and_refire(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    static const int64_t mins[] = {0, 5, 10, 15, 20, 30, 40, 50, 60, 70};
    char rid[16];
    for (int k = 0; k < 10; k++) {
        snprintf(rid, sizeof(rid), "h%d", k + 1);
        rep(&h, rid, 20101 + (uint32_t)k, TK_CELL, t0 + mins[k] * MIN_MS);
        /* the 5th (t0 + 20 min) fires; the next five are suppressed */
        assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), k >= 4 ? 1 : 0);
    }
    const Gridstream__V1__Alert *a = alert_once(&h, "HOTSPOT:440902001002003:1709223600000");
    assert_int_equal(a->count, 5);
    assert_string_equal(a->incident_id, "440902001002003-20105-1709223600000-1-h5");
    /* 1 ms before the hotspot is 1 h old: still suppressed */
    rep(&h, "h11", 20111, TK_CELL, t0 + 80 * MIN_MS - 1);
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 1);
    /* exactly 1 h after it: (t0 + 20 min, t0 + 80 min] holds 30, 40, 50, 60, 70, 80−1ms, 80 */
    rep(&h, "h12", 20112, TK_CELL, t0 + 80 * MIN_MS);
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 2);
    a = alert_once(&h, "HOTSPOT:440902001002003:1709227200000");
    assert_int_equal(a->count, 7);
    assert_int_equal(a->event_time_ms, INT64_C(1709227200000));
    assert_int_equal(a->problem_code, 20112);
    assert_string_equal(a->incident_id, "440902001002003-20112-1709227200000-1-h12");
    /* another incident at the same instant: suppressed by the new hotspot, no second id */
    rep(&h, "h13", 20113, TK_CELL, t0 + 80 * MIN_MS);
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 2);
    alert_once(&h, "HOTSPOT:440902001002003:1709227200000");
    tk_harness_fini(&h);
}

/* Only a HOTSPOT timed in (t − 1 h, t] suppresses: one timed after a late incident does not. */
static void test_hotspot_later_hotspot_does_not_suppress(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    rep(&h, "h1", 20101, TK_CELL, t0);
    rep(&h, "h2", 20102, TK_CELL, t0 + 10 * MIN_MS);
    rep(&h, "h3", 20103, TK_CELL, t0 + 20 * MIN_MS);
    rep(&h, "h4", 20104, TK_CELL, t0 + 30 * MIN_MS);
    rep(&h, "h5", 20105, TK_CELL, t0 + 40 * MIN_MS);
    alert_once(&h, "HOTSPOT:440902001002003:1709224800000");
    /* late, at t0 + 35 min: (t0 − 25 min, t0 + 35 min] holds 0, 10, 20, 30, 35 = 5 incidents and
       no hotspot (the one at t0 + 40 min is after t) */
    rep(&h, "h6", 20106, TK_CELL, t0 + 35 * MIN_MS);
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 2);
    const Gridstream__V1__Alert *a = alert_once(&h, "HOTSPOT:440902001002003:1709224500000");
    assert_int_equal(a->count, 5);
    assert_int_equal(a->event_time_ms, INT64_C(1709224500000));
    assert_string_equal(a->incident_id, "440902001002003-20106-1709224500000-1-h6");
    tk_harness_fini(&h);
}

/*
 * HOTSPOT counts every incident of the cell applied so far (SPEC §11), however late: no limit on
 * lateness applies to alerts (tests/reference/reference.py keeps every open time too). Here the
 * watermark is at t0 + 8 d − 5 min and five incidents of a fresh cell arrive, opened at t0 .. t0 +
 * 4 min: the fifth has 5 incidents in (t0 − 56 min, t0 + 4 min] and no earlier HOTSPOT.
 */
static void test_hotspot_very_late_incidents(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    tk_only_source(&h, GS_SRC_REPORTS);
    const int64_t t0 = TK_T0;
    rep(&h, "far", 20102, TK_CELL2, t0 + 8 * DAY_MS);
    assert_int_equal(gs_task_watermark(h.task), t0 + 8 * DAY_MS - 5 * MIN_MS);
    char rid[16];
    for (int k = 0; k < 5; k++) {
        snprintf(rid, sizeof(rid), "l%d", k);
        rep(&h, rid, 20111 + (uint32_t)k, TK_CELL, t0 + k * MIN_MS);
    }
    assert_int_equal(tk_metrics(&h)->incidents_opened, 6);
    assert_int_equal(tk_count_alerts(&h.cap, K_HOTSPOT), 1);
    const Gridstream__V1__Alert *a = tk_alert(&h.cap, "HOTSPOT:440902001002003:1709222640000");
    assert_non_null(a);
    assert_int_equal(a->count, 5);
    assert_string_equal(a->incident_id, "440902001002003-20115-1709222640000-1-l4");
    tk_harness_fini(&h);
}

/* CRITICAL for 10101, 20401 and a configured code; once per incident, at opened_ms. */
static void test_critical(void **state)
{
    (void)state;
    gs_params_t p;
    gs_params_defaults(&p);
    char err[256];
    assert_int_equal(gs_params_set(&p, "alert.critical.codes", "20506", err, sizeof(err)), GS_OK);
    tk_harness_t h;
    tk_harness_init_params(&h, &p);
    const int64_t t0 = TK_T0;
    tk_ev_t e;

    rep(&h, "r1", 10101, TK_CELL, t0);
    const Gridstream__V1__Alert *a =
        alert_once(&h, "CRITICAL:440902001002003-10101-1709222400000-1-r1");
    assert_int_equal(a->kind, K_CRITICAL);
    assert_int_equal(a->cell, TK_CELL);
    assert_string_equal(a->incident_id, "440902001002003-10101-1709222400000-1-r1");
    assert_int_equal(a->event_time_ms, INT64_C(1709222400000));
    assert_int_equal(a->problem_code, 10101);
    assert_int_equal(a->count, 1);
    /* a signal merged into it raises nothing more */
    rep(&h, "r1b", 10101, TK_CELL, t0 + 2 * MIN_MS);
    assert_int_equal(tk_count_alerts(&h.cap, K_CRITICAL), 1);

    /* waterlogging sensor (kind 2) -> 20401 */
    tk_apply(&h, tk_sensor(&e, "W1", 2, 2, 5, TK_CELL, t0 + MIN_MS));
    a = alert_once(&h, "CRITICAL:440902001002003-20401-1709222460000-3-W1:5");
    assert_int_equal(a->event_time_ms, INT64_C(1709222460000));
    assert_int_equal(a->problem_code, 20401);
    assert_int_equal(a->count, 1);

    /* the configured code */
    rep(&h, "r3", 20506, TK_CELL2, t0 + 3 * MIN_MS);
    a = alert_once(&h, "CRITICAL:440902001002004-20506-1709222580000-1-r3");
    assert_int_equal(a->cell, TK_CELL2);
    assert_int_equal(a->problem_code, 20506);
    assert_int_equal(a->event_time_ms, INT64_C(1709222580000));

    /* not critical */
    rep(&h, "r4", 20102, TK_CELL2, t0 + 4 * MIN_MS);
    /* a late-opened critical incident: time = its opened_ms */
    rep(&h, "r5", 20401, TK_CELL2, t0 - HOUR_MS);
    a = alert_once(&h, "CRITICAL:440902001002004-20401-1709218800000-1-r5");
    assert_int_equal(a->event_time_ms, INT64_C(1709218800000));
    assert_int_equal(tk_count_alerts(&h.cap, K_CRITICAL), 4);
    assert_int_equal(tk_count(&h.cap, GS_OUT_ALERTS), 4);
    tk_harness_fini(&h);

    /* with the defaults 20506 is not critical */
    tk_harness_init(&h);
    rep(&h, "r3", 20506, TK_CELL2, t0);
    assert_int_equal(tk_count(&h.cap, GS_OUT_ALERTS), 0);
    tk_harness_fini(&h);
}

/* REPEATED_REWORK when rework_count reaches 2: not at 1, not again at 3. */
static void test_repeated_rework(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    const char *id = "440902001002003-20102-1709222400000-1-r1";
    rep(&h, "r1", 20102, TK_CELL, t0);
    cas(&h, "c1", ST_FILED, "r1", t0 + MIN_MS, t0 + DAY_MS);
    cas(&h, "c1", ST_RECTIFIED, "r1", t0 + 2 * HOUR_MS, 0);
    cas(&h, "c1", ST_REWORK, "r1", t0 + 3 * HOUR_MS, 0);
    assert_int_equal(tk_count_alerts(&h.cap, K_REWORK), 0);
    /* an exact duplicate of the first REWORK is dropped: still one */
    cas(&h, "c1", ST_REWORK, "r1", t0 + 3 * HOUR_MS, 0);
    assert_int_equal(tk_incident(&h.cap, id)->rework_count, 1);
    assert_int_equal(tk_count_alerts(&h.cap, K_REWORK), 0);

    cas(&h, "c1", ST_RECTIFIED, "r1", t0 + 4 * HOUR_MS, 0);
    cas(&h, "c1", ST_REWORK, "r1", t0 + 5 * HOUR_MS, 0);
    assert_int_equal(tk_count_alerts(&h.cap, K_REWORK), 1);
    const Gridstream__V1__Alert *a =
        alert_once(&h, "REWORK:440902001002003-20102-1709222400000-1-r1");
    assert_int_equal(a->kind, K_REWORK);
    assert_int_equal(a->cell, TK_CELL);
    assert_string_equal(a->incident_id, id);
    assert_int_equal(a->event_time_ms, INT64_C(1709240400000)); /* t0 + 5 h */
    assert_int_equal(a->problem_code, 20102);
    assert_int_equal(a->count, 2);

    cas(&h, "c1", ST_REWORK, "r1", t0 + 7 * HOUR_MS, 0);
    assert_int_equal(tk_incident(&h.cap, id)->rework_count, 3);
    assert_int_equal(tk_count_alerts(&h.cap, K_REWORK), 1);
    alert_once(&h, "REWORK:440902001002003-20102-1709222400000-1-r1");
    tk_harness_fini(&h);
}

/* OVERDUE when the watermark strictly exceeds the deadline of a filed, unrectified incident. */
static void test_overdue_basic(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    gs_task_set_idle(h.task, GS_SRC_VIDEO, true);
    const int64_t t0 = TK_T0;
    const char *id = "440902001002003-20102-1709222400000-1-r1";
    rep(&h, "r1", 20102, TK_CELL, t0);
    cas(&h, "c1", ST_FILED, "r1", t0 + MIN_MS, t0 + HOUR_MS);
    rep(&h, "r2", 20102, TK_CELL2, t0 + 65 * MIN_MS);
    cas(&h, "c1", ST_DISPATCHED, "r1", t0 + 65 * MIN_MS, 0);
    /* watermark = min(t0 + 65 min, t0 + 65 min) − 5 min = the deadline: not past it */
    assert_int_equal(gs_task_watermark(h.task), INT64_C(1709226000000));
    assert_int_equal(tk_count_alerts(&h.cap, K_OVERDUE), 0);
    rep(&h, "r3", 20102, TK_CELL2, t0 + 65 * MIN_MS + 1);
    assert_int_equal(tk_count_alerts(&h.cap, K_OVERDUE), 0); /* cases still hold it */
    cas(&h, "c1", ST_DISPATCHED, "r1", t0 + 65 * MIN_MS + 1, 0);
    assert_int_equal(gs_task_watermark(h.task), INT64_C(1709226000001));
    assert_int_equal(tk_count_alerts(&h.cap, K_OVERDUE), 1);
    const Gridstream__V1__Alert *a =
        alert_once(&h, "OVERDUE:440902001002003-20102-1709222400000-1-r1");
    assert_int_equal(a->kind, K_OVERDUE);
    assert_int_equal(a->cell, TK_CELL);
    assert_string_equal(a->incident_id, id);
    assert_int_equal(a->event_time_ms, INT64_C(1709226000000)); /* the deadline */
    assert_int_equal(a->problem_code, 20102);
    assert_int_equal(a->count, 1);
    /* a rectification after the fact changes nothing; end of input fires nothing more */
    cas(&h, "c1", ST_RECTIFIED, "r1", t0 + 70 * MIN_MS, 0);
    gs_task_finish(h.task);
    tk_flush(&h);
    assert_int_equal(tk_count_alerts(&h.cap, K_OVERDUE), 1);
    tk_harness_fini(&h);
}

/* No OVERDUE when rectified (even late) before the watermark passes, when REJECTED, or unfiled. */
static void test_overdue_only_filed_unrectified_not_rejected(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h); /* sensors and video never seen: the watermark stays −∞ until finish */
    const int64_t t0 = TK_T0;
    const int64_t dl = t0 + HOUR_MS;
    rep(&h, "a", 20101, TK_CELL, t0);
    cas(&h, "ca", ST_FILED, "a", t0 + MIN_MS, dl);
    cas(&h, "ca", ST_RECTIFIED, "a", t0 + 2 * HOUR_MS, 0); /* after the deadline */
    rep(&h, "b", 20102, TK_CELL, t0);
    cas(&h, "cb", ST_FILED, "b", t0 + MIN_MS, dl);
    cas(&h, "cb", ST_REJECTED, "b", t0 + 10 * MIN_MS, 0);
    rep(&h, "c", 20103, TK_CELL, t0);
    cas(&h, "cc", ST_FILED, "c", t0 + MIN_MS, dl);
    rep(&h, "d", 20104, TK_CELL, t0); /* never filed */
    cas(&h, "cd", ST_DISPATCHED, "d", t0 + MIN_MS, 0);
    assert_int_equal(gs_task_watermark(h.task), GS_TIME_MIN);
    assert_int_equal(tk_count_alerts(&h.cap, K_OVERDUE), 0);
    gs_task_finish(h.task);
    tk_flush(&h);
    assert_int_equal(tk_count_alerts(&h.cap, K_OVERDUE), 1);
    const Gridstream__V1__Alert *a =
        alert_once(&h, "OVERDUE:440902001002003-20103-1709222400000-1-c");
    assert_int_equal(a->event_time_ms, INT64_C(1709226000000));
    assert_int_equal(a->problem_code, 20103);
    assert_int_equal(a->count, 1);
    tk_harness_fini(&h);
}

/* A FILED whose deadline is already behind the watermark fires right after that record. */
static void test_overdue_right_after_late_filing(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    gs_task_set_idle(h.task, GS_SRC_VIDEO, true);
    const int64_t t0 = TK_T0;
    rep(&h, "r1", 20102, TK_CELL, t0);
    rep(&h, "r9", 20102, TK_CELL2, t0 + 3 * HOUR_MS);
    cas(&h, "c1", ST_DISPATCHED, "r1", t0 + 3 * HOUR_MS, 0);
    assert_int_equal(gs_task_watermark(h.task), INT64_C(1709232900000)); /* t0 + 175 min */
    /* late in the cases partition: filed at t0 + 1 min, deadline t0 + 1 h < watermark */
    cas(&h, "c1", ST_FILED, "r1", t0 + MIN_MS, t0 + HOUR_MS);
    assert_int_equal(tk_count_alerts(&h.cap, K_OVERDUE), 1);
    const Gridstream__V1__Alert *a =
        alert_once(&h, "OVERDUE:440902001002003-20102-1709222400000-1-r1");
    assert_int_equal(a->event_time_ms, INT64_C(1709226000000));
    tk_harness_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotspot_at_fifth_incident),
        cmocka_unit_test(test_hotspot_window_lower_bound_exclusive),
        cmocka_unit_test(test_hotspot_counts_by_open_time),
        cmocka_unit_test(test_hotspot_suppression_and_refire),
        cmocka_unit_test(test_hotspot_later_hotspot_does_not_suppress),
        cmocka_unit_test(test_hotspot_very_late_incidents),
        cmocka_unit_test(test_critical),
        cmocka_unit_test(test_repeated_rework),
        cmocka_unit_test(test_overdue_basic),
        cmocka_unit_test(test_overdue_only_filed_unrectified_not_rejected),
        cmocka_unit_test(test_overdue_right_after_late_filing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
