/*
 * test_topics.c - unit tests of topics.c: the topic plan (names, order, partition counts and
 * cleanup policies, the application.id prefix of internal topics), its snprintf-like capacity
 * handling, and the partition-count parser shared by `topics` and `broker`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topics.h"

/* The decided plan for N = 7 and application.id "city1", in order. */
static const struct {
    const char *name;
    int partitions; /* 0 = N */
    const char *cleanup;
} want[] = {
    {"city.reports", 0, "delete"},
    {"city.sensors", 0, "delete"},
    {"city.video", 0, "delete"},
    {"city.cases", 0, "delete"},
    {"gridstream.kpi", 0, "compact"},
    {"gridstream.incidents", 0, "compact"},
    {"gridstream.alerts", 0, "compact"},
    {"gridstream.scorecards", 1, "compact"},
    {"gridstream.dlq", 0, "delete"},
    {"city1-partials", 0, "compact"},
    {"city1-state-changelog", 0, "compact"},
    {"city1-rollup-changelog", 0, "compact"},
};
#define N_WANT (sizeof(want) / sizeof(want[0]))

static void config_with_app(gs_config_t *c, const char *app)
{
    char err[256];
    gs_config_defaults(c);
    assert_int_equal(gs_config_set(c, "application.id", app, err, sizeof(err)), GS_OK);
}

static void test_plan_custom_application_id(void **state)
{
    (void)state;
    gs_config_t c;
    config_with_app(&c, "city1");
    gs_topic_spec_t plan[GS_TOPICS_COUNT + 4];
    memset(plan, 0, sizeof(plan));
    assert_int_equal(N_WANT, GS_TOPICS_COUNT);
    assert_int_equal(gs_topics_plan(&c, 7, plan, GS_TOPICS_COUNT + 4), GS_TOPICS_COUNT);
    for (size_t i = 0; i < N_WANT; i++) {
        assert_string_equal(plan[i].name, want[i].name);
        assert_int_equal(plan[i].partitions, want[i].partitions ? want[i].partitions : 7);
        assert_string_equal(plan[i].cleanup, want[i].cleanup);
    }
    /* nothing written past the plan */
    for (size_t i = GS_TOPICS_COUNT; i < GS_TOPICS_COUNT + 4; i++)
        assert_int_equal(plan[i].name[0], 0);
}

static void test_plan_default_application_id(void **state)
{
    (void)state;
    gs_config_t c;
    gs_config_defaults(&c);
    gs_topic_spec_t plan[GS_TOPICS_COUNT];
    assert_int_equal(gs_topics_plan(&c, 1, plan, GS_TOPICS_COUNT), GS_TOPICS_COUNT);
    assert_string_equal(plan[9].name, "gridstream-partials");
    assert_string_equal(plan[10].name, "gridstream-state-changelog");
    assert_string_equal(plan[11].name, "gridstream-rollup-changelog");
    for (size_t i = 0; i < GS_TOPICS_COUNT; i++)
        assert_int_equal(plan[i].partitions, 1);
}

static void test_plan_names_unique_and_counts(void **state)
{
    (void)state;
    gs_config_t c;
    config_with_app(&c, "a.b_c-d");
    gs_topic_spec_t plan[GS_TOPICS_COUNT];
    assert_int_equal(gs_topics_plan(&c, GS_TOPICS_MAX_PARTITIONS, plan, GS_TOPICS_COUNT),
                     GS_TOPICS_COUNT);
    int compact = 0, single = 0;
    for (size_t i = 0; i < GS_TOPICS_COUNT; i++) {
        for (size_t j = i + 1; j < GS_TOPICS_COUNT; j++)
            assert_string_not_equal(plan[i].name, plan[j].name);
        compact += strcmp(plan[i].cleanup, "compact") == 0;
        if (plan[i].partitions == 1)
            single++;
        else
            assert_int_equal(plan[i].partitions, GS_TOPICS_MAX_PARTITIONS);
    }
    assert_int_equal(compact, 7);
    assert_int_equal(single, 1);
    assert_string_equal(plan[11].name, "a.b_c-d-rollup-changelog");
}

/* The longest application.id still fits the name field, unshortened. */
static void test_plan_longest_application_id(void **state)
{
    (void)state;
    char app[sizeof(((gs_config_t *)0)->application_id)];
    memset(app, 'x', sizeof(app) - 1);
    app[sizeof(app) - 1] = 0;
    gs_config_t c;
    config_with_app(&c, app);
    gs_topic_spec_t plan[GS_TOPICS_COUNT];
    gs_topics_plan(&c, 2, plan, GS_TOPICS_COUNT);
    char name[300];
    snprintf(name, sizeof(name), "%s-rollup-changelog", app);
    assert_string_equal(plan[11].name, name);
}

static void test_plan_capacity(void **state)
{
    (void)state;
    gs_config_t c;
    config_with_app(&c, "city1");
    /* cap 0 with NULL: only the count */
    assert_int_equal(gs_topics_plan(&c, 3, NULL, 0), GS_TOPICS_COUNT);

    /* a short array gets the first entries, in order, and nothing beyond */
    gs_topic_spec_t plan[6];
    memset(plan, 0, sizeof(plan));
    assert_int_equal(gs_topics_plan(&c, 3, plan, 5), GS_TOPICS_COUNT);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(plan[i].name, want[i].name);
        assert_int_equal(plan[i].partitions, 3);
    }
    assert_int_equal(plan[5].name[0], 0);
    assert_null(plan[5].cleanup);
}

static void test_parse_partitions(void **state)
{
    (void)state;
    int n = -1;
    assert_true(gs_topics_parse_partitions("1", &n));
    assert_int_equal(n, 1);
    assert_true(gs_topics_parse_partitions("10000", &n));
    assert_int_equal(n, 10000);
    assert_true(gs_topics_parse_partitions("048", &n));
    assert_int_equal(n, 48);
    n = -1;
    const char *bad[] = {
        "0", "10001", "-1", "+3", " 3", "3 ", "3x", "x", "", "1e3", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(gs_topics_parse_partitions(bad[i], &n));
        assert_int_equal(n, -1); /* left alone */
    }
    assert_false(gs_topics_parse_partitions(NULL, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_custom_application_id),
        cmocka_unit_test(test_plan_default_application_id),
        cmocka_unit_test(test_plan_names_unique_and_counts),
        cmocka_unit_test(test_plan_longest_application_id),
        cmocka_unit_test(test_plan_capacity),
        cmocka_unit_test(test_parse_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
