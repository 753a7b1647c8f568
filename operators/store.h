/*
 * store.h - the state store operators see: byte keys to byte values in a few namespaces, with
 * get / put / update / delete and iteration, plus dirty tracking for the engine.
 *
 * This is the per-task hot table of DESIGN.md ("hot state lives in per-task in-memory tables").
 * Operators read and write only through it. The engine persists it: flush() hands every entry
 * changed since the last flush to a callback (the changelog record and the RocksDB WriteBatch), and
 * a miss loader (set by the engine) fetches a key that is not resident. Unit tests and replay use
 * it without either.
 *
 * Not thread-safe: a store belongs to one task, driven by one stream thread.
 * Pointers returned by get, put and update stay valid until the next put or del on the same
 * namespace.
 */
#ifndef GS_STORE_H
#define GS_STORE_H

#include "gs.h"

typedef enum gs_ns {
    GS_NS_META = 0,   /* task counters */
    GS_NS_DEDUP,      /* identity -> first sighting */
    GS_NS_SENSOR,     /* sensor_id -> last state */
    GS_NS_VIDEO,      /* camera_id, alarm_type -> burst/latch state */
    GS_NS_INCIDENT,   /* handle -> incident */
    GS_NS_CANDIDATE,  /* cell, problem -> handles of joinable incidents */
    GS_NS_REF,        /* channel, signal id -> handle */
    GS_NS_CELL,       /* cell -> recent incident open times and hotspot times */
    GS_NS_KPI_BUCKET, /* cell, hour -> counts (task-local cohort buckets) */
    GS_NS_KPI_WINDOW, /* level, scope, window, start -> counts */
    GS_NS_SCORE,      /* city, month, district | department -> counts */
    GS_NS_ROLL_PART,  /* rollup: latest partial per (key, source task) */
    GS_NS_ROLL_SUM,   /* rollup: scorecard sums per key */
    GS_NS_ROLL_META,  /* rollup: months to evaluate, fail streaks */
    GS_NS__COUNT
} gs_ns_t;

typedef struct gs_store gs_store_t;

/* Called on a miss (engine: read RocksDB). Returns true and fills *val and *vlen (malloc-ed, the
 * store frees it) if found. */
typedef bool (*gs_store_loader_fn)(void *ctx, gs_ns_t ns, const void *key, size_t klen, void **val,
                                   size_t *vlen);

gs_store_t *gs_store_new(void);
void gs_store_destroy(gs_store_t *s); /* NULL is a no-op */
void gs_store_set_loader(gs_store_t *s, gs_store_loader_fn fn, void *ctx);

/* Borrowed pointer to the value, or NULL. *vlen may be NULL. */
const void *gs_store_get(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, size_t *vlen);

/*
 * Inserts or replaces (keys up to 65 535 bytes). Copies `vlen` bytes from `val` (zero-fills if val
 * is NULL) and returns a writable pointer to the stored value (aligned to 8 bytes); marks the entry
 * dirty. NULL on OOM.
 */
void *gs_store_put(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, const void *val,
                   size_t vlen);

/* Writable pointer to an existing value (marks it dirty), or NULL if absent. */
void *gs_store_update(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, size_t *vlen);

/*
 * The writable value of key (marked dirty), created zero-filled with vlen bytes when absent (the
 * loader is asked first, as for get): update, then put on a miss, with one hash of the key.
 * *created (may be NULL) tells whether it was created. NULL on OOM.
 */
void *gs_store_upsert(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, size_t vlen,
                      bool *created);

/* Removes a key (a tombstone for the next flush). Returns true if it existed. */
bool gs_store_del(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen);

size_t gs_store_count(const gs_store_t *s, gs_ns_t ns);

/*
 * Calls fn for every resident entry of `ns` whose key starts with prefix (plen may be 0), in no
 * particular order. fn may update the current entry's value in place but must not put or del;
 * return false from fn to stop.
 */
typedef bool (*gs_store_iter_fn)(void *ctx, const void *key, size_t klen, void *val, size_t vlen);
void gs_store_scan(gs_store_t *s, gs_ns_t ns, const void *prefix, size_t plen, gs_store_iter_fn fn,
                   void *ctx);

/*
 * Deletes every resident entry of `ns` for which fn returns true, as gs_store_del would, in one
 * pass over the table (no key list, no second lookup); fn must not put or del. Returns the count.
 */
typedef bool (*gs_store_pred_fn)(void *ctx, const void *key, size_t klen, const void *val,
                                 size_t vlen);
size_t gs_store_del_if(gs_store_t *s, gs_ns_t ns, gs_store_pred_fn fn, void *ctx);

/*
 * Hands every entry changed since the last flush to fn (val NULL for a deleted key) and clears the
 * dirty marks. Order is unspecified.
 */
typedef void (*gs_store_flush_fn)(void *ctx, gs_ns_t ns, const void *key, size_t klen,
                                  const void *val, size_t vlen);
void gs_store_flush(gs_store_t *s, gs_store_flush_fn fn, void *ctx);

/* Bytes of keys and values resident (for metrics and the memory bound). */
size_t gs_store_bytes(const gs_store_t *s);

#endif
