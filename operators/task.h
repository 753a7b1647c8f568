/*
 * task.h - one task: partition p of the four co-partitioned input topics (SPEC §4), with all of its
 * operator state. The caller (replay or a stream thread) validates records, merges the task's four
 * partitions in event-time order (gs_merge_pick), and feeds them here one at a time; the task
 * applies dedup, signals, correlation, lifecycle, KPI buckets, alerts and the scorecard view, keeps
 * the watermark and fires its timers. flush() emits changed incidents and CELL-level KPI windows to
 * the sink and hands the task's cumulative partials (higher KPI levels, scorecard counts,
 * watermark) to a partial sink for the rollup.
 *
 * A task is driven by one thread. State lives in the task's gs_store_t.
 */
#ifndef GS_TASK_H
#define GS_TASK_H

#include "gs.h"
#include "params.h"
#include "store.h"
#include "rollup.h"

typedef struct gs_task gs_task_t;

/* Per-task counters; plain integers, read by the owning thread (or copied out at flush). */
typedef struct gs_task_metrics {
    uint64_t records_in[GS_SRC__COUNT];
    uint64_t dlq[GS_REASON_COUNT];
    uint64_t duplicates_exact;
    uint64_t video_ignored;
    uint64_t signals;
    uint64_t incidents_opened;
    uint64_t signals_merged;
    uint64_t case_events;
    uint64_t alerts[5]; /* by AlertKind */
    uint64_t kpi_late_dropped;
    uint64_t dedup_expired;
} gs_task_metrics_t;

/*
 * Creates task `id` over a fresh store (takes ownership of `st`; NULL = new empty store).
 * `p` is borrowed and must outlive the task. `sink` receives incidents, alerts and CELL KPIs;
 * `parts` receives partials for the rollup.
 */
gs_task_t *gs_task_new(uint32_t id, const gs_params_t *p, gs_store_t *st, const gs_sink_t *sink,
                       const gs_partial_sink_t *parts);
void gs_task_destroy(gs_task_t *t); /* NULL is a no-op */

/*
 * Applies one validated record from input `ev->src`. Returns GS_OK when applied or dropped
 * (duplicate, ignored), or GS_ERR_UNKNOWN_REF for a case event whose reference is unknown; the
 * caller sends rejected records to the DLQ. Rejected records must not be passed here.
 */
gs_err_t gs_task_apply(gs_task_t *t, const gs_event_t *ev);

/*
 * Marks input partition `src` idle (left out of the watermark) or active again, and applies the
 * resulting watermark. Replay marks a partition idle when its input is exhausted.
 */
void gs_task_set_idle(gs_task_t *t, gs_source_t src, bool idle);

/* Whether input partition `src` is idle (restored with the task's state after a restart). */
bool gs_task_idle(const gs_task_t *t, gs_source_t src);

/* End of input: the watermark becomes +infinity; every timer fires. */
void gs_task_finish(gs_task_t *t);

/*
 * Restore: the engine passes every persisted incident of the task (GS_NS_INCIDENT values) after
 * creating it over a store with a loader, so that the in-memory deadline index is rebuilt. The
 * watermark, counters and scorecard months come back by themselves from GS_NS_META.
 */
void gs_task_restore_incident(gs_task_t *t, const void *val, size_t vlen);

/*
 * Restore in one call: after creating the task over a store that already holds every persisted
 * entry (resident, dirty marks cleared), rebuilds what lives only in memory: the deadline index
 * (from every incident) and the KPI windows waiting to become due.
 */
gs_err_t gs_task_restored(gs_task_t *t);

/* The task's watermark (GS_TIME_MIN while some active partition has applied nothing). */
int64_t gs_task_watermark(const gs_task_t *t);

/*
 * Emits what changed since the last flush: incidents (latest state), CELL KPI windows that are
 * due, and partials to the rollup. Call at every commit (engine) or once at the end (replay).
 */
gs_err_t gs_task_flush(gs_task_t *t);

const gs_task_metrics_t *gs_task_metrics(const gs_task_t *t);
gs_store_t *gs_task_store(gs_task_t *t);

/*
 * The merge rule of SPEC §4: among the partitions that have a head record (has[i]), the one with
 * the smallest merge time, ties to the lower source index. Returns -1 if none has a head.
 */
int gs_merge_pick(const int64_t head_t[GS_SRC__COUNT], const bool has[GS_SRC__COUNT]);

#endif
