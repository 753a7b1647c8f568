/*
 * test_task.c - unit tests of operators/task.c (task.h): the merge rule gs_merge_pick (SPEC §4),
 * the watermark (SPEC §7, §11 "Order and watermark", SPEC-READINGS "Tasks, merge order,
 * watermark"): -inf until every active partition has applied something, idle partitions left out,
 * monotone, +inf after finish, DLQ'd records not advancing it; unknown_ref case events registering
 * no identity; OVERDUE timers (SPEC §8, §11 "Alerts", SPEC-READINGS "Alerts"); and flush emitting
 * incidents with their latest state. Expected values are worked out by hand from those rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "task_int.h"
#include "testkit.h"

#define SEC INT64_C(1000)
#define MIN INT64_C(60000)
#define LAG (5 * MIN)

enum { CH_INSPECTOR = 1, CH_SENSOR = 3, CH_DRONE = 4 };
enum {
    FILED = 1,
    REJECTED = 2,
    DISPATCHED = 3,
    RECTIFIED = 4,
    VERIFIED = 5,
    REWORK = 6,
    CLOSED = 7
};
#define OVERDUE GRIDSTREAM__V1__ALERT_KIND__OVERDUE

static const char *iid(char *buf, uint64_t cell, uint32_t problem, int64_t t, int ch,
                       const char *sid)
{
    snprintf(buf, 256, "%llu-%u-%lld-%d-%s", (unsigned long long)cell, problem, (long long)t, ch,
             sid);
    return buf;
}

static gs_err_t rep(tk_harness_t *h, const char *id, uint64_t cell, int64_t t)
{
    tk_ev_t e;
    return tk_apply(h, tk_report(&e, id, CH_INSPECTOR, 20101, cell, t));
}

static gs_err_t cas(tk_harness_t *h, const char *case_id, int stage, const char *ref, int64_t t,
                    int64_t deadline)
{
    tk_ev_t e;
    return tk_apply(h, tk_case(&e, case_id, stage, CH_INSPECTOR, ref, TK_CELL, t, deadline, NULL));
}

static int64_t wm(const tk_harness_t *h)
{
    return gs_task_watermark(h->task);
}

/* The OVERDUE alert of the incident of report `sid` opened at t in cell; NULL if none. */
static const Gridstream__V1__Alert *overdue_of(const tk_harness_t *h, uint64_t cell, int64_t t,
                                               const char *sid)
{
    char id[256], key[300];
    iid(id, cell, 20101, t, CH_INSPECTOR, sid);
    snprintf(key, sizeof(key), "OVERDUE:%s", id);
    return tk_alert(&h->cap, key);
}

/* ---- merge ----------------------------------------------------------------------------------- */

static void test_merge_pick(void **state)
{
    (void)state;
    bool none[4] = {false, false, false, false}, all[4] = {true, true, true, true};
    int64_t t[4] = {100, 200, 300, 400};
    assert_int_equal(gs_merge_pick(t, none), -1);
    assert_int_equal(gs_merge_pick(t, all), 0);

    int64_t t1[4] = {500, 200, 300, 400};
    assert_int_equal(gs_merge_pick(t1, all), 1);
    int64_t t2[4] = {500, 600, 300, 400};
    assert_int_equal(gs_merge_pick(t2, all), 2);
    int64_t t3[4] = {500, 600, 700, 400};
    assert_int_equal(gs_merge_pick(t3, all), 3);

    /* ties: reports, then sensors, then video, then cases */
    int64_t tie[4] = {5, 5, 5, 5};
    assert_int_equal(gs_merge_pick(tie, all), 0);
    bool no0[4] = {false, true, true, true}, no01[4] = {false, false, true, true};
    bool only3[4] = {false, false, false, true};
    assert_int_equal(gs_merge_pick(tie, no0), 1);
    assert_int_equal(gs_merge_pick(tie, no01), 2);
    assert_int_equal(gs_merge_pick(tie, only3), 3);
    int64_t t4[4] = {10, 5, 5, 10};
    assert_int_equal(gs_merge_pick(t4, all), 1);
    int64_t t5[4] = {10, 10, 7, 7};
    assert_int_equal(gs_merge_pick(t5, all), 2);
    bool no2[4] = {true, true, false, true};
    assert_int_equal(gs_merge_pick(t5, no2), 3);

    /* a partition without a head is skipped even if its stale time is smaller */
    int64_t t6[4] = {1, 9, 8, 7};
    bool no_r[4] = {false, true, true, true};
    assert_int_equal(gs_merge_pick(t6, no_r), 3);

    /* undecodable records have merge time -inf and go first */
    int64_t t7[4] = {100, GS_TIME_MIN, 50, GS_TIME_MIN};
    assert_int_equal(gs_merge_pick(t7, all), 1);
    int64_t t8[4] = {GS_TIME_MIN, GS_TIME_MIN, GS_TIME_MIN, GS_TIME_MIN};
    assert_int_equal(gs_merge_pick(t8, all), 0);
    int64_t t9[4] = {INT64_MAX, INT64_MAX - 1, INT64_MAX, INT64_MAX};
    assert_int_equal(gs_merge_pick(t9, all), 1);
}

/* ---- watermark ------------------------------------------------------------------------------- */

static void test_watermark_all_partitions(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    tk_ev_t e;
    assert_true(wm(&h) == GS_TIME_MIN);

    rep(&h, "r1", TK_CELL, TK_T0);
    assert_true(wm(&h) == GS_TIME_MIN);
    tk_apply(&h, tk_sensor(&e, "s", 4, 1, 1, TK_CELL, TK_T0 + 10 * MIN)); /* NORMAL: no signal */
    assert_true(wm(&h) == GS_TIME_MIN);
    tk_apply(&h, tk_video(&e, "v", "cam", 882, 0.1f, TK_CELL, TK_T0 + 20 * MIN)); /* ignored */
    assert_true(wm(&h) == GS_TIME_MIN);
    assert_true(tk_parts_last_wm(&h.parts, 0) == GS_TIME_MIN); /* published at flush */
    cas(&h, "c1", FILED, "r1", TK_T0 + 30 * MIN, TK_T0 + GS_DAY_MS);
    /* every partition has applied something: min(T0, +10, +20, +30 min) - 5 min */
    assert_int_equal(wm(&h), TK_T0 - LAG);

    rep(&h, "r2", TK_CELL2, TK_T0 + 60 * MIN);
    assert_int_equal(wm(&h), TK_T0 + 10 * MIN - LAG); /* sensors hold it now */
    /* a late sensor record does not lower its partition's max */
    tk_apply(&h, tk_sensor(&e, "s", 4, 1, 2, TK_CELL, TK_T0 + 5 * MIN));
    assert_int_equal(wm(&h), TK_T0 + 10 * MIN - LAG);
    tk_apply(&h, tk_sensor(&e, "s", 4, 1, 3, TK_CELL, TK_T0 + 15 * MIN));
    assert_int_equal(wm(&h), TK_T0 + 15 * MIN - LAG);

    /* an idle partition is left out of the min: video (+20) holds it */
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    assert_int_equal(wm(&h), TK_T0 + 20 * MIN - LAG);
    /* active again: the min would be lower, the watermark does not go back */
    gs_task_set_idle(h.task, GS_SRC_SENSORS, false);
    assert_int_equal(wm(&h), TK_T0 + 20 * MIN - LAG);
    tk_flush(&h);
    assert_int_equal(tk_parts_last_wm(&h.parts, 0), TK_T0 + 20 * MIN - LAG);

    gs_task_finish(h.task);
    assert_true(wm(&h) == GS_TIME_MAX);
    tk_flush(&h);
    assert_true(tk_parts_last_wm(&h.parts, 0) == GS_TIME_MAX);
    tk_harness_fini(&h);
}

/* Partitions idle from the start are left out; one that is active and empty holds -inf. */
static void test_watermark_idle_partitions(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    tk_only_source(&h, GS_SRC_REPORTS);
    assert_true(wm(&h) == GS_TIME_MIN); /* reports applied nothing yet */
    rep(&h, "r1", TK_CELL, TK_T0);
    assert_int_equal(wm(&h), TK_T0 - LAG);
    rep(&h, "r2", TK_CELL, TK_T0 - 10 * MIN); /* late: no change */
    assert_int_equal(wm(&h), TK_T0 - LAG);
    rep(&h, "r3", TK_CELL, TK_T0 + 1);
    assert_int_equal(wm(&h), TK_T0 + 1 - LAG);
    tk_harness_fini(&h);

    tk_harness_init(&h);
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    gs_task_set_idle(h.task, GS_SRC_VIDEO, true);
    rep(&h, "r1", TK_CELL, TK_T0);
    assert_true(wm(&h) == GS_TIME_MIN); /* cases active and empty */
    gs_task_set_idle(h.task, GS_SRC_CASES, true);
    assert_int_equal(wm(&h), TK_T0 - LAG);
    tk_harness_fini(&h);
}

/* Duplicates, ignored video detections and non-edge sensor readings advance the watermark. */
static void test_watermark_advanced_by_dropped_records(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_ev_t e;
    tk_harness_init(&h);
    tk_only_source(&h, GS_SRC_REPORTS);
    rep(&h, "r1", TK_CELL, TK_T0);
    rep(&h, "r1", TK_CELL, TK_T0 + 30 * MIN); /* duplicate */
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(wm(&h), TK_T0 + 30 * MIN - LAG);
    tk_harness_fini(&h);

    tk_harness_init(&h);
    tk_only_source(&h, GS_SRC_VIDEO);
    tk_apply(&h, tk_video(&e, "v1", "c", 999, 0.9f, TK_CELL, TK_T0)); /* unmapped */
    assert_int_equal(wm(&h), TK_T0 - LAG);
    tk_apply(&h, tk_video(&e, "v2", "c", 882, 0.2f, TK_CELL, TK_T0 + MIN)); /* low confidence */
    assert_int_equal(wm(&h), TK_T0 + MIN - LAG);
    assert_int_equal(tk_metrics(&h)->video_ignored, 2);
    tk_harness_fini(&h);

    tk_harness_init(&h);
    tk_only_source(&h, GS_SRC_SENSORS);
    tk_apply(&h, tk_sensor(&e, "s", 2, 1, 1, TK_CELL, TK_T0)); /* NORMAL */
    assert_int_equal(wm(&h), TK_T0 - LAG);
    assert_int_equal(tk_metrics(&h)->signals, 0);
    tk_harness_fini(&h);
}

/*
 * A case event rejected as unknown_ref (DLQ) neither advances the watermark nor registers its
 * identity: redelivered once the reference exists, it is accepted.
 */
static void test_unknown_ref(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char id[256];
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    gs_task_set_idle(h.task, GS_SRC_VIDEO, true);
    rep(&h, "r1", TK_CELL, TK_T0);
    const int64_t tc = TK_T0 + GS_HOUR_MS, dl = TK_T0 + 2 * GS_DAY_MS;
    assert_int_equal(cas(&h, "c1", FILED, "r9", tc, dl), GS_ERR_UNKNOWN_REF);
    assert_true(wm(&h) == GS_TIME_MIN); /* cases still have applied nothing */
    assert_int_equal(tk_metrics(&h)->dlq[gs_reason_index(GS_ERR_UNKNOWN_REF)], 1);
    assert_int_equal(tk_metrics(&h)->case_events, 0);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 0);
    /* rejected again while the ref is still unknown */
    assert_int_equal(cas(&h, "c1", FILED, "r9", tc, dl), GS_ERR_UNKNOWN_REF);
    assert_int_equal(tk_metrics(&h)->dlq[gs_reason_index(GS_ERR_UNKNOWN_REF)], 2);
    assert_true(wm(&h) == GS_TIME_MIN);

    rep(&h, "r9", TK_CELL2, TK_T0 + 2 * GS_HOUR_MS);
    assert_true(wm(&h) == GS_TIME_MIN);
    assert_int_equal(cas(&h, "c1", FILED, "r9", tc, dl), GS_OK);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 0);
    assert_int_equal(tk_metrics(&h)->case_events, 1);
    assert_int_equal(wm(&h), tc - LAG); /* min(T0+2h, T0+1h) - 5 min */
    const Gridstream__V1__Incident *inc =
        tk_incident(&h.cap, iid(id, TK_CELL2, 20101, TK_T0 + 2 * GS_HOUR_MS, CH_INSPECTOR, "r9"));
    assert_non_null(inc);
    assert_int_equal(inc->stage, FILED);
    assert_int_equal(inc->filed_ms, tc);
    assert_int_equal(inc->deadline_ms, dl);
    /* now it is registered */
    assert_int_equal(cas(&h, "c1", FILED, "r9", tc, dl), GS_OK);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(tk_metrics(&h)->case_events, 1);
    tk_harness_fini(&h);
}

/* ---- OVERDUE --------------------------------------------------------------------------------- */

/* Fires when the watermark first exceeds the deadline (not at equality), once. */
static void test_overdue_strict_and_once(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char id[256];
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    gs_task_set_idle(h.task, GS_SRC_VIDEO, true);
    const int64_t D = TK_T0 + 30 * MIN;
    rep(&h, "r1", TK_CELL, TK_T0);
    cas(&h, "c1", FILED, "r1", TK_T0 + MIN, D);
    assert_int_equal(wm(&h), TK_T0 - LAG);
    gs_task_set_idle(h.task, GS_SRC_CASES, true); /* reports alone drive it from here */
    rep(&h, "r2", TK_CELL2, D + LAG);
    assert_int_equal(wm(&h), D);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 0); /* equality is not "passes" */

    tk_ev_t e;
    assert_int_equal(
        tk_apply_noflush(&h, tk_report(&e, "r3", CH_INSPECTOR, 20101, TK_CELL2, D + LAG + 1)),
        GS_OK);
    assert_int_equal(wm(&h), D + 1);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 1); /* at once, not at the next flush */
    char key[300];
    snprintf(key, sizeof(key), "OVERDUE:%s", iid(id, TK_CELL, 20101, TK_T0, CH_INSPECTOR, "r1"));
    const Gridstream__V1__Alert *a = tk_alert(&h.cap, key);
    assert_non_null(a);
    assert_string_equal(a->alert_id, key);
    assert_int_equal(a->kind, OVERDUE);
    assert_int_equal(a->cell, TK_CELL);
    assert_string_equal(a->incident_id, id);
    assert_int_equal(a->event_time_ms, D);
    assert_int_equal(a->problem_code, 20101);
    assert_int_equal(a->count, 1);
    assert_int_equal(tk_metrics(&h)->alerts[OVERDUE], 1);

    rep(&h, "r4", TK_CELL2, D + 5 * GS_HOUR_MS);
    gs_task_finish(h.task);
    tk_flush(&h);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 1);
    assert_int_equal(tk_count_key(&h.cap, GS_OUT_ALERTS, key), 1);
    tk_harness_fini(&h);
}

/*
 * Six incidents filed with deadline T0+30min; the watermark then passes it:
 *   I1 rectified before the deadline               -> no OVERDUE
 *   I2 rectified after the deadline, but before the watermark passed it -> no OVERDUE
 *   I3 nothing more                                -> OVERDUE
 *   I4 REJECTED after FILED                        -> no OVERDUE (stage REJECTED)
 *   I5 REJECTED, then DISPATCHED later              -> OVERDUE (stage DISPATCHED)
 *   I6 REJECTED with an earlier time than FILED     -> OVERDUE (stage FILED)
 */
static void test_overdue_conditions(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    gs_task_set_idle(h.task, GS_SRC_VIDEO, true);
    const int64_t D = TK_T0 + 30 * MIN;
    const char *r[6] = {"r1", "r2", "r3", "r4", "r5", "r6"};
    for (int i = 0; i < 6; i++)
        rep(&h, r[i], TK_CELL + (uint64_t)i, TK_T0);
    for (int i = 0; i < 5; i++)
        cas(&h, "f", FILED, r[i], TK_T0 + MIN + i, D);
    cas(&h, "f", FILED, "r6", TK_T0 + 5 * MIN, D);
    cas(&h, "x", RECTIFIED, "r1", TK_T0 + 20 * MIN, 0);
    cas(&h, "x", RECTIFIED, "r2", TK_T0 + 40 * MIN, 0);
    cas(&h, "x", REJECTED, "r4", TK_T0 + 10 * MIN, 0);
    cas(&h, "x", REJECTED, "r5", TK_T0 + 10 * MIN + 1, 0);
    cas(&h, "x", DISPATCHED, "r5", TK_T0 + 15 * MIN, 0);
    cas(&h, "x", REJECTED, "r6", TK_T0 + 3 * MIN, 0);
    assert_int_equal(wm(&h), TK_T0 - LAG); /* reports still at T0 */
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 0);

    rep(&h, "later", TK_CELL2 + 10, TK_T0 + 2 * GS_HOUR_MS);
    assert_int_equal(wm(&h), TK_T0 + 40 * MIN - LAG); /* cases hold it at T0+40min */
    assert_true(wm(&h) > D);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 3);
    assert_null(overdue_of(&h, TK_CELL + 0, TK_T0, "r1"));
    assert_null(overdue_of(&h, TK_CELL + 1, TK_T0, "r2"));
    assert_non_null(overdue_of(&h, TK_CELL + 2, TK_T0, "r3"));
    assert_null(overdue_of(&h, TK_CELL + 3, TK_T0, "r4"));
    assert_non_null(overdue_of(&h, TK_CELL + 4, TK_T0, "r5"));
    assert_non_null(overdue_of(&h, TK_CELL + 5, TK_T0, "r6"));
    assert_int_equal(overdue_of(&h, TK_CELL + 5, TK_T0, "r6")->event_time_ms, D);

    /* evaluated once: the end of input does not revisit the others */
    gs_task_finish(h.task);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 3);
    tk_harness_fini(&h);
}

/* The first FILED sets the deadline; a later FILED with another deadline changes nothing. */
static void test_overdue_first_filed_deadline(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char id[256];
    tk_only_source(&h, GS_SRC_REPORTS);
    gs_task_set_idle(h.task, GS_SRC_CASES, false);
    rep(&h, "r1", TK_CELL, TK_T0);
    cas(&h, "c1", FILED, "r1", TK_T0 + MIN, TK_T0 + 20 * MIN);
    cas(&h, "c2", FILED, "r1", TK_T0 + 2 * MIN, TK_T0 + 50 * MIN);
    const Gridstream__V1__Incident *inc =
        tk_incident(&h.cap, iid(id, TK_CELL, 20101, TK_T0, CH_INSPECTOR, "r1"));
    assert_non_null(inc);
    assert_int_equal(inc->filed_ms, TK_T0 + MIN);
    assert_int_equal(inc->deadline_ms, TK_T0 + 20 * MIN);
    gs_task_set_idle(h.task, GS_SRC_CASES, true);
    rep(&h, "r2", TK_CELL2, TK_T0 + 25 * MIN + 1); /* wm = T0+20min+1 */
    assert_int_equal(wm(&h), TK_T0 + 20 * MIN + 1);
    const Gridstream__V1__Alert *a = overdue_of(&h, TK_CELL, TK_T0, "r1");
    assert_non_null(a);
    assert_int_equal(a->event_time_ms, TK_T0 + 20 * MIN);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 1);
    tk_harness_fini(&h);
}

/* A FILED whose deadline is already behind the watermark (a late case record) fires right after. */
static void test_overdue_late_filed_fires_at_once(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    tk_ev_t e;
    gs_task_set_idle(h.task, GS_SRC_SENSORS, true);
    gs_task_set_idle(h.task, GS_SRC_VIDEO, true);
    rep(&h, "rA", TK_CELL, TK_T0);
    rep(&h, "rB", TK_CELL2, TK_T0 + MIN);
    cas(&h, "cB", FILED, "rB", TK_T0 + 40 * MIN, TK_T0 + 3 * GS_HOUR_MS);
    assert_int_equal(wm(&h), TK_T0 + MIN - LAG);
    rep(&h, "rC", TK_CELL + 2, TK_T0 + 45 * MIN);
    assert_int_equal(wm(&h), TK_T0 + 40 * MIN - LAG);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 0);

    /* late in the cases partition: filed at T0+10min, due T0+20min < watermark T0+35min */
    assert_int_equal(tk_apply_noflush(&h, tk_case(&e, "cA", FILED, CH_INSPECTOR, "rA", TK_CELL,
                                                  TK_T0 + 10 * MIN, TK_T0 + 20 * MIN, NULL)),
                     GS_OK);
    assert_int_equal(wm(&h), TK_T0 + 40 * MIN - LAG);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 1);
    const Gridstream__V1__Alert *a = overdue_of(&h, TK_CELL, TK_T0, "rA");
    assert_non_null(a);
    assert_int_equal(a->event_time_ms, TK_T0 + 20 * MIN);
    assert_null(overdue_of(&h, TK_CELL2, TK_T0 + MIN, "rB"));
    tk_flush(&h);
    tk_harness_fini(&h);
}

/* The end of input: the watermark is +inf and every pending deadline passes. */
static void test_overdue_at_finish(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    rep(&h, "r1", TK_CELL, TK_T0);
    rep(&h, "r2", TK_CELL2, TK_T0);
    cas(&h, "c1", FILED, "r1", TK_T0 + MIN, TK_T0 + 10 * GS_DAY_MS);
    cas(&h, "c2", FILED, "r2", TK_T0 + MIN, TK_T0 + 10 * GS_DAY_MS);
    cas(&h, "c2", RECTIFIED, "r2", TK_T0 + 20 * GS_DAY_MS, 0); /* late, but before the wm */
    assert_true(wm(&h) == GS_TIME_MIN); /* sensors and video are active and empty */
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 0);
    gs_task_finish(h.task);
    assert_int_equal(tk_count_alerts(&h.cap, OVERDUE), 1);
    const Gridstream__V1__Alert *a = overdue_of(&h, TK_CELL, TK_T0, "r1");
    assert_non_null(a);
    assert_int_equal(a->event_time_ms, TK_T0 + 10 * GS_DAY_MS);
    assert_int_equal(a->count, 1);
    tk_harness_fini(&h);
}

/* ---- flush ----------------------------------------------------------------------------------- */

static void test_flush_emits_latest_incident_state(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    tk_ev_t e;
    char id[256];
    const char *dept = "\xe7\x8e\xaf\xe5\x8d\xab\xe5\xa4\x84"; /* 环卫处 */
    const gs_event_t *ev = tk_report(&e, "r1", CH_INSPECTOR, 20101, TK_CELL, TK_T0);
    e.u.report.lat = 21.66;
    e.u.report.lon = 110.92;
    tk_apply_noflush(&h, ev);
    ev = tk_report(&e, "r2", CH_DRONE, 20101, TK_CELL, TK_T0 + 10 * MIN);
    e.u.report.lat = 21.6602; /* ~22 m north: joins */
    e.u.report.lon = 110.92;
    tk_apply_noflush(&h, ev);
    tk_apply_noflush(&h, tk_case(&e, "c", FILED, CH_DRONE, "r2", TK_CELL, TK_T0 + 20 * MIN,
                                 TK_T0 + 3 * GS_DAY_MS, NULL));
    tk_apply_noflush(&h, tk_case(&e, "c", DISPATCHED, CH_INSPECTOR, "r1", TK_CELL, TK_T0 + 30 * MIN,
                                 0, "first"));
    tk_apply_noflush(
        &h, tk_case(&e, "c", DISPATCHED, CH_INSPECTOR, "r1", TK_CELL, TK_T0 + 31 * MIN, 0, dept));
    tk_apply_noflush(&h, tk_case(&e, "c", RECTIFIED, CH_INSPECTOR, "r1", TK_CELL,
                                 TK_T0 + 2 * GS_HOUR_MS, 0, NULL));
    tk_apply_noflush(
        &h, tk_case(&e, "c", REWORK, CH_INSPECTOR, "r1", TK_CELL, TK_T0 + 3 * GS_HOUR_MS, 0, NULL));
    tk_apply_noflush(
        &h, tk_case(&e, "c", CLOSED, CH_INSPECTOR, "r1", TK_CELL, TK_T0 + 5 * GS_HOUR_MS, 0, NULL));
    tk_apply_noflush(&h, tk_case(&e, "c", VERIFIED, CH_INSPECTOR, "r1", TK_CELL,
                                 TK_T0 + 4 * GS_HOUR_MS, 0, NULL)); /* late: stage stays */
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), 0);        /* nothing before the flush */
    tk_flush(&h);

    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), 1); /* once, latest state */
    iid(id, TK_CELL, 20101, TK_T0, CH_INSPECTOR, "r1");
    const tk_rec_t *rec = tk_nth(&h.cap, GS_OUT_INCIDENTS, 0);
    assert_string_equal(rec->key, id);
    const Gridstream__V1__Incident *inc = (const Gridstream__V1__Incident *)rec->msg;
    assert_non_null(inc);
    assert_string_equal(inc->incident_id, id);
    assert_int_equal(inc->cell, TK_CELL);
    assert_int_equal(inc->problem_code, 20101);
    assert_int_equal(inc->opened_ms, TK_T0);
    assert_int_equal(inc->first_channel, CH_INSPECTOR);
    assert_true(inc->captured);
    assert_int_equal(inc->signal_count, 2);
    assert_int_equal(inc->channel_mask, (1u << 1) | (1u << 4));
    assert_int_equal(inc->stage, CLOSED);
    assert_int_equal(inc->filed_ms, TK_T0 + 20 * MIN);
    assert_int_equal(inc->deadline_ms, TK_T0 + 3 * GS_DAY_MS);
    assert_int_equal(inc->rectified_ms, TK_T0 + 2 * GS_HOUR_MS);
    assert_int_equal(inc->closed_ms, TK_T0 + 5 * GS_HOUR_MS);
    assert_int_equal(inc->rework_count, 1);
    assert_string_equal(inc->department, dept);
    assert_int_equal(inc->last_signal_ms, TK_T0 + 10 * MIN);

    /* nothing changed: nothing emitted */
    tk_flush(&h);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), 1);

    /* a second REWORK later than CLOSED: stage REWORK, count 2, the REPEATED_REWORK alert */
    cas(&h, "c", REWORK, "r1", TK_T0 + 6 * GS_HOUR_MS, 0);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), 2);
    inc = tk_incident(&h.cap, id);
    assert_int_equal(inc->rework_count, 2);
    assert_int_equal(inc->stage, REWORK);
    assert_int_equal(inc->closed_ms, TK_T0 + 5 * GS_HOUR_MS);
    char key[300];
    snprintf(key, sizeof(key), "REWORK:%s", id);
    const Gridstream__V1__Alert *a = tk_alert(&h.cap, key);
    assert_non_null(a);
    assert_int_equal(a->kind, GRIDSTREAM__V1__ALERT_KIND__REPEATED_REWORK);
    assert_int_equal(a->event_time_ms, TK_T0 + 6 * GS_HOUR_MS);
    assert_int_equal(a->count, 2);

    /* two incidents changed in one interval: each emitted once */
    rep(&h, "other", TK_CELL2, TK_T0);
    tk_ev_t e2;
    tk_apply_noflush(&h, tk_report(&e2, "other2", CH_INSPECTOR, 20101, TK_CELL2, TK_T0 + MIN));
    tk_apply_noflush(&h, tk_case(&e2, "c", VERIFIED, CH_INSPECTOR, "r1", TK_CELL,
                                 TK_T0 + 7 * GS_HOUR_MS, 0, NULL));
    size_t before = tk_count(&h.cap, GS_OUT_INCIDENTS);
    tk_flush(&h);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), before + 2);
    assert_int_equal(tk_incident(&h.cap, id)->stage, VERIFIED);
    char id2[256];
    assert_int_equal(
        tk_incident(&h.cap, iid(id2, TK_CELL2, 20101, TK_T0, CH_INSPECTOR, "other"))->signal_count,
        2);
    tk_harness_fini(&h);
}

/* The incident record written field by field equals protobuf-c's packing of the same message:
   empty and cut strings, UTF-8 departments, zero and negative times, every stage and channel. */
static void test_incident_pack_equals_protobuf_c(void **state)
{
    (void)state;
    static const char *const depts[] = {"", "城管局", "Sanitation", "市容环境卫生管理处"};
    _Alignas(8) uint8_t buf[sizeof(gs_incident_t) + 1400 + GS_DEPT_MAX];
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int round = 0; round < 5000; round++) {
        uint64_t r[12];
        for (int i = 0; i < 12; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r[i] = x;
        }
        gs_incident_t *inc = (gs_incident_t *)buf;
        memset(inc, 0, sizeof(*inc));
        inc->cell = round % 9 == 0 ? 0 : 100000000000000u + r[0] % 900000000000000u;
        inc->problem = (uint32_t)(r[1] % 3 == 0 ? 0 : r[1]);
        inc->opened_ms = (int64_t)(r[2] % 5 == 0 ? 0 : r[2] >> (r[2] % 50));
        inc->last_signal_ms = round % 4 == 0 ? -(int64_t)(r[3] % 1000) : (int64_t)(r[3] >> 20);
        inc->first_channel = (uint8_t)(r[4] % 10);
        inc->stage = (uint8_t)(r[4] / 10 % 8);
        inc->signal_count = (uint32_t)(r[5] % 4 == 0 ? 0 : r[5]);
        inc->channel_mask = (uint32_t)(r[5] >> 32);
        inc->filed_ms = r[6] % 2 ? (int64_t)(r[6] >> 22) : 0;
        inc->deadline_ms = r[6] % 3 ? (int64_t)(r[6] >> 21) : 0;
        inc->rectified_ms = r[7] % 2 ? (int64_t)(r[7] >> 22) : 0;
        inc->closed_ms = r[7] % 3 ? (int64_t)(r[7] >> 23) : INT64_MIN;
        inc->rework_count = (uint32_t)(r[8] % 4);
        size_t il = round % 50 == 0 ? 1300 : (size_t)(r[9] % 60);
        char *p = (char *)(inc + 1);
        for (size_t i = 0; i < il; i++)
            p[i] = (char)('0' + (r[10] + i) % 40);
        if (round % 37 == 0 && il > 3) p[il / 2] = 0; /* protobuf-c stops at a NUL */
        const char *d = depts[r[11] % 4];
        size_t dl = strlen(d);
        memcpy(p + il, d, dl);
        inc->id_len = (uint16_t)il;
        inc->dept_len = (uint16_t)dl;
        Gridstream__V1__Incident m;
        char id[GS_INC_ID_MAX + 1], dept[GS_DEPT_MAX + 1];
        gs_incident_fill(inc, &m, id, dept);
        uint8_t want[GS_INCIDENT_RECORD_MAX], got[GS_INCIDENT_RECORD_MAX];
        size_t wl = protobuf_c_message_get_packed_size(&m.base);
        assert_true(wl <= sizeof(want));
        assert_int_equal(protobuf_c_message_pack(&m.base, want), wl);
        size_t gl = gs_incident_pack(inc, got);
        assert_int_equal(gl, wl);
        assert_memory_equal(got, want, wl);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incident_pack_equals_protobuf_c),
        cmocka_unit_test(test_merge_pick),
        cmocka_unit_test(test_watermark_all_partitions),
        cmocka_unit_test(test_watermark_idle_partitions),
        cmocka_unit_test(test_watermark_advanced_by_dropped_records),
        cmocka_unit_test(test_unknown_ref),
        cmocka_unit_test(test_overdue_strict_and_once),
        cmocka_unit_test(test_overdue_conditions),
        cmocka_unit_test(test_overdue_first_filed_deadline),
        cmocka_unit_test(test_overdue_late_filed_fires_at_once),
        cmocka_unit_test(test_overdue_at_finish),
        cmocka_unit_test(test_flush_emits_latest_incident_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
