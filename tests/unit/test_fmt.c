/*
 * test_fmt: the decimal formatters used for keys and ids on the hot path agree with printf at the
 * edges of their ranges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gs.h"

static void check_u(uint64_t v)
{
    char a[32], b[32];
    *gs_fmt_u64(a, v) = 0;
    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    assert_string_equal(a, b);
}

static void check_i(int64_t v)
{
    char a[32], b[32];
    *gs_fmt_i64(a, v) = 0;
    snprintf(b, sizeof(b), "%lld", (long long)v);
    assert_string_equal(a, b);
}

static void test_edges(void **state)
{
    (void)state;
    const uint64_t us[] = {0, 1, 9, 10, 99, 100, 440902001002003ULL, UINT64_MAX / 10, UINT64_MAX};
    for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++)
        check_u(us[i]);
    const int64_t is[] = {
        0, 1, -1, 9, -10, 1709222400000LL, -1709222400000LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof(is) / sizeof(is[0]); i++)
        check_i(is[i]);
    char buf[32];
    assert_int_equal(gs_fmt_u64(buf, UINT64_MAX) - buf, 20);
    assert_int_equal(gs_fmt_i64(buf, INT64_MIN) - buf, 20);
}

static void test_many(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        check_u(x >> (i % 64));
        check_i((int64_t)x >> (i % 64));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
