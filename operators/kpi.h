/*
 * kpi.h - KPI windows (SPEC §7): which windows contain an instant, the cohort counts of one
 * incident, and a table of window accumulators with the emission rule (first emitted once the
 * watermark passes end + grace, then re-emitted when the counts change). Used by the task for its
 * own windows and by the rollup for the summed ones.
 */
#ifndef GS_KPI_H
#define GS_KPI_H

#include "gs.h"
#include "params.h"
#include "rollup.h"
#include "store.h"

#define GS_KPI_WKEY_LEN 18
#define GS_KPI_MAX_WINDOWS 63 /* 5 levels x (HOUR, DAY, MONTH) + 2 levels x 24 ROLLING_24H */

enum {
    GS_C_SIGNALS,
    GS_C_INCIDENTS,
    GS_C_MERGED,
    GS_C_CAPTURED,
    GS_C_FILED,
    GS_C_REJECTED,
    GS_C_RECTIFIED,
    GS_C_ON_TIME,
    GS_C_CLOSED,
    GS_C_REWORKED
};

typedef struct gs_kpi_win {
    int64_t v[GS_KPI_NCOUNTS];
    uint64_t version; /* emissions so far */
    uint8_t changed;  /* on the changed list */
    uint8_t pending;  /* on the pending list: changed, not yet due */
    uint8_t pad[6];
} gs_kpi_win_t;

void gs_kpi_wkey_pack(const gs_kpi_wkey_t *w, uint8_t out[GS_KPI_WKEY_LEN]);
void gs_kpi_wkey_unpack(const uint8_t in[GS_KPI_WKEY_LEN], gs_kpi_wkey_t *w);

/* End (exclusive, UTC ms) of a window. */
int64_t gs_kpi_window_end(const gs_kpi_wkey_t *w, int tz_min);

/* Retention of a window kind: how long after its end changes are still taken. */
int64_t gs_kpi_retention(const gs_params_t *p, int kind);

/*
 * Every window of levels lo..hi containing instant t for `cell`, in a fixed order (level, then
 * HOUR, DAY, MONTH, then ROLLING_24H starts ascending). Returns the count (<= GS_KPI_MAX_WINDOWS).
 */
int gs_kpi_windows_for(uint64_t cell, int64_t t, int tz_min, int lo, int hi,
                       gs_kpi_wkey_t out[GS_KPI_MAX_WINDOWS]);

/* The windows of one level and scope containing instant t, in the order of gs_kpi_windows_for. */
int gs_kpi_scope_windows(int level, uint64_t scope, int64_t t, int tz_min,
                         gs_kpi_wkey_t out[GS_KPI_MAX_WINDOWS]);

/* A staged key (a window, or the hour of a scope): the sum of the deltas staged for it. */
typedef struct gs_kpi_staged {
    gs_kpi_wkey_t w;
    int64_t v[GS_KPI_NCOUNTS];
    size_t slot; /* its slot, cleared after the apply */
} gs_kpi_staged_t;

/* Deltas summed per key in a small table of integer keys, in the order keys were first staged;
   reused from flush to flush, so that it stops allocating once it has grown. */
typedef struct gs_kpi_stage {
    gs_kpi_staged_t *e; /* first-staged order */
    size_t n, cap;
    uint32_t *slots; /* index + 1 into e, 0 = free; a power of two */
    size_t nslots;
} gs_kpi_stage_t;

/*
 * A table of window accumulators in one store namespace, with its changed and pending lists, and
 * a staging area for the fan-out of cell-hour buckets: per (level, scope, hour), then per window.
 */
typedef struct gs_kpi_table {
    gs_store_t *st;
    gs_ns_t ns;
    uint8_t (*changed)[GS_KPI_WKEY_LEN];
    size_t nchanged, cchanged;
    uint8_t (*pending)[GS_KPI_WKEY_LEN];
    size_t npending, cpending;
    gs_kpi_stage_t hours; /* (level, scope, hour) of every level, kind 0 */
    gs_kpi_stage_t wins;  /* the windows the staged hours fall in */
} gs_kpi_table_t;

void gs_kpi_table_init(gs_kpi_table_t *tab, gs_store_t *st, gs_ns_t ns);
void gs_kpi_table_fini(gs_kpi_table_t *tab);

/*
 * After a restore (every persisted window put back into the store): rebuilds the changed and
 * pending lists from the windows' flags, so that windows waiting to become due are emitted.
 */
gs_err_t gs_kpi_table_restore(gs_kpi_table_t *tab);

/* Adds delta to window w (created at zero). Returns GS_OK or GS_ERR_NOMEM. */
gs_err_t gs_kpi_table_add(gs_kpi_table_t *tab, const gs_kpi_wkey_t *w,
                          const int64_t delta[GS_KPI_NCOUNTS]);

/*
 * Stages the delta of the cell-hour bucket (cell, hour) (hour: the start of a local hour) for
 * every window of every level that contains it. Staged deltas reach the store at
 * gs_kpi_table_apply_staged(), once per window, in the order the windows were first reached:
 * the same windows, sums and changed-list order as calling gs_kpi_table_add() for each of
 * gs_kpi_windows_for(cell, hour, tz_min, CELL, CITY) of each bucket in staging order. The deltas
 * are summed per (level, scope, hour) first, so that the buckets of one district and hour cost
 * one pass over that district's 27 windows, not one each.
 */
gs_err_t gs_kpi_table_stage_bucket(gs_kpi_table_t *tab, uint64_t cell, int64_t hour,
                                   const int64_t delta[GS_KPI_NCOUNTS]);
gs_err_t gs_kpi_table_apply_staged(gs_kpi_table_t *tab, int tz_min);

typedef void (*gs_kpi_publish_fn)(void *ctx, const gs_kpi_wkey_t *w,
                                  const int64_t v[GS_KPI_NCOUNTS]);

/*
 * Drains the changed list. With `publish` set, windows above CELL level go to publish (the task's
 * partials); every other window follows the emission rule: emitted to `sink` (gridstream.kpi) if
 * the watermark has passed its end + grace and it counts >= 1 incident, else kept pending. Pending
 * windows that have become due are emitted too.
 */
gs_err_t gs_kpi_table_flush(gs_kpi_table_t *tab, int64_t wm, const gs_params_t *p,
                            const gs_sink_t *sink, gs_kpi_publish_fn publish, void *ctx);

/* Fills a KpiRecord (rates NaN where the denominator is 0). */
void gs_kpi_record_fill(Gridstream__V1__KpiRecord *rec, const gs_kpi_wkey_t *w, int tz_min,
                        const int64_t v[GS_KPI_NCOUNTS], uint64_t version);

#define GS_KPI_RECORD_MAX 256 /* 20 fields of at most 2 tag bytes and 10 value bytes */

/*
 * Packs the KpiRecord that gs_kpi_record_fill() describes into out (GS_KPI_RECORD_MAX bytes) and
 * returns its length: the bytes protobuf_c_message_pack() writes for it (fields in number order,
 * proto3 zero values left out, rates as little-endian doubles), without building the message.
 */
size_t gs_kpi_record_pack(const gs_kpi_wkey_t *w, int tz_min, const int64_t v[GS_KPI_NCOUNTS],
                          uint64_t version, uint8_t out[GS_KPI_RECORD_MAX]);

#endif
