/*
 * statedb.h - the persistent side of task state (DESIGN.md "State"): one RocksDB instance per
 * process, one column family per store namespace, keys prefixed by the task id so that a task's
 * state is one key range, one shared block cache and a bound on all memtables.
 *
 * The commit protocol writes here only after the Kafka transaction that carried the same entries
 * to the changelog has committed: gs_statedb_stage() collects a task's changed entries (and hands
 * each to a changelog callback), gs_statedb_commit() writes the collected batch together with the
 * task's checkpoint in one atomic WriteBatch. Local state therefore never holds uncommitted data.
 *
 * Thread safety: RocksDB calls are thread-safe; a gs_statedb_batch_t belongs to one thread.
 */
#ifndef GS_STATEDB_H
#define GS_STATEDB_H

#include "gs.h"
#include "store.h"

typedef struct gs_statedb gs_statedb_t;
typedef struct gs_statedb_batch gs_statedb_batch_t;

#define GS_CHECKPOINT_POSITIONS                                                                    \
    4 /* input positions a checkpoint carries (a task's four inputs)                               \
       */

/*
 * What a task has durably applied: the changelog offset after its last committed entry, the
 * sequence number of that commit, and the input positions (next offset to read of each input
 * partition) the state reflects.
 */
typedef struct gs_checkpoint {
    int64_t changelog_offset; /* -1: none */
    int64_t seq;              /* commits of the task so far; 0 with no checkpoint */
    int64_t positions[GS_CHECKPOINT_POSITIONS]; /* -1: from the beginning */
} gs_checkpoint_t;

/*
 * Opens (creating if needed) the database in `dir`. `memory_bytes` bounds the block cache plus all
 * memtables (half each). NULL on failure with the reason in errbuf.
 */
gs_statedb_t *gs_statedb_open(const char *dir, size_t memory_bytes, char *errbuf, size_t errlen);
void gs_statedb_close(gs_statedb_t *db); /* NULL is a no-op */

/* Makes `st` read missing keys of task `task` from the database (the store's miss loader). */
void gs_statedb_attach(gs_statedb_t *db, uint32_t task, gs_store_t *st);

/*
 * Namespaces that are never persisted: transient between two flushes of the task (KPI buckets).
 */
bool gs_statedb_transient(gs_ns_t ns);

/* Changelog callback: one changed entry (val NULL for a delete). */
typedef void (*gs_changelog_fn)(void *ctx, uint32_t task, gs_ns_t ns, const void *key, size_t klen,
                                const void *val, size_t vlen);

gs_statedb_batch_t *gs_statedb_batch_new(void);
void gs_statedb_batch_destroy(gs_statedb_batch_t *b); /* NULL is a no-op */
void gs_statedb_batch_clear(gs_statedb_batch_t *b);   /* keeps its memory for the next entries */
/* Empties the batch and frees the memory it holds (after a restore's large batches). */
void gs_statedb_batch_release(gs_statedb_batch_t *b);
size_t gs_statedb_batch_count(const gs_statedb_batch_t *b);

/*
 * Takes every entry of `st` changed since its last flush into batch `b` for task `task`, calling
 * `changelog` (may be NULL) for each persisted one. Clears the store's dirty marks.
 */
void gs_statedb_stage(gs_statedb_batch_t *b, uint32_t task, gs_store_t *st,
                      gs_changelog_fn changelog, void *ctx);

/* Adds one entry as restored from the changelog (val NULL = delete). */
void gs_statedb_batch_put(gs_statedb_batch_t *b, uint32_t task, gs_ns_t ns, const void *key,
                          size_t klen, const void *val, size_t vlen);

/*
 * Writes the batch and task `task`'s checkpoint atomically, then clears the batch, with the WAL
 * when `wal` (not synced: the changelog, not the WAL, is what survives a machine failure).
 */
gs_err_t gs_statedb_commit(gs_statedb_t *db, gs_statedb_batch_t *b, uint32_t task,
                           const gs_checkpoint_t *cp, bool wal, char *errbuf, size_t errlen);

/*
 * A background writer: one thread that writes batches, each with its task's checkpoint, in the
 * order they were submitted. The commit protocol's step 3 (RocksDB after the transaction) runs
 * there, so it no longer holds up the stream thread; a restore hands it full prefixes while it
 * reads the next. Each batch carries its own checkpoint and writes complete in order, so a crash
 * at any point leaves RocksDB at an earlier commit, which the changelog brings forward.
 *
 * The first failed write is kept: every later submit and wait returns it, and no batch is
 * written after it (a later batch holds only what changed since, so writing it behind a missing
 * one would leave a checkpoint over incomplete state).
 *
 * Ownership and threads: a writer belongs to one stream thread, which alone calls submit, wait,
 * stats and destroy. A submitted batch belongs to the writer until the next
 * gs_statedb_writer_wait() returns; the caller must not touch it before then (double-buffer:
 * stage into another batch). The writer clears it once written.
 */
typedef struct gs_statedb_writer gs_statedb_writer_t;

/* Starts the writer thread. NULL with the reason in errbuf. */
gs_statedb_writer_t *gs_statedb_writer_new(gs_statedb_t *db, char *errbuf, size_t errlen);

/* Writes what is queued, then stops the thread. NULL is a no-op. */
void gs_statedb_writer_destroy(gs_statedb_writer_t *w);

/*
 * Queues batch `b` for task `task` with its checkpoint `cp` (copied), written with the WAL if
 * `wal`. Returns GS_OK, or without taking `b`: the first write error (message in errbuf), or
 * GS_ERR_NOMEM if the queue cannot grow (the caller may write synchronously instead).
 */
gs_err_t gs_statedb_writer_submit(gs_statedb_writer_t *w, gs_statedb_batch_t *b, uint32_t task,
                                  const gs_checkpoint_t *cp, bool wal, char *errbuf, size_t errlen);

/* Waits until every submitted batch is written; GS_OK or the first write error (in errbuf). */
gs_err_t gs_statedb_writer_wait(gs_statedb_writer_t *w, char *errbuf, size_t errlen);

/* Totals so far: batches written, their entries, and the time spent writing them. */
void gs_statedb_writer_stats(gs_statedb_writer_t *w, uint64_t *batches, uint64_t *entries,
                             uint64_t *busy_ns);

/* The checkpoint of `task`; changelog_offset -1 if it has none. */
gs_err_t gs_statedb_checkpoint(gs_statedb_t *db, uint32_t task, gs_checkpoint_t *cp, char *errbuf,
                               size_t errlen);

/* Deletes every entry and the checkpoint of `task` (a task that moved away). */
gs_err_t gs_statedb_drop_task(gs_statedb_t *db, uint32_t task, char *errbuf, size_t errlen);

/* Calls fn for every persisted entry of (task, ns), in key order; fn returns false to stop. */
gs_err_t gs_statedb_scan(gs_statedb_t *db, uint32_t task, gs_ns_t ns,
                         bool (*fn)(void *ctx, const void *key, size_t klen, const void *val,
                                    size_t vlen),
                         void *ctx);

/*
 * Memory held by the database: bytes in the shared block cache and in the memtables of every
 * column family. Any thread (for the metrics scrape); GS_ERR_IO if RocksDB does not answer.
 */
gs_err_t gs_statedb_memory(gs_statedb_t *db, size_t *block_cache, size_t *memtables);

/*
 * Removes a state directory and everything under it (no error if it does not exist). Returns 0,
 * or -1 with errno set by the first removal that failed. The database must be closed.
 */
int gs_statedb_remove_dir(const char *dir);

#endif
