/*
 * pipeline.c - `gridstream bench pipeline`: every operator over generated records held in memory,
 * against a protobuf-c decode-only loop over the same records, with 1..N threads.
 *
 * The city is generated once, in process (gs_gen), into one buffer per (topic, partition) in the
 * replay file framing. For each thread count T, thread i drives the tasks p with p % T == i, one
 * after the other, exactly as replay does (gs_replay_task: merge, validate, apply, final flush;
 * outputs packed and counted, not written); the partials of every task go to one rollup, behind a
 * mutex taken once per batch of partials (in the engine an aggregator task consumes them from a
 * topic), which emits its windows and scorecards once every task is done. The reference decodes the
 * same records with the same split (protobuf_c_message_unpack and free, nothing else). Both are
 * timed from the threads' start to the last output, runs alternate between them, and the best run
 * of each is kept.
 *
 * Heap allocations are counted with jemalloc's statistics on a 1-thread run: over the second half
 * of every task's input (the first half is the warm-up in which tables grow) up to the end of
 * input, and over the whole run.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench_int.h"
#include "gen.h"
#include "params.h"
#include "recfile.h"
#include "replay.h"
#include "rollup.h"
#include "validate.h"

typedef struct membuf {
    uint8_t *p;
    size_t len, cap;
    uint64_t n;
} membuf_t;

typedef struct input {
    uint32_t nparts;
    membuf_t *b; /* [topic * nparts + partition] */
    uint64_t records, bytes;
} input_t;

static membuf_t *buf_of(input_t *in, int topic, uint32_t p)
{
    return &in->b[(size_t)topic * in->nparts + p];
}

static void put_be32(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)(v >> 24);
    o[1] = (uint8_t)(v >> 16);
    o[2] = (uint8_t)(v >> 8);
    o[3] = (uint8_t)v;
}

static int collect(void *ctx, const gs_gen_rec_t *r)
{
    input_t *in = ctx;
    if (r->partition >= in->nparts) return 1;
    membuf_t *b = buf_of(in, r->topic, r->partition);
    if (!GS_RESERVE(b->p, b->cap, b->len + 8 + r->klen + r->vlen)) return 1;
    put_be32(b->p + b->len, (uint32_t)r->klen);
    memcpy(b->p + b->len + 4, r->key, r->klen);
    b->len += 4 + r->klen;
    put_be32(b->p + b->len, (uint32_t)r->vlen);
    memcpy(b->p + b->len + 4, r->val, r->vlen);
    b->len += 4 + r->vlen;
    b->n++;
    in->records++;
    in->bytes += r->vlen;
    return 0;
}

static void input_free(input_t *in)
{
    if (!in->b) return;
    for (size_t i = 0; i < (size_t)GS_SRC__COUNT * in->nparts; i++)
        free(in->b[i].p);
    free(in->b);
}

static gs_err_t input_generate(const gs_bench_pipeline_opts_t *o, input_t *in, char *errbuf,
                               size_t errlen)
{
    memset(in, 0, sizeof(*in));
    in->nparts = o->partitions;
    in->b = calloc((size_t)GS_SRC__COUNT * in->nparts, sizeof(membuf_t));
    if (!in->b) return GS_ERR_NOMEM;
    gs_gen_opts_t go;
    gs_gen_opts_defaults(&go);
    go.seed = 42;
    go.partitions = o->partitions;
    go.cells = o->cells;
    go.days = o->days;
    gs_gen_t *g = gs_gen_new(&go, errbuf, errlen);
    if (!g) return GS_ERR_INVAL;
    gs_err_t err = gs_gen_run(g, collect, in);
    gs_gen_destroy(g);
    if (err != GS_OK) snprintf(errbuf, errlen, "generating the input: out of memory");
    return err;
}

/* ---- one timed run ----------------------------------------------------------------------------
 */

typedef struct shared {
    input_t *in;
    const gs_params_t *params;
    int nthreads;
    pthread_mutex_t lock; /* the rollup */
    gs_rollup_t *rollup;
    uint64_t rollup_out[GS_OUT__COUNT];
    /* allocation window (1-thread runs only) */
    bool count_allocs;
    int64_t a_mark;
    uint64_t allocs_window, window_records;
} shared_t;

/* A worker's partials on their way to the rollup: handed over under the lock PART_BATCH at a time
   (and at the end of each task), in the order the task emitted them. Department names are copied
   into `names`; their pointers are set when the batch is handed over. */
#define PART_BATCH 1024

typedef struct part_batch {
    gs_partial_t p[PART_BATCH];
    size_t n;
    char *names;
    size_t nlen, ncap;
    bool oom;
} part_batch_t;

typedef struct worker {
    shared_t *sh;
    int idx;
    pthread_t th;
    part_batch_t batch;
    uint64_t out[GS_OUT__COUNT];
    gs_replay_stats_t st;
    uint64_t decoded;
    gs_err_t err;
    char errbuf[512];
} worker_t;

static void count_emit(void *ctx, gs_output_t topic, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    uint64_t *out = ctx;
    out[topic]++;
}

static void batch_hand_over(worker_t *w)
{
    part_batch_t *b = &w->batch;
    for (size_t i = 0; i < b->n; i++)
        if (b->p[i].kind == GS_PART_DEPARTMENT) b->p[i].dept = b->names + (uintptr_t)b->p[i].dept;
    pthread_mutex_lock(&w->sh->lock);
    for (size_t i = 0; i < b->n; i++)
        gs_rollup_add(w->sh->rollup, &b->p[i]);
    pthread_mutex_unlock(&w->sh->lock);
    b->n = b->nlen = 0;
}

static void partial_batched(void *ctx, const gs_partial_t *part)
{
    worker_t *w = ctx;
    part_batch_t *b = &w->batch;
    gs_partial_t *q = &b->p[b->n];
    *q = *part;
    if (part->kind == GS_PART_DEPARTMENT) {
        if (!GS_RESERVE(b->names, b->ncap, b->nlen + part->dept_len + 1)) {
            b->oom = true;
            return;
        }
        memcpy(b->names + b->nlen, part->dept, part->dept_len);
        q->dept = (const char *)(uintptr_t)b->nlen; /* an offset until the hand-over */
        b->nlen += part->dept_len + 1;
    }
    if (++b->n == PART_BATCH) batch_hand_over(w);
}

static void window_mark(void *ctx, uint64_t records)
{
    shared_t *sh = ctx;
    int64_t a = gs_bench_allocations();
    if (sh->a_mark < 0) {
        sh->a_mark = a;
        sh->window_records -= records;
    } else {
        sh->allocs_window += (uint64_t)(a - sh->a_mark);
        sh->window_records += records;
        sh->a_mark = -1;
    }
}

static void *run_gridstream(void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->sh;
    gs_sink_t sink = {count_emit, w->out};
    gs_partial_sink_t parts = {partial_batched, w};
    for (uint32_t p = (uint32_t)w->idx; p < sh->in->nparts && w->err == GS_OK;
         p += (uint32_t)sh->nthreads) {
        gs_recreader_t rd[GS_SRC__COUNT];
        uint64_t n = 0;
        memset(rd, 0, sizeof(rd));
        for (int s = 0; s < GS_SRC__COUNT; s++) {
            membuf_t *b = buf_of(sh->in, s, p);
            rd[s].data = b->p;
            rd[s].size = b->len;
            n += b->n;
        }
        gs_replay_task_opts_t to = {.params = sh->params,
                                    .task = p,
                                    .partitions = sh->in->nparts,
                                    .sink = &sink,
                                    .parts = &parts};
        if (sh->count_allocs && n >= 2) {
            to.mark_at = n / 2;
            to.mark = window_mark;
            to.mark_ctx = sh;
            sh->a_mark = -1;
        }
        w->err = gs_replay_task(&to, rd, &w->st, w->errbuf, sizeof(w->errbuf));
        batch_hand_over(w);
        if (w->batch.oom && w->err == GS_OK) {
            w->err = GS_ERR_NOMEM;
            snprintf(w->errbuf, sizeof(w->errbuf), "partials: out of memory");
        }
    }
    free(w->batch.names);
    return NULL;
}

static void *run_decode(void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->sh;
    char err[256];
    for (uint32_t p = (uint32_t)w->idx; p < sh->in->nparts; p += (uint32_t)sh->nthreads)
        for (int s = 0; s < GS_SRC__COUNT; s++) {
            membuf_t *b = buf_of(sh->in, s, p);
            gs_recreader_t rd = {.data = b->p, .size = b->len};
            gs_rec_t rec;
            while (gs_recreader_next(&rd, &rec, err, sizeof(err)) == GS_OK) {
                ProtobufCMessage *m = protobuf_c_message_unpack(
                    gs_source_descriptor((gs_source_t)s), NULL, rec.vlen, rec.val);
                if (m) protobuf_c_message_free_unpacked(m, NULL);
                w->decoded++;
            }
        }
    return NULL;
}

/* Runs gridstream (decode false) or the reference over the input with sh->nthreads threads;
   returns the seconds taken, or -1 with errbuf filled. */
static double timed_run(shared_t *sh, bool decode, gs_replay_stats_t *tot, char *errbuf,
                        size_t errlen)
{
    int T = sh->nthreads;
    worker_t *w = calloc((size_t)T, sizeof(*w));
    if (!w) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    memset(sh->rollup_out, 0, sizeof(sh->rollup_out));
    gs_sink_t rsink = {count_emit, sh->rollup_out};
    if (!decode && !(sh->rollup = gs_rollup_new(sh->params, sh->in->nparts, NULL, &rsink))) {
        free(w);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    int64_t a0 = sh->count_allocs ? gs_bench_allocations() : -1;
    double t0 = gs_bench_now();
    int started = 0;
    for (int i = 0; i < T; i++) {
        w[i].sh = sh;
        w[i].idx = i;
        if (pthread_create(&w[i].th, NULL, decode ? run_decode : run_gridstream, &w[i]) != 0) break;
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    gs_err_t err = started == T ? GS_OK : GS_ERR_NOMEM;
    if (err != GS_OK) snprintf(errbuf, errlen, "cannot start %d threads", T);
    for (int i = 0; i < T && err == GS_OK; i++)
        if ((err = w[i].err) != GS_OK) snprintf(errbuf, errlen, "%s", w[i].errbuf);
    if (!decode && err == GS_OK && (err = gs_rollup_flush(sh->rollup)) != GS_OK)
        snprintf(errbuf, errlen, "rollup: out of memory");
    double secs = gs_bench_now() - t0;
    if (sh->count_allocs && a0 >= 0) {
        int64_t a1 = gs_bench_allocations();
        sh->a_mark = a1 - a0; /* reused as the whole-run count */
    }
    if (tot) {
        memset(tot, 0, sizeof(*tot));
        for (int i = 0; i < T; i++) {
            for (int s = 0; s < GS_SRC__COUNT; s++)
                tot->records_in[s] += decode ? 0 : w[i].st.records_in[s];
            for (int o = 0; o < GS_OUT__COUNT; o++)
                tot->out[o] += w[i].out[o];
            tot->totals.incidents_opened += w[i].st.totals.incidents_opened;
            tot->seconds += (double)w[i].decoded; /* decode: records decoded */
        }
        for (int o = 0; o < GS_OUT__COUNT; o++)
            tot->out[o] += sh->rollup_out[o];
    }
    gs_rollup_destroy(sh->rollup);
    sh->rollup = NULL;
    free(w);
    return err == GS_OK ? secs : -1;
}

void gs_bench_pipeline_defaults(gs_bench_pipeline_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->cells = 200;
    o->days = 70; /* past the 35-day horizons: the second half is the steady state */
    o->partitions = 4;
    o->threads[0] = 1;
    o->threads[1] = 2;
    o->nthreads = 2;
    o->runs = 3;
}

gs_err_t gs_bench_pipeline(const gs_bench_pipeline_opts_t *o, gs_bench_pipeline_res_t *r,
                           char *errbuf, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->o = *o;
    char machine[512];
    r->cores = gs_bench_machine(machine, sizeof(machine));
    r->allocs_window_per_m = r->allocs_whole_per_m = -1;
    gs_params_t params;
    gs_params_defaults(&params);
    if (o->progress)
        fprintf(o->progress, "\rpipeline: generating %d cells x %d days...", o->cells, o->days);
    double t0 = gs_bench_now();
    input_t in;
    gs_err_t err = input_generate(o, &in, errbuf, errlen);
    r->gen_seconds = gs_bench_now() - t0;
    if (err != GS_OK) goto out;
    r->records = in.records;
    r->bytes = in.bytes;
    shared_t sh = {.in = &in, .params = &params};
    pthread_mutex_init(&sh.lock, NULL);
    r->nrows = o->nthreads;
    for (int k = 0; k < o->nthreads; k++)
        r->rows[k].threads = (int)o->threads[k];
    for (int run = 0; run < o->runs && err == GS_OK; run++)
        for (int k = 0; k < o->nthreads && err == GS_OK; k++) {
            gs_bench_pipeline_row_t *row = &r->rows[k];
            sh.nthreads = row->threads;
            if (o->progress) {
                fprintf(o->progress, "\r%70s\rpipeline: run %d/%d, %d thread%s: gridstream...", "",
                        run + 1, o->runs, row->threads, row->threads > 1 ? "s" : "");
                fflush(o->progress);
            }
            /* allocations: counted on the first 1-thread run */
            sh.count_allocs = run == 0 && row->threads == 1;
            gs_replay_stats_t tot;
            double s = timed_run(&sh, false, &tot, errbuf, errlen);
            if (s < 0) {
                err = GS_ERR_INVAL;
                break;
            }
            if (sh.count_allocs && sh.a_mark >= 0) {
                r->allocs_whole_per_m = (double)sh.a_mark * 1e6 / (double)in.records;
                r->allocs_window = sh.allocs_window;
                r->window_records = sh.window_records;
                if (sh.window_records)
                    r->allocs_window_per_m =
                        (double)sh.allocs_window * 1e6 / (double)sh.window_records;
            }
            sh.count_allocs = false;
            r->incidents = tot.totals.incidents_opened;
            r->kpi_records = tot.out[GS_OUT_KPI];
            r->dlq_records = tot.out[GS_OUT_DLQ];
            if ((double)in.records / s > row->gs_rps) row->gs_rps = (double)in.records / s;
            if (o->progress) {
                fprintf(o->progress, "\r%70s\rpipeline: run %d/%d, %d thread%s: decode-only...", "",
                        run + 1, o->runs, row->threads, row->threads > 1 ? "s" : "");
                fflush(o->progress);
            }
            s = timed_run(&sh, true, &tot, errbuf, errlen);
            if (s < 0) {
                err = GS_ERR_INVAL;
                break;
            }
            if (tot.seconds / s > row->ref_rps) row->ref_rps = tot.seconds / s;
        }
    pthread_mutex_destroy(&sh.lock);
    double one = 0;
    for (int k = 0; k < r->nrows; k++)
        if (r->rows[k].threads == 1) one = r->rows[k].gs_rps;
    for (int k = 0; k < r->nrows; k++) {
        gs_bench_pipeline_row_t *row = &r->rows[k];
        row->ratio = row->ref_rps > 0 ? row->gs_rps / row->ref_rps : 0;
        row->scaling = one > 0 ? row->gs_rps / (one * row->threads) : 0;
    }
out:
    if (o->progress) fprintf(o->progress, "\r%70s\r", "");
    input_free(&in);
    return err;
}

void gs_bench_pipeline_text(const gs_bench_pipeline_res_t *r, FILE *f)
{
    fprintf(f,
            "bench pipeline: %llu records (%llu value bytes) of gridstream gen --cells %d --days "
            "%d --partitions %u --seed 42, in memory; best of %d runs; %d cores here\n",
            (unsigned long long)r->records, (unsigned long long)r->bytes, r->o.cells, r->o.days,
            r->o.partitions, r->o.runs, r->cores);
    fprintf(f, "  %7s %16s %16s %16s %7s %8s\n", "threads", "gridstream rec/s", "decode-only rec/s",
            "gridstream/core", "ratio", "scaling");
    for (int k = 0; k < r->nrows; k++) {
        const gs_bench_pipeline_row_t *w = &r->rows[k];
        fprintf(f, "  %7d %16.0f %16.0f %16.0f %7.3f %8.2f%s\n", w->threads, w->gs_rps, w->ref_rps,
                w->gs_rps / (w->threads < r->cores ? w->threads : r->cores), w->ratio, w->scaling,
                w->threads > r->cores ? "  (more threads than cores)" : "");
    }
    fprintf(f, "  ratio = gridstream / protobuf-c decode-only on the same records and threads "
               "(target >= 0.33)\n");
    if (r->allocs_window_per_m >= 0)
        fprintf(f,
                "  heap allocations per 1M records: %.1f in the steady state (%llu calls over %llu "
                "records: second half of each task's input; target 0), %.0f over a whole run\n",
                r->allocs_window_per_m, (unsigned long long)r->allocs_window,
                (unsigned long long)r->window_records, r->allocs_whole_per_m);
    else
        fprintf(f, "  heap allocations: not counted (this build does not run on jemalloc; use the "
                   "release preset)\n");
    fprintf(f, "  outputs per run: %llu KPI records, %llu incidents opened, %llu DLQ records\n",
            (unsigned long long)r->kpi_records, (unsigned long long)r->incidents,
            (unsigned long long)r->dlq_records);
}

static void json_num(FILE *f, const char *name, double v, bool more)
{
    if (v < 0)
        fprintf(f, "\"%s\":null%s", name, more ? "," : "");
    else
        fprintf(f, "\"%s\":%.6g%s", name, v, more ? "," : "");
}

void gs_bench_pipeline_json(const gs_bench_pipeline_res_t *r, FILE *f)
{
    fprintf(f,
            "{\"mode\":\"pipeline\",\"available\":true,\"cells\":%d,\"days\":%d,\"partitions\":%u,"
            "\"runs\":%d,\"cores\":%d,\"records\":%llu,\"bytes\":%llu,\"kpi_records\":%llu,"
            "\"incidents\":%llu,\"dlq_records\":%llu,\"gen_seconds\":%.3f,",
            r->o.cells, r->o.days, r->o.partitions, r->o.runs, r->cores,
            (unsigned long long)r->records, (unsigned long long)r->bytes,
            (unsigned long long)r->kpi_records, (unsigned long long)r->incidents,
            (unsigned long long)r->dlq_records, r->gen_seconds);
    json_num(f, "allocations_per_million_records", r->allocs_window_per_m, true);
    fprintf(f, "\"allocation_window_records\":%llu,\"allocation_window_calls\":%llu,",
            (unsigned long long)r->window_records, (unsigned long long)r->allocs_window);
    json_num(f, "allocations_per_million_records_whole_run", r->allocs_whole_per_m, true);
    fprintf(f, "\"rows\":[");
    for (int k = 0; k < r->nrows; k++) {
        const gs_bench_pipeline_row_t *w = &r->rows[k];
        int cores = w->threads < r->cores ? w->threads : r->cores;
        fprintf(f,
                "%s{\"threads\":%d,\"gridstream_records_per_s\":%.0f,"
                "\"decode_only_records_per_s\":%.0f,\"gridstream_records_per_s_per_core\":%.0f,"
                "\"ratio\":%.4f,\"scaling\":%.3f}",
                k ? "," : "", w->threads, w->gs_rps, w->ref_rps, w->gs_rps / cores, w->ratio,
                w->scaling);
    }
    fprintf(f, "],\"target_ratio\":0.33}\n");
}
