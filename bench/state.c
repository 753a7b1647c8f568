/*
 * state.c - `gridstream bench state`: what state costs, in RSS and in RocksDB bytes, per open
 * incident and per active cell, at growing numbers of cells.
 *
 * For each size C, one task receives two reports per cell (two problems, so two incidents that do
 * not merge), C cells in a 15-digit code space of one city, within one hour of event time, with no
 * case events: every incident stays open. The task is flushed every 65 536 records as the engine
 * does at its commits (KPI buckets fan out and are dropped, outputs are packed and counted). RSS
 * is read from /proc/self/statm after freed memory has been purged: once before, once after the
 * first report of every cell (an active cell with one open incident) and once after the second
 * (one more open incident in an active cell). Then every persisted entry of the store is written to
 * a fresh RocksDB (engine/statedb.c, state.memory.bytes as configured, the WAL off as in a restore)
 * in batches of 100 000, the database is closed (flushing its memtables) and its SST files are
 * measured.
 *
 * The reference is the incident's own packed record (gridstream.incidents value) of the same run:
 * the ratio says how many times its wire size an open incident costs in memory.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_int.h"
#include "codes.h"
#include "params.h"
#include "statedb.h"
#include "task.h"

#define STATE_FLUSH_EVERY 65536
#define STATE_BATCH 100000
#define STATE_T0 INT64_C(1709222400000) /* 2024-03-01 00:00 +08:00 */

typedef struct sink_ctx {
    uint64_t out[GS_OUT__COUNT];
    uint64_t incident_bytes;
} sink_ctx_t;

static void state_emit(void *ctx, gs_output_t topic, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    sink_ctx_t *c = ctx;
    c->out[topic]++;
    if (topic == GS_OUT_INCIDENTS) c->incident_bytes += vlen;
}

static void no_partial(void *ctx, const gs_partial_t *part) {}

/* Cell i of one city (4401), spread over 20 districts, 999 cells a community, 99 communities a
   street: a valid 15-digit code (grid sequence never 000). */
static uint64_t cell_code(int64_t i)
{
    uint64_t g = (uint64_t)(i % 999) + 1, rest = (uint64_t)(i / 999);
    uint64_t community = rest % 99 + 1, street = rest / 99 % 999 + 1, district = rest / 99 / 999;
    return ((((UINT64_C(4401) * 100 + district % 100) * 1000 + street) * 1000 + community) * 1000) +
           g;
}

typedef struct load_ctx {
    gs_statedb_t *db;
    gs_statedb_batch_t *b;
    gs_ns_t ns;
    size_t n;
    gs_err_t err;
    char *errbuf;
    size_t errlen;
} load_ctx_t;

static bool load_one(void *ctx, const void *key, size_t klen, void *val, size_t vlen)
{
    load_ctx_t *l = ctx;
    gs_statedb_batch_put(l->b, 0, l->ns, key, klen, val, vlen);
    if (++l->n % STATE_BATCH == 0) {
        gs_checkpoint_t cp = {.changelog_offset = (int64_t)l->n};
        l->err = gs_statedb_commit(l->db, l->b, 0, &cp, false, l->errbuf, l->errlen);
    }
    return l->err == GS_OK;
}

static int64_t sst_bytes;

static int add_sst(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    size_t n = strlen(path);
    if (type == FTW_F && n > 4 && strcmp(path + n - 4, ".sst") == 0) sst_bytes += sb->st_size;
    return 0;
}

static void progress(const gs_bench_state_opts_t *o, const char *fmt, int64_t cells,
                     const char *what)
{
    if (!o->progress) return;
    fprintf(o->progress, "\r%70s\r", "");
    fprintf(o->progress, fmt, (long long)cells, what);
    fflush(o->progress);
}

static gs_err_t state_size(const gs_bench_state_opts_t *o, int64_t cells, gs_bench_state_row_t *row,
                           char *errbuf, size_t errlen)
{
    memset(row, 0, sizeof(*row));
    row->cells = cells;
    row->incidents = 2 * cells;
    gs_params_t params;
    gs_params_defaults(&params);
    sink_ctx_t sc = {{0}, 0};
    gs_sink_t sink = {state_emit, &sc};
    gs_partial_sink_t parts = {no_partial, NULL};
    gs_bench_purge();
    int64_t rss0 = gs_bench_rss();
    gs_task_t *t = gs_task_new(0, &params, NULL, &sink, &parts);
    if (!t) return GS_ERR_NOMEM;
    for (int s = GS_SRC_SENSORS; s < GS_SRC__COUNT; s++)
        gs_task_set_idle(t, (gs_source_t)s, true);
    gs_err_t err = GS_OK;
    int64_t rss1 = 0, total = 2 * cells;
    double t0 = gs_bench_now();
    for (int64_t k = 0; k < total && err == GS_OK; k++) {
        int64_t i = k % cells;
        int pass = (int)(k / cells);
        char id[32] = "bench-";
        *gs_fmt_i64(id + 6, k) = 0;
        Gridstream__V1__Report rep = GRIDSTREAM__V1__REPORT__INIT;
        rep.report_id = id;
        rep.channel = GRIDSTREAM__V1__CHANNEL__INSPECTOR;
        rep.problem_code = pass == 0 ? 10101 : 20101;
        rep.cell = cell_code(i);
        rep.event_time_ms = STATE_T0 + k * GS_HOUR_MS / total;
        rep.lat = 34.75 + (double)(i % 1000) * 1e-4;
        rep.lon = 113.62 + (double)(i / 1000 % 1000) * 1e-4;
        gs_event_t ev = {.src = GS_SRC_REPORTS, .t = rep.event_time_ms, .cell = rep.cell};
        ev.m.report = &rep;
        err = gs_task_apply(t, &ev);
        if ((k + 1) % STATE_FLUSH_EVERY == 0 || k + 1 == cells || k + 1 == total) {
            if (err == GS_OK) err = gs_task_flush(t);
            gs_store_flush(gs_task_store(t), NULL, NULL);
            if (k + 1 == cells) {
                gs_bench_purge();
                rss1 = gs_bench_rss();
            }
            if (o->progress && (k + 1) % (STATE_FLUSH_EVERY * 8) == 0)
                progress(o, "state: %lld cells: %s", cells, "building open incidents...");
        }
    }
    if (err != GS_OK) {
        snprintf(errbuf, errlen, "%lld cells: %s", (long long)cells, gs_err_str(err));
        gs_task_destroy(t);
        return err;
    }
    row->seconds = gs_bench_now() - t0;
    row->events_per_s = (double)total / row->seconds;
    gs_bench_purge();
    int64_t rss2 = gs_bench_rss();
    row->rss_state = rss2 - rss0;
    row->rss_per_cell = (double)(rss1 - rss0) / (double)cells;
    row->rss_per_incident = (double)(rss2 - rss1) / (double)cells;
    row->store_per_incident = (double)gs_store_bytes(gs_task_store(t)) / (double)total;
    row->packed_incident =
        sc.out[GS_OUT_INCIDENTS] ? (double)sc.incident_bytes / (double)sc.out[GS_OUT_INCIDENTS] : 0;

    /* RocksDB: every persisted entry, then the SST bytes */
    progress(o, "state: %lld cells: %s", cells, "writing RocksDB...");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/gridstream-bench-state-%ld-%lld", o->dir, (long)getpid(),
             (long long)cells);
    gs_statedb_t *db = gs_statedb_open(dir, (size_t)o->memory_bytes, errbuf, errlen);
    gs_statedb_batch_t *b = gs_statedb_batch_new();
    if (!db || !b) {
        err = db ? GS_ERR_NOMEM : GS_ERR_IO;
        goto out;
    }
    load_ctx_t l = {.db = db, .b = b, .errbuf = errbuf, .errlen = errlen};
    for (int ns = 0; ns < GS_NS__COUNT && l.err == GS_OK; ns++) {
        if (gs_statedb_transient((gs_ns_t)ns)) continue;
        l.ns = (gs_ns_t)ns;
        gs_store_scan(gs_task_store(t), (gs_ns_t)ns, NULL, 0, load_one, &l);
    }
    gs_checkpoint_t cp = {.changelog_offset = (int64_t)l.n};
    if ((err = l.err) == GS_OK) err = gs_statedb_commit(db, b, 0, &cp, false, errbuf, errlen);
    row->rss_rocksdb = gs_bench_rss() - rss2;
    gs_statedb_close(db);
    db = NULL;
    sst_bytes = 0;
    nftw(dir, add_sst, 16, FTW_PHYS);
    row->rocksdb_bytes = sst_bytes;
    row->rocksdb_per_incident = (double)sst_bytes / (double)total;
out:
    gs_statedb_close(db);
    gs_statedb_batch_destroy(b);
    gs_statedb_remove_dir(dir);
    gs_task_destroy(t);
    return err;
}

void gs_bench_state_defaults(gs_bench_state_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->cells[0] = 10000;
    o->cells[1] = 100000;
    o->cells[2] = 1000000;
    o->nsizes = 3;
    o->memory_bytes = INT64_C(256) << 20; /* the default of state.memory.bytes */
    const char *tmp = getenv("TMPDIR");
    o->dir = tmp && *tmp ? tmp : "/tmp";
}

gs_err_t gs_bench_state(const gs_bench_state_opts_t *o, gs_bench_state_res_t *r, char *errbuf,
                        size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->o = *o;
    gs_err_t err = GS_OK;
    for (int i = 0; i < o->nsizes && err == GS_OK; i++) {
        progress(o, "state: %lld cells: %s", o->cells[i], "building open incidents...");
        err = state_size(o, o->cells[i], &r->rows[i], errbuf, errlen);
        if (err == GS_OK) r->nrows++;
    }
    if (o->progress) fprintf(o->progress, "\r%70s\r", "");
    return err;
}

void gs_bench_state_text(const gs_bench_state_res_t *r, FILE *f)
{
    fprintf(f,
            "bench state: 2 open incidents per active cell, one task, state.memory.bytes %lld "
            "MiB\n",
            (long long)(r->o.memory_bytes >> 20));
    fprintf(f, "  %9s %9s %9s %10s %10s %10s %10s %9s %10s %12s %10s\n", "cells", "incidents",
            "reports/s", "RSS/cell", "RSS/incid.", "table/inc.", "packed/inc", "ratio", "state RSS",
            "RocksDB RSS", "SST/incid.");
    for (int i = 0; i < r->nrows; i++) {
        const gs_bench_state_row_t *w = &r->rows[i];
        fprintf(f,
                "  %9lld %9lld %9.0f %10.0f %10.0f %10.0f %10.0f %9.2f %8.0f M %10.0f M %10.0f\n",
                (long long)w->cells, (long long)w->incidents, w->events_per_s, w->rss_per_cell,
                w->rss_per_incident, w->store_per_incident, w->packed_incident,
                w->packed_incident > 0 ? w->rss_per_incident / w->packed_incident : 0,
                (double)w->rss_state / 1048576.0, (double)w->rss_rocksdb / 1048576.0,
                w->rocksdb_per_incident);
    }
    fprintf(f, "  RSS/incid.: RSS of one more open incident in an active cell (target <= 256 B); "
               "RSS/cell: an active cell with its first incident;\n"
               "  table/inc.: key and value bytes in the hot table; packed/inc: the incident's "
               "gridstream.incidents record (reference), ratio = RSS/incid. / packed;\n"
               "  state RSS grows with the state: the hot table keeps every incident (no eviction "
               "yet), so RSS is not bounded by state.memory.bytes;\n"
               "  RocksDB RSS: what loading the state into RocksDB added (bounded by "
               "state.memory.bytes); SST: bytes on disk per incident.\n");
}

void gs_bench_state_json(const gs_bench_state_res_t *r, FILE *f)
{
    fprintf(f, "{\"mode\":\"state\",\"available\":true,\"memory_bytes\":%lld,\"rows\":[",
            (long long)r->o.memory_bytes);
    int64_t max_state = 0;
    for (int i = 0; i < r->nrows; i++) {
        const gs_bench_state_row_t *w = &r->rows[i];
        if (w->rss_state + w->rss_rocksdb > max_state) max_state = w->rss_state + w->rss_rocksdb;
        fprintf(f,
                "%s{\"cells\":%lld,\"incidents\":%lld,\"seconds\":%.3f,\"reports_per_s\":%.0f,"
                "\"rss_per_cell\":%.1f,\"rss_per_incident\":%.1f,\"table_bytes_per_incident\":%.1f,"
                "\"packed_incident_bytes\":%.1f,\"ratio\":%.3f,\"rss_state_bytes\":%lld,"
                "\"rss_rocksdb_bytes\":%lld,\"rocksdb_bytes\":%lld,"
                "\"rocksdb_bytes_per_incident\":%.1f}",
                i ? "," : "", (long long)w->cells, (long long)w->incidents, w->seconds,
                w->events_per_s, w->rss_per_cell, w->rss_per_incident, w->store_per_incident,
                w->packed_incident,
                w->packed_incident > 0 ? w->rss_per_incident / w->packed_incident : 0,
                (long long)w->rss_state, (long long)w->rss_rocksdb, (long long)w->rocksdb_bytes,
                w->rocksdb_per_incident);
    }
    fprintf(f,
            "],\"target_rss_per_incident\":256,\"rss_bounded_by_memory_bytes\":%s,"
            "\"bound_note\":\"the hot table keeps every incident; no eviction yet\"}\n",
            max_state <= r->o.memory_bytes ? "true" : "false");
}
