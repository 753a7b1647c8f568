/*
 * rollup.h - cross-task aggregation (DESIGN.md "Rollups and scorecards"). Every task publishes
 * cumulative partials: its own counts per KPI window of the COMMUNITY..CITY levels, per
 * (city, month, district) and per (city, month, department) of the scorecard, and its watermark.
 * The rollup keeps the latest partial per (key, source task) and sums them, so a replayed or
 * duplicated partial changes nothing. It emits the aggregated KPI windows (same emission rule as
 * CELL windows, with the watermark = min over source tasks) and each city's monthly scorecard once
 * every source task's watermark has passed the month's evaluation time.
 *
 * Replay calls it in-process; the engine feeds it from the internal partials topic.
 */
#ifndef GS_ROLLUP_H
#define GS_ROLLUP_H

#include "gs.h"
#include "params.h"
#include "store.h"

#define GS_KPI_NCOUNTS                                                                             \
    10                     /* signals incidents merged captured filed rejected rectified           \
                              rectified_on_time closed reworked (KpiRecord fields 6..15) */
#define GS_SCORE_NCOUNTS 7 /* incidents captured filed due rectified rectified_on_time reworked */
#define GS_DEPT_NCOUNTS 2  /* assigned rectified_on_time */
#define GS_DEPT_MAX 1024   /* longest department name kept, in bytes (cut on a UTF-8 boundary) */

typedef enum gs_partial_kind {
    GS_PART_KPI = 1,        /* key: gs_kpi_wkey_t */
    GS_PART_DISTRICT = 2,   /* key: city, month, district */
    GS_PART_DEPARTMENT = 3, /* key: city, month, department name */
    GS_PART_WATERMARK = 4,  /* no key; wm */
} gs_partial_kind_t;

/* The identity of a KPI window. Packed into store keys as big-endian bytes. */
typedef struct gs_kpi_wkey {
    uint8_t level, kind;
    uint64_t scope;
    int64_t start;
} gs_kpi_wkey_t;

typedef struct gs_partial {
    gs_partial_kind_t kind;
    uint32_t source;         /* task id */
    gs_kpi_wkey_t w;         /* GS_PART_KPI */
    uint64_t city, district; /* GS_PART_DISTRICT / DEPARTMENT */
    int32_t month;           /* month index */
    const char *dept;        /* GS_PART_DEPARTMENT, borrowed */
    size_t dept_len;
    int64_t wm;                /* GS_PART_WATERMARK */
    int64_t v[GS_KPI_NCOUNTS]; /* cumulative counts */
} gs_partial_t;

typedef struct gs_partial_sink {
    void (*emit)(void *ctx, const gs_partial_t *part);
    void *ctx;
} gs_partial_sink_t;

typedef struct gs_rollup gs_rollup_t;

/* An aggregator over `nsources` tasks (ids 0..nsources-1). Takes ownership of st (NULL = new). */
gs_rollup_t *gs_rollup_new(const gs_params_t *p, uint32_t nsources, gs_store_t *st,
                           const gs_sink_t *sink);
void gs_rollup_destroy(gs_rollup_t *r);

/*
 * Restore: after creating the rollup over a store that already holds every persisted entry
 * (resident, dirty marks cleared), reads back the sources' watermarks and the KPI windows waiting
 * to become due.
 */
gs_err_t gs_rollup_restored(gs_rollup_t *r);

/* The rollup's watermark: the minimum over its sources (GS_TIME_MAX once every source ended). */
int64_t gs_rollup_watermark(const gs_rollup_t *r);

/* Takes one partial (borrowed). */
void gs_rollup_add(gs_rollup_t *r, const gs_partial_t *part);

/* Emits aggregated KPI windows that are due and changed, and scorecards that are due. */
gs_err_t gs_rollup_flush(gs_rollup_t *r);

/* The rollup's store (the engine persists it). */
gs_store_t *gs_rollup_store(gs_rollup_t *r);

/* Scorecards emitted so far. */
uint64_t gs_rollup_scorecards(const gs_rollup_t *r);

#endif
