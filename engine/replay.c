/*
 * replay.c - `gridstream replay` (replay.h).
 *
 * For each partition p: open the four input files, keep one decoded head record per file, and
 * repeatedly apply the head with the smallest merge time (gs_merge_pick). A record that fails
 * validation or sits in the wrong partition goes to the DLQ file with its reason as key. A file
 * that runs out marks its partition idle. Tasks run one after the other: each task's results depend
 * only on its own records and watermark, so the order does not change any output.
 */
#include "replay.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "codes.h"
#include "recfile.h"
#include "rollup.h"
#include "timeutil.h"
#include "validate.h"

typedef struct out_ctx {
    gs_recwriter_t w[GS_OUT__COUNT];
    bool open;
    gs_replay_stats_t *st;
    FILE *scorecards;
} out_ctx_t;

/* Terminal columns of a UTF-8 string: East Asian wide characters take two. */
static int display_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp = *p;
        int len = 1;
        if (cp >= 0xf0 && p[1] && p[2] && p[3]) {
            cp = ((cp & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) |
                 (p[3] & 0x3fu);
            len = 4;
        } else if (cp >= 0xe0 && p[1] && p[2]) {
            cp = ((cp & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
            len = 3;
        } else if (cp >= 0xc0 && p[1]) {
            cp = ((cp & 0x1fu) << 6) | (p[1] & 0x3fu);
            len = 2;
        }
        bool wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
                    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
                    (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0x20000 && cp <= 0x3fffd);
        w += wide ? 2 : 1;
        p += len;
    }
    return w;
}

void gs_replay_print_scorecard(FILE *f, const void *val, size_t vlen)
{
    Gridstream__V1__Scorecard *sc = gridstream__v1__scorecard__unpack(NULL, vlen, val);
    if (!sc) return;
    /* E as a UTC date for people; the record carries the exact milliseconds */
    int64_t e = sc->evaluated_at_ms, year;
    unsigned mon, mday;
    gs_civil_from_days(e / GS_DAY_MS, &year, &mon, &mday);
    fprintf(f, "\nScorecard city %llu, %s (evaluated at %04lld-%02u-%02uT%02lld:%02lldZ)\n",
            (unsigned long long)sc->city, sc->month, (long long)year, mon, mday,
            (long long)(e % GS_DAY_MS / GS_HOUR_MS), (long long)(e % GS_HOUR_MS / GS_MINUTE_MS));
    fprintf(f, "  %4s %-8s %6s %5s %9s %7s %7s %7s %7s %7s %12s %s\n", "rank", "district", "score",
            "grade", "incidents", "capture", "filing", "rectif", "timely", "overdue", "reward_cny",
            "flags");
    for (size_t i = 0; i < sc->n_districts; i++) {
        const Gridstream__V1__DistrictScore *d = sc->districts[i];
        fprintf(f, "  %4u %-8llu %6.2f %5s %9llu %7.3f %7.3f %7.3f %7.3f %7llu %12lld %s%s\n",
                d->rank, (unsigned long long)d->district, d->score, d->grade,
                (unsigned long long)d->incidents, d->capture_rate, d->filing_rate,
                d->rectification_rate, d->timely_rate, (unsigned long long)d->overdue_open,
                (long long)d->reward_cny, d->fail ? "FAIL " : "",
                d->accountability ? "ACCOUNTABILITY" : "");
    }
    for (size_t i = 0; i < sc->n_departments && i < 5; i++) {
        const Gridstream__V1__DepartmentScore *d = sc->departments[i];
        int pad = 24 - display_width(d->department);
        fprintf(f, "  dept #%u %s%*s assigned %llu on time %llu (%.3f)\n", d->rank, d->department,
                pad > 0 ? pad : 0, "", (unsigned long long)d->assigned,
                (unsigned long long)d->rectified_on_time, d->timely_rate);
    }
    if (sc->n_departments > 5) fprintf(f, "  ... %zu departments in all\n", sc->n_departments);
    gridstream__v1__scorecard__free_unpacked(sc, NULL);
}

static void out_emit(void *ctx, gs_output_t topic, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
    out_ctx_t *o = ctx;
    o->st->out[topic]++;
    if (o->open) gs_recwriter_put(&o->w[topic], key, klen, val, vlen);
    if (topic == GS_OUT_SCORECARDS && o->scorecards)
        gs_replay_print_scorecard(o->scorecards, val, vlen);
}

static void partial_emit(void *ctx, const gs_partial_t *part)
{
    gs_rollup_add(ctx, part);
}

/* Largest partition number + 1 over the input topics; 0 if there is no input. */
static gs_err_t count_partitions(const char *input, uint32_t *n, char *errbuf, size_t errlen)
{
    struct stat sb;
    if (stat(input, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(errbuf, errlen, "%s: not a directory", input);
        return GS_ERR_IO;
    }
    uint32_t max = 0;
    bool any = false;
    for (int s = 0; s < GS_SRC__COUNT; s++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", input, gs_source_topic[s]);
        DIR *d = opendir(path);
        if (!d) continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            char *end;
            errno = 0;
            unsigned long v = strtoul(de->d_name, &end, 10);
            if (end == de->d_name || strcmp(end, ".rec") != 0 || errno || v > 65535) {
                snprintf(errbuf, errlen,
                         "%s/%s: unexpected file (inputs are <partition>.rec, partition 0..65535)",
                         path, de->d_name);
                closedir(d);
                return GS_ERR_IO;
            }
            any = true;
            if (v + 1 > max) max = (uint32_t)v + 1;
        }
        closedir(d);
    }
    if (!any) {
        snprintf(errbuf, errlen,
                 "%s: no input records: expected %s/<partition>.rec (or %s, %s, %s)", input,
                 gs_source_topic[0], gs_source_topic[1], gs_source_topic[2], gs_source_topic[3]);
        return GS_ERR_IO;
    }
    *n = max;
    return GS_OK;
}

typedef struct head {
    gs_recreader_t rd;
    bool has, idle;
    gs_rec_t rec;
    gs_event_t ev;
    gs_err_t verr;
    gs_arena_t arena;
} head_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_metrics(gs_task_metrics_t *a, const gs_task_metrics_t *b)
{
    const uint64_t *src = (const uint64_t *)b;
    uint64_t *dst = (uint64_t *)a;
    for (size_t i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
        dst[i] += src[i];
}

gs_err_t gs_replay_task(const gs_replay_task_opts_t *o, gs_recreader_t rd[GS_SRC__COUNT],
                        gs_replay_stats_t *st, char *errbuf, size_t errlen)
{
    head_t h[GS_SRC__COUNT];
    memset(h, 0, sizeof(h));
    gs_err_t err = GS_OK;
    uint32_t p = o->task, nparts = o->partitions;
    gs_task_t *t = gs_task_new(p, o->params, NULL, o->sink, o->parts);
    if (!t) return GS_ERR_NOMEM;
    for (int s = 0; s < GS_SRC__COUNT; s++) {
        h[s].rd = rd[s];
        gs_arena_init(&h[s].arena, 4096);
    }
    uint64_t done = 0;
    double last_progress = now_s();
    for (;;) {
        int64_t ht[GS_SRC__COUNT];
        bool has[GS_SRC__COUNT];
        for (int s = 0; s < GS_SRC__COUNT; s++) {
            head_t *hd = &h[s];
            if (!hd->has && gs_recreader_more(&hd->rd)) {
                if ((err = gs_recreader_next(&hd->rd, &hd->rec, errbuf, errlen)) != GS_OK) goto out;
                gs_arena_reset(&hd->arena);
                hd->verr = gs_validate((gs_source_t)s, hd->rec.key, hd->rec.klen, hd->rec.val,
                                       hd->rec.vlen, &hd->arena, &hd->ev);
                if (hd->verr == GS_OK &&
                    gs_partition_for_key(hd->rec.key, hd->rec.klen, nparts) != p)
                    hd->verr = GS_ERR_WRONG_PARTITION;
                hd->has = true;
            }
            if (!hd->has && !hd->idle) {
                hd->idle = true;
                gs_task_set_idle(t, (gs_source_t)s, true);
            }
            has[s] = hd->has;
            ht[s] = hd->ev.t;
        }
        int s = gs_merge_pick(ht, has);
        if (s < 0) break;
        head_t *hd = &h[s];
        hd->has = false;
        st->records_in[s]++;
        gs_err_t rej = hd->verr;
        if (rej == GS_OK) rej = gs_task_apply(t, &hd->ev);
        if (rej != GS_OK) {
            const char *reason = gs_err_str(rej);
            st->dlq[gs_reason_index(rej)]++;
            o->sink->emit(o->sink->ctx, GS_OUT_DLQ, reason, strlen(reason), hd->rec.val,
                          hd->rec.vlen);
        }
        if (++done == o->mark_at && o->mark) o->mark(o->mark_ctx, done);
        if ((done & 0xffff) == 0)
            gs_store_flush(gs_task_store(t), NULL,
                           NULL); /* nothing persists: drop the dirty marks */
        if (o->progress && (done & 0xffff) == 0 && now_s() - last_progress > 1.0) {
            last_progress = now_s();
            fprintf(o->progress, "\rtask %u/%u: %llu records", p + 1, nparts,
                    (unsigned long long)done);
            fflush(o->progress);
        }
    }
    if (o->mark) o->mark(o->mark_ctx, done); /* end of input, before the final flush */
    gs_task_finish(t);
    if ((err = gs_task_flush(t)) != GS_OK) snprintf(errbuf, errlen, "task %u: out of memory", p);
    add_metrics(&st->totals, gs_task_metrics(t));
out:
    for (int s = 0; s < GS_SRC__COUNT; s++) {
        rd[s] = h[s].rd;
        gs_arena_fini(&h[s].arena);
    }
    gs_task_destroy(t);
    return err;
}

static gs_err_t run_task(const gs_replay_opts_t *o, uint32_t p, uint32_t nparts,
                         const gs_sink_t *sink, const gs_partial_sink_t *parts,
                         gs_replay_stats_t *st, char *errbuf, size_t errlen)
{
    gs_recreader_t rd[GS_SRC__COUNT];
    memset(rd, 0, sizeof(rd));
    gs_err_t err = GS_OK;
    for (int s = 0; s < GS_SRC__COUNT && err == GS_OK; s++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s/%u.rec", o->input, gs_source_topic[s], p);
        err = gs_recreader_open(&rd[s], path, true, errbuf, errlen);
    }
    if (err == GS_OK) {
        gs_replay_task_opts_t to = {.params = o->params,
                                    .task = p,
                                    .partitions = nparts,
                                    .sink = sink,
                                    .parts = parts,
                                    .progress = o->progress};
        err = gs_replay_task(&to, rd, st, errbuf, errlen);
    }
    for (int s = 0; s < GS_SRC__COUNT; s++)
        gs_recreader_close(&rd[s]);
    return err;
}

gs_err_t gs_replay_run(const gs_replay_opts_t *o, gs_replay_stats_t *st, char *errbuf,
                       size_t errlen)
{
    memset(st, 0, sizeof(*st));
    double t0 = now_s();
    uint32_t nparts;
    gs_err_t err = count_partitions(o->input, &nparts, errbuf, errlen);
    if (err != GS_OK) return err;
    st->partitions = nparts;
    out_ctx_t oc = {.st = st, .scorecards = o->scorecards};
    if (o->output) {
        if (mkdir(o->output, 0777) != 0 && errno != EEXIST) {
            snprintf(errbuf, errlen, "%s: %s", o->output, strerror(errno));
            return GS_ERR_IO;
        }
        for (int i = 0; i < GS_OUT__COUNT; i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s.rec", o->output, gs_output_topic[i]);
            if ((err = gs_recwriter_open(&oc.w[i], path, errbuf, errlen)) != GS_OK) {
                for (int j = 0; j < i; j++)
                    gs_recwriter_close(&oc.w[j], errbuf, errlen);
                return err;
            }
        }
        oc.open = true;
    }
    gs_sink_t sink = {out_emit, &oc};
    gs_rollup_t *r = gs_rollup_new(o->params, nparts, NULL, &sink);
    if (!r) {
        err = GS_ERR_NOMEM;
        goto out;
    }
    gs_partial_sink_t parts = {partial_emit, r};
    for (uint32_t p = 0; p < nparts && err == GS_OK; p++)
        err = run_task(o, p, nparts, &sink, &parts, st, errbuf, errlen);
    if (o->progress) fprintf(o->progress, "\r%60s\r", "");
    if (err == GS_OK && (err = gs_rollup_flush(r)) != GS_OK)
        snprintf(errbuf, errlen, "rollup: out of memory");
out:
    gs_rollup_destroy(r);
    if (oc.open)
        for (int i = 0; i < GS_OUT__COUNT; i++) {
            char e2[512];
            if (gs_recwriter_close(&oc.w[i], e2, sizeof(e2)) != GS_OK && err == GS_OK) {
                snprintf(errbuf, errlen, "%s", e2);
                err = GS_ERR_IO;
            }
        }
    st->seconds = now_s() - t0;
    return err;
}

void gs_replay_print_summary(const gs_replay_stats_t *st, FILE *f)
{
    uint64_t in = 0, dlq = 0;
    for (int i = 0; i < GS_SRC__COUNT; i++)
        in += st->records_in[i];
    for (int i = 0; i < GS_REASON_COUNT; i++)
        dlq += st->dlq[i];
    const gs_task_metrics_t *m = &st->totals;
    fprintf(f, "replay: %llu records in %u partitions, %.2f s (%.0f records/s)\n",
            (unsigned long long)in, st->partitions, st->seconds,
            st->seconds > 0 ? (double)in / st->seconds : 0.0);
    fprintf(f, "  in:        reports %llu, sensors %llu, video %llu, cases %llu\n",
            (unsigned long long)st->records_in[0], (unsigned long long)st->records_in[1],
            (unsigned long long)st->records_in[2], (unsigned long long)st->records_in[3]);
    fprintf(f, "  dlq:       %llu", (unsigned long long)dlq);
    for (int i = 0; i < GS_REASON_COUNT; i++)
        if (st->dlq[i])
            fprintf(f, ", %s %llu", gs_err_str((gs_err_t)(-i - 1)), (unsigned long long)st->dlq[i]);
    fprintf(f, "\n");
    fprintf(f, "  dedup:     %llu exact duplicates dropped, %llu video detections ignored\n",
            (unsigned long long)m->duplicates_exact, (unsigned long long)m->video_ignored);
    fprintf(f, "  signals:   %llu -> %llu incidents (%llu merged), %llu case events applied\n",
            (unsigned long long)m->signals, (unsigned long long)m->incidents_opened,
            (unsigned long long)m->signals_merged, (unsigned long long)m->case_events);
    fprintf(f, "  alerts:    hotspot %llu, critical %llu, overdue %llu, repeated rework %llu\n",
            (unsigned long long)m->alerts[1], (unsigned long long)m->alerts[2],
            (unsigned long long)m->alerts[3], (unsigned long long)m->alerts[4]);
    fprintf(f, "  out:       kpi %llu, incidents %llu, alerts %llu, scorecards %llu, dlq %llu\n",
            (unsigned long long)st->out[GS_OUT_KPI], (unsigned long long)st->out[GS_OUT_INCIDENTS],
            (unsigned long long)st->out[GS_OUT_ALERTS],
            (unsigned long long)st->out[GS_OUT_SCORECARDS],
            (unsigned long long)st->out[GS_OUT_DLQ]);
    if (m->kpi_late_dropped)
        fprintf(f, "  late:      %llu KPI window changes past retention dropped\n",
                (unsigned long long)m->kpi_late_dropped);
}
