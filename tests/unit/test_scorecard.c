/*
 * test_scorecard.c - unit tests of operators/scorecard.c (SPEC §9, §11 Scorecards): rounding,
 * every deduction term alone and at its cap, NaN rates, grade and fail bounds, rank tie-breaks,
 * the reward table, fail streaks, the department league, omission of empty districts, the month
 * label, and a protobuf-c round trip. Expected values are computed by hand from SPEC's defaults.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "params.h"
#include "scorecard.h"

#define CITY UINT64_C(4409)
#define M_2024_02 (2024 * 12 + 1)
#define E_MS INT64_C(1710086400000)
#define EPS 1e-9

static gs_params_t P;

/* |a - b| <= eps in double (cmocka's assert_float_equal narrows to float). */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static int setup(void **state)
{
    (void)state;
    gs_params_defaults(&P);
    return 0;
}

/* One district row with the given counts and no fail history. */
static gs_district_counts_t dc(uint64_t district, uint64_t incidents, uint64_t captured,
                               uint64_t filed, uint64_t due, uint64_t rectified, uint64_t on_time,
                               uint64_t reworked)
{
    gs_district_counts_t c = {.district = district,
                              .incidents = incidents,
                              .captured = captured,
                              .filed = filed,
                              .due = due,
                              .rectified = rectified,
                              .rectified_on_time = on_time,
                              .reworked = reworked};
    return c;
}

/* The scored row of a single district (copied out; the grade is kept in `grade`). */
typedef struct one {
    Gridstream__V1__DistrictScore d;
    char grade[4];
} one_t;

static one_t score_one(const gs_params_t *p, gs_district_counts_t c)
{
    gs_scorecard_t *sc = gs_scorecard_build(p, CITY, M_2024_02, E_MS, &c, 1, NULL, 0);
    assert_non_null(sc);
    assert_int_equal(sc->msg.n_districts, 1);
    one_t o;
    o.d = *sc->msg.districts[0];
    assert_true(strlen(o.d.grade) < sizeof(o.grade));
    strcpy(o.grade, o.d.grade);
    o.d.grade = o.grade;
    gs_scorecard_destroy(sc);
    return o;
}

/* A district with every rate on target: nothing deducted. */
static void test_perfect_district(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(440902, 100, 100, 100, 100, 100, 100, 0));
    assert_int_equal(o.d.district, 440902);
    assert_true(o.d.capture_rate == 1.0);
    assert_true(o.d.filing_rate == 1.0);
    assert_true(o.d.rectification_rate == 1.0);
    assert_true(o.d.timely_rate == 1.0);
    assert_true(o.d.rework_rate == 0.0);
    assert_int_equal(o.d.overdue_open, 0);
    assert_true(o.d.deduction == 0.0);
    assert_true(o.d.score == 100.0);
    assert_string_equal(o.grade, "A");
    assert_false(o.d.fail);
    assert_int_equal(o.d.rank, 1);
    assert_int_equal(o.d.reward_cny, 1000000);
    assert_int_equal(o.d.consecutive_fails, 0);
    assert_false(o.d.accountability);
}

static void test_round(void **state)
{
    (void)state;
    assert_true(gs_score_round(89.995) == 90.00);
    /* 1.005·100 and 39.995·100 land just below .5 in double: only the 1e-9 rounds them up */
    assert_true(gs_score_round(1.005) == 1.01);
    assert_true(gs_score_round(39.995) == 40.0);
    assert_true(gs_score_round(89.994999) == 89.99);
    assert_true(gs_score_round(0.005) == 0.01);
    assert_true(gs_score_round(0.004999) == 0.0);
    assert_true(gs_score_round(100.0) == 100.0);
    assert_true(gs_score_round(0.0) == 0.0);
    assert_true(gs_score_round(59.994) == 59.99);
    assert_true(gs_score_round(74.9951) == 75.0);
}

/* rectified_on_time 90 of due 100: timely .90, 100·(.95 − .90)·1.0 = 5. */
static void test_term_timely(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 100, 100, 100, 100, 100, 90, 0));
    assert_true(o.d.timely_rate == 0.9);
    assert_true(o.d.rectification_rate == 1.0);
    assert_near(o.d.deduction, 5.0, EPS);
    assert_true(o.d.score == 95.0);
    /* at the cap: timely 0 gives 95 points, capped at 40 */
    o = score_one(&P, dc(1, 100, 100, 100, 100, 100, 0, 0));
    assert_true(o.d.timely_rate == 0.0);
    assert_true(o.d.deduction == 40.0);
    assert_true(o.d.score == 60.0);
}

/* captured 80 of 100: 100·(.90 − .80)·0.5 = 5; captured 0: 45, capped at 20. */
static void test_term_capture(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 100, 80, 100, 100, 100, 100, 0));
    assert_true(o.d.capture_rate == 0.8);
    assert_near(o.d.deduction, 5.0, EPS);
    assert_true(o.d.score == 95.0);
    o = score_one(&P, dc(1, 100, 0, 100, 100, 100, 100, 0));
    assert_true(o.d.capture_rate == 0.0);
    assert_true(o.d.deduction == 20.0);
    assert_true(o.d.score == 80.0);
}

/* filed 80 of 100: 5; filed 0: 45 capped at 10, and with nothing due timely and rework are NaN. */
static void test_term_filing_and_nan(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 100, 100, 80, 80, 80, 80, 0));
    assert_true(o.d.filing_rate == 0.8);
    assert_near(o.d.deduction, 5.0, EPS);
    assert_true(o.d.score == 95.0);

    o = score_one(&P, dc(1, 100, 100, 0, 0, 0, 0, 3));
    assert_true(o.d.filing_rate == 0.0);
    assert_true(isnan(o.d.timely_rate));
    assert_true(isnan(o.d.rectification_rate));
    assert_true(isnan(o.d.rework_rate));
    assert_int_equal(o.d.overdue_open, 0);
    assert_true(o.d.deduction == 10.0); /* only the filing cap: NaN rates deduct nothing */
    assert_true(o.d.score == 90.0);
    assert_string_equal(o.grade, "A");
}

/* reworked 15 of 100 rectified: 100·(.15 − .05)·1.0 = 10; 30 of 100: 25 capped at 15. */
static void test_term_rework(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 100, 100, 100, 100, 100, 100, 15));
    assert_true(o.d.rework_rate == 0.15);
    assert_near(o.d.deduction, 10.0, EPS);
    assert_true(o.d.score == 90.0);
    o = score_one(&P, dc(1, 100, 100, 100, 100, 100, 100, 30));
    assert_true(o.d.deduction == 15.0);
    assert_true(o.d.score == 85.0);
}

/* overdue_open 40 (timely .96 deducts nothing): 0.2·40 = 8; overdue 100: 20 capped at 15. */
static void test_term_overdue(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 1000, 1000, 1000, 1000, 960, 960, 0));
    assert_int_equal(o.d.overdue_open, 40);
    assert_true(o.d.timely_rate == 0.96);
    assert_true(o.d.rectification_rate == 0.96);
    assert_near(o.d.deduction, 8.0, EPS);
    assert_true(o.d.score == 92.0);
    /* timely exactly on target (1900/2000 == .95) deducts nothing; overdue 100 hits the cap */
    o = score_one(&P, dc(1, 2000, 2000, 2000, 2000, 1900, 1900, 0));
    assert_int_equal(o.d.overdue_open, 100);
    assert_true(o.d.timely_rate == 0.95);
    assert_true(o.d.deduction == 15.0);
    assert_true(o.d.score == 85.0);
}

/* Nothing rectified: rework is NaN (nothing), timely 0 (40) and the overdue term still applies. */
static void test_overdue_always_applies(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 10, 10, 10, 10, 0, 0, 0));
    assert_true(isnan(o.d.rework_rate));
    assert_true(o.d.rectification_rate == 0.0);
    assert_int_equal(o.d.overdue_open, 10);
    assert_near(o.d.deduction, 42.0, EPS);
    assert_true(o.d.score == 58.0);
    assert_string_equal(o.grade, "D");
    assert_true(o.d.fail);
}

/* rectified > due cannot happen for well-formed input; overdue_open clamps at 0. */
static void test_overdue_clamped(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 10, 10, 10, 5, 7, 5, 0));
    assert_int_equal(o.d.overdue_open, 0);
    assert_true(o.d.deduction == 0.0);
}

/*
 * capture 8999/10000: 50·0.0001 = 0.005, rework .15: 10; deduction ≈ 10.005, reported unrounded,
 * and the score 89.995 rounds half up to 90.00 (grade A).
 */
static void test_deduction_unrounded(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 10000, 8999, 10000, 10000, 10000, 10000, 1500));
    assert_near(o.d.deduction, 10.005, EPS);
    assert_true(o.d.deduction != 10.0 && o.d.deduction != 10.01);
    assert_true(o.d.score == 90.0);
    assert_string_equal(o.grade, "A");
}

/*
 * gs_score_deduction splits a built district's deduction into its five terms and sums them back
 * to the very bits of `deduction`: capture .85 → 2.5, filing .8 → 5, timely 640/800 → 15, rework
 * 70/700 → 5, overdue 100 → 20 capped at 15; total 42.5. NaN rates give 0-terms.
 */
static void test_deduction_terms(void **state)
{
    (void)state;
    double t[GS_SCORE_TERM__COUNT];
    one_t o = score_one(&P, dc(1, 1000, 850, 800, 800, 700, 640, 70));
    double sum = gs_score_deduction(&P, &o.d, t);
    assert_true(sum == o.d.deduction); /* bitwise: the same computation */
    assert_near(t[GS_SCORE_TERM_TIMELY], 15.0, EPS);
    assert_near(t[GS_SCORE_TERM_CAPTURE], 2.5, EPS);
    assert_near(t[GS_SCORE_TERM_FILING], 5.0, EPS);
    assert_near(t[GS_SCORE_TERM_REWORK], 5.0, EPS);
    assert_true(t[GS_SCORE_TERM_OVERDUE] == 15.0);
    assert_near(sum, 42.5, EPS);
    assert_true(gs_score_deduction(&P, &o.d, NULL) == sum);

    /* nothing rectified: rework NaN deducts nothing, timely 0 → 40, overdue 10 → 2 */
    o = score_one(&P, dc(1, 10, 10, 10, 10, 0, 0, 0));
    sum = gs_score_deduction(&P, &o.d, t);
    assert_true(sum == o.d.deduction);
    assert_true(t[GS_SCORE_TERM_REWORK] == 0.0);
    assert_true(t[GS_SCORE_TERM_TIMELY] == 40.0);
    assert_true(t[GS_SCORE_TERM_CAPTURE] == 0.0 && t[GS_SCORE_TERM_FILING] == 0.0);
    assert_near(t[GS_SCORE_TERM_OVERDUE], 2.0, EPS);

    /* every term at its cap, with custom caps: each term is its cap */
    gs_params_t p = P;
    p.cap_timely = 30;
    p.cap_capture = 7;
    o = score_one(&p, dc(1, 1000, 0, 100, 100, 20, 0, 20));
    sum = gs_score_deduction(&p, &o.d, t);
    assert_true(sum == o.d.deduction);
    assert_true(t[0] == 30.0 && t[1] == 7.0 && t[2] == 10.0 && t[3] == 15.0 && t[4] == 15.0);
    assert_string_equal(gs_score_term_name[GS_SCORE_TERM_TIMELY], "timely");
    assert_string_equal(gs_score_term_name[GS_SCORE_TERM_OVERDUE], "overdue");
}

/* All five terms at their caps: 40 + 20 + 10 + 15 + 15 = 100, score 0. */
static void test_all_caps_and_floor(void **state)
{
    (void)state;
    gs_district_counts_t c = dc(1, 1000, 0, 100, 100, 20, 0, 20);
    one_t o = score_one(&P, c);
    assert_int_equal(o.d.overdue_open, 80);
    assert_true(o.d.deduction == 100.0);
    assert_true(o.d.score == 0.0);
    assert_string_equal(o.grade, "E");
    /* with a larger overdue cap the deduction passes 100: reported as is, score floored at 0 */
    gs_params_t p = P;
    p.cap_overdue = 30.0;
    o = score_one(&p, c);
    assert_near(o.d.deduction, 101.0, EPS); /* overdue 0.2·80 = 16 */
    assert_true(o.d.score == 0.0);
}

static void test_grade_bounds(void **state)
{
    (void)state;
    assert_string_equal(gs_score_grade(&P, 100.0), "A");
    assert_string_equal(gs_score_grade(&P, 90.0), "A");
    assert_string_equal(gs_score_grade(&P, 89.99), "B");
    assert_string_equal(gs_score_grade(&P, 75.0), "B");
    assert_string_equal(gs_score_grade(&P, 74.99), "C");
    assert_string_equal(gs_score_grade(&P, 60.0), "C");
    assert_string_equal(gs_score_grade(&P, 59.99), "D");
    assert_string_equal(gs_score_grade(&P, 40.0), "D");
    assert_string_equal(gs_score_grade(&P, 39.99), "E");
    assert_string_equal(gs_score_grade(&P, 0.0), "E");
    gs_params_t p = P;
    p.grade_a = 95.0;
    assert_string_equal(gs_score_grade(&p, 94.99), "B");
    assert_string_equal(gs_score_grade(&p, 95.0), "A");
}

/* The grade bounds reached through whole scorecards, whose scores round onto or just below them. */
static void test_grade_bounds_built(void **state)
{
    (void)state;
    struct {
        gs_district_counts_t c;
        double score;
        const char *grade;
    } cases[] = {
        /* rework 10 */
        {dc(1, 100, 100, 100, 100, 100, 100, 15), 90.0, "A"},
        /* rework 10 + capture 0.01 (8998/10000) */
        {dc(1, 10000, 8998, 10000, 10000, 10000, 10000, 1500), 89.99, "B"},
        /* timely .70: 25 */
        {dc(1, 100, 100, 100, 100, 100, 70, 0), 75.0, "B"},
        /* timely 25 + capture 0.01 */
        {dc(1, 10000, 8998, 10000, 10000, 10000, 7000, 0), 74.99, "C"},
        /* timely cap 40 */
        {dc(1, 10, 10, 10, 10, 10, 0, 0), 60.0, "C"},
        /* timely cap 40 + capture 0.01 */
        {dc(1, 10000, 8998, 10000, 10000, 10000, 0, 0), 59.99, "D"},
        /* timely cap 40 + capture cap 20 */
        {dc(1, 10, 0, 10, 10, 10, 0, 0), 40.0, "D"},
        /* timely 40 + capture 20 + filing 0.005 (8999/10000): 39.995 rounds up only by the 1e-9 */
        {dc(1, 10000, 0, 8999, 8999, 8999, 0, 0), 40.0, "D"},
        /* timely 40 + capture 20 + filing 0.01 (8998/10000) */
        {dc(1, 10000, 0, 8998, 8998, 8998, 0, 0), 39.99, "E"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        one_t o = score_one(&P, cases[i].c);
        assert_true(o.d.score == cases[i].score);
        assert_string_equal(o.grade, cases[i].grade);
    }
}

/*
 * Every parameter of the formula is configuration: targets .80/.70/.60/.10, weights 2/1/3/.5,
 * caps 50/30/35/8, overdue 1 point capped at 3. Due (40) below filed (50), so
 * rectification = 30/40 = .75 and timely = 30/40 = .75:
 *   timely  100·(.80 − .75)·2 = 10; capture 100·(.70 − .50)·1 = 20;
 *   filing  100·(.60 − .50)·3 = 30 (cap 35); rework 100·(6/30 − .10)·.5 = 5; overdue 10 -> cap 3.
 */
static void test_custom_params(void **state)
{
    (void)state;
    gs_params_t p = P;
    p.target_timely = 0.80;
    p.target_capture = 0.70;
    p.target_filing = 0.60;
    p.target_rework = 0.10;
    p.weight_timely = 2.0;
    p.weight_capture = 1.0;
    p.weight_filing = 3.0;
    p.weight_rework = 0.5;
    p.cap_timely = 50.0;
    p.cap_capture = 30.0;
    p.cap_filing = 35.0;
    p.cap_rework = 8.0;
    p.overdue_points = 1.0;
    p.cap_overdue = 3.0;
    p.fail_below = 30.0;
    one_t o = score_one(&p, dc(1, 100, 50, 50, 40, 30, 30, 6));
    assert_true(o.d.rectification_rate == 0.75);
    assert_true(o.d.timely_rate == 0.75);
    assert_true(o.d.capture_rate == 0.5);
    assert_true(o.d.filing_rate == 0.5);
    assert_true(o.d.rework_rate == 0.2);
    assert_int_equal(o.d.overdue_open, 10);
    assert_near(o.d.deduction, 68.0, EPS);
    assert_true(o.d.score == 32.0);
    assert_string_equal(o.grade, "E");
    assert_false(o.d.fail); /* 32 >= 30 */
    /* the defaults on the same counts: 20 + 20 + (40 -> 10) + 15 + 2 = 67 */
    o = score_one(&P, dc(1, 100, 50, 50, 40, 30, 30, 6));
    assert_near(o.d.deduction, 67.0, EPS);
    assert_true(o.d.score == 33.0);
    assert_true(o.d.fail);
}

/* fail = score < 60: 59.99 fails, 60.00 does not. */
static void test_fail_bound(void **state)
{
    (void)state;
    one_t o = score_one(&P, dc(1, 10000, 8998, 10000, 10000, 10000, 0, 0));
    assert_true(o.d.score == 59.99);
    assert_true(o.d.fail);
    assert_int_equal(o.d.consecutive_fails, 1);
    assert_false(o.d.accountability);
    o = score_one(&P, dc(1, 10, 10, 10, 10, 10, 0, 0));
    assert_true(o.d.score == 60.0);
    assert_false(o.d.fail);
    assert_int_equal(o.d.consecutive_fails, 0);
}

static void test_consecutive_fails(void **state)
{
    (void)state;
    gs_district_counts_t failing = dc(1, 10, 10, 10, 10, 0, 0, 0); /* 58.00 */
    gs_district_counts_t passing = dc(1, 10, 10, 10, 10, 10, 10, 0);

    failing.prev_consecutive_fails = 1;
    one_t o = score_one(&P, failing);
    assert_true(o.d.fail);
    assert_int_equal(o.d.consecutive_fails, 2);
    assert_true(o.d.accountability);

    failing.prev_consecutive_fails = 2;
    o = score_one(&P, failing);
    assert_int_equal(o.d.consecutive_fails, 3);
    assert_true(o.d.accountability);

    passing.prev_consecutive_fails = 2;
    o = score_one(&P, passing);
    assert_false(o.d.fail);
    assert_int_equal(o.d.consecutive_fails, 0);
    assert_false(o.d.accountability);

    /* accountability_fails is configuration */
    gs_params_t p = P;
    p.accountability_fails = 3;
    failing.prev_consecutive_fails = 1;
    o = score_one(&p, failing);
    assert_int_equal(o.d.consecutive_fails, 2);
    assert_false(o.d.accountability);
}

/* The reward vector by rank for N = 1..7 districts. */
static void test_reward_table(void **state)
{
    (void)state;
    static const int64_t want[8][7] = {
        {0},
        {1000000},
        {1000000, 600000},
        {1000000, 600000, 300000},
        {1000000, 600000, 300000, -1000000},
        {1000000, 600000, 300000, -600000, -1000000},
        {1000000, 600000, 300000, -300000, -600000, -1000000},
        {1000000, 600000, 300000, 0, -300000, -600000, -1000000},
    };
    for (uint32_t n = 1; n <= 7; n++) {
        for (uint32_t r = 1; r <= n; r++)
            assert_int_equal(gs_score_reward(&P, r, n), want[n][r - 1]);
        assert_int_equal(gs_score_reward(&P, 0, n), 0);     /* no rank 0 */
        assert_int_equal(gs_score_reward(&P, n + 1, n), 0); /* beyond the table */
    }
    /* N = 10: ranks 4..7 get nothing, 8, 9, 10 the penalties */
    static const int64_t ten[10] = {1000000, 600000, 300000,  0,       0,
                                    0,       0,      -300000, -600000, -1000000};
    for (uint32_t r = 1; r <= 10; r++)
        assert_int_equal(gs_score_reward(&P, r, 10), ten[r - 1]);
    /* the table is configuration */
    gs_params_t p = P;
    p.rewards[0] = 5;
    p.rewards[1] = 3;
    p.rewards[2] = 1;
    assert_int_equal(gs_score_reward(&p, 1, 4), 5);
    assert_int_equal(gs_score_reward(&p, 4, 4), -5);
    assert_int_equal(gs_score_reward(&p, 4, 5), -3);
}

/* Rewards as built: N = 7 districts with distinct scores, fed in reverse order. */
static void test_reward_built(void **state)
{
    (void)state;
    gs_district_counts_t c[7];
    for (int i = 0; i < 7; i++) /* district 440901 + i rework 15 + i of 100: lower is better */
        c[6 - i] = dc(440901 + (uint64_t)i, 100, 100, 100, 100, 100, 100, (uint64_t)(15 + i));
    gs_scorecard_t *sc = gs_scorecard_build(&P, CITY, M_2024_02, E_MS, c, 7, NULL, 0);
    assert_non_null(sc);
    assert_int_equal(sc->msg.n_districts, 7);
    static const int64_t want[7] = {1000000, 600000, 300000, 0, -300000, -600000, -1000000};
    static const double score[7] = {90, 89, 88, 87, 86, 85, 85}; /* the last is capped at 15 */
    for (size_t i = 0; i < 7; i++) {
        const Gridstream__V1__DistrictScore *d = sc->msg.districts[i];
        assert_int_equal(d->district, 440901 + i);
        assert_int_equal(d->rank, i + 1);
        assert_int_equal(d->reward_cny, want[i]);
        assert_true(d->score == score[i]);
    }
    gs_scorecard_destroy(sc);
}

/*
 * Rank: score desc, then timely desc with NaN last, then district code asc.
 *   440999 score 100                     -> 1
 *   440901 score 90, timely 1.0          -> 2
 *   440904 score 90, timely 1.0          -> 3 (code)
 *   440902 score 90, timely .95          -> 4
 *   440900 score 90, timely NaN          -> 5
 *   440903 score 90, timely NaN          -> 6 (code)
 */
static void test_rank_ties(void **state)
{
    (void)state;
    gs_district_counts_t c[] = {
        dc(440903, 100, 100, 0, 0, 0, 0, 0),                 /* filing cap 10, timely NaN */
        dc(440904, 100, 100, 100, 100, 100, 100, 15),        /* rework 10 */
        dc(440902, 2000, 2000, 2000, 2000, 2000, 1900, 300), /* timely .95, rework 10 */
        dc(440999, 100, 100, 100, 100, 100, 100, 0),
        dc(440900, 100, 100, 0, 0, 0, 0, 0),
        dc(440901, 100, 100, 100, 100, 100, 100, 15),
    };
    gs_scorecard_t *sc = gs_scorecard_build(&P, CITY, M_2024_02, E_MS, c, 6, NULL, 0);
    assert_non_null(sc);
    assert_int_equal(sc->msg.n_districts, 6);
    static const uint64_t order[6] = {440999, 440901, 440904, 440902, 440900, 440903};
    static const double score[6] = {100, 90, 90, 90, 90, 90};
    static const int64_t reward[6] = {1000000, 600000, 300000, -300000, -600000, -1000000};
    for (size_t i = 0; i < 6; i++) {
        const Gridstream__V1__DistrictScore *d = sc->msg.districts[i];
        assert_ptr_equal(d, &sc->districts[i]);
        assert_int_equal(d->district, order[i]);
        assert_int_equal(d->rank, i + 1);
        assert_true(d->score == score[i]);
        assert_int_equal(d->reward_cny, reward[i]);
    }
    assert_true(sc->msg.districts[3]->timely_rate == 0.95);
    assert_true(isnan(sc->msg.districts[4]->timely_rate));
    gs_scorecard_destroy(sc);
}

/* Districts with no incident are left out and do not count in N. */
static void test_omit_empty_districts(void **state)
{
    (void)state;
    gs_district_counts_t c[] = {
        dc(440901, 0, 0, 0, 0, 0, 0, 0),
        dc(440902, 10, 10, 10, 10, 10, 10, 0),
        dc(440903, 0, 0, 0, 0, 0, 0, 0),
        dc(440904, 10, 10, 10, 10, 0, 0, 0),
    };
    c[0].prev_consecutive_fails = 4;
    gs_scorecard_t *sc = gs_scorecard_build(&P, CITY, M_2024_02, E_MS, c, 4, NULL, 0);
    assert_non_null(sc);
    assert_int_equal(sc->msg.n_districts, 2);
    assert_int_equal(sc->msg.districts[0]->district, 440902);
    assert_int_equal(sc->msg.districts[0]->reward_cny, 1000000);
    assert_int_equal(sc->msg.districts[1]->district, 440904);
    assert_int_equal(sc->msg.districts[1]->rank, 2);
    assert_int_equal(sc->msg.districts[1]->reward_cny, 600000);
    gs_scorecard_destroy(sc);

    /* only empty districts: an empty table */
    sc = gs_scorecard_build(&P, CITY, M_2024_02, E_MS, c, 1, NULL, 0);
    assert_non_null(sc);
    assert_int_equal(sc->msg.n_districts, 0);
    assert_int_equal(sc->msg.n_departments, 0);
    gs_scorecard_destroy(sc);
}

/*
 * Departments: timely desc (NaN last), assigned desc, name in byte order.
 *   fast 3/3 = 1.0; then .8 with 10 assigned: "Zoo" < "roads" < "water" < "城管局" (bytes);
 *   parks 4/5 = .8 with 5 assigned; none 0/0 = NaN.
 */
static void test_department_rank(void **state)
{
    (void)state;
    char water[] = "water";
    gs_dept_counts_t d[] = {
        {"parks", 5, 4},  {water, 10, 8}, {"none", 0, 0}, {"城管局", 10, 8},
        {"roads", 10, 8}, {"fast", 3, 3}, {"Zoo", 10, 8}, {"", 7, 7},
    };
    gs_scorecard_t *sc =
        gs_scorecard_build(&P, CITY, M_2024_02, E_MS, NULL, 0, d, sizeof(d) / sizeof(d[0]));
    assert_non_null(sc);
    water[0] = 'W'; /* the names are copied, not borrowed */
    static const char *const order[] = {"fast", "Zoo", "roads", "water", "城管局", "parks", "none"};
    static const uint64_t assigned[] = {3, 10, 10, 10, 10, 5, 0};
    static const uint64_t on_time[] = {3, 8, 8, 8, 8, 4, 0};
    static const double timely[] = {1.0, 0.8, 0.8, 0.8, 0.8, 0.8, NAN};
    assert_int_equal(sc->msg.n_departments, 7); /* the empty name is not ranked */
    for (size_t i = 0; i < 7; i++) {
        const Gridstream__V1__DepartmentScore *e = sc->msg.departments[i];
        assert_ptr_equal(e, &sc->departments[i]);
        assert_string_equal(e->department, order[i]);
        assert_int_equal(e->assigned, assigned[i]);
        assert_int_equal(e->rectified_on_time, on_time[i]);
        assert_int_equal(e->rank, i + 1);
        if (isnan(timely[i]))
            assert_true(isnan(e->timely_rate));
        else
            assert_true(e->timely_rate == timely[i]);
    }
    gs_scorecard_destroy(sc);
}

static void test_month_and_header(void **state)
{
    (void)state;
    gs_scorecard_t *sc = gs_scorecard_build(&P, CITY, M_2024_02, E_MS, NULL, 0, NULL, 0);
    assert_non_null(sc);
    assert_int_equal(sc->msg.city, 4409);
    assert_string_equal(sc->msg.month, "2024-02");
    assert_int_equal(sc->msg.evaluated_at_ms, E_MS);
    gs_scorecard_destroy(sc);

    sc = gs_scorecard_build(&P, 1101, 2023 * 12 + 11, INT64_C(1704643200000), NULL, 0, NULL, 0);
    assert_non_null(sc);
    assert_int_equal(sc->msg.city, 1101);
    assert_string_equal(sc->msg.month, "2023-12");
    assert_int_equal(sc->msg.evaluated_at_ms, INT64_C(1704643200000));
    gs_scorecard_destroy(sc);

    gs_scorecard_destroy(NULL); /* no-op */
}

/* Doubles equal bit for bit, NaN included. */
static void assert_same_double(double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, sizeof(x));
    memcpy(&y, &b, sizeof(y));
    assert_int_equal(x, y);
}

/* A full scorecard survives protobuf-c pack and unpack unchanged, NaN rates included. */
static void test_pack_roundtrip(void **state)
{
    (void)state;
    gs_district_counts_t c[] = {
        dc(440902, 10000, 8999, 10000, 10000, 10000, 10000, 1500),
        dc(440903, 100, 100, 0, 0, 0, 0, 0),
        dc(440904, 10, 10, 10, 10, 0, 0, 0),
        dc(440905, 0, 0, 0, 0, 0, 0, 0),
        dc(440906, 1000, 0, 100, 100, 20, 0, 20),
    };
    c[2].prev_consecutive_fails = 1;
    gs_dept_counts_t d[] = {{"roads", 10, 8}, {"城管局", 4, 4}, {"none", 0, 0}};
    gs_scorecard_t *sc = gs_scorecard_build(&P, CITY, M_2024_02, E_MS, c, 5, d, 3);
    assert_non_null(sc);
    assert_int_equal(sc->msg.n_districts, 4);
    assert_int_equal(sc->msg.n_departments, 3);

    size_t len = gridstream__v1__scorecard__get_packed_size(&sc->msg);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(gridstream__v1__scorecard__pack(&sc->msg, buf), len);
    Gridstream__V1__Scorecard *u = gridstream__v1__scorecard__unpack(NULL, len, buf);
    assert_non_null(u);

    assert_int_equal(u->city, CITY);
    assert_string_equal(u->month, "2024-02");
    assert_int_equal(u->evaluated_at_ms, E_MS);
    assert_int_equal(u->n_districts, 4);
    for (size_t i = 0; i < u->n_districts; i++) {
        const Gridstream__V1__DistrictScore *a = sc->msg.districts[i], *b = u->districts[i];
        assert_int_equal(a->district, b->district);
        assert_int_equal(a->incidents, b->incidents);
        assert_int_equal(a->captured, b->captured);
        assert_int_equal(a->filed, b->filed);
        assert_int_equal(a->due, b->due);
        assert_int_equal(a->rectified, b->rectified);
        assert_int_equal(a->rectified_on_time, b->rectified_on_time);
        assert_int_equal(a->reworked, b->reworked);
        assert_int_equal(a->overdue_open, b->overdue_open);
        assert_same_double(a->capture_rate, b->capture_rate);
        assert_same_double(a->filing_rate, b->filing_rate);
        assert_same_double(a->rectification_rate, b->rectification_rate);
        assert_same_double(a->timely_rate, b->timely_rate);
        assert_same_double(a->rework_rate, b->rework_rate);
        assert_same_double(a->deduction, b->deduction);
        assert_same_double(a->score, b->score);
        assert_string_equal(a->grade, b->grade);
        assert_int_equal(a->rank, b->rank);
        assert_int_equal(a->reward_cny, b->reward_cny);
        assert_int_equal(a->fail, b->fail);
        assert_int_equal(a->consecutive_fails, b->consecutive_fails);
        assert_int_equal(a->accountability, b->accountability);
    }
    /* spot-check the decoded values themselves */
    assert_int_equal(u->districts[0]->district, 440902);
    assert_true(u->districts[0]->score == 90.0);
    assert_string_equal(u->districts[0]->grade, "A");
    assert_int_equal(u->districts[1]->district, 440903);
    assert_true(isnan(u->districts[1]->timely_rate));
    assert_true(isnan(u->districts[1]->rework_rate));
    assert_int_equal(u->districts[2]->district, 440904);
    assert_true(u->districts[2]->score == 58.0);
    assert_true(u->districts[2]->fail);
    assert_int_equal(u->districts[2]->consecutive_fails, 2);
    assert_true(u->districts[2]->accountability);
    assert_int_equal(u->districts[3]->district, 440906);
    assert_true(u->districts[3]->score == 0.0);
    assert_string_equal(u->districts[3]->grade, "E");
    assert_int_equal(u->districts[3]->reward_cny, -1000000);

    assert_int_equal(u->n_departments, 3);
    for (size_t i = 0; i < u->n_departments; i++) {
        const Gridstream__V1__DepartmentScore *a = sc->msg.departments[i], *b = u->departments[i];
        assert_string_equal(a->department, b->department);
        assert_int_equal(a->assigned, b->assigned);
        assert_int_equal(a->rectified_on_time, b->rectified_on_time);
        assert_same_double(a->timely_rate, b->timely_rate);
        assert_int_equal(a->rank, b->rank);
    }
    assert_string_equal(u->departments[0]->department, "城管局");
    assert_string_equal(u->departments[1]->department, "roads");
    assert_string_equal(u->departments[2]->department, "none");
    assert_true(isnan(u->departments[2]->timely_rate));

    gridstream__v1__scorecard__free_unpacked(u, NULL);
    free(buf);
    gs_scorecard_destroy(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round),
        cmocka_unit_test(test_perfect_district),
        cmocka_unit_test(test_term_timely),
        cmocka_unit_test(test_term_capture),
        cmocka_unit_test(test_term_filing_and_nan),
        cmocka_unit_test(test_term_rework),
        cmocka_unit_test(test_term_overdue),
        cmocka_unit_test(test_overdue_always_applies),
        cmocka_unit_test(test_overdue_clamped),
        cmocka_unit_test(test_deduction_unrounded),
        cmocka_unit_test(test_deduction_terms),
        cmocka_unit_test(test_all_caps_and_floor),
        cmocka_unit_test(test_grade_bounds),
        cmocka_unit_test(test_grade_bounds_built),
        cmocka_unit_test(test_custom_params),
        cmocka_unit_test(test_fail_bound),
        cmocka_unit_test(test_consecutive_fails),
        cmocka_unit_test(test_reward_table),
        cmocka_unit_test(test_reward_built),
        cmocka_unit_test(test_rank_ties),
        cmocka_unit_test(test_omit_empty_districts),
        cmocka_unit_test(test_department_rank),
        cmocka_unit_test(test_month_and_header),
        cmocka_unit_test(test_pack_roundtrip),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
