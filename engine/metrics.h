/*
 * metrics.h - the metrics registry, exposed in the Prometheus text format (version 0.0.4) at
 * /metrics by http.c.
 *
 * Everything is registered up front: families (counter, gauge, histogram with fixed buckets) and
 * their series (one label value tuple each), so that the update path neither allocates nor locks:
 * an update is one relaxed atomic add or store on a preallocated cell of its own cache line. Stream
 * threads update; the HTTP thread reads (gs_metrics_render). A scrape therefore never waits on a
 * stream thread, and a reading is not a snapshot across cells (Prometheus does not need one).
 *
 * Values are integers in a base unit with a decimal exponent per family: a histogram of durations
 * observes nanoseconds with exponent -9 and is exposed in seconds; the watermark gauge holds
 * milliseconds with exponent -3. Exposed values are exact decimals.
 *
 * Tasks come and go with rebalances. A registry has a fixed number of task slots (0..max_tasks-1,
 * the input partition numbers); a series may belong to a task, and is exposed only while that task
 * is assigned to this process (gs_metrics_task_assign). Its value is kept while unassigned, so a
 * counter never goes backwards.
 *
 * gs_metrics_new_engine() registers gridstream's own families (listed in README.md, "Operations:
 * metrics, health, logs"); the accessors below return their cells, which a stream thread looks up
 * once (at assignment) and keeps.
 */
#ifndef GS_METRICS_H
#define GS_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gs.h"

typedef struct gs_metrics gs_metrics_t;
typedef struct gs_metric_family gs_metric_family_t;

typedef enum gs_metric_type {
    GS_METRIC_COUNTER = 0,
    GS_METRIC_GAUGE = 1,
    GS_METRIC_HISTOGRAM = 2,
} gs_metric_type_t;

/* A counter: only goes up. One cache line. */
typedef struct gs_counter {
    _Alignas(64) _Atomic uint64_t v;
} gs_counter_t;

/* A gauge: set (or moved) to any value. One cache line. */
typedef struct gs_gauge {
    _Alignas(64) _Atomic int64_t v;
} gs_gauge_t;

typedef struct gs_histogram gs_histogram_t;

#define GS_METRICS_MAX_LABELS 4
#define GS_METRICS_MAX_BUCKETS 24

/* ---- update path: any thread, lock-free, no allocation --------------------------------------- */

static inline void gs_counter_add(gs_counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

static inline void gs_counter_inc(gs_counter_t *c)
{
    atomic_fetch_add_explicit(&c->v, 1, memory_order_relaxed);
}

static inline uint64_t gs_counter_get(const gs_counter_t *c)
{
    return atomic_load_explicit(&c->v, memory_order_relaxed);
}

static inline void gs_gauge_set(gs_gauge_t *g, int64_t v)
{
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

static inline void gs_gauge_add(gs_gauge_t *g, int64_t d)
{
    atomic_fetch_add_explicit(&g->v, d, memory_order_relaxed);
}

static inline int64_t gs_gauge_get(const gs_gauge_t *g)
{
    return atomic_load_explicit(&g->v, memory_order_relaxed);
}

/* Counts one observation of `v` (in the family's base unit: ns for the _seconds histograms). */
void gs_histogram_observe(gs_histogram_t *h, uint64_t v);

/* Observations so far, and their sum in the base unit (for tests). */
uint64_t gs_histogram_count(const gs_histogram_t *h);
uint64_t gs_histogram_sum(const gs_histogram_t *h);

/* ---- the generic registry: set up at start, before stream threads run ------------------------ */

/*
 * An empty registry with `max_tasks` task slots (0 is allowed: no task series). NULL when out of
 * memory.
 */
gs_metrics_t *gs_metrics_new(uint32_t max_tasks);

/* Frees the registry and every cell; no thread may use it any more. NULL is a no-op. */
void gs_metrics_destroy(gs_metrics_t *m);

/*
 * Registers a family. `name` must follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*; counters end
 * in _total), `labels` is NULL-terminated (NULL or {NULL} for none, at most GS_METRICS_MAX_LABELS).
 * `exp10` is the decimal exponent from the base unit of updates to the exposed unit (-9 for ns
 * exposed as seconds, 0 for plain numbers). Histograms take `nbuckets` increasing upper bounds in
 * the exposed unit (+Inf is implicit); others pass NULL, 0. NULL on a bad argument or out of
 * memory. Strings are copied.
 */
gs_metric_family_t *gs_metrics_family(gs_metrics_t *m, gs_metric_type_t type, const char *name,
                                      const char *help, const char *const *labels, int exp10,
                                      const double *buckets, int nbuckets);

/*
 * Registers one series of a family: `values` holds one label value per label of the family (any
 * UTF-8; escaped at exposition). `task` is the task slot the series belongs to, or -1 for a series
 * always exposed. Returns the series' cell (of the family's type), or NULL on a bad argument or out
 * of memory. The cell lives as long as the registry.
 */
gs_counter_t *gs_metrics_counter(gs_metric_family_t *f, const char *const *values, int task);
gs_gauge_t *gs_metrics_gauge(gs_metric_family_t *f, const char *const *values, int task);
gs_histogram_t *gs_metrics_histogram(gs_metric_family_t *f, const char *const *values, int task);

/*
 * Marks task slot `task` assigned to this process (its series are exposed) or not. Any thread;
 * out-of-range slots are ignored.
 */
void gs_metrics_task_assign(gs_metrics_t *m, uint32_t task, bool assigned);
bool gs_metrics_task_assigned(const gs_metrics_t *m, uint32_t task);
uint32_t gs_metrics_max_tasks(const gs_metrics_t *m);

/*
 * A collector runs at every scrape, in the HTTP thread, before the text is written: it sets
 * gauges whose values live elsewhere (RocksDB, the allocator). It must be quick and must not wait
 * on stream threads. At most 8 collectors; registered before the HTTP server starts.
 */
typedef void (*gs_metrics_collect_fn)(void *ctx, gs_metrics_t *m);
gs_err_t gs_metrics_add_collector(gs_metrics_t *m, gs_metrics_collect_fn fn, void *ctx);

/*
 * Runs the collectors and returns the exposition text (malloc-ed, NUL-terminated; the caller
 * frees it) with its length in *len (may be NULL). Families in registration order, each with its
 * # HELP and # TYPE lines, then its exposed series in registration order; histograms as cumulative
 * _bucket{le=...} lines ending with le="+Inf", then _sum and _count. NULL when out of memory.
 * Scrapes are serialised among themselves, never with updates.
 */
char *gs_metrics_render(gs_metrics_t *m, size_t *len);

/* ---- gridstream's families ------------------------------------------------------------------- */

/*
 * A registry with every gridstream family registered, for input partitions 0..max_tasks-1 (one
 * task each). The jemalloc gauges exist only when the process runs on jemalloc (mallctl is found
 * with dlsym); the RocksDB gauges stay 0 until gs_metrics_watch_memory(). NULL when out of memory.
 */
gs_metrics_t *gs_metrics_new_engine(uint32_t max_tasks);

/* Input records read, per input topic and partition (task series). */
gs_counter_t *gs_metrics_records_in(gs_metrics_t *m, gs_source_t src, uint32_t partition);
/* Records produced, per output topic (GS_OUT_DLQ included). */
gs_counter_t *gs_metrics_records_out(gs_metrics_t *m, gs_output_t out);
/* Records sent to the DLQ, per rejection reason (gs_err_is_reason(reason) must hold). */
gs_counter_t *gs_metrics_dlq(gs_metrics_t *m, gs_err_t reason);
/* Records that came after retention (sent to gridstream.late). */
gs_counter_t *gs_metrics_late(gs_metrics_t *m);
/* Consumer lag in records (high watermark - position), per task and input topic. */
gs_gauge_t *gs_metrics_consumer_lag(gs_metrics_t *m, uint32_t task, gs_source_t src);
/* The task's event-time watermark: set in milliseconds since the epoch, exposed in seconds. */
gs_gauge_t *gs_metrics_watermark(gs_metrics_t *m, uint32_t task);
/* Commit (whole protocol) and transaction (commit_transaction) durations: observe nanoseconds. */
gs_histogram_t *gs_metrics_commit_duration(gs_metrics_t *m);
gs_histogram_t *gs_metrics_transaction_duration(gs_metrics_t *m);
/* Commits that failed (the transaction aborted or the state write failed). */
gs_counter_t *gs_metrics_commit_failures(gs_metrics_t *m);
/*
 * Restore progress of a task: records restored from its changelog (counter) and records to
 * restore (gauge), both summed over every restore of the task in this process, so that
 * restored / target is 1 when the task is restored. gs_metrics_restore_begin() adds a restore's
 * record count to the target.
 */
gs_counter_t *gs_metrics_restore_records(gs_metrics_t *m, uint32_t task);
gs_gauge_t *gs_metrics_restore_target(gs_metrics_t *m, uint32_t task);
void gs_metrics_restore_begin(gs_metrics_t *m, uint32_t task, uint64_t records);
/* State entries and their bytes (keys + values) held by a task. */
gs_gauge_t *gs_metrics_state_entries(gs_metrics_t *m, uint32_t task);
gs_gauge_t *gs_metrics_state_bytes(gs_metrics_t *m, uint32_t task);
/* Rebalances (assignment changes) seen by this process. */
gs_counter_t *gs_metrics_rebalances(gs_metrics_t *m);
/* Stream threads running (gridstream_assigned_tasks follows gs_metrics_task_assign by itself). */
gs_gauge_t *gs_metrics_stream_threads(gs_metrics_t *m);

/*
 * The RocksDB memory source, read at every scrape: `fn` fills the block cache and memtable bytes
 * (e.g. a wrapper of gs_statedb_memory()). Set before the HTTP server starts; the source must
 * outlive the server. A failing call leaves the gauges as they were.
 */
typedef gs_err_t (*gs_metrics_memory_fn)(void *ctx, size_t *block_cache, size_t *memtables);
void gs_metrics_watch_memory(gs_metrics_t *m, gs_metrics_memory_fn fn, void *ctx);

#endif
