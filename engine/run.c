/*
 * run.c - the streaming engine (run.h).
 *
 * Threads: the caller's thread starts everything and waits; each stream thread (thread_main) owns
 * a group consumer, a producer, a restore consumer and its units (tasks and rollups). Nothing is
 * shared between stream threads except the RocksDB instance (thread-safe) and relaxed counters.
 *
 * The life of a unit: opened on assignment (unit_open: changelog tail into RocksDB, every entry
 * into the in-memory store, operators rebuilt), fed by the thread loop, committed every
 * commit.interval.ms (commit_all), closed on revocation after a final commit. When a transaction
 * fails and must be aborted, every unit of the thread is reopened from the last commit and the
 * consumer goes back to the positions the state records (rewind).
 */
#include "run.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "changelog.h"
#include "cluster.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "codes.h"
#include "rollup.h"
#include "statedb.h"
#include "topics.h"
#include "validate.h"

#define ROLLUP_DBID 0x80000000u /* statedb ids: task p = p, rollup p = p | ROLLUP_DBID */
#define T_PARTIALS 9            /* plan indexes (topics.h order) */
#define T_STATE_CLOG 10
#define T_ROLLUP_CLOG 11
#define MAX_TOPIC_PARTS GS_TOPICS_MAX_PARTITIONS

enum { U_TASK, U_ROLLUP };

/* ---- logging -----------------------------------------------------------------------------------
 */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- types -------------------------------------------------------------------------------------
 */

typedef struct msgq { /* FIFO of consumed messages */
    rd_kafka_message_t **m;
    size_t head, n, cap;
} msgq_t;

typedef struct thread thread_t;

typedef struct unit {
    int kind;
    int32_t p;
    uint32_t dbid;
    thread_t *th;
    gs_task_t *task;
    gs_rollup_t *rollup;
    int npos;                             /* 4 (task) or 1 (rollup) */
    int64_t pos[GS_CHECKPOINT_POSITIONS]; /* next offset to apply, -1 = from the start */
    int64_t committed_pos[GS_CHECKPOINT_POSITIONS];
    int64_t seq;           /* last committed seq */
    int64_t marker_offset; /* delivery report of this commit's marker */
    bool marker_sent, staged;
    gs_statedb_batch_t *batch; /* staged entries of this commit */
    gs_statedb_batch_t *spare; /* the previous commit's, while the state writer may hold it */
    /* task inputs */
    msgq_t q[GS_SRC__COUNT];
    bool paused[GS_SRC__COUNT];
    bool idle[GS_SRC__COUNT];
    int64_t last_rx[GS_SRC__COUNT];
    int64_t begin[GS_SRC__COUNT], end[GS_SRC__COUNT]; /* until_end: offsets at assignment */
    bool hv[GS_SRC__COUNT];
    rd_kafka_message_t *hm[GS_SRC__COUNT];
    gs_event_t ev[GS_SRC__COUNT];
    gs_err_t verr[GS_SRC__COUNT];
    gs_arena_t arena[GS_SRC__COUNT];
    bool finished; /* task: input ended (until_end); rollup: every source ended */
    gs_task_metrics_t last_m;
    gs_counter_t *m_in[GS_SRC__COUNT];
} unit_t;

struct thread {
    gs_run_t *run;
    int id;
    pthread_t tid;
    rd_kafka_t *c;               /* group consumer */
    rd_kafka_t *pr;              /* producer */
    rd_kafka_t *rc;              /* restore consumer */
    gs_statedb_writer_t *writer; /* writes committed state to RocksDB off this thread */
    rd_kafka_topic_t *out_rkt[GS_OUT__COUNT], *part_rkt, *clog_rkt[2];
    unit_t **tasks;   /* by partition, NULL when not assigned */
    unit_t **rollups; /* by partition */
    atomic_bool assigned_once;
    int64_t revoked_ms; /* when the last revocation began (0: never), for the pause figure */
    bool holding;       /* between an assignment and the next revocation */
    bool txn_open;
    bool produce_failed, persist_ok;
    uint64_t produced; /* records produced since the last commit */
    char produce_err[256];
    rd_kafka_resp_err_t produce_code; /* the Kafka error behind produce_err, 0 if none */
    uint64_t nonce;
    int64_t *rewind_seq; /* during a rewind: committed seq per unit (task p, rollup nparts + p) */
    int64_t last_commit;
    gs_log_ratelimit_t dlq_log; /* DLQ lines: a few per second, then a count */
    atomic_bool done;
    atomic_bool failed;
    /* per-thread gauges for stats */
    atomic_int ntasks, nrollups;
    atomic_uint_fast64_t lag;
    atomic_int_fast64_t min_wm;
};

struct gs_run {
    gs_config_t cfg;
    gs_metrics_t *m;
    gs_health_t *h;
    gs_http_t *http;
    gs_counter_t *m_out[GS_OUT__COUNT], *m_dlq[GS_REASON_COUNT], *m_late, *m_rebalances,
        *m_commit_failures;
    gs_histogram_t *m_commit, *m_txn;
    gs_run_opts_t o;
    gs_cluster_t *cluster;
    char bootstrap[1024];
    int nparts;
    gs_topic_spec_t plan[GS_TOPICS_COUNT];
    gs_statedb_t *db;
    char instance[256];
    thread_t *th;
    int nth;
    atomic_bool stop;
    atomic_int threads_running;
    /* totals */
    /* records in, out and DLQ are counted once, in the metric cells (read back by gs_run_stats) */
    atomic_uint_fast64_t incidents, signals, duplicates, alerts[5];
    atomic_uint_fast64_t commits, aborts, rebalances, restored;
};

#define RELAXED memory_order_relaxed
#define ADD(a, v) atomic_fetch_add_explicit(&(a), (v), RELAXED)

/* ---- message queues ----------------------------------------------------------------------------
 */

static bool msgq_push(msgq_t *q, rd_kafka_message_t *m)
{
    if (q->head + q->n == q->cap) {
        if (q->head > 0) { /* slide down before growing */
            memmove(q->m, q->m + q->head, q->n * sizeof(*q->m));
            q->head = 0;
        }
        if (q->n == q->cap && !GS_RESERVE(q->m, q->cap, q->n + 1)) return false;
    }
    q->m[q->head + q->n++] = m;
    return true;
}

static rd_kafka_message_t *msgq_pop(msgq_t *q)
{
    if (!q->n) return NULL;
    rd_kafka_message_t *m = q->m[q->head++];
    if (--q->n == 0) q->head = 0;
    return m;
}

static void msgq_clear(msgq_t *q)
{
    rd_kafka_message_t *m;
    while ((m = msgq_pop(q)))
        rd_kafka_message_destroy(m);
}

/* ---- producing ---------------------------------------------------------------------------------
 */

typedef struct hdr {
    const char *name;
    const void *val;
    size_t len;
} hdr_t;

/*
 * Errors that follow from an earlier failure (a transaction already failed, an abort's purge):
 * the earlier error is the one to report and to judge.
 */
static bool consequence_error(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR__STATE || e == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
           e == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
}

/* Produces one record (copied), waiting for room in the queue; false after a fatal error. */
static bool produce(thread_t *th, rd_kafka_topic_t *rkt, int32_t part, const void *key, size_t klen,
                    const void *val, size_t vlen, const hdr_t *h, int nh, void *opaque)
{
    for (;;) {
        rd_kafka_headers_t *hs = NULL;
        if (nh) {
            hs = rd_kafka_headers_new((size_t)nh);
            for (int i = 0; i < nh; i++)
                rd_kafka_header_add(hs, h[i].name, -1, h[i].val, (ssize_t)h[i].len);
        }
        rd_kafka_resp_err_t e =
            rd_kafka_producev(th->pr, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, klen),
                              RD_KAFKA_V_VALUE((void *)val, val ? vlen : 0), RD_KAFKA_V_HEADERS(hs),
                              RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            th->produced++;
            return true;
        }
        if (hs) rd_kafka_headers_destroy(hs);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(th->pr, 10);
            continue;
        }
        if (!th->produce_failed || (consequence_error(th->produce_code) && !consequence_error(e))) {
            snprintf(th->produce_err, sizeof(th->produce_err), "produce to %s: %s",
                     rd_kafka_topic_name(rkt), rd_kafka_err2str(e));
            th->produce_code = e;
        }
        th->produce_failed = true;
        return false;
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    thread_t *th = opaque;
    if (m->err) {
        if (!th->produce_failed ||
            (consequence_error(th->produce_code) && !consequence_error(m->err))) {
            snprintf(th->produce_err, sizeof(th->produce_err), "delivery to %s [%d]: %s",
                     rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
            th->produce_code = m->err;
        }
        th->produce_failed = true;
        return;
    }
    unit_t *u = m->_private;
    if (u) u->marker_offset = m->offset; /* only markers carry their unit */
}

static int32_t part_of(const gs_run_t *r, int topic_index, const void *key, size_t klen)
{
    return (int32_t)gs_partition_for_key(key, klen, (uint32_t)r->plan[topic_index].partitions);
}

static void sink_emit(void *ctx, gs_output_t topic, const void *key, size_t klen, const void *val,
                      size_t vlen)
{
    thread_t *th = ctx;
    gs_counter_inc(th->run->m_out[topic]);
    produce(th, th->out_rkt[topic], part_of(th->run, 4 + (int)topic, key, klen), key, klen, val,
            vlen, NULL, 0, NULL);
}

/*
 * Partials: key [kind][source be32][sum key], value the counts (or the watermark), each a
 * big-endian int64. KPI partials go to the partition of their window, scorecard partials to the
 * partition of their city (so that one city's months, and its fail streaks, stay in one rollup),
 * watermarks to every partition.
 */
static void partial_emit(void *ctx, const gs_partial_t *pt)
{
    thread_t *th = ctx;
    gs_run_t *r = th->run;
    uint8_t key[1 + 4 + 13 + GS_DEPT_MAX], val[8 * GS_KPI_NCOUNTS];
    size_t kl = 5, vl = 0;
    key[0] = (uint8_t)pt->kind;
    gs_put_be32(key + 1, pt->source);
    int32_t part = -1;
    int n = 0;
    switch (pt->kind) {
    case GS_PART_KPI:
        key[kl++] = pt->w.level;
        key[kl++] = pt->w.kind;
        gs_put_be64(key + kl, pt->w.scope);
        gs_put_be64(key + kl + 8, (uint64_t)pt->w.start);
        kl += 16;
        part = (int32_t)gs_partition_for_key(key + 5, kl - 5, (uint32_t)r->nparts);
        n = GS_KPI_NCOUNTS;
        break;
    case GS_PART_DISTRICT:
    case GS_PART_DEPARTMENT:
        gs_put_be64(key + kl, pt->city);
        gs_put_be32(key + kl + 8, (uint32_t)pt->month);
        part = (int32_t)gs_partition_for_key(key + kl, 8, (uint32_t)r->nparts);
        kl += 12;
        if (pt->kind == GS_PART_DISTRICT) {
            gs_put_be64(key + kl, pt->district);
            kl += 8;
            n = GS_SCORE_NCOUNTS;
        } else {
            size_t dl = pt->dept_len > GS_DEPT_MAX ? GS_DEPT_MAX : pt->dept_len;
            memcpy(key + kl, pt->dept, dl);
            kl += dl;
            n = GS_DEPT_NCOUNTS;
        }
        break;
    case GS_PART_WATERMARK:
        gs_put_be64(val, (uint64_t)pt->wm);
        for (int32_t p = 0; p < r->nparts; p++)
            produce(th, th->part_rkt, p, key, kl, val, 8, NULL, 0, NULL);
        return;
    }
    for (int i = 0; i < n; i++)
        gs_put_be64(val + vl + 8 * (size_t)i, (uint64_t)pt->v[i]);
    vl = 8 * (size_t)n;
    produce(th, th->part_rkt, part, key, kl, val, vl, NULL, 0, NULL);
}

/* Decodes a partials record; false if malformed (skipped: not written by gridstream). */
static bool partial_decode(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                           gs_partial_t *pt)
{
    memset(pt, 0, sizeof(*pt));
    if (kl < 5) return false;
    pt->kind = k[0];
    pt->source = gs_get_be32(k + 1);
    int n;
    switch (pt->kind) {
    case GS_PART_KPI:
        if (kl != 5 + 18) return false;
        pt->w.level = k[5];
        pt->w.kind = k[6];
        pt->w.scope = gs_get_be64(k + 7);
        pt->w.start = (int64_t)gs_get_be64(k + 15);
        n = GS_KPI_NCOUNTS;
        break;
    case GS_PART_DISTRICT:
    case GS_PART_DEPARTMENT:
        if (kl < 17) return false;
        pt->city = gs_get_be64(k + 5);
        pt->month = (int32_t)gs_get_be32(k + 13);
        if (pt->kind == GS_PART_DISTRICT) {
            if (kl != 25) return false;
            pt->district = gs_get_be64(k + 17);
            n = GS_SCORE_NCOUNTS;
        } else {
            pt->dept = (const char *)k + 17;
            pt->dept_len = kl - 17;
            n = GS_DEPT_NCOUNTS;
        }
        break;
    case GS_PART_WATERMARK:
        if (kl != 5 || vl != 8) return false;
        pt->wm = (int64_t)gs_get_be64(v);
        return true;
    default:
        return false;
    }
    if (vl != 8 * (size_t)n) return false;
    for (int i = 0; i < n; i++)
        pt->v[i] = (int64_t)gs_get_be64(v + 8 * i);
    return true;
}

/* ---- restore -----------------------------------------------------------------------------------
 */

typedef struct load_ctx {
    gs_store_t *st;
    gs_ns_t ns;
    bool oom;
} load_ctx_t;

static bool load_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    load_ctx_t *l = ctx;
    if (!gs_store_put(l->st, l->ns, key, klen, val, vlen)) {
        l->oom = true;
        return false;
    }
    return true;
}

#define RESTORE_BATCH 50000 /* entries per RocksDB write of a restore */
#define RESTORE_POLL 1024   /* messages taken from the restore consumer's queue at once */

/*
 * Reads changelog partition `p` of `topic` from the checkpoint to its end into RocksDB (restore
 * batches of RESTORE_BATCH entries through the state writer, WAL on) and updates *cp. Returns
 * false with a logged reason on failure.
 */
static bool restore_changelog(thread_t *th, unit_t *u, const char *topic, gs_checkpoint_t *cp)
{
    gs_run_t *r = th->run;
    gs_clog_reader_t *rd = gs_clog_reader_new(u->batch, u->dbid, cp);
    if (!rd) return false;
    if (th->rewind_seq) /* what follows the last commit is the aborted attempt */
        gs_clog_reader_limit(rd, th->rewind_seq[(u->kind == U_ROLLUP ? r->nparts : 0) + u->p]);
    int64_t t0 = now_ms(), last = t0;
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t qe = rd_kafka_query_watermark_offsets(th->rc, topic, u->p, &lo, &hi, 10000);
    /* The state needs the changelog from the checkpoint on (from offset 0 without local state). A
     * compacted topic keeps its start offset; a later start means records were deleted (time or
     * size retention, or the embedded cluster's ~5 MB per partition): what they held is lost, and
     * a restore without them would be silently wrong. */
    int64_t need = cp->changelog_offset >= 0 ? cp->changelog_offset : 0;
    if (qe == RD_KAFKA_RESP_ERR_NO_ERROR && lo > need && hi > need) {
        gs_log(GS_LOG_ERROR, "restore_failed",
               "topic=%s partition=%d error=%s needed_from=%" PRId64 " log_start=%" PRId64, topic,
               u->p,
               "changelog records the state needs were deleted (retention, or the embedded "
               "cluster's size limit); the state cannot be restored exactly",
               need, lo);
        gs_clog_reader_destroy(rd);
        return false;
    }
    if (qe == RD_KAFKA_RESP_ERR_NO_ERROR &&
        (hi <= lo || (cp->changelog_offset >= 0 && cp->changelog_offset >= hi))) {
        /* nothing after the checkpoint: the local state is current */
        gs_clog_reader_destroy(rd);
        gs_log(GS_LOG_DEBUG, "restore_end",
               "thread=%d unit=%s partition=%d changelog_records=0 seq=%" PRId64, th->id,
               u->kind == U_TASK ? "task" : "rollup", u->p, cp->seq);
        return true;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, u->p)->offset =
        cp->changelog_offset >= 0 ? cp->changelog_offset : RD_KAFKA_OFFSET_BEGINNING;
    bool ok = true;
    gs_counter_t *progress = NULL;
    if (u->kind == U_TASK) {
        int64_t from = cp->changelog_offset >= 0 ? cp->changelog_offset : lo;
        gs_metrics_restore_begin(r->m, (uint32_t)u->p, (uint64_t)(hi > from ? hi - from : 0));
        progress = gs_metrics_restore_records(r->m, (uint32_t)u->p);
        gs_health_task_restoring(r->h, (uint32_t)u->p, true);
    }
    gs_log(GS_LOG_INFO, "restore_start",
           "thread=%d unit=%s partition=%d from=%" PRId64 " to=%" PRId64, th->id,
           u->kind == U_TASK ? "task" : "rollup", u->p, cp->changelog_offset, hi);
    rd_kafka_resp_err_t e = rd_kafka_assign(th->rc, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        gs_log(GS_LOG_ERROR, "restore_failed", "topic=%s partition=%d error=%s", topic, u->p,
               rd_kafka_err2str(e));
        gs_clog_reader_destroy(rd);
        return false;
    }
    char err[512];
    /* Messages are taken from the queue in bursts (what is there, up to RESTORE_POLL; one blocking
     * poll when it is empty), bookkeeping is per burst. Every RESTORE_BATCH entries the batch goes
     * to the thread's state writer with the checkpoint of that prefix, and the reader goes on in
     * the unit's other batch. */
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(th->rc);
    rd_kafka_message_t *ms[RESTORE_POLL];
    gs_statedb_batch_t *cur = u->batch;
    bool end = false;
    while (ok && !end) {
        ssize_t n = q ? rd_kafka_consume_batch_queue(q, 0, ms, RESTORE_POLL) : 0;
        if (n <= 0) {
            n = 0;
            if ((ms[0] = rd_kafka_consumer_poll(th->rc, 200))) n = 1;
        }
        if (n == 0) {
            if (atomic_load(&r->stop)) {
                ok = false;
                break;
            }
            if (now_ms() - last > 60000) {
                gs_log(GS_LOG_ERROR, "restore_failed", "topic=%s partition=%d error=%s", topic,
                       u->p, "no end of partition within 60 s");
                ok = false;
                break;
            }
            continue;
        }
        last = now_ms();
        uint64_t added = 0;
        ssize_t i = 0;
        for (; i < n && ok && !end; i++) {
            rd_kafka_message_t *m = ms[i];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                rd_kafka_message_destroy(m);
                end = true;
                continue;
            }
            if (m->err) {
                gs_log(GS_LOG_WARN, "restore_error", "topic=%s partition=%d error=%s", topic, u->p,
                       rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                continue;
            }
            const void *hv = NULL;
            size_t hl = 0;
            rd_kafka_headers_t *hs = NULL;
            if (rd_kafka_message_headers(m, &hs) == RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_header_get_last(hs, GS_CLOG_HEADER, &hv, &hl);
            gs_err_t ge =
                gs_clog_reader_add(rd, m->offset, m->key, m->key_len, m->payload, m->len, hv, hl);
            int64_t m_offset = m->offset;
            rd_kafka_message_destroy(m);
            added++;
            if (ge != GS_OK) {
                ok = false;
                continue;
            }
            if (m_offset + 1 >= hi) { /* the end seen at the start: no need to wait for EOF */
                end = true;
                continue;
            }
            if (gs_statedb_batch_count(cur) < RESTORE_BATCH) continue;
            /* bound the batch: write this prefix, with its checkpoint, and go on in the other,
             * once it is back (one prefix in flight). With the WAL: a prefix written without it
             * could be lost in a crash while a later checkpoint, in another column family,
             * survives (RocksDB recovers each family's memtable from the WAL only). */
            gs_err_t we = gs_statedb_writer_wait(th->writer, err, sizeof(err));
            if (we == GS_OK)
                we =
                    gs_statedb_writer_submit(th->writer, cur, u->dbid,
                                             gs_clog_reader_checkpoint(rd), true, err, sizeof(err));
            if (we == GS_ERR_NOMEM) /* no room in the queue: write it here */
                we = gs_statedb_commit(r->db, cur, u->dbid, gs_clog_reader_checkpoint(rd), true,
                                       err, sizeof(err));
            else if (we == GS_OK) {
                cur = cur == u->batch ? u->spare : u->batch;
                gs_clog_reader_set_out(rd, cur);
            }
            if (we != GS_OK) {
                gs_log(GS_LOG_ERROR, "restore_failed", "error=%s", err);
                ok = false;
            }
        }
        for (; i < n; i++) /* after the end or a failure */
            rd_kafka_message_destroy(ms[i]);
        if (progress) gs_counter_add(progress, added);
        gs_health_beat(r->h, th->id, gs_health_now_ms());
    }
    if (q) rd_kafka_queue_destroy(q);
    rd_kafka_assign(th->rc, NULL);
    /* every prefix is written (or has failed) before the final checkpoint */
    if (gs_statedb_writer_wait(th->writer, err, sizeof(err)) != GS_OK && ok) {
        gs_log(GS_LOG_ERROR, "restore_failed", "error=%s", err);
        ok = false;
    }
    if (ok) {
        gs_clog_reader_end(rd);
        *cp = *gs_clog_reader_checkpoint(rd);
        if (gs_statedb_commit(r->db, cur, u->dbid, cp, true, err, sizeof(err)) != GS_OK) {
            gs_log(GS_LOG_ERROR, "restore_failed", "error=%s", err);
            ok = false;
        }
        uint64_t nread, napplied, ndropped;
        gs_clog_reader_counts(rd, &nread, &napplied, &ndropped);
        ADD(r->restored, napplied);
        gs_log(GS_LOG_INFO, "restore_end",
               "thread=%d unit=%s partition=%d changelog_records=%" PRIu64 " applied=%" PRIu64
               " dropped=%" PRIu64 " seq=%" PRId64 " ms=%" PRId64,
               th->id, u->kind == U_TASK ? "task" : "rollup", u->p, nread, napplied, ndropped,
               cp->seq, now_ms() - t0);
    }
    if (u->kind == U_TASK) gs_health_task_restoring(r->h, (uint32_t)u->p, false);
    /* nothing in flight (waited above); restore batches are large, commits' small */
    gs_statedb_batch_release(u->batch);
    gs_statedb_batch_release(u->spare);
    gs_clog_reader_destroy(rd);
    return ok;
}

static void unit_free(unit_t *u)
{
    if (!u) return;
    for (int s = 0; s < GS_SRC__COUNT; s++) {
        msgq_clear(&u->q[s]);
        free(u->q[s].m);
        if (u->hm[s]) rd_kafka_message_destroy(u->hm[s]);
        gs_arena_fini(&u->arena[s]);
    }
    if (u->task) gs_metrics_task_assign(u->th->run->m, (uint32_t)u->p, false);
    gs_task_destroy(u->task);
    gs_rollup_destroy(u->rollup);
    gs_statedb_batch_destroy(u->batch);
    gs_statedb_batch_destroy(u->spare);
    free(u);
}

/* Opens task or rollup `p`: restore, then the operators over the restored store. */
static unit_t *unit_open(thread_t *th, int kind, int32_t p)
{
    gs_run_t *r = th->run;
    unit_t *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    u->kind = kind;
    u->p = p;
    u->th = th;
    u->dbid = kind == U_TASK ? (uint32_t)p : (uint32_t)p | ROLLUP_DBID;
    u->npos = kind == U_TASK ? GS_SRC__COUNT : 1;
    u->marker_offset = -1;
    for (int s = 0; s < GS_SRC__COUNT; s++)
        gs_arena_init(&u->arena[s], 4096);
    if (!(u->batch = gs_statedb_batch_new()) || !(u->spare = gs_statedb_batch_new())) goto fail;
    char err[512];
    gs_checkpoint_t cp;
    if (gs_statedb_checkpoint(r->db, u->dbid, &cp, err, sizeof(err)) != GS_OK) {
        gs_log(GS_LOG_ERROR, "restore_failed", "error=%s", err);
        goto fail;
    }
    const char *topic = r->plan[kind == U_TASK ? T_STATE_CLOG : T_ROLLUP_CLOG].name;
    if (!restore_changelog(th, u, topic, &cp)) goto fail;
    u->seq = cp.seq;
    for (int i = 0; i < u->npos; i++)
        u->pos[i] = u->committed_pos[i] = cp.positions[i];
    gs_log(GS_LOG_DEBUG, "unit_opened",
           "thread=%d unit=%s partition=%d seq=%" PRId64 " positions=%" PRId64 ",%" PRId64
           ",%" PRId64 ",%" PRId64,
           th->id, kind == U_TASK ? "task" : "rollup", p, cp.seq, cp.positions[0], cp.positions[1],
           cp.positions[2], cp.positions[3]);

    gs_store_t *st = gs_store_new();
    if (!st) goto fail;
    for (int ns = 0; ns < GS_NS__COUNT; ns++) {
        if (gs_statedb_transient((gs_ns_t)ns)) continue;
        load_ctx_t l = {st, (gs_ns_t)ns, false};
        if (gs_statedb_scan(r->db, u->dbid, (gs_ns_t)ns, load_one, &l) != GS_OK || l.oom) {
            gs_store_destroy(st);
            gs_log(GS_LOG_ERROR, "restore_failed", "unit=%d error=%s", p, "loading state");
            goto fail;
        }
    }
    gs_store_flush(st, NULL, NULL); /* loaded, not changed */
    gs_sink_t sink = {sink_emit, th};
    if (kind == U_TASK) {
        gs_partial_sink_t parts = {partial_emit, th};
        if (!(u->task = gs_task_new((uint32_t)p, &r->cfg.params, st, &sink, &parts))) goto fail;
        if (gs_task_restored(u->task) != GS_OK) goto fail;
        u->finished = gs_task_watermark(u->task) == GS_TIME_MAX;
        for (int s = 0; s < GS_SRC__COUNT; s++)
            u->m_in[s] = gs_metrics_records_in(r->m, (gs_source_t)s, (uint32_t)p);
        gs_metrics_task_assign(r->m, (uint32_t)p, true);
        int64_t t = now_ms();
        for (int s = 0; s < GS_SRC__COUNT; s++) {
            u->last_rx[s] = t;
            u->end[s] = -1;
            u->idle[s] = gs_task_idle(u->task, (gs_source_t)s); /* until a record arrives */
        }
    } else {
        if (!(u->rollup = gs_rollup_new(&r->cfg.params, (uint32_t)r->nparts, st, &sink))) goto fail;
        if (gs_rollup_restored(u->rollup) != GS_OK) goto fail;
        u->finished = gs_rollup_watermark(u->rollup) == GS_TIME_MAX;
    }
    return u;
fail:
    unit_free(u);
    return NULL;
}

/* ---- the commit protocol ----------------------------------------------------------------------
 */

static void clog_entry(void *ctx, uint32_t task, gs_ns_t ns, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
    unit_t *u = ctx;
    thread_t *th = u->th;
    uint8_t stack[1024];
    uint8_t *k = klen + 1 <= sizeof(stack) ? stack : malloc(klen + 1);
    if (!k) {
        th->produce_failed = true;
        snprintf(th->produce_err, sizeof(th->produce_err), "out of memory");
        return;
    }
    size_t kl = gs_clog_key(k, ns, key, klen);
    uint8_t h[GS_CLOG_HEADER_LEN];
    gs_clog_header(h, u->seq + 1, th->nonce);
    hdr_t hd = {GS_CLOG_HEADER, h, sizeof(h)};
    produce(th, th->clog_rkt[u->kind], u->p, k, kl, val, vlen, &hd, 1, NULL);
    if (k != stack) free(k);
    u->staged = true;
}

/* Adds the task's counter increments since the last commit to the process totals. */
static void add_task_metrics(gs_run_t *r, unit_t *u)
{
    const gs_task_metrics_t *m = gs_task_metrics(u->task);
    ADD(r->incidents, m->incidents_opened - u->last_m.incidents_opened);
    ADD(r->signals, m->signals - u->last_m.signals);
    ADD(r->duplicates, m->duplicates_exact - u->last_m.duplicates_exact);
    for (int i = 0; i < 5; i++)
        ADD(r->alerts[i], m->alerts[i] - u->last_m.alerts[i]);
    gs_counter_add(r->m_late, m->kpi_late_dropped - u->last_m.kpi_late_dropped);
    u->last_m = *m;
    gs_store_t *st = gs_task_store(u->task);
    int64_t entries = 0;
    for (int ns = 0; ns < GS_NS__COUNT; ns++)
        entries += (int64_t)gs_store_count(st, (gs_ns_t)ns);
    gs_gauge_set(gs_metrics_state_entries(r->m, (uint32_t)u->p), entries);
    gs_gauge_set(gs_metrics_state_bytes(r->m, (uint32_t)u->p), (int64_t)gs_store_bytes(st));
}

static void for_units(thread_t *th, void (*fn)(thread_t *, unit_t *))
{
    for (int p = 0; p < th->run->nparts; p++) {
        if (th->tasks[p]) fn(th, th->tasks[p]);
        if (th->rollups[p]) fn(th, th->rollups[p]);
    }
}

static void stage_unit(thread_t *th, unit_t *u)
{
    gs_store_t *st = u->kind == U_TASK ? gs_task_store(u->task) : gs_rollup_store(u->rollup);
    u->staged = false;
    u->marker_sent = false;
    u->marker_offset = -1;
    gs_statedb_stage(u->batch, u->dbid, st, clog_entry, u);
    bool moved = false;
    for (int i = 0; i < u->npos; i++)
        moved = moved || u->pos[i] != u->committed_pos[i];
    if (u->staged || moved) {
        uint8_t v[GS_CLOG_MARKER_MAX], h[GS_CLOG_HEADER_LEN];
        size_t vl = gs_clog_marker(v, u->seq + 1, th->nonce, u->pos, u->npos);
        gs_clog_header(h, u->seq + 1, th->nonce);
        hdr_t hd = {GS_CLOG_HEADER, h, sizeof(h)};
        produce(th, th->clog_rkt[u->kind], u->p, GS_CLOG_MARKER_KEY, GS_CLOG_MARKER_KEY_LEN, v, vl,
                &hd, 1, u);
        u->marker_sent = true;
    }
}

static void flush_unit(thread_t *th, unit_t *u)
{
    if (u->kind == U_TASK) {
        if (gs_task_flush(u->task) != GS_OK) {
            th->produce_failed = true;
            snprintf(th->produce_err, sizeof(th->produce_err), "task %d: out of memory", u->p);
        }
        add_task_metrics(th->run, u);
    }
}

static void flush_rollup(thread_t *th, unit_t *u)
{
    if (u->kind != U_ROLLUP) return;
    if (gs_rollup_flush(u->rollup) != GS_OK) {
        th->produce_failed = true;
        snprintf(th->produce_err, sizeof(th->produce_err), "rollup %d: out of memory", u->p);
    }
    u->finished = gs_rollup_watermark(u->rollup) == GS_TIME_MAX;
}

static void persist_unit(thread_t *th, unit_t *u)
{
    if (!u->marker_sent) {
        gs_statedb_batch_clear(u->batch);
        return;
    }
    gs_checkpoint_t cp = {.changelog_offset = u->marker_offset >= 0 ? u->marker_offset + 1 : -1,
                          .seq = u->seq + 1};
    for (int i = 0; i < GS_CHECKPOINT_POSITIONS; i++)
        cp.positions[i] = i < u->npos ? u->pos[i] : -1;
    char err[512];
    if (u->marker_offset < 0 || !th->persist_ok) {
        /* no delivery report (cannot happen after a successful flush): keep the old checkpoint,
         * the changelog has the commit; or an earlier write failed (logged by persist_wait): the
         * writer takes nothing more and the thread stops */
        gs_statedb_batch_clear(u->batch);
    } else {
        gs_err_t e =
            gs_statedb_writer_submit(th->writer, u->batch, u->dbid, &cp, true, err, sizeof(err));
        if (e == GS_OK) {
            /* the writer holds this batch until the next commit's wait; stage into the other */
            gs_statedb_batch_t *b = u->batch;
            u->batch = u->spare;
            u->spare = b;
        } else if (e != GS_ERR_NOMEM || gs_statedb_commit(th->run->db, u->batch, u->dbid, &cp, true,
                                                          err, sizeof(err)) != GS_OK) {
            gs_log(GS_LOG_ERROR, "state_write_failed", "thread=%d error=%s", th->id, err);
            th->persist_ok = false;
        }
    }
    u->seq++;
    for (int i = 0; i < u->npos; i++)
        u->committed_pos[i] = u->pos[i];
}

/*
 * Waits for the state writer to finish every batch handed to it. False if a write failed (logged,
 * unless the thread has already failed and said why): the thread must stop; RocksDB keeps an
 * earlier commit, and the changelog has the rest.
 */
static bool persist_wait(thread_t *th)
{
    char err[512];
    if (!th->writer || gs_statedb_writer_wait(th->writer, err, sizeof(err)) == GS_OK) return true;
    if (!atomic_load(&th->failed))
        gs_log(GS_LOG_ERROR, "state_write_failed", "thread=%d error=%s", th->id, err);
    return false;
}

static rd_kafka_topic_partition_list_t *positions(thread_t *th)
{
    gs_run_t *r = th->run;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int p = 0; p < r->nparts; p++) {
        unit_t *u = th->tasks[p];
        if (u)
            for (int s = 0; s < GS_SRC__COUNT; s++)
                if (u->pos[s] >= 0)
                    rd_kafka_topic_partition_list_add(l, gs_source_topic[s], p)->offset = u->pos[s];
        u = th->rollups[p];
        if (u && u->pos[0] >= 0)
            rd_kafka_topic_partition_list_add(l, r->plan[T_PARTIALS].name, p)->offset = u->pos[0];
    }
    return l;
}

static void rewind_units(thread_t *th);

/* Another process has taken over this thread's transactional.id or static group membership. */
static bool fenced_error(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR__FENCED || e == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           e == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
           e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
}

/*
 * Errors that the same records would meet again after an abort and a rewind (permissions, sizes,
 * policies): retrying would loop for ever, so the thread stops instead.
 */
static bool permanent_error(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR__FATAL:
        return true;
    default:
        return fenced_error(e);
    }
}

/*
 * Says, once and plainly, why the thread stops on an error no retry cures. Nothing more is
 * committed: RocksDB keeps the last commit, which the next run restores.
 */
static void log_fatal(thread_t *th, const char *step, rd_kafka_resp_err_t code, const char *error)
{
    gs_run_t *r = th->run;
    if (fenced_error(code))
        gs_log(GS_LOG_ERROR, "fenced",
               "thread=%d step=%s application.id=%s instance.id=%s code=%s error=%s reason=%s",
               th->id, step, r->cfg.application_id, r->instance, rd_kafka_err2name(code), error,
               "another process runs with the same application.id and instance.id and took over "
               "this thread's transactional.id or group membership; this one stops without "
               "committing");
    else
        gs_log(GS_LOG_ERROR, "fatal_error", "thread=%d step=%s code=%s error=%s reason=%s", th->id,
               step, rd_kafka_err2name(code), error,
               "retrying cannot help; the engine stops and keeps its last commit");
}

/* Handles a failed transactional call: false when the engine must stop. */
/*
 * Aborts the open transaction. An abort that fails with a retriable error (the coordinator down or
 * moving) is still in progress inside the producer and must be called again (librdkafka's rule):
 * up to 10 attempts of 30 s. False when the abort cannot be done (fatal, or still failing).
 */
static bool abort_txn(thread_t *th)
{
    for (int attempt = 1;; attempt++) {
        rd_kafka_error_t *e = rd_kafka_abort_transaction(th->pr, 30000);
        if (!e) return true;
        bool retry = rd_kafka_error_is_retriable(e) && !rd_kafka_error_is_fatal(e) && attempt < 10;
        gs_log(retry ? GS_LOG_WARN : GS_LOG_ERROR, "abort_failed",
               "thread=%d attempt=%d error=%s retrying=%d", th->id, attempt,
               rd_kafka_error_string(e), retry);
        rd_kafka_error_destroy(e);
        if (!retry) return false;
    }
}

static bool txn_error(thread_t *th, const char *what, rd_kafka_error_t *err)
{
    bool fatal = rd_kafka_error_is_fatal(err);
    bool abortable = rd_kafka_error_txn_requires_abort(err);
    rd_kafka_resp_err_t code = rd_kafka_error_code(err);
    char why[512];
    snprintf(why, sizeof(why), "%s", rd_kafka_error_string(err));
    gs_log(GS_LOG_ERROR, "commit_failed", "thread=%d step=%s error=%s fatal=%d abortable=%d",
           th->id, what, why, fatal, abortable);
    rd_kafka_error_destroy(err);
    gs_counter_inc(th->run->m_commit_failures);
    if (fatal) {
        log_fatal(th, what, code, why);
        return false;
    }
    if (!abort_txn(th)) return false;
    th->txn_open = false;
    ADD(th->run->aborts, 1);
    if (permanent_error(code)) {
        log_fatal(th, what, code, why);
        return false;
    }
    rewind_units(th);
    return true;
}

static bool begin_txn(thread_t *th)
{
    if (!th->run->cfg.exactly_once || th->txn_open) return true;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(th->pr);
    if (e) {
        gs_log(GS_LOG_ERROR, "transaction_failed", "thread=%d step=begin error=%s", th->id,
               rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return false;
    }
    th->txn_open = true;
    return true;
}

/*
 * One commit of every unit of the thread (DESIGN.md "commit protocol"). Returns false when the
 * thread must stop (fatal Kafka or RocksDB error, logged).
 */
static bool commit_all(thread_t *th)
{
    gs_run_t *r = th->run;
    th->last_commit = now_ms();
    struct timespec c0;
    clock_gettime(CLOCK_MONOTONIC, &c0);
    if (!begin_txn(th)) return false;
    for_units(th, flush_unit);
    for_units(th, flush_rollup);
    for_units(th, stage_unit);
    int64_t p0 = now_ms();
    /* every record delivered (delivery reports give the markers' offsets) */
    while (rd_kafka_outq_len(th->pr) > 0 && !th->produce_failed)
        rd_kafka_flush(th->pr, 1000);
    int64_t p1 = now_ms();
    if (th->produced == 0 && !th->produce_failed) return true; /* nothing moved: no commit */
    th->produced = 0;
    if (r->cfg.exactly_once) {
        if (th->produce_failed) {
            gs_log(GS_LOG_ERROR, "commit_failed", "thread=%d error=%s", th->id, th->produce_err);
            gs_counter_inc(r->m_commit_failures);
            if (fenced_error(th->produce_code)) { /* an abort would be refused too */
                log_fatal(th, "produce", th->produce_code, th->produce_err);
                return false;
            }
            if (!abort_txn(th)) return false;
            th->txn_open = false;
            ADD(r->aborts, 1);
            rd_kafka_poll(th->pr, 0); /* the failed deliveries' reports may name the cause */
            if (permanent_error(th->produce_code)) {
                log_fatal(th, "produce", th->produce_code, th->produce_err);
                return false;
            }
            rewind_units(th);
            return begin_txn(th);
        }
        rd_kafka_topic_partition_list_t *l = positions(th);
        if (l->cnt > 0) {
            rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(th->c);
            rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(th->pr, l, md, 30000);
            rd_kafka_consumer_group_metadata_destroy(md);
            if (e) {
                rd_kafka_topic_partition_list_destroy(l);
                return txn_error(th, "send_offsets", e) && begin_txn(th);
            }
        }
        rd_kafka_topic_partition_list_destroy(l);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rd_kafka_error_t *e = rd_kafka_commit_transaction(th->pr, 60000);
        if (e) return txn_error(th, "commit", e) && begin_txn(th);
        th->txn_open = false;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        gs_histogram_observe(r->m_txn, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
                                                  (t1.tv_nsec - t0.tv_nsec)));
    } else {
        if (th->produce_failed) {
            gs_log(GS_LOG_ERROR, "commit_failed", "thread=%d error=%s", th->id, th->produce_err);
            gs_counter_inc(r->m_commit_failures);
            if (permanent_error(th->produce_code)) {
                log_fatal(th, "produce", th->produce_code, th->produce_err);
                return false;
            }
            th->produce_failed = false;
            ADD(r->aborts, 1);
            rewind_units(th);
            return true;
        }
        rd_kafka_topic_partition_list_t *l = positions(th);
        if (l->cnt > 0) {
            rd_kafka_resp_err_t e = rd_kafka_commit(th->c, l, 0);
            if (e)
                gs_log(GS_LOG_WARN, "offset_commit_failed", "thread=%d error=%s", th->id,
                       rd_kafka_err2str(e));
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    /* committed: now the same state goes to RocksDB with the new checkpoint, on the writer's
     * thread; the previous commit's writes end first (in order; and their batches come back) */
    int64_t p2 = now_ms();
    th->persist_ok = persist_wait(th);
    int64_t p3 = now_ms();
    for_units(th, persist_unit);
    gs_log(GS_LOG_DEBUG, "commit_phases",
           "thread=%d build_ms=%" PRId64 " deliver_ms=%" PRId64 " txn_ms=%" PRId64
           " persist_wait_ms=%" PRId64 " persist_ms=%" PRId64,
           th->id, p0 - th->last_commit, p1 - p0, p2 - p1, p3 - p2, now_ms() - p3);
    ADD(r->commits, 1);
    struct timespec c1;
    clock_gettime(CLOCK_MONOTONIC, &c1);
    gs_histogram_observe(r->m_commit, (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000000LL +
                                                 (c1.tv_nsec - c0.tv_nsec)));
    if (!th->persist_ok) return false;
    return begin_txn(th);
}

/* ---- assignment --------------------------------------------------------------------------------
 */

static int topic_index(const gs_run_t *r, const char *name)
{
    for (int s = 0; s < GS_SRC__COUNT; s++)
        if (strcmp(name, gs_source_topic[s]) == 0) return s;
    if (strcmp(name, r->plan[T_PARTIALS].name) == 0) return T_PARTIALS;
    return -1;
}

static void close_all(thread_t *th)
{
    /* the writer may hold the units' batches; and a unit opened later reads what it wrote */
    if (!persist_wait(th)) {
        atomic_store(&th->failed, true);
        atomic_store(&th->run->stop, true);
    }
    for (int p = 0; p < th->run->nparts; p++) {
        unit_free(th->tasks[p]);
        unit_free(th->rollups[p]);
        th->tasks[p] = th->rollups[p] = NULL;
    }
    atomic_store(&th->ntasks, 0);
    atomic_store(&th->nrollups, 0);
}

/* Fills the partition list's offsets from the units' positions. */
static void set_offsets(thread_t *th, rd_kafka_topic_partition_list_t *l)
{
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        int ti = topic_index(th->run, tp->topic);
        unit_t *u = ti == T_PARTIALS ? th->rollups[tp->partition]
                    : ti >= 0        ? th->tasks[tp->partition]
                                     : NULL;
        int64_t pos = u ? u->pos[ti == T_PARTIALS ? 0 : ti] : -1;
        tp->offset = pos >= 0 ? pos : RD_KAFKA_OFFSET_BEGINNING;
    }
}

/*
 * A partition's low and high watermarks, asked again for up to 60 s while the cluster answers
 * with an error a leader move or a broker outage causes (or until a stop request).
 */
static rd_kafka_resp_err_t query_offsets(thread_t *th, const char *topic, int32_t p, int64_t *lo,
                                         int64_t *hi)
{
    int64_t t0 = now_ms();
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(th->c, topic, p, lo, hi, 10000);
        if (!e || permanent_error(e) || atomic_load(&th->run->stop) || now_ms() - t0 > 60000)
            return e;
        gs_log(GS_LOG_WARN, "end_offsets_retry", "topic=%s partition=%d error=%s", topic, p,
               rd_kafka_err2str(e));
        usleep(500000);
    }
}

static bool open_assigned(thread_t *th, const rd_kafka_topic_partition_list_t *l)
{
    gs_run_t *r = th->run;
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        int ti = topic_index(r, tp->topic);
        if (ti < 0 || tp->partition < 0 || tp->partition >= r->nparts) continue;
        unit_t **slot = ti == T_PARTIALS ? &th->rollups[tp->partition] : &th->tasks[tp->partition];
        if (*slot) continue;
        if (!(*slot = unit_open(th, ti == T_PARTIALS ? U_ROLLUP : U_TASK, tp->partition)))
            return false;
        if (ti == T_PARTIALS)
            atomic_fetch_add(&th->nrollups, 1);
        else
            atomic_fetch_add(&th->ntasks, 1);
        unit_t *u = *slot;
        if (u->kind == U_TASK && r->o.until_end)
            for (int s = 0; s < GS_SRC__COUNT; s++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_resp_err_t e = query_offsets(th, gs_source_topic[s], u->p, &lo, &hi);
                if (e) {
                    gs_log(GS_LOG_ERROR, "end_offsets_failed", "topic=%s partition=%d error=%s",
                           gs_source_topic[s], u->p, rd_kafka_err2str(e));
                    return false;
                }
                u->begin[s] = lo;
                u->end[s] = hi;
            }
    }
    return true;
}

static void rewind_units(thread_t *th)
{
    /* back to the last commit: reopen every unit from RocksDB and its changelog */
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(th->c, &l) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    int n = th->run->nparts;
    int64_t *seq = malloc(2 * (size_t)n * sizeof(*seq));
    for (int p = 0; seq && p < n; p++) {
        seq[p] = th->tasks[p] ? th->tasks[p]->seq : INT64_MAX;
        seq[n + p] = th->rollups[p] ? th->rollups[p]->seq : INT64_MAX;
    }
    th->rewind_seq = seq;
    /* the redone attempt gets a new nonce: readers tell it from the aborted one (changelog.h) */
    th->nonce = th->nonce * 6364136223846793005u + 1442695040888963407u;
    close_all(th);
    bool opened = open_assigned(th, l);
    th->rewind_seq = NULL;
    free(seq);
    if (!opened) {
        atomic_store(&th->failed, true);
        atomic_store(&th->run->stop, true);
    } else {
        set_offsets(th, l);
        /* the reopened units start unpaused: so must the consumer (a pause outlives assign) */
        rd_kafka_resume_partitions(th->c, l);
        rd_kafka_assign(th->c, l);
        gs_log(GS_LOG_INFO, "rewound", "thread=%d partitions=%d", th->id, l->cnt);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_poll(th->pr, 0); /* delivery reports of the aborted attempt belong to it */
    th->produce_failed = false;
    th->produce_code = RD_KAFKA_RESP_ERR_NO_ERROR;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
    thread_t *th = opaque;
    gs_run_t *r = th->run;
    char parts[512] = "";
    for (int i = 0; i < l->cnt && strlen(parts) < sizeof(parts) - 40; i++)
        snprintf(parts + strlen(parts), sizeof(parts) - strlen(parts), "%s%s:%d", i ? "," : "",
                 l->elems[i].topic, (int)l->elems[i].partition);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        ADD(r->rebalances, 1);
        gs_counter_inc(r->m_rebalances);
        gs_log(GS_LOG_INFO, "assigned", "thread=%d partitions=%s", th->id, parts);
        int64_t t0 = now_ms();
        if (!open_assigned(th, l)) {
            close_all(th);
            rd_kafka_assign(rk, NULL);
            if (atomic_load(&r->stop)) return; /* a stop request cut the restore short */
            gs_log(GS_LOG_ERROR, "assignment_failed", "thread=%d", th->id);
            atomic_store(&th->failed, true);
            atomic_store(&r->stop, true);
            return;
        }
        set_offsets(th, l);
        rd_kafka_resume_partitions(rk, l); /* new units start unpaused (a pause outlives assign) */
        rd_kafka_assign(rk, l);
        th->assigned_once = true;
        /* the pause: from the revocation (commit, close) through the group's sync to restored */
        int64_t t1 = now_ms();
        gs_log(GS_LOG_INFO, "resumed",
               "thread=%d tasks=%d rollups=%d restore_ms=%" PRId64 " pause_ms=%" PRId64, th->id,
               (int)atomic_load(&th->ntasks), (int)atomic_load(&th->nrollups), t1 - t0,
               th->revoked_ms ? t1 - th->revoked_ms : t1 - t0);
        th->holding = true;
    } else {
        th->revoked_ms = now_ms();
        gs_log(GS_LOG_INFO, "revoked", "thread=%d partitions=%s", th->id, parts);
        th->holding = false; /* not done until the next assignment is finished too */
        if (!atomic_load(&th->failed) && !commit_all(th)) {
            atomic_store(&th->failed, true);
            atomic_store(&r->stop, true);
        }
        close_all(th);
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- the task merge ----------------------------------------------------------------------------
 */

static void to_dlq(thread_t *th, const rd_kafka_message_t *m, gs_err_t why)
{
    gs_run_t *r = th->run;
    gs_counter_inc(r->m_dlq[gs_reason_index(why)]);
    gs_counter_inc(r->m_out[GS_OUT_DLQ]);
    const char *reason = gs_err_str(why);
    char part[16], off[24];
    snprintf(part, sizeof(part), "%d", (int)m->partition);
    snprintf(off, sizeof(off), "%" PRId64, m->offset);
    const char *topic = rd_kafka_topic_name(m->rkt);
    hdr_t h[4] = {{"error", reason, strlen(reason)},
                  {"source.topic", topic, strlen(topic)},
                  {"source.partition", part, strlen(part)},
                  {"source.offset", off, strlen(off)}};
    produce(th, th->out_rkt[GS_OUT_DLQ], m->partition % r->plan[4 + GS_OUT_DLQ].partitions, m->key,
            m->key_len, m->payload, m->len, h, 4, NULL);
    uint64_t suppressed = 0;
    if (gs_log_ratelimit_allow(&th->dlq_log, now_ms(), &suppressed))
        gs_log(GS_LOG_WARN, "dlq",
               "thread=%d reason=%s topic=%s partition=%d offset=%" PRId64 " suppressed=%" PRIu64,
               th->id, reason, topic, (int)m->partition, m->offset, suppressed);
}

/* Applies records in merge order while the rule allows; returns the number applied. */
static size_t drain_task(thread_t *th, unit_t *u, int64_t now)
{
    gs_run_t *r = th->run;
    size_t applied = 0;
    if (u->finished) {
        for (int s = 0; s < GS_SRC__COUNT; s++) /* input beyond the end: left for a later run */
            msgq_clear(&u->q[s]);
        return 0;
    }
    /* live mode: each partition's high watermark, read at most once per drain (nothing is fetched
     * while the task drains, so it cannot move meanwhile) */
    int64_t lo[GS_SRC__COUNT], hi[GS_SRC__COUNT];
    bool known[GS_SRC__COUNT] = {false, false, false, false};
    for (;;) {
        int64_t ht[GS_SRC__COUNT];
        bool has[GS_SRC__COUNT];
        bool wait = false;
        for (int s = 0; s < GS_SRC__COUNT; s++) {
            if (!u->hv[s] && u->q[s].n) {
                rd_kafka_message_t *m = msgq_pop(&u->q[s]);
                gs_arena_reset(&u->arena[s]);
                u->verr[s] = gs_validate((gs_source_t)s, m->key, m->key_len, m->payload, m->len,
                                         &u->arena[s], &u->ev[s]);
                if (u->verr[s] == GS_OK &&
                    gs_partition_for_key(m->key, m->key_len, (uint32_t)r->nparts) != (uint32_t)u->p)
                    u->verr[s] = GS_ERR_WRONG_PARTITION;
                u->hm[s] = m;
                u->hv[s] = true;
            }
            if (u->hv[s]) {
                if (u->idle[s]) {
                    u->idle[s] = false;
                    gs_task_set_idle(u->task, (gs_source_t)s, false);
                }
            } else if (r->o.until_end) {
                int64_t pos = u->pos[s] >= 0 ? u->pos[s] : u->begin[s];
                if (pos >= u->end[s]) {
                    if (!u->idle[s]) {
                        u->idle[s] = true;
                        gs_task_set_idle(u->task, (gs_source_t)s, true);
                    }
                } else {
                    wait = true;
                }
            } else {
                if (!known[s]) {
                    lo[s] = hi[s] = -1;
                    rd_kafka_get_watermark_offsets(th->c, gs_source_topic[s], u->p, &lo[s], &hi[s]);
                    known[s] = true;
                }
                int64_t pos = u->pos[s] >= 0 ? u->pos[s] : lo[s];
                bool caught_up = hi[s] >= 0 && pos >= 0 && pos >= hi[s];
                if (!caught_up) wait = true;
                /* idle: caught up and nothing new for idle.timeout.ms. A partition known to hold
                 * more records is being waited for, not idle: leaving it out of the watermark
                 * would let timers fire before records it already holds are applied. */
                if (caught_up && !u->idle[s] && now - u->last_rx[s] >= r->cfg.idle_timeout_ms) {
                    u->idle[s] = true;
                    gs_task_set_idle(u->task, (gs_source_t)s, true);
                }
            }
            has[s] = u->hv[s];
            ht[s] = u->ev[s].t;
        }
        if (wait) break;
        int s = gs_merge_pick(ht, has);
        if (s < 0) break;
        rd_kafka_message_t *m = u->hm[s];
        gs_counter_inc(u->m_in[s]);
        gs_err_t rej = u->verr[s];
        if (rej == GS_OK) rej = gs_task_apply(u->task, &u->ev[s]);
        if (rej != GS_OK) to_dlq(th, m, rej);
        u->pos[s] = m->offset + 1;
        rd_kafka_message_destroy(m);
        u->hm[s] = NULL;
        u->hv[s] = false;
        applied++;
    }
    if (r->o.until_end) {
        bool ended = true;
        for (int s = 0; s < GS_SRC__COUNT; s++)
            ended = ended && !u->hv[s] && u->idle[s];
        if (ended) {
            gs_task_finish(u->task);
            u->finished = true;
        }
    }
    return applied;
}

/* Pauses input partitions whose buffer is full, resumes those that drained below half. */
static void backpressure(thread_t *th, unit_t *u)
{
    size_t cap = (size_t)th->run->cfg.buffered_records;
    for (int s = 0; s < GS_SRC__COUNT; s++) {
        bool full = u->q[s].n >= cap, low = u->q[s].n <= cap / 2;
        if (full == u->paused[s] || (!full && !low)) continue;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, gs_source_topic[s], u->p);
        if (full)
            rd_kafka_pause_partitions(th->c, l);
        else
            rd_kafka_resume_partitions(th->c, l);
        rd_kafka_topic_partition_list_destroy(l);
        u->paused[s] = full;
    }
}

static void route(thread_t *th, rd_kafka_message_t *m)
{
    gs_run_t *r = th->run;
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) { /* e.g. the group fenced this static member */
            char why[512];
            rd_kafka_resp_err_t code = rd_kafka_fatal_error(th->c, why, sizeof(why));
            log_fatal(th, "consume", code, why);
            atomic_store(&th->failed, true);
            atomic_store(&r->stop, true);
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            gs_log(GS_LOG_WARN, "consume_error", "thread=%d error=%s", th->id,
                   rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
        return;
    }
    int ti = topic_index(r, rd_kafka_topic_name(m->rkt));
    int32_t p = m->partition;
    if (ti == T_PARTIALS && p < r->nparts && th->rollups[p]) {
        unit_t *u = th->rollups[p];
        gs_partial_t pt;
        if (partial_decode(m->key, m->key_len, m->payload, m->len, &pt))
            gs_rollup_add(u->rollup, &pt);
        u->pos[0] = m->offset + 1;
        rd_kafka_message_destroy(m);
        return;
    }
    if (ti >= 0 && ti < GS_SRC__COUNT && p < r->nparts && th->tasks[p]) {
        unit_t *u = th->tasks[p];
        u->last_rx[ti] = now_ms();
        if (msgq_push(&u->q[ti], m)) return;
    }
    rd_kafka_message_destroy(m); /* a partition no longer ours */
}

static bool thread_done(thread_t *th)
{
    if (!th->assigned_once || !th->holding) return false;
    for (int p = 0; p < th->run->nparts; p++) {
        if (th->tasks[p] && !th->tasks[p]->finished) return false;
        if (th->rollups[p] && !th->rollups[p]->finished) return false;
    }
    return true;
}

static void update_gauges(thread_t *th)
{
    uint64_t lag = 0;
    int64_t wm = INT64_MAX;
    bool any = false;
    for (int p = 0; p < th->run->nparts; p++) {
        unit_t *u = th->tasks[p];
        if (!u) continue;
        any = true;
        int64_t w = gs_task_watermark(u->task);
        if (w < wm) wm = w;
        gs_gauge_set(gs_metrics_watermark(th->run->m, (uint32_t)p), w);
        for (int s = 0; s < GS_SRC__COUNT; s++) {
            int64_t lo = -1, hi = -1;
            rd_kafka_get_watermark_offsets(th->c, gs_source_topic[s], p, &lo, &hi);
            int64_t pos = u->pos[s] >= 0 ? u->pos[s] : (lo >= 0 ? lo : 0);
            int64_t l = hi > pos ? hi - pos : 0;
            lag += (uint64_t)l;
            gs_gauge_set(gs_metrics_consumer_lag(th->run->m, (uint32_t)p, (gs_source_t)s), l);
        }
    }
    atomic_store_explicit(&th->lag, lag, RELAXED);
    atomic_store_explicit(&th->min_wm, any ? wm : GS_TIME_MIN, RELAXED);
}

/* ---- the stream thread -------------------------------------------------------------------------
 */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* librdkafka levels are syslog's: 0..3 errors, 4 warning, 5..7 notice/info/debug */
    gs_log(level <= 3 ? GS_LOG_WARN : GS_LOG_DEBUG, "kafka", "client=%s facility=%s message=%s",
           rd_kafka_name(rk), fac, buf);
}

/*
 * A client's configuration: the engine's defaults, then the kafka.* settings (which may override
 * them), then what the engine needs whatever they say (set by the callers).
 *   - socket.nagle.disable: requests are small and latency-bound (Kafka's Java clients set
 *     TCP_NODELAY too); with Nagle, a transaction's delivery waited ~40 ms for delayed ACKs.
 *   - fetch.wait.max.ms (group consumer): a real broker answers a fetch as soon as data arrives,
 *     so this only sets how often an idle partition is asked; the embedded cluster holds an empty
 *     fetch for the whole wait, which the default of 500 ms adds to the latency of new records.
 */
static rd_kafka_conf_t *base_conf(gs_run_t *r, bool group_consumer, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", r->bootstrap, NULL, 0);
    rd_kafka_conf_set(conf, "socket.nagle.disable", "true", NULL, 0);
    if (group_consumer) rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", NULL, 0);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (gs_config_kafka_apply(&r->cfg, conf, err, errlen) != GS_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* the embedded or configured brokers, whatever kafka.bootstrap.servers might say */
    rd_kafka_conf_set(conf, "bootstrap.servers", r->bootstrap, NULL, 0);
    return conf;
}

static bool conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t len)
{
    return rd_kafka_conf_set(conf, k, v, err, len) == RD_KAFKA_CONF_OK;
}

static bool thread_clients(thread_t *th, char *err, size_t errlen)
{
    gs_run_t *r = th->run;
    char v[512];
    /* group consumer */
    rd_kafka_conf_t *conf = base_conf(r, true, err, errlen);
    if (!conf) return false;
    snprintf(v, sizeof(v), "%s-%s-%d", r->cfg.application_id, r->instance, th->id);
    if (!conf_set(conf, "group.id", r->cfg.application_id, err, errlen) ||
        !conf_set(conf, "group.instance.id", v, err, errlen) ||
        !conf_set(conf, "client.id", v, err, errlen) ||
        !conf_set(conf, "partition.assignment.strategy", "range", err, errlen) ||
        !conf_set(conf, "isolation.level", "read_committed", err, errlen) ||
        !conf_set(conf, "enable.auto.commit", "false", err, errlen) ||
        !conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
        !conf_set(conf, "auto.offset.reset", "earliest", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, th);
    if (!(th->c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen))) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_poll_set_consumer(th->c);
    /* restore consumer: assign only, to the end of a partition. librdkafka 2.0 stops fetching for
     * up to a second whenever its queue holds queued.min.messages (default 100 000): a restore that
     * applies them faster than that waited out most of every second. A million (still bounded by
     * queued.max.messages.kbytes, 64 MB by default) is more than a second's worth. */
    if (!(conf = base_conf(r, false, err, errlen))) return false;
    snprintf(v, sizeof(v), "%s-%s-%d-restore", r->cfg.application_id, r->instance, th->id);
    if (!conf_set(conf, "group.id", v, err, errlen) ||
        !conf_set(conf, "client.id", v, err, errlen) ||
        !conf_set(conf, "isolation.level", "read_committed", err, errlen) ||
        !conf_set(conf, "enable.auto.commit", "false", err, errlen) ||
        !conf_set(conf, "enable.partition.eof", "true", err, errlen) ||
        !conf_set(conf, "fetch.wait.max.ms", "20", err, errlen) ||
        !conf_set(conf, "queued.min.messages", "1000000", err, errlen) ||
        !conf_set(conf, "auto.offset.reset", "earliest", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    if (!(th->rc = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen))) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_poll_set_consumer(th->rc);
    /* producer */
    if (!(conf = base_conf(r, false, err, errlen))) return false;
    snprintf(v, sizeof(v), "%s-%s-%d", r->cfg.application_id, r->instance, th->id);
    bool ok = conf_set(conf, "client.id", v, err, errlen) &&
              conf_set(conf, "enable.idempotence", "true", err, errlen) &&
              conf_set(conf, "linger.ms", "5", err, errlen) &&
              conf_set(conf, "queue.buffering.max.messages", "1000000", err, errlen) &&
              conf_set(conf, "queue.buffering.max.kbytes", "1048576", err, errlen);
    if (ok && r->cfg.exactly_once) ok = conf_set(conf, "transactional.id", v, err, errlen);
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, th);
    if (!(th->pr = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen))) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    for (int o = 0; o < GS_OUT__COUNT; o++)
        th->out_rkt[o] = rd_kafka_topic_new(th->pr, r->plan[4 + o].name, NULL);
    th->part_rkt = rd_kafka_topic_new(th->pr, r->plan[T_PARTIALS].name, NULL);
    /* changelogs are compressed (lz4): a commit rewrites every changed entry in full, and the
     * embedded cluster keeps only ~5 MB per partition, which a task moving to an instance without
     * local state must read from its start */
    for (int k = 0; k < 2; k++) {
        rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();
        rd_kafka_topic_conf_set(tc, "compression.type", "lz4", NULL, 0);
        th->clog_rkt[k] = rd_kafka_topic_new(
            th->pr, r->plan[k == U_TASK ? T_STATE_CLOG : T_ROLLUP_CLOG].name, tc);
    }
    if (r->cfg.exactly_once) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(th->pr, 60000);
        if (e) {
            snprintf(err, errlen, "init_transactions: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            return false;
        }
    }
    return (th->writer = gs_statedb_writer_new(r->db, err, errlen)) != NULL;
}

static void thread_fini(thread_t *th)
{
    close_all(th);
    if (th->writer) {
        uint64_t nb, ne, ns;
        gs_statedb_writer_stats(th->writer, &nb, &ne, &ns);
        gs_log(GS_LOG_DEBUG, "state_writer",
               "thread=%d batches=%" PRIu64 " entries=%" PRIu64 " busy_ms=%" PRIu64, th->id, nb, ne,
               ns / 1000000);
    }
    gs_statedb_writer_destroy(th->writer);
    for (int o = 0; o < GS_OUT__COUNT; o++)
        if (th->out_rkt[o]) rd_kafka_topic_destroy(th->out_rkt[o]);
    if (th->part_rkt) rd_kafka_topic_destroy(th->part_rkt);
    for (int i = 0; i < 2; i++)
        if (th->clog_rkt[i]) rd_kafka_topic_destroy(th->clog_rkt[i]);
    if (th->c) rd_kafka_destroy(th->c);
    if (th->rc) rd_kafka_destroy(th->rc);
    if (th->pr) rd_kafka_destroy(th->pr);
    free(th->tasks);
    free(th->rollups);
}

static void *thread_main(void *arg)
{
    thread_t *th = arg;
    gs_run_t *r = th->run;
    char err[512];
    th->nonce = ((uint64_t)time(NULL) << 32) ^ ((uint64_t)getpid() << 16) ^ (uint64_t)th->id ^
                (uint64_t)now_ms() * 0x9e3779b97f4a7c15u;
    if (!thread_clients(th, err, sizeof(err))) {
        gs_log(GS_LOG_ERROR, "thread_failed", "thread=%d error=%s", th->id, err);
        atomic_store(&th->failed, true);
        atomic_store(&r->stop, true);
        goto out;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(5);
    for (int s = 0; s < GS_SRC__COUNT; s++)
        rd_kafka_topic_partition_list_add(sub, gs_source_topic[s], RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(sub, r->plan[T_PARTIALS].name, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(th->c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        gs_log(GS_LOG_ERROR, "thread_failed", "thread=%d step=subscribe error=%s", th->id,
               rd_kafka_err2str(e));
        atomic_store(&th->failed, true);
        atomic_store(&r->stop, true);
        goto out;
    }
    th->last_commit = now_ms();
    gs_log_ratelimit_init(&th->dlq_log, 5, 1000);
    begin_txn(th);
    int64_t last_gauges = 0;
    while (!atomic_load(&r->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(th->c, 20);
        int n = 0;
        while (m) {
            route(th, m);
            if (++n >= 2000) break;
            m = rd_kafka_consumer_poll(th->c, 0);
        }
        int64_t now = now_ms();
        gs_health_beat(r->h, th->id, gs_health_now_ms());
        for (int p = 0; p < r->nparts; p++)
            if (th->tasks[p]) {
                drain_task(th, th->tasks[p], now);
                backpressure(th, th->tasks[p]);
            }
        rd_kafka_poll(th->pr, 0);
        if (now - th->last_commit >= r->cfg.commit_interval_ms) {
            if (!commit_all(th)) {
                atomic_store(&th->failed, true);
                atomic_store(&r->stop, true);
                break;
            }
            /* done means committed, RocksDB included */
            bool done = r->o.until_end && thread_done(th);
            if (done && !persist_wait(th)) {
                atomic_store(&th->failed, true);
                atomic_store(&r->stop, true);
                break;
            }
            atomic_store(&th->done, done);
        }
        if (now - last_gauges >= 500) {
            update_gauges(th);
            last_gauges = now;
            uint64_t k = gs_log_ratelimit_take(&th->dlq_log, now);
            if (k)
                gs_log(GS_LOG_WARN, "dlq_suppressed", "thread=%d suppressed=%" PRIu64, th->id, k);
        }
    }
    if (!atomic_load(&th->failed) && !commit_all(th)) atomic_store(&th->failed, true);
    update_gauges(th);
    /* leave the group: the revocation commits once more (nothing left) and closes the units */
    rd_kafka_consumer_close(th->c);
    if (th->txn_open) {
        rd_kafka_error_t *ae = rd_kafka_abort_transaction(th->pr, 10000);
        if (ae) rd_kafka_error_destroy(ae);
        th->txn_open = false;
    }
    rd_kafka_consumer_close(th->rc);
out:
    gs_health_thread_exit(r->h, th->id);
    atomic_fetch_sub(&r->threads_running, 1);
    return NULL;
}

/* ---- start: cluster, topics, state -------------------------------------------------------------
 */

/*
 * Creates one topic of the plan with the CreateTopics admin request (replication factor: the
 * broker's default). False with the reason when the cluster refuses or does not implement it (the
 * embedded cluster does not: its topics are created from the plan at start).
 */
static bool create_topic(rd_kafka_t *rk, const gs_topic_spec_t *t, char *why, size_t len)
{
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(t->name, t->partitions, -1, err, sizeof(err));
    if (!nt) {
        snprintf(why, len, "%s", err);
        return false;
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", t->cleanup);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 5000, err, sizeof(err));
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 8000);
    bool ok = false;
    if (!ev) {
        snprintf(why, len, "no answer to CreateTopics within 8 s");
    } else if (rd_kafka_event_error(ev)) {
        snprintf(why, len, "%s", rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
        if (n == 1 && rd_kafka_topic_result_error(tr[0]) == RD_KAFKA_RESP_ERR_NO_ERROR)
            ok = true;
        else if (n == 1)
            snprintf(why, len, "%s", rd_kafka_topic_result_error_string(tr[0]));
        else
            snprintf(why, len, "CreateTopics gave no result");
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return ok;
}

/* Checks the topics against the plan, creating missing non-input topics; fills r->nparts/plan. */
static bool check_topics(gs_run_t *r, char *errbuf, size_t errlen)
{
    char err[512];
    rd_kafka_conf_t *conf = base_conf(r, false, err, sizeof(err));
    if (!conf) {
        snprintf(errbuf, errlen, "%s", err);
        return false;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errbuf, errlen, "Kafka client: %s", err);
        return false;
    }
    const struct rd_kafka_metadata *md = NULL;
    /* all topics: asking for one by name would make the embedded cluster create it */
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e) {
        snprintf(errbuf, errlen,
                 "cannot reach the Kafka cluster at bootstrap.servers=%s within 10 s (%s)",
                 r->bootstrap, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return false;
    }
    int counts[GS_SRC__COUNT];
    bool ok = true;
    for (int s = 0; s < GS_SRC__COUNT && ok; s++) {
        counts[s] = -1;
        for (int i = 0; i < md->topic_cnt; i++)
            if (strcmp(md->topics[i].topic, gs_source_topic[s]) == 0)
                counts[s] = md->topics[i].partition_cnt;
        if (counts[s] <= 0) {
            snprintf(errbuf, errlen,
                     "input topic %s does not exist on %s: create the four input topics with the "
                     "same partition count (see 'gridstream topics --partitions N')",
                     gs_source_topic[s], r->bootstrap);
            ok = false;
        } else if (s > 0 && counts[s] != counts[0]) {
            snprintf(errbuf, errlen,
                     "input topics are not co-partitioned: %s has %d partitions, %s has %d; every "
                     "input topic needs the same count (SPEC 4)",
                     gs_source_topic[0], counts[0], gs_source_topic[s], counts[s]);
            ok = false;
        }
    }
    if (ok && counts[0] > MAX_TOPIC_PARTS) {
        snprintf(errbuf, errlen, "%s has %d partitions, more than %d", gs_source_topic[0],
                 counts[0], MAX_TOPIC_PARTS);
        ok = false;
    }
    if (ok) {
        r->nparts = counts[0];
        gs_topics_plan(&r->cfg, r->nparts, r->plan, GS_TOPICS_COUNT);
        for (int t = GS_SRC__COUNT; t < GS_TOPICS_COUNT && ok; t++) {
            int have = -1;
            for (int i = 0; i < md->topic_cnt; i++)
                if (strcmp(md->topics[i].topic, r->plan[t].name) == 0)
                    have = md->topics[i].partition_cnt;
            if (have == r->plan[t].partitions) continue;
            char why[256] = "";
            if (have <= 0 && create_topic(rk, &r->plan[t], why, sizeof(why))) {
                gs_log(GS_LOG_INFO, "topic_created", "topic=%s partitions=%d cleanup.policy=%s",
                       r->plan[t].name, r->plan[t].partitions, r->plan[t].cleanup);
                continue;
            }
            if (have <= 0)
                snprintf(errbuf, errlen,
                         "topic %s does not exist on %s and could not be created (%s): create it "
                         "as the plan says: \"%s %d %s\" ('gridstream topics --partitions %d' "
                         "lists every topic)",
                         r->plan[t].name, r->bootstrap, why, r->plan[t].name, r->plan[t].partitions,
                         r->plan[t].cleanup, r->nparts);
            else
                snprintf(errbuf, errlen,
                         "topic %s has %d partitions, the plan needs %d: \"%s %d %s\" (recreate "
                         "it, or reset the application)",
                         r->plan[t].name, have, r->plan[t].partitions, r->plan[t].name,
                         r->plan[t].partitions, r->plan[t].cleanup);
            ok = false;
        }
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return ok;
}

static gs_err_t statedb_memory(void *db, size_t *block_cache, size_t *memtables)
{
    return gs_statedb_memory(db, block_cache, memtables);
}

static void default_instance(gs_run_t *r)
{
    if (r->cfg.instance_id[0]) {
        snprintf(r->instance, sizeof(r->instance), "%s", r->cfg.instance_id);
        return;
    }
    char host[128] = "host";
    gethostname(host, sizeof(host) - 1);
    uint32_t h = 2166136261u; /* FNV-1a of the state directory: unique per process on a host */
    for (const char *p = r->cfg.state_dir; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    char *q = host;
    for (; *q; q++)
        if (!(*q >= 'a' && *q <= 'z') && !(*q >= 'A' && *q <= 'Z') && !(*q >= '0' && *q <= '9') &&
            *q != '-' && *q != '.')
            *q = '-';
    snprintf(r->instance, sizeof(r->instance), "%s-%08x", host, h);
}

static bool mkdirs(const char *path, char *errbuf, size_t errlen)
{
    char tmp[2048];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) goto fail;
            *p = '/';
        }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) goto fail;
    return true;
fail:
    snprintf(errbuf, errlen, "state.dir: cannot create %s: %s", tmp, strerror(errno));
    return false;
}

gs_run_t *gs_run_start(const gs_config_t *cfg, const gs_run_opts_t *o, char *errbuf, size_t errlen)
{
    gs_run_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    r->o = *o;
    if (r->o.partitions <= 0) r->o.partitions = 4;
    if (r->o.brokers <= 0) r->o.brokers = 3;
    gs_log_setup_config(cfg);
    default_instance(r);
    if (!cfg->bootstrap_servers[0]) {
        gs_topic_spec_t plan[GS_TOPICS_COUNT];
        size_t n = gs_topics_plan(cfg, r->o.partitions, plan, GS_TOPICS_COUNT);
        if (!(r->cluster = gs_cluster_start(r->o.brokers, plan, n, errbuf, errlen))) goto fail;
        snprintf(r->bootstrap, sizeof(r->bootstrap), "%s", gs_cluster_bootstrap(r->cluster));
        if (o->bootstrap) {
            fprintf(o->bootstrap, "bootstrap: %s\n", r->bootstrap);
            fflush(o->bootstrap);
        }
        gs_log(GS_LOG_INFO, "embedded_cluster", "brokers=%d partitions=%d bootstrap=%s",
               r->o.brokers, r->o.partitions, r->bootstrap);
    } else {
        snprintf(r->bootstrap, sizeof(r->bootstrap), "%s", cfg->bootstrap_servers);
    }
    if (!check_topics(r, errbuf, errlen)) goto fail;
    char dir[2048];
    snprintf(dir, sizeof(dir), "%s/%s", cfg->state_dir, cfg->application_id);
    if (!mkdirs(dir, errbuf, errlen)) goto fail;
    if (!(r->db = gs_statedb_open(dir, (size_t)cfg->state_memory_bytes, errbuf, errlen))) {
        if (!strstr(errbuf, "Corruption")) goto fail;
        /* local state is a cache of the changelogs: set the damaged copy aside and restore */
        char aside[2100];
        snprintf(aside, sizeof(aside), "%s.corrupt-%lld", dir, (long long)time(NULL));
        gs_log(GS_LOG_WARN, "state_corrupt", "dir=%s error=%s moved_to=%s", dir, errbuf, aside);
        if (rename(dir, aside) != 0 || !mkdirs(dir, errbuf, errlen) ||
            !(r->db = gs_statedb_open(dir, (size_t)cfg->state_memory_bytes, errbuf, errlen)))
            goto fail;
    }
    r->nth = cfg->num_stream_threads;
    if (!(r->th = calloc((size_t)r->nth, sizeof(*r->th)))) goto fail;
    if (!(r->m = gs_metrics_new_engine((uint32_t)r->nparts)) ||
        !(r->h = gs_health_new(r->nth, (uint32_t)r->nparts, 30000, gs_health_now_ms()))) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < GS_OUT__COUNT; i++)
        r->m_out[i] = gs_metrics_records_out(r->m, (gs_output_t)i);
    for (int i = 0; i < GS_REASON_COUNT; i++)
        r->m_dlq[i] = gs_metrics_dlq(r->m, (gs_err_t)(-i - 1));
    r->m_late = gs_metrics_late(r->m);
    r->m_rebalances = gs_metrics_rebalances(r->m);
    r->m_commit_failures = gs_metrics_commit_failures(r->m);
    r->m_commit = gs_metrics_commit_duration(r->m);
    r->m_txn = gs_metrics_transaction_duration(r->m);
    gs_gauge_set(gs_metrics_stream_threads(r->m), r->nth);
    gs_metrics_watch_memory(r->m, statedb_memory, r->db);
    if (cfg->metrics_port && !(r->http = gs_http_start(cfg->metrics_host, cfg->metrics_port, r->m,
                                                       r->h, errbuf, errlen)))
        goto fail;
    gs_log_config(cfg);
    gs_log(GS_LOG_INFO, "start",
           "version=%s application.id=%s instance=%s bootstrap=%s partitions=%d "
           "threads=%d guarantee=%s commit.interval.ms=%" PRId64 " state=%s until_end=%d",
           GS_VERSION, cfg->application_id, r->instance, r->bootstrap, r->nparts, r->nth,
           cfg->exactly_once ? "exactly_once" : "at_least_once", cfg->commit_interval_ms, dir,
           o->until_end);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals go to the caller's thread */
    for (int i = 0; i < r->nth; i++) {
        thread_t *th = &r->th[i];
        th->run = r;
        th->id = i;
        th->tasks = calloc((size_t)r->nparts, sizeof(unit_t *));
        th->rollups = calloc((size_t)r->nparts, sizeof(unit_t *));
        atomic_store(&th->min_wm, GS_TIME_MIN);
        atomic_fetch_add(&r->threads_running, 1);
        if (!th->tasks || !th->rollups || pthread_create(&th->tid, NULL, thread_main, th) != 0) {
            atomic_fetch_sub(&r->threads_running, 1);
            r->nth = i;
            free(th->tasks);
            free(th->rollups);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            snprintf(errbuf, errlen, "cannot start stream thread %d", i);
            atomic_store(&r->stop, true);
            gs_run_join(r);
            return NULL;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
fail:
    gs_http_stop(r->http);
    gs_health_destroy(r->h);
    gs_metrics_destroy(r->m);
    free(r->th);
    gs_statedb_close(r->db);
    gs_cluster_stop(r->cluster);
    free(r);
    return NULL;
}

const char *gs_run_bootstrap(const gs_run_t *r)
{
    return r->bootstrap;
}

void gs_run_stop(gs_run_t *r)
{
    atomic_store(&r->stop, true); /* async-signal-safe: readiness follows in the main loop */
}

/* Ready once every thread has had its first assignment (restores are tracked per task). */
static void update_ready(gs_run_t *r)
{
    if (atomic_load(&r->stop)) {
        gs_health_set_ready(r->h, false, "shutting down");
        return;
    }
    for (int i = 0; i < r->nth; i++)
        if (!r->th[i].assigned_once) {
            gs_health_set_ready(r->h, false, "waiting for the first assignment");
            return;
        }
    gs_health_set_ready(r->h, true, NULL);
}

bool gs_run_finished(const gs_run_t *r)
{
    update_ready((gs_run_t *)r);
    if (atomic_load(&r->threads_running) == 0) return true;
    if (!r->o.until_end) return false;
    for (int i = 0; i < r->nth; i++)
        if (!atomic_load(&r->th[i].done)) return false;
    return true;
}

void gs_run_stats(const gs_run_t *r, gs_run_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < GS_SRC__COUNT; i++)
        for (int p = 0; p < r->nparts; p++)
            st->records_in[i] +=
                gs_counter_get(gs_metrics_records_in(r->m, (gs_source_t)i, (uint32_t)p));
    for (int i = 0; i < GS_REASON_COUNT; i++)
        st->dlq[i] = gs_counter_get(r->m_dlq[i]);
    for (int i = 0; i < GS_OUT__COUNT; i++)
        st->out[i] = gs_counter_get(r->m_out[i]);
    st->incidents_opened = atomic_load_explicit(&r->incidents, RELAXED);
    st->signals = atomic_load_explicit(&r->signals, RELAXED);
    st->duplicates = atomic_load_explicit(&r->duplicates, RELAXED);
    for (int i = 0; i < 5; i++)
        st->alerts[i] = atomic_load_explicit(&r->alerts[i], RELAXED);
    st->commits = atomic_load_explicit(&r->commits, RELAXED);
    st->aborts = atomic_load_explicit(&r->aborts, RELAXED);
    st->rebalances = atomic_load_explicit(&r->rebalances, RELAXED);
    st->restored_records = atomic_load_explicit(&r->restored, RELAXED);
    st->min_watermark = GS_TIME_MIN;
    bool any = false;
    for (int i = 0; i < r->nth; i++) {
        const thread_t *th = &r->th[i];
        st->lag += atomic_load_explicit(&th->lag, RELAXED);
        int nt = atomic_load_explicit(&th->ntasks, RELAXED);
        st->tasks += nt;
        st->rollups += atomic_load_explicit(&th->nrollups, RELAXED);
        int64_t w = atomic_load_explicit(&th->min_wm, RELAXED);
        if (nt > 0 && (!any || w < st->min_watermark)) {
            st->min_watermark = w;
            any = true;
        }
    }
}

int gs_run_join(gs_run_t *r)
{
    int rc = 0;
    for (int i = 0; i < r->nth; i++) {
        pthread_join(r->th[i].tid, NULL);
        if (atomic_load(&r->th[i].failed)) rc = 1;
        thread_fini(&r->th[i]);
    }
    free(r->th);
    gs_http_stop(r->http);
    gs_health_destroy(r->h);
    gs_metrics_destroy(r->m);
    gs_statedb_close(r->db);
    gs_cluster_stop(r->cluster);
    free(r);
    return rc;
}

/* ---- the command -------------------------------------------------------------------------------
 */

static gs_run_t *volatile g_run;

static void on_signal(int sig)
{
    (void)sig;
    if (g_run) gs_run_stop(g_run);
}

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: gridstream run [--config FILE] [--set key=value]... [--until-end]\n"
            "                      [--partitions N] [--brokers B]\n"
            "\n"
            "Runs the engine: consumes city.reports, city.sensors, city.video and city.cases from\n"
            "bootstrap.servers and writes gridstream.kpi, .incidents, .alerts, .scorecards and\n"
            ".dlq, with state in state.dir and its changelog topics. With no bootstrap.servers\n"
            "it starts the embedded cluster (N input partitions, default 4; B brokers, default\n"
            "3), creates every topic and prints \"bootstrap: HOST:PORT,...\" on stdout.\n"
            "\n"
            "  --until-end   process what the inputs hold, then end the input as replay does\n"
            "                (every window closes, every scorecard is evaluated), commit, exit 0\n"
            "\n"
            "SIGINT or SIGTERM: commit and exit 0. Exit 1 on a runtime failure (message on\n"
            "stderr), 2 on a usage or configuration error.\n");
}

static void progress(gs_run_t *r, int64_t *last_ms, uint64_t *last_in)
{
    gs_run_stats_t st;
    gs_run_stats(r, &st);
    uint64_t in = 0, dlq = 0;
    for (int i = 0; i < GS_SRC__COUNT; i++)
        in += st.records_in[i];
    for (int i = 0; i < GS_REASON_COUNT; i++)
        dlq += st.dlq[i];
    int64_t now = now_ms();
    double rate = now > *last_ms ? (double)(in - *last_in) * 1000.0 / (double)(now - *last_ms) : 0;
    gs_log(GS_LOG_INFO, "progress",
           "records_in=%" PRIu64 " records_per_s=%.0f lag=%" PRIu64 " dlq=%" PRIu64
           " incidents=%" PRIu64 " kpi_out=%" PRIu64 " alerts_out=%" PRIu64 " scorecards=%" PRIu64
           " tasks=%d rollups=%d commits=%" PRIu64 " aborts=%" PRIu64,
           in, rate, st.lag, dlq, st.incidents_opened, st.out[GS_OUT_KPI], st.out[GS_OUT_ALERTS],
           st.out[GS_OUT_SCORECARDS], st.tasks, st.rollups, st.commits, st.aborts);
    *last_ms = now;
    *last_in = in;
}

int gs_run_main(int argc, char **argv)
{
    gs_run_opts_t o = {.partitions = 4, .brokers = 3, .bootstrap = stdout};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            run_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--until-end") == 0) {
            o.until_end = true;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o.quiet = true;
        } else if ((strcmp(argv[i], "--partitions") == 0 || strcmp(argv[i], "--brokers") == 0) &&
                   i + 1 < argc) {
            int n;
            bool parts = strcmp(argv[i], "--partitions") == 0;
            if (!gs_topics_parse_partitions(argv[i + 1], &n) || (!parts && n > 32)) {
                fprintf(stderr, "gridstream run: %s: '%s' is not a count in 1..%d\n", argv[i],
                        argv[i + 1], parts ? GS_TOPICS_MAX_PARTITIONS : 32);
                return 2;
            }
            if (parts)
                o.partitions = n;
            else
                o.brokers = n;
            i++;
        } else if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--set") == 0) &&
                   i + 1 < argc) {
            i++;
        } else {
            fprintf(stderr, "gridstream run: unknown option '%s'\n\n", argv[i]);
            run_usage(stderr);
            return 2;
        }
    }
    extern char **environ;
    gs_config_t cfg;
    if (gs_config_from_cli(&cfg, NULL, argc, argv, environ) != GS_OK) return 2;
    char err[1024];
    gs_run_t *r = gs_run_start(&cfg, &o, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "gridstream run: %s\n", err);
        return 1;
    }
    g_run = r;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int64_t last_ms = now_ms(), last_progress = last_ms;
    uint64_t last_in = 0;
    while (!gs_run_finished(r)) {
        usleep(50000);
        if (!o.quiet && now_ms() - last_progress >= 10000) {
            progress(r, &last_ms, &last_in);
            last_progress = now_ms();
        }
    }
    gs_run_stop(r);
    progress(r, &last_ms, &last_in);
    g_run = NULL;
    int rc = gs_run_join(r);
    gs_log(GS_LOG_INFO, "stopped", "exit=%d", rc);
    return rc;
}
