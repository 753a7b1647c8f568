/*
 * statedb.c - RocksDB persistence of task state (statedb.h).
 *
 * Layout: column family "default" holds checkpoints under [task u32 BE]"checkpoint"; column family
 * "ns<N>" holds namespace N, every key prefixed with the 4-byte big-endian task id. The WAL is on
 * for commits and off for restore batches.
 */
#include "statedb.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gs_statedb {
    rocksdb_t *db;
    rocksdb_options_t *opts, *vopts; /* database and checkpoints; the namespaces */
    rocksdb_block_based_table_options_t *table;
    rocksdb_cache_t *cache;
    rocksdb_column_family_handle_t *cf[GS_NS__COUNT + 1]; /* [0] default, [1 + ns] */
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo_sync, *wo_nowal;
    struct loader_ctx *loaders; /* one per attached task, freed at close */
};

struct gs_statedb_batch {
    rocksdb_writebatch_t *wb; /* kept between commits: its buffer is reused, not regrown */
    /* the target database's handles are only known at commit: entries wait here in encoded form */
    uint8_t *buf;
    size_t len, cap, count;
};

typedef struct loader_ctx {
    gs_statedb_t *db;
    uint32_t task;
    struct loader_ctx *next;
} loader_ctx_t;

bool gs_statedb_transient(gs_ns_t ns)
{
    return ns == GS_NS_KPI_BUCKET;
}

gs_statedb_t *gs_statedb_open(const char *dir, size_t memory_bytes, char *errbuf, size_t errlen)
{
    gs_statedb_t *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (memory_bytes < (16u << 20)) memory_bytes = 16u << 20;
    d->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(d->opts, 1);
    rocksdb_options_set_create_missing_column_families(d->opts, 1);
    /* memtables of every column family together: half the budget (a WriteBufferManager) */
    rocksdb_options_set_db_write_buffer_size(d->opts, memory_bytes / 2);
    rocksdb_options_set_write_buffer_size(d->opts, memory_bytes / 8);
    d->cache = rocksdb_cache_create_lru(memory_bytes / 2);
    d->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(d->table, d->cache);
    rocksdb_options_set_block_based_table_factory(d->opts, d->table);
    /*
     * The namespaces' memtables are vectors, not skip lists. Commits write every changed entry
     * (about 5.7 per input record) and the state is read only when a task opens (one sorted scan a
     * namespace), so an append that is sorted once per scan or flush beats a sorted insert: the
     * skip list cost 3.1 us an entry on the commit path (1.5 s of 3.4 s in `bench e2e`), the
     * vector 0.4-1.0 us. A vector memtable cannot take concurrent writers, so writes are
     * serialised (they were in effect: RocksDB writes one group at a time). Checkpoints, which
     * are read with point lookups, keep the skip list in the default column family. A point
     * lookup in a namespace (the miss loader of gs_statedb_attach, which no engine path uses yet)
     * sorts a copy of the mutable memtable each time: reading on a miss, as eviction of cold
     * state would, needs this choice revisited (a skip list there, or a hash-linked list with a
     * prefix extractor).
     */
    rocksdb_options_set_allow_concurrent_memtable_write(d->opts, 0);
    d->vopts = rocksdb_options_create_copy(d->opts);
    rocksdb_options_set_memtable_vector_rep(d->vopts);

    const char *names[GS_NS__COUNT + 1];
    char namebuf[GS_NS__COUNT + 1][16];
    const rocksdb_options_t *cfopts[GS_NS__COUNT + 1];
    for (int i = 0; i <= GS_NS__COUNT; i++) {
        if (i == 0)
            snprintf(namebuf[i], sizeof(namebuf[i]), "default");
        else
            snprintf(namebuf[i], sizeof(namebuf[i]), "ns%d", i - 1);
        names[i] = namebuf[i];
        cfopts[i] = i == 0 ? d->opts : d->vopts;
    }
    char *err = NULL;
    d->db =
        rocksdb_open_column_families(d->opts, dir, GS_NS__COUNT + 1, names, cfopts, d->cf, &err);
    if (err) {
        snprintf(errbuf, errlen, "state.dir %s: %s", dir, err);
        free(err);
        gs_statedb_close(d);
        return NULL;
    }
    d->ro = rocksdb_readoptions_create();
    d->wo_sync = rocksdb_writeoptions_create();
    d->wo_nowal = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(d->wo_nowal, 1);
    return d;
}

void gs_statedb_close(gs_statedb_t *d)
{
    if (!d) return;
    if (d->db) {
        for (int i = 0; i <= GS_NS__COUNT; i++)
            if (d->cf[i]) rocksdb_column_family_handle_destroy(d->cf[i]);
        rocksdb_close(d->db);
    }
    if (d->ro) rocksdb_readoptions_destroy(d->ro);
    if (d->wo_sync) rocksdb_writeoptions_destroy(d->wo_sync);
    if (d->wo_nowal) rocksdb_writeoptions_destroy(d->wo_nowal);
    if (d->table) rocksdb_block_based_options_destroy(d->table);
    if (d->cache) rocksdb_cache_destroy(d->cache);
    if (d->opts) rocksdb_options_destroy(d->opts);
    if (d->vopts) rocksdb_options_destroy(d->vopts);
    while (d->loaders) {
        loader_ctx_t *next = d->loaders->next;
        free(d->loaders);
        d->loaders = next;
    }
    free(d);
}

static bool load(void *ctx, gs_ns_t ns, const void *key, size_t klen, void **val, size_t *vlen)
{
    loader_ctx_t *l = ctx;
    if (gs_statedb_transient(ns)) return false;
    uint8_t stack[512];
    uint8_t *k = klen + 4 <= sizeof(stack) ? stack : malloc(klen + 4);
    if (!k) return false;
    gs_put_be32(k, l->task);
    memcpy(k + 4, key, klen);
    char *err = NULL;
    size_t n = 0;
    char *v = rocksdb_get_cf(l->db->db, l->db->ro, l->db->cf[1 + ns], (const char *)k, klen + 4, &n,
                             &err);
    if (k != stack) free(k);
    if (err) {
        free(err);
        return false;
    }
    if (!v) return false;
    *val = v; /* malloc-ed by RocksDB's C API: the store frees it */
    *vlen = n;
    return true;
}

void gs_statedb_attach(gs_statedb_t *db, uint32_t task, gs_store_t *st)
{
    /* the context lives as long as the database: one small allocation per attached task */
    loader_ctx_t *l = malloc(sizeof(*l));
    if (!l) return;
    *l = (loader_ctx_t){db, task, db->loaders};
    db->loaders = l;
    gs_store_set_loader(st, load, l);
}

gs_statedb_batch_t *gs_statedb_batch_new(void)
{
    return calloc(1, sizeof(gs_statedb_batch_t));
}

void gs_statedb_batch_destroy(gs_statedb_batch_t *b)
{
    if (!b) return;
    if (b->wb) rocksdb_writebatch_destroy(b->wb);
    free(b->buf);
    free(b);
}

void gs_statedb_batch_release(gs_statedb_batch_t *b)
{
    if (b->wb) rocksdb_writebatch_destroy(b->wb);
    free(b->buf);
    *b = (gs_statedb_batch_t){0};
}

void gs_statedb_batch_clear(gs_statedb_batch_t *b)
{
    b->len = b->count = 0;
}

size_t gs_statedb_batch_count(const gs_statedb_batch_t *b)
{
    return b->count;
}

/* Entry encoding: [ns u8][del u8][klen u32][vlen u32][task+key][val] */
void gs_statedb_batch_put(gs_statedb_batch_t *b, uint32_t task, gs_ns_t ns, const void *key,
                          size_t klen, const void *val, size_t vlen)
{
    size_t need = b->len + 10 + 4 + klen + (val ? vlen : 0);
    if (!GS_RESERVE(b->buf, b->cap, need))
        return; /* the commit reports the short batch as an error */
    uint8_t *p = b->buf + b->len;
    p[0] = (uint8_t)ns;
    p[1] = val == NULL;
    gs_put_be32(p + 2, (uint32_t)(klen + 4));
    gs_put_be32(p + 6, (uint32_t)(val ? vlen : 0));
    gs_put_be32(p + 10, task);
    memcpy(p + 14, key, klen);
    if (val && vlen) memcpy(p + 14 + klen, val, vlen);
    b->len = need;
    b->count++;
}

typedef struct stage_ctx {
    gs_statedb_batch_t *b;
    uint32_t task;
    gs_changelog_fn changelog;
    void *ctx;
} stage_ctx_t;

static void stage_one(void *ctx, gs_ns_t ns, const void *key, size_t klen, const void *val,
                      size_t vlen)
{
    stage_ctx_t *s = ctx;
    if (gs_statedb_transient(ns)) return;
    gs_statedb_batch_put(s->b, s->task, ns, key, klen, val, vlen);
    if (s->changelog) s->changelog(s->ctx, s->task, ns, key, klen, val, vlen);
}

void gs_statedb_stage(gs_statedb_batch_t *b, uint32_t task, gs_store_t *st,
                      gs_changelog_fn changelog, void *ctx)
{
    stage_ctx_t s = {b, task, changelog, ctx};
    gs_store_flush(st, stage_one, &s);
}

/* Checkpoint value: changelog offset, seq, positions; each a big-endian int64. */
#define CHECKPOINT_LEN (16 + 8 * GS_CHECKPOINT_POSITIONS)

gs_err_t gs_statedb_commit(gs_statedb_t *db, gs_statedb_batch_t *b, uint32_t task,
                           const gs_checkpoint_t *cp, bool wal, char *errbuf, size_t errlen)
{
    if (!b->wb) b->wb = rocksdb_writebatch_create();
    rocksdb_writebatch_t *wb = b->wb;
    rocksdb_writebatch_clear(wb);
    size_t n = 0;
    for (size_t off = 0; off < b->len; n++) {
        const uint8_t *p = b->buf + off;
        uint32_t kl = gs_get_be32(p + 2), vl = gs_get_be32(p + 6);
        rocksdb_column_family_handle_t *cf = db->cf[1 + p[0]];
        if (p[1])
            rocksdb_writebatch_delete_cf(wb, cf, (const char *)p + 10, kl);
        else
            rocksdb_writebatch_put_cf(wb, cf, (const char *)p + 10, kl, (const char *)p + 10 + kl,
                                      vl);
        off += 10 + kl + vl;
    }
    if (n != b->count) {
        rocksdb_writebatch_clear(wb);
        snprintf(errbuf, errlen, "task %u: state batch incomplete (out of memory)", task);
        return GS_ERR_NOMEM;
    }
    uint8_t ck[4 + 10], cv[CHECKPOINT_LEN];
    gs_put_be32(ck, task);
    memcpy(ck + 4, "checkpoint", 10);
    gs_put_be64(cv, (uint64_t)cp->changelog_offset);
    gs_put_be64(cv + 8, (uint64_t)cp->seq);
    for (int i = 0; i < GS_CHECKPOINT_POSITIONS; i++)
        gs_put_be64(cv + 16 + 8 * i, (uint64_t)cp->positions[i]);
    rocksdb_writebatch_put_cf(wb, db->cf[0], (const char *)ck, sizeof(ck), (const char *)cv,
                              sizeof(cv));
    char *err = NULL;
    rocksdb_write(db->db, wal ? db->wo_sync : db->wo_nowal, wb, &err);
    rocksdb_writebatch_clear(wb);
    if (err) {
        snprintf(errbuf, errlen, "task %u: RocksDB write: %s", task, err);
        free(err);
        return GS_ERR_IO;
    }
    gs_statedb_batch_clear(b);
    return GS_OK;
}

gs_err_t gs_statedb_checkpoint(gs_statedb_t *db, uint32_t task, gs_checkpoint_t *cp, char *errbuf,
                               size_t errlen)
{
    uint8_t ck[4 + 10];
    gs_put_be32(ck, task);
    memcpy(ck + 4, "checkpoint", 10);
    char *err = NULL;
    size_t n = 0;
    char *v = rocksdb_get_cf(db->db, db->ro, db->cf[0], (const char *)ck, sizeof(ck), &n, &err);
    if (err) {
        snprintf(errbuf, errlen, "task %u: RocksDB read: %s", task, err);
        free(err);
        return GS_ERR_IO;
    }
    cp->changelog_offset = -1;
    cp->seq = 0;
    for (int i = 0; i < GS_CHECKPOINT_POSITIONS; i++)
        cp->positions[i] = -1;
    if (v && (n == 8 || n == CHECKPOINT_LEN)) {
        const uint8_t *u = (const uint8_t *)v;
        cp->changelog_offset = (int64_t)gs_get_be64(u);
        if (n == CHECKPOINT_LEN) {
            cp->seq = (int64_t)gs_get_be64(u + 8);
            for (int i = 0; i < GS_CHECKPOINT_POSITIONS; i++)
                cp->positions[i] = (int64_t)gs_get_be64(u + 16 + 8 * i);
        }
    }
    free(v);
    return GS_OK;
}

gs_err_t gs_statedb_drop_task(gs_statedb_t *db, uint32_t task, char *errbuf, size_t errlen)
{
    /* [task] .. [task + 1]: every key of the task (task ids are partition numbers, < 2^32 - 1) */
    uint8_t lo[4], hi[4];
    gs_put_be32(lo, task);
    gs_put_be32(hi, task + 1);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (int i = 1; i <= GS_NS__COUNT; i++)
        rocksdb_writebatch_delete_range_cf(wb, db->cf[i], (const char *)lo, 4, (const char *)hi, 4);
    uint8_t ck[4 + 10];
    gs_put_be32(ck, task);
    memcpy(ck + 4, "checkpoint", 10);
    rocksdb_writebatch_delete_cf(wb, db->cf[0], (const char *)ck, sizeof(ck));
    char *err = NULL;
    rocksdb_write(db->db, db->wo_sync, wb, &err);
    rocksdb_writebatch_destroy(wb);
    if (err) {
        snprintf(errbuf, errlen, "task %u: RocksDB delete range: %s", task, err);
        free(err);
        return GS_ERR_IO;
    }
    return GS_OK;
}

gs_err_t gs_statedb_scan(gs_statedb_t *db, uint32_t task, gs_ns_t ns,
                         bool (*fn)(void *ctx, const void *key, size_t klen, const void *val,
                                    size_t vlen),
                         void *ctx)
{
    uint8_t prefix[4];
    gs_put_be32(prefix, task);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db->db, db->ro, db->cf[1 + ns]);
    for (rocksdb_iter_seek(it, (const char *)prefix, 4); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl < 4 || memcmp(k, prefix, 4) != 0) break;
        const char *v = rocksdb_iter_value(it, &vl);
        if (!fn(ctx, k + 4, kl - 4, v, vl)) break;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err) {
        free(err);
        return GS_ERR_IO;
    }
    return GS_OK;
}

gs_err_t gs_statedb_memory(gs_statedb_t *db, size_t *block_cache, size_t *memtables)
{
    *block_cache = rocksdb_cache_get_usage(db->cache);
    /* the property is per column family: the memtable budget is shared by all of them */
    uint64_t sum = 0;
    for (int i = 0; i <= GS_NS__COUNT; i++) {
        uint64_t v = 0;
        if (rocksdb_property_int_cf(db->db, db->cf[i], "rocksdb.cur-size-all-mem-tables", &v) != 0)
            return GS_ERR_IO;
        sum += v;
    }
    *memtables = (size_t)sum;
    return GS_OK;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

int gs_statedb_remove_dir(const char *dir)
{
    if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) return -1;
    return 0;
}

/* ---- the background writer ------------------------------------------------------------------ */

typedef struct writer_job {
    gs_statedb_batch_t *b;
    uint32_t task;
    bool wal;
    gs_checkpoint_t cp;
} writer_job_t;

struct gs_statedb_writer {
    gs_statedb_t *db;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t work, idle;
    /* under mu. FIFO of jobs: [head, head + n) of a ring of cap; the job being written stays in
     * it until written */
    writer_job_t *jobs;
    size_t head, n, cap;
    bool stop;
    gs_err_t err; /* the first failed write: nothing is written after it */
    char errmsg[512];
    uint64_t batches, entries, busy_ns; /* totals, for gs_statedb_writer_stats */
};

static void *writer_main(void *arg)
{
    gs_statedb_writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->n == 0 && !w->stop)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->n == 0) break; /* stopped, and nothing left */
        writer_job_t j = w->jobs[w->head];
        bool skip = w->err != GS_OK;
        pthread_mutex_unlock(&w->mu);
        char msg[512];
        size_t entries = j.b->count;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        gs_err_t e =
            skip ? GS_OK : gs_statedb_commit(w->db, j.b, j.task, &j.cp, j.wal, msg, sizeof(msg));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (skip || e != GS_OK) gs_statedb_batch_clear(j.b);
        pthread_mutex_lock(&w->mu);
        if (e != GS_OK && w->err == GS_OK) {
            w->err = e;
            snprintf(w->errmsg, sizeof(w->errmsg), "%s", msg);
        }
        if (!skip) {
            w->batches++;
            w->entries += entries;
            w->busy_ns +=
                (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
        }
        w->head = (w->head + 1) % w->cap;
        if (--w->n == 0) pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

gs_statedb_writer_t *gs_statedb_writer_new(gs_statedb_t *db, char *errbuf, size_t errlen)
{
    gs_statedb_writer_t *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(errbuf, errlen, "state writer: out of memory");
        return NULL;
    }
    w->db = db;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->idle, NULL);
    int e = pthread_create(&w->tid, NULL, writer_main, w);
    if (e != 0) {
        snprintf(errbuf, errlen, "state writer: cannot start its thread: %s", strerror(e));
        pthread_cond_destroy(&w->idle);
        pthread_cond_destroy(&w->work);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void gs_statedb_writer_destroy(gs_statedb_writer_t *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true; /* the thread writes what is queued first */
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->tid, NULL);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    free(w->jobs);
    free(w);
}

gs_err_t gs_statedb_writer_submit(gs_statedb_writer_t *w, gs_statedb_batch_t *b, uint32_t task,
                                  const gs_checkpoint_t *cp, bool wal, char *errbuf, size_t errlen)
{
    pthread_mutex_lock(&w->mu);
    gs_err_t e = w->err;
    if (e != GS_OK) {
        snprintf(errbuf, errlen, "%s", w->errmsg);
        pthread_mutex_unlock(&w->mu);
        return e;
    }
    if (w->n == w->cap) { /* grow the ring, unrolling it (per commit, not per event) */
        size_t cap = w->cap ? 2 * w->cap : 16;
        writer_job_t *jobs = malloc(cap * sizeof(*jobs));
        if (!jobs) {
            pthread_mutex_unlock(&w->mu);
            snprintf(errbuf, errlen, "state writer: out of memory");
            return GS_ERR_NOMEM;
        }
        for (size_t i = 0; i < w->n; i++)
            jobs[i] = w->jobs[(w->head + i) % w->cap];
        free(w->jobs);
        w->jobs = jobs;
        w->cap = cap;
        w->head = 0;
    }
    w->jobs[(w->head + w->n) % w->cap] = (writer_job_t){b, task, wal, *cp};
    w->n++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return GS_OK;
}

gs_err_t gs_statedb_writer_wait(gs_statedb_writer_t *w, char *errbuf, size_t errlen)
{
    pthread_mutex_lock(&w->mu);
    while (w->n > 0)
        pthread_cond_wait(&w->idle, &w->mu);
    gs_err_t e = w->err;
    if (e != GS_OK) snprintf(errbuf, errlen, "%s", w->errmsg);
    pthread_mutex_unlock(&w->mu);
    return e;
}

void gs_statedb_writer_stats(gs_statedb_writer_t *w, uint64_t *batches, uint64_t *entries,
                             uint64_t *busy_ns)
{
    pthread_mutex_lock(&w->mu);
    *batches = w->batches;
    *entries = w->entries;
    *busy_ns = w->busy_ns;
    pthread_mutex_unlock(&w->mu);
}
