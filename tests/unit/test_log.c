/*
 * test_log.c - unit tests of log.c: exact logfmt and JSON lines, escaping of quotes, backslashes,
 * newlines, spaces, control characters, UTF-8 and bytes that are not UTF-8; numbers in JSON only
 * when the text is a JSON number; conversions of every length; levels; the configuration line
 * with secrets hidden; whole lines from concurrent threads; the burst limiter's counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define TS INT64_C(1795428000123) /* 2026-11-23T10:00:00.123Z */

#define LINE_EQ(expected, fmt_, lv, event, ...)                                                    \
    do {                                                                                           \
        char *l_ = gs_log_format_line(fmt_, TS, lv, event, __VA_ARGS__);                           \
        assert_non_null(l_);                                                                       \
        assert_string_equal(l_, expected);                                                         \
        free(l_);                                                                                  \
    } while (0)

static void test_logfmt_line(void **state)
{
    (void)state;
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=info event=assigned thread=1 partitions=0,1\n",
            GS_LOG_LOGFMT, GS_LOG_INFO, "assigned", "thread=%d partitions=%s", 1, "0,1");
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=error event=commit_failed\n", GS_LOG_LOGFMT,
            GS_LOG_ERROR, "commit_failed", NULL);
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=warn event=x\n", GS_LOG_LOGFMT, GS_LOG_WARN, "x",
            "   ");
    /* literal values, several conversions in one value, %% */
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=debug event=e mode=eos elapsed=12ms/3 pct=50%\n",
            GS_LOG_LOGFMT, GS_LOG_DEBUG, "e", "mode=eos elapsed=%dms/%d pct=%d%%", 12, 3, 50);
    /* an item without '=' is a message */
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=info event=e msg=hello n=2\n", GS_LOG_LOGFMT,
            GS_LOG_INFO, "e", "hello n=%d", 2);
    /* times before 1970 and the epoch itself */
    char *l = gs_log_format_line(GS_LOG_LOGFMT, -1, GS_LOG_INFO, "e", NULL);
    assert_string_equal(l, "ts=1969-12-31T23:59:59.999Z level=info event=e\n");
    free(l);
}

static void test_logfmt_escaping(void **state)
{
    (void)state;
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=info event=e a=\"two words\" b=\"say \\\"hi\\\"\" "
            "c=\"x=y\" d=\"\" e=back\\slash f=\"line\\nbreak\\ttab\\rcr\"\n",
            GS_LOG_LOGFMT, GS_LOG_INFO, "e", "a=%s b=%s c=%s d=%s e=%s f=%s", "two words",
            "say \"hi\"", "x=y", "", "back\\slash", "line\nbreak\ttab\rcr");
    /* UTF-8 passes unquoted; control characters and bytes that are not UTF-8 are escaped */
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=info event=e district=茂南区 g=\"a\\u0001b\\u007f\" "
            "h=\"bad\\ufffdbyte\" i=\"\\ufffd\\ufffd\"\n",
            GS_LOG_LOGFMT, GS_LOG_INFO, "e", "district=%s g=%s h=%s i=%s", "茂南区",
            "a\x01"
            "b\x7f",
            "bad\xff"
            "byte",
            "\xc0\xaf");
    /* a quoted value with UTF-8 keeps it as it is */
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=info event=e name=\"茂南 区\"\n", GS_LOG_LOGFMT,
            GS_LOG_INFO, "e", "name=%s", "茂南 区");
    /* NULL strings (through a volatile so that the compiler cannot see it) */
    const char *volatile nothing = NULL;
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=info event=e s=(null)\n", GS_LOG_LOGFMT, GS_LOG_INFO,
            "e", "s=%s", nothing);
}

static void test_json_line(void **state)
{
    (void)state;
    LINE_EQ("{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":\"info\",\"event\":\"assigned\","
            "\"thread\":1,\"partitions\":\"0,1\"}\n",
            GS_LOG_JSON, GS_LOG_INFO, "assigned", "thread=%d partitions=%s", 1, "0,1");
    /* numbers: a value that is one integer or floating conversion, and valid JSON */
    LINE_EQ("{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":\"warn\",\"event\":\"n\",\"a\":-7,"
            "\"b\":18446744073709551615,\"c\":1.500,\"d\":\"ff\",\"e\":\"+5\",\"f\":\"00042\","
            "\"g\":\"nan\",\"h\":\"12ms\",\"i\":2.5e-07,\"j\":\"x\"}\n",
            GS_LOG_JSON, GS_LOG_WARN, "n",
            "a=%lld b=%llu c=%.3f d=%x e=%+d f=%05d g=%f h=%dms i=%g j=%c", (long long)-7,
            (unsigned long long)UINT64_MAX, 1.5, 255u, 5, 42, (double)NAN, 12, 2.5e-7, 'x');
    /* escaping through the project's JSON string writer */
    LINE_EQ("{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":\"info\",\"event\":\"e\","
            "\"a\":\"two words\",\"b\":\"say \\\"hi\\\"\",\"c\":\"back\\\\slash\","
            "\"d\":\"line\\nbreak\\ttab\",\"e\":\"\\u0001\",\"f\":\"茂南区\",\"g\":\"bad\\ufffd\","
            "\"msg\":\"hello\"}\n",
            GS_LOG_JSON, GS_LOG_INFO, "e", "a=%s b=%s c=%s d=%s e=%s f=%s g=%s hello", "two words",
            "say \"hi\"", "back\\slash", "line\nbreak\ttab", "\x01", "茂南区", "bad\xff");
}

static void test_conversions(void **state)
{
    (void)state;
    short sh = -3;
    signed char sc = -4;
    LINE_EQ("ts=2026-11-23T10:00:00.123Z level=info event=e a=-3 b=-4 c=65535 d=7 e=-9 f=10 "
            "g=abc h=\"  x\" i=ab j=0x1f k=3.14 l=2.5 m=-2\n",
            GS_LOG_LOGFMT, GS_LOG_INFO, "e",
            "a=%hd b=%hhd c=%hu d=%zu e=%ld f=%jd g=%s h=%3s i=%.*s j=%#x k=%.2f l=%Lg m=%td", sh,
            sc, (unsigned short)65535, (size_t)7, -9L, (intmax_t)10, "abc", "x", 2, "abcdef", 31u,
            3.14159, (long double)2.5, (ptrdiff_t)-2);
    /* a long string is written whole */
    char big[3000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    char *l = gs_log_format_line(GS_LOG_LOGFMT, TS, GS_LOG_INFO, "e", "v=%s end=%d", big, 1);
    assert_non_null(strstr(l, big));
    assert_non_null(strstr(l, " end=1\n"));
    free(l);
}

/* Reads the whole file at `path` (malloc-ed). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static int temp_log(char *path, size_t len)
{
    snprintf(path, len, "/tmp/gs-log-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_APPEND);
    return fd;
}

static void test_levels_and_fd(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_log(path, sizeof(path));
    gs_log_setup(fd, GS_LOG_LOGFMT, GS_LOG_WARN);
    assert_false(gs_log_enabled(GS_LOG_INFO));
    assert_true(gs_log_enabled(GS_LOG_ERROR));
    gs_log(GS_LOG_INFO, "hidden", "x=%d", 1);
    gs_log(GS_LOG_DEBUG, "hidden", NULL);
    gs_log(GS_LOG_WARN, "shown", "x=%d", 2);
    gs_log(GS_LOG_ERROR, "shown_too", NULL);
    const char *kv[] = {"partitions", "0,1,2", "why", "rebalance in progress"};
    gs_log_kv(GS_LOG_WARN, "revoked", kv, 2);
    gs_log_setup(2, GS_LOG_LOGFMT, GS_LOG_INFO);
    close(fd);
    char *s = slurp(path);
    unlink(path);
    assert_null(strstr(s, "hidden"));
    /* three lines: skip the time stamps */
    char *l1 = strchr(s, ' '), *l2 = strchr(strchr(s, '\n') + 1, ' ');
    assert_true(strncmp(l1, " level=warn event=shown x=2\n", 28) == 0);
    assert_true(strncmp(l2, " level=error event=shown_too\n", 29) == 0);
    char *l3 = strchr(strchr(l2, '\n') + 1, ' ');
    assert_string_equal(l3, " level=warn event=revoked partitions=0,1,2 "
                            "why=\"rebalance in progress\"\n");
    free(s);
}

static void test_config_line_hides_secrets(void **state)
{
    (void)state;
    gs_config_t c;
    gs_config_defaults(&c);
    char err[512];
    assert_int_equal(gs_config_set(&c, "kafka.sasl.password", "hunter2", err, sizeof(err)), GS_OK);
    assert_int_equal(gs_config_set(&c, "kafka.sasl.username", "grid", err, sizeof(err)), GS_OK);
    assert_int_equal(gs_config_set(&c, "kafka.ssl.key.password", "s3cr3t", err, sizeof(err)),
                     GS_OK);
    assert_int_equal(gs_config_set(&c, "num.stream.threads", "3", err, sizeof(err)), GS_OK);
    assert_true(gs_log_secret_key("kafka.sasl.jaas.config"));
    assert_true(gs_log_secret_key("kafka.ssl.key.password"));
    assert_false(gs_log_secret_key("kafka.sasl.username"));

    for (int json = 0; json <= 1; json++) {
        char path[64];
        int fd = temp_log(path, sizeof(path));
        gs_log_setup(fd, json ? GS_LOG_JSON : GS_LOG_LOGFMT, GS_LOG_INFO);
        gs_log_config(&c);
        gs_log_setup(2, GS_LOG_LOGFMT, GS_LOG_INFO);
        close(fd);
        char *s = slurp(path);
        unlink(path);
        assert_null(strstr(s, "hunter2"));
        assert_null(strstr(s, "s3cr3t"));
        char *nl = strchr(s, '\n');
        assert_non_null(nl);
        assert_int_equal(nl[1], 0); /* one line */
        if (json) {
            assert_non_null(strstr(s, "\"event\":\"config\",\"application.id\":\"gridstream\""));
            assert_non_null(strstr(s, "\"kafka.sasl.password\":\"(hidden)\""));
            assert_non_null(strstr(s, "\"kafka.sasl.username\":\"grid\""));
            assert_non_null(strstr(s, "\"num.stream.threads\":\"3\""));
            assert_non_null(strstr(s, "\"bootstrap.servers\":\"\""));
            assert_true(nl[-1] == '}');
        } else {
            assert_non_null(strstr(s, " event=config application.id=gridstream "));
            assert_non_null(strstr(s, " kafka.sasl.password=(hidden) "));
            assert_non_null(strstr(s, " kafka.ssl.key.password=(hidden) "));
            assert_non_null(strstr(s, " bootstrap.servers=\"\" "));
            assert_non_null(strstr(s, " processing.guarantee=exactly_once "));
            assert_non_null(strstr(s, " metrics.port=9464 "));
            assert_non_null(strstr(s, " dedup.ttl.ms=604800000 "));
        }
        free(s);
    }
}

/* ---- concurrent lines ---------------------------------------------------------------------- */

#define N_THREADS 4
#define N_LINES 400

static void *log_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    char pad[2000];
    memset(pad, 'a' + id, sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = 0;
    for (int i = 0; i < N_LINES; i++)
        gs_log(GS_LOG_INFO, "tick", "thread=%d i=%d pad=%s end=1", id, i, pad);
    return NULL;
}

static void test_concurrent_lines_whole(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_log(path, sizeof(path));
    gs_log_setup(fd, GS_LOG_LOGFMT, GS_LOG_INFO);
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    gs_log_setup(2, GS_LOG_LOGFMT, GS_LOG_INFO);
    close(fd);
    char *s = slurp(path);
    unlink(path);
    int seen[N_THREADS] = {0};
    int lines = 0;
    for (char *line = s, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = 0;
        int id = -1, i = -1;
        char *p = strstr(line, " thread=");
        assert_non_null(p);
        assert_int_equal(sscanf(p, " thread=%d i=%d", &id, &i), 2);
        assert_true(id >= 0 && id < N_THREADS);
        assert_int_equal(i, seen[id]); /* each thread's lines in order, none lost */
        seen[id]++;
        char *pad = strstr(line, " pad=");
        assert_non_null(pad);
        for (int k = 0; k < 1999; k++)
            assert_int_equal(pad[5 + k], 'a' + id);
        assert_string_equal(pad + 5 + 1999, " end=1");
        assert_true(strncmp(line, "ts=", 3) == 0);
        lines++;
    }
    assert_int_equal(lines, N_THREADS * N_LINES);
    free(s);
}

/* ---- burst limiter ------------------------------------------------------------------------- */

static void test_ratelimit_counts(void **state)
{
    (void)state;
    gs_log_ratelimit_t rl;
    gs_log_ratelimit_init(&rl, 3, 1000);
    uint64_t k = 99;
    int allowed = 0;
    for (int t = 0; t < 10; t++)
        if (gs_log_ratelimit_allow(&rl, 5000 + t, &k)) {
            assert_int_equal(k, 0);
            allowed++;
        }
    assert_int_equal(allowed, 3);
    assert_int_equal(rl.suppressed, 7);
    assert_int_equal(gs_log_ratelimit_take(&rl, 5500), 0); /* the interval is not over */
    assert_int_equal(gs_log_ratelimit_take(&rl, 6000), 7); /* summary once */
    assert_int_equal(gs_log_ratelimit_take(&rl, 6001), 0);

    /* refused lines are reported by the next allowed line when no summary was taken */
    for (int t = 0; t < 5; t++)
        gs_log_ratelimit_allow(&rl, 7000, NULL);
    assert_int_equal(rl.suppressed, 2);
    assert_false(gs_log_ratelimit_allow(&rl, 7999, &k));
    assert_true(gs_log_ratelimit_allow(&rl, 8000, &k));
    assert_int_equal(k, 3);
    assert_int_equal(rl.suppressed, 0);
    assert_int_equal(rl.total_allowed, 3 + 3 + 1);

    /* a burst of 0 refuses everything; the clock going backwards starts a new interval */
    gs_log_ratelimit_t none;
    gs_log_ratelimit_init(&none, 0, 100);
    assert_false(gs_log_ratelimit_allow(&none, 1, &k));
    assert_int_equal(gs_log_ratelimit_take(&none, 200), 1);
    gs_log_ratelimit_init(&rl, 1, 100);
    assert_true(gs_log_ratelimit_allow(&rl, 1000, &k));
    assert_false(gs_log_ratelimit_allow(&rl, 1001, &k));
    assert_true(gs_log_ratelimit_allow(&rl, 500, &k));
    assert_int_equal(k, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logfmt_line),
        cmocka_unit_test(test_logfmt_escaping),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_levels_and_fd),
        cmocka_unit_test(test_config_line_hides_secrets),
        cmocka_unit_test(test_concurrent_lines_whole),
        cmocka_unit_test(test_ratelimit_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
