/*
 * scorecard.c - the monthly district scorecard of SPEC §9 (with the readings of §11 and
 * docs/SPEC-READINGS.md): from each district's summed counts it derives the five rates, the
 * capped deduction terms, the half-up rounded score, grade, fail streak, rank and reward, and from
 * each department's counts the city-wide department league.
 *
 * Every number is a deterministic IEEE double computation in a fixed order of operations, so that
 * an independent implementation reproduces the same bits: the deduction is the left-to-right sum of
 * the five terms, each `min(cap, 100 * max(0, gap) * weight)`, with `100 * gap` multiplied first.
 * A rate whose denominator is 0 is NaN and deducts nothing. Ranks are a strict total order.
 *
 * The result lives in one allocation: the gs_scorecard_t header, the district and department
 * messages, their pointer arrays and the strings (month label, grades, department names).
 */
#include "scorecard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

#define GS_SCORE_MONTH_LEN 8 /* "YYYY-MM" + NUL */
#define GS_SCORE_GRADE_LEN 2 /* "A" + NUL */

double gs_score_round(double x)
{
    return floor(x * 100.0 + 0.5 + 1e-9) / 100.0;
}

const char *gs_score_grade(const gs_params_t *p, double score)
{
    if (score >= p->grade_a) return "A";
    if (score >= p->grade_b) return "B";
    if (score >= p->grade_c) return "C";
    if (score >= p->grade_d) return "D";
    return "E";
}

int64_t gs_score_reward(const gs_params_t *p, uint32_t rank, uint32_t n)
{
    if (rank == 0 || rank > n) return 0;
    /* A top-three rank keeps its reward even when it is also among the last three. */
    if (rank <= 3) return p->rewards[rank - 1];
    /* rank > 3 and rank >= n - 2 (written without unsigned underflow): rank N -> rewards[0]. */
    if ((uint64_t)rank + 2 >= n) return -p->rewards[n - rank];
    return 0;
}

/* num/den, NaN when den is 0 (SPEC §11: a rate that is not set is NaN). */
static double score_rate(uint64_t num, uint64_t den)
{
    return den == 0 ? NAN : (double)num / (double)den;
}

/* min(cap, (100 * max(0, gap)) * weight), multiplied in that order; a NaN gap (rate not set)
 * deducts nothing. */
static double score_term(double gap, double weight, double cap)
{
    if (isnan(gap)) return 0.0;
    double g = gap > 0.0 ? gap : 0.0;
    double d = 100.0 * g * weight;
    return d < cap ? d : cap;
}

const char *const gs_score_term_name[GS_SCORE_TERM__COUNT] = {"timely", "capture", "filing",
                                                              "rework", "overdue"};

double gs_score_deduction(const gs_params_t *p, const Gridstream__V1__DistrictScore *d,
                          double terms[GS_SCORE_TERM__COUNT])
{
    double t[GS_SCORE_TERM__COUNT];
    t[GS_SCORE_TERM_TIMELY] =
        score_term(p->target_timely - d->timely_rate, p->weight_timely, p->cap_timely);
    t[GS_SCORE_TERM_CAPTURE] =
        score_term(p->target_capture - d->capture_rate, p->weight_capture, p->cap_capture);
    t[GS_SCORE_TERM_FILING] =
        score_term(p->target_filing - d->filing_rate, p->weight_filing, p->cap_filing);
    t[GS_SCORE_TERM_REWORK] =
        score_term(d->rework_rate - p->target_rework, p->weight_rework, p->cap_rework);
    double over = p->overdue_points * (double)d->overdue_open;
    t[GS_SCORE_TERM_OVERDUE] = over < p->cap_overdue ? over : p->cap_overdue;
    /* left to right, as SPEC writes the sum: the order fixes the bits of the result */
    double ded = t[0];
    for (int i = 1; i < GS_SCORE_TERM__COUNT; i++)
        ded += t[i];
    if (terms) memcpy(terms, t, sizeof(t));
    return ded;
}

/* Order of two doubles, descending, NaN after every number (two NaNs are equal). */
static int score_cmp_desc_nan_last(double a, double b)
{
    bool an = isnan(a), bn = isnan(b);
    if (an || bn) return (int)an - (int)bn;
    if (a > b) return -1;
    if (a < b) return 1;
    return 0;
}

static int score_cmp_district(const void *va, const void *vb)
{
    const Gridstream__V1__DistrictScore *a = va, *b = vb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    int c = score_cmp_desc_nan_last(a->timely_rate, b->timely_rate);
    if (c != 0) return c;
    if (a->district != b->district) return a->district < b->district ? -1 : 1;
    return 0;
}

static int score_cmp_dept(const void *va, const void *vb)
{
    const Gridstream__V1__DepartmentScore *a = va, *b = vb;
    int c = score_cmp_desc_nan_last(a->timely_rate, b->timely_rate);
    if (c != 0) return c;
    if (a->assigned != b->assigned) return a->assigned > b->assigned ? -1 : 1;
    return strcmp(a->department, b->department);
}

/* One district's counts, rates, deduction, score, fail and streak; rank, reward and grade come
 * after sorting. */
static void score_district_fill(const gs_params_t *p, const gs_district_counts_t *c,
                                Gridstream__V1__DistrictScore *d)
{
    gridstream__v1__district_score__init(d);
    d->district = c->district;
    d->incidents = c->incidents;
    d->captured = c->captured;
    d->filed = c->filed;
    d->due = c->due;
    d->rectified = c->rectified;
    d->rectified_on_time = c->rectified_on_time;
    d->reworked = c->reworked;
    /* rectified <= due holds for well-formed input (READINGS); clamp rather than wrap. */
    d->overdue_open = c->due > c->rectified ? c->due - c->rectified : 0;

    d->capture_rate = score_rate(c->captured, c->incidents);
    d->filing_rate = score_rate(c->filed, c->incidents);
    d->rectification_rate = score_rate(c->rectified, c->due);
    d->timely_rate = score_rate(c->rectified_on_time, c->due);
    d->rework_rate = score_rate(c->reworked, c->rectified);

    double ded = gs_score_deduction(p, d, NULL);
    d->deduction = ded;

    double raw = 100.0 - ded;
    d->score = gs_score_round(raw > 0.0 ? raw : 0.0);
    d->fail = d->score < p->fail_below;
    if (d->fail)
        d->consecutive_fails =
            c->prev_consecutive_fails == UINT32_MAX ? UINT32_MAX : c->prev_consecutive_fails + 1;
    else
        d->consecutive_fails = 0;
    d->accountability = (int64_t)d->consecutive_fails >= (int64_t)p->accountability_fails;
}

static size_t score_align(size_t n)
{
    const size_t a = _Alignof(max_align_t);
    return (n + a - 1) / a * a;
}

gs_scorecard_t *gs_scorecard_build(const gs_params_t *p, uint64_t city, int32_t month_index,
                                   int64_t evaluated_at_ms, const gs_district_counts_t *districts,
                                   size_t n_districts, const gs_dept_counts_t *depts,
                                   size_t n_depts)
{
    size_t nd = 0, np = 0, names = 0;
    for (size_t i = 0; i < n_districts; i++)
        nd += districts[i].incidents > 0;
    for (size_t i = 0; i < n_depts; i++) {
        /* Departments with an empty name are not ranked (READINGS); callers should not pass them.
         */
        if (depts[i].name == NULL || depts[i].name[0] == '\0') continue;
        np++;
        names += strlen(depts[i].name) + 1;
    }

    /* Every count is bounded by the caller's arrays, so these products cannot overflow in practice;
     * check anyway, since a wrapped size would be a heap overflow. */
    if (nd > SIZE_MAX / 4 / sizeof(Gridstream__V1__DistrictScore) ||
        np > SIZE_MAX / 4 / sizeof(Gridstream__V1__DepartmentScore) || names > SIZE_MAX / 4)
        return NULL;

    size_t off_d = score_align(sizeof(gs_scorecard_t));
    size_t off_dp = off_d + score_align(nd * sizeof(Gridstream__V1__DistrictScore));
    size_t off_p = off_dp + score_align(nd * sizeof(Gridstream__V1__DistrictScore *));
    size_t off_pp = off_p + score_align(np * sizeof(Gridstream__V1__DepartmentScore));
    size_t off_s = off_pp + score_align(np * sizeof(Gridstream__V1__DepartmentScore *));
    size_t total = off_s + GS_SCORE_MONTH_LEN + nd * GS_SCORE_GRADE_LEN + names;

    char *base = malloc(total);
    if (base == NULL) return NULL;
    gs_scorecard_t *sc = (gs_scorecard_t *)base;
    sc->districts = (Gridstream__V1__DistrictScore *)(base + off_d);
    sc->district_ptrs = (Gridstream__V1__DistrictScore **)(base + off_dp);
    sc->departments = (Gridstream__V1__DepartmentScore *)(base + off_p);
    sc->department_ptrs = (Gridstream__V1__DepartmentScore **)(base + off_pp);
    sc->strings = base + off_s;

    gridstream__v1__scorecard__init(&sc->msg);
    sc->msg.city = city;
    sc->msg.evaluated_at_ms = evaluated_at_ms;
    char *s = sc->strings;
    gs_time_month_label(month_index, s);
    sc->msg.month = s;
    s += GS_SCORE_MONTH_LEN;

    /* Districts: compute, sort into rank order, then rank, reward and grade. */
    size_t k = 0;
    for (size_t i = 0; i < n_districts; i++)
        if (districts[i].incidents > 0) score_district_fill(p, &districts[i], &sc->districts[k++]);
    if (nd > 1) qsort(sc->districts, nd, sizeof(*sc->districts), score_cmp_district);
    for (size_t i = 0; i < nd; i++) {
        Gridstream__V1__DistrictScore *d = &sc->districts[i];
        d->rank = (uint32_t)(i + 1);
        d->reward_cny = gs_score_reward(p, d->rank, (uint32_t)nd);
        const char *g = gs_score_grade(p, d->score);
        memcpy(s, g, GS_SCORE_GRADE_LEN);
        d->grade = s;
        s += GS_SCORE_GRADE_LEN;
        sc->district_ptrs[i] = d;
    }
    sc->msg.n_districts = nd;
    sc->msg.districts = nd > 0 ? sc->district_ptrs : NULL;

    /* Departments: sort on the borrowed names, then copy the names into our strings. */
    k = 0;
    for (size_t i = 0; i < n_depts; i++) {
        if (depts[i].name == NULL || depts[i].name[0] == '\0') continue;
        Gridstream__V1__DepartmentScore *e = &sc->departments[k++];
        gridstream__v1__department_score__init(e);
        e->department = (char *)depts[i].name;
        e->assigned = depts[i].assigned;
        e->rectified_on_time = depts[i].rectified_on_time;
        e->timely_rate = score_rate(depts[i].rectified_on_time, depts[i].assigned);
    }
    if (np > 1) qsort(sc->departments, np, sizeof(*sc->departments), score_cmp_dept);
    for (size_t i = 0; i < np; i++) {
        Gridstream__V1__DepartmentScore *e = &sc->departments[i];
        size_t len = strlen(e->department) + 1;
        memcpy(s, e->department, len);
        e->department = s;
        s += len;
        e->rank = (uint32_t)(i + 1);
        sc->department_ptrs[i] = e;
    }
    sc->msg.n_departments = np;
    sc->msg.departments = np > 0 ? sc->department_ptrs : NULL;
    return sc;
}

void gs_scorecard_destroy(gs_scorecard_t *sc)
{
    free(sc); /* one allocation holds everything */
}
