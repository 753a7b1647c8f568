/*
 * test_timeutil.c - unit tests of timeutil.c: local hour/day/month windows at fixed UTC offsets
 * (SPEC §7), negative times and offsets, leap years, month labels and the civil-date round trip.
 *
 * Anchors used below: 2024-01-01T00:00Z = 1 704 067 200 000 ms = day 19 723 since the epoch;
 * 2024-02-01 = day 19 754 (+31); 2024-03-01 = day 19 783 (+29, leap February).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "timeutil.h"

#define H GS_HOUR_MS
#define D GS_DAY_MS
#define T2024 INT64_C(1704067200000) /* 2024-01-01T00:00:00Z */
#define CST 480                      /* UTC+8 */

static int32_t midx(int y, int m)
{
    return (int32_t)(y * 12 + (m - 1));
}

static void test_hour_day_around_local_midnight(void **state)
{
    (void)state;
    /* local midnight 2024-03-01 00:00 +08 = 2024-02-29T16:00Z */
    const int64_t mid = 19783 * D - 8 * H;
    assert_int_equal(mid, INT64_C(1709222400000));

    assert_int_equal(gs_time_day_start(mid, CST), mid);
    assert_int_equal(gs_time_hour_start(mid, CST), mid);
    assert_int_equal(gs_time_day_start(mid - 1, CST), mid - D);
    assert_int_equal(gs_time_hour_start(mid - 1, CST), mid - H);
    assert_int_equal(gs_time_day_start(mid + D - 1, CST), mid);
    assert_int_equal(gs_time_hour_start(mid + 90 * GS_MINUTE_MS, CST), mid + H);
    /* the same instant in UTC belongs to the day starting at 2024-02-29T00:00Z */
    assert_int_equal(gs_time_day_start(mid, 0), 19782 * D);

    assert_int_equal(gs_time_month_index(mid, CST), midx(2024, 3));
    assert_int_equal(gs_time_month_index(mid - 1, CST), midx(2024, 2));
    assert_int_equal(gs_time_month_index(mid, 0), midx(2024, 2)); /* Feb 29 16:00 UTC */
}

static void test_negative_offsets(void **state)
{
    (void)state;
    /* UTC-5: local midnight 2024-01-01 00:00 -05 = 2024-01-01T05:00Z */
    const int64_t mid = T2024 + 5 * H;
    assert_int_equal(gs_time_day_start(mid, -300), mid);
    assert_int_equal(gs_time_day_start(mid - 1, -300), mid - D);
    assert_int_equal(gs_time_day_start(T2024, -300), mid - D);
    assert_int_equal(gs_time_month_index(mid - 1, -300), midx(2023, 12));
    assert_int_equal(gs_time_month_index(mid, -300), midx(2024, 1));
    assert_int_equal(gs_time_month_start(midx(2024, 1), -300), mid);
    /* UTC-9:30 (Marquesas): hours start at :30 UTC */
    assert_int_equal(gs_time_hour_start(T2024, -570), T2024 - 30 * GS_MINUTE_MS);
    /* UTC+5:30: 2024-01-01T00:00Z is 05:30 local, its hour started at 23:30Z */
    assert_int_equal(gs_time_hour_start(T2024, 330), T2024 - 30 * GS_MINUTE_MS);
    assert_int_equal(gs_time_day_start(T2024, 330), T2024 - 330 * GS_MINUTE_MS);
}

static void test_negative_times(void **state)
{
    (void)state;
    /* floor, not truncation toward zero */
    assert_int_equal(gs_time_hour_start(-1, 0), -H);
    assert_int_equal(gs_time_day_start(-1, 0), -D);
    assert_int_equal(gs_time_hour_start(-H, 0), -H);
    assert_int_equal(gs_time_hour_start(-H - 1, 0), -2 * H);
    assert_int_equal(gs_time_hour_start(0, 0), 0);
    assert_int_equal(gs_time_month_index(-1, 0), midx(1969, 12));
    assert_int_equal(gs_time_month_index(0, 0), midx(1970, 1));
    /* at UTC+8, -1 ms is 1970-01-01 07:59:59.999 local */
    assert_int_equal(gs_time_day_start(-1, CST), -8 * H);
    assert_int_equal(gs_time_month_index(-1, CST), midx(1970, 1));
    assert_int_equal(gs_time_month_index(-8 * H - 1, CST), midx(1969, 12));
    assert_int_equal(gs_time_month_start(midx(1969, 12), 0), -31 * D);
    assert_int_equal(gs_time_month_start(midx(1969, 12), CST), -31 * D - 8 * H);
}

static void test_month_start_and_length(void **state)
{
    (void)state;
    assert_int_equal(gs_time_month_start(midx(2024, 1), CST), T2024 - 8 * H);
    assert_int_equal(gs_time_month_start(midx(2024, 2), CST), INT64_C(1706716800000));
    assert_int_equal(gs_time_month_start(midx(2024, 2), 0), 19754 * D);
    assert_int_equal(gs_time_month_start(midx(2024, 3), 0), 19783 * D);
    /* February: 29 days in 2024 and 2000, 28 in 2023 and 1900 (not a leap year) */
    assert_int_equal(
        gs_time_month_start(midx(2024, 3), CST) - gs_time_month_start(midx(2024, 2), CST), 29 * D);
    assert_int_equal(
        gs_time_month_start(midx(2023, 3), CST) - gs_time_month_start(midx(2023, 2), CST), 28 * D);
    assert_int_equal(gs_time_month_start(midx(2000, 3), 0) - gs_time_month_start(midx(2000, 2), 0),
                     29 * D);
    assert_int_equal(gs_time_month_start(midx(1900, 3), 0) - gs_time_month_start(midx(1900, 2), 0),
                     28 * D);
    assert_int_equal(gs_time_month_start(midx(2024, 1), 0) - gs_time_month_start(midx(2023, 12), 0),
                     31 * D);
    /* index round trip through month_index, for every month of several years, at +8 and -5 */
    for (int32_t i = midx(1968, 1); i < midx(2031, 1); i++) {
        int64_t s = gs_time_month_start(i, CST);
        assert_int_equal(gs_time_month_index(s, CST), i);
        assert_int_equal(gs_time_month_index(s - 1, CST), i - 1);
        assert_int_equal(gs_time_day_start(s, CST), s);
        s = gs_time_month_start(i, -300);
        assert_int_equal(gs_time_month_index(s, -300), i);
        assert_int_equal(gs_time_month_index(s - 1, -300), i - 1);
    }
}

static void test_december_january_rollover(void **state)
{
    (void)state;
    const int64_t jan = gs_time_month_start(midx(2025, 1), CST);
    assert_int_equal(jan, gs_time_month_start(midx(2024, 12) + 1, CST));
    assert_int_equal(gs_time_month_index(jan - 1, CST), midx(2024, 12));
    assert_int_equal(gs_time_month_index(jan, CST), midx(2025, 1));
    assert_int_equal(jan - gs_time_month_start(midx(2024, 12), CST), 31 * D);
    char label[8];
    gs_time_month_label(gs_time_month_index(jan - 1, CST), label);
    assert_string_equal(label, "2024-12");
    gs_time_month_label(gs_time_month_index(jan, CST), label);
    assert_string_equal(label, "2025-01");
}

static void test_month_labels(void **state)
{
    (void)state;
    char label[8];
    gs_time_month_label(midx(1970, 1), label);
    assert_string_equal(label, "1970-01");
    gs_time_month_label(midx(2024, 2), label);
    assert_string_equal(label, "2024-02");
    gs_time_month_label(midx(2024, 10), label);
    assert_string_equal(label, "2024-10");
    gs_time_month_label(midx(1969, 12), label);
    assert_string_equal(label, "1969-12");
    gs_time_month_label(midx(999, 7), label);
    assert_string_equal(label, "0999-07");
    gs_time_month_label(midx(9999, 12), label);
    assert_string_equal(label, "9999-12");
}

static void test_civil_known_days(void **state)
{
    (void)state;
    assert_int_equal(gs_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(gs_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(gs_days_from_civil(2000, 1, 1), 10957);
    assert_int_equal(gs_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(gs_days_from_civil(2024, 1, 1), 19723);
    assert_int_equal(gs_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(gs_days_from_civil(2024, 3, 1), 19783);
    assert_int_equal(gs_days_from_civil(1900, 3, 1) - gs_days_from_civil(1900, 2, 28), 1);
    assert_int_equal(gs_days_from_civil(2001, 1, 1) - gs_days_from_civil(2000, 1, 1), 366);
    assert_int_equal(gs_days_from_civil(2101, 1, 1) - gs_days_from_civil(2100, 1, 1), 365);

    int64_t y;
    unsigned m, d;
    gs_civil_from_days(19782, &y, &m, &d);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    gs_civil_from_days(-1, &y, &m, &d);
    assert_int_equal(y, 1969);
    assert_int_equal(m, 12);
    assert_int_equal(d, 31);
    gs_civil_from_days(-719468, &y, &m, &d); /* 0000-03-01 */
    assert_int_equal(y, 0);
    assert_int_equal(m, 3);
    assert_int_equal(d, 1);
    gs_civil_from_days(-719469, &y, &m, &d); /* 0000-02-29: year 0 is a leap year */
    assert_int_equal(y, 0);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Walks day by day over ~4400 years around the epoch: each day is the next calendar date. */
static void test_civil_round_trip(void **state)
{
    (void)state;
    int64_t py;
    unsigned pm, pd;
    gs_civil_from_days(-800001, &py, &pm, &pd);
    for (int64_t z = -800000; z <= 800000; z++) {
        int64_t y;
        unsigned m, d;
        gs_civil_from_days(z, &y, &m, &d);
        assert_int_equal(gs_days_from_civil(y, m, d), z);
        if (pd < days_in_month(py, pm)) {
            assert_true(y == py && m == pm && d == pd + 1);
        } else if (pm < 12) {
            assert_true(y == py && m == pm + 1 && d == 1);
        } else {
            assert_true(y == py + 1 && m == 1 && d == 1);
        }
        py = y;
        pm = m;
        pd = d;
    }
}

static void test_sentinels_do_not_overflow(void **state)
{
    (void)state;
    assert_int_equal(gs_time_hour_start(GS_TIME_MIN, CST), GS_TIME_MIN);
    assert_int_equal(gs_time_day_start(GS_TIME_MAX, -840), GS_TIME_MAX);
    assert_int_equal(gs_time_month_index(GS_TIME_MIN, CST), INT32_MIN);
    assert_int_equal(gs_time_month_index(GS_TIME_MAX, CST), INT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hour_day_around_local_midnight),
        cmocka_unit_test(test_negative_offsets),
        cmocka_unit_test(test_negative_times),
        cmocka_unit_test(test_month_start_and_length),
        cmocka_unit_test(test_december_january_rollover),
        cmocka_unit_test(test_month_labels),
        cmocka_unit_test(test_civil_known_days),
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_sentinels_do_not_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
