/*
 * test_metrics.c - unit tests of metrics.c: the exact exposition text of a small registry (HELP
 * and TYPE lines, label and HELP escaping, exact decimals, histogram buckets cumulative with +Inf,
 * _sum and _count), series of unassigned tasks hidden, refused registrations, exact sums of
 * concurrent updates from several threads, collectors, and gridstream's own families.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "metrics.h"

static char *render(gs_metrics_t *m)
{
    size_t len = 0;
    char *text = gs_metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_exposition_exact(void **state)
{
    (void)state;
    gs_metrics_t *m = gs_metrics_new(2);
    assert_non_null(m);

    const char *labels[] = {"path", "code", NULL};
    gs_metric_family_t *req =
        gs_metrics_family(m, GS_METRIC_COUNTER, "app_requests_total",
                          "Requests, with a \\ backslash\nand a new line.", labels, 0, NULL, 0);
    assert_non_null(req);
    const char *v1[] = {"/a\"b", "200"};
    const char *v2[] = {"x\\y\nz", "500"};
    const char *v3[] = {"茂南区", "200"};
    gs_counter_t *c1 = gs_metrics_counter(req, v1, -1);
    gs_counter_t *c2 = gs_metrics_counter(req, v2, -1);
    gs_counter_t *c3 = gs_metrics_counter(req, v3, -1);
    gs_counter_add(c1, 41);
    gs_counter_inc(c1);
    gs_counter_add(c2, UINT64_C(18446744073709551615));

    const char *task_label[] = {"task", NULL};
    gs_metric_family_t *wm = gs_metrics_family(m, GS_METRIC_GAUGE, "app_watermark_seconds",
                                               "Watermark.", task_label, -3, NULL, 0);
    const char *t0[] = {"0"}, *t1[] = {"1"};
    gs_gauge_t *w0 = gs_metrics_gauge(wm, t0, 0);
    gs_gauge_t *w1 = gs_metrics_gauge(wm, t1, 1);
    gs_gauge_set(w0, INT64_C(1795428000123));
    gs_gauge_set(w1, -250);

    gs_metric_family_t *temp =
        gs_metrics_family(m, GS_METRIC_GAUGE, "app_threads", "Threads.", NULL, 0, NULL, 0);
    gs_gauge_t *th = gs_metrics_gauge(temp, NULL, -1);
    gs_gauge_set(th, 3);
    gs_gauge_add(th, -1);

    const double b[] = {0.005, 0.01, 0.1};
    gs_metric_family_t *lat = gs_metrics_family(m, GS_METRIC_HISTOGRAM, "app_latency_seconds",
                                                "Latency.", NULL, -9, b, 3);
    gs_histogram_t *h = gs_metrics_histogram(lat, NULL, -1);
    gs_histogram_observe(h, 1000000);    /* 1 ms */
    gs_histogram_observe(h, 5000000);    /* 5 ms: le is inclusive */
    gs_histogram_observe(h, 7000000);    /* 7 ms */
    gs_histogram_observe(h, 2000000000); /* 2 s: +Inf only */
    const char *op[] = {"op", NULL};
    gs_metric_family_t *lat2 =
        gs_metrics_family(m, GS_METRIC_HISTOGRAM, "app_op_seconds", "Per op.", op, -9, b + 2, 1);
    const char *opv[] = {"put"};
    gs_histogram_t *h2 = gs_metrics_histogram(lat2, opv, 1);
    gs_histogram_observe(h2, 100000001); /* just above 0.1 s */

    assert_non_null(c3);
    assert_int_equal(gs_histogram_count(h), 4);
    assert_int_equal(gs_histogram_sum(h), UINT64_C(2013000000));

    /* task 0 assigned, task 1 not: w1 and h2 hidden */
    gs_metrics_task_assign(m, 0, true);
    char *text = render(m);
    const char *expected =
        "# HELP app_requests_total Requests, with a \\\\ backslash\\nand a new line.\n"
        "# TYPE app_requests_total counter\n"
        "app_requests_total{path=\"/a\\\"b\",code=\"200\"} 42\n"
        "app_requests_total{path=\"x\\\\y\\nz\",code=\"500\"} 18446744073709551615\n"
        "app_requests_total{path=\"茂南区\",code=\"200\"} 0\n"
        "# HELP app_watermark_seconds Watermark.\n"
        "# TYPE app_watermark_seconds gauge\n"
        "app_watermark_seconds{task=\"0\"} 1795428000.123\n"
        "# HELP app_threads Threads.\n"
        "# TYPE app_threads gauge\n"
        "app_threads 2\n"
        "# HELP app_latency_seconds Latency.\n"
        "# TYPE app_latency_seconds histogram\n"
        "app_latency_seconds_bucket{le=\"0.005\"} 2\n"
        "app_latency_seconds_bucket{le=\"0.01\"} 3\n"
        "app_latency_seconds_bucket{le=\"0.1\"} 3\n"
        "app_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "app_latency_seconds_sum 2.013\n"
        "app_latency_seconds_count 4\n"
        "# HELP app_op_seconds Per op.\n"
        "# TYPE app_op_seconds histogram\n";
    assert_string_equal(text, expected);
    free(text);

    /* task 1 assigned: its series appear, with their values kept while hidden */
    gs_metrics_task_assign(m, 1, true);
    assert_true(gs_metrics_task_assigned(m, 1));
    text = render(m);
    assert_non_null(strstr(text, "app_watermark_seconds{task=\"0\"} 1795428000.123\n"
                                 "app_watermark_seconds{task=\"1\"} -0.25\n"));
    assert_non_null(strstr(text, "# TYPE app_op_seconds histogram\n"
                                 "app_op_seconds_bucket{op=\"put\",le=\"0.1\"} 0\n"
                                 "app_op_seconds_bucket{op=\"put\",le=\"+Inf\"} 1\n"
                                 "app_op_seconds_sum{op=\"put\"} 0.100000001\n"
                                 "app_op_seconds_count{op=\"put\"} 1\n"));
    free(text);
    gs_metrics_task_assign(m, 0, false);
    gs_metrics_task_assign(m, 7, true); /* out of range: ignored */
    assert_false(gs_metrics_task_assigned(m, 7));
    text = render(m);
    assert_null(strstr(text, "task=\"0\""));
    free(text);
    gs_metrics_destroy(m);
    gs_metrics_destroy(NULL);
}

static void test_refused_registrations(void **state)
{
    (void)state;
    gs_metrics_t *m = gs_metrics_new(1);
    const double b[] = {0.1, 0.1};
    const char *le[] = {"le", NULL};
    const char *dunder[] = {"__x", NULL};
    const char *bad[] = {"a-b", NULL};
    const char *five[] = {"a", "b", "c", "d", "e", NULL};
    assert_null(gs_metrics_family(m, GS_METRIC_COUNTER, "no_suffix", "", NULL, 0, NULL, 0));
    assert_null(gs_metrics_family(m, GS_METRIC_GAUGE, "1abc", "", NULL, 0, NULL, 0));
    assert_null(gs_metrics_family(m, GS_METRIC_GAUGE, "a b", "", NULL, 0, NULL, 0));
    assert_null(gs_metrics_family(m, GS_METRIC_GAUGE, "ok", "", dunder, 0, NULL, 0));
    assert_null(gs_metrics_family(m, GS_METRIC_GAUGE, "ok", "", bad, 0, NULL, 0));
    assert_null(gs_metrics_family(m, GS_METRIC_GAUGE, "ok", "", five, 0, NULL, 0));
    assert_null(gs_metrics_family(m, GS_METRIC_HISTOGRAM, "h", "", le, 0, b, 1));
    assert_null(gs_metrics_family(m, GS_METRIC_HISTOGRAM, "h", "", NULL, 0, b, 2));
    assert_null(gs_metrics_family(m, GS_METRIC_HISTOGRAM, "h", "", NULL, 0, NULL, 0));
    assert_null(gs_metrics_family(m, GS_METRIC_GAUGE, "g", "", NULL, 0, b, 1));
    assert_null(gs_metrics_family(m, GS_METRIC_GAUGE, "g", "", NULL, 19, NULL, 0));

    const char *one[] = {"a", NULL};
    gs_metric_family_t *f = gs_metrics_family(m, GS_METRIC_GAUGE, "g:ok", "", one, 0, NULL, 0);
    assert_non_null(f);
    const char *missing[] = {NULL};
    const char *v[] = {"x"};
    assert_null(gs_metrics_gauge(f, missing, -1)); /* a value per label */
    assert_null(gs_metrics_gauge(f, v, 1));        /* task slot out of range */
    assert_null(gs_metrics_counter(f, v, -1));     /* wrong type */
    assert_non_null(gs_metrics_gauge(f, v, 0));
    char *text = render(m);
    assert_string_equal(text, "# HELP g:ok \n# TYPE g:ok gauge\n"); /* task 0 unassigned */
    free(text);
    gs_metrics_destroy(m);
}

/* ---- concurrent updates -------------------------------------------------------------------- */

#define N_THREADS 4
#define N_UPDATES 200000

typedef struct shared {
    gs_counter_t *total;
    gs_counter_t *own[N_THREADS];
    gs_gauge_t *level;
    gs_histogram_t *h;
    gs_metrics_t *m;
    int id;
} shared_t;

static void *hammer(void *arg)
{
    shared_t *s = arg;
    for (int i = 0; i < N_UPDATES; i++) {
        gs_counter_inc(s->total);
        gs_counter_add(s->own[s->id], 2);
        gs_gauge_add(s->level, i % 2 ? -1 : 1);
        gs_histogram_observe(s->h, (uint64_t)(i % 4) * 1000000); /* 0, 1, 2, 3 ms */
    }
    return NULL;
}

static void *scraper(void *arg)
{
    shared_t *s = arg;
    for (int i = 0; i < 20; i++)
        free(gs_metrics_render(s->m, NULL));
    return NULL;
}

static void test_concurrent_updates_sum_exactly(void **state)
{
    (void)state;
    gs_metrics_t *m = gs_metrics_new(0);
    const char *th[] = {"thread", NULL};
    const double b[] = {0.001, 0.002};
    gs_metric_family_t *ft =
        gs_metrics_family(m, GS_METRIC_COUNTER, "x_total", "X.", NULL, 0, NULL, 0);
    gs_metric_family_t *fo =
        gs_metrics_family(m, GS_METRIC_COUNTER, "y_total", "Y.", th, 0, NULL, 0);
    gs_metric_family_t *fg = gs_metrics_family(m, GS_METRIC_GAUGE, "z", "Z.", NULL, 0, NULL, 0);
    gs_metric_family_t *fh =
        gs_metrics_family(m, GS_METRIC_HISTOGRAM, "d_seconds", "D.", NULL, -9, b, 2);
    shared_t base = {.total = gs_metrics_counter(ft, NULL, -1),
                     .level = gs_metrics_gauge(fg, NULL, -1),
                     .h = gs_metrics_histogram(fh, NULL, -1),
                     .m = m};
    for (int i = 0; i < N_THREADS; i++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", i);
        const char *v[] = {id};
        base.own[i] = gs_metrics_counter(fo, v, -1);
    }
    shared_t args[N_THREADS];
    pthread_t t[N_THREADS + 1];
    for (int i = 0; i < N_THREADS; i++) {
        args[i] = base;
        args[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
    }
    assert_int_equal(pthread_create(&t[N_THREADS], NULL, scraper, &base), 0);
    for (int i = 0; i <= N_THREADS; i++)
        pthread_join(t[i], NULL);

    assert_int_equal(gs_counter_get(base.total), (uint64_t)N_THREADS * N_UPDATES);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(gs_counter_get(base.own[i]), 2 * (uint64_t)N_UPDATES);
    assert_int_equal(gs_gauge_get(base.level), 0);
    assert_int_equal(gs_histogram_count(base.h), (uint64_t)N_THREADS * N_UPDATES);
    /* each thread: N/4 each of 0, 1, 2, 3 ms = 6 ms per 4 observations */
    assert_int_equal(gs_histogram_sum(base.h),
                     (uint64_t)N_THREADS * (N_UPDATES / 4) * UINT64_C(6000000));
    char *text = render(m);
    char line[128];
    snprintf(line, sizeof(line), "x_total %d\n", N_THREADS * N_UPDATES);
    assert_non_null(strstr(text, line));
    /* 0 and 1 ms in le=0.001 (half), 2 ms in le=0.002 (3/4), 3 ms only in +Inf */
    snprintf(line, sizeof(line), "d_seconds_bucket{le=\"0.001\"} %d\n", N_THREADS * N_UPDATES / 2);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof(line), "d_seconds_bucket{le=\"0.002\"} %d\n",
             N_THREADS * N_UPDATES / 4 * 3);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof(line), "d_seconds_sum %d\n", N_THREADS * N_UPDATES / 4 * 6 / 1000);
    assert_non_null(strstr(text, line));
    free(text);
    gs_metrics_destroy(m);
}

/* ---- collectors and gridstream's families -------------------------------------------------- */

static int collected;

static void collect(void *ctx, gs_metrics_t *m)
{
    (void)m;
    collected++;
    gs_gauge_set(ctx, collected * 10);
}

static gs_err_t memory(void *ctx, size_t *block_cache, size_t *memtables)
{
    int *calls = ctx;
    ++*calls;
    *block_cache = 4096;
    *memtables = 1u << 20;
    return GS_OK;
}

static void test_collectors(void **state)
{
    (void)state;
    gs_metrics_t *m = gs_metrics_new(0);
    gs_metric_family_t *f = gs_metrics_family(m, GS_METRIC_GAUGE, "c", "C.", NULL, 0, NULL, 0);
    gs_gauge_t *g = gs_metrics_gauge(f, NULL, -1);
    assert_int_equal(gs_metrics_add_collector(m, collect, g), GS_OK);
    collected = 0;
    char *text = render(m);
    assert_non_null(strstr(text, "\nc 10\n"));
    free(text);
    text = render(m);
    assert_non_null(strstr(text, "\nc 20\n"));
    free(text);
    for (int i = 1; i < 8; i++)
        assert_int_equal(gs_metrics_add_collector(m, collect, g), GS_OK);
    assert_int_equal(gs_metrics_add_collector(m, collect, g), GS_ERR_INVAL);
    gs_metrics_destroy(m);
}

static void test_engine_families(void **state)
{
    (void)state;
    gs_metrics_t *m = gs_metrics_new_engine(4);
    assert_non_null(m);
    assert_int_equal(gs_metrics_max_tasks(m), 4);
    gs_metrics_task_assign(m, 1, true);
    gs_metrics_task_assign(m, 2, true);
    gs_metrics_task_assign(m, 2, true); /* twice: counted once */
    gs_counter_add(gs_metrics_records_in(m, GS_SRC_VIDEO, 1), 5);
    gs_counter_add(gs_metrics_records_in(m, GS_SRC_REPORTS, 0), 9); /* unassigned */
    gs_counter_add(gs_metrics_records_out(m, GS_OUT_KPI), 7);
    gs_counter_inc(gs_metrics_dlq(m, GS_ERR_INVALID_CELL));
    gs_counter_inc(gs_metrics_late(m));
    gs_gauge_set(gs_metrics_consumer_lag(m, 2, GS_SRC_CASES), 1234);
    gs_gauge_set(gs_metrics_watermark(m, 1), INT64_C(1795428000500));
    gs_histogram_observe(gs_metrics_commit_duration(m), 3000000);
    gs_histogram_observe(gs_metrics_transaction_duration(m), 20000000000);
    gs_counter_inc(gs_metrics_commit_failures(m));
    gs_metrics_restore_begin(m, 1, 1000);
    gs_counter_add(gs_metrics_restore_records(m, 1), 250);
    gs_gauge_set(gs_metrics_state_entries(m, 2), 77);
    gs_gauge_set(gs_metrics_state_bytes(m, 2), 8800);
    gs_counter_inc(gs_metrics_rebalances(m));
    gs_gauge_set(gs_metrics_stream_threads(m), 2);
    int calls = 0;
    gs_metrics_watch_memory(m, memory, &calls);

    /* out-of-range arguments give NULL */
    assert_null(gs_metrics_records_in(m, GS_SRC_VIDEO, 4));
    assert_null(gs_metrics_dlq(m, GS_ERR_IO));
    assert_null(gs_metrics_watermark(m, 4));
    assert_null(gs_metrics_consumer_lag(m, 4, GS_SRC_CASES));

    char *text = render(m);
    assert_int_equal(calls, 1);
    static const char *const lines[] = {
        "# TYPE gridstream_build_info gauge\ngridstream_build_info{version=\"",
        "# TYPE gridstream_records_in_total counter\n"
        "gridstream_records_in_total{topic=\"city.reports\",partition=\"1\"} 0\n"
        "gridstream_records_in_total{topic=\"city.reports\",partition=\"2\"} 0\n",
        "gridstream_records_in_total{topic=\"city.video\",partition=\"1\"} 5\n",
        "gridstream_records_out_total{topic=\"gridstream.kpi\"} 7\n",
        "gridstream_records_out_total{topic=\"gridstream.dlq\"} 0\n",
        "gridstream_dlq_records_total{reason=\"decode\"} 0\n",
        "gridstream_dlq_records_total{reason=\"invalid_cell\"} 1\n",
        "gridstream_dlq_records_total{reason=\"unknown_ref\"} 0\n",
        "# TYPE gridstream_late_records_total counter\ngridstream_late_records_total 1\n",
        "gridstream_consumer_lag_records{task=\"2\",topic=\"city.cases\"} 1234\n",
        "# TYPE gridstream_task_watermark_seconds gauge\n"
        "gridstream_task_watermark_seconds{task=\"1\"} 1795428000.5\n"
        "gridstream_task_watermark_seconds{task=\"2\"} 0\n",
        "gridstream_commit_duration_seconds_bucket{le=\"0.0025\"} 0\n"
        "gridstream_commit_duration_seconds_bucket{le=\"0.005\"} 1\n",
        "gridstream_commit_duration_seconds_sum 0.003\n"
        "gridstream_commit_duration_seconds_count 1\n",
        "gridstream_transaction_duration_seconds_bucket{le=\"10\"} 0\n"
        "gridstream_transaction_duration_seconds_bucket{le=\"+Inf\"} 1\n"
        "gridstream_transaction_duration_seconds_sum 20\n",
        "gridstream_commit_failures_total 1\n",
        "gridstream_restore_records_total{task=\"1\"} 250\n",
        "gridstream_restore_records_target{task=\"1\"} 1000\n",
        "gridstream_state_entries{task=\"2\"} 77\n",
        "gridstream_state_bytes{task=\"2\"} 8800\n",
        "# TYPE gridstream_rocksdb_block_cache_bytes gauge\n"
        "gridstream_rocksdb_block_cache_bytes 4096\n",
        "gridstream_rocksdb_memtable_bytes 1048576\n",
        "# TYPE gridstream_rebalances_total counter\ngridstream_rebalances_total 1\n",
        "gridstream_stream_threads 2\n",
        "gridstream_assigned_tasks 2\n",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (!strstr(text, lines[i])) fail_msg("missing:\n%s\nin:\n%s", lines[i], text);
    }
    /* unassigned tasks 0 and 3 are not exposed */
    assert_null(strstr(text, "partition=\"0\""));
    assert_null(strstr(text, "task=\"3\""));
    /* every family has HELP then TYPE, every sample line belongs to the family above it */
    const char *family = NULL;
    size_t flen = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (strncmp(p, "# HELP ", 7) == 0) {
            family = p + 7;
            flen = strcspn(family, " ");
            assert_true(strncmp(nl + 1, "# TYPE ", 7) == 0);
            assert_true(strncmp(nl + 8, family, flen) == 0);
        } else if (*p != '#') {
            assert_non_null(family);
            assert_true(strncmp(p, family, flen) == 0);
            assert_true(strncmp(p, "gridstream_", 11) == 0);
        }
        p = nl + 1;
    }
    free(text);
    gs_metrics_task_assign(m, 2, false);
    assert_int_equal(gs_gauge_get(gs_metrics_stream_threads(m)), 2);
    text = render(m);
    assert_non_null(strstr(text, "gridstream_assigned_tasks 1\n"));
    free(text);
    gs_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition_exact),
        cmocka_unit_test(test_refused_registrations),
        cmocka_unit_test(test_concurrent_updates_sum_exactly),
        cmocka_unit_test(test_collectors),
        cmocka_unit_test(test_engine_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
