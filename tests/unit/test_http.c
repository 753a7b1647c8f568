/*
 * test_http.c - unit tests of health.c and http.c. Health: stuck threads named, exited threads not
 * checked, readiness reasons (starting, restoring tasks, stuck). HTTP: a server on an ephemeral
 * loopback port fetched with a small socket client while other threads hammer counter updates:
 * /metrics 200 with the exposition text, /healthz 200 then 503 when a thread's beat is old,
 * /readyz 503 then 200, unknown paths 404, other methods 405, every answer within 100 ms; a port
 * already in use is refused with the key to change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "health.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

/* ---- health ---------------------------------------------------------------------------------- */

static void test_liveness(void **state)
{
    (void)state;
    char why[256];
    gs_health_t *h = gs_health_new(3, 4, 30000, 1000);
    assert_non_null(h);
    /* threads that never beat count from creation */
    assert_true(gs_health_live(h, 31000, why, sizeof(why)));
    assert_string_equal(why, "");
    assert_false(gs_health_live(h, 31001, why, sizeof(why)));
    assert_string_equal(why, "stream thread 0 has not beaten for 30.0 s; stream thread 1 has not "
                             "beaten for 30.0 s; stream thread 2 has not beaten for 30.0 s "
                             "(limit 30.0 s)");
    gs_health_beat(h, 0, 31000);
    gs_health_beat(h, 2, 31000);
    gs_health_beat(h, 7, 31000); /* out of range: ignored */
    assert_false(gs_health_live(h, 46000, why, sizeof(why)));
    assert_string_equal(why, "stream thread 1 has not beaten for 45.0 s (limit 30.0 s)");
    /* a thread that ended is not checked; beating again brings it back */
    gs_health_thread_exit(h, 1);
    assert_true(gs_health_live(h, 46000, NULL, 0));
    gs_health_beat(h, 1, 46000);
    assert_true(gs_health_live(h, 61000, why, sizeof(why)));
    assert_false(gs_health_live(h, 61001, why, sizeof(why)));
    /* a short buffer is cut, not overrun */
    char small[8];
    assert_false(gs_health_live(h, 100000, small, sizeof(small)));
    assert_string_equal(small, "stream ");
    gs_health_destroy(h);
    gs_health_destroy(NULL);
}

static void test_readiness(void **state)
{
    (void)state;
    char why[256];
    gs_health_t *h = gs_health_new(1, 8, 30000, 0);
    assert_false(gs_health_ready(h, 0, why, sizeof(why)));
    assert_string_equal(why, "starting");
    gs_health_set_ready(h, true, NULL);
    gs_health_task_restoring(h, 3, true);
    gs_health_task_restoring(h, 5, true);
    gs_health_task_restoring(h, 5, true); /* twice: counted once */
    gs_health_task_restoring(h, 9, true); /* out of range: ignored */
    assert_int_equal(gs_health_restoring_count(h), 2);
    assert_false(gs_health_ready(h, 0, why, sizeof(why)));
    assert_string_equal(why, "restoring 2 tasks: 3,5");
    gs_health_task_restoring(h, 3, false);
    assert_false(gs_health_ready(h, 0, why, sizeof(why)));
    assert_string_equal(why, "restoring 1 task: 5");
    gs_health_task_restoring(h, 5, false);
    gs_health_task_restoring(h, 5, false);
    assert_int_equal(gs_health_restoring_count(h), 0);
    assert_true(gs_health_ready(h, 0, why, sizeof(why)));
    assert_string_equal(why, "");
    /* a stuck thread makes the process unready too */
    assert_false(gs_health_ready(h, 40000, why, sizeof(why)));
    assert_string_equal(why, "stream thread 0 has not beaten for 40.0 s (limit 30.0 s)");
    gs_health_set_ready(h, false, "rebalancing");
    assert_false(gs_health_ready(h, 0, why, sizeof(why)));
    assert_string_equal(why, "rebalancing");
    gs_health_destroy(h);
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

typedef struct answer {
    int status;
    char head[2048];
    char body[65536 * 4];
    double ms;
} answer_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One HTTP/1.1 request with Connection: close; the whole answer read to EOF. */
static void fetch(int port, const char *method, const char *path, answer_t *a)
{
    double t0 = now_ms();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[256];
    int n =
        snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 method, path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    static char buf[sizeof(a->body) + sizeof(a->head)];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
        assert_true(r >= 0);
        if (r == 0) break;
        len += (size_t)r;
        assert_true(len < sizeof(buf) - 1);
    }
    close(fd);
    a->ms = now_ms() - t0;
    buf[len] = 0;
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &a->status), 1);
    char *sep = strstr(buf, "\r\n\r\n");
    assert_non_null(sep);
    size_t hl = (size_t)(sep - buf);
    assert_true(hl < sizeof(a->head));
    memcpy(a->head, buf, hl);
    a->head[hl] = 0;
    snprintf(a->body, sizeof(a->body), "%s", sep + 4);
}

typedef struct hammer {
    atomic_bool stop;
    gs_counter_t *c;
    uint64_t done;
} hammer_t;

static void *hammer_thread(void *arg)
{
    hammer_t *hm = arg;
    uint64_t n = 0;
    while (!atomic_load_explicit(&hm->stop, memory_order_relaxed)) {
        for (int i = 0; i < 1000; i++)
            gs_counter_inc(hm->c);
        n += 1000;
    }
    hm->done = n;
    return NULL;
}

#define LIMIT_MS 100.0

static void expect(int port, const char *method, const char *path, int status, const char *body,
                   answer_t *a)
{
    fetch(port, method, path, a);
    if (a->status != status) fail_msg("%s %s: %d, expected %d", method, path, a->status, status);
    if (body && strcmp(a->body, body) != 0)
        fail_msg("%s %s: body '%s', expected '%s'", method, path, a->body, body);
    if (a->ms >= LIMIT_MS) fail_msg("%s %s: answered in %.1f ms", method, path, a->ms);
}

static void test_endpoints_under_load(void **state)
{
    (void)state;
    gs_log_setup(2, GS_LOG_LOGFMT, GS_LOG_WARN);
    gs_metrics_t *m = gs_metrics_new_engine(4);
    gs_metrics_task_assign(m, 0, true);
    gs_metrics_task_assign(m, 1, true);
    gs_health_t *h = gs_health_new(2, 4, 30000, gs_health_now_ms());
    char err[256];
    gs_http_t *s = gs_http_start("127.0.0.1", 0, m, h, err, sizeof(err));
    if (!s) fail_msg("%s", err);
    int port = gs_http_port(s);
    assert_true(port > 0);

    /* one thread updating flat out (a stream thread), beside this one (the scraper) */
    hammer_t hm = {.c = gs_metrics_records_in(m, GS_SRC_REPORTS, 0)};
    atomic_init(&hm.stop, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hammer_thread, &hm), 0);
    static answer_t a;
    double worst = 0;

    expect(port, "GET", "/metrics", 200, NULL, &a);
    assert_non_null(strstr(a.head, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    assert_true(strncmp(a.body, "# HELP gridstream_build_info ", 28) == 0);
    assert_non_null(strstr(a.body, "# TYPE gridstream_records_in_total counter\n"
                                   "gridstream_records_in_total{topic=\"city.reports\","
                                   "partition=\"0\"} "));
    assert_non_null(strstr(a.body, "gridstream_assigned_tasks 2\n"));

    expect(port, "GET", "/healthz", 200, "ok\n", &a);
    /* thread 1's last beat 31 s ago: stuck */
    gs_health_beat(h, 1, gs_health_now_ms() - 31000);
    expect(port, "GET", "/healthz", 503, NULL, &a);
    assert_true(strncmp(a.body, "stream thread 1 has not beaten for 31.", 38) == 0);
    assert_non_null(strstr(a.body, "(limit 30.0 s)\n"));
    gs_health_beat(h, 1, gs_health_now_ms());
    expect(port, "GET", "/healthz", 200, "ok\n", &a);

    expect(port, "GET", "/readyz", 503, "starting\n", &a);
    gs_health_set_ready(h, true, NULL);
    gs_health_task_restoring(h, 1, true);
    expect(port, "GET", "/readyz", 503, "restoring 1 task: 1\n", &a);
    gs_health_task_restoring(h, 1, false);
    expect(port, "GET", "/readyz", 200, "ready\n", &a);

    expect(port, "GET", "/", 404, "not found\n", &a);
    expect(port, "GET", "/metrics/x", 404, "not found\n", &a);
    expect(port, "POST", "/metrics", 405, NULL, &a);
    expect(port, "HEAD", "/healthz", 200, "", &a);

    /* many scrapes while the counters move: every answer in time, the counter never backwards */
    uint64_t last = 0;
    for (int i = 0; i < 50; i++) {
        const char *paths[] = {"/metrics", "/healthz", "/readyz"};
        expect(port, "GET", paths[i % 3], 200, NULL, &a);
        if (a.ms > worst) worst = a.ms;
        if (i % 3 == 0) {
            const char *p = strstr(a.body, "{topic=\"city.reports\",partition=\"0\"} ");
            assert_non_null(p);
            uint64_t v = strtoull(strchr(p, '}') + 2, NULL, 10);
            assert_true(v >= last);
            last = v;
        }
    }
    atomic_store(&hm.stop, true);
    pthread_join(t, NULL);
    assert_true(last > 0);
    assert_int_equal(gs_counter_get(hm.c), hm.done);
    print_message("worst answer under load: %.2f ms\n", worst);

    /* the port is taken: refused with the key to change */
    char expected[160];
    snprintf(expected, sizeof(expected),
             "metrics.port %d: Address already in use; set metrics.port=0 to disable", port);
    assert_null(gs_http_start("127.0.0.1", port, m, h, err, sizeof(err)));
    assert_string_equal(err, expected);

    gs_http_stop(s);
    gs_http_stop(NULL);
    gs_health_destroy(h);
    gs_metrics_destroy(m);
    gs_log_setup(2, GS_LOG_LOGFMT, GS_LOG_INFO);
}

static void test_bad_host_and_port(void **state)
{
    (void)state;
    char err[256];
    assert_null(gs_http_start("no-such-host.invalid", 0, NULL, NULL, err, sizeof(err)));
    if (strncmp(err, "metrics.host 'no-such-host.invalid': ", 37) != 0) fail_msg("%s", err);
    assert_null(gs_http_start("127.0.0.1", 70000, NULL, NULL, err, sizeof(err)));
    assert_string_equal(err, "metrics.port 70000: not a port");
    /* nothing to serve: every path is 404 */
    gs_log_setup(2, GS_LOG_LOGFMT, GS_LOG_WARN);
    gs_http_t *s = gs_http_start("127.0.0.1", 0, NULL, NULL, err, sizeof(err));
    assert_non_null(s);
    static answer_t a;
    expect(gs_http_port(s), "GET", "/metrics", 404, "not found\n", &a);
    gs_http_stop(s);
    gs_log_setup(2, GS_LOG_LOGFMT, GS_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_liveness),
        cmocka_unit_test(test_readiness),
        cmocka_unit_test(test_endpoints_under_load),
        cmocka_unit_test(test_bad_host_and_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
