/*
 * test_report.c - unit tests of engine/report.c, the `gridstream scorecard` report: month parsing,
 * the heat map's colour classes and layout, collecting scorecard and KPI records as tables
 * (latest per key, tombstones, records that are not CELL MONTH windows), picking a city's month
 * and the errors that list what exists, the deductions by indicator and the warnings when they or
 * the cell counts disagree with the scorecard, and the three renderings.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"
#include "timeutil.h"

#define TZ 480
#define M_2024_02 (2024 * 12 + 1)
#define M_2024_03 (2024 * 12 + 2)

static gs_params_t P;

static int setup(void **state)
{
    (void)state;
    gs_params_defaults(&P);
    return 0;
}

static void test_parse_month(void **state)
{
    (void)state;
    int32_t m = -1;
    assert_true(gs_report_parse_month("2024-02", &m));
    assert_int_equal(m, M_2024_02);
    assert_true(gs_report_parse_month("1970-01", &m));
    assert_int_equal(m, 1970 * 12);
    assert_true(gs_report_parse_month("2024-12", &m));
    assert_int_equal(m, 2024 * 12 + 11);
    const char *bad[] = {"2024-13", "2024-00", "2024-2",  "24-02",    "2024/02", "2024-02x",
                         "",        "abcd-ef", "1969-12", " 2024-02", "2024--2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(gs_report_parse_month(bad[i], &m));
    assert_false(gs_report_parse_month(NULL, &m));
}

/* Classes partition min..max: every value is in exactly the class whose range holds it. */
static void check_bins(uint64_t min, uint64_t max, int bins)
{
    for (uint64_t v = min; v <= max; v++) {
        int k = gs_report_heat_bin(v, min, max, bins);
        assert_true(k >= 0 && k < bins);
        uint64_t lo, hi;
        assert_true(gs_report_heat_range(k, min, max, bins, &lo, &hi));
        assert_true(lo <= v && v <= hi);
    }
    uint64_t prev_hi = min - 1;
    for (int k = 0; k < bins; k++) {
        uint64_t lo, hi;
        if (!gs_report_heat_range(k, min, max, bins, &lo, &hi)) continue;
        assert_true(lo == prev_hi + 1); /* contiguous, no gap, no overlap */
        prev_hi = hi;
    }
    assert_true(prev_hi == max);
}

static void test_heat_bins(void **state)
{
    (void)state;
    assert_int_equal(gs_report_heat_bin(0, 1, 10, 6), -1);
    assert_int_equal(gs_report_heat_bin(5, 0, 0, 6), -1);
    /* 98..147 in 6 classes: 98-105, 106-113, 114-122, 123-130, 131-138, 139-147 */
    uint64_t lo, hi;
    assert_true(gs_report_heat_range(0, 98, 147, 6, &lo, &hi));
    assert_int_equal(lo, 98);
    assert_int_equal(hi, 105);
    assert_true(gs_report_heat_range(5, 98, 147, 6, &lo, &hi));
    assert_int_equal(lo, 139);
    assert_int_equal(hi, 147);
    assert_int_equal(gs_report_heat_bin(98, 98, 147, 6), 0);
    assert_int_equal(gs_report_heat_bin(105, 98, 147, 6), 0);
    assert_int_equal(gs_report_heat_bin(106, 98, 147, 6), 1);
    assert_int_equal(gs_report_heat_bin(147, 98, 147, 6), 5);
    assert_int_equal(gs_report_heat_bin(1000, 98, 147, 6), 5); /* above the top: the top class */
    check_bins(98, 147, 6);
    check_bins(1, 134, 6);
    check_bins(1, 1, 6); /* one value: one class, the others empty */
    check_bins(7, 9, 6); /* fewer values than classes */
    check_bins(10, 22, 6);
    assert_int_equal(gs_report_heat_bin(1, 1, 1, 6), 5);
    assert_false(gs_report_heat_range(0, 1, 1, 6, &lo, &hi));
    assert_false(gs_report_heat_range(6, 1, 10, 6, &lo, &hi));
    /* huge counts do not overflow */
    assert_int_equal(gs_report_heat_bin(UINT64_MAX - 1, 1, UINT64_MAX, 6), 5);
    assert_int_equal(gs_report_heat_bin(UINT64_MAX / 2, 1, UINT64_MAX, 6), 2);
}

static void test_heat_layout(void **state)
{
    (void)state;
    /* district 440902: community ...001001 with 3 cells (wraps at 2), ...001002 with 1;
     * district 440904: one community with 2 cells */
    gs_report_cell_t c[] = {
        {440902001001001, 5}, {440902001001002, 0}, {440902001001007, 1},
        {440902001002003, 2}, {440904002001001, 9}, {440904002001002, 4},
    };
    gs_report_pos_t pos[6];
    gs_report_heat_layout(c, 6, 2, pos);
    const gs_report_pos_t want[] = {{0, 0, 0}, {0, 0, 1}, {0, 1, 0},
                                    {0, 2, 0}, {1, 0, 0}, {1, 0, 1}};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pos[i].panel, want[i].panel);
        assert_int_equal(pos[i].row, want[i].row);
        assert_int_equal(pos[i].col, want[i].col);
    }
    gs_report_heat_layout(c, 6, 12, pos);
    assert_int_equal(pos[2].row, 0);
    assert_int_equal(pos[2].col, 2);
    assert_int_equal(pos[3].row, 1);
}

static void test_grade_colors(void **state)
{
    (void)state;
    assert_string_equal(gs_report_grade_color("A"), "#1a9850");
    assert_string_equal(gs_report_grade_color("E"), "#d73027");
    assert_string_not_equal(gs_report_grade_color("B"), gs_report_grade_color("C"));
    assert_string_equal(gs_report_grade_color("F"), "#bdbdbd");
    assert_string_equal(gs_report_grade_color("AB"), "#bdbdbd");
    assert_string_equal(gs_report_grade_color(NULL), "#bdbdbd");
}

/* ---- collecting and building -------------------------------------------------------------- */

/* Adds the packed scorecard of `city` for `month_index` built from counts to s under its key. */
static void add_scorecard(gs_report_src_t *s, const gs_params_t *p, uint64_t city, int32_t month,
                          const gs_district_counts_t *d, size_t nd, const gs_dept_counts_t *dep,
                          size_t ndep)
{
    gs_scorecard_t *sc =
        gs_scorecard_build(p, city, month, INT64_C(1710086400000), d, nd, dep, ndep);
    assert_non_null(sc);
    size_t len = gridstream__v1__scorecard__get_packed_size(&sc->msg);
    uint8_t *buf = malloc(len + 1);
    gridstream__v1__scorecard__pack(&sc->msg, buf);
    char key[32];
    snprintf(key, sizeof(key), "%llu:%s", (unsigned long long)city, sc->msg.month);
    assert_int_equal(gs_report_src_add_scorecard(s, key, strlen(key), buf, len), GS_OK);
    free(buf);
    gs_scorecard_destroy(sc);
}

/* Adds a KPI record of `level`/`window` for scope in the month with `incidents`. */
static void add_kpi(gs_report_src_t *s, int level, uint64_t scope, int window, int32_t month,
                    uint64_t incidents)
{
    Gridstream__V1__KpiRecord k = GRIDSTREAM__V1__KPI_RECORD__INIT;
    k.level = level;
    k.scope = scope;
    k.window = window;
    k.window_start_ms = gs_time_month_start(month, TZ);
    k.window_end_ms = gs_time_month_start(month + 1, TZ);
    k.incidents = incidents;
    uint8_t buf[256];
    size_t len = gridstream__v1__kpi_record__pack(&k, buf);
    char key[80];
    snprintf(key, sizeof(key), "%d:%llu:%d:%lld", level, (unsigned long long)scope, window,
             (long long)k.window_start_ms);
    assert_int_equal(gs_report_src_add_kpi(s, key, strlen(key), buf, len), GS_OK);
}

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

/* A source with city 4409 (two districts, Feb and Mar) and city 4401 (Mar), and cell KPIs. */
static gs_report_src_t *sample_src(void)
{
    gs_report_src_t *s = gs_report_src_new(TZ);
    assert_non_null(s);
    gs_district_counts_t d[] = {dc(440902, 12, 12, 12, 12, 12, 12, 0),
                                dc(440904, 10, 8, 9, 9, 6, 5, 1)};
    gs_dept_counts_t dep[] = {{"环卫处", 10, 9}, {"A|B <Office>", 4, 1}};
    /* an older version of the Feb scorecard first: the later record of the key wins */
    gs_district_counts_t old[] = {dc(440902, 1, 1, 1, 1, 1, 1, 0)};
    add_scorecard(s, &P, 4409, M_2024_02, old, 1, NULL, 0);
    add_scorecard(s, &P, 4409, M_2024_02, d, 2, dep, 2);
    add_scorecard(s, &P, 4409, M_2024_03, d, 1, NULL, 0);
    add_scorecard(s, &P, 4401, M_2024_03, d, 1, NULL, 0);
    /* cells of 440902 in Feb: 7 + 5 = 12; of 440904: 10 (an earlier version said 3) */
    add_kpi(s, 1, 440902001001001, 3, M_2024_02, 7);
    add_kpi(s, 1, 440902001001002, 3, M_2024_02, 5);
    add_kpi(s, 1, 440904002001001, 3, M_2024_02, 3);
    add_kpi(s, 1, 440904002001001, 3, M_2024_02, 10);
    add_kpi(s, 1, 440902001002001, 3, M_2024_03, 4);  /* known cell, nothing in Feb */
    add_kpi(s, 4, 440902, 3, M_2024_02, 12);          /* DISTRICT level: skipped */
    add_kpi(s, 1, 440902001001001, 2, M_2024_02, 99); /* DAY window: skipped */
    add_kpi(s, 1, 440101001001001, 3, M_2024_02, 8);  /* another city */
    return s;
}

static void test_build(void **state)
{
    (void)state;
    gs_report_src_t *s = sample_src();
    gs_report_t r;
    char err[512];
    assert_int_equal(gs_report_build(s, &P, "2024-02", 0, &r, err, sizeof(err)), GS_OK);
    assert_int_equal(r.sc->city, 4409);
    assert_string_equal(r.sc->month, "2024-02");
    assert_int_equal(r.sc->n_districts, 2); /* the latest version, not the first */
    assert_int_equal(r.sc->n_departments, 2);
    assert_int_equal(r.n_warnings, 0);
    for (size_t i = 0; i < r.sc->n_districts; i++) {
        double sum = 0;
        for (int k = 0; k < GS_SCORE_TERM__COUNT; k++)
            sum += r.terms[i][k];
        assert_true(fabs(sum - r.sc->districts[i]->deduction) < 1e-9);
    }
    /* 440904: capture .8 → 5, filing .9 → 0, timely 5/9 → 39.44, rework 1/6 → 11.67, overdue 3
     * → 0.6 */
    const Gridstream__V1__DistrictScore *d = r.sc->districts[1];
    assert_int_equal(d->district, 440904);
    assert_true(fabs(r.terms[1][GS_SCORE_TERM_CAPTURE] - 5.0) < 1e-9);
    assert_true(r.terms[1][GS_SCORE_TERM_FILING] == 0.0);
    assert_true(fabs(r.terms[1][GS_SCORE_TERM_TIMELY] - (95.0 - 500.0 / 9.0)) < 1e-9);
    assert_true(fabs(r.terms[1][GS_SCORE_TERM_REWORK] - (100.0 / 6.0 - 5.0)) < 1e-9);
    assert_true(fabs(r.terms[1][GS_SCORE_TERM_OVERDUE] - 0.6) < 1e-9);
    /* cells: the city's four known cells in code order, Feb counts, latest version */
    assert_int_equal(r.n_cells, 4);
    assert_true(r.cells[0].cell == 440902001001001 && r.cells[0].incidents == 7);
    assert_true(r.cells[1].cell == 440902001001002 && r.cells[1].incidents == 5);
    assert_true(r.cells[2].cell == 440902001002001 && r.cells[2].incidents == 0);
    assert_true(r.cells[3].cell == 440904002001001 && r.cells[3].incidents == 10);
    assert_int_equal(r.min_cell_incidents, 5);
    assert_int_equal(r.max_cell_incidents, 10);
    gs_report_fini(&r);

    /* several cities in March: 2 (INVAL) listing them; --city picks one */
    assert_int_equal(gs_report_build(s, &P, "2024-03", 0, &r, err, sizeof(err)), GS_ERR_INVAL);
    assert_non_null(strstr(err, "2024-03 (cities 4401, 4409)"));
    assert_int_equal(gs_report_build(s, &P, "2024-03", 4401, &r, err, sizeof(err)), GS_OK);
    assert_int_equal(r.sc->city, 4401);
    assert_int_equal(r.n_cells, 1);
    assert_int_equal(r.n_warnings, 1); /* its one cell has nothing in March but the scorecard 12 */
    assert_non_null(strstr(r.warnings[0], "count 0 incidents, the scorecard 12"));
    gs_report_fini(&r);

    /* no such month, no such city: NOENT, and what exists is listed */
    assert_int_equal(gs_report_build(s, &P, "2024-05", 0, &r, err, sizeof(err)), GS_ERR_NOENT);
    assert_non_null(strstr(err, "no scorecard for 2024-05"));
    assert_non_null(strstr(err, "2024-02 (city 4409), 2024-03 (cities 4401, 4409)"));
    assert_int_equal(gs_report_build(s, &P, "2024-02", 4401, &r, err, sizeof(err)), GS_ERR_NOENT);
    assert_non_null(strstr(err, "no scorecard of city 4401 for 2024-02"));
    assert_int_equal(gs_report_build(s, &P, "2024-2", 0, &r, err, sizeof(err)), GS_ERR_INVAL);

    /* other scorecard parameters than the record's: the terms do not add up, a warning says so */
    gs_params_t q = P;
    q.cap_overdue = 0.1;
    assert_int_equal(gs_report_build(s, &q, "2024-02", 0, &r, err, sizeof(err)), GS_OK);
    assert_int_equal(r.n_warnings, 1);
    assert_non_null(strstr(r.warnings[0], "district 440904"));
    assert_non_null(strstr(r.warnings[0], "other parameters"));
    gs_report_fini(&r);
    gs_report_src_destroy(s);
}

static void test_tombstones_and_bad_values(void **state)
{
    (void)state;
    gs_report_src_t *s = sample_src();
    const char *key = "4409:2024-02";
    assert_int_equal(gs_report_src_add_scorecard(s, key, strlen(key), NULL, 0), GS_OK);
    gs_report_t r;
    char err[512];
    assert_int_equal(gs_report_build(s, &P, "2024-02", 0, &r, err, sizeof(err)), GS_ERR_NOENT);
    /* a cell whose only MONTH row is deleted is no longer known */
    char kk[80];
    snprintf(kk, sizeof(kk), "1:440902001002001:3:%lld",
             (long long)gs_time_month_start(M_2024_03, TZ));
    assert_int_equal(gs_report_src_add_kpi(s, kk, strlen(kk), NULL, 0), GS_OK);
    assert_int_equal(gs_report_build(s, &P, "2024-03", 4409, &r, err, sizeof(err)), GS_OK);
    assert_int_equal(r.n_cells, 3);
    gs_report_fini(&r);
    /* undecodable values: DECODE, and nothing kept */
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    snprintf(kk, sizeof(kk), "1:440902001009001:3:%lld",
             (long long)gs_time_month_start(M_2024_03, TZ));
    assert_int_equal(gs_report_src_add_kpi(s, kk, strlen(kk), junk, sizeof(junk)), GS_ERR_DECODE);
    const char *k2 = "1:x:3:5", *k3 = "1:440902001001001:3:", *k4 = "11:1:3:5";
    assert_int_equal(gs_report_src_add_kpi(s, k2, strlen(k2), junk, 3), GS_OK); /* skipped */
    assert_int_equal(gs_report_src_add_kpi(s, k3, strlen(k3), junk, 3), GS_OK);
    assert_int_equal(gs_report_src_add_kpi(s, k4, strlen(k4), junk, 3), GS_OK);
    assert_int_equal(gs_report_src_add_scorecard(s, "9:x", 3, junk, 3), GS_OK); /* kept raw */
    assert_int_equal(gs_report_build(s, &P, "2024-03", 4409, &r, err, sizeof(err)), GS_OK);
    assert_int_equal(r.n_cells, 3);
    gs_report_fini(&r);
    gs_report_src_destroy(s);
}

/* ---- rendering ------------------------------------------------------------------------------ */

static char *render(const gs_report_t *r, gs_report_format_t fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_true(gs_report_write(r, &P, fmt, f));
    fclose(f);
    return buf;
}

static void test_render(void **state)
{
    (void)state;
    gs_report_src_t *s = sample_src();
    gs_report_t r;
    char err[512];
    assert_int_equal(gs_report_build(s, &P, "2024-02", 0, &r, err, sizeof(err)), GS_OK);

    char *md = render(&r, GS_REPORT_MD);
    assert_non_null(strstr(md, "# Scorecard 2024-02, city 4409\n"));
    assert_non_null(strstr(md, "| 1 | 440902 | 100.00 | A | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | "
                               "0.00 | +1,000,000 |  |\n"));
    assert_non_null(strstr(md, "| 2 | 440904 | "));
    assert_non_null(strstr(md, "| 2 | A\\|B <Office> | 4 | 1 | 25.0% |")); /* '|' escaped */
    assert_non_null(strstr(md, "| 1 | 环卫处 | 10 | 9 | 90.0% |"));
    assert_non_null(strstr(md, "| 440904002001001 | 440904 | 10 |")); /* busiest cell first */
    free(md);

    char *js = render(&r, GS_REPORT_JSON);
    assert_non_null(strstr(js, "{\"city\":4409,\"month\":\"2024-02\","));
    assert_non_null(strstr(js, "{\"rank\":1,\"district\":440902,\"score\":100,\"grade\":\"A\","
                               "\"deduction\":0,\"deductions\":{\"timely\":0,\"capture\":0,"
                               "\"filing\":0,\"rework\":0,\"overdue\":0},\"incidents\":12,"));
    assert_non_null(strstr(js, "\"department\":\"A|B <Office>\""));
    assert_non_null(strstr(js, "{\"cell\":440902001002001,\"district\":440902,\"incidents\":0}"));
    assert_non_null(strstr(js, "\"warnings\":[]}\n"));
    free(js);

    char *html = render(&r, GS_REPORT_HTML);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(html, "<tr class=\"district\" data-district=\"440902\" data-rank=\"1\" "
                                 "data-score=\"100.00\" data-grade=\"A\">"));
    assert_non_null(strstr(html, "data-district=\"440904\" data-rank=\"2\""));
    assert_non_null(strstr(html, "A|B &lt;Office&gt;")); /* escaped */
    assert_non_null(strstr(html, "<rect class=\"bar\" data-district=\"440902\""));
    assert_non_null(strstr(html, "data-cell=\"440904002001001\" data-incidents=\"10\""));
    assert_non_null(strstr(html, "@media print"));
    /* self-contained: nothing is fetched (the only URL is the SVG namespace) */
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href="));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "@import"));
    assert_non_null(strstr(html, "</html>\n"));
    free(html);
    gs_report_fini(&r);
    gs_report_src_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_month), cmocka_unit_test(test_heat_bins),
        cmocka_unit_test(test_heat_layout), cmocka_unit_test(test_grade_colors),
        cmocka_unit_test(test_build),       cmocka_unit_test(test_tombstones_and_bad_values),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
