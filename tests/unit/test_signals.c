/*
 * test_signals.c - unit tests of operators/signals.c (SPEC §4.1, §4.3, §4.4, §11 "Dedup TTL" and
 * "Video"; docs/SPEC-READINGS.md "Dedup" and "Video persistence"), driven through a task: events go
 * in with gs_task_apply(), and what comes out (incidents, alerts, metrics) is checked against
 * values worked out by hand from the rules.
 *
 * Unless a test says otherwise all four partitions stay active and no case event is applied, so
 * the watermark stays at -inf: dedup entries are never forgotten and candidates never go stale,
 * which isolates the rule under test. Problem codes of reports are non-critical (20101) unless the
 * test is about alerts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testkit.h"

#define TTL INT64_C(604800000) /* 7 d */
#define SEC INT64_C(1000)
#define MIN INT64_C(60000)

enum { CH_INSPECTOR = 1, CH_VIDEO = 2, CH_SENSOR = 3, CH_DRONE = 4, CH_HOTLINE = 7 };
enum { NORMAL = 1, ALARM = 2 };
enum { MANHOLE = 1, WATERLOG = 2, DUST = 3, NOISE = 4, BIN = 5, LIGHT = 6, MUCK = 7 };

/* The incident id of SPEC §5: "<cell>-<problem>-<t>-<channel>-<signal id>". */
static const char *iid(char *buf, uint64_t cell, uint32_t problem, int64_t t, int ch,
                       const char *sid)
{
    snprintf(buf, 256, "%llu-%u-%lld-%d-%s", (unsigned long long)cell, problem, (long long)t, ch,
             sid);
    return buf;
}

static gs_err_t rep(tk_harness_t *h, const char *id, int ch, uint64_t cell, int64_t t)
{
    tk_ev_t e;
    return tk_apply(h, tk_report(&e, id, ch, 20101, cell, t));
}

static gs_err_t sen(tk_harness_t *h, const char *id, int kind, int state, uint64_t seq,
                    uint64_t cell, int64_t t)
{
    tk_ev_t e;
    return tk_apply(h, tk_sensor(&e, id, kind, state, seq, cell, t));
}

static gs_err_t vid(tk_harness_t *h, const char *det, const char *cam, uint32_t type, float conf,
                    uint64_t cell, int64_t t)
{
    tk_ev_t e;
    return tk_apply(h, tk_video(&e, det, cam, type, conf, cell, t));
}

/* ---- dedup ----------------------------------------------------------------------------------- */

static void test_dedup_ttl_edges(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t t0 = TK_T0;
    char b[256];

    assert_int_equal(rep(&h, "r1", CH_INSPECTOR, TK_CELL, t0), GS_OK);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 0);

    /* t0 + TTL: still within the TTL (inclusive) */
    assert_int_equal(rep(&h, "r1", CH_INSPECTOR, TK_CELL, t0 + TTL), GS_OK);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    /* an earlier t is a duplicate too */
    rep(&h, "r1", CH_INSPECTOR, TK_CELL, t0 - 1);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    assert_int_equal(tk_metrics(&h)->signals, 1);

    /* t0 + TTL + 1: a new first sighting, a new signal (7 d later: a new incident) */
    rep(&h, "r1", CH_INSPECTOR, TK_CELL, t0 + TTL + 1);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    assert_int_equal(tk_metrics(&h)->incidents_opened, 2);
    tk_must_incident(&h, iid(b, TK_CELL, 20101, t0 + TTL + 1, CH_INSPECTOR, "r1"));

    /* measured from the new first sighting now: t0 + TTL + 2 and t0 + 2 TTL + 1 are duplicates */
    rep(&h, "r1", CH_INSPECTOR, TK_CELL, t0 + TTL + 2);
    rep(&h, "r1", CH_INSPECTOR, TK_CELL, t0 + 2 * TTL + 1);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 4);
    /* and so is anything earlier than the new first sighting */
    rep(&h, "r1", CH_INSPECTOR, TK_CELL, t0 + 5);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 5);
    assert_int_equal(tk_metrics(&h)->signals, 2);

    rep(&h, "r1", CH_INSPECTOR, TK_CELL, t0 + 2 * TTL + 2);
    assert_int_equal(tk_metrics(&h)->signals, 3);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 5);
    const Gridstream__V1__Incident *inc =
        tk_must_incident(&h, iid(b, TK_CELL, 20101, t0 + 2 * TTL + 2, CH_INSPECTOR, "r1"));
    assert_int_equal(inc->signal_count, 1);
    /* duplicates changed nothing on the first incident */
    inc = tk_must_incident(&h, iid(b, TK_CELL, 20101, t0, CH_INSPECTOR, "r1"));
    assert_int_equal(inc->signal_count, 1);
    assert_int_equal(inc->last_signal_ms, t0);
    assert_int_equal(tk_count_distinct(&h.cap, GS_OUT_INCIDENTS), 3);
    assert_int_equal(tk_metrics(&h)->records_in[GS_SRC_REPORTS], 8);
    tk_harness_fini(&h);
}

/* A custom TTL is honoured (the TTL is configuration). */
static void test_dedup_custom_ttl(void **state)
{
    (void)state;
    gs_params_t p;
    gs_params_defaults(&p);
    p.dedup_ttl_ms = 1000;
    tk_harness_t h;
    tk_harness_init_params(&h, &p);
    rep(&h, "x", CH_INSPECTOR, TK_CELL, TK_T0);
    rep(&h, "x", CH_INSPECTOR, TK_CELL, TK_T0 + 1000);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    rep(&h, "x", CH_INSPECTOR, TK_CELL, TK_T0 + 1001);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    tk_harness_fini(&h);
}

/* Reports: (channel, report_id). The same id on another channel is another message. */
static void test_dedup_identity_reports(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    rep(&h, "r1", CH_INSPECTOR, TK_CELL, TK_T0);
    rep(&h, "r1", CH_DRONE, TK_CELL, TK_T0 + 1 * SEC);     /* new */
    rep(&h, "r1", CH_HOTLINE, TK_CELL, TK_T0 + 2 * SEC);   /* new */
    rep(&h, "r1", CH_DRONE, TK_CELL, TK_T0 + 3 * SEC);     /* duplicate */
    rep(&h, "r2", CH_INSPECTOR, TK_CELL, TK_T0 + 4 * SEC); /* new */
    rep(&h, "R1", CH_INSPECTOR, TK_CELL, TK_T0 + 5 * SEC); /* ids are case-sensitive bytes */
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(tk_metrics(&h)->signals, 5);
    assert_int_equal(tk_metrics(&h)->signals_merged, 4);
    const Gridstream__V1__Incident *inc =
        tk_must_incident(&h, iid(b, TK_CELL, 20101, TK_T0, CH_INSPECTOR, "r1"));
    assert_int_equal(inc->signal_count, 5);
    assert_int_equal(inc->channel_mask, (1u << 1) | (1u << 4) | (1u << 7));
    assert_int_equal(inc->last_signal_ms, TK_T0 + 5 * SEC);

    /* the other topics' identities are separate: a sensor and a video "r1" are not duplicates */
    sen(&h, "r1", BIN, ALARM, 1, TK_CELL2, TK_T0 + 6 * SEC);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(tk_metrics(&h)->signals, 6);
    vid(&h, "r1", "cam", 882, 0.9f, TK_CELL2, TK_T0 + 7 * SEC);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    tk_harness_fini(&h);
}

/* Sensors: (sensor_id, seq); a duplicate is dropped whatever its content. */
static void test_dedup_identity_sensors(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    sen(&h, "s1", MANHOLE, ALARM, 5, TK_CELL, TK_T0);            /* signal */
    sen(&h, "s1", MANHOLE, NORMAL, 5, TK_CELL, TK_T0 + SEC);     /* dup (other content) */
    sen(&h, "s2", MANHOLE, ALARM, 5, TK_CELL2, TK_T0 + 2 * SEC); /* other sensor: signal */
    sen(&h, "s1", MANHOLE, NORMAL, 6, TK_CELL, TK_T0 + 3 * SEC); /* other seq: new */
    sen(&h, "s1", MANHOLE, ALARM, 5, TK_CELL, TK_T0 + 4 * SEC);  /* dup again */
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    tk_must_incident(&h, iid(b, TK_CELL, 10101, TK_T0, CH_SENSOR, "s1:5"));
    tk_must_incident(&h, iid(b, TK_CELL2, 10101, TK_T0 + 2 * SEC, CH_SENSOR, "s2:5"));
    /* s1's state is NORMAL (seq 6), the duplicate ALARM of seq 5 did not count: seq 7 is an edge */
    sen(&h, "s1", MANHOLE, ALARM, 7, TK_CELL, TK_T0 + 5 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 3);
    tk_harness_fini(&h);
}

/* Video: detection_id alone, whatever the camera. */
static void test_dedup_identity_video(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    vid(&h, "d1", "camA", 882, 0.9f, TK_CELL, TK_T0);
    vid(&h, "d2", "camA", 882, 0.9f, TK_CELL, TK_T0 + SEC);
    vid(&h, "d1", "camA", 882, 0.9f, TK_CELL, TK_T0 + 2 * SEC); /* dup: not a 3rd detection */
    vid(&h, "d1", "camB", 882, 0.9f, TK_CELL, TK_T0 + 3 * SEC); /* dup, other camera */
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    assert_int_equal(tk_metrics(&h)->signals, 0);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), 0);
    vid(&h, "d3", "camA", 882, 0.9f, TK_CELL, TK_T0 + 4 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    tk_must_incident(&h, iid(b, TK_CELL, 20506, TK_T0 + 4 * SEC, CH_VIDEO, "d3"));
    tk_harness_fini(&h);
}

/* Cases: (case_id, stage, event_time_ms). Dropped duplicates change no stage or count. */
static void test_dedup_identity_cases(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char id[256];
    tk_ev_t e;
    const int64_t t1 = TK_T0 + 10 * MIN, t2 = TK_T0 + 20 * MIN;
    const int64_t d1 = TK_T0 + 3 * GS_DAY_MS;
    rep(&h, "r1", CH_INSPECTOR, TK_CELL, TK_T0);
    iid(id, TK_CELL, 20101, TK_T0, CH_INSPECTOR, "r1");

    assert_int_equal(tk_apply(&h, tk_case(&e, "c1", 1, CH_INSPECTOR, "r1", TK_CELL, t1, d1, NULL)),
                     GS_OK);
    /* same identity, another deadline: dropped */
    tk_apply(&h, tk_case(&e, "c1", 1, CH_INSPECTOR, "r1", TK_CELL, t1, d1 + GS_DAY_MS, NULL));
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(tk_metrics(&h)->case_events, 1);
    /* another time: applied (the first FILED still wins) */
    tk_apply(&h, tk_case(&e, "c1", 1, CH_INSPECTOR, "r1", TK_CELL, t1 + 1, d1 + GS_DAY_MS, NULL));
    assert_int_equal(tk_metrics(&h)->case_events, 2);

    tk_apply(&h, tk_case(&e, "c1", 6, CH_INSPECTOR, "r1", TK_CELL, t2, 0, NULL)); /* REWORK */
    tk_apply(&h, tk_case(&e, "c1", 6, CH_INSPECTOR, "r1", TK_CELL, t2, 0, NULL)); /* dup */
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    assert_int_equal(tk_must_incident(&h, id)->rework_count, 1);
    assert_int_equal(tk_count_alerts(&h.cap, GRIDSTREAM__V1__ALERT_KIND__REPEATED_REWORK), 0);

    /* same stage and time, another case id: new */
    tk_apply(&h, tk_case(&e, "c2", 6, CH_INSPECTOR, "r1", TK_CELL, t2, 0, NULL));
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    assert_int_equal(tk_must_incident(&h, id)->rework_count, 2);
    assert_int_equal(tk_count_alerts(&h.cap, GRIDSTREAM__V1__ALERT_KIND__REPEATED_REWORK), 1);
    /* same case and time, another stage: new */
    tk_apply(&h, tk_case(&e, "c1", 5, CH_INSPECTOR, "r1", TK_CELL, t2 + 1, 0, NULL)); /* VERIFIED */
    tk_apply(&h, tk_case(&e, "c1", 6, CH_INSPECTOR, "r1", TK_CELL, t2 + 1, 0, NULL)); /* REWORK */
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    assert_int_equal(tk_metrics(&h)->case_events, 6);
    assert_int_equal(tk_count_alerts(&h.cap, GRIDSTREAM__V1__ALERT_KIND__REPEATED_REWORK), 1);

    const Gridstream__V1__Incident *inc = tk_must_incident(&h, id);
    assert_int_equal(inc->rework_count, 3);
    assert_int_equal(inc->filed_ms, t1);
    assert_int_equal(inc->deadline_ms, d1);
    assert_int_equal(inc->stage, 6); /* REWORK at t2+1 arrived after VERIFIED at t2+1 */
    tk_harness_fini(&h);
}

/* ---- sensors --------------------------------------------------------------------------------- */

static void test_sensor_edges(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    /* no previous reading: ALARM is an edge */
    sen(&h, "a", NOISE, ALARM, 1, TK_CELL, TK_T0);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    tk_must_incident(&h, iid(b, TK_CELL, 20302, TK_T0, CH_SENSOR, "a:1"));
    /* after ALARM: no edge */
    sen(&h, "a", NOISE, ALARM, 2, TK_CELL, TK_T0 + SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    /* NORMAL first: no signal, then ALARM after NORMAL is an edge */
    sen(&h, "b", NOISE, NORMAL, 1, TK_CELL2, TK_T0);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    sen(&h, "b", NOISE, ALARM, 2, TK_CELL2, TK_T0 + SEC);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    tk_must_incident(&h, iid(b, TK_CELL2, 20302, TK_T0 + SEC, CH_SENSOR, "b:2"));

    /* a longer run: N N A A A N A N N A -> edges at the 3rd, 7th and 10th */
    static const int run[10] = {NORMAL, NORMAL, ALARM,  ALARM,  ALARM,
                                NORMAL, ALARM,  NORMAL, NORMAL, ALARM};
    uint64_t before = tk_metrics(&h)->signals;
    for (int i = 0; i < 10; i++) {
        sen(&h, "c", DUST, run[i], (uint64_t)(100 + i), TK_CELL,
            TK_T0 + 2 * GS_DAY_MS + i * 2 * GS_DAY_MS);
        uint64_t expect = before + (i >= 2) + (i >= 6) + (i >= 9);
        assert_int_equal(tk_metrics(&h)->signals, expect);
    }
    /* two days apart: each edge opened its own incident */
    tk_must_incident(
        &h, iid(b, TK_CELL, 20301, TK_T0 + 2 * GS_DAY_MS + 2 * 2 * GS_DAY_MS, CH_SENSOR, "c:102"));
    tk_must_incident(
        &h, iid(b, TK_CELL, 20301, TK_T0 + 2 * GS_DAY_MS + 6 * 2 * GS_DAY_MS, CH_SENSOR, "c:106"));
    tk_must_incident(
        &h, iid(b, TK_CELL, 20301, TK_T0 + 2 * GS_DAY_MS + 9 * 2 * GS_DAY_MS, CH_SENSOR, "c:109"));
    tk_harness_fini(&h);
}

/* "previous accepted reading (by arrival order)": a late NORMAL re-arms the sensor. */
static void test_sensor_edge_by_arrival_order(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    sen(&h, "s", BIN, ALARM, 10, TK_CELL, TK_T0 + 100 * SEC); /* edge */
    sen(&h, "s", BIN, NORMAL, 9, TK_CELL, TK_T0 + 50 * SEC);  /* older, arrives later */
    sen(&h, "s", BIN, ALARM, 11, TK_CELL, TK_T0 + 200 * SEC); /* edge by arrival order */
    assert_int_equal(tk_metrics(&h)->signals, 2);
    /* and a late ALARM after ALARM is no edge */
    sen(&h, "s", BIN, ALARM, 8, TK_CELL, TK_T0 + 10 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    tk_harness_fini(&h);
}

/* Duplicates do not touch the sensor's state, in either direction. */
static void test_sensor_duplicate_keeps_state(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    /* a duplicate ALARM does not make the next ALARM a non-edge */
    sen(&h, "u", MUCK, NORMAL, 1, TK_CELL, TK_T0);
    sen(&h, "u", MUCK, ALARM, 2, TK_CELL, TK_T0 + SEC); /* signal 1 */
    sen(&h, "u", MUCK, NORMAL, 3, TK_CELL, TK_T0 + 2 * SEC);
    sen(&h, "u", MUCK, ALARM, 2, TK_CELL, TK_T0 + SEC); /* duplicate of seq 2 */
    assert_int_equal(tk_metrics(&h)->signals, 1);
    sen(&h, "u", MUCK, ALARM, 4, TK_CELL, TK_T0 + 3 * SEC); /* previous accepted: NORMAL */
    assert_int_equal(tk_metrics(&h)->signals, 2);

    /* a duplicate NORMAL does not re-arm */
    sen(&h, "v", MUCK, NORMAL, 1, TK_CELL2, TK_T0);
    sen(&h, "v", MUCK, ALARM, 2, TK_CELL2, TK_T0 + SEC);     /* signal 3 */
    sen(&h, "v", MUCK, NORMAL, 1, TK_CELL2, TK_T0);          /* duplicate of seq 1 */
    sen(&h, "v", MUCK, ALARM, 3, TK_CELL2, TK_T0 + 2 * SEC); /* previous accepted: ALARM */
    assert_int_equal(tk_metrics(&h)->signals, 3);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    tk_harness_fini(&h);
}

static void test_sensor_problem_codes(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256], sid[32];
    static const uint32_t code[8] = {0, 10101, 20401, 20301, 20302, 20103, 10201, 20304};
    for (int k = 1; k <= 7; k++) {
        snprintf(b, sizeof(b), "k%d", k);
        sen(&h, b, k, ALARM, (uint64_t)k, TK_CELL, TK_T0 + k * SEC);
    }
    assert_int_equal(tk_metrics(&h)->signals, 7);
    assert_int_equal(tk_metrics(&h)->incidents_opened, 7);
    for (int k = 1; k <= 7; k++) {
        snprintf(sid, sizeof(sid), "k%d:%d", k, k);
        const Gridstream__V1__Incident *inc =
            tk_must_incident(&h, iid(b, TK_CELL, code[k], TK_T0 + k * SEC, CH_SENSOR, sid));
        assert_int_equal(inc->problem_code, code[k]);
        assert_int_equal(inc->cell, TK_CELL);
        assert_int_equal(inc->first_channel, CH_SENSOR);
        assert_true(inc->captured);
        assert_int_equal(inc->channel_mask, 1u << 3);
        assert_int_equal(inc->opened_ms, TK_T0 + k * SEC);
        assert_int_equal(inc->signal_count, 1);
    }
    /* 10101 and 20401 are critical; the 5th incident in the cell within 1 h is a hotspot and the
     * 6th and 7th are suppressed by it */
    assert_int_equal(tk_count_alerts(&h.cap, GRIDSTREAM__V1__ALERT_KIND__CRITICAL), 2);
    assert_int_equal(tk_count_alerts(&h.cap, GRIDSTREAM__V1__ALERT_KIND__HOTSPOT), 1);
    snprintf(b, sizeof(b), "HOTSPOT:%llu:%lld", (unsigned long long)TK_CELL,
             (long long)(TK_T0 + 5 * SEC));
    const Gridstream__V1__Alert *a = tk_alert(&h.cap, b);
    assert_non_null(a);
    assert_int_equal(a->count, 5);
    tk_harness_fini(&h);
}

/* The signal id "sensor_id:seq" (seq decimal, 0 allowed) ends the incident id and is the ref. */
static void test_sensor_signal_id(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    tk_ev_t e;
    sen(&h, "zero", LIGHT, ALARM, 0, TK_CELL, TK_T0);
    sen(&h, "max", LIGHT, ALARM, UINT64_MAX, TK_CELL2, TK_T0);
    tk_must_incident(&h, iid(b, TK_CELL, 10201, TK_T0, CH_SENSOR, "zero:0"));
    tk_must_incident(&h, iid(b, TK_CELL2, 10201, TK_T0, CH_SENSOR, "max:18446744073709551615"));

    /* case events find it by (SENSOR, "zero:0") only */
    assert_int_equal(
        tk_apply(&h, tk_case(&e, "c1", 3, CH_SENSOR, "zero", TK_CELL, TK_T0 + MIN, 0, "d")),
        GS_ERR_UNKNOWN_REF);
    assert_int_equal(
        tk_apply(&h, tk_case(&e, "c1", 3, CH_INSPECTOR, "zero:0", TK_CELL, TK_T0 + MIN, 0, "d")),
        GS_ERR_UNKNOWN_REF);
    assert_int_equal(
        tk_apply(&h, tk_case(&e, "c1", 3, CH_SENSOR, "zero:0", TK_CELL, TK_T0 + MIN, 0, "works")),
        GS_OK);
    const Gridstream__V1__Incident *inc =
        tk_must_incident(&h, iid(b, TK_CELL, 10201, TK_T0, CH_SENSOR, "zero:0"));
    assert_string_equal(inc->department, "works");
    assert_int_equal(inc->stage, 3);
    tk_harness_fini(&h);
}

/* ---- video ----------------------------------------------------------------------------------- */

static void test_video_three_within_60s(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    tk_ev_t e;
    const double latA = 21.66, lonA = 110.92, latB = 21.67; /* B is ~1.1 km north of A */
    const gs_event_t *ev = tk_video(&e, "d1", "cam", 882, 0.9f, TK_CELL, TK_T0);
    e.u.video.lat = latA;
    e.u.video.lon = lonA;
    tk_apply(&h, ev);
    ev = tk_video(&e, "d2", "cam", 882, 0.9f, TK_CELL, TK_T0 + 20 * SEC);
    e.u.video.lat = latA;
    e.u.video.lon = lonA;
    tk_apply(&h, ev);
    assert_int_equal(tk_metrics(&h)->signals, 0);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), 0);
    ev = tk_video(&e, "d3", "cam", 882, 0.9f, TK_CELL, TK_T0 + 40 * SEC);
    e.u.video.lat = latB;
    e.u.video.lon = lonA;
    tk_apply(&h, ev);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    const Gridstream__V1__Incident *inc =
        tk_must_incident(&h, iid(b, TK_CELL, 20506, TK_T0 + 40 * SEC, CH_VIDEO, "d3"));
    assert_int_equal(inc->opened_ms, TK_T0 + 40 * SEC);
    assert_int_equal(inc->problem_code, 20506);
    assert_int_equal(inc->first_channel, CH_VIDEO);
    assert_true(inc->captured);
    assert_int_equal(inc->signal_count, 1);
    assert_int_equal(inc->channel_mask, 1u << 2);

    /* the signal is at the 3rd detection's position: a report at B joins it (distance 0) */
    ev = tk_report(&e, "r", CH_INSPECTOR, 20506, TK_CELL, TK_T0 + 5 * MIN);
    e.u.report.lat = latB;
    e.u.report.lon = lonA;
    tk_apply(&h, ev);
    inc = tk_must_incident(&h, b);
    assert_int_equal(inc->signal_count, 2);
    assert_int_equal(inc->channel_mask, (1u << 2) | (1u << 1));
    assert_int_equal(tk_metrics(&h)->incidents_opened, 1);
    tk_harness_fini(&h);
}

/* max - min <= 60 000 ms, inclusive. */
static void test_video_window_boundary(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    vid(&h, "x1", "X", 890, 0.9f, TK_CELL, TK_T0);
    vid(&h, "x2", "X", 890, 0.9f, TK_CELL, TK_T0 + 30000);
    vid(&h, "x3", "X", 890, 0.9f, TK_CELL, TK_T0 + 60000);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    tk_must_incident(&h, iid(b, TK_CELL, 20102, TK_T0 + 60000, CH_VIDEO, "x3"));

    vid(&h, "y1", "Y", 890, 0.9f, TK_CELL2, TK_T0);
    vid(&h, "y2", "Y", 890, 0.9f, TK_CELL2, TK_T0 + 30000);
    vid(&h, "y3", "Y", 890, 0.9f, TK_CELL2, TK_T0 + 60001);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    /* y2, y3 and y4 lie within 30 002 ms: y4 fires */
    vid(&h, "y4", "Y", 890, 0.9f, TK_CELL2, TK_T0 + 60002);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    tk_must_incident(&h, iid(b, TK_CELL2, 20102, TK_T0 + 60002, CH_VIDEO, "y4"));
    tk_harness_fini(&h);
}

/* Arrival order is not time order: the 3rd qualifying detection to arrive is the signal. */
static void test_video_out_of_order(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    vid(&h, "o1", "O", 883, 0.9f, TK_CELL, TK_T0 + 40 * SEC);
    vid(&h, "o2", "O", 883, 0.9f, TK_CELL, TK_T0);
    assert_int_equal(tk_metrics(&h)->signals, 0);
    vid(&h, "o3", "O", 883, 0.9f, TK_CELL, TK_T0 + 20 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    const Gridstream__V1__Incident *inc =
        tk_must_incident(&h, iid(b, TK_CELL, 20103, TK_T0 + 20 * SEC, CH_VIDEO, "o3"));
    assert_int_equal(inc->opened_ms, TK_T0 + 20 * SEC);
    tk_harness_fini(&h);
}

/* Confidence is the float widened to double: 0.6f qualifies, 0.59f does not. */
static void test_video_confidence(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    vid(&h, "a1", "A", 887, 0.6f, TK_CELL, TK_T0);
    vid(&h, "a2", "A", 887, 0.6f, TK_CELL, TK_T0 + SEC);
    vid(&h, "a3", "A", 887, 0.6f, TK_CELL, TK_T0 + 2 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    tk_must_incident(&h, iid(b, TK_CELL, 20501, TK_T0 + 2 * SEC, CH_VIDEO, "a3"));
    assert_int_equal(tk_metrics(&h)->video_ignored, 0);

    vid(&h, "b1", "B", 887, 0.59f, TK_CELL2, TK_T0);
    vid(&h, "b2", "B", 887, 0.59f, TK_CELL2, TK_T0 + SEC);
    vid(&h, "b3", "B", 887, 0.59f, TK_CELL2, TK_T0 + 2 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    assert_int_equal(tk_metrics(&h)->video_ignored, 3);

    /* an ignored detection between two qualifying ones does not count as the 3rd */
    vid(&h, "c1", "C", 887, 0.9f, TK_CELL2, TK_T0);
    vid(&h, "c2", "C", 887, 0.59f, TK_CELL2, TK_T0 + SEC);
    vid(&h, "c3", "C", 887, 0.61f, TK_CELL2, TK_T0 + 2 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    vid(&h, "c4", "C", 887, 1.0f, TK_CELL2, TK_T0 + 3 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    tk_must_incident(&h, iid(b, TK_CELL2, 20501, TK_T0 + 3 * SEC, CH_VIDEO, "c4"));
    assert_int_equal(tk_metrics(&h)->video_ignored, 4);

    /* the threshold is configuration */
    gs_params_t p;
    gs_params_defaults(&p);
    p.video_min_confidence = 0.95;
    tk_harness_t h2;
    tk_harness_init_params(&h2, &p);
    vid(&h2, "e1", "E", 887, 0.9f, TK_CELL, TK_T0);
    vid(&h2, "e2", "E", 887, 0.9f, TK_CELL, TK_T0 + SEC);
    vid(&h2, "e3", "E", 887, 0.9f, TK_CELL, TK_T0 + 2 * SEC);
    assert_int_equal(tk_metrics(&h2)->signals, 0);
    assert_int_equal(tk_metrics(&h2)->video_ignored, 3);
    tk_harness_fini(&h2);
    tk_harness_fini(&h);
}

static void test_video_alarm_map(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256], cam[16], det[16];
    static const uint32_t type[8] = {882, 883, 887, 890, 891, 892, 893, 894};
    static const uint32_t code[8] = {20506, 20103, 20501, 20102, 20507, 20104, 20509, 20510};
    for (int i = 0; i < 8; i++) {
        snprintf(cam, sizeof(cam), "cam%u", type[i]);
        for (int j = 0; j < 3; j++) {
            snprintf(det, sizeof(det), "%u-%d", type[i], j);
            vid(&h, det, cam, type[i], 0.8f, TK_CELL + (uint64_t)i, TK_T0 + j * SEC);
        }
        const Gridstream__V1__Incident *inc = tk_must_incident(
            &h, iid(b, TK_CELL + (uint64_t)i, code[i], TK_T0 + 2 * SEC, CH_VIDEO, det));
        assert_int_equal(inc->problem_code, code[i]);
    }
    assert_int_equal(tk_metrics(&h)->signals, 8);
    assert_int_equal(tk_metrics(&h)->video_ignored, 0);
    tk_harness_fini(&h);
}

/* Unmapped alarm types and type 0 are ignored (counted), not rejected; still identities. */
static void test_video_unmapped_ignored(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    vid(&h, "u1", "U", 999, 0.9f, TK_CELL, TK_T0);
    vid(&h, "u2", "U", 999, 0.9f, TK_CELL, TK_T0 + SEC);
    vid(&h, "u3", "U", 999, 0.9f, TK_CELL, TK_T0 + 2 * SEC);
    vid(&h, "z1", "U", 0, 0.9f, TK_CELL, TK_T0);
    vid(&h, "z2", "U", 0, 0.9f, TK_CELL, TK_T0 + SEC);
    vid(&h, "z3", "U", 0, 0.9f, TK_CELL, TK_T0 + 2 * SEC);
    vid(&h, "n1", "U", 881, 0.9f, TK_CELL, TK_T0 + 3 * SEC); /* next to a mapped type */
    assert_int_equal(tk_metrics(&h)->signals, 0);
    assert_int_equal(tk_metrics(&h)->video_ignored, 7);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), 0);
    /* an ignored detection's id was registered: the same id again is a duplicate */
    assert_int_equal(vid(&h, "u1", "U", 882, 0.9f, TK_CELL, TK_T0 + 4 * SEC), GS_OK);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(tk_metrics(&h)->video_ignored, 7);
    tk_harness_fini(&h);
}

/*
 * Latch: after firing, qualifying detections within 10 min of the last qualifying one extend it
 * without firing; one exactly 10 min after the last qualifying one starts a new burst.
 */
static void test_video_latch(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    const int64_t T = TK_T0;
    vid(&h, "d1", "L", 882, 0.9f, TK_CELL, T);
    vid(&h, "d2", "L", 882, 0.9f, TK_CELL, T + 10 * SEC);
    vid(&h, "d3", "L", 882, 0.9f, TK_CELL, T + 20 * SEC); /* fires; last = T+20s */
    assert_int_equal(tk_metrics(&h)->signals, 1);
    iid(b, TK_CELL, 20506, T + 20 * SEC, CH_VIDEO, "d3");

    /* latched: three more within 60 s do not fire; last = T+5min+2s */
    vid(&h, "d4", "L", 882, 0.9f, TK_CELL, T + 5 * MIN);
    vid(&h, "d5", "L", 882, 0.9f, TK_CELL, T + 5 * MIN + SEC);
    vid(&h, "d6", "L", 882, 0.9f, TK_CELL, T + 5 * MIN + 2 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    /* 9:59.999 after the last qualifying one: still latched, extends to T+15min+2s-1ms */
    vid(&h, "d7", "L", 882, 0.9f, TK_CELL, T + 5 * MIN + 2 * SEC + 10 * MIN - 1);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    const int64_t last = T + 15 * MIN + SEC + SEC - 1; /* = d7's time */
    /* exactly 10 min after d7: expired, first of a new burst */
    vid(&h, "d8", "L", 882, 0.9f, TK_CELL, last + 10 * MIN);
    vid(&h, "d9", "L", 882, 0.9f, TK_CELL, last + 10 * MIN + SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    vid(&h, "d10", "L", 882, 0.9f, TK_CELL, last + 10 * MIN + 2 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    /* the second burst's signal joins the first incident (same cell and problem, < 24 h) */
    const Gridstream__V1__Incident *inc = tk_must_incident(&h, b);
    assert_int_equal(inc->signal_count, 2);
    assert_int_equal(inc->opened_ms, T + 20 * SEC);
    assert_int_equal(inc->last_signal_ms, last + 10 * MIN + 2 * SEC);
    assert_int_equal(tk_metrics(&h)->incidents_opened, 1);
    tk_harness_fini(&h);
}

/* Ignored detections (low confidence) neither extend the latch nor count. */
static void test_video_latch_not_extended_by_ignored(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    const int64_t F = TK_T0 + 2 * SEC;
    vid(&h, "a", "M", 892, 0.9f, TK_CELL, TK_T0);
    vid(&h, "b", "M", 892, 0.9f, TK_CELL, TK_T0 + SEC);
    vid(&h, "c", "M", 892, 0.9f, TK_CELL, F); /* fires, last = F */
    vid(&h, "lo", "M", 892, 0.5f, TK_CELL, F + 9 * MIN);
    vid(&h, "e", "M", 892, 0.9f, TK_CELL, F + 10 * MIN); /* expired: 1st of new burst */
    vid(&h, "f", "M", 892, 0.9f, TK_CELL, F + 10 * MIN + SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    vid(&h, "g", "M", 892, 0.9f, TK_CELL, F + 10 * MIN + 2 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    assert_int_equal(tk_metrics(&h)->video_ignored, 1);
    tk_harness_fini(&h);
}

/* State is per (camera_id, alarm_type): pending and latch are not shared. */
static void test_video_state_per_camera_and_type(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    /* interleaved: each key has only two detections */
    vid(&h, "p1", "A", 882, 0.9f, TK_CELL, TK_T0);
    vid(&h, "p2", "B", 882, 0.9f, TK_CELL, TK_T0 + SEC);
    vid(&h, "p3", "A", 890, 0.9f, TK_CELL, TK_T0 + 2 * SEC);
    vid(&h, "p4", "A", 882, 0.9f, TK_CELL, TK_T0 + 3 * SEC);
    vid(&h, "p5", "B", 882, 0.9f, TK_CELL, TK_T0 + 4 * SEC);
    vid(&h, "p6", "A", 890, 0.9f, TK_CELL, TK_T0 + 5 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 0);

    /* A/882 fires and is latched */
    vid(&h, "q1", "A", 882, 0.9f, TK_CELL, TK_T0 + 6 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 1);
    tk_must_incident(&h, iid(b, TK_CELL, 20506, TK_T0 + 6 * SEC, CH_VIDEO, "q1"));
    /* A/890 and B/882 are not latched by it */
    vid(&h, "q2", "A", 890, 0.9f, TK_CELL, TK_T0 + 7 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 2);
    tk_must_incident(&h, iid(b, TK_CELL, 20102, TK_T0 + 7 * SEC, CH_VIDEO, "q2"));
    vid(&h, "q3", "B", 882, 0.9f, TK_CELL, TK_T0 + 8 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 3);
    /* B/882's signal is the same cell and problem as A/882's: it joins that incident */
    const Gridstream__V1__Incident *inc =
        tk_must_incident(&h, iid(b, TK_CELL, 20506, TK_T0 + 6 * SEC, CH_VIDEO, "q1"));
    assert_int_equal(inc->signal_count, 2);
    /* now all three are latched */
    vid(&h, "r1", "A", 882, 0.9f, TK_CELL, TK_T0 + 9 * SEC);
    vid(&h, "r2", "A", 890, 0.9f, TK_CELL, TK_T0 + 10 * SEC);
    vid(&h, "r3", "B", 882, 0.9f, TK_CELL, TK_T0 + 11 * SEC);
    vid(&h, "r4", "A", 882, 0.9f, TK_CELL, TK_T0 + 12 * SEC);
    vid(&h, "r5", "A", 890, 0.9f, TK_CELL, TK_T0 + 13 * SEC);
    vid(&h, "r6", "B", 882, 0.9f, TK_CELL, TK_T0 + 14 * SEC);
    assert_int_equal(tk_metrics(&h)->signals, 3);
    tk_harness_fini(&h);
}

/*
 * Dedup entries are forgotten once the watermark is more than 2 x TTL past their first sighting
 * (SPEC-READINGS "Dedup"): a late redelivery after that is a new message, except that one which
 * would open an incident with the id of the incident its first delivery opened is a duplicate
 * (commit 9ed9b6d; matches SPEC §11's "an earlier t is also a duplicate").
 */
static void test_dedup_forgotten_after_two_ttl(void **state)
{
    (void)state;
    tk_harness_t h;
    tk_harness_init(&h);
    char b[256];
    tk_only_source(&h, GS_SRC_REPORTS);
    rep(&h, "old", CH_INSPECTOR, TK_CELL, TK_T0);
    assert_int_equal(gs_task_watermark(h.task), TK_T0 - 5 * MIN);
    /* watermark = TK_T0 + 2 TTL + 1: "old" (first sighting TK_T0) is forgotten */
    rep(&h, "new", CH_INSPECTOR, TK_CELL2, TK_T0 + 2 * TTL + 5 * MIN + 1);
    assert_int_equal(gs_task_watermark(h.task), TK_T0 + 2 * TTL + 1);
    assert_int_equal(tk_metrics(&h)->dedup_expired, 1);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 0);
    /* the same record again would re-open the same incident id: a duplicate */
    size_t before = tk_count(&h.cap, GS_OUT_INCIDENTS);
    rep(&h, "old", CH_INSPECTOR, TK_CELL, TK_T0);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(tk_metrics(&h)->incidents_opened, 2);
    assert_int_equal(tk_count(&h.cap, GS_OUT_INCIDENTS), before);
    /* the forgotten identity with other content is a new signal */
    rep(&h, "old", CH_INSPECTOR, TK_CELL2, TK_T0 + 1);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 1);
    assert_int_equal(tk_metrics(&h)->incidents_opened, 3);
    tk_must_incident(&h, iid(b, TK_CELL2, 20101, TK_T0 + 1, CH_INSPECTOR, "old"));
    /* "new" is remembered */
    rep(&h, "new", CH_INSPECTOR, TK_CELL2, TK_T0 + 2 * TTL + 5 * MIN + 1);
    assert_int_equal(tk_metrics(&h)->duplicates_exact, 2);
    tk_harness_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_ttl_edges),
        cmocka_unit_test(test_dedup_custom_ttl),
        cmocka_unit_test(test_dedup_identity_reports),
        cmocka_unit_test(test_dedup_identity_sensors),
        cmocka_unit_test(test_dedup_identity_video),
        cmocka_unit_test(test_dedup_identity_cases),
        cmocka_unit_test(test_sensor_edges),
        cmocka_unit_test(test_sensor_edge_by_arrival_order),
        cmocka_unit_test(test_sensor_duplicate_keeps_state),
        cmocka_unit_test(test_sensor_problem_codes),
        cmocka_unit_test(test_sensor_signal_id),
        cmocka_unit_test(test_video_three_within_60s),
        cmocka_unit_test(test_video_window_boundary),
        cmocka_unit_test(test_video_out_of_order),
        cmocka_unit_test(test_video_confidence),
        cmocka_unit_test(test_video_alarm_map),
        cmocka_unit_test(test_video_unmapped_ignored),
        cmocka_unit_test(test_video_latch),
        cmocka_unit_test(test_video_latch_not_extended_by_ignored),
        cmocka_unit_test(test_video_state_per_camera_and_type),
        cmocka_unit_test(test_dedup_forgotten_after_two_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
