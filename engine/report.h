/*
 * report.h - `gridstream scorecard --month YYYY-MM`: one city's monthly scorecard (SPEC §9) as a
 * document for the officials who act on it: Markdown, JSON, or a single self-contained HTML page
 * (inline CSS and SVG, nothing fetched) that opens in any browser and prints on paper.
 *
 * The content comes from two output topics read as tables (latest value per key):
 * gridstream.scorecards for the ranked districts and departments, and gridstream.kpi for the
 * incidents per grid cell of the month (CELL-level MONTH windows), shown as a heat map. The per-
 * indicator deductions are recomputed from each district's rates with the configured scorecard
 * parameters (gs_score_deduction); when they do not add up to the record's deduction the report
 * says so. Sources: a Kafka cluster, or a `gridstream replay` output directory.
 *
 * Rendering is deterministic: the same records and options give the same bytes.
 */
#ifndef GS_REPORT_H
#define GS_REPORT_H

#include <stdio.h>

#include "gs.h"
#include "params.h"
#include "scorecard.h"

#define GS_REPORT_HEAT_BINS 6  /* colour classes of the heat map, plus one for 0 */
#define GS_REPORT_HEAT_COLS 12 /* cells per heat-map row before a community wraps */

typedef enum gs_report_format {
    GS_REPORT_MD = 0,
    GS_REPORT_HTML = 1,
    GS_REPORT_JSON = 2
} gs_report_format_t;

/* One grid cell of the city and its incidents opened in the month (0: none that month). */
typedef struct gs_report_cell {
    uint64_t cell;
    uint64_t incidents;
} gs_report_cell_t;

/* Where a cell sits in the heat map: panel (its district), row and column inside the panel. */
typedef struct gs_report_pos {
    uint32_t panel, row, col;
} gs_report_pos_t;

/* Records of the two topics, collected from any source (opaque; see gs_report_src_add_*). */
typedef struct gs_report_src gs_report_src_t;

gs_report_src_t *gs_report_src_new(int tz_offset_minutes);
void gs_report_src_destroy(gs_report_src_t *s); /* NULL is a no-op */

/*
 * Takes one record of gridstream.scorecards / gridstream.kpi (borrowed; copied as needed). Records
 * must come in topic order per key: a later record of a key replaces the earlier one, a null
 * value (val NULL) deletes it. KPI records other than CELL-level MONTH windows are skipped
 * without decoding the value. Returns GS_OK, GS_ERR_NOMEM, or GS_ERR_DECODE for a value that is
 * not a message of the topic's type (which is skipped; the caller may warn).
 */
gs_err_t gs_report_src_add_scorecard(gs_report_src_t *s, const void *key, size_t klen,
                                     const void *val, size_t vlen);
gs_err_t gs_report_src_add_kpi(gs_report_src_t *s, const void *key, size_t klen, const void *val,
                               size_t vlen);

/* One city's month, ready to render. Everything is owned by the report. */
typedef struct gs_report {
    Gridstream__V1__Scorecard *sc;                   /* the latest scorecard record */
    double (*terms)[GS_SCORE_TERM__COUNT];           /* per district of sc, in rank order */
    gs_report_cell_t *cells;                         /* the city's cells in code order */
    size_t n_cells;                                  /* cells seen in any month's KPI records */
    uint64_t min_cell_incidents, max_cell_incidents; /* heat-map scale: the non-zero range */
    char **warnings;                                 /* inconsistencies found, for the reader */
    size_t n_warnings;
    int tz_offset_minutes;
} gs_report_t;

/*
 * Builds the report of `month` ("YYYY-MM") for `city` (0: the only city with that month).
 * Returns GS_OK; GS_ERR_NOENT when there is no such scorecard (errbuf lists the months and cities
 * there are); GS_ERR_INVAL when city is 0 and several cities have the month (errbuf lists them);
 * GS_ERR_NOMEM. On error `r` holds nothing to free.
 */
gs_err_t gs_report_build(const gs_report_src_t *s, const gs_params_t *p, const char *month,
                         uint64_t city, gs_report_t *r, char *errbuf, size_t errlen);

void gs_report_fini(gs_report_t *r);

/* Writes the report in `fmt`; false if writing failed. `p` gives the bounds shown in the text. */
bool gs_report_write(const gs_report_t *r, const gs_params_t *p, gs_report_format_t fmt, FILE *out);

/* "YYYY-MM" with month 01..12 and year 1970..9999 to year*12 + month-1; false if malformed. */
bool gs_report_parse_month(const char *s, int32_t *month_index);

/*
 * Colour class of v on a linear scale from min to max (the smallest and largest non-zero counts):
 * -1 for 0, else 0..bins-1, class k holding (b + s*k/bins, b + s*(k+1)/bins] with b = min - 1 and
 * s = max - b, so that the month's range uses every colour. gs_report_heat_range gives class k's
 * integer bounds; it returns false for a class no integer falls in (fewer values than classes).
 */
int gs_report_heat_bin(uint64_t v, uint64_t min, uint64_t max, int bins);
bool gs_report_heat_range(int k, uint64_t min, uint64_t max, int bins, uint64_t *lo, uint64_t *hi);

/*
 * Heat-map layout of cells in code order: one panel per district (cell / 10^9), one row per
 * community (cell / 10^3) in code order, its cells in columns 0..cols-1, wrapping onto further
 * rows when a community has more than `cols` cells. pos has n entries. Pure.
 */
void gs_report_heat_layout(const gs_report_cell_t *cells, size_t n, uint32_t cols,
                           gs_report_pos_t *pos);

/* Fill colour (#rrggbb) of a grade "A".."E"; grey for anything else. */
const char *gs_report_grade_color(const char *grade);

/*
 * Entry point of `gridstream scorecard` (argv: the arguments after "scorecard"); returns the exit
 * code: 0 ok, 1 runtime failure or no such month, 2 usage or configuration error.
 */
int gs_scorecard_main(int argc, char **argv);

#endif
