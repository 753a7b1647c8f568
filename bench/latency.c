/*
 * latency.c - `gridstream bench latency`: wall-clock time from a record handed to the producer to
 * the output it caused being visible to a read_committed consumer, at 25, 50 and 75 % of the
 * capacity measured in the same run, on the embedded cluster (cluster.h).
 *
 * The city comes from gs_gen (seed 42) into memory. Its first `burst` records are produced before
 * the engine starts; the engine (gs_run_start, not until_end) drains them, and its capacity is the
 * burst over first record applied to the burst committed. Then the main thread offers the rest of
 * the stream, paced, at each level for a fixed window, stamping every record as it hands it to
 * the producer; after each window it waits until every record is applied and committed, so that
 * the levels do not overlap.
 *
 * Matching. An incident's id ends with the channel and id of the signal that opened it (SPEC §5:
 * report_id, sensor_id:seq or detection_id), so the first time an incident id, or an alert naming
 * it (HOTSPOT, CRITICAL), shows up on gridstream.incidents or gridstream.alerts, the latency is
 * that sighting's time minus the send time of the input record carrying that signal. No output
 * format changes: the signal ids are read from the generated records before the run. Incidents
 * opened by burst records, later updates of an incident and watermark-driven alerts are not
 * samples. The reference is Kafka alone on the same cluster and clients: the same consumer reads
 * partition 0 of every input topic too (each record carries its index in a header, which the
 * engine ignores), and their produced-to-visible time is what the broker and the clients cost
 * without the engine; a second consumer does the same with librdkafka's default fetch wait.
 *
 * The engine's commit figures come from its own /metrics endpoint (commit and transaction
 * duration histograms), scraped before and after each level; its lag from gs_run_stats.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_int.h"
#include "cluster.h"
#include "config.h"
#include "gen.h"
#include "hash.h"
#include "run.h"
#include "statedb.h"
#include "topics.h"

#define LAT_APP "bench-latency"
#define LAT_HEADER "gs.bench.i" /* input record index, 4 bytes little-endian */
#define LAT_PHASE_BURST 0
#define LAT_NO_SEND INT64_MIN

const double gs_bench_lat_cdf_q[GS_BENCH_LAT_CDF] = {
    0,    0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50,  0.55,  0.60,  0.65,
    0.70, 0.75, 0.80, 0.85, 0.90, 0.92, 0.94, 0.96, 0.98, 0.99, 0.995, 0.998, 0.999, 1};

/* One generated record, its bytes in the arena. */
typedef struct lrec {
    uint32_t off;  /* key, then value, in the arena */
    uint32_t vlen; /* value bytes */
    uint16_t klen; /* key bytes */
    uint8_t topic, partition;
} lrec_t;

/* A sample vector of microseconds, grown by one consumer thread only. */
typedef struct samples {
    int32_t *v;
    size_t n, cap;
} samples_t;

struct lat;

/*
 * A read_committed consumer on its own thread, assigned (no group) from the beginning. The main
 * reader takes the two output topics and, for the reference, partition 0 of every input topic
 * (a quarter of the input, to keep the reference's own load small) with fetch.wait.max.ms 5; the
 * second reader takes the same input partitions with librdkafka's default fetch.wait.max.ms, as
 * the engine's group consumer has it.
 */
typedef struct reader {
    struct lat *L;
    rd_kafka_t *c;
    bool outputs;
    pthread_t th;
    bool running;
    samples_t ref[GS_BENCH_LAT_LEVELS + 1];
} reader_t;

typedef struct lat {
    /* the generated stream */
    lrec_t *recs;
    size_t nrecs, caprecs;
    uint8_t *arena;
    size_t alen, acap;
    uint32_t npart;
    /* signal key ("<channel>-<signal id>") -> first record index + 1, open addressing */
    char *skeys;
    size_t sklen, skcap;
    uint32_t *skoff; /* per record: offset of its signal key + 1, 0 when it carries none */
    uint32_t *slots;
    size_t nslots;
    /* the run: written by the producer (main thread), read by the consumer thread */
    _Atomic int64_t *sent_us;
    uint8_t *phase;
    uint8_t *seen; /* consumer thread only */
    samples_t out[GS_BENCH_LAT_LEVELS + 1];
    uint64_t alerts[GS_BENCH_LAT_LEVELS + 1];
    _Atomic uint64_t nout;
    _Atomic bool stop;
    reader_t rd[2]; /* the main reader, the reader with the engine's fetch wait */
} lat_t;

static int64_t now_us(void)
{
    return (int64_t)(gs_bench_now() * 1e6);
}

void gs_bench_latency_defaults(gs_bench_latency_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->cells = 200;
    o->days = 70;
    o->partitions = 4;
    o->threads = 1;
    o->burst = 50000;
    o->window_s = 10;
    o->pct[0] = 25;
    o->pct[1] = 50;
    o->pct[2] = 75;
}

void gs_bench_latency_quick(gs_bench_latency_opts_t *o)
{
    o->cells = 10;
    o->days = 7;
    o->cells = 20;
    o->burst = 1000;
    o->window_s = 0.5;
}

/* ---- the generated stream and its signal keys ----------------------------------------------- */

static bool arena_put(lat_t *L, const void *p, size_t n)
{
    if (L->alen + n > L->acap) {
        size_t cap = L->acap ? L->acap * 2 : (size_t)1 << 24;
        while (cap < L->alen + n)
            cap *= 2;
        uint8_t *a = realloc(L->arena, cap);
        if (!a) return false;
        L->arena = a;
        L->acap = cap;
    }
    memcpy(L->arena + L->alen, p, n);
    L->alen += n;
    return true;
}

static int gen_emit(void *ctx, const gs_gen_rec_t *g)
{
    lat_t *L = ctx;
    if (L->nrecs == L->caprecs) {
        size_t cap = L->caprecs ? L->caprecs * 2 : 65536;
        lrec_t *r = realloc(L->recs, cap * sizeof(*r));
        if (!r) return 1;
        L->recs = r;
        L->caprecs = cap;
    }
    if (L->alen + g->klen + g->vlen > UINT32_MAX) return 1;
    lrec_t *r = &L->recs[L->nrecs++];
    r->off = (uint32_t)L->alen;
    r->klen = (uint16_t)g->klen;
    r->vlen = (uint32_t)g->vlen;
    r->topic = (uint8_t)g->topic;
    r->partition = (uint8_t)g->partition;
    return arena_put(L, g->key, g->klen) && arena_put(L, g->val, g->vlen) ? 0 : 1;
}

/* The signal key a record would open an incident with, into buf; 0 when it cannot be a signal. */
static size_t signal_key(const lrec_t *r, const uint8_t *val, char *buf, size_t len)
{
    int n = 0;
    if (r->topic == GS_SRC_REPORTS) {
        Gridstream__V1__Report *m = gridstream__v1__report__unpack(NULL, r->vlen, val);
        if (!m) return 0;
        n = snprintf(buf, len, "%d-%s", (int)m->channel, m->report_id);
        gridstream__v1__report__free_unpacked(m, NULL);
    } else if (r->topic == GS_SRC_SENSORS) {
        Gridstream__V1__SensorReading *m =
            gridstream__v1__sensor_reading__unpack(NULL, r->vlen, val);
        if (!m) return 0;
        if (m->state == GRIDSTREAM__V1__SENSOR_STATE__ALARM)
            n = snprintf(buf, len, "%d-%s:%" PRIu64, (int)GRIDSTREAM__V1__CHANNEL__SENSOR,
                         m->sensor_id, m->seq);
        gridstream__v1__sensor_reading__free_unpacked(m, NULL);
    } else if (r->topic == GS_SRC_VIDEO) {
        Gridstream__V1__VideoDetection *m =
            gridstream__v1__video_detection__unpack(NULL, r->vlen, val);
        if (!m) return 0;
        n = snprintf(buf, len, "%d-%s", (int)GRIDSTREAM__V1__CHANNEL__VIDEO, m->detection_id);
        gridstream__v1__video_detection__free_unpacked(m, NULL);
    }
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

static const char *skey_of(const lat_t *L, uint32_t i)
{
    return L->skeys + L->skoff[i] - 1;
}

/* Index of the first record whose signal key is k[0..n), or -1. */
static int64_t skey_find(const lat_t *L, const char *k, size_t n)
{
    size_t mask = L->nslots - 1;
    for (size_t s = gs_hash64(k, n, 7) & mask;; s = (s + 1) & mask) {
        uint32_t v = L->slots[s];
        if (!v) return -1;
        const char *c = skey_of(L, v - 1);
        if (strlen(c) == n && memcmp(c, k, n) == 0) return (int64_t)v - 1;
    }
}

static gs_err_t index_signals(lat_t *L)
{
    L->skoff = calloc(L->nrecs, sizeof(*L->skoff));
    L->nslots = 1;
    while (L->nslots < 2 * L->nrecs + 2)
        L->nslots *= 2;
    L->slots = calloc(L->nslots, sizeof(*L->slots));
    if (!L->skoff || !L->slots) return GS_ERR_NOMEM;
    char k[512];
    size_t mask = L->nslots - 1;
    for (size_t i = 0; i < L->nrecs; i++) {
        const lrec_t *r = &L->recs[i];
        size_t n = signal_key(r, L->arena + r->off + r->klen, k, sizeof(k));
        if (!n || skey_find(L, k, n) >= 0) continue; /* not a signal, or a duplicate: first wins */
        if (L->sklen + n + 1 > L->skcap) {
            size_t cap = L->skcap ? L->skcap * 2 : (size_t)1 << 22;
            while (cap < L->sklen + n + 1)
                cap *= 2;
            char *s = realloc(L->skeys, cap);
            if (!s) return GS_ERR_NOMEM;
            L->skeys = s;
            L->skcap = cap;
        }
        memcpy(L->skeys + L->sklen, k, n + 1);
        L->skoff[i] = (uint32_t)L->sklen + 1;
        L->sklen += n + 1;
        size_t s = gs_hash64(k, n, 7) & mask;
        while (L->slots[s])
            s = (s + 1) & mask;
        L->slots[s] = (uint32_t)i + 1;
    }
    return GS_OK;
}

/* The record that opened incident `id` ("<cell>-<problem>-<t>-<channel>-<signal id>"), or -1. */
static int64_t opener_of(const lat_t *L, const char *id, size_t n)
{
    size_t dashes = 0, i = 0;
    while (i < n && dashes < 3)
        if (id[i++] == '-') dashes++;
    return dashes == 3 ? skey_find(L, id + i, n - i) : -1;
}

static void lat_free(lat_t *L)
{
    free(L->recs);
    free(L->arena);
    free(L->skeys);
    free(L->skoff);
    free(L->slots);
    free((void *)L->sent_us);
    free(L->phase);
    free(L->seen);
    for (int p = 0; p <= GS_BENCH_LAT_LEVELS; p++) {
        free(L->out[p].v);
        free(L->rd[0].ref[p].v);
        free(L->rd[1].ref[p].v);
    }
}

/* ---- the read_committed consumer: its own thread --------------------------------------------- */

static void sample_add(samples_t *s, int64_t us)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        int32_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v) return; /* a lost sample under memory pressure; the count says so */
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = us > INT32_MAX ? INT32_MAX : (int32_t)us;
}

/* An output naming the incident opened by record i, seen at `at`. */
static void on_output(lat_t *L, int64_t i, int64_t at, bool alert)
{
    if (i < 0 || L->seen[i]) return;
    int64_t s = atomic_load_explicit(&L->sent_us[i], memory_order_acquire);
    if (s == LAT_NO_SEND) return;
    L->seen[i] = 1;
    int p = L->phase[i];
    sample_add(&L->out[p], at - s);
    if (alert) L->alerts[p]++;
    atomic_fetch_add_explicit(&L->nout, 1, memory_order_relaxed);
}

static void on_message(reader_t *rd, const rd_kafka_message_t *m, int64_t at)
{
    lat_t *L = rd->L;
    const char *t = rd_kafka_topic_name(m->rkt);
    if (strcmp(t, gs_output_topic[GS_OUT_INCIDENTS]) == 0) {
        if (m->key) on_output(L, opener_of(L, m->key, m->key_len), at, false);
        return;
    }
    if (strcmp(t, gs_output_topic[GS_OUT_ALERTS]) == 0) {
        Gridstream__V1__Alert *a = gridstream__v1__alert__unpack(NULL, m->len, m->payload);
        if (!a) return;
        if (a->kind == GRIDSTREAM__V1__ALERT_KIND__HOTSPOT ||
            a->kind == GRIDSTREAM__V1__ALERT_KIND__CRITICAL)
            on_output(L, opener_of(L, a->incident_id, strlen(a->incident_id)), at, true);
        gridstream__v1__alert__free_unpacked(a, NULL);
        return;
    }
    /* an input record: the reference */
    rd_kafka_headers_t *hs = NULL;
    const void *hv = NULL;
    size_t hl = 0;
    if (rd_kafka_message_headers(m, &hs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hs, LAT_HEADER, &hv, &hl) != RD_KAFKA_RESP_ERR_NO_ERROR || hl != 4)
        return;
    const uint8_t *b = hv;
    uint32_t i = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (i >= L->nrecs) return;
    int64_t s = atomic_load_explicit(&L->sent_us[i], memory_order_acquire);
    if (s == LAT_NO_SEND) return;
    sample_add(&rd->ref[L->phase[i]], at - s);
}

static void *consume_main(void *arg)
{
    reader_t *rd = arg;
    while (!atomic_load(&rd->L->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rd->c, 20);
        if (!m) continue;
        int64_t at = now_us();
        if (!m->err) on_message(rd, m, at);
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int topic_partitions(const gs_topic_spec_t *plan, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(plan[i].name, name) == 0) return plan[i].partitions;
    return 0;
}

/* Creates reader k (see reader_t) and starts its thread. */
static gs_err_t reader_start(lat_t *L, int k, const char *bs, const gs_topic_spec_t *plan, size_t n,
                             char *err, size_t errlen)
{
    reader_t *rd = &L->rd[k];
    rd->L = L;
    rd->outputs = k == 0;
    char e[256], gid[64];
    snprintf(gid, sizeof(gid), "bench-latency-reader-%d", k);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bs},
                           {"group.id", gid},
                           {"isolation.level", "read_committed"},
                           {"enable.auto.commit", "false"},
                           {"enable.partition.eof", "false"},
                           {"fetch.wait.max.ms", "5"}};
    size_t nkv = sizeof(kv) / sizeof(kv[0]) - (k == 0 ? 0 : 1);
    for (size_t i = 0; i < nkv; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "consumer %s: %s", kv[i][0], e);
            rd_kafka_conf_destroy(conf);
            return GS_ERR_INVAL;
        }
    if (!(rd->c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e)))) {
        snprintf(err, errlen, "consumer: %s", e);
        rd_kafka_conf_destroy(conf);
        return GS_ERR_IO;
    }
    rd_kafka_poll_set_consumer(rd->c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
    for (int s = 0; s < GS_SRC__COUNT; s++)
        rd_kafka_topic_partition_list_add(l, gs_source_topic[s], 0)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    for (int o = 0; rd->outputs && o < 2; o++) {
        const char *name = gs_output_topic[o == 0 ? GS_OUT_INCIDENTS : GS_OUT_ALERTS];
        int np = topic_partitions(plan, n, name);
        for (int p = 0; p < np; p++)
            rd_kafka_topic_partition_list_add(l, name, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t re = rd_kafka_assign(rd->c, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (re) {
        snprintf(err, errlen, "consumer assign: %s", rd_kafka_err2str(re));
        return GS_ERR_IO;
    }
    if (pthread_create(&rd->th, NULL, consume_main, rd) != 0) {
        snprintf(err, errlen, "cannot start a consumer thread");
        return GS_ERR_IO;
    }
    rd->running = true;
    return GS_OK;
}

/* Stops the reader threads (idempotent). */
static void readers_join(lat_t *L)
{
    atomic_store(&L->stop, true);
    for (int k = 0; k < 2; k++)
        if (L->rd[k].running) {
            pthread_join(L->rd[k].th, NULL);
            L->rd[k].running = false;
        }
}

/* ---- the producer: main thread --------------------------------------------------------------- */

static rd_kafka_t *producer_new(const char *bs, char *err, size_t errlen)
{
    char e[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bs},
                           {"linger.ms", "5"},
                           {"acks", "all"},
                           {"queue.buffering.max.kbytes", "1048576"}};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "producer %s: %s", kv[i][0], e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!rk) {
        snprintf(err, errlen, "producer: %s", e);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Stamps record i with its phase and send time and hands it to the producer. */
static gs_err_t send_one(lat_t *L, rd_kafka_t *rk, size_t i, int phase, char *err, size_t errlen)
{
    const lrec_t *r = &L->recs[i];
    uint8_t h[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24)};
    L->phase[i] = (uint8_t)phase;
    atomic_store_explicit(&L->sent_us[i], now_us(), memory_order_release);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(gs_source_topic[r->topic]),
            RD_KAFKA_V_PARTITION((int32_t)r->partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(L->arena + r->off, r->klen),
            RD_KAFKA_V_VALUE(L->arena + r->off + r->klen, r->vlen),
            RD_KAFKA_V_HEADER(LAT_HEADER, h, sizeof(h)), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return GS_OK;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errlen, "produce to %s: %s", gs_source_topic[r->topic],
                     rd_kafka_err2str(e));
            return GS_ERR_IO;
        }
        rd_kafka_poll(rk, 5);
    }
}

/* ---- the engine's commit figures, from its /metrics ------------------------------------------ */

typedef struct commit_fig {
    double commit_sum, commit_n, txn_sum, txn_n;
    bool ok;
} commit_fig_t;

/* A free TCP port on 127.0.0.1 (the engine binds it a moment later), or 0. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static double metric_value(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name))
        if ((p == text || p[-1] == '\n') && p[n] == ' ') return strtod(p + n + 1, NULL);
    return -1;
}

static commit_fig_t scrape(int port)
{
    commit_fig_t f = {0};
    if (!port) return f;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return f;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static char buf[1 << 18];
    size_t len = 0;
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
        ssize_t k;
        while (len < sizeof(buf) - 1 && (k = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
            len += (size_t)k;
    }
    close(fd);
    buf[len] = 0;
    f.commit_sum = metric_value(buf, "gridstream_commit_duration_seconds_sum");
    f.commit_n = metric_value(buf, "gridstream_commit_duration_seconds_count");
    f.txn_sum = metric_value(buf, "gridstream_transaction_duration_seconds_sum");
    f.txn_n = metric_value(buf, "gridstream_transaction_duration_seconds_count");
    f.ok = f.commit_sum >= 0 && f.commit_n >= 0 && f.txn_sum >= 0 && f.txn_n >= 0;
    return f;
}

/* ---- the run --------------------------------------------------------------------------------- */

static uint64_t applied(gs_run_t *run, uint64_t *commits)
{
    gs_run_stats_t st;
    gs_run_stats(run, &st);
    uint64_t n = 0;
    for (int s = 0; s < GS_SRC__COUNT; s++)
        n += st.records_in[s];
    if (commits) *commits = st.commits;
    return n;
}

/* Input records applied and output records written (every output topic, DLQ included). */
static void in_out(gs_run_t *run, uint64_t *in, uint64_t *out, uint64_t *lag)
{
    gs_run_stats_t st;
    gs_run_stats(run, &st);
    *in = *out = 0;
    for (int s = 0; s < GS_SRC__COUNT; s++)
        *in += st.records_in[s];
    for (int k = 0; k < GS_OUT__COUNT; k++)
        *out += st.out[k];
    *lag = st.lag;
}

/*
 * Waits until `total` records are applied, a commit has ended since, and twice the commit interval
 * plus 100 ms have passed (another thread's last commit, the consumer's fetch); false after
 * `limit` s. A commit that ends after the last record was seen applied began after it: a stream
 * thread applies and commits in turn.
 */
static bool drain(gs_run_t *run, uint64_t total, int64_t interval_ms, double limit)
{
    double t0 = gs_bench_now(), t_all = 0;
    uint64_t c = 0, c_at = 0;
    while (gs_bench_now() - t0 < limit && !gs_run_finished(run)) {
        uint64_t n = applied(run, &c);
        double now = gs_bench_now();
        if (!t_all && n >= total) {
            t_all = now;
            c_at = c;
        }
        if (t_all && c > c_at && now - t_all >= (2.0 * (double)interval_ms + 100) / 1e3)
            return true;
        usleep(1000);
    }
    return false;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank quantile of sorted s in ms, -1 if empty. */
static double quantile_ms(const samples_t *s, double q)
{
    if (!s->n) return -1;
    size_t k = q <= 0 ? 0 : (size_t)ceil(q * (double)s->n) - 1;
    if (k >= s->n) k = s->n - 1;
    return s->v[k] / 1000.0;
}

/* The progress line (stderr, rewritten in place): what is going on and the outputs matched. */
static void progress(const gs_bench_latency_opts_t *o, const lat_t *L, const char *fmt, ...)
{
    if (!o->progress) return;
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(o->progress, "\rbench latency: %-64s %8" PRIu64 " outputs matched ", line,
            atomic_load_explicit(&L->nout, memory_order_relaxed));
    fflush(o->progress);
}

/* The level the target is judged at (50 %), or -1. */
static int target_level(const gs_bench_latency_res_t *r)
{
    for (int k = 0; k < GS_BENCH_LAT_LEVELS; k++)
        if (r->levels[k].pct == 50) return k;
    return -1;
}

/* r->limit: what the measurements of the 50 % level say about its p99, in one paragraph. */
static void explain(gs_bench_latency_res_t *r)
{
    int t = target_level(r);
    const gs_bench_latency_level_t *m = t >= 0 ? &r->levels[t] : NULL;
    char *p = r->limit, *end = r->limit + sizeof(r->limit);
    if (!m || m->p99 < 0) {
        snprintf(p, (size_t)(end - p), "no incident opened at 50 %% load: nothing measured");
        return;
    }
    p += snprintf(p, (size_t)(end - p),
                  "p99 at 50 %% load is %.0f ms, commit.interval.ms %" PRId64 " %s %.0f ms", m->p99,
                  r->commit_interval_ms, m->p99 >= (double)r->commit_interval_ms ? "+" : "-",
                  fabs(m->p99 - (double)r->commit_interval_ms));
    if (p < end && m->commit_mean_ms >= 0)
        p += snprintf(p, (size_t)(end - p),
                      ". The stream thread spent %.0f %% of the time committing, %.1f ms a "
                      "commit on average (flush of windows and incidents, produce and wait for "
                      "delivery, commit_transaction %.1f ms of it, RocksDB write): a record is "
                      "published by the first commit that starts after it is applied, and is "
                      "visible when that commit ends, so up to one interval plus one commit",
                      100 * m->commit_share, m->commit_mean_ms, m->txn_mean_ms);
    if (p < end && m->max_lag > (uint64_t)m->sent_rps)
        p += snprintf(p, (size_t)(end - p),
                      ". The engine fell behind: up to %" PRIu64
                      " input records not yet applied (more than 1 s of input)",
                      m->max_lag);
    if (p < end)
        snprintf(p, (size_t)(end - p),
                 ". Kafka alone (input records produced to visible, same cluster and clients): "
                 "p50 %.1f ms, p99 %.1f ms with fetch.wait.max.ms 5; p50 %.1f ms, p99 %.1f ms with "
                 "librdkafka's default of 500 ms (the engine's group consumer sets 20 ms), because "
                 "the embedded cluster answers a fetch that finds no data only after "
                 "fetch.wait.max.ms",
                 m->ref_p50, m->ref_p99, m->ref2_p50, m->ref2_p99);
}

gs_err_t gs_bench_latency(const gs_bench_latency_opts_t *o, gs_bench_latency_res_t *r, char *err,
                          size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->o = *o;
    err[0] = 0;
    double t_mode = gs_bench_now();
    lat_t L;
    memset(&L, 0, sizeof(L));
    gs_err_t rc = GS_ERR_IO;
    gs_cluster_t *cl = NULL;
    rd_kafka_t *pr = NULL;
    gs_run_t *run = NULL;
    char dir[4096] = "";

    /* the city, in memory */
    gs_gen_opts_t go;
    gs_gen_opts_defaults(&go);
    go.seed = 42;
    go.cells = o->cells;
    go.days = o->days;
    go.partitions = o->partitions;
    gs_gen_t *g = gs_gen_new(&go, err, errlen);
    if (!g) return GS_ERR_INVAL;
    if (o->progress) fprintf(o->progress, "bench latency: generating the city...\n");
    gs_err_t ge = gs_gen_run(g, gen_emit, &L);
    gs_gen_destroy(g);
    if (ge != GS_OK || L.nrecs == 0 || L.nrecs > UINT32_MAX) {
        snprintf(err, errlen, "generating the city failed (%s)", gs_err_str(ge));
        rc = GS_ERR_NOMEM;
        goto out;
    }
    if ((rc = index_signals(&L)) != GS_OK) {
        snprintf(err, errlen, "out of memory indexing signals");
        goto out;
    }
    rc = GS_ERR_NOMEM;
    L.sent_us = malloc(L.nrecs * sizeof(*L.sent_us));
    L.phase = calloc(L.nrecs, 1);
    L.seen = calloc(L.nrecs, 1);
    if (!L.sent_us || !L.phase || !L.seen) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < L.nrecs; i++)
        atomic_init(&L.sent_us[i], LAT_NO_SEND);
    r->records = L.nrecs;
    for (int lv = 0; lv < GS_BENCH_LAT_LEVELS; lv++) {
        gs_bench_latency_level_t *w = &r->levels[lv];
        w->pct = o->pct[lv];
        w->p50 = w->p99 = w->p999 = w->max = w->ref_p50 = w->ref_p99 = w->ref_p999 = -1;
        w->ref2_p50 = w->ref2_p99 = w->commit_mean_ms = w->txn_mean_ms = w->commit_share = -1;
    }
    r->burst = (uint64_t)o->burst < L.nrecs / 2 ? (uint64_t)o->burst : L.nrecs / 2;
    rc = GS_ERR_IO;

    /* the cluster, the reader, the burst */
    gs_config_t c;
    gs_config_defaults(&c);
    snprintf(c.application_id, sizeof(c.application_id), "%s", LAT_APP);
    gs_topic_spec_t plan[GS_TOPICS_COUNT];
    size_t np = gs_topics_plan(&c, (int)o->partitions, plan, GS_TOPICS_COUNT);
    if (!(cl = gs_cluster_start(3, plan, np, err, errlen))) goto out;
    const char *bs = gs_cluster_bootstrap(cl);
    for (int k = 0; k < 2; k++)
        if (reader_start(&L, k, bs, plan, np, err, errlen) != GS_OK) goto out;
    if (!(pr = producer_new(bs, err, errlen))) goto out;
    if (o->progress)
        fprintf(o->progress,
                "bench latency: %" PRIu64 " records, producing a burst of %" PRIu64
                " to measure capacity...\n",
                r->records, r->burst);
    size_t next = 0;
    for (; next < r->burst; next++)
        if (send_one(&L, pr, next, LAT_PHASE_BURST, err, errlen) != GS_OK) goto out;
    if (rd_kafka_flush(pr, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "the burst was not delivered within 60 s");
        goto out;
    }

    /* the engine: continuous, its /metrics on a free loopback port */
    if (!gs_bench_scratch_dir(dir, sizeof(dir), "latency", err, errlen)) {
        dir[0] = 0;
        goto out;
    }
    gs_config_t cfg;
    if (gs_bench_engine_cfg(&cfg, LAT_APP, bs, dir, true, o->threads, err, errlen) != GS_OK)
        goto out;
    int port = free_port();
    char pbuf[16], cbuf[24];
    snprintf(pbuf, sizeof(pbuf), "%d", port);
    snprintf(cbuf, sizeof(cbuf), "%" PRId64, o->commit_ms);
    if ((port && (gs_config_set(&cfg, "metrics.host", "127.0.0.1", err, errlen) != GS_OK ||
                  gs_config_set(&cfg, "metrics.port", pbuf, err, errlen) != GS_OK)) ||
        (o->commit_ms > 0 &&
         gs_config_set(&cfg, "commit.interval.ms", cbuf, err, errlen) != GS_OK) ||
        gs_config_set(&cfg, "log.level", getenv("GS_BENCH_LOG") ? getenv("GS_BENCH_LOG") : "error",
                      err, errlen) != GS_OK)
        goto out;
    for (int k = 0; k < o->nset; k++) {
        char kv[512];
        snprintf(kv, sizeof(kv), "%s", o->set[k]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errlen, "--set %s: expected key=value", o->set[k]);
            goto out;
        }
        *eq = 0;
        if (gs_config_set(&cfg, kv, eq + 1, err, errlen) != GS_OK) goto out;
    }
    r->commit_interval_ms = cfg.commit_interval_ms;
    r->target_ms = (double)cfg.commit_interval_ms + 20;
    gs_run_opts_t ro = {.partitions = (int)o->partitions, .quiet = true};
    double t0 = gs_bench_now(), t_first = 0, t_all = 0, last_line = 0;
    if (!(run = gs_run_start(&cfg, &ro, err, errlen))) goto out;
    while (!t_all && !gs_run_finished(run) && gs_bench_now() - t0 < 300) {
        uint64_t n = applied(run, NULL);
        double now = gs_bench_now();
        if (!t_first && n > 0) t_first = now;
        if (n >= r->burst) t_all = now;
        if (t_first && now - last_line >= 0.25) {
            progress(o, &L, "capacity: %" PRIu64 " of %" PRIu64 " burst records applied", n,
                     r->burst);
            last_line = now;
        }
        usleep(1000);
    }
    if (!t_all) {
        snprintf(err, errlen, "the engine did not apply the burst of %" PRIu64 " records",
                 r->burst);
        goto out;
    }
    r->join_s = t_first - t0;
    if (!drain(run, r->burst, r->commit_interval_ms, 60)) {
        snprintf(err, errlen, "the engine did not commit the burst");
        goto out;
    }
    /* capacity counts the commits too: applied alone is several times what the engine sustains
     * once every record's outputs, changelog and state must be committed */
    double t_done = gs_bench_now();
    r->capacity_rps = (double)r->burst / (t_done - t_first > 1e-3 ? t_done - t_first : 1e-3);

    /* the levels, paced; a shorter window for all when the input cannot fill them */
    double window = o->window_s, need = 0;
    for (int lv = 0; lv < GS_BENCH_LAT_LEVELS; lv++)
        need += r->capacity_rps * o->pct[lv] / 100.0 * window;
    if (need > (double)(L.nrecs - next)) window *= (double)(L.nrecs - next) / need;
    for (int lv = 0; lv < GS_BENCH_LAT_LEVELS; lv++) {
        gs_bench_latency_level_t *w = &r->levels[lv];
        w->pct = o->pct[lv];
        w->offered_rps = r->capacity_rps * w->pct / 100.0;
        char what[64];
        snprintf(what, sizeof(what), "%d %% load (%.0f rec/s)", w->pct, w->offered_rps);
        uint64_t c0 = 0, in0, out0, in1, out1, lag;
        applied(run, &c0);
        in_out(run, &in0, &out0, &lag);
        commit_fig_t f0 = scrape(port);
        size_t first = next;
        double p0 = gs_bench_now(), last_lag = 0, now = p0;
        last_line = 0;
        while ((now = gs_bench_now()) - p0 < window && next < L.nrecs) {
            size_t due = first + (size_t)((now - p0) * w->offered_rps);
            while (next < due && next < L.nrecs)
                if (send_one(&L, pr, next++, lv + 1, err, errlen) != GS_OK) goto out;
            rd_kafka_poll(pr, 0);
            if (now - last_lag >= 0.01 && now - p0 >= 1) { /* lag gauges lag by up to 0.5 s */
                in_out(run, &in1, &out1, &lag);
                if (lag > w->max_lag) w->max_lag = lag;
                last_lag = now;
            }
            if (now - last_line >= 0.25) {
                progress(o, &L, "%s %4.1f/%.1f s, %zu sent", what, now - p0, window, next - first);
                last_line = now;
            }
            usleep(200);
        }
        w->window_s = now - p0;
        w->records = next - first;
        w->sent_rps = w->window_s > 0 ? (double)w->records / w->window_s : 0;
        double d0 = gs_bench_now();
        if (rd_kafka_flush(pr, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            !drain(run, next, r->commit_interval_ms, 120)) {
            snprintf(err, errlen, "%d %% load: the engine did not apply and commit the records",
                     w->pct);
            goto out;
        }
        w->drain_s = gs_bench_now() - d0;
        uint64_t c1 = 0;
        applied(run, &c1);
        w->commits = c1 - c0;
        in_out(run, &in1, &out1, &lag);
        w->out_per_record = in1 > in0 ? (double)(out1 - out0) / (double)(in1 - in0) : 0;
        commit_fig_t f1 = scrape(port);
        w->commit_mean_ms = w->txn_mean_ms = w->commit_share = -1;
        if (f0.ok && f1.ok && f1.commit_n > f0.commit_n) {
            w->commit_mean_ms = 1e3 * (f1.commit_sum - f0.commit_sum) / (f1.commit_n - f0.commit_n);
            w->commit_share = (f1.commit_sum - f0.commit_sum) / (w->window_s + w->drain_s);
            if (f1.txn_n > f0.txn_n)
                w->txn_mean_ms = 1e3 * (f1.txn_sum - f0.txn_sum) / (f1.txn_n - f0.txn_n);
        }
        if (next >= L.nrecs) break; /* the generated input ran out */
    }
    if (o->progress) fprintf(o->progress, "\r%100s\r", "");

    /* the figures */
    readers_join(&L);
    for (int lv = 0; lv < GS_BENCH_LAT_LEVELS; lv++) {
        gs_bench_latency_level_t *w = &r->levels[lv];
        samples_t *s = &L.out[lv + 1], *ref = &L.rd[0].ref[lv + 1], *ref2 = &L.rd[1].ref[lv + 1];
        qsort(s->v, s->n, sizeof(*s->v), cmp_i32);
        qsort(ref->v, ref->n, sizeof(*ref->v), cmp_i32);
        qsort(ref2->v, ref2->n, sizeof(*ref2->v), cmp_i32);
        w->ref2_p50 = quantile_ms(ref2, 0.5);
        w->ref2_p99 = quantile_ms(ref2, 0.99);
        w->pct = o->pct[lv];
        w->outputs = s->n;
        w->alerts = L.alerts[lv + 1];
        w->p50 = quantile_ms(s, 0.5);
        w->p99 = quantile_ms(s, 0.99);
        w->p999 = quantile_ms(s, 0.999);
        w->max = quantile_ms(s, 1);
        w->ref_samples = ref->n;
        w->ref_p50 = quantile_ms(ref, 0.5);
        w->ref_p99 = quantile_ms(ref, 0.99);
        w->ref_p999 = quantile_ms(ref, 0.999);
        for (int k = 0; k < GS_BENCH_LAT_CDF; k++)
            w->cdf_ms[k] = quantile_ms(s, gs_bench_lat_cdf_q[k]);
    }
    int t = target_level(r);
    r->met = t >= 0 && r->levels[t].p99 >= 0 && r->levels[t].p99 <= r->target_ms;
    explain(r);
    rc = GS_OK;
out:
    if (rc != GS_OK && o->progress) fprintf(o->progress, "\n");
    if (run) {
        gs_run_stop(run);
        if (gs_run_join(run) != 0 && rc == GS_OK) {
            snprintf(err, errlen, "the engine failed (see its log)");
            rc = GS_ERR_IO;
        }
    }
    readers_join(&L);
    for (int k = 0; k < 2; k++)
        if (L.rd[k].c) {
            rd_kafka_consumer_close(L.rd[k].c);
            rd_kafka_destroy(L.rd[k].c);
        }
    if (pr) rd_kafka_destroy(pr);
    gs_cluster_stop(cl);
    if (dir[0]) gs_statedb_remove_dir(dir);
    lat_free(&L);
    r->seconds = gs_bench_now() - t_mode;
    return rc;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void ms_or_dash(FILE *f, int width, double v)
{
    if (v >= 0)
        fprintf(f, " %*.1f", width, v);
    else
        fprintf(f, " %*s", width, "-");
}

void gs_bench_latency_text(const gs_bench_latency_res_t *r, FILE *f)
{
    fprintf(f, "bench latency: record handed to the producer -> its incident or alert visible to a "
               "read_committed consumer, wall clock\n");
    fprintf(
        f,
        "  %" PRIu64 " records (gen --cells %d --days %d --seed 42), %u partitions, embedded "
        "cluster (3 brokers), exactly_once, %d stream thread(s), commit.interval.ms %" PRId64 "\n",
        r->records, r->o.cells, r->o.days, r->o.partitions, r->o.threads, r->commit_interval_ms);
    fprintf(f,
            "  capacity, same run: %.0f records/s (a burst of %" PRIu64
            " records, first applied to all committed; group join %.2f s before)\n",
            r->capacity_rps, r->burst, r->join_s);
    fprintf(f, "  %5s %9s %9s %7s %8s %8s %8s %8s %6s %7s %7s %7s %7s %7s %7s %8s\n", "load",
            "offered/s", "sent/s", "outputs", "p50 ms", "p99 ms", "p999 ms", "max ms", "target",
            "k p50", "k p99", "k500p50", "k500p99", "commit", "commit%", "max lag");
    for (int k = 0; k < GS_BENCH_LAT_LEVELS; k++) {
        const gs_bench_latency_level_t *w = &r->levels[k];
        fprintf(f, "  %4d%% %9.0f %9.0f %7" PRIu64, w->pct, w->offered_rps, w->sent_rps,
                w->outputs);
        ms_or_dash(f, 8, w->p50);
        ms_or_dash(f, 8, w->p99);
        ms_or_dash(f, 8, w->p999);
        ms_or_dash(f, 8, w->max);
        if (w->pct == 50)
            fprintf(f, " %6.0f", r->target_ms);
        else
            fprintf(f, " %6s", "");
        ms_or_dash(f, 7, w->ref_p50);
        ms_or_dash(f, 7, w->ref_p99);
        ms_or_dash(f, 7, w->ref2_p50);
        ms_or_dash(f, 7, w->ref2_p99);
        ms_or_dash(f, 7, w->commit_mean_ms);
        ms_or_dash(f, 7, w->commit_share >= 0 ? 100 * w->commit_share : -1);
        fprintf(f, " %8" PRIu64 "\n", w->max_lag);
    }
    fprintf(f,
            "  k: Kafka alone, the input records themselves produced to visible (fetch.wait.max.ms "
            "5); k500: the same with librdkafka's default fetch.wait.max.ms (500; the engine's "
            "group consumer sets 20); commit: mean engine commit, ms; commit%%: share of the "
            "time spent committing; max lag: input records not yet applied\n");
    fprintf(f, "  target p99 <= commit.interval.ms + 20 = %.0f ms at 50 %% load: %s\n",
            r->target_ms, r->met ? "met" : "NOT MET");
    fprintf(f, "  %s\n", r->limit);
}

static void json_ms(FILE *f, const char *name, double v, bool comma)
{
    fprintf(f, "%s\"%s\":", comma ? "," : "", name);
    if (v >= 0)
        fprintf(f, "%.3f", v);
    else
        fprintf(f, "null");
}

void gs_bench_latency_json(const gs_bench_latency_res_t *r, FILE *f)
{
    fprintf(f,
            "{\"mode\":\"latency\",\"available\":true,\"records\":%" PRIu64
            ",\"cells\":%d,\"days\":%d,\"partitions\":%u,\"threads\":%d,\"guarantee\":"
            "\"exactly_once\",\"burst_records\":%" PRIu64
            ",\"capacity_records_per_s\":%.0f,\"join_seconds\":%.3f,\"commit_interval_ms\":%" PRId64
            ",\"target_p99_ms\":%.0f,\"target_met\":%s,\"window_seconds\":%.1f,\"seconds\":%.1f,"
            "\"interval\":\"record handed to the producer to its incident or alert received by a "
            "read_committed consumer\",\"limit\":",
            r->records, r->o.cells, r->o.days, r->o.partitions, r->o.threads, r->burst,
            r->capacity_rps, r->join_s, r->commit_interval_ms, r->target_ms,
            r->met ? "true" : "false", r->o.window_s, r->seconds);
    gs_bench_json_str(f, r->limit);
    fprintf(f, ",\"cdf_quantiles\":[");
    for (int k = 0; k < GS_BENCH_LAT_CDF; k++)
        fprintf(f, "%s%g", k ? "," : "", gs_bench_lat_cdf_q[k]);
    fprintf(f, "],\"levels\":[");
    for (int k = 0; k < GS_BENCH_LAT_LEVELS; k++) {
        const gs_bench_latency_level_t *w = &r->levels[k];
        fprintf(f,
                "%s{\"load_percent\":%d,\"offered_records_per_s\":%.0f,\"sent_records_per_s\":%.0f,"
                "\"window_seconds\":%.3f,\"drain_seconds\":%.3f,\"records\":%" PRIu64
                ",\"outputs\":%" PRIu64 ",\"alerts\":%" PRIu64 ",\"commits\":%" PRIu64,
                k ? "," : "", w->pct, w->offered_rps, w->sent_rps, w->window_s, w->drain_s,
                w->records, w->outputs, w->alerts, w->commits);
        json_ms(f, "p50_ms", w->p50, true);
        json_ms(f, "p99_ms", w->p99, true);
        json_ms(f, "p999_ms", w->p999, true);
        json_ms(f, "max_ms", w->max, true);
        fprintf(f, ",\"kafka_samples\":%" PRIu64, w->ref_samples);
        json_ms(f, "kafka_p50_ms", w->ref_p50, true);
        json_ms(f, "kafka_p99_ms", w->ref_p99, true);
        json_ms(f, "kafka_p999_ms", w->ref_p999, true);
        json_ms(f, "kafka_default_fetch_wait_p50_ms", w->ref2_p50, true);
        json_ms(f, "kafka_default_fetch_wait_p99_ms", w->ref2_p99, true);
        json_ms(f, "commit_mean_ms", w->commit_mean_ms, true);
        json_ms(f, "transaction_mean_ms", w->txn_mean_ms, true);
        json_ms(f, "commit_share", w->commit_share, true);
        fprintf(f, ",\"max_lag_records\":%" PRIu64 ",\"outputs_per_input_record\":%.3f", w->max_lag,
                w->out_per_record);
        fprintf(f, ",\"cdf_ms\":[");
        for (int q = 0; q < GS_BENCH_LAT_CDF; q++) {
            if (q) fputc(',', f);
            if (w->cdf_ms[q] >= 0)
                fprintf(f, "%.3f", w->cdf_ms[q]);
            else
                fprintf(f, "null");
        }
        fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
}
