/*
 * test_lifecycle.c - unit tests of the case lifecycle (SPEC §6, §11 Lifecycle; operators/incident.c
 * gs_lifecycle_apply): FILED (first applied sets filed_ms and deadline_ms), the stage as the stage
 * of the latest event by event time with ties to the later arrival, DISPATCHED (last applied
 * wins), RECTIFIED and CLOSED (first applied wins), REWORK, VERIFIED and REJECTED, unknown
 * references (rejected, nothing changes, nothing registered, watermark not advanced), and the
 * reference keys of sensor and video signals.
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

enum {
    ST_FILED = 1,
    ST_REJECTED = 2,
    ST_DISPATCHED = 3,
    ST_RECTIFIED = 4,
    ST_VERIFIED = 5,
    ST_REWORK = 6,
    ST_CLOSED = 7
};

/* Incident of report "r1" (channel 1, problem 20102) in TK_CELL at TK_T0. */
#define ID1 "440902001002003-20102-1709222400000-1-r1"

/* A harness with incident ID1 opened. */
static void open_r1(tk_harness_t *h)
{
    tk_harness_init(h);
    tk_ev_t e;
    assert_int_equal(tk_apply(h, tk_report(&e, "r1", 1, 20102, TK_CELL, TK_T0)), GS_OK);
    assert_int_equal(tk_must_incident(h, ID1)->stage, 0); /* no case event yet: stage 0 */
}

/* The CELL HOUR KPI record of ID1's opening hour, after end of input. */
static const Gridstream__V1__KpiRecord *final_kpi(tk_harness_t *h)
{
    gs_task_finish(h->task);
    tk_flush(h);
    const Gridstream__V1__KpiRecord *k = tk_kpi(&h->cap, "1:440902001002003:1:1709222400000");
    assert_non_null(k);
    return k;
}

/* The first applied FILED sets filed_ms and deadline_ms; later ones (any time) change neither. */
static void test_filed_first_applied_wins(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    const int64_t t0 = TK_T0;
    assert_int_equal(tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_OK);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_FILED);
    assert_int_equal(i->filed_ms, INT64_C(1709222460000));
    assert_int_equal(i->deadline_ms, INT64_C(1709308800000));
    /* a later FILED with another deadline */
    assert_int_equal(
        tk_apply_case(&h, "c2", ST_FILED, 1, "r1", t0 + 2 * MIN_MS, t0 + 2 * DAY_MS, NULL), GS_OK);
    /* an earlier-timed FILED arriving last */
    assert_int_equal(tk_apply_case(&h, "c3", ST_FILED, 1, "r1", t0 + 30000, t0 + 3 * DAY_MS, NULL),
                     GS_OK);
    i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_FILED);
    assert_int_equal(i->filed_ms, INT64_C(1709222460000));
    assert_int_equal(i->deadline_ms, INT64_C(1709308800000));
    assert_int_equal(tk_metrics(&h)->case_events, 3);
    const Gridstream__V1__KpiRecord *k = final_kpi(&h);
    assert_int_equal(k->filed, 1);
    assert_true(k->filing_rate == 1.0);
    tk_harness_fini(&h);
}

/* stage = stage of the latest event by event time; equal times: the later arrival. */
static void test_stage_latest_event_time(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    const int64_t t0 = TK_T0;
    tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + DAY_MS, NULL);
    tk_apply_case(&h, "c1", ST_DISPATCHED, 1, "r1", t0 + 10 * MIN_MS, 0, "A");
    assert_int_equal(tk_must_incident(&h, ID1)->stage, ST_DISPATCHED);
    /* RECTIFIED timed before the DISPATCHED: its fields apply, the stage does not move */
    tk_apply_case(&h, "c1", ST_RECTIFIED, 1, "r1", t0 + 5 * MIN_MS, 0, NULL);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_DISPATCHED);
    assert_int_equal(i->rectified_ms, INT64_C(1709222700000));
    /* VERIFIED at the same time as the DISPATCHED, arriving later: VERIFIED */
    tk_apply_case(&h, "c1", ST_VERIFIED, 1, "r1", t0 + 10 * MIN_MS, 0, NULL);
    assert_int_equal(tk_must_incident(&h, ID1)->stage, ST_VERIFIED);
    /* and another DISPATCHED at that same time after it: DISPATCHED again */
    tk_apply_case(&h, "c2", ST_DISPATCHED, 1, "r1", t0 + 10 * MIN_MS, 0, "B");
    i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_DISPATCHED);
    assert_string_equal(i->department, "B");
    /* an exact duplicate of the VERIFIED (same case_id, stage, time) is dropped: no change */
    tk_apply_case(&h, "c1", ST_VERIFIED, 1, "r1", t0 + 10 * MIN_MS, 0, NULL);
    assert_int_equal(tk_must_incident(&h, ID1)->stage, ST_DISPATCHED);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    /* an older event never moves the stage back */
    tk_apply_case(&h, "c3", ST_VERIFIED, 1, "r1", t0 + 9 * MIN_MS, 0, NULL);
    assert_int_equal(tk_must_incident(&h, ID1)->stage, ST_DISPATCHED);
    tk_harness_fini(&h);
}

/* DISPATCHED sets department; the last applied wins (not the latest by time). */
static void test_dispatched_last_applied_wins(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    const int64_t t0 = TK_T0;
    tk_apply_case(&h, "c1", ST_DISPATCHED, 1, "r1", t0 + 2 * HOUR_MS, 0, "城管执法局");
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_string_equal(i->department, "城管执法局");
    assert_int_equal(i->stage, ST_DISPATCHED);
    tk_apply_case(&h, "c2", ST_DISPATCHED, 1, "r1", t0 + HOUR_MS, 0, "环卫处");
    i = tk_must_incident(&h, ID1);
    assert_string_equal(i->department, "环卫处");
    assert_int_equal(i->stage, ST_DISPATCHED);
    /* other stages leave the department alone */
    tk_apply_case(&h, "c1", ST_RECTIFIED, 1, "r1", t0 + 3 * HOUR_MS, 0, NULL);
    assert_string_equal(tk_must_incident(&h, ID1)->department, "环卫处");
    /* a DISPATCHED without department sets the event's (empty) value (READINGS: "to the event's
       value (last applied wins)") */
    tk_apply_case(&h, "c3", ST_DISPATCHED, 1, "r1", t0 + 4 * HOUR_MS, 0, NULL);
    assert_string_equal(tk_must_incident(&h, ID1)->department, "");
    tk_harness_fini(&h);
}

/*
 * The department is the event's value, whatever its length (SPEC §6 sets no limit and validation
 * none; tests/reference/reference.py keeps it whole). 1 ASCII byte + 100 × "处" (3 bytes) = 301
 * bytes; a cut at 255 bytes would also split a UTF-8 character (invalid proto3 string).
 */
static void test_long_department_kept_whole(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    char dept[1 + 100 * 3 + 1];
    dept[0] = 'D';
    for (int k = 0; k < 100; k++)
        memcpy(dept + 1 + 3 * k, "\xe5\xa4\x84", 3); /* 处 U+5904 */
    dept[sizeof(dept) - 1] = '\0';
    assert_int_equal(strlen(dept), 301);
    tk_apply_case(&h, "c1", ST_DISPATCHED, 1, "r1", TK_T0 + MIN_MS, 0, dept);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(strlen(i->department), 301);
    assert_string_equal(i->department, dept);
    tk_harness_fini(&h);
}

/* RECTIFIED and CLOSED: the first applied wins, even if a later one is timed earlier. */
static void test_rectified_closed_first_applied_wins(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    const int64_t t0 = TK_T0;
    tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + 4 * HOUR_MS, NULL);
    tk_apply_case(&h, "c1", ST_RECTIFIED, 1, "r1", t0 + 5 * HOUR_MS, 0, NULL);
    tk_apply_case(&h, "c2", ST_RECTIFIED, 1, "r1", t0 + 3 * HOUR_MS, 0, NULL);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(i->rectified_ms, INT64_C(1709240400000)); /* t0 + 5 h */
    assert_int_equal(i->stage, ST_RECTIFIED);
    tk_apply_case(&h, "c1", ST_CLOSED, 1, "r1", t0 + 8 * HOUR_MS, 0, NULL);
    tk_apply_case(&h, "c2", ST_CLOSED, 1, "r1", t0 + 7 * HOUR_MS, 0, NULL);
    i = tk_must_incident(&h, ID1);
    assert_int_equal(i->closed_ms, INT64_C(1709251200000)); /* t0 + 8 h */
    assert_int_equal(i->stage, ST_CLOSED);
    assert_int_equal(i->rectified_ms, INT64_C(1709240400000));
    assert_int_equal(i->deadline_ms, INT64_C(1709236800000)); /* t0 + 4 h */
    /* rectified at t0 + 5 h > deadline t0 + 4 h: rectified, not on time */
    const Gridstream__V1__KpiRecord *k = final_kpi(&h);
    assert_int_equal(k->filed, 1);
    assert_int_equal(k->rectified, 1);
    assert_int_equal(k->rectified_on_time, 0);
    assert_int_equal(k->closed, 1);
    assert_true(k->rectification_rate == 1.0);
    assert_true(k->timely_rate == 0.0);
    tk_harness_fini(&h);
}

/* rectified_ms ≤ deadline_ms is on time (inclusive). */
static void test_on_time_inclusive(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    const int64_t t0 = TK_T0;
    tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + 4 * HOUR_MS, NULL);
    tk_apply_case(&h, "c1", ST_RECTIFIED, 1, "r1", t0 + 4 * HOUR_MS, 0, NULL);
    const Gridstream__V1__KpiRecord *k = final_kpi(&h);
    assert_int_equal(k->rectified, 1);
    assert_int_equal(k->rectified_on_time, 1);
    assert_true(k->timely_rate == 1.0);
    tk_harness_fini(&h);
}

/* REWORK increments rework_count and clears nothing. */
static void test_rework_increments_clears_nothing(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    const int64_t t0 = TK_T0;
    tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + DAY_MS, NULL);
    tk_apply_case(&h, "c1", ST_DISPATCHED, 1, "r1", t0 + 10 * MIN_MS, 0, "X");
    tk_apply_case(&h, "c1", ST_RECTIFIED, 1, "r1", t0 + 2 * HOUR_MS, 0, NULL);
    tk_apply_case(&h, "c1", ST_CLOSED, 1, "r1", t0 + 150 * MIN_MS, 0, NULL);
    tk_apply_case(&h, "c1", ST_REWORK, 1, "r1", t0 + 3 * HOUR_MS, 0, NULL);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(i->rework_count, 1);
    assert_int_equal(i->stage, ST_REWORK);
    assert_int_equal(i->filed_ms, INT64_C(1709222460000));
    assert_int_equal(i->deadline_ms, INT64_C(1709308800000));
    assert_string_equal(i->department, "X");
    assert_int_equal(i->rectified_ms, INT64_C(1709229600000)); /* t0 + 2 h */
    assert_int_equal(i->closed_ms, INT64_C(1709231400000));    /* t0 + 150 min */
    /* a second RECTIFIED after the rework does not replace the first */
    tk_apply_case(&h, "c1", ST_RECTIFIED, 1, "r1", t0 + 4 * HOUR_MS, 0, NULL);
    i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_RECTIFIED);
    assert_int_equal(i->rectified_ms, INT64_C(1709229600000));
    tk_apply_case(&h, "c1", ST_REWORK, 1, "r1", t0 + 5 * HOUR_MS, 0, NULL);
    tk_apply_case(&h, "c1", ST_REWORK, 1, "r1", t0 + 6 * HOUR_MS, 0, NULL);
    i = tk_must_incident(&h, ID1);
    assert_int_equal(i->rework_count, 3);
    assert_int_equal(i->stage, ST_REWORK);
    const Gridstream__V1__KpiRecord *k = final_kpi(&h);
    assert_int_equal(k->reworked, 1); /* incidents with rework_count ≥ 1 */
    assert_int_equal(k->rectified, 1);
    assert_int_equal(k->closed, 1);
    tk_harness_fini(&h);
}

/* VERIFIED changes only the stage. */
static void test_verified_only_stage(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    const int64_t t0 = TK_T0;
    tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + DAY_MS, NULL);
    tk_apply_case(&h, "c1", ST_DISPATCHED, 1, "r1", t0 + 10 * MIN_MS, 0, "X");
    tk_apply_case(&h, "c1", ST_RECTIFIED, 1, "r1", t0 + 2 * HOUR_MS, 0, NULL);
    size_t before = tk_count(&h.cap, GS_OUT_INCIDENTS);
    tk_apply_case(&h, "c1", ST_VERIFIED, 1, "r1", t0 + 3 * HOUR_MS, 0, NULL);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), before + 1);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_VERIFIED);
    assert_int_equal(i->filed_ms, INT64_C(1709222460000));
    assert_int_equal(i->deadline_ms, INT64_C(1709308800000));
    assert_int_equal(i->rectified_ms, INT64_C(1709229600000));
    assert_int_equal(i->closed_ms, 0);
    assert_int_equal(i->rework_count, 0);
    assert_string_equal(i->department, "X");
    assert_int_equal(i->signal_count, 1);
    assert_int_equal(i->last_signal_ms, INT64_C(1709222400000));
    tk_harness_fini(&h);
}

/* REJECTED sets the stage and counts as rejected; FILED fields stay. */
static void test_rejected(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    const int64_t t0 = TK_T0;
    tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + DAY_MS, NULL);
    tk_apply_case(&h, "c1", ST_REJECTED, 1, "r1", t0 + 10 * MIN_MS, 0, NULL);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_REJECTED);
    assert_int_equal(i->filed_ms, INT64_C(1709222460000));
    assert_int_equal(i->closed_ms, 0);
    const Gridstream__V1__KpiRecord *k = final_kpi(&h);
    assert_int_equal(k->rejected, 1);
    assert_int_equal(k->filed, 1);
    assert_int_equal(k->incidents, 1);
    tk_harness_fini(&h);
}

/* Unknown reference: GS_ERR_UNKNOWN_REF, no change, no identity registered, no watermark move. */
static void test_unknown_ref_changes_nothing(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    gs_task_set_idle(h.task, GS_SRC_VIDEO, true);
    const int64_t t0 = TK_T0;
    tk_ev_t e;
    assert_int_equal(tk_apply_case(&h, "c1", ST_FILED, 1, "r1", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_OK);
    tk_apply(&h, tk_report(&e, "r2", 1, 20102, TK_CELL2, t0 + 3 * HOUR_MS));
    /* min(reports t0+3h, cases t0+1min) − 5 min */
    assert_int_equal(gs_task_watermark(h.task), INT64_C(1709222160000));
    size_t n_inc = tk_count(&h.cap, GS_OUT_INCIDENTS);

    assert_int_equal(tk_apply_case(&h, "c2", ST_CLOSED, 1, "nope", t0 + 2 * HOUR_MS, 0, NULL),
                     GS_ERR_UNKNOWN_REF);
    /* right id, wrong channel */
    assert_int_equal(tk_apply_case(&h, "c3", ST_CLOSED, 7, "r1", t0 + 2 * HOUR_MS, 0, NULL),
                     GS_ERR_UNKNOWN_REF);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), n_inc); /* nothing changed */
    assert_int_equal(gs_task_watermark(h.task), INT64_C(1709222160000));
    const gs_task_metrics_t *m = tk_metrics(&h);
    assert_int_equal(m->dlq[gs_reason_index(GS_ERR_UNKNOWN_REF)], 2);
    assert_int_equal(m->case_events, 1);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_FILED);
    assert_int_equal(i->closed_ms, 0);

    /* a valid case event advances the watermark: t0 + 2 h − 5 min */
    assert_int_equal(tk_apply_case(&h, "c1", ST_DISPATCHED, 1, "r1", t0 + 2 * HOUR_MS, 0, "X"),
                     GS_OK);
    assert_int_equal(gs_task_watermark(h.task), INT64_C(1709229300000));

    /* a case event rejected before its signal exists is not remembered as an identity */
    assert_int_equal(
        tk_apply_case(&h, "c9", ST_FILED, 1, "r5", t0 + 150 * MIN_MS, t0 + DAY_MS, NULL),
        GS_ERR_UNKNOWN_REF);
    tk_apply(&h, tk_report(&e, "r5", 1, 20103, TK_CELL2, t0 + 160 * MIN_MS));
    assert_int_equal(
        tk_apply_case(&h, "c9", ST_FILED, 1, "r5", t0 + 150 * MIN_MS, t0 + DAY_MS, NULL), GS_OK);
    i = tk_must_incident(&h, "440902001002004-20103-1709232000000-1-r5");
    assert_int_equal(i->stage, ST_FILED);
    assert_int_equal(i->filed_ms, INT64_C(1709231400000));
    assert_int_equal(m->duplicates_exact, 0);
    assert_int_equal(m->dlq[gs_reason_index(GS_ERR_UNKNOWN_REF)], 3);
    tk_harness_fini(&h);
}

/* Sensor signals are referenced as "sensor_id:seq" on channel SENSOR, video by detection_id. */
static void test_sensor_and_video_refs(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    tk_ev_t e;
    /* WATERLOGGING (2) -> 20401; ALARM = 2, NORMAL = 1 */
    tk_apply(&h, tk_sensor(&e, "S1", 2, 2, 42, TK_CELL, t0));
    const char *id = "440902001002003-20401-1709222400000-3-S1:42";
    assert_non_null(tk_incident(&h.cap, id));
    assert_int_equal(tk_apply_case(&h, "c1", ST_FILED, 3, "S1:42", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_OK);
    assert_int_equal(tk_must_incident(&h, id)->filed_ms, INT64_C(1709222460000));
    assert_int_equal(tk_apply_case(&h, "c2", ST_FILED, 3, "S1", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_ERR_UNKNOWN_REF);
    assert_int_equal(tk_apply_case(&h, "c2", ST_FILED, 1, "S1:42", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_ERR_UNKNOWN_REF);
    assert_int_equal(tk_apply_case(&h, "c2", ST_FILED, 3, "S1:042", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_ERR_UNKNOWN_REF);
    /* a new edge (NORMAL, then ALARM seq 44) joins the incident and is a reference too */
    tk_apply(&h, tk_sensor(&e, "S1", 2, 1, 43, TK_CELL, t0 + 5 * MIN_MS));
    tk_apply(&h, tk_sensor(&e, "S1", 2, 2, 44, TK_CELL, t0 + 10 * MIN_MS));
    assert_int_equal(tk_must_incident(&h, id)->signal_count, 2);
    assert_int_equal(
        tk_apply_case(&h, "c1", ST_DISPATCHED, 3, "S1:44", t0 + 11 * MIN_MS, 0, "排水"), GS_OK);
    assert_string_equal(tk_must_incident(&h, id)->department, "排水");
    /* ALARM after ALARM is no edge, hence no signal and no reference */
    tk_apply(&h, tk_sensor(&e, "S1", 2, 2, 45, TK_CELL, t0 + 12 * MIN_MS));
    assert_int_equal(tk_must_incident(&h, id)->signal_count, 2);
    assert_int_equal(tk_apply_case(&h, "c1", ST_RECTIFIED, 3, "S1:45", t0 + 13 * MIN_MS, 0, NULL),
                     GS_ERR_UNKNOWN_REF);
    /* seq 0 prints as "0" */
    tk_apply(&h, tk_sensor(&e, "S2", 1, 2, 0, TK_CELL2, t0));
    assert_int_equal(tk_apply_case(&h, "c5", ST_FILED, 3, "S2:0", t0 + MIN_MS, t0 + DAY_MS, NULL),
                     GS_OK);
    assert_int_equal(tk_must_incident(&h, "440902001002004-10101-1709222400000-3-S2:0")->stage,
                     ST_FILED);

    /* video: only the firing (third) detection is a signal id */
    tk_apply(&h, tk_video(&e, "v1", "cam1", 882, 0.75f, TK_CELL, t0));
    tk_apply(&h, tk_video(&e, "v2", "cam1", 882, 0.75f, TK_CELL, t0 + 30000));
    tk_apply(&h, tk_video(&e, "v3", "cam1", 882, 0.75f, TK_CELL, t0 + 60000));
    const char *vid = "440902001002003-20506-1709222460000-2-v3";
    assert_non_null(tk_incident(&h.cap, vid));
    assert_int_equal(tk_apply_case(&h, "c7", ST_FILED, 2, "v1", t0 + 2 * MIN_MS, t0 + DAY_MS, NULL),
                     GS_ERR_UNKNOWN_REF);
    assert_int_equal(tk_apply_case(&h, "c7", ST_FILED, 2, "v3", t0 + 2 * MIN_MS, t0 + DAY_MS, NULL),
                     GS_OK);
    assert_int_equal(tk_must_incident(&h, vid)->filed_ms, INT64_C(1709222520000));
    tk_harness_fini(&h);
}

/* The case event's own cell need not equal the incident's (READINGS). */
static void test_case_cell_need_not_match(void **state)
{
    (void)state;
    tk_harness_t h;
    open_r1(&h);
    tk_ev_t e;
    assert_int_equal(tk_apply(&h, tk_case(&e, "c1", ST_FILED, 1, "r1", TK_CELL2, TK_T0 + MIN_MS,
                                          TK_T0 + DAY_MS, NULL)),
                     GS_OK);
    const Gridstream__V1__Incident *i = tk_must_incident(&h, ID1);
    assert_int_equal(i->stage, ST_FILED);
    assert_int_equal(i->cell, TK_CELL);
    tk_harness_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filed_first_applied_wins),
        cmocka_unit_test(test_stage_latest_event_time),
        cmocka_unit_test(test_dispatched_last_applied_wins),
        cmocka_unit_test(test_long_department_kept_whole),
        cmocka_unit_test(test_rectified_closed_first_applied_wins),
        cmocka_unit_test(test_on_time_inclusive),
        cmocka_unit_test(test_rework_increments_clears_nothing),
        cmocka_unit_test(test_verified_only_stage),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_unknown_ref_changes_nothing),
        cmocka_unit_test(test_sensor_and_video_refs),
        cmocka_unit_test(test_case_cell_need_not_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
