/*
 * metrics.c - the metrics registry and its Prometheus text exposition (metrics.h).
 *
 * Families and series are linked lists built at start; every cell is its own 64-byte aligned
 * allocation so that cells updated by different stream threads never share a cache line. A
 * histogram keeps one non-cumulative count per bucket (an observation touches one bucket and the
 * sum) and is made cumulative when written; its _count is the sum of its buckets, so _count always
 * equals the +Inf bucket of the same scrape.
 */
#include "metrics.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GS_VERSION
#define GS_VERSION "unknown"
#endif

#define MAX_COLLECTORS 8

struct gs_histogram {
    _Alignas(64) _Atomic uint64_t sum;
    const struct gs_metric_family *f;
    _Atomic uint64_t bucket[GS_METRICS_MAX_BUCKETS + 1]; /* [nbuckets] is +Inf */
};

typedef struct series {
    struct series *next;
    int task;     /* -1: always exposed */
    char *labels; /* escaped, without braces: a="x",b="y" ("" for none) */
    union {
        gs_counter_t *c;
        gs_gauge_t *g;
        gs_histogram_t *h;
    } cell;
} series_t;

struct gs_metric_family {
    struct gs_metric_family *next;
    gs_metrics_t *m;
    gs_metric_type_t type;
    char *name, *help;
    int nlabels;
    char *label[GS_METRICS_MAX_LABELS];
    int exp10;
    int nbuckets;
    double bound[GS_METRICS_MAX_BUCKETS];
    uint64_t raw_bound[GS_METRICS_MAX_BUCKETS]; /* in the base unit: v <= raw_bound[i] */
    series_t *first, *last;
};

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

struct gs_metrics {
    uint32_t max_tasks;
    _Atomic bool *assigned;
    gs_metric_family_t *first, *last;
    pthread_mutex_t render_lock;
    struct {
        gs_metrics_collect_fn fn;
        void *ctx;
    } collector[MAX_COLLECTORS];
    int ncollectors;

    /* gridstream's families (gs_metrics_new_engine); NULL in a generic registry */
    bool engine;
    gs_counter_t **records_in; /* [src * max_tasks + partition] */
    gs_counter_t *records_out[GS_OUT__COUNT];
    gs_counter_t *dlq[GS_REASON_COUNT];
    gs_counter_t *late, *commit_failures, *rebalances;
    gs_gauge_t **lag; /* [task * GS_SRC__COUNT + src] */
    gs_gauge_t **watermark, **restore_target, **state_entries, **state_bytes;
    gs_counter_t **restore_records;
    gs_histogram_t *commit, *txn;
    gs_gauge_t *stream_threads, *assigned_tasks;
    gs_gauge_t *block_cache, *memtables, *je_allocated, *je_resident;
    gs_metrics_memory_fn mem_fn;
    void *mem_ctx;
    mallctl_fn mallctl;
};

/* ---- cells ------------------------------------------------------------------------------------
 */

void gs_histogram_observe(gs_histogram_t *h, uint64_t v)
{
    const gs_metric_family_t *f = h->f;
    int i = 0;
    while (i < f->nbuckets && v > f->raw_bound[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

uint64_t gs_histogram_count(const gs_histogram_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i <= h->f->nbuckets; i++)
        n += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    return n;
}

uint64_t gs_histogram_sum(const gs_histogram_t *h)
{
    return atomic_load_explicit(&h->sum, memory_order_relaxed);
}

/* ---- registry ---------------------------------------------------------------------------------
 */

gs_metrics_t *gs_metrics_new(uint32_t max_tasks)
{
    gs_metrics_t *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->max_tasks = max_tasks;
    m->assigned = calloc(max_tasks ? max_tasks : 1, sizeof(*m->assigned));
    if (!m->assigned) {
        free(m);
        return NULL;
    }
    for (uint32_t i = 0; i < max_tasks; i++)
        atomic_init(&m->assigned[i], false);
    pthread_mutex_init(&m->render_lock, NULL);
    return m;
}

void gs_metrics_destroy(gs_metrics_t *m)
{
    if (!m) return;
    gs_metric_family_t *f = m->first;
    while (f) {
        series_t *s = f->first;
        while (s) {
            series_t *next = s->next;
            free(s->cell.c); /* every kind of cell is one aligned_alloc */
            free(s->labels);
            free(s);
            s = next;
        }
        gs_metric_family_t *next = f->next;
        for (int i = 0; i < f->nlabels; i++)
            free(f->label[i]);
        free(f->name);
        free(f->help);
        free(f);
        f = next;
    }
    free(m->records_in);
    free(m->lag);
    free(m->watermark);
    free(m->restore_target);
    free(m->restore_records);
    free(m->state_entries);
    free(m->state_bytes);
    free((void *)m->assigned);
    pthread_mutex_destroy(&m->render_lock);
    free(m);
}

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon && c == ':') || (p > s && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The bound in the base unit: the largest integer v with v <= bound * 10^-exp10. */
static uint64_t raw_bound(double bound, int exp10)
{
    double raw = bound * pow(10.0, -exp10);
    double r = nearbyint(raw);
    if (fabs(raw - r) <= 1e-9 * fmax(1.0, fabs(raw))) raw = r;
    if (raw <= 0) return 0;
    if (raw >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)floor(raw);
}

gs_metric_family_t *gs_metrics_family(gs_metrics_t *m, gs_metric_type_t type, const char *name,
                                      const char *help, const char *const *labels, int exp10,
                                      const double *buckets, int nbuckets)
{
    if (!valid_name(name, true) || exp10 < -18 || exp10 > 18) return NULL;
    if (type == GS_METRIC_COUNTER && !ends_with(name, "_total")) return NULL;
    if (type == GS_METRIC_HISTOGRAM ? (nbuckets < 1 || nbuckets > GS_METRICS_MAX_BUCKETS)
                                    : nbuckets != 0)
        return NULL;
    for (int i = 0; i < nbuckets; i++)
        if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) return NULL;
    gs_metric_family_t *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->m = m;
    f->type = type;
    f->exp10 = exp10;
    f->nbuckets = nbuckets;
    for (int i = 0; i < nbuckets; i++) {
        f->bound[i] = buckets[i];
        f->raw_bound[i] = raw_bound(buckets[i], exp10);
    }
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help) goto fail;
    for (int i = 0; labels && labels[i]; i++) {
        if (i == GS_METRICS_MAX_LABELS || !valid_name(labels[i], false) ||
            strncmp(labels[i], "__", 2) == 0 ||
            (type == GS_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
            goto fail;
        if (!(f->label[i] = strdup(labels[i]))) goto fail;
        f->nlabels = i + 1;
    }
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    return f;
fail:
    for (int i = 0; i < f->nlabels; i++)
        free(f->label[i]);
    free(f->name);
    free(f->help);
    free(f);
    return NULL;
}

/* Label values: backslash, double quote and line feed escaped (text format 0.0.4). */
static void escape_label(FILE *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            fputs("\\\\", out);
        else if (*v == '"')
            fputs("\\\"", out);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static series_t *add_series(gs_metric_family_t *f, gs_metric_type_t type, const char *const *values,
                            int task, size_t cell_size)
{
    if (!f || f->type != type) return NULL;
    if (task < -1 || (task >= 0 && (uint32_t)task >= f->m->max_tasks)) return NULL;
    for (int i = 0; i < f->nlabels; i++)
        if (!values || !values[i]) return NULL;
    series_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->task = task;
    size_t len = 0;
    FILE *lf = open_memstream(&s->labels, &len);
    if (!lf) goto fail;
    for (int i = 0; i < f->nlabels; i++) {
        fprintf(lf, "%s%s=\"", i ? "," : "", f->label[i]);
        escape_label(lf, values[i]);
        fputc('"', lf);
    }
    if (fclose(lf) != 0) goto fail;
    size_t size = (cell_size + 63) / 64 * 64;
    s->cell.c = aligned_alloc(64, size);
    if (!s->cell.c) goto fail;
    memset(s->cell.c, 0, size);
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    return s;
fail:
    free(s->labels);
    free(s);
    return NULL;
}

gs_counter_t *gs_metrics_counter(gs_metric_family_t *f, const char *const *values, int task)
{
    series_t *s = add_series(f, GS_METRIC_COUNTER, values, task, sizeof(gs_counter_t));
    return s ? s->cell.c : NULL;
}

gs_gauge_t *gs_metrics_gauge(gs_metric_family_t *f, const char *const *values, int task)
{
    series_t *s = add_series(f, GS_METRIC_GAUGE, values, task, sizeof(gs_gauge_t));
    return s ? s->cell.g : NULL;
}

gs_histogram_t *gs_metrics_histogram(gs_metric_family_t *f, const char *const *values, int task)
{
    series_t *s = add_series(f, GS_METRIC_HISTOGRAM, values, task, sizeof(gs_histogram_t));
    if (!s) return NULL;
    s->cell.h->f = f;
    return s->cell.h;
}

void gs_metrics_task_assign(gs_metrics_t *m, uint32_t task, bool assigned)
{
    if (task >= m->max_tasks) return;
    bool was = atomic_exchange_explicit(&m->assigned[task], assigned, memory_order_relaxed);
    if (m->assigned_tasks && was != assigned) gs_gauge_add(m->assigned_tasks, assigned ? 1 : -1);
}

bool gs_metrics_task_assigned(const gs_metrics_t *m, uint32_t task)
{
    return task < m->max_tasks && atomic_load_explicit(&m->assigned[task], memory_order_relaxed);
}

uint32_t gs_metrics_max_tasks(const gs_metrics_t *m)
{
    return m->max_tasks;
}

gs_err_t gs_metrics_add_collector(gs_metrics_t *m, gs_metrics_collect_fn fn, void *ctx)
{
    if (!fn || m->ncollectors == MAX_COLLECTORS) return GS_ERR_INVAL;
    m->collector[m->ncollectors].fn = fn;
    m->collector[m->ncollectors].ctx = ctx;
    m->ncollectors++;
    return GS_OK;
}

/* ---- exposition -------------------------------------------------------------------------------
 */

/* raw * 10^exp10 as an exact decimal ("0.125", "1700000000.5", "0"). */
static void write_decimal(FILE *out, bool negative, uint64_t mag, int exp10)
{
    if (negative && mag) fputc('-', out);
    if (exp10 >= 0) {
        fprintf(out, "%llu", (unsigned long long)mag);
        if (mag)
            for (int i = 0; i < exp10; i++)
                fputc('0', out);
        return;
    }
    uint64_t div = 1;
    for (int i = 0; i < -exp10; i++)
        div *= 10;
    uint64_t ip = mag / div, fp = mag % div;
    fprintf(out, "%llu", (unsigned long long)ip);
    if (!fp) return;
    char frac[24];
    int k = -exp10;
    for (int i = k - 1; i >= 0; i--, fp /= 10)
        frac[i] = (char)('0' + fp % 10);
    while (k > 0 && frac[k - 1] == '0')
        k--;
    fprintf(out, ".%.*s", k, frac);
}

static void write_unsigned(FILE *out, uint64_t v, int exp10)
{
    write_decimal(out, false, v, exp10);
}

static void write_signed(FILE *out, int64_t v, int exp10)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    write_decimal(out, v < 0, mag, exp10);
}

/* The shortest plain decimal that reads back as `v` ("0.005", "2.5", "10"), no exponent. */
static void write_bound(FILE *out, double v)
{
    char buf[400];
    for (int prec = 0; prec <= 20; prec++) {
        snprintf(buf, sizeof(buf), "%.*f", prec, v);
        if (strtod(buf, NULL) == v) {
            fputs(buf, out);
            return;
        }
    }
    fprintf(out, "%.17g", v);
}

/* HELP text: backslash and line feed escaped. */
static void write_help(FILE *out, const char *h)
{
    for (; *h; h++) {
        if (*h == '\\')
            fputs("\\\\", out);
        else if (*h == '\n')
            fputs("\\n", out);
        else
            fputc(*h, out);
    }
}

static void write_sample(FILE *out, const char *name, const char *suffix, const char *labels)
{
    fputs(name, out);
    fputs(suffix, out);
    if (*labels) fprintf(out, "{%s}", labels);
    fputc(' ', out);
}

static void write_family(FILE *out, const gs_metrics_t *m, const gs_metric_family_t *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    fprintf(out, "# HELP %s ", f->name);
    write_help(out, f->help);
    fprintf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    for (const series_t *s = f->first; s; s = s->next) {
        if (s->task >= 0 && !gs_metrics_task_assigned(m, (uint32_t)s->task)) continue;
        switch (f->type) {
        case GS_METRIC_COUNTER:
            write_sample(out, f->name, "", s->labels);
            write_unsigned(out, gs_counter_get(s->cell.c), f->exp10);
            fputc('\n', out);
            break;
        case GS_METRIC_GAUGE:
            write_sample(out, f->name, "", s->labels);
            write_signed(out, gs_gauge_get(s->cell.g), f->exp10);
            fputc('\n', out);
            break;
        case GS_METRIC_HISTOGRAM: {
            const gs_histogram_t *h = s->cell.h;
            uint64_t cum = 0;
            for (int i = 0; i <= f->nbuckets; i++) {
                cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
                fprintf(out, "%s_bucket{%s%sle=\"", f->name, s->labels, *s->labels ? "," : "");
                if (i < f->nbuckets)
                    write_bound(out, f->bound[i]);
                else
                    fputs("+Inf", out);
                fprintf(out, "\"} %llu\n", (unsigned long long)cum);
            }
            write_sample(out, f->name, "_sum", s->labels);
            write_unsigned(out, gs_histogram_sum(h), f->exp10);
            fputc('\n', out);
            write_sample(out, f->name, "_count", s->labels);
            fprintf(out, "%llu\n", (unsigned long long)cum);
            break;
        }
        }
    }
}

char *gs_metrics_render(gs_metrics_t *m, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    pthread_mutex_lock(&m->render_lock);
    for (int i = 0; i < m->ncollectors; i++)
        m->collector[i].fn(m->collector[i].ctx, m);
    FILE *out = open_memstream(&text, &n);
    if (out) {
        for (const gs_metric_family_t *f = m->first; f; f = f->next)
            write_family(out, m, f);
        if (fclose(out) != 0) {
            free(text);
            text = NULL;
        }
    }
    pthread_mutex_unlock(&m->render_lock);
    if (text && len) *len = n;
    return text;
}

/* ---- gridstream's families --------------------------------------------------------------------
 */

/* Commit and transaction durations, seconds: 1 ms .. 10 s. */
static const double duration_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};
#define N_DURATION_BUCKETS ((int)(sizeof(duration_buckets) / sizeof(duration_buckets[0])))

static void collect_engine(void *ctx, gs_metrics_t *m)
{
    (void)ctx;
    if (m->mem_fn) {
        size_t bc = 0, mt = 0;
        if (m->mem_fn(m->mem_ctx, &bc, &mt) == GS_OK) {
            gs_gauge_set(m->block_cache, (int64_t)bc);
            gs_gauge_set(m->memtables, (int64_t)mt);
        }
    }
    if (m->mallctl) {
        /* statistics are refreshed by advancing the epoch */
        uint64_t epoch = 1;
        size_t sz = sizeof(epoch);
        m->mallctl("epoch", &epoch, &sz, &epoch, sz);
        size_t v = 0;
        sz = sizeof(v);
        if (m->mallctl("stats.allocated", &v, &sz, NULL, 0) == 0)
            gs_gauge_set(m->je_allocated, (int64_t)v);
        sz = sizeof(v);
        if (m->mallctl("stats.resident", &v, &sz, NULL, 0) == 0)
            gs_gauge_set(m->je_resident, (int64_t)v);
    }
}

void gs_metrics_watch_memory(gs_metrics_t *m, gs_metrics_memory_fn fn, void *ctx)
{
    m->mem_fn = fn;
    m->mem_ctx = ctx;
}

#define NEED(x)                                                                                    \
    do {                                                                                           \
        if (!(x)) goto fail;                                                                       \
    } while (0)

static gs_metric_family_t *family(gs_metrics_t *m, gs_metric_type_t type, const char *name,
                                  const char *help, const char *l1, const char *l2, int exp10)
{
    const char *labels[] = {l1, l2, NULL};
    const double *b = type == GS_METRIC_HISTOGRAM ? duration_buckets : NULL;
    return gs_metrics_family(m, type, name, help, labels, exp10, b,
                             type == GS_METRIC_HISTOGRAM ? N_DURATION_BUCKETS : 0);
}

/* One gauge or counter per task, labelled task="<n>". */
static bool per_task(gs_metric_family_t *f, uint32_t n, gs_gauge_t ***gauges,
                     gs_counter_t ***counters)
{
    if (!f) return false;
    void **cells = calloc(n ? n : 1, sizeof(void *));
    if (!cells) return false;
    if (gauges)
        *gauges = (gs_gauge_t **)cells;
    else
        *counters = (gs_counter_t **)cells;
    for (uint32_t t = 0; t < n; t++) {
        char id[16];
        snprintf(id, sizeof(id), "%u", t);
        const char *v[] = {id};
        cells[t] = gauges ? (void *)gs_metrics_gauge(f, v, (int)t)
                          : (void *)gs_metrics_counter(f, v, (int)t);
        if (!cells[t]) return false;
    }
    return true;
}

gs_metrics_t *gs_metrics_new_engine(uint32_t max_tasks)
{
    gs_metrics_t *m = gs_metrics_new(max_tasks);
    if (!m) return NULL;
    m->engine = true;
    gs_metric_family_t *f;
    const char *none[] = {NULL};

    NEED(f = family(m, GS_METRIC_GAUGE, "gridstream_build_info",
                    "Always 1; the version of this gridstream build is a label.", "version", NULL,
                    0));
    const char *version[] = {GS_VERSION};
    gs_gauge_t *info = gs_metrics_gauge(f, version, -1);
    NEED(info);
    gs_gauge_set(info, 1);

    NEED(f = family(m, GS_METRIC_COUNTER, "gridstream_records_in_total",
                    "Input records read, per input topic and partition.", "topic", "partition", 0));
    NEED(m->records_in =
             calloc((size_t)GS_SRC__COUNT * (max_tasks ? max_tasks : 1), sizeof(*m->records_in)));
    for (int s = 0; s < GS_SRC__COUNT; s++)
        for (uint32_t p = 0; p < max_tasks; p++) {
            char id[16];
            snprintf(id, sizeof(id), "%u", p);
            const char *v[] = {gs_source_topic[s], id};
            NEED(m->records_in[(size_t)s * max_tasks + p] = gs_metrics_counter(f, v, (int)p));
        }

    NEED(f = family(m, GS_METRIC_COUNTER, "gridstream_records_out_total",
                    "Records produced, per output topic.", "topic", NULL, 0));
    for (int o = 0; o < GS_OUT__COUNT; o++) {
        const char *v[] = {gs_output_topic[o]};
        NEED(m->records_out[o] = gs_metrics_counter(f, v, -1));
    }

    NEED(f = family(m, GS_METRIC_COUNTER, "gridstream_dlq_records_total",
                    "Input records rejected to the DLQ, per reason.", "reason", NULL, 0));
    for (int r = 0; r < GS_REASON_COUNT; r++) {
        const char *v[] = {gs_err_str((gs_err_t)(-r - 1))};
        NEED(m->dlq[r] = gs_metrics_counter(f, v, -1));
    }

    NEED(f = family(m, GS_METRIC_COUNTER, "gridstream_late_records_total",
                    "Records that came after retention and went to gridstream.late.", NULL, NULL,
                    0));
    NEED(m->late = gs_metrics_counter(f, none, -1));

    NEED(f = family(m, GS_METRIC_GAUGE, "gridstream_consumer_lag_records",
                    "Records between the consumer position and the high watermark, per task and "
                    "input topic.",
                    "task", "topic", 0));
    NEED(m->lag = calloc((size_t)GS_SRC__COUNT * (max_tasks ? max_tasks : 1), sizeof(*m->lag)));
    for (uint32_t t = 0; t < max_tasks; t++)
        for (int s = 0; s < GS_SRC__COUNT; s++) {
            char id[16];
            snprintf(id, sizeof(id), "%u", t);
            const char *v[] = {id, gs_source_topic[s]};
            NEED(m->lag[(size_t)t * GS_SRC__COUNT + s] = gs_metrics_gauge(f, v, (int)t));
        }

    NEED(per_task(family(m, GS_METRIC_GAUGE, "gridstream_task_watermark_seconds",
                         "Event-time watermark of the task, seconds since the Unix epoch.", "task",
                         NULL, -3),
                  max_tasks, &m->watermark, NULL));

    NEED(f = family(m, GS_METRIC_HISTOGRAM, "gridstream_commit_duration_seconds",
                    "Duration of a commit: outputs, changelog, offsets, transaction, local state.",
                    NULL, NULL, -9));
    NEED(m->commit = gs_metrics_histogram(f, none, -1));
    NEED(f = family(m, GS_METRIC_HISTOGRAM, "gridstream_transaction_duration_seconds",
                    "Duration of commit_transaction.", NULL, NULL, -9));
    NEED(m->txn = gs_metrics_histogram(f, none, -1));
    NEED(f = family(m, GS_METRIC_COUNTER, "gridstream_commit_failures_total",
                    "Commits that failed (transaction aborted or local state write failed).", NULL,
                    NULL, 0));
    NEED(m->commit_failures = gs_metrics_counter(f, none, -1));

    NEED(
        per_task(family(m, GS_METRIC_COUNTER, "gridstream_restore_records_total",
                        "Changelog records restored into the task's local state.", "task", NULL, 0),
                 max_tasks, NULL, &m->restore_records));
    NEED(per_task(family(m, GS_METRIC_GAUGE, "gridstream_restore_records_target",
                         "Changelog records the task's restores had to read; restored / target is "
                         "the restore progress.",
                         "task", NULL, 0),
                  max_tasks, &m->restore_target, NULL));

    NEED(per_task(family(m, GS_METRIC_GAUGE, "gridstream_state_entries",
                         "State entries held by the task.", "task", NULL, 0),
                  max_tasks, &m->state_entries, NULL));
    NEED(per_task(family(m, GS_METRIC_GAUGE, "gridstream_state_bytes",
                         "Bytes of keys and values of the task's state entries.", "task", NULL, 0),
                  max_tasks, &m->state_bytes, NULL));

    NEED(f = family(m, GS_METRIC_GAUGE, "gridstream_rocksdb_block_cache_bytes",
                    "Bytes in RocksDB's shared block cache.", NULL, NULL, 0));
    NEED(m->block_cache = gs_metrics_gauge(f, none, -1));
    NEED(f = family(m, GS_METRIC_GAUGE, "gridstream_rocksdb_memtable_bytes",
                    "Bytes in RocksDB memtables, every column family.", NULL, NULL, 0));
    NEED(m->memtables = gs_metrics_gauge(f, none, -1));

    m->mallctl = (mallctl_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "mallctl");
    if (m->mallctl) {
        NEED(f = family(m, GS_METRIC_GAUGE, "gridstream_jemalloc_allocated_bytes",
                        "Bytes allocated by the application (jemalloc stats.allocated).", NULL,
                        NULL, 0));
        NEED(m->je_allocated = gs_metrics_gauge(f, none, -1));
        NEED(f = family(m, GS_METRIC_GAUGE, "gridstream_jemalloc_resident_bytes",
                        "Bytes in physically resident pages mapped by jemalloc (stats.resident).",
                        NULL, NULL, 0));
        NEED(m->je_resident = gs_metrics_gauge(f, none, -1));
    }

    NEED(f = family(m, GS_METRIC_COUNTER, "gridstream_rebalances_total",
                    "Consumer group rebalances (assignment changes) seen by this process.", NULL,
                    NULL, 0));
    NEED(m->rebalances = gs_metrics_counter(f, none, -1));
    NEED(f = family(m, GS_METRIC_GAUGE, "gridstream_stream_threads", "Stream threads running.",
                    NULL, NULL, 0));
    NEED(m->stream_threads = gs_metrics_gauge(f, none, -1));
    NEED(f = family(m, GS_METRIC_GAUGE, "gridstream_assigned_tasks",
                    "Tasks (input partitions) assigned to this process.", NULL, NULL, 0));
    NEED(m->assigned_tasks = gs_metrics_gauge(f, none, -1));

    NEED(gs_metrics_add_collector(m, collect_engine, NULL) == GS_OK);
    return m;
fail:
    gs_metrics_destroy(m);
    return NULL;
}

/* The accessors: out-of-range arguments are invariant violations of the caller. */

gs_counter_t *gs_metrics_records_in(gs_metrics_t *m, gs_source_t src, uint32_t partition)
{
    if (!m->engine || src < 0 || src >= GS_SRC__COUNT || partition >= m->max_tasks) return NULL;
    return m->records_in[(size_t)src * m->max_tasks + partition];
}

gs_counter_t *gs_metrics_records_out(gs_metrics_t *m, gs_output_t out)
{
    return m->engine && out >= 0 && out < GS_OUT__COUNT ? m->records_out[out] : NULL;
}

gs_counter_t *gs_metrics_dlq(gs_metrics_t *m, gs_err_t reason)
{
    return m->engine && gs_err_is_reason(reason) ? m->dlq[gs_reason_index(reason)] : NULL;
}

gs_counter_t *gs_metrics_late(gs_metrics_t *m)
{
    return m->late;
}

gs_gauge_t *gs_metrics_consumer_lag(gs_metrics_t *m, uint32_t task, gs_source_t src)
{
    if (!m->engine || src < 0 || src >= GS_SRC__COUNT || task >= m->max_tasks) return NULL;
    return m->lag[(size_t)task * GS_SRC__COUNT + src];
}

#define TASK_CELL(field) (m->engine && task < m->max_tasks ? m->field[task] : NULL)

gs_gauge_t *gs_metrics_watermark(gs_metrics_t *m, uint32_t task)
{
    return TASK_CELL(watermark);
}

gs_histogram_t *gs_metrics_commit_duration(gs_metrics_t *m)
{
    return m->commit;
}

gs_histogram_t *gs_metrics_transaction_duration(gs_metrics_t *m)
{
    return m->txn;
}

gs_counter_t *gs_metrics_commit_failures(gs_metrics_t *m)
{
    return m->commit_failures;
}

gs_counter_t *gs_metrics_restore_records(gs_metrics_t *m, uint32_t task)
{
    return TASK_CELL(restore_records);
}

gs_gauge_t *gs_metrics_restore_target(gs_metrics_t *m, uint32_t task)
{
    return TASK_CELL(restore_target);
}

void gs_metrics_restore_begin(gs_metrics_t *m, uint32_t task, uint64_t records)
{
    gs_gauge_t *g = TASK_CELL(restore_target);
    if (g) gs_gauge_add(g, (int64_t)records);
}

gs_gauge_t *gs_metrics_state_entries(gs_metrics_t *m, uint32_t task)
{
    return TASK_CELL(state_entries);
}

gs_gauge_t *gs_metrics_state_bytes(gs_metrics_t *m, uint32_t task)
{
    return TASK_CELL(state_bytes);
}

gs_counter_t *gs_metrics_rebalances(gs_metrics_t *m)
{
    return m->rebalances;
}

gs_gauge_t *gs_metrics_stream_threads(gs_metrics_t *m)
{
    return m->stream_threads;
}
