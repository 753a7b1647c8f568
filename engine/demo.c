/*
 * demo.c - `gridstream demo`: the embedded cluster, a synthetic city produced to it, and the
 * engine running over it with a live one-screen view, then the month's scorecards.
 *
 * The city is produced first (gen, as fast as the cluster takes it), then the engine runs with
 * --until-end semantics: it processes the whole simulated period in event time, then ends the
 * input as replay does, so that every window closes and every month's scorecard is evaluated.
 * While it runs, a reader of the output topics (read_committed, like any analyst's consumer)
 * keeps the figures of the view: hotspot alerts per cell and the latest DISTRICT MONTH KPIs.
 */
#include "demo.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "gen.h"
#include "replay.h"
#include "run.h"
#include "statedb.h"
#include "topics.h"

#define TOP_CELLS 4096
#define MAX_DISTRICTS 64

typedef struct view {
    struct {
        uint64_t cell;
        uint32_t n;
    } hot[TOP_CELLS];
    int nhot;
    struct {
        uint64_t district;
        int64_t start;
        uint64_t incidents, captured, filed, rectified, on_time;
    } dist[MAX_DISTRICTS];
    int ndist;
    uint64_t scorecards;
    char months[8][8];
    int nmonths;
} view_t;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void view_alert(view_t *v, const void *val, size_t len)
{
    Gridstream__V1__Alert *a = gridstream__v1__alert__unpack(NULL, len, val);
    if (!a) return;
    if (a->kind == GRIDSTREAM__V1__ALERT_KIND__HOTSPOT) {
        int i;
        for (i = 0; i < v->nhot && v->hot[i].cell != a->cell; i++)
            ;
        if (i == v->nhot && v->nhot < TOP_CELLS) v->hot[v->nhot++].cell = a->cell;
        if (i < v->nhot) v->hot[i].n++;
    }
    gridstream__v1__alert__free_unpacked(a, NULL);
}

static void view_kpi(view_t *v, const void *val, size_t len)
{
    Gridstream__V1__KpiRecord *k = gridstream__v1__kpi_record__unpack(NULL, len, val);
    if (!k) return;
    if (k->level == GRIDSTREAM__V1__LEVEL__DISTRICT &&
        k->window == GRIDSTREAM__V1__WINDOW_KIND__MONTH) {
        int i;
        for (i = 0; i < v->ndist && v->dist[i].district != k->scope; i++)
            ;
        if (i == v->ndist && v->ndist < MAX_DISTRICTS) v->dist[v->ndist++].district = k->scope;
        if (i < v->ndist && k->window_start_ms >= v->dist[i].start) { /* the latest month */
            v->dist[i].start = k->window_start_ms;
            v->dist[i].incidents = k->incidents;
            v->dist[i].captured = k->captured;
            v->dist[i].filed = k->filed;
            v->dist[i].rectified = k->rectified;
            v->dist[i].on_time = k->rectified_on_time;
        }
    }
    gridstream__v1__kpi_record__free_unpacked(k, NULL);
}

static rd_kafka_t *reader_new(const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "group.id", "gridstream-demo-view", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Assigns every partition of the view's topics from the beginning. */
static void reader_assign(rd_kafka_t *rk, int partitions)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(3 * partitions + 1);
    const char *topics[] = {"gridstream.alerts", "gridstream.kpi"};
    for (int t = 0; t < 2; t++)
        for (int p = 0; p < partitions; p++)
            rd_kafka_topic_partition_list_add(l, topics[t], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_topic_partition_list_add(l, "gridstream.scorecards", 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

typedef struct sc_list {
    void **val;
    size_t *len;
    size_t n, cap, lcap;
} sc_list_t;

static void reader_poll(rd_kafka_t *rk, view_t *v, sc_list_t *sc, int max_ms)
{
    int64_t until = (int64_t)time(NULL) * 1000 + max_ms;
    for (int i = 0; i < 50000; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, i == 0 ? 50 : 0);
        if (!m) break;
        if (!m->err && m->payload) {
            const char *t = rd_kafka_topic_name(m->rkt);
            if (strcmp(t, "gridstream.alerts") == 0)
                view_alert(v, m->payload, m->len);
            else if (strcmp(t, "gridstream.kpi") == 0)
                view_kpi(v, m->payload, m->len);
            else if (strcmp(t, "gridstream.scorecards") == 0 &&
                     GS_RESERVE(sc->val, sc->cap, sc->n + 1) &&
                     GS_RESERVE(sc->len, sc->lcap, sc->n + 1) &&
                     (sc->val[sc->n] = malloc(m->len))) {
                memcpy(sc->val[sc->n], m->payload, m->len);
                sc->len[sc->n++] = m->len;
            }
        }
        rd_kafka_message_destroy(m);
        if ((int64_t)time(NULL) * 1000 > until) break;
    }
}

static int hot_cmp(const void *a, const void *b)
{
    const uint32_t *x = (const uint32_t *)((const char *)a + sizeof(uint64_t));
    const uint32_t *y = (const uint32_t *)((const char *)b + sizeof(uint64_t));
    return (*y > *x) - (*y < *x);
}

static double rate(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void draw(const gs_run_stats_t *st, const view_t *v0, double secs, double rps, bool tty)
{
    view_t *v = malloc(sizeof(*v));
    if (!v) return;
    memcpy(v, v0, sizeof(*v));
    qsort(v->hot, (size_t)v->nhot, sizeof(v->hot[0]), hot_cmp);
    uint64_t in = 0, dlq = 0;
    for (int i = 0; i < GS_SRC__COUNT; i++)
        in += st->records_in[i];
    for (int i = 0; i < GS_REASON_COUNT; i++)
        dlq += st->dlq[i];
    if (tty) printf("\033[H\033[J");
    char wm[32] = "-";
    if (st->min_watermark != GS_TIME_MIN && st->min_watermark != GS_TIME_MAX) {
        time_t t = (time_t)(st->min_watermark / 1000 + 8 * 3600);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(wm, sizeof(wm), "%Y-%m-%d %H:%M", &tm);
    } else if (st->min_watermark == GS_TIME_MAX) {
        snprintf(wm, sizeof(wm), "end of input");
    }
    printf("gridstream demo  %.0f s  |  %" PRIu64 " records in, %.0f/s  |  lag %" PRIu64
           "  |  event time (UTC+8) %s\n",
           secs, in, rps, st->lag, wm);
    printf("tasks %d, rollups %d, commits %" PRIu64 ", DLQ %" PRIu64 "\n\n", st->tasks, st->rollups,
           st->commits, dlq);
    printf("incidents opened %" PRIu64 " from %" PRIu64 " signals (%" PRIu64
           " duplicates dropped)\n",
           st->incidents_opened, st->signals, st->duplicates);
    printf("alerts: hotspot %" PRIu64 ", critical %" PRIu64 ", overdue %" PRIu64
           ", repeated rework %" PRIu64 "\n\n",
           st->alerts[1], st->alerts[2], st->alerts[3], st->alerts[4]);
    printf("top hotspots (HOTSPOT alerts per cell):\n");
    for (int i = 0; i < v->nhot && i < 5; i++)
        printf("  cell %-18" PRIu64 " %u\n", v->hot[i].cell, v->hot[i].n);
    if (!v->nhot) printf("  none yet\n");
    printf("\ndistricts, latest month (from gridstream.kpi):\n");
    printf("  %-12s %9s %8s %8s %8s %8s\n", "district", "incidents", "capture", "filing", "rectif",
           "timely");
    for (int i = 0; i < v->ndist && i < 8; i++)
        printf("  %-12" PRIu64 " %9" PRIu64 " %8.3f %8.3f %8.3f %8.3f\n", v->dist[i].district,
               v->dist[i].incidents, rate(v->dist[i].captured, v->dist[i].incidents),
               rate(v->dist[i].filed, v->dist[i].incidents),
               rate(v->dist[i].rectified, v->dist[i].filed),
               rate(v->dist[i].on_time, v->dist[i].filed));
    if (!v->ndist) printf("  none yet (a month's window is emitted once it closes)\n");
    printf("\nscorecards emitted: %" PRIu64 "   (Ctrl-C stops cleanly)\n",
           st->out[GS_OUT_SCORECARDS]);
    fflush(stdout);
    free(v);
}

static void demo_usage(FILE *f)
{
    fprintf(f,
            "usage: gridstream demo [--cells C] [--days D] [--partitions N] [--seed S]\n"
            "                       [--config FILE] [--set key=value]...\n"
            "\n"
            "Starts the embedded cluster, produces a synthetic city to it (gen: C cells, default\n"
            "200, over D days from 2024-03-01, default 45), runs the engine over it with a live\n"
            "view (records/s, lag, incidents, alerts by kind, top hotspots, district KPIs), then\n"
            "prints each month's scorecard. Ctrl-C stops cleanly. State goes to state.dir\n"
            "(default /tmp/gridstream; the demo uses application.id gridstream-demo and wipes its\n"
            "state first, since the cluster starts empty).\n");
}

int gs_demo_main(int argc, char **argv)
{
    const char *cells = "200", *days = "45", *seed = "1";
    int partitions = 4;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            demo_usage(stdout);
            return 0;
        }
        bool val = i + 1 < argc;
        if (val && strcmp(argv[i], "--cells") == 0)
            cells = argv[++i];
        else if (val && strcmp(argv[i], "--days") == 0)
            days = argv[++i];
        else if (val && strcmp(argv[i], "--seed") == 0)
            seed = argv[++i];
        else if (val && strcmp(argv[i], "--partitions") == 0) {
            if (!gs_topics_parse_partitions(argv[++i], &partitions) || partitions > 64) {
                fprintf(stderr, "gridstream demo: --partitions: '%s' is not a count in 1..64\n",
                        argv[i]);
                return 2;
            }
        } else if (val && (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--set") == 0))
            i++;
        else {
            fprintf(stderr, "gridstream demo: unknown option '%s'\n\n", argv[i]);
            demo_usage(stderr);
            return 2;
        }
    }
    extern char **environ;
    gs_config_t cfg;
    if (gs_config_from_cli(&cfg, NULL, argc, argv, environ) != GS_OK) return 2;
    if (cfg.bootstrap_servers[0]) {
        fprintf(stderr, "gridstream demo: runs on the embedded cluster; unset bootstrap.servers\n");
        return 2;
    }
    snprintf(cfg.application_id, sizeof(cfg.application_id), "gridstream-demo");
    if (cfg.log_level < 3) cfg.log_level = 3; /* the screen is the view: errors only */
    cfg.metrics_port = 0;
    char dir[2100];
    snprintf(dir, sizeof(dir), "%s/gridstream-demo", cfg.state_dir);
    if (gs_statedb_remove_dir(dir) != 0) {
        fprintf(stderr, "gridstream demo: cannot clear %s: %s\n", dir, strerror(errno));
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* the cluster first, then the city, then the engine: it reads what the topics hold */
    char err[1024];
    fprintf(stderr, "gridstream demo: starting the embedded cluster ...\n");
    gs_topic_spec_t plan[GS_TOPICS_COUNT];
    size_t np = gs_topics_plan(&cfg, partitions, plan, GS_TOPICS_COUNT);
    gs_cluster_t *cl = gs_cluster_start(3, plan, np, err, sizeof(err));
    if (!cl) {
        fprintf(stderr, "gridstream demo: %s\n", err);
        return 1;
    }
    const char *bs = gs_cluster_bootstrap(cl);
    snprintf(cfg.bootstrap_servers, sizeof(cfg.bootstrap_servers), "%s", bs);
    char parts[16];
    snprintf(parts, sizeof(parts), "%d", partitions);
    char *gargv[] = {"--bootstrap",  (char *)bs,   "--cells", (char *)cells,
                     "--days",       (char *)days, "--seed",  (char *)seed,
                     "--partitions", parts,        NULL};
    fprintf(stderr, "gridstream demo: producing the city (gen --cells %s --days %s) to %s\n", cells,
            days, bs);
    int grc = gs_gen_main(10, gargv);
    if (grc != 0 || g_stop) {
        gs_cluster_stop(cl);
        return grc ? grc : 0;
    }
    fprintf(stderr,
            "gridstream demo: starting the engine (joining the group takes a few seconds)\n");
    gs_run_opts_t o = {.until_end = true, .quiet = true};
    gs_run_t *r = gs_run_start(&cfg, &o, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "gridstream demo: %s\n", err);
        gs_cluster_stop(cl);
        return 1;
    }
    rd_kafka_t *rk = reader_new(gs_run_bootstrap(r));
    if (rk) reader_assign(rk, partitions);
    view_t *v = calloc(1, sizeof(*v));
    sc_list_t sc = {0};
    bool tty = isatty(STDOUT_FILENO);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t last_in = 0;
    double last_t = 0;
    while (!gs_run_finished(r) && !g_stop) {
        if (rk && v) reader_poll(rk, v, &sc, 300);
        usleep(200000);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (secs - last_t >= (tty ? 0.5 : 5.0) && v) {
            gs_run_stats_t st;
            gs_run_stats(r, &st);
            uint64_t in = 0;
            for (int i = 0; i < GS_SRC__COUNT; i++)
                in += st.records_in[i];
            draw(&st, v, secs, (double)(in - last_in) / (secs - last_t), tty);
            last_in = in;
            last_t = secs;
        }
    }
    bool interrupted = g_stop;
    gs_run_stats_t st;
    gs_run_stats(r, &st);
    if (rk && v && !interrupted) {
        /* what the last commits made visible: every scorecard the engine wrote */
        for (int i = 0; i < 100 && sc.n < st.out[GS_OUT_SCORECARDS]; i++)
            reader_poll(rk, v, &sc, 300);
        reader_poll(rk, v, &sc, 300);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        draw(&st, v, secs, 0, false);
        for (size_t i = 0; i < sc.n; i++)
            gs_replay_print_scorecard(stdout, sc.val[i], sc.len[i]);
    }
    gs_run_stop(r);
    int rc = gs_run_join(r) ? 1 : 0;
    if (interrupted) printf("\ngridstream demo: interrupted; the engine committed and stopped\n");
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    gs_cluster_stop(cl);
    for (size_t i = 0; i < sc.n; i++)
        free(sc.val[i]);
    free(sc.val);
    free(sc.len);
    free(v);
    return rc;
}
