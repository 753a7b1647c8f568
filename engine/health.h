/*
 * health.h - liveness and readiness of the process, as /healthz and /readyz report them (http.h).
 *
 * Liveness: every stream thread calls gs_health_beat() from its loop (once per poll is plenty);
 * the process is live while every running thread has beaten within the stuck threshold. A thread
 * that never beat counts from gs_health_new(); a thread that ended normally calls
 * gs_health_thread_exit() and is no longer checked.
 *
 * Readiness: the engine marks itself ready (gs_health_set_ready) once it runs and has its
 * assignment, and flags each task while it restores (gs_health_task_restoring). The process is
 * ready when it is marked ready, no assigned task is restoring, and it is live.
 *
 * Thread safety: every function may be called from any thread; all state is relaxed atomics (a
 * beat is one store on the thread's own cache line), so a health check never waits on a stream
 * thread. Times are CLOCK_MONOTONIC milliseconds (gs_health_now_ms).
 */
#ifndef GS_HEALTH_H
#define GS_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gs_health gs_health_t;

/* CLOCK_MONOTONIC in milliseconds. */
int64_t gs_health_now_ms(void);

/*
 * Health state for stream threads 0..n_threads-1 and tasks 0..max_tasks-1; a thread is stuck when
 * it has not beaten for more than `stuck_ms` (e.g. 30000). `now_ms` is the start of the threads'
 * grace. Not ready until gs_health_set_ready(h, true, ...). NULL when out of memory.
 */
gs_health_t *gs_health_new(int n_threads, uint32_t max_tasks, int64_t stuck_ms, int64_t now_ms);
void gs_health_destroy(gs_health_t *h); /* NULL is a no-op */

/* Called by stream thread `thread` from its loop. Out-of-range threads are ignored. */
void gs_health_beat(gs_health_t *h, int thread, int64_t now_ms);

/* Stream thread `thread` ended normally: no longer checked (a later beat checks it again). */
void gs_health_thread_exit(gs_health_t *h, int thread);

/*
 * Liveness at `now_ms`. When not live, `why` (may be NULL) receives the stuck threads, e.g.
 * "stream thread 1 has not beaten for 45.2 s (limit 30.0 s)".
 */
bool gs_health_live(const gs_health_t *h, int64_t now_ms, char *why, size_t len);

/*
 * Marks the engine ready or not; `reason` is shown by /readyz while not ready ("starting",
 * "rebalancing", "shutting down") and must be a string with static storage (it is kept, not
 * copied). NULL means "not ready".
 */
void gs_health_set_ready(gs_health_t *h, bool ready, const char *reason);

/* Task `task` starts (true) or ends (false) restoring its state. Out-of-range tasks are ignored. */
void gs_health_task_restoring(gs_health_t *h, uint32_t task, bool restoring);

/* Tasks restoring now. */
uint32_t gs_health_restoring_count(const gs_health_t *h);

/*
 * Readiness at `now_ms` (liveness included). When not ready, `why` (may be NULL) receives the
 * reason, e.g. "starting", "restoring 2 tasks: 0,3" or the liveness reason.
 */
bool gs_health_ready(const gs_health_t *h, int64_t now_ms, char *why, size_t len);

#endif
