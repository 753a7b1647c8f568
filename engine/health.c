/*
 * health.c - liveness from stream thread heartbeats, readiness from the engine's own flag and its
 * restoring tasks (health.h). Each thread's heartbeat sits on its own cache line: a beat is one
 * relaxed store that no other thread writes.
 */
#include "health.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct beat {
    _Alignas(64) _Atomic int64_t last_ms;
    _Atomic bool running;
} beat_t;

struct gs_health {
    int n_threads;
    uint32_t max_tasks;
    int64_t stuck_ms;
    beat_t *beat;
    _Atomic bool ready;
    _Atomic(const char *) reason;
    _Atomic bool *restoring;
    _Atomic uint32_t n_restoring;
};

int64_t gs_health_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

gs_health_t *gs_health_new(int n_threads, uint32_t max_tasks, int64_t stuck_ms, int64_t now_ms)
{
    if (n_threads < 0) return NULL;
    gs_health_t *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->n_threads = n_threads;
    h->max_tasks = max_tasks;
    h->stuck_ms = stuck_ms;
    size_t size = ((size_t)(n_threads ? n_threads : 1) * sizeof(beat_t) + 63) / 64 * 64;
    h->beat = aligned_alloc(64, size);
    h->restoring = calloc(max_tasks ? max_tasks : 1, sizeof(*h->restoring));
    if (!h->beat || !h->restoring) {
        gs_health_destroy(h);
        return NULL;
    }
    memset(h->beat, 0, size);
    for (int i = 0; i < n_threads; i++) {
        atomic_init(&h->beat[i].last_ms, now_ms);
        atomic_init(&h->beat[i].running, true);
    }
    for (uint32_t t = 0; t < max_tasks; t++)
        atomic_init(&h->restoring[t], false);
    atomic_init(&h->ready, false);
    atomic_init(&h->reason, "starting");
    atomic_init(&h->n_restoring, 0);
    return h;
}

void gs_health_destroy(gs_health_t *h)
{
    if (!h) return;
    free(h->beat);
    free((void *)h->restoring);
    free(h);
}

void gs_health_beat(gs_health_t *h, int thread, int64_t now_ms)
{
    if (thread < 0 || thread >= h->n_threads) return;
    atomic_store_explicit(&h->beat[thread].last_ms, now_ms, memory_order_relaxed);
    if (!atomic_load_explicit(&h->beat[thread].running, memory_order_relaxed))
        atomic_store_explicit(&h->beat[thread].running, true, memory_order_relaxed);
}

void gs_health_thread_exit(gs_health_t *h, int thread)
{
    if (thread < 0 || thread >= h->n_threads) return;
    atomic_store_explicit(&h->beat[thread].running, false, memory_order_relaxed);
}

/* Appends to why[len] (always NUL-terminated). */
static void append(char *why, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *why, size_t len, size_t *at, const char *fmt, ...)
{
    if (!why || *at >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why + *at, len - *at, fmt, ap);
    va_end(ap);
    if (n > 0) *at = *at + (size_t)n < len ? *at + (size_t)n : len;
}

bool gs_health_live(const gs_health_t *h, int64_t now_ms, char *why, size_t len)
{
    size_t at = 0;
    int stuck = 0;
    if (why && len) why[0] = 0;
    for (int i = 0; i < h->n_threads; i++) {
        if (!atomic_load_explicit(&h->beat[i].running, memory_order_relaxed)) continue;
        int64_t age = now_ms - atomic_load_explicit(&h->beat[i].last_ms, memory_order_relaxed);
        if (age <= h->stuck_ms) continue;
        append(why, len, &at, "%sstream thread %d has not beaten for %.1f s", stuck ? "; " : "", i,
               (double)age / 1000.0);
        stuck++;
    }
    if (stuck) append(why, len, &at, " (limit %.1f s)", (double)h->stuck_ms / 1000.0);
    return stuck == 0;
}

void gs_health_set_ready(gs_health_t *h, bool ready, const char *reason)
{
    atomic_store_explicit(&h->reason, reason ? reason : "not ready", memory_order_relaxed);
    atomic_store_explicit(&h->ready, ready, memory_order_release);
}

void gs_health_task_restoring(gs_health_t *h, uint32_t task, bool restoring)
{
    if (task >= h->max_tasks) return;
    bool was = atomic_exchange_explicit(&h->restoring[task], restoring, memory_order_relaxed);
    if (was == restoring) return;
    if (restoring)
        atomic_fetch_add_explicit(&h->n_restoring, 1, memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(&h->n_restoring, 1, memory_order_relaxed);
}

uint32_t gs_health_restoring_count(const gs_health_t *h)
{
    return atomic_load_explicit(&h->n_restoring, memory_order_relaxed);
}

bool gs_health_ready(const gs_health_t *h, int64_t now_ms, char *why, size_t len)
{
    size_t at = 0;
    if (why && len) why[0] = 0;
    if (!atomic_load_explicit(&h->ready, memory_order_acquire)) {
        append(why, len, &at, "%s", atomic_load_explicit(&h->reason, memory_order_relaxed));
        return false;
    }
    uint32_t n = gs_health_restoring_count(h);
    if (n > 0) {
        append(why, len, &at, "restoring %u task%s:", n, n == 1 ? "" : "s");
        int listed = 0;
        for (uint32_t t = 0; t < h->max_tasks && listed < 32; t++)
            if (atomic_load_explicit(&h->restoring[t], memory_order_relaxed))
                append(why, len, &at, "%s%u", listed++ ? "," : " ", t);
        return false;
    }
    return gs_health_live(h, now_ms, why, len);
}
