/*
 * test_params.c - unit tests of params.c: SPEC's defaults, setting every kind of key from text,
 * every parse error naming its key and the reason, unknown keys, and the key dump (which must
 * read back to the same parameters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "params.h"

static void test_defaults_are_spec(void **state)
{
    (void)state;
    gs_params_t p;
    memset(&p, 0xa5, sizeof(p));
    gs_params_defaults(&p);

    assert_int_equal(p.dedup_ttl_ms, INT64_C(604800000)); /* 7 days */
    assert_true(p.video_min_confidence == 0.6);
    assert_int_equal(p.video_burst_count, 3);
    assert_int_equal(p.video_burst_window_ms, 60000);
    assert_int_equal(p.video_latch_ms, 600000);
    assert_int_equal(p.correlation_window_ms, INT64_C(86400000));
    assert_true(p.correlation_distance_m == 50.0);
    assert_true(p.earth_radius_m == 6371008.8);
    assert_int_equal(p.tz_offset_minutes, 480);
    assert_int_equal(p.watermark_lag_ms, 300000);
    assert_int_equal(p.kpi_grace_ms, 300000);
    assert_int_equal(p.kpi_retention_ms, INT64_C(35) * 86400000);
    assert_int_equal(p.kpi_month_retention_ms, INT64_C(400) * 86400000);
    assert_int_equal(p.hotspot_threshold, 5);
    assert_int_equal(p.hotspot_window_ms, 3600000);
    assert_int_equal(p.n_critical, 2);
    assert_int_equal(p.critical_codes[0], 10101);
    assert_int_equal(p.critical_codes[1], 20401);
    assert_int_equal(p.rework_alert_count, 2);
    assert_int_equal(p.score_grace_ms, INT64_C(604800000));
    assert_true(p.target_timely == 0.95);
    assert_true(p.target_capture == 0.90);
    assert_true(p.target_filing == 0.90);
    assert_true(p.target_rework == 0.05);
    assert_true(p.weight_timely == 1.0);
    assert_true(p.weight_capture == 0.5);
    assert_true(p.weight_filing == 0.5);
    assert_true(p.weight_rework == 1.0);
    assert_true(p.cap_timely == 40.0);
    assert_true(p.cap_capture == 20.0);
    assert_true(p.cap_filing == 10.0);
    assert_true(p.cap_rework == 15.0);
    assert_true(p.overdue_points == 0.2);
    assert_true(p.cap_overdue == 15.0);
    assert_true(p.grade_a == 90.0);
    assert_true(p.grade_b == 75.0);
    assert_true(p.grade_c == 60.0);
    assert_true(p.grade_d == 40.0);
    assert_true(p.fail_below == 60.0);
    assert_int_equal(p.accountability_fails, 2);
    assert_int_equal(p.rewards[0], 1000000);
    assert_int_equal(p.rewards[1], 600000);
    assert_int_equal(p.rewards[2], 300000);
}

static void test_default_maps(void **state)
{
    (void)state;
    gs_params_t p;
    gs_params_defaults(&p);

    assert_int_equal(p.sensor_problem_map.n, 7);
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 1), 10101); /* MANHOLE_COVER */
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 2), 20401); /* WATERLOGGING */
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 3), 20301); /* DUST_PM10 */
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 4), 20302); /* NOISE */
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 5), 20103); /* BIN_FILL */
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 6), 10201); /* STREETLIGHT */
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 7), 20304); /* MUCK_TRUCK */
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 0), 0);
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 8), 0);

    assert_int_equal(p.video_alarm_map.n, 8);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 882), 20506);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 883), 20103);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 887), 20501);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 890), 20102);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 891), 20507);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 892), 20104);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 893), 20509);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 894), 20510);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 0), 0);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 884), 0);

    assert_true(gs_params_is_critical(&p, 10101));
    assert_true(gs_params_is_critical(&p, 20401));
    assert_false(gs_params_is_critical(&p, 20402));
    assert_false(gs_params_is_critical(&p, 0));
}

static gs_err_t set(gs_params_t *p, const char *k, const char *v, char *err)
{
    return gs_params_set(p, k, v, err, 256);
}

static void test_set_each_type(void **state)
{
    (void)state;
    gs_params_t p;
    char err[256];
    gs_params_defaults(&p);

    assert_int_equal(set(&p, "dedup.ttl.ms", "1000", err), GS_OK);
    assert_int_equal(p.dedup_ttl_ms, 1000);
    assert_string_equal(err, "");
    assert_int_equal(set(&p, "kpi.month.retention.ms", "+3155760000000", err), GS_OK);
    assert_int_equal(p.kpi_month_retention_ms, INT64_C(3155760000000));
    assert_int_equal(set(&p, "video.burst.count", "4", err), GS_OK);
    assert_int_equal(p.video_burst_count, 4);
    assert_int_equal(set(&p, "scorecard.accountability.fails", "1", err), GS_OK);
    assert_int_equal(p.accountability_fails, 1);
    assert_int_equal(set(&p, "timezone.offset.minutes", "-840", err), GS_OK);
    assert_int_equal(p.tz_offset_minutes, -840);
    assert_int_equal(set(&p, "timezone.offset.minutes", "840", err), GS_OK);
    assert_int_equal(p.tz_offset_minutes, 840);
    assert_int_equal(set(&p, "timezone.offset.minutes", "0", err), GS_OK);
    assert_int_equal(p.tz_offset_minutes, 0);
    assert_int_equal(set(&p, "video.confidence.min", "0.75", err), GS_OK);
    assert_true(p.video_min_confidence == 0.75);
    assert_int_equal(set(&p, "video.confidence.min", "1", err), GS_OK);
    assert_true(p.video_min_confidence == 1.0);
    assert_int_equal(set(&p, "correlation.distance.m", "1e2", err), GS_OK);
    assert_true(p.correlation_distance_m == 100.0);
    assert_int_equal(set(&p, "scorecard.target.rework", ".1", err), GS_OK);
    assert_true(p.target_rework == 0.1);
    assert_int_equal(set(&p, "scorecard.grade.d", "35.5", err), GS_OK);
    assert_true(p.grade_d == 35.5);
    assert_int_equal(set(&p, "scorecard.overdue.points", "0", err), GS_OK);
    assert_true(p.overdue_points == 0.0);

    assert_int_equal(set(&p, "video.alarm.map", "1:10101,2000:29999", err), GS_OK);
    assert_int_equal(p.video_alarm_map.n, 2);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 1), 10101);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 2000), 29999);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, 882), 0);
    assert_int_equal(set(&p, "video.alarm.map", "", err), GS_OK); /* no mapping: all ignored */
    assert_int_equal(p.video_alarm_map.n, 0);
    assert_int_equal(set(&p, "sensor.problem.map", "1:20401", err), GS_OK);
    assert_int_equal(p.sensor_problem_map.n, 1);
    assert_int_equal(gs_code_map_get(&p.sensor_problem_map, 1), 20401);

    assert_int_equal(set(&p, "alert.critical.codes", "20102,20103,20104", err), GS_OK);
    assert_int_equal(p.n_critical, 3);
    assert_true(gs_params_is_critical(&p, 20103));
    assert_false(gs_params_is_critical(&p, 20105));
    /* SPEC §8: 10101 and 20401 are critical whatever the configured set */
    assert_true(gs_params_is_critical(&p, 10101));
    assert_true(gs_params_is_critical(&p, 20401));
    assert_int_equal(set(&p, "alert.critical.codes", "", err), GS_OK);
    assert_int_equal(p.n_critical, 0);
    assert_false(gs_params_is_critical(&p, 20103));

    assert_int_equal(set(&p, "scorecard.rewards", "500,0,100", err), GS_OK);
    assert_int_equal(p.rewards[0], 500);
    assert_int_equal(p.rewards[1], 0);
    assert_int_equal(p.rewards[2], 100);
}

/* Every error names the key, quotes the value and says why; the parameters are unchanged. */
static void expect_error(const char *key, const char *value, const char *why)
{
    gs_params_t p, before;
    char err[256];
    char expect[512];

    gs_params_defaults(&p);
    before = p;
    gs_err_t e = gs_params_set(&p, key, value, err, sizeof(err));
    if (e != GS_ERR_CONFIG) fail_msg("%s=%s: expected GS_ERR_CONFIG, got %d", key, value, e);
    snprintf(expect, sizeof(expect), "%s: '%s' %s", key, value, why);
    if (strncmp(err, expect, strlen(expect)) != 0)
        fail_msg("%s=%s: error '%s' does not start with '%s'", key, value, err, expect);
    assert_memory_equal(&p, &before, sizeof(p));
}

static void test_errors_name_key(void **state)
{
    (void)state;
    /* integers */
    expect_error("dedup.ttl.ms", "abc", "is not an integer");
    expect_error("dedup.ttl.ms", "", "is not an integer");
    expect_error("dedup.ttl.ms", "12x", "is not an integer");
    expect_error("dedup.ttl.ms", " 12", "is not an integer");
    expect_error("dedup.ttl.ms", "12 ", "is not an integer");
    expect_error("dedup.ttl.ms", "0x10", "is not an integer");
    expect_error("dedup.ttl.ms", "1.5", "is not an integer");
    expect_error("dedup.ttl.ms", "-", "is not an integer");
    expect_error("dedup.ttl.ms", "0", "must be between 1 and 3155760000000 ms");
    expect_error("dedup.ttl.ms", "-5", "must be between 1 and 3155760000000 ms");
    expect_error("dedup.ttl.ms", "3155760000001", "must be between 1 and 3155760000000 ms");
    expect_error("dedup.ttl.ms", "99999999999999999999", "is out of range");
    expect_error("dedup.ttl.ms", "-99999999999999999999999999999999999999", "is out of range");
    expect_error("video.burst.count", "0", "must be between 1 and 2147483647");
    expect_error("video.burst.count", "2147483648", "must be between 1 and 2147483647");
    expect_error("alert.hotspot.threshold", "five", "is not an integer");
    expect_error("timezone.offset.minutes", "841", "must be between -840 and 840 minutes");
    expect_error("timezone.offset.minutes", "-841", "must be between -840 and 840 minutes");
    expect_error("timezone.offset.minutes", "8h", "is not an integer");
    /* doubles */
    expect_error("video.confidence.min", "x", "is not a number");
    expect_error("video.confidence.min", "", "is not a number");
    expect_error("video.confidence.min", " 0.5", "is not a number");
    expect_error("video.confidence.min", "0.5 ", "is not a number");
    expect_error("video.confidence.min", "nan", "is not a number");
    expect_error("video.confidence.min", "inf", "is not a number");
    expect_error("video.confidence.min", "-inf", "is not a finite number");
    expect_error("video.confidence.min", "1e999", "is not a finite number");
    expect_error("video.confidence.min", "1.01", "must be between 0 and 1");
    expect_error("video.confidence.min", "-0.1", "must be between 0 and 1");
    expect_error("correlation.distance.m", "-1", "must be >= 0");
    expect_error("correlation.earth.radius.m", "0", "must be > 0");
    expect_error("scorecard.grade.a", "101", "must be between 0 and 100");
    expect_error("scorecard.weight.timely", "-0.5", "must be >= 0");
    /* maps */
    expect_error("video.alarm.map", "882", "is not a list of from:to pairs");
    expect_error("video.alarm.map", "882:", "is not a list of from:to pairs");
    expect_error("video.alarm.map", ":20506", "is not a list of from:to pairs");
    expect_error("video.alarm.map", "882:20506,", "is not a list of from:to pairs");
    expect_error("video.alarm.map", "882:20506,,883:20103", "is not a list of from:to pairs");
    expect_error("video.alarm.map", "882:-1", "is not a list of from:to pairs");
    expect_error("video.alarm.map", "4294967296:20506", "is not a list of from:to pairs");
    expect_error("video.alarm.map", "882:20506:1", "is not a list of from:to pairs");
    expect_error("video.alarm.map", "882:30101", "maps 882 to 30101, which is not a valid");
    expect_error("video.alarm.map", "0:20506", "maps 0");
    expect_error("sensor.problem.map", "1:10101,1:20401", "maps 1 twice");
    /* lists */
    expect_error("alert.critical.codes", "10101,x", "is not a comma-separated list");
    expect_error("alert.critical.codes", "10101,", "is not a comma-separated list");
    expect_error("alert.critical.codes", "10100", "contains 10100, which is not a valid");
    expect_error("scorecard.rewards", "1,2", "must have exactly 3 amounts");
    expect_error("scorecard.rewards", "1,2,3,4", "must have exactly 3 amounts");
    expect_error("scorecard.rewards", "1,two,3", "is not a comma-separated list of integers");
    expect_error("scorecard.rewards", "1,-2,3", "item 2 must be between 0 and");
    expect_error("scorecard.rewards", "", "must have exactly 3 amounts");
}

static void test_map_and_list_capacity(void **state)
{
    (void)state;
    gs_params_t p;
    char err[256];
    char text[4096];
    size_t pos = 0;

    gs_params_defaults(&p);
    for (int i = 1; i <= GS_MAX_MAP; i++)
        pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%s%d:20101", i > 1 ? "," : "", i);
    assert_int_equal(set(&p, "video.alarm.map", text, err), GS_OK);
    assert_int_equal(p.video_alarm_map.n, GS_MAX_MAP);
    assert_int_equal(gs_code_map_get(&p.video_alarm_map, GS_MAX_MAP), 20101);
    snprintf(text + pos, sizeof(text) - pos, ",%d:20101", GS_MAX_MAP + 1);
    gs_code_map_t before = p.video_alarm_map;
    assert_int_equal(set(&p, "video.alarm.map", text, err), GS_ERR_CONFIG);
    /* the value is cut to 45 characters so that the reason fits */
    assert_string_equal(err, "video.alarm.map: '1:20101,2:20101,3:20101,4:20101,5:20101,6:201...' "
                             "has more than 64 entries");
    assert_memory_equal(&p.video_alarm_map, &before, sizeof(before));

    pos = 0;
    for (int i = 1; i <= GS_MAX_CRITICAL + 1; i++)
        pos +=
            (size_t)snprintf(text + pos, sizeof(text) - pos, "%s%d", i > 1 ? "," : "", 20100 + i);
    assert_int_equal(set(&p, "alert.critical.codes", text, err), GS_ERR_CONFIG);
    assert_non_null(strstr(err, "has more than 32 codes"));
    assert_int_equal(p.n_critical, 2);
}

static void test_unknown_key_and_nulls(void **state)
{
    (void)state;
    gs_params_t p, before;
    char err[64];
    gs_params_defaults(&p);
    before = p;

    assert_int_equal(gs_params_set(&p, "bootstrap.servers", "localhost:9092", err, sizeof(err)),
                     GS_ERR_NOENT);
    assert_int_equal(gs_params_set(&p, "dedup.ttl", "1", err, sizeof(err)), GS_ERR_NOENT);
    assert_int_equal(gs_params_set(&p, "", "1", err, sizeof(err)), GS_ERR_NOENT);
    assert_int_equal(gs_params_set(&p, NULL, "1", err, sizeof(err)), GS_ERR_NOENT);
    assert_int_equal(gs_params_set(&p, "dedup.ttl.ms", NULL, err, sizeof(err)), GS_ERR_CONFIG);
    assert_string_equal(err, "dedup.ttl.ms: missing value");
    /* a NULL or tiny error buffer is allowed */
    assert_int_equal(gs_params_set(&p, "dedup.ttl.ms", "x", NULL, 0), GS_ERR_CONFIG);
    assert_int_equal(gs_params_set(&p, "dedup.ttl.ms", "x", err, 4), GS_ERR_CONFIG);
    assert_string_equal(err, "ded");
    assert_memory_equal(&p, &before, sizeof(p));
}

typedef struct dump {
    int n;
    char keys[64][48];
    char values[64][1600];
    bool docs_ok;
} dump_t;

static void dump_cb(void *ctx, const char *key, const char *value, const char *doc)
{
    dump_t *d = ctx;
    assert_true(d->n < 64);
    snprintf(d->keys[d->n], sizeof(d->keys[0]), "%s", key);
    snprintf(d->values[d->n], sizeof(d->values[0]), "%s", value);
    if (doc == NULL || doc[0] == '\0' || strchr(doc, '\n') != NULL) d->docs_ok = false;
    d->n++;
}

static const char *dump_get(const dump_t *d, const char *key)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->keys[i], key) == 0) return d->values[i];
    return NULL;
}

static void test_each_lists_and_round_trips(void **state)
{
    (void)state;
    static dump_t d;
    gs_params_t p, q;
    char err[256];

    memset(&d, 0, sizeof(d));
    d.docs_ok = true;
    gs_params_defaults(&p);
    gs_params_each(&p, dump_cb, &d);
    assert_int_equal(d.n, 41);
    assert_true(d.docs_ok);
    assert_string_equal(dump_get(&d, "dedup.ttl.ms"), "604800000");
    assert_string_equal(dump_get(&d, "video.confidence.min"), "0.6");
    assert_string_equal(dump_get(&d, "correlation.earth.radius.m"), "6371008.8");
    assert_string_equal(dump_get(&d, "timezone.offset.minutes"), "480");
    assert_string_equal(dump_get(&d, "video.alarm.map"),
                        "882:20506,883:20103,887:20501,890:20102,891:20507,892:20104,893:20509,"
                        "894:20510");
    assert_string_equal(dump_get(&d, "sensor.problem.map"),
                        "1:10101,2:20401,3:20301,4:20302,5:20103,6:10201,7:20304");
    assert_string_equal(dump_get(&d, "alert.critical.codes"), "10101,20401");
    assert_string_equal(dump_get(&d, "scorecard.rewards"), "1000000,600000,300000");
    assert_string_equal(dump_get(&d, "scorecard.overdue.points"), "0.2");
    assert_string_equal(dump_get(&d, "scorecard.target.timely"), "0.95");
    const char *scorecard_keys[] = {
        "scorecard.grace.ms",
        "scorecard.target.capture",
        "scorecard.target.filing",
        "scorecard.target.rework",
        "scorecard.weight.timely",
        "scorecard.weight.capture",
        "scorecard.weight.filing",
        "scorecard.weight.rework",
        "scorecard.cap.timely",
        "scorecard.cap.capture",
        "scorecard.cap.filing",
        "scorecard.cap.rework",
        "scorecard.cap.overdue",
        "scorecard.grade.a",
        "scorecard.grade.b",
        "scorecard.grade.c",
        "scorecard.grade.d",
        "scorecard.fail.below",
        "scorecard.accountability.fails",
    };
    for (size_t i = 0; i < sizeof(scorecard_keys) / sizeof(scorecard_keys[0]); i++)
        assert_non_null(dump_get(&d, scorecard_keys[i]));

    /* every dumped value sets back to the same parameters, from zeroed memory too */
    memset(&q, 0, sizeof(q));
    for (int i = 0; i < d.n; i++)
        assert_int_equal(gs_params_set(&q, d.keys[i], d.values[i], err, sizeof(err)), GS_OK);
    assert_memory_equal(&p, &q, sizeof(p));

    /* the same for non-default values, including a full map */
    assert_int_equal(set(&p, "correlation.distance.m", "0.1", err), GS_OK);
    assert_int_equal(set(&p, "timezone.offset.minutes", "-330", err), GS_OK);
    char text[4096];
    size_t pos = 0;
    for (int i = 0; i < GS_MAX_MAP; i++)
        pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%s%u:29999", i ? "," : "",
                                4294967295u - (unsigned)i);
    assert_int_equal(set(&p, "video.alarm.map", text, err), GS_OK);
    memset(&d, 0, sizeof(d));
    d.docs_ok = true;
    gs_params_each(&p, dump_cb, &d);
    assert_string_equal(dump_get(&d, "video.alarm.map"), text);
    gs_params_defaults(&q);
    for (int i = 0; i < d.n; i++)
        assert_int_equal(gs_params_set(&q, d.keys[i], d.values[i], err, sizeof(err)), GS_OK);
    assert_memory_equal(&p, &q, sizeof(p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_spec),
        cmocka_unit_test(test_default_maps),
        cmocka_unit_test(test_set_each_type),
        cmocka_unit_test(test_errors_name_key),
        cmocka_unit_test(test_map_and_list_capacity),
        cmocka_unit_test(test_unknown_key_and_nulls),
        cmocka_unit_test(test_each_lists_and_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
