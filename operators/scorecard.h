/*
 * scorecard.h - the monthly district scorecard of SPEC §9 from summed counts: rates, deductions,
 * half-up rounded score, grade, rank, reward/penalty, consecutive fails, and the department league.
 *
 * The counts come from the rollup (every task's frozen partials for the month, summed); the fail
 * history is the caller's (it remembers each district's streak across months). Pure and
 * deterministic; allocates only the result.
 */
#ifndef GS_SCORECARD_H
#define GS_SCORECARD_H

#include "gs.h"
#include "params.h"

typedef struct gs_district_counts {
    uint64_t district;
    uint64_t incidents, captured, filed, due, rectified, rectified_on_time, reworked;
    /* fails in a row ending at the month before this one (0 if it did not fail or had no row) */
    uint32_t prev_consecutive_fails;
} gs_district_counts_t;

typedef struct gs_dept_counts {
    const char *name; /* borrowed, NUL-terminated, non-empty */
    uint64_t assigned, rectified_on_time;
} gs_dept_counts_t;

/* A built scorecard: `msg` and everything it points to are owned by this object. */
typedef struct gs_scorecard {
    Gridstream__V1__Scorecard msg;
    Gridstream__V1__DistrictScore *districts; /* msg.n_districts entries, rank order */
    Gridstream__V1__DistrictScore **district_ptrs;
    Gridstream__V1__DepartmentScore *departments; /* rank order */
    Gridstream__V1__DepartmentScore **department_ptrs;
    char *strings; /* month label, grades and department names */
} gs_scorecard_t;

/* floor(x * 100 + 0.5 + 1e-9) / 100: SPEC §9's half-up rounding to 2 decimals. */
double gs_score_round(double x);

/* "A".."E" for a rounded score under the grade bounds of `p`. */
const char *gs_score_grade(const gs_params_t *p, double score);

/* The five deduction terms of SPEC §9, in the order they are summed. */
typedef enum gs_score_term {
    GS_SCORE_TERM_TIMELY = 0,
    GS_SCORE_TERM_CAPTURE = 1,
    GS_SCORE_TERM_FILING = 2,
    GS_SCORE_TERM_REWORK = 3,
    GS_SCORE_TERM_OVERDUE = 4,
    GS_SCORE_TERM__COUNT = 5
} gs_score_term_t;

/* "timely", "capture", "filing", "rework", "overdue": the terms' names in reports. */
extern const char *const gs_score_term_name[GS_SCORE_TERM__COUNT];

/*
 * The deduction of a district from its rates and overdue_open (fields of `d` as on the wire: a
 * rate that is not set is NaN and deducts nothing) under the targets, weights and caps of `p`.
 * Writes each capped term to terms[] (may be NULL) and returns their left-to-right sum: the
 * `deduction` gs_scorecard_build() writes, bit for bit, for the same parameters. Pure.
 */
double gs_score_deduction(const gs_params_t *p, const Gridstream__V1__DistrictScore *d,
                          double terms[GS_SCORE_TERM__COUNT]);

/* Reward (CNY, negative for penalties) of `rank` (1-based) among `n` districts. */
int64_t gs_score_reward(const gs_params_t *p, uint32_t rank, uint32_t n);

/*
 * Builds the scorecard of `city` for the month `month_index` (year*12 + month-1) evaluated at E.
 * Districts with 0 incidents are left out. Returns NULL on OOM. The inputs are borrowed and not
 * modified; the output's consecutive_fails of a district is prev_consecutive_fails + 1 if it fails
 * this month, else 0.
 */
gs_scorecard_t *gs_scorecard_build(const gs_params_t *p, uint64_t city, int32_t month_index,
                                   int64_t evaluated_at_ms, const gs_district_counts_t *districts,
                                   size_t n_districts, const gs_dept_counts_t *depts,
                                   size_t n_depts);

void gs_scorecard_destroy(gs_scorecard_t *sc); /* NULL is a no-op */

#endif
