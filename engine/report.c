/*
 * report.c - `gridstream scorecard` (report.h): collects the scorecard and KPI tables from a replay
 * output directory or a Kafka cluster, picks one city's month, and renders it as Markdown, JSON or
 * a self-contained HTML page.
 *
 * Collection keeps little: every scorecard record's latest value (a handful of keys: one per city
 * and month) and, of the KPI topic, only CELL-level MONTH windows, recognised by their key
 * "1:<cell>:3:<window_start_ms>" without decoding anything else. Latest-per-key for the KPI rows
 * is resolved at build time by sorting on (cell, month, arrival).
 *
 * The HTML page is one file with inline CSS and SVG (no script, no font, no image fetched), so it
 * can be mailed, archived and printed: a ranked district table with the deduction of each
 * indicator, a bar chart of scores coloured by grade, the department league, and a heat map of
 * incidents per grid cell laid out district by district, one row per community.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dump.h"
#include "recfile.h"
#include "tail.h"
#include "timeutil.h"

extern char **environ;

#define GS_REPORT_EXIT_RUNTIME 1
#define GS_REPORT_EXIT_USAGE 2
#define GS_REPORT_CITY_DIV UINT64_C(100000000000) /* cell / 10^11 = city (SPEC §1) */
#define GS_REPORT_DISTRICT_DIV UINT64_C(1000000000)
#define GS_REPORT_COMMUNITY_DIV UINT64_C(1000)
#define GS_REPORT_KPI_KEY_MAX 64
#define GS_REPORT_DEFAULT_TIMEOUT_S 30.0

/* ---- collecting records ------------------------------------------------------------------- */

typedef struct report_sc_entry {
    char *key;
    uint8_t *val; /* NULL: deleted by a tombstone */
    size_t vlen;
} report_sc_entry_t;

typedef struct report_kpi_entry {
    uint64_t cell;
    uint64_t incidents;
    uint64_t seq; /* arrival order: the later wins */
    int32_t month;
    bool deleted;
} report_kpi_entry_t;

struct gs_report_src {
    int tz;
    report_sc_entry_t *sc;
    size_t n_sc, cap_sc;
    report_kpi_entry_t *kpi;
    size_t n_kpi, cap_kpi;
    uint64_t seq;
};

gs_report_src_t *gs_report_src_new(int tz_offset_minutes)
{
    gs_report_src_t *s = calloc(1, sizeof(*s));
    if (s) s->tz = tz_offset_minutes;
    return s;
}

void gs_report_src_destroy(gs_report_src_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_sc; i++) {
        free(s->sc[i].key);
        free(s->sc[i].val);
    }
    free(s->sc);
    free(s->kpi);
    free(s);
}

gs_err_t gs_report_src_add_scorecard(gs_report_src_t *s, const void *key, size_t klen,
                                     const void *val, size_t vlen)
{
    if (!key) return GS_OK; /* scorecards are keyed; a null key is nobody's row */
    report_sc_entry_t *e = NULL;
    for (size_t i = 0; i < s->n_sc && !e; i++)
        if (strlen(s->sc[i].key) == klen && memcmp(s->sc[i].key, key, klen) == 0) e = &s->sc[i];
    if (!e) {
        if (!val) return GS_OK;
        if (!GS_RESERVE(s->sc, s->cap_sc, s->n_sc + 1)) return GS_ERR_NOMEM;
        e = &s->sc[s->n_sc];
        memset(e, 0, sizeof(*e));
        if (!(e->key = strndup(key, klen))) return GS_ERR_NOMEM;
        s->n_sc++;
    }
    free(e->val);
    e->val = NULL;
    e->vlen = 0;
    if (!val) return GS_OK;
    if (!(e->val = malloc(vlen ? vlen : 1))) return GS_ERR_NOMEM;
    if (vlen) memcpy(e->val, val, vlen);
    e->vlen = vlen;
    return GS_OK;
}

/* Parses "1:<cell>:3:<window_start_ms>" (CELL level, MONTH window); false for any other key. */
static bool report_kpi_key(const void *key, size_t klen, uint64_t *cell, int64_t *start)
{
    char buf[GS_REPORT_KPI_KEY_MAX];
    if (!key || klen < 6 || klen >= sizeof(buf)) return false;
    memcpy(buf, key, klen);
    buf[klen] = '\0';
    if (buf[0] != '1' || buf[1] != ':' || buf[2] < '0' || buf[2] > '9') return false;
    char *end;
    errno = 0;
    unsigned long long c = strtoull(buf + 2, &end, 10);
    if (errno || strncmp(end, ":3:", 3) != 0) return false;
    const char *t = end + 3;
    if (!((*t >= '0' && *t <= '9') || *t == '-')) return false;
    long long st = strtoll(t, &end, 10);
    if (errno || *end) return false;
    *cell = c;
    *start = st;
    return true;
}

gs_err_t gs_report_src_add_kpi(gs_report_src_t *s, const void *key, size_t klen, const void *val,
                               size_t vlen)
{
    uint64_t cell;
    int64_t start;
    if (!report_kpi_key(key, klen, &cell, &start)) return GS_OK;
    report_kpi_entry_t e = {.cell = cell,
                            .seq = s->seq++,
                            .month = gs_time_month_index(start, s->tz),
                            .deleted = val == NULL};
    if (val) {
        Gridstream__V1__KpiRecord *k = gridstream__v1__kpi_record__unpack(NULL, vlen, val);
        if (!k) return GS_ERR_DECODE;
        e.incidents = k->incidents;
        gridstream__v1__kpi_record__free_unpacked(k, NULL);
    }
    if (!GS_RESERVE(s->kpi, s->cap_kpi, s->n_kpi + 1)) return GS_ERR_NOMEM;
    s->kpi[s->n_kpi++] = e;
    return GS_OK;
}

/* ---- pure helpers --------------------------------------------------------------------------- */

bool gs_report_parse_month(const char *s, int32_t *month_index)
{
    if (!s || strlen(s) != 7 || s[4] != '-') return false;
    int y = 0, m = 0;
    for (int i = 0; i < 7; i++) {
        if (i == 4) continue;
        if (s[i] < '0' || s[i] > '9') return false;
        if (i < 4)
            y = y * 10 + (s[i] - '0');
        else
            m = m * 10 + (s[i] - '0');
    }
    if (y < 1970 || m < 1 || m > 12) return false;
    *month_index = y * 12 + (m - 1);
    return true;
}

int gs_report_heat_bin(uint64_t v, uint64_t min, uint64_t max, int bins)
{
    if (v == 0 || max == 0 || bins < 1) return -1;
    if (min == 0 || min > max) min = 1;
    if (v >= max) return bins - 1;
    if (v < min) return 0;
    /* ceil((v - b) * bins / s) - 1 with b = min - 1, s = max - b, in 128 bits: no overflow */
    uint64_t b = min - 1, span = max - b;
    unsigned __int128 num = (unsigned __int128)(v - b) * (unsigned)bins;
    int k = (int)((num + span - 1) / span) - 1;
    return k < 0 ? 0 : k >= bins ? bins - 1 : k;
}

bool gs_report_heat_range(int k, uint64_t min, uint64_t max, int bins, uint64_t *lo, uint64_t *hi)
{
    if (k < 0 || k >= bins || max == 0) return false;
    if (min == 0 || min > max) min = 1;
    uint64_t b = min - 1, span = max - b;
    *lo = b + (uint64_t)((unsigned __int128)span * (unsigned)k / (unsigned)bins) + 1;
    *hi = b + (uint64_t)((unsigned __int128)span * (unsigned)(k + 1) / (unsigned)bins);
    return *lo <= *hi;
}

void gs_report_heat_layout(const gs_report_cell_t *cells, size_t n, uint32_t cols,
                           gs_report_pos_t *pos)
{
    if (cols == 0) cols = 1;
    uint32_t panel = 0, row = 0, col = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t c = cells[i].cell;
        if (i > 0) {
            uint64_t p = cells[i - 1].cell;
            if (c / GS_REPORT_DISTRICT_DIV != p / GS_REPORT_DISTRICT_DIV) {
                panel++;
                row = 0;
                col = 0;
            } else if (c / GS_REPORT_COMMUNITY_DIV != p / GS_REPORT_COMMUNITY_DIV) {
                row++;
                col = 0;
            } else if (++col == cols) {
                row++;
                col = 0;
            }
        }
        pos[i].panel = panel;
        pos[i].row = row;
        pos[i].col = col;
    }
}

const char *gs_report_grade_color(const char *grade)
{
    static const char *const colors[] = {"#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"};
    if (grade && grade[0] >= 'A' && grade[0] <= 'E' && grade[1] == '\0')
        return colors[grade[0] - 'A'];
    return "#bdbdbd";
}

/* Fill of heat class k (-1: no incident); YlOrRd, readable in print and for most colour vision. */
static const char *report_heat_color(int k)
{
    static const char *const colors[GS_REPORT_HEAT_BINS] = {"#ffffb2", "#fed976", "#feb24c",
                                                            "#fd8d3c", "#f03b20", "#bd0026"};
    return k < 0 ? "#f0f0f0" : colors[k < GS_REPORT_HEAT_BINS ? k : GS_REPORT_HEAT_BINS - 1];
}

/* ---- building ------------------------------------------------------------------------------- */

static gs_err_t report_warn(gs_report_t *r, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) return GS_ERR_NOMEM;
    char **w = realloc(r->warnings, (r->n_warnings + 1) * sizeof(*w));
    if (!w) {
        free(msg);
        return GS_ERR_NOMEM;
    }
    r->warnings = w;
    r->warnings[r->n_warnings++] = msg;
    return GS_OK;
}

/* A scorecard that exists: for the list in "no such month" errors. */
typedef struct report_have {
    char month[16];
    uint64_t city;
} report_have_t;

static int report_have_cmp(const void *a, const void *b)
{
    const report_have_t *x = a, *y = b;
    int c = strcmp(x->month, y->month);
    if (c) return c;
    return (x->city > y->city) - (x->city < y->city);
}

static int report_kpi_cmp(const void *a, const void *b)
{
    const report_kpi_entry_t *x = a, *y = b;
    if (x->cell != y->cell) return x->cell < y->cell ? -1 : 1;
    if (x->month != y->month) return x->month < y->month ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Appends "2024-03 (4401, 4409), 2024-04 (4401)" for have[0..n) (sorted) to buf. */
static void report_list_have(const report_have_t *have, size_t n, char *buf, size_t len)
{
    size_t used = strlen(buf);
    for (size_t i = 0; i < n && used < len; i++) {
        bool first = i == 0 || strcmp(have[i].month, have[i - 1].month) != 0;
        bool last = i + 1 == n || strcmp(have[i].month, have[i + 1].month) != 0;
        int w = snprintf(buf + used, len - used, "%s%s%s%llu%s", first && i ? ", " : "",
                         first ? have[i].month : "",
                         !first ? ", "
                         : last ? " (city "
                                : " (cities ",
                         (unsigned long long)have[i].city, last ? ")" : "");
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* The city's cells in code order with their incidents in month m, from the latest KPI rows. */
static gs_err_t report_cells(const gs_report_src_t *s, uint64_t city, int32_t m, gs_report_t *r)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_kpi; i++)
        n += s->kpi[i].cell / GS_REPORT_CITY_DIV == city;
    if (n == 0) return GS_OK;
    report_kpi_entry_t *k = malloc(n * sizeof(*k));
    r->cells = malloc(n * sizeof(*r->cells));
    if (!k || !r->cells) {
        free(k);
        return GS_ERR_NOMEM;
    }
    n = 0;
    for (size_t i = 0; i < s->n_kpi; i++)
        if (s->kpi[i].cell / GS_REPORT_CITY_DIV == city) k[n++] = s->kpi[i];
    qsort(k, n, sizeof(*k), report_kpi_cmp);
    for (size_t i = 0; i < n;) {
        uint64_t cell = k[i].cell, incidents = 0;
        bool alive = false;
        while (i < n && k[i].cell == cell) {
            size_t j = i;
            while (j + 1 < n && k[j + 1].cell == cell && k[j + 1].month == k[i].month)
                j++;
            /* k[j] is the latest row of (cell, month) */
            if (!k[j].deleted) {
                alive = true;
                if (k[j].month == m) incidents = k[j].incidents;
            }
            i = j + 1;
        }
        if (!alive) continue;
        r->cells[r->n_cells].cell = cell;
        r->cells[r->n_cells].incidents = incidents;
        r->n_cells++;
        if (incidents > r->max_cell_incidents) r->max_cell_incidents = incidents;
        if (incidents && (!r->min_cell_incidents || incidents < r->min_cell_incidents))
            r->min_cell_incidents = incidents;
    }
    free(k);
    return GS_OK;
}

gs_err_t gs_report_build(const gs_report_src_t *s, const gs_params_t *p, const char *month,
                         uint64_t city, gs_report_t *r, char *errbuf, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->tz_offset_minutes = s->tz;
    int32_t m;
    if (!gs_report_parse_month(month, &m)) {
        snprintf(errbuf, errlen, "bad month '%s': want YYYY-MM", month);
        return GS_ERR_INVAL;
    }
    gs_err_t err = GS_OK;
    report_have_t *have = calloc(s->n_sc ? s->n_sc : 1, sizeof(*have));
    if (!have) return GS_ERR_NOMEM;
    size_t n_have = 0, n_match = 0, n_month = 0;
    const report_sc_entry_t *match = NULL;
    for (size_t i = 0; i < s->n_sc; i++) {
        if (!s->sc[i].val) continue;
        Gridstream__V1__Scorecard *sc =
            gridstream__v1__scorecard__unpack(NULL, s->sc[i].vlen, s->sc[i].val);
        if (!sc) continue; /* counted when collected */
        snprintf(have[n_have].month, sizeof(have[n_have].month), "%s", sc->month);
        have[n_have].city = sc->city;
        bool same_month = strcmp(sc->month, month) == 0;
        n_month += same_month;
        if (same_month && (city == 0 || sc->city == city)) {
            n_match++;
            match = &s->sc[i];
        }
        n_have++;
        gridstream__v1__scorecard__free_unpacked(sc, NULL);
    }
    qsort(have, n_have, sizeof(*have), report_have_cmp);
    if (n_match != 1) {
        if (n_match > 1) {
            snprintf(errbuf, errlen,
                     "several cities have a scorecard for %s, choose one with --city: ", month);
            size_t k = 0; /* list this month's cities only */
            for (size_t i = 0; i < n_have; i++)
                if (strcmp(have[i].month, month) == 0) have[k++] = have[i];
            n_have = k;
            err = GS_ERR_INVAL;
        } else if (n_have == 0) {
            snprintf(errbuf, errlen, "no scorecard for %s: there are no scorecards at all", month);
            err = GS_ERR_NOENT;
        } else if (city && n_month) {
            snprintf(errbuf, errlen, "no scorecard of city %llu for %s; scorecards there are: ",
                     (unsigned long long)city, month);
            err = GS_ERR_NOENT;
        } else {
            snprintf(errbuf, errlen, "no scorecard for %s; scorecards there are: ", month);
            err = GS_ERR_NOENT;
        }
        if (n_have) report_list_have(have, n_have, errbuf, errlen);
        free(have);
        return err;
    }
    free(have);

    r->sc = gridstream__v1__scorecard__unpack(NULL, match->vlen, match->val);
    if (!r->sc) return GS_ERR_NOMEM; /* it decoded above */
    size_t nd = r->sc->n_districts;
    if (!(r->terms = calloc(nd ? nd : 1, sizeof(*r->terms)))) goto nomem;
    for (size_t i = 0; i < nd; i++) {
        const Gridstream__V1__DistrictScore *d = r->sc->districts[i];
        double sum = gs_score_deduction(p, d, r->terms[i]);
        double tol = 1e-9 * (fabs(d->deduction) > 1.0 ? fabs(d->deduction) : 1.0);
        if (!(fabs(sum - d->deduction) <= tol) &&
            report_warn(r,
                        "district %llu: the deductions by indicator under the configured "
                        "scorecard.* parameters add up to %.6f, the scorecard says %.6f (was it "
                        "computed with other parameters?)",
                        (unsigned long long)d->district, sum, d->deduction) != GS_OK)
            goto nomem;
    }
    if ((err = report_cells(s, r->sc->city, m, r)) != GS_OK) goto fail;
    if (r->n_cells == 0) {
        if (report_warn(r,
                        "no CELL-level MONTH records of city %llu in gridstream.kpi: the heat map "
                        "is empty",
                        (unsigned long long)r->sc->city) != GS_OK)
            goto nomem;
    } else {
        /* SPEC §7 and §9 count the same cohort: a district's incidents are its cells' incidents. */
        for (size_t i = 0; i < nd; i++) {
            const Gridstream__V1__DistrictScore *d = r->sc->districts[i];
            uint64_t sum = 0;
            for (size_t j = 0; j < r->n_cells; j++)
                if (r->cells[j].cell / GS_REPORT_DISTRICT_DIV == d->district)
                    sum += r->cells[j].incidents;
            if (sum != d->incidents &&
                report_warn(r,
                            "district %llu: its cells' MONTH KPI records count %llu incidents, "
                            "the scorecard %llu",
                            (unsigned long long)d->district, (unsigned long long)sum,
                            (unsigned long long)d->incidents) != GS_OK)
                goto nomem;
        }
    }
    return GS_OK;
nomem:
    err = GS_ERR_NOMEM;
fail:
    snprintf(errbuf, errlen, "out of memory");
    gs_report_fini(r);
    return err;
}

void gs_report_fini(gs_report_t *r)
{
    if (r->sc) gridstream__v1__scorecard__free_unpacked(r->sc, NULL);
    free(r->terms);
    free(r->cells);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof(*r));
}

/* ---- text formatting -------------------------------------------------------------------------
 */

#define REPORT_DASH "\xe2\x80\x94" /* U+2014: a rate that is not set */

/* A rate as a percentage with one decimal, or a dash when not set. */
static const char *report_pct(char *buf, size_t len, double rate)
{
    if (isnan(rate)) return REPORT_DASH;
    snprintf(buf, len, "%.1f%%", rate * 100.0);
    return buf;
}

/* CNY with thousands separators and a sign: +1,000,000 / -600,000 / 0. */
static const char *report_cny(char *buf, size_t len, int64_t v)
{
    char digits[32];
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)a);
    size_t o = 0;
    if (v != 0 && o + 1 < len) buf[o++] = v < 0 ? '-' : '+';
    for (int i = 0; i < n && o + 1 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0 && o + 1 < len) buf[o++] = ',';
        if (o + 1 < len) buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* Local time of an instant: "2024-04-08 00:00 (UTC+08:00)". */
static const char *report_local_time(char *buf, size_t len, int64_t ms, int tz)
{
    int64_t t = ms + (int64_t)tz * GS_MINUTE_MS;
    int64_t days = t >= 0 ? t / GS_DAY_MS : -((-t + GS_DAY_MS - 1) / GS_DAY_MS);
    int64_t rem = t - days * GS_DAY_MS, y;
    unsigned mo, d;
    gs_civil_from_days(days, &y, &mo, &d);
    int atz = tz < 0 ? -tz : tz;
    snprintf(buf, len, "%04lld-%02u-%02u %02lld:%02lld (UTC%c%02d:%02d)", (long long)y, mo, d,
             (long long)(rem / GS_HOUR_MS), (long long)(rem % GS_HOUR_MS / GS_MINUTE_MS),
             tz < 0 ? '-' : '+', atz / 60, atz % 60);
    return buf;
}

/* "FAIL", "FAIL x3, ACCOUNTABILITY" or "". */
static const char *report_flags(char *buf, size_t len, const Gridstream__V1__DistrictScore *d)
{
    buf[0] = '\0';
    if (d->fail && d->consecutive_fails > 1)
        snprintf(buf, len, "FAIL x%u", d->consecutive_fails);
    else if (d->fail)
        snprintf(buf, len, "FAIL");
    if (d->accountability)
        snprintf(buf + strlen(buf), len - strlen(buf), "%sACCOUNTABILITY", buf[0] ? ", " : "");
    return buf;
}

static void report_summary_counts(const gs_report_t *r, unsigned grades[5], unsigned *fails,
                                  unsigned *acc)
{
    memset(grades, 0, 5 * sizeof(*grades));
    *fails = *acc = 0;
    for (size_t i = 0; i < r->sc->n_districts; i++) {
        const Gridstream__V1__DistrictScore *d = r->sc->districts[i];
        if (d->grade && d->grade[0] >= 'A' && d->grade[0] <= 'E') grades[d->grade[0] - 'A']++;
        *fails += d->fail;
        *acc += d->accountability;
    }
}

/* The formula under the parameters in force, one sentence (plain text, no markup). */
static void report_formula(FILE *out, const gs_params_t *p)
{
    fprintf(out,
            "Each indicator deducts min(cap, 100 x gap x weight) points: timely rate below %g%% "
            "(weight %g, cap %g), capture rate below %g%% (weight %g, cap %g), filing rate below "
            "%g%% (weight %g, cap %g), rework rate above %g%% (weight %g, cap %g); overdue open "
            "incidents deduct %g each (cap %g). A rate that is not set deducts nothing. Score = "
            "100 - deduction, rounded half up to 2 decimals. Grades: A >= %g, B >= %g, C >= %g, "
            "D >= %g, else E; a score below %g fails, and %d failed months in a row call for "
            "accountability.",
            p->target_timely * 100, p->weight_timely, p->cap_timely, p->target_capture * 100,
            p->weight_capture, p->cap_capture, p->target_filing * 100, p->weight_filing,
            p->cap_filing, p->target_rework * 100, p->weight_rework, p->cap_rework,
            p->overdue_points, p->cap_overdue, p->grade_a, p->grade_b, p->grade_c, p->grade_d,
            p->fail_below, p->accountability_fails);
}

/* ---- Markdown ------------------------------------------------------------------------------- */

/* Text in a Markdown table cell: '|' escaped, line breaks as spaces. */
static void md_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static int report_cell_cmp_busiest(const void *a, const void *b)
{
    const gs_report_cell_t *x = a, *y = b;
    if (x->incidents != y->incidents) return x->incidents > y->incidents ? -1 : 1;
    return (x->cell > y->cell) - (x->cell < y->cell);
}

static void report_md(const gs_report_t *r, const gs_params_t *p, FILE *out)
{
    const Gridstream__V1__Scorecard *sc = r->sc;
    char b1[64], b2[64], b3[64], b4[64], b5[64];
    unsigned grades[5], fails, acc;
    report_summary_counts(r, grades, &fails, &acc);
    fprintf(out, "# Scorecard %s, city %llu\n\n", sc->month, (unsigned long long)sc->city);
    fprintf(out,
            "Evaluated at %s. %zu districts: grade A %u, B %u, C %u, D %u, E %u; %u failing; %u "
            "under accountability.\n\n",
            report_local_time(b1, sizeof(b1), sc->evaluated_at_ms, r->tz_offset_minutes),
            sc->n_districts, grades[0], grades[1], grades[2], grades[3], grades[4], fails, acc);
    for (size_t i = 0; i < r->n_warnings; i++)
        fprintf(out, "> **Warning:** %s\n\n", r->warnings[i]);

    fprintf(out, "## District ranking\n\n");
    fprintf(out, "| Rank | District | Score | Grade | Deduction | Timely | Capture | Filing | "
                 "Rework | Overdue | Reward (CNY) | Flags |\n");
    fprintf(out, "|---:|---|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < sc->n_districts; i++) {
        const Gridstream__V1__DistrictScore *d = sc->districts[i];
        const double *t = r->terms[i];
        fprintf(out,
                "| %u | %llu | %.2f | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s |\n",
                d->rank, (unsigned long long)d->district, d->score, d->grade, d->deduction, t[0],
                t[1], t[2], t[3], t[4], report_cny(b1, sizeof(b1), d->reward_cny),
                report_flags(b2, sizeof(b2), d));
    }
    fprintf(out, "\nDeductions are points by indicator. ");
    report_formula(out, p);
    fprintf(out, "\n\n## Indicators\n\n");
    fprintf(out,
            "| District | Incidents | Captured | Filed | Due | Rectified | On time | Reworked | "
            "Overdue open | Capture rate | Filing rate | Rectification rate | Timely rate | "
            "Rework rate |\n");
    fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < sc->n_districts; i++) {
        const Gridstream__V1__DistrictScore *d = sc->districts[i];
        fprintf(out, "| %llu | %llu | %llu | %llu | %llu | %llu | %llu | %llu | %llu | ",
                (unsigned long long)d->district, (unsigned long long)d->incidents,
                (unsigned long long)d->captured, (unsigned long long)d->filed,
                (unsigned long long)d->due, (unsigned long long)d->rectified,
                (unsigned long long)d->rectified_on_time, (unsigned long long)d->reworked,
                (unsigned long long)d->overdue_open);
        fprintf(out, "%s | %s | %s | %s | %s |\n", report_pct(b1, sizeof(b1), d->capture_rate),
                report_pct(b2, sizeof(b2), d->filing_rate),
                report_pct(b3, sizeof(b3), d->rectification_rate),
                report_pct(b4, sizeof(b4), d->timely_rate),
                report_pct(b5, sizeof(b5), d->rework_rate));
    }

    fprintf(out, "\n## Department league\n\n");
    if (sc->n_departments == 0)
        fprintf(out, "No incident was dispatched to a department.\n");
    else {
        fprintf(out, "| Rank | Department | Assigned | Rectified on time | Timely rate |\n");
        fprintf(out, "|---:|---|---:|---:|---:|\n");
    }
    for (size_t i = 0; i < sc->n_departments; i++) {
        const Gridstream__V1__DepartmentScore *e = sc->departments[i];
        fprintf(out, "| %u | ", e->rank);
        md_text(out, e->department);
        fprintf(out, " | %llu | %llu | %s |\n", (unsigned long long)e->assigned,
                (unsigned long long)e->rectified_on_time,
                report_pct(b1, sizeof(b1), e->timely_rate));
    }

    fprintf(out, "\n## Incidents per grid cell\n\n");
    uint64_t total = 0, with = 0;
    for (size_t i = 0; i < r->n_cells; i++) {
        total += r->cells[i].incidents;
        with += r->cells[i].incidents > 0;
    }
    fprintf(out,
            "%llu incidents in %llu of the city's %zu known grid cells (the HTML format draws "
            "them as a heat map).",
            (unsigned long long)total, (unsigned long long)with, r->n_cells);
    if (with) {
        gs_report_cell_t *top = malloc(r->n_cells * sizeof(*top));
        if (top) {
            memcpy(top, r->cells, r->n_cells * sizeof(*top));
            qsort(top, r->n_cells, sizeof(*top), report_cell_cmp_busiest);
            fprintf(out,
                    " The busiest cells:\n\n| Cell | District | Incidents |\n|---|---|---:|\n");
            for (size_t i = 0; i < r->n_cells && i < 10 && top[i].incidents; i++)
                fprintf(out, "| %llu | %llu | %llu |\n", (unsigned long long)top[i].cell,
                        (unsigned long long)(top[i].cell / GS_REPORT_DISTRICT_DIV),
                        (unsigned long long)top[i].incidents);
            free(top);
        }
    }
    fprintf(out, "\n");
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void json_num(FILE *out, double v)
{
    if (isnan(v) || isinf(v))
        fputs("null", out);
    else
        fprintf(out, "%.17g", v);
}

static void json_str(FILE *out, const char *s)
{
    gs_json_bytes(out, s, strlen(s));
}

static void report_json(const gs_report_t *r, FILE *out)
{
    const Gridstream__V1__Scorecard *sc = r->sc;
    fprintf(out, "{\"city\":%llu,\"month\":", (unsigned long long)sc->city);
    json_str(out, sc->month);
    fprintf(out, ",\"evaluated_at_ms\":%lld,\"timezone_offset_minutes\":%d,\n\"districts\":[",
            (long long)sc->evaluated_at_ms, r->tz_offset_minutes);
    for (size_t i = 0; i < sc->n_districts; i++) {
        const Gridstream__V1__DistrictScore *d = sc->districts[i];
        fprintf(out, "%s\n {\"rank\":%u,\"district\":%llu,\"score\":", i ? "," : "", d->rank,
                (unsigned long long)d->district);
        json_num(out, d->score);
        fputs(",\"grade\":", out);
        json_str(out, d->grade);
        fputs(",\"deduction\":", out);
        json_num(out, d->deduction);
        fputs(",\"deductions\":{", out);
        for (int k = 0; k < GS_SCORE_TERM__COUNT; k++) {
            fprintf(out, "%s\"%s\":", k ? "," : "", gs_score_term_name[k]);
            json_num(out, r->terms[i][k]);
        }
        fprintf(out,
                "},\"incidents\":%llu,\"captured\":%llu,\"filed\":%llu,\"due\":%llu,"
                "\"rectified\":%llu,\"rectified_on_time\":%llu,\"reworked\":%llu,"
                "\"overdue_open\":%llu",
                (unsigned long long)d->incidents, (unsigned long long)d->captured,
                (unsigned long long)d->filed, (unsigned long long)d->due,
                (unsigned long long)d->rectified, (unsigned long long)d->rectified_on_time,
                (unsigned long long)d->reworked, (unsigned long long)d->overdue_open);
        static const char *const rates[] = {"capture_rate", "filing_rate", "rectification_rate",
                                            "timely_rate", "rework_rate"};
        const double vals[] = {d->capture_rate, d->filing_rate, d->rectification_rate,
                               d->timely_rate, d->rework_rate};
        for (int k = 0; k < 5; k++) {
            fprintf(out, ",\"%s\":", rates[k]);
            json_num(out, vals[k]);
        }
        fprintf(out,
                ",\"reward_cny\":%lld,\"fail\":%s,\"consecutive_fails\":%u,\"accountability\":%s}",
                (long long)d->reward_cny, d->fail ? "true" : "false", d->consecutive_fails,
                d->accountability ? "true" : "false");
    }
    fputs("],\n\"departments\":[", out);
    for (size_t i = 0; i < sc->n_departments; i++) {
        const Gridstream__V1__DepartmentScore *e = sc->departments[i];
        fprintf(out, "%s\n {\"rank\":%u,\"department\":", i ? "," : "", e->rank);
        json_str(out, e->department);
        fprintf(out, ",\"assigned\":%llu,\"rectified_on_time\":%llu,\"timely_rate\":",
                (unsigned long long)e->assigned, (unsigned long long)e->rectified_on_time);
        json_num(out, e->timely_rate);
        fputc('}', out);
    }
    fputs("],\n\"cells\":[", out);
    for (size_t i = 0; i < r->n_cells; i++)
        fprintf(out, "%s\n {\"cell\":%llu,\"district\":%llu,\"incidents\":%llu}", i ? "," : "",
                (unsigned long long)r->cells[i].cell,
                (unsigned long long)(r->cells[i].cell / GS_REPORT_DISTRICT_DIV),
                (unsigned long long)r->cells[i].incidents);
    fputs("],\n\"warnings\":[", out);
    for (size_t i = 0; i < r->n_warnings; i++) {
        if (i) fputc(',', out);
        json_str(out, r->warnings[i]);
    }
    fputs("]}\n", out);
}

/* ---- HTML ----------------------------------------------------------------------------------- */

static void html_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static const char report_css[] =
    "*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    "body{font:14px/1.4 -apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK SC',"
    "'Microsoft YaHei','WenQuanYi Micro Hei',sans-serif;color:#222;margin:24px "
    "auto;max-width:1200px;padding:0 16px}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid "
    "#ccc;padding-bottom:3px}\n"
    ".meta{color:#555;margin:0 0 12px}\n"
    ".warn{background:#fff3cd;border:1px solid #e0c36a;padding:6px 10px;margin:6px 0}\n"
    "table{border-collapse:collapse;margin:6px 0}.wide{overflow-x:auto}\n"
    "svg.bars{max-width:100%;height:auto}\n"
    "th,td{border:1px solid #ccc;padding:3px 7px;vertical-align:top}\n"
    "th{background:#f2f2f2;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:"
    "tabular-nums}\n"
    "td small{display:block;color:#666;font-size:11px}\n"
    "td.grade{text-align:center;font-weight:700}\n"
    ".g{display:inline-block;min-width:1.6em;border-radius:3px;padding:0 4px}\n"
    "tr.fail td.score{color:#b00020;font-weight:700}\n"
    ".flag{color:#b00020;font-weight:600}\n"
    ".legend span{display:inline-block;margin-right:12px}\n"
    ".sw{display:inline-block;width:14px;height:14px;vertical-align:-2px;margin-right:4px;border:"
    "1px solid #999}\n"
    ".panels{display:flex;flex-wrap:wrap;gap:14px}\n"
    "figure{margin:0}figcaption{font-weight:600;margin-bottom:3px}\n"
    "svg text{font-family:inherit}\n"
    ".note{color:#555;font-size:12px;max-width:900px}\n"
    "@page{size:A4 landscape;margin:12mm}\n"
    "@media print{body{margin:0;max-width:none;font-size:11px}.wide{overflow:visible}"
    "h2{break-after:avoid}table,figure,tr{break-inside:avoid}}\n";

static void report_html_bars(const gs_report_t *r, const gs_params_t *p, FILE *out)
{
    const Gridstream__V1__Scorecard *sc = r->sc;
    const int label_w = 80, scale = 6, row_h = 24, top = 26;
    int w = label_w + 100 * scale + 90, h = top + (int)sc->n_districts * row_h + 8;
    fprintf(out,
            "<svg class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"bars-title\">\n"
            "<title id=\"bars-title\">District scores, %s, coloured by grade</title>\n",
            w, h, w, h, sc->month);
    for (int v = 0; v <= 100; v += 10) {
        int x = label_w + v * scale;
        fprintf(out,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#e3e3e3\"/>"
                "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
                "fill=\"#666\">%d</text>\n",
                x, top - 6, x, h - 4, x, top - 10, v);
    }
    double fx = label_w + p->fail_below * scale;
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#b00020\" "
            "stroke-dasharray=\"4 3\"/>\n",
            fx, top - 6, fx, h - 4);
    for (size_t i = 0; i < sc->n_districts; i++) {
        const Gridstream__V1__DistrictScore *d = sc->districts[i];
        int y = top + (int)i * row_h;
        double bw = (d->score > 100 ? 100 : d->score < 0 ? 0 : d->score) * scale;
        fprintf(out,
                "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">%llu</text>"
                "<rect class=\"bar\" data-district=\"%llu\" x=\"%d\" y=\"%d\" width=\"%.1f\" "
                "height=\"16\" fill=\"%s\" stroke=\"#555\" stroke-width=\"0.5\"><title>%llu: "
                "%.2f (%s)</title></rect>"
                "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%.2f %s</text>\n",
                label_w - 6, y + 16, (unsigned long long)d->district,
                (unsigned long long)d->district, label_w, y + 4, bw,
                gs_report_grade_color(d->grade), (unsigned long long)d->district, d->score,
                d->grade, label_w + bw + 5, y + 16, d->score, d->grade);
    }
    fputs("</svg>\n", out);
}

static void report_html_heat(const gs_report_t *r, FILE *out)
{
    const int cw = 34, ch = 22, label_w = 62;
    gs_report_pos_t *pos = malloc((r->n_cells ? r->n_cells : 1) * sizeof(*pos));
    if (!pos) {
        fputs("<p>(out of memory drawing the heat map)</p>\n", out);
        return;
    }
    gs_report_heat_layout(r->cells, r->n_cells, GS_REPORT_HEAT_COLS, pos);
    uint64_t min = r->min_cell_incidents, max = r->max_cell_incidents;
    fputs("<p class=\"legend\">", out);
    fprintf(out, "<span><i class=\"sw\" style=\"background:%s\"></i>0</span>",
            report_heat_color(-1));
    for (int k = 0; k < GS_REPORT_HEAT_BINS; k++) {
        uint64_t lo, hi;
        if (!gs_report_heat_range(k, min, max, GS_REPORT_HEAT_BINS, &lo, &hi)) continue;
        fprintf(out, "<span><i class=\"sw\" style=\"background:%s\"></i>", report_heat_color(k));
        if (lo == hi)
            fprintf(out, "%llu</span>", (unsigned long long)lo);
        else
            fprintf(out, "%llu&#8211;%llu</span>", (unsigned long long)lo, (unsigned long long)hi);
    }
    fputs(" incidents opened in the month, per grid cell (the number in each square). One "
          "row per community, labelled street&#183;community; the squares are its grid cells in "
          "code order (their codes show on hover).</p>\n"
          "<div class=\"panels\">\n",
          out);
    for (size_t i = 0; i < r->n_cells;) {
        size_t j = i;
        uint32_t rows = 0, cols = 0;
        uint64_t sum = 0;
        while (j < r->n_cells && pos[j].panel == pos[i].panel) {
            if (pos[j].row + 1 > rows) rows = pos[j].row + 1;
            if (pos[j].col + 1 > cols) cols = pos[j].col + 1;
            sum += r->cells[j].incidents;
            j++;
        }
        uint64_t district = r->cells[i].cell / GS_REPORT_DISTRICT_DIV;
        int w = label_w + (int)cols * cw, h = (int)rows * ch;
        fprintf(out,
                "<figure class=\"heat\" data-district=\"%llu\"><figcaption>District %llu: "
                "%llu incidents in %zu cells</figcaption>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" role=\"img\"><title>Incidents per grid cell, district "
                "%llu</title>\n",
                (unsigned long long)district, (unsigned long long)district, (unsigned long long)sum,
                j - i, w, h, w, h, (unsigned long long)district);
        for (size_t c = i; c < j; c++) {
            uint64_t cell = r->cells[c].cell, n = r->cells[c].incidents;
            int x = label_w + (int)pos[c].col * cw, y = (int)pos[c].row * ch;
            bool first_of_row = c == i || pos[c].row != pos[c - 1].row;
            bool new_comm = c == i || cell / GS_REPORT_COMMUNITY_DIV !=
                                          r->cells[c - 1].cell / GS_REPORT_COMMUNITY_DIV;
            if (first_of_row && new_comm)
                fprintf(out,
                        "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\" "
                        "fill=\"#555\">%03llu&#183;%03llu</text>\n",
                        label_w - 4, y + 15, (unsigned long long)(cell / 1000000 % 1000),
                        (unsigned long long)(cell / 1000 % 1000));
            int k = gs_report_heat_bin(n, min, max, GS_REPORT_HEAT_BINS);
            fprintf(out,
                    "<g class=\"cell\" data-cell=\"%llu\" data-incidents=\"%llu\"><title>cell "
                    "%llu: %llu incidents</title><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                    "height=\"%d\" fill=\"%s\" stroke=\"#fff\"/><text x=\"%d\" y=\"%d\" "
                    "font-size=\"10\" text-anchor=\"middle\" fill=\"%s\">%llu</text></g>\n",
                    (unsigned long long)cell, (unsigned long long)n, (unsigned long long)cell,
                    (unsigned long long)n, x, y, cw - 1, ch - 1, report_heat_color(k), x + cw / 2,
                    y + 15, k >= 4 ? "#fff" : "#222", (unsigned long long)n);
        }
        fputs("</svg></figure>\n", out);
        i = j;
    }
    fputs("</div>\n", out);
    free(pos);
}

static void report_html(const gs_report_t *r, const gs_params_t *p, FILE *out)
{
    const Gridstream__V1__Scorecard *sc = r->sc;
    char b1[64], b2[64], b3[64], b4[64], b5[64];
    unsigned grades[5], fails, acc;
    report_summary_counts(r, grades, &fails, &acc);
    fprintf(out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>Scorecard %s, city %llu</title>\n<style>\n%s</style>\n</head>\n<body>\n",
            sc->month, (unsigned long long)sc->city, report_css);
    fprintf(out,
            "<h1>Monthly scorecard %s &#8212; city %llu</h1>\n<p class=\"meta\">Evaluated at "
            "%s. %zu districts: grade A %u, B %u, C %u, D %u, E %u; <b>%u failing</b>; <b>%u "
            "under accountability</b>.</p>\n",
            sc->month, (unsigned long long)sc->city,
            report_local_time(b1, sizeof(b1), sc->evaluated_at_ms, r->tz_offset_minutes),
            sc->n_districts, grades[0], grades[1], grades[2], grades[3], grades[4], fails, acc);
    for (size_t i = 0; i < r->n_warnings; i++) {
        fputs("<p class=\"warn\"><b>Warning:</b> ", out);
        html_text(out, r->warnings[i]);
        fputs("</p>\n", out);
    }

    fputs("<h2>District ranking</h2>\n<div class=\"wide\"><table id=\"districts\">\n<thead><tr><th "
          "rowspan=\"2\" "
          "class=\"n\">Rank</th><th rowspan=\"2\">District</th><th rowspan=\"2\" "
          "class=\"n\">Score</th><th rowspan=\"2\">Grade</th><th rowspan=\"2\" "
          "class=\"n\">Deduction</th><th colspan=\"5\">Deductions by indicator (points; the "
          "indicator below)</th><th rowspan=\"2\" class=\"n\">Incidents</th><th rowspan=\"2\" "
          "class=\"n\">Reward / penalty (CNY)</th><th rowspan=\"2\">Flags</th></tr>\n"
          "<tr><th class=\"n\">Timely</th><th class=\"n\">Capture</th><th "
          "class=\"n\">Filing</th><th class=\"n\">Rework</th><th "
          "class=\"n\">Overdue</th></tr></thead>\n<tbody>\n",
          out);
    for (size_t i = 0; i < sc->n_districts; i++) {
        const Gridstream__V1__DistrictScore *d = sc->districts[i];
        const double *t = r->terms[i];
        fprintf(out,
                "<tr class=\"district%s\" data-district=\"%llu\" data-rank=\"%u\" "
                "data-score=\"%.2f\" data-grade=\"%s\"><td class=\"n rank\">%u</td><td "
                "class=\"code\">%llu</td><td class=\"n score\">%.2f</td><td class=\"grade\"><span "
                "class=\"g\" style=\"background:%s\">%s</span></td><td "
                "class=\"n deduction\">%.2f</td>",
                d->fail ? " fail" : "", (unsigned long long)d->district, d->rank, d->score,
                d->grade, d->rank, (unsigned long long)d->district, d->score,
                gs_report_grade_color(d->grade), d->grade, d->deduction);
        fprintf(out,
                "<td class=\"n\">%.2f<small>%s</small></td><td class=\"n\">%.2f<small>%s</small>"
                "</td><td class=\"n\">%.2f<small>%s</small></td><td class=\"n\">%.2f<small>%s"
                "</small></td><td class=\"n\">%.2f<small>%llu open</small></td>",
                t[0], report_pct(b1, sizeof(b1), d->timely_rate), t[1],
                report_pct(b2, sizeof(b2), d->capture_rate), t[2],
                report_pct(b3, sizeof(b3), d->filing_rate), t[3],
                report_pct(b4, sizeof(b4), d->rework_rate), t[4],
                (unsigned long long)d->overdue_open);
        fprintf(out,
                "<td class=\"n\">%llu</td><td class=\"n reward\">%s</td><td class=\"flag\">%s"
                "</td></tr>\n",
                (unsigned long long)d->incidents, report_cny(b1, sizeof(b1), d->reward_cny),
                report_flags(b5, sizeof(b5), d));
    }
    fputs("</tbody>\n</table></div>\n<p class=\"note\">", out);
    report_formula(out, p);
    fputs("</p>\n", out);

    fputs("<h2>District scores</h2>\n<p class=\"legend\">", out);
    static const char *const gl[] = {"A", "B", "C", "D", "E"};
    const double gb[] = {p->grade_a, p->grade_b, p->grade_c, p->grade_d};
    for (int g = 0; g < 5; g++) {
        fprintf(out, "<span><i class=\"sw\" style=\"background:%s\"></i>%s ",
                gs_report_grade_color(gl[g]), gl[g]);
        if (g < 4)
            fprintf(out, "&#8805; %g</span>", gb[g]);
        else
            fprintf(out, "&lt; %g</span>", gb[3]);
    }
    fprintf(out, "<span style=\"color:#b00020\">- - - fail below %g</span></p>\n", p->fail_below);
    report_html_bars(r, p, out);

    fputs("<h2>Indicators</h2>\n<div class=\"wide\"><table "
          "id=\"indicators\">\n<thead><tr><th>District</th><th "
          "class=\"n\">Incidents</th><th class=\"n\">Captured</th><th class=\"n\">Filed</th><th "
          "class=\"n\">Due</th><th class=\"n\">Rectified</th><th class=\"n\">On time</th><th "
          "class=\"n\">Reworked</th><th class=\"n\">Overdue open</th><th class=\"n\">Capture</th>"
          "<th class=\"n\">Filing</th><th class=\"n\">Rectification</th><th "
          "class=\"n\">Timely</th><th class=\"n\">Rework</th></tr></thead>\n<tbody>\n",
          out);
    for (size_t i = 0; i < sc->n_districts; i++) {
        const Gridstream__V1__DistrictScore *d = sc->districts[i];
        fprintf(out,
                "<tr><td>%llu</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td><td "
                "class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td><td "
                "class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>",
                (unsigned long long)d->district, (unsigned long long)d->incidents,
                (unsigned long long)d->captured, (unsigned long long)d->filed,
                (unsigned long long)d->due, (unsigned long long)d->rectified,
                (unsigned long long)d->rectified_on_time, (unsigned long long)d->reworked,
                (unsigned long long)d->overdue_open);
        fprintf(
            out,
            "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td "
            "class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
            report_pct(b1, sizeof(b1), d->capture_rate), report_pct(b2, sizeof(b2), d->filing_rate),
            report_pct(b3, sizeof(b3), d->rectification_rate),
            report_pct(b4, sizeof(b4), d->timely_rate), report_pct(b5, sizeof(b5), d->rework_rate));
    }
    fputs("</tbody>\n</table></div>\n", out);

    fputs("<h2>Department league</h2>\n", out);
    if (sc->n_departments == 0)
        fputs("<p>No incident was dispatched to a department.</p>\n", out);
    else
        fputs("<table id=\"departments\">\n<thead><tr><th class=\"n\">Rank</th><th>Department"
              "</th><th class=\"n\">Assigned</th><th class=\"n\">Rectified on time</th><th "
              "class=\"n\">Timely rate</th></tr></thead>\n<tbody>\n",
              out);
    for (size_t i = 0; i < sc->n_departments; i++) {
        const Gridstream__V1__DepartmentScore *e = sc->departments[i];
        fprintf(out, "<tr class=\"department\"><td class=\"n\">%u</td><td>", e->rank);
        html_text(out, e->department);
        fprintf(out,
                "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td><td "
                "class=\"n\">%s</td></tr>\n",
                (unsigned long long)e->assigned, (unsigned long long)e->rectified_on_time,
                report_pct(b1, sizeof(b1), e->timely_rate));
    }
    if (sc->n_departments) fputs("</tbody>\n</table>\n", out);

    fputs("<h2>Incidents per grid cell</h2>\n", out);
    if (r->n_cells == 0)
        fputs("<p>No cell-level KPI records for this city.</p>\n", out);
    else
        report_html_heat(r, out);
    fputs("</body>\n</html>\n", out);
}

bool gs_report_write(const gs_report_t *r, const gs_params_t *p, gs_report_format_t fmt, FILE *out)
{
    switch (fmt) {
    case GS_REPORT_MD:
        report_md(r, p, out);
        break;
    case GS_REPORT_HTML:
        report_html(r, p, out);
        break;
    case GS_REPORT_JSON:
        report_json(r, out);
        break;
    }
    return fflush(out) == 0 && !ferror(out);
}

/* ---- command line ----------------------------------------------------------------------------
 */

typedef struct report_opts {
    const char *month, *input, *bootstrap, *output;
    uint64_t city;
    gs_report_format_t fmt;
    double timeout_s;
} report_opts_t;

static void report_usage(FILE *f)
{
    fprintf(
        f, "usage: gridstream scorecard --month YYYY-MM [--city CODE] [--format md|html|json]\n"
           "                            (--input DIR | --bootstrap HOST:PORT) [--output FILE]\n"
           "                            [--config FILE] [--set key=value]... [--timeout S]\n"
           "  renders one city's monthly scorecard: the ranked districts with the deductions\n"
           "  by indicator, reward/penalty and accountability flags, the department league and\n"
           "  the incidents per grid cell (a heat map in html, a self-contained page).\n"
           "  --input DIR       a `gridstream replay` output directory\n"
           "                    (DIR/gridstream.scorecards.rec and DIR/gridstream.kpi.rec)\n"
           "  --bootstrap       read gridstream.scorecards and gridstream.kpi from Kafka to their\n"
           "                    end, as tables (default source when bootstrap.servers is set)\n"
           "  --city CODE       the 4-digit city code; needed when several cities have the month\n"
           "  --format          md (default), html or json\n"
           "  --output FILE     write FILE (default: standard output)\n"
           "  --timeout S       Kafka: give up after S seconds without a record (default 30)\n"
           "  deductions are recomputed with the scorecard.* configuration; a difference from\n"
           "  the recorded deduction is reported as a warning.\n"
           "  exit: 0 ok, 1 no such month or a runtime failure (the months there are are listed),\n"
           "  2 usage or configuration error\n");
}

static int report_bad(const char *what)
{
    fprintf(stderr, "gridstream scorecard: %s (see gridstream scorecard --help)\n", what);
    return GS_REPORT_EXIT_USAGE;
}

/* Parses argv into o; returns 0, an exit code, or -1 after --help. */
static int report_parse(int argc, char **argv, report_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_s = GS_REPORT_DEFAULT_TIMEOUT_S;
    char msg[300];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            report_usage(stdout);
            return -1;
        }
        static const char *const valued[] = {"--month",   "--city",   "--format", "--input",
                                             "--output",  "--config", "--set",    "--bootstrap",
                                             "--timeout", NULL};
        bool known = false;
        for (const char *const *v = valued; *v; v++)
            known = known || strcmp(a, *v) == 0;
        if (!known) {
            snprintf(msg, sizeof(msg), "unexpected argument '%.80s'", a);
            return report_bad(msg);
        }
        if (i + 1 >= argc) {
            snprintf(msg, sizeof(msg), "%s needs a value", a);
            return report_bad(msg);
        }
        const char *v = argv[++i];
        char *end;
        if (strcmp(a, "--month") == 0) {
            int32_t m;
            if (!gs_report_parse_month(v, &m)) {
                snprintf(msg, sizeof(msg), "bad value '%.40s' for --month: want YYYY-MM", v);
                return report_bad(msg);
            }
            o->month = v;
        } else if (strcmp(a, "--city") == 0) {
            errno = 0;
            unsigned long long c = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-' || c < 1000 || c > 9999) {
                snprintf(msg, sizeof(msg), "bad value '%.40s' for --city: want a 4-digit code", v);
                return report_bad(msg);
            }
            o->city = c;
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "md") == 0 || strcmp(v, "markdown") == 0)
                o->fmt = GS_REPORT_MD;
            else if (strcmp(v, "html") == 0)
                o->fmt = GS_REPORT_HTML;
            else if (strcmp(v, "json") == 0)
                o->fmt = GS_REPORT_JSON;
            else {
                snprintf(msg, sizeof(msg), "bad value '%.40s' for --format: md, html or json", v);
                return report_bad(msg);
            }
        } else if (strcmp(a, "--input") == 0) {
            o->input = v;
        } else if (strcmp(a, "--output") == 0) {
            o->output = v;
        } else if (strcmp(a, "--bootstrap") == 0) {
            if (!*v) return report_bad("--bootstrap needs HOST:PORT");
            o->bootstrap = v;
        } else if (strcmp(a, "--timeout") == 0) {
            errno = 0;
            o->timeout_s = strtod(v, &end);
            if (errno || end == v || *end || !isfinite(o->timeout_s) || o->timeout_s <= 0) {
                snprintf(msg, sizeof(msg), "bad value '%.40s' for --timeout: want seconds > 0", v);
                return report_bad(msg);
            }
        } /* --config and --set: gs_config_from_cli */
    }
    if (!o->month) return report_bad("--month YYYY-MM is required");
    if (o->input && o->bootstrap) return report_bad("--input and --bootstrap exclude each other");
    return 0;
}

/* Collection context: which topic the records are for, and how many values did not decode. */
typedef struct report_collect {
    gs_report_src_t *src;
    gs_output_t topic;
    uint64_t bad;
    bool nomem;
} report_collect_t;

static int report_take(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    report_collect_t *c = ctx;
    gs_err_t e = c->topic == GS_OUT_SCORECARDS
                     ? gs_report_src_add_scorecard(c->src, key, klen, val, vlen)
                     : gs_report_src_add_kpi(c->src, key, klen, val, vlen);
    if (e == GS_ERR_DECODE) c->bad++;
    if (e == GS_ERR_NOMEM) c->nomem = true;
    return c->nomem;
}

/* Reads DIR/<topic>.rec into c. Returns 0 or 1 (error printed). */
static int report_read_file(const char *dir, report_collect_t *c)
{
    char path[4096], err[1024];
    snprintf(path, sizeof(path), "%s/%s.rec", dir, gs_output_topic[c->topic]);
    gs_recreader_t rd;
    gs_err_t e = gs_recreader_open(&rd, path, c->topic == GS_OUT_KPI, err, sizeof(err));
    if (e != GS_OK) {
        fprintf(stderr, "gridstream scorecard: %s\n", err);
        gs_recreader_close(&rd);
        return GS_REPORT_EXIT_RUNTIME;
    }
    gs_rec_t rec;
    while ((e = gs_recreader_next(&rd, &rec, err, sizeof(err))) == GS_OK)
        if (report_take(c, rec.key, rec.klen, rec.val, rec.vlen)) break;
    gs_recreader_close(&rd);
    if (e != GS_ERR_NOENT && e != GS_OK) {
        fprintf(stderr, "gridstream scorecard: %s\n", err);
        return GS_REPORT_EXIT_RUNTIME;
    }
    return 0;
}

int gs_scorecard_main(int argc, char **argv)
{
    report_opts_t o;
    int rc = report_parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    gs_config_t cfg;
    if (gs_config_from_cli(&cfg, NULL, argc, argv, environ) != GS_OK) return GS_REPORT_EXIT_USAGE;
    if (!o.input && !o.bootstrap && !cfg.bootstrap_servers[0])
        return report_bad("no source: pass --input DIR (a replay output) or --bootstrap "
                          "HOST:PORT (or set bootstrap.servers)");

    rc = GS_REPORT_EXIT_RUNTIME;
    gs_report_t rep = {0};
    FILE *out = NULL;
    char tmp[4096] = "", err[2048];
    gs_report_src_t *src = gs_report_src_new(cfg.params.tz_offset_minutes);
    if (!src) goto nomem;
    report_collect_t col[2] = {{src, GS_OUT_SCORECARDS, 0, false}, {src, GS_OUT_KPI, 0, false}};
    for (int i = 0; i < 2; i++) {
        int r = o.input ? report_read_file(o.input, &col[i])
                        : gs_tail_read_to_end(&cfg, o.bootstrap, gs_output_topic[col[i].topic],
                                              o.timeout_s, report_take, &col[i]);
        if (col[i].nomem) goto nomem;
        if (r) goto out;
        if (col[i].bad)
            fprintf(stderr, "gridstream scorecard: warning: %llu records of %s did not decode\n",
                    (unsigned long long)col[i].bad, gs_output_topic[col[i].topic]);
    }
    gs_err_t e = gs_report_build(src, &cfg.params, o.month, o.city, &rep, err, sizeof(err));
    if (e != GS_OK) {
        fprintf(stderr, "gridstream scorecard: %s\n", err);
        rc = e == GS_ERR_INVAL ? GS_REPORT_EXIT_USAGE : GS_REPORT_EXIT_RUNTIME;
        goto out;
    }
    for (size_t i = 0; i < rep.n_warnings; i++)
        fprintf(stderr, "gridstream scorecard: warning: %s\n", rep.warnings[i]);
    if (o.output) {
        /* written beside, then renamed: a reader never finds half a report */
        snprintf(tmp, sizeof(tmp), "%s.tmp", o.output);
        if (!(out = fopen(tmp, "w"))) {
            fprintf(stderr, "gridstream scorecard: %s: %s\n", tmp, strerror(errno));
            tmp[0] = '\0';
            goto out;
        }
    }
    bool ok = gs_report_write(&rep, &cfg.params, o.fmt, out ? out : stdout);
    if (out) {
        ok = fclose(out) == 0 && ok;
        out = NULL;
        if (ok && rename(tmp, o.output) != 0) ok = false;
    }
    if (!ok) {
        fprintf(stderr, "gridstream scorecard: writing %s: %s\n", o.output ? o.output : "stdout",
                strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    rc = 0;
    goto out;
nomem:
    fprintf(stderr, "gridstream scorecard: out of memory\n");
out:
    if (out) fclose(out);
    if (tmp[0]) remove(tmp);
    gs_report_fini(&rep);
    gs_report_src_destroy(src);
    return rc;
}
