/*
 * plan.c - `gridstream bench plan`: the cores, partitions, stream threads, instances, memory and
 * disk a city needs, derived from figures measured by `gridstream bench report` (results.json)
 * and from assumptions that are printed with every plan.
 *
 * The model, deliberately simple and stated in the output:
 * - load: the average raw events/s times a peak factor;
 * - CPU: a stream thread does the measured in-process records/s, times the measured multi-thread
 *   scaling, times a Kafka factor (consume, produce, transactions: the e2e mode's exactly_once
 *   1-thread rate over the in-process rate when measured, else assumed to halve it), at a target
 *   utilisation; one stream thread per core;
 * - memory: the hot table keeps every incident (no eviction yet), so incidents opened over the
 *   retention period times the measured RSS per incident, plus the measured RSS per active cell,
 *   with headroom, plus state.memory.bytes and a fixed process share per instance;
 * - disk: the same incidents times the measured RocksDB bytes per incident, doubled for
 *   compaction space.
 * Presets are cities whose scale was published; the raw-signal rates are assumptions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_int.h"

#define PEAK_FACTOR 3.0
#define KAFKA_FACTOR 0.5
#define UTILISATION 0.5
#define CORES_PER_INSTANCE 8
#define MIN_INSTANCES 2
#define MIN_PARTITIONS 12
#define MEMORY_HEADROOM 1.5
#define INSTANCE_FIXED_BYTES (256.0 * 1048576.0)
#define INSTANCE_MAX_STATE_BYTES (32.0 * 1073741824.0)
#define DISK_FACTOR 2.0

typedef struct source {
    const char *what;
    double units;
    double per_day; /* events per unit and day */
    const char *rate_note;
} source_t;

typedef struct preset {
    const char *name, *title, *published;
    double cells;
    const char *cells_note;
    double incidents_per_day;
    const char *incidents_note;
    double retention_days;
    source_t src[6];
} preset_t;

/* Fuzhou: 300 000 valid cases a quarter = 3 297 a day. */
#define FZ_CASES (300000.0 / 91.0)
#define CD_INCIDENTS 20000.0
#define ZZ_INCIDENTS 5000.0

static const preset_t presets[] = {
    {"fuzhou",
     "Fuzhou-scale city",
     "about 300 000 valid cases a quarter",
     20000,
     "assumed",
     2 * FZ_CASES,
     "2 per valid case (assumed: half never become a valid case)",
     90,
     {{"valid cases: lifecycle events", FZ_CASES, 6, "6 events per case (assumed)"},
      {"reports (public, inspectors)", FZ_CASES, 4, "4 raw reports per valid case (assumed)"}}},
    {"chengdu",
     "Chengdu-scale camera network",
     "10 000+ cameras feeding video analytics",
     50000,
     "assumed",
     CD_INCIDENTS,
     "assumed: one per 144 detections once bursts merge",
     90,
     {{"cameras: video analytics detections", 10000, 288, "one per camera every 5 min (assumed)"},
      {"case lifecycle events", CD_INCIDENTS / 2, 6, "half the incidents become cases, 6 events"}}},
    {"zhengzhou",
     "Zhengzhou's IoT estate",
     "332 500 parking berths, 4 716 muck trucks, 2 604 construction sites online",
     40000,
     "assumed",
     ZZ_INCIDENTS,
     "assumed: overstays, route and dust alarms that open incidents",
     90,
     {{"parking berth sensors", 332500, 144, "a reading every 10 min (assumed)"},
      {"muck trucks (position, state)", 4716, 2880, "a reading every 30 s (assumed)"},
      {"construction sites (dust, noise)", 2604, 1440, "a reading every minute (assumed)"},
      {"case lifecycle events", ZZ_INCIDENTS / 2, 6, "half the incidents become cases, 6 events"}}},
    {"province",
     "a province of 20 such cities",
     "20 cities, each with Fuzhou's cases, Chengdu's cameras and Zhengzhou's IoT estate",
     20 * 110000.0,
     "20 x (20 000 + 50 000 + 40 000), assumed",
     20 * (2 * FZ_CASES + CD_INCIDENTS + ZZ_INCIDENTS),
     "20 x the three cities' incidents",
     90,
     {{"valid cases and reports (Fuzhou)", 20 * FZ_CASES, 10, "as fuzhou"},
      {"cameras (Chengdu)", 20 * 10000.0, 288, "as chengdu"},
      {"parking berths (Zhengzhou)", 20 * 332500.0, 144, "as zhengzhou"},
      {"muck trucks (Zhengzhou)", 20 * 4716.0, 2880, "as zhengzhou"},
      {"construction sites (Zhengzhou)", 20 * 2604.0, 1440, "as zhengzhou"},
      {"case lifecycle events", 20 * (CD_INCIDENTS + ZZ_INCIDENTS) / 2, 6, "as above"}}},
};
#define NPRESETS (sizeof(presets) / sizeof(presets[0]))

typedef struct plan_in {
    const char *title, *published;
    double cells, eps, incidents_per_day, retention_days;
} plan_in_t;

typedef struct plan_out {
    double peak_eps, thread_rps;
    int load_cores; /* what the peak load needs */
    int cores;      /* in all: stream threads per instance x instances, one core each */
    int instances, threads_per_instance, partitions;
    double incidents_kept, hot_bytes, memory_per_instance, disk_per_instance;
} plan_out_t;

static double kafka_factor(const gs_bench_figures_t *fg)
{
    return fg->kafka_factor > 0 && fg->kafka_factor <= 1 ? fg->kafka_factor : KAFKA_FACTOR;
}

static void compute(const gs_bench_figures_t *fg, const plan_in_t *in, plan_out_t *o)
{
    memset(o, 0, sizeof(*o));
    o->peak_eps = in->eps * PEAK_FACTOR;
    double scaling = fg->scaling > 0 && fg->scaling <= 1 ? fg->scaling : 1;
    o->thread_rps = fg->per_core_rps * scaling * kafka_factor(fg) * UTILISATION;
    o->load_cores = (int)ceil(o->peak_eps / o->thread_rps);
    if (o->load_cores < 1) o->load_cores = 1;
    o->incidents_kept = in->incidents_per_day * in->retention_days;
    o->hot_bytes =
        (o->incidents_kept * fg->rss_per_incident + in->cells * fg->rss_per_cell) * MEMORY_HEADROOM;
    int by_cpu = (o->load_cores + CORES_PER_INSTANCE - 1) / CORES_PER_INSTANCE;
    int by_mem = (int)ceil(o->hot_bytes / INSTANCE_MAX_STATE_BYTES);
    o->instances = MIN_INSTANCES;
    if (by_cpu > o->instances) o->instances = by_cpu;
    if (by_mem > o->instances) o->instances = by_mem;
    o->threads_per_instance = (o->load_cores + o->instances - 1) / o->instances;
    o->cores = o->threads_per_instance * o->instances;
    o->partitions = 2 * o->cores;
    if (o->partitions < MIN_PARTITIONS) o->partitions = MIN_PARTITIONS;
    o->memory_per_instance = o->hot_bytes / o->instances + fg->memory_bytes + INSTANCE_FIXED_BYTES;
    o->disk_per_instance =
        o->incidents_kept * fg->rocksdb_per_incident * DISK_FACTOR / o->instances;
}

static double gib(double b)
{
    return b / 1073741824.0;
}

static void print_plan(const gs_bench_figures_t *fg, const preset_t *p, const plan_in_t *in,
                       FILE *f, bool md)
{
    plan_out_t o;
    compute(fg, in, &o);
    const char *b = md ? "- " : "  ";
    if (md)
        fprintf(f, "\n#### %s (%s)\n\n", in->title, in->published);
    else
        fprintf(f, "\nplan: %s (%s)\n", in->title, in->published);
    if (p) {
        fprintf(f, "%sraw signals, rates assumed:\n", b);
        for (int i = 0; i < 6 && p->src[i].what; i++) {
            const source_t *s = &p->src[i];
            fprintf(f, "%s  %s: %.0f x %.0f/day (%s) = %.1f events/s\n", md ? "  " : "  ", s->what,
                    s->units, s->per_day, s->rate_note, s->units * s->per_day / 86400.0);
        }
        fprintf(f, "%scells %.0f (%s); incidents %.0f/day (%s); retention %.0f days\n", b,
                in->cells, p->cells_note, in->incidents_per_day, p->incidents_note,
                in->retention_days);
    } else {
        fprintf(f, "%scells %.0f; incidents %.0f/day; retention %.0f days\n", b, in->cells,
                in->incidents_per_day, in->retention_days);
    }
    fprintf(f, "%sload: %.1f events/s on average, %.1f/s at peak (x%.0f)\n", b, in->eps, o.peak_eps,
            PEAK_FACTOR);
    fprintf(f,
            "%sneeds: %d instances x (%d core%s, %d stream thread%s, %.1f GiB memory, %.1f GiB "
            "disk) = %d cores (the peak load alone needs %d), %d partitions, %.1f GiB memory, "
            "%.1f GiB disk\n",
            b, o.instances, o.threads_per_instance, o.threads_per_instance > 1 ? "s" : "",
            o.threads_per_instance, o.threads_per_instance > 1 ? "s" : "",
            gib(o.memory_per_instance), gib(o.disk_per_instance), o.cores, o.load_cores,
            o.partitions, gib(o.memory_per_instance * o.instances),
            gib(o.disk_per_instance * o.instances));
    fprintf(f, "%sstate: %.0f incidents kept x %.0f B RSS + %.0f cells x %.0f B, x%.1f headroom\n",
            b, o.incidents_kept, fg->rss_per_incident, in->cells, fg->rss_per_cell,
            MEMORY_HEADROOM);
}

static void print_assumptions(const gs_bench_figures_t *fg, FILE *f, bool md)
{
    const char *b = md ? "- " : "  ";
    fprintf(f,
            "%smeasured (%s): %.0f records/s per stream thread in process, scaling %.2f, %.0f B "
            "RSS per open incident, %.0f B per active cell, %.0f B of RocksDB per incident\n",
            b, fg->source, fg->per_core_rps, fg->scaling, fg->rss_per_incident, fg->rss_per_cell,
            fg->rocksdb_per_incident);
    bool kf = fg->kafka_factor > 0 && fg->kafka_factor <= 1;
    char kafka[256];
    if (kf)
        snprintf(kafka, sizeof(kafka),
                 "through Kafka a stream thread keeps x%.3f of the in-process rate (measured: e2e "
                 "exactly_once, 1 thread, embedded cluster on the same cores)",
                 fg->kafka_factor);
    else
        snprintf(kafka, sizeof(kafka),
                 "Kafka consume/produce/transactions halve the in-process rate (x%.1f, assumed: "
                 "no e2e figure in these results)",
                 KAFKA_FACTOR);
    fprintf(f,
            "%sassumed: peak = %.0f x average; %s; %.0f %% target CPU; one "
            "stream thread per core, at most %d cores and %.0f GiB of state per instance, at least "
            "%d instances; partitions = 2 x stream threads (at least %d); the hot table keeps "
            "every incident of the retention period (no eviction yet), x%.1f headroom; "
            "state.memory.bytes %.0f MiB + %.0f MiB per instance; disk x%.0f for compaction; Kafka "
            "brokers (changelogs, inputs) not included\n",
            b, PEAK_FACTOR, kafka, UTILISATION * 100, CORES_PER_INSTANCE,
            gib(INSTANCE_MAX_STATE_BYTES), MIN_INSTANCES, MIN_PARTITIONS, MEMORY_HEADROOM,
            fg->memory_bytes / 1048576.0, INSTANCE_FIXED_BYTES / 1048576.0, DISK_FACTOR);
}

static void preset_input(const preset_t *p, plan_in_t *in)
{
    in->title = p->title;
    in->published = p->published;
    in->cells = p->cells;
    in->incidents_per_day = p->incidents_per_day;
    in->retention_days = p->retention_days;
    in->eps = 0;
    for (int i = 0; i < 6 && p->src[i].what; i++)
        in->eps += p->src[i].units * p->src[i].per_day / 86400.0;
}

static void plan_json(const gs_bench_figures_t *fg, const char *name, const plan_in_t *in, FILE *f)
{
    plan_out_t o;
    compute(fg, in, &o);
    fprintf(f, "{\"preset\":");
    gs_bench_json_str(f, name);
    fprintf(
        f,
        ",\"cells\":%.0f,\"events_per_second\":%.3f,\"incidents_per_day\":%.1f,"
        "\"retention_days\":%.0f,\"peak_events_per_second\":%.3f,\"load_cores\":%d,\"cores\":%d,"
        "\"stream_threads\":%d,\"instances\":%d,\"partitions\":%d,"
        "\"memory_bytes_per_instance\":%.0f,\"disk_bytes_per_instance\":%.0f,"
        "\"incidents_kept\":%.0f,\"assumptions\":{\"peak_factor\":%.1f,\"kafka_factor\":%.3f,"
        "\"utilisation\":%.2f,\"cores_per_instance\":%d,\"min_instances\":%d,"
        "\"memory_headroom\":%.2f,\"disk_factor\":%.1f},\"measured\":",
        in->cells, in->eps, in->incidents_per_day, in->retention_days, o.peak_eps, o.load_cores,
        o.cores, o.threads_per_instance * o.instances, o.instances, o.partitions,
        o.memory_per_instance, o.disk_per_instance, o.incidents_kept, PEAK_FACTOR, kafka_factor(fg),
        UTILISATION, CORES_PER_INSTANCE, MIN_INSTANCES, MEMORY_HEADROOM, DISK_FACTOR);
    gs_bench_figures_json(fg, f);
    fprintf(f, "}");
}

void gs_bench_plan_presets(const gs_bench_figures_t *fg, FILE *f, bool md)
{
    for (size_t i = 0; i < NPRESETS; i++) {
        plan_in_t in;
        preset_input(&presets[i], &in);
        print_plan(fg, &presets[i], &in, f, md);
    }
    fprintf(f, md ? "\n#### Basis\n\n" : "\nbasis:\n");
    print_assumptions(fg, f, md);
}

void gs_bench_figures_json(const gs_bench_figures_t *fg, FILE *f)
{
    fprintf(f,
            "{\"planner_per_core_records_per_s\":%.1f,\"planner_scaling\":%.4f,"
            "\"planner_rss_per_incident\":%.1f,\"planner_rss_per_cell\":%.1f,"
            "\"planner_rocksdb_bytes_per_incident\":%.1f,\"planner_memory_bytes\":%.0f,"
            "\"planner_kafka_factor\":%.4f,\"planner_source\":",
            fg->per_core_rps, fg->scaling, fg->rss_per_incident, fg->rss_per_cell,
            fg->rocksdb_per_incident, fg->memory_bytes, fg->kafka_factor);
    gs_bench_json_str(f, fg->source);
    fprintf(f, "}");
}

/* The number after "name": in text (keys are unique in results.json); false if absent. */
static bool json_number(const char *text, const char *name, double *v)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    const char *p = strstr(text, pat);
    if (!p) return false;
    char *end;
    *v = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat);
}

gs_err_t gs_bench_figures_load(const char *path, gs_bench_figures_t *fg, char *errbuf,
                               size_t errlen)
{
    memset(fg, 0, sizeof(*fg));
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errbuf, errlen, "%s: cannot open (run gridstream bench report first)", path);
        return GS_ERR_IO;
    }
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    struct {
        const char *name;
        double *v;
    } keys[] = {{"planner_per_core_records_per_s", &fg->per_core_rps},
                {"planner_scaling", &fg->scaling},
                {"planner_rss_per_incident", &fg->rss_per_incident},
                {"planner_rss_per_cell", &fg->rss_per_cell},
                {"planner_rocksdb_bytes_per_incident", &fg->rocksdb_per_incident},
                {"planner_memory_bytes", &fg->memory_bytes}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!json_number(text, keys[i].name, keys[i].v)) {
            snprintf(errbuf, errlen, "%s: no %s (written by an older gridstream bench report?)",
                     path, keys[i].name);
            return GS_ERR_FORMAT;
        }
    if (!json_number(text, "planner_kafka_factor", &fg->kafka_factor)) /* older results */
        fg->kafka_factor = 0;
    if (fg->per_core_rps <= 0) {
        snprintf(errbuf, errlen, "%s: planner_per_core_records_per_s is not positive", path);
        return GS_ERR_FORMAT;
    }
    const char *s = strstr(text, "\"planner_source\":\"");
    if (s) {
        s += strlen("\"planner_source\":\"");
        size_t l = strcspn(s, "\"");
        snprintf(fg->source, sizeof(fg->source), "%.*s", (int)l, s);
    }
    return GS_OK;
}

int gs_bench_plan_main(int argc, char **argv)
{
    const char *results = "bench/results.json", *preset = NULL;
    double cells = 0, eps = 0, days = 0, inc = -1;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (!v) goto usage;
        i++;
        if (strcmp(a, "--preset") == 0)
            preset = v;
        else if (strcmp(a, "--results") == 0)
            results = v;
        else if (strcmp(a, "--cells") == 0)
            cells = strtod(v, NULL);
        else if (strcmp(a, "--events-per-second") == 0)
            eps = strtod(v, NULL);
        else if (strcmp(a, "--retention-days") == 0)
            days = strtod(v, NULL);
        else if (strcmp(a, "--incidents-per-day") == 0)
            inc = strtod(v, NULL);
        else
            goto usage;
    }
    const preset_t *p = NULL;
    plan_in_t in = {0};
    if (preset) {
        for (size_t i = 0; i < NPRESETS; i++)
            if (strcmp(preset, presets[i].name) == 0 || strcmp(preset, "all") == 0) p = &presets[i];
        if (!p) goto usage;
        if (strcmp(preset, "all") != 0) preset_input(p, &in);
    } else {
        if (!(cells >= 1 && eps > 0 && days > 0)) goto usage;
        in.title = "custom city";
        in.published = "figures given on the command line";
        in.cells = cells;
        in.eps = eps;
        in.retention_days = days;
        /* without a figure: one incident per 100 raw events (assumed, and said so) */
        in.incidents_per_day = inc >= 0 ? inc : eps * 86400.0 / 100.0;
    }
    gs_bench_figures_t fg;
    char err[1024];
    if (gs_bench_figures_load(results, &fg, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench plan: %s\n", err);
        return 1;
    }
    if (preset && strcmp(preset, "all") == 0) {
        if (json) {
            printf("[");
            for (size_t i = 0; i < NPRESETS; i++) {
                preset_input(&presets[i], &in);
                if (i) printf(",");
                plan_json(&fg, presets[i].name, &in, stdout);
            }
            printf("]\n");
        } else {
            gs_bench_plan_presets(&fg, stdout, false);
        }
        return 0;
    }
    if (json) {
        plan_json(&fg, p ? p->name : "custom", &in, stdout);
        printf("\n");
        return 0;
    }
    print_plan(&fg, p, &in, stdout, false);
    if (!p && inc < 0)
        printf("  incidents/day not given: assumed one per 100 raw events "
               "(--incidents-per-day N)\n");
    printf("\nbasis:\n");
    print_assumptions(&fg, stdout, false);
    return 0;
usage:
    fprintf(stderr,
            "usage: gridstream bench plan (--preset fuzhou|chengdu|zhengzhou|province|all |\n"
            "       --cells C --events-per-second E --retention-days D [--incidents-per-day N])\n"
            "       [--results bench/results.json] [--json]\n");
    return 2;
}
