/*
 * tail.c - `gridstream tail` (tail.h): a librdkafka consumer over one topic that prints every
 * record as a JSON line {"topic","partition","offset","key","value"}, the value decoded by the
 * topic's protobuf type and rendered by gs_json_message (dump.h). Topics without a type (the DLQ,
 * anything else) print their headers and the value's size instead.
 *
 * No consumer group is joined and nothing is committed: the partitions come from the topic's
 * metadata and are assigned explicitly, at the beginning (--from-beginning, --table) or at the
 * end offsets read before the first fetch, so that a record produced after tail has started is
 * always shown. Nothing here creates topics (allow.auto.create.topics=false, and the topic is
 * looked up in the metadata of all topics before it is named to the cluster): a typo fails within
 * seconds instead of creating a topic on a broker that auto-creates.
 *
 * --table reads each partition up to its end offset as of start (for read_committed, the last
 * stable offset) or up to the end of the partition, whichever comes first (a transaction still
 * open at start would otherwise block the read), keeps the latest record per key, and prints the
 * rows in key order (bytewise); a key whose latest value is null (a tombstone) is left out.
 *
 * Aborted transactions are hidden by the broker's transaction markers; the librdkafka 2.0.2 mock
 * cluster behind `gridstream broker` writes none, so there aborted records are shown too (kcat
 * with isolation.level=read_committed shows them as well).
 *
 * Everything runs on the calling thread; librdkafka's own threads only fill the consumer queue.
 */
#include "tail.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dump.h"
#include "hash.h"

extern char **environ;

#define GS_TAIL_EXIT_RUNTIME 1
#define GS_TAIL_EXIT_USAGE 2
#define GS_TAIL_METADATA_TIMEOUT_MS 10000 /* unreachable cluster: give up after this */
#define GS_TAIL_UNKNOWN_TOPIC_MS 2000     /* unknown topic: re-ask for this long (propagation) */
#define GS_TAIL_POLL_MS 100               /* signal and --timeout reaction time */

typedef struct gs_tail_opts {
    const char *topic;
    const char *bootstrap; /* --bootstrap, or NULL */
    bool table;
    bool from_beginning;
    long long max;     /* records (rows with --table) to print; 0 = unlimited */
    double timeout_s;  /* stop after this long without a record; 0 = never */
    int32_t partition; /* -1 = all */
} gs_tail_opts_t;

/* One key's latest record in --table mode; key and value share one allocation. */
typedef struct gs_tail_row {
    uint8_t *buf; /* key bytes, then value bytes */
    size_t klen, vlen;
    bool key_null, val_null;
    int32_t partition;
    int64_t offset;
    rd_kafka_headers_t *hdrs; /* owned copy, or NULL */
} gs_tail_row_t;

/* Open-addressing hash table of rows keyed by the record key; a NULL slot is empty. */
typedef struct gs_tail_table {
    gs_tail_row_t **slots;
    size_t cap; /* power of two */
    size_t n;
} gs_tail_table_t;

/* Progress of one assigned partition in --table mode. */
typedef struct gs_tail_part {
    int32_t id;
    int64_t end; /* end offset as of start */
    bool done;
} gs_tail_part_t;

static volatile sig_atomic_t tail_stop;

static void tail_on_signal(int sig)
{
    (void)sig;
    tail_stop = 1;
}

static double tail_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- JSON output ------------------------------------------------------------------------- */

static void tail_json_headers(FILE *out, const rd_kafka_headers_t *hdrs)
{
    fputs(",\"headers\":{", out);
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0;
         hdrs && rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         i++) {
        if (i) fputc(',', out);
        gs_json_bytes(out, name, strlen(name));
        fputc(':', out);
        if (val)
            gs_json_bytes(out, val, size);
        else
            fputs("null", out);
    }
    fputc('}', out);
}

/*
 * Prints one record as a JSON line. key/val NULL are null key and value (a tombstone); hdrs may
 * be NULL. `d` NULL: headers and the value's size instead of the decoded value.
 */
static void tail_print(FILE *out, const char *topic, const ProtobufCMessageDescriptor *d,
                       int32_t partition, int64_t offset, const void *key, size_t klen,
                       const void *val, size_t vlen, const rd_kafka_headers_t *hdrs)
{
    fputs("{\"topic\":", out);
    gs_json_bytes(out, topic, strlen(topic));
    fprintf(out, ",\"partition\":%d,\"offset\":%lld,\"key\":", (int)partition, (long long)offset);
    if (key)
        gs_json_bytes(out, key, klen);
    else
        fputs("null", out);
    if (!d) tail_json_headers(out, hdrs);
    fputs(",\"value\":", out);
    if (!val) {
        fputs("null", out);
    } else if (!d) {
        fprintf(out, "{\"bytes\":%zu}", vlen);
    } else {
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, vlen, val);
        if (m) {
            gs_json_message(out, m);
            protobuf_c_message_free_unpacked(m, NULL);
        } else {
            fprintf(out, "{\"error\":\"decode\",\"bytes\":%zu}", vlen);
        }
    }
    fputs("}\n", out);
}

/* ---- --table: latest record per key -------------------------------------------------------- */

static void tail_row_free(gs_tail_row_t *r)
{
    if (!r) return;
    if (r->hdrs) rd_kafka_headers_destroy(r->hdrs);
    free(r->buf);
    free(r);
}

static void tail_table_fini(gs_tail_table_t *t)
{
    for (size_t i = 0; i < t->cap; i++)
        tail_row_free(t->slots[i]);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static bool tail_row_key_eq(const gs_tail_row_t *r, const void *key, size_t klen)
{
    if (!key) return r->key_null;
    return !r->key_null && r->klen == klen && memcmp(r->buf, key, klen) == 0;
}

static size_t tail_slot(const gs_tail_table_t *t, const void *key, size_t klen)
{
    size_t i = (size_t)(key ? gs_hash64(key, klen, 1) : 0) & (t->cap - 1);
    while (t->slots[i] && !tail_row_key_eq(t->slots[i], key, klen))
        i = (i + 1) & (t->cap - 1);
    return i;
}

static gs_err_t tail_table_grow(gs_tail_table_t *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    gs_tail_table_t nt = {calloc(ncap, sizeof(*nt.slots)), ncap, t->n};
    if (!nt.slots) return GS_ERR_NOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        gs_tail_row_t *r = t->slots[i];
        if (r) nt.slots[tail_slot(&nt, r->key_null ? NULL : r->buf, r->klen)] = r;
    }
    free(t->slots);
    *t = nt;
    return GS_OK;
}

/* Replaces the row of m's key with a copy of m. */
static gs_err_t tail_table_put(gs_tail_table_t *t, const rd_kafka_message_t *m)
{
    if ((t->n + 1) * 4 > t->cap * 3 && tail_table_grow(t) != GS_OK) return GS_ERR_NOMEM;
    size_t i = tail_slot(t, m->key, m->key_len);
    gs_tail_row_t *r = t->slots[i];
    if (!r) {
        if (!(r = calloc(1, sizeof(*r)))) return GS_ERR_NOMEM;
        t->slots[i] = r;
        t->n++;
    }
    size_t klen = m->key ? m->key_len : 0, vlen = m->payload ? m->len : 0;
    uint8_t *buf = realloc(r->buf, klen + vlen + 1);
    if (!buf) return GS_ERR_NOMEM;
    r->buf = buf;
    if (klen) memcpy(buf, m->key, klen);
    if (vlen) memcpy(buf + klen, m->payload, vlen);
    r->klen = klen;
    r->vlen = vlen;
    r->key_null = !m->key;
    r->val_null = !m->payload;
    r->partition = m->partition;
    r->offset = m->offset;
    if (r->hdrs) rd_kafka_headers_destroy(r->hdrs);
    r->hdrs = NULL;
    rd_kafka_headers_t *h;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
        r->hdrs = rd_kafka_headers_copy(h);
    return GS_OK;
}

/* Key order: the null key first, then bytewise, a prefix before the longer key. */
static int tail_row_cmp(const void *a, const void *b)
{
    const gs_tail_row_t *x = *(gs_tail_row_t *const *)a, *y = *(gs_tail_row_t *const *)b;
    if (x->key_null || y->key_null) return (int)y->key_null - (int)x->key_null;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = n ? memcmp(x->buf, y->buf, n) : 0;
    if (c) return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

static gs_err_t tail_table_print(const gs_tail_table_t *t, const gs_tail_opts_t *o,
                                 const ProtobufCMessageDescriptor *d)
{
    gs_tail_row_t **rows = malloc((t->n ? t->n : 1) * sizeof(*rows));
    if (!rows) return GS_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i] && !t->slots[i]->val_null) rows[n++] = t->slots[i];
    qsort(rows, n, sizeof(*rows), tail_row_cmp);
    for (size_t i = 0; i < n && (!o->max || (long long)i < o->max); i++) {
        const gs_tail_row_t *r = rows[i];
        tail_print(stdout, o->topic, d, r->partition, r->offset, r->key_null ? NULL : r->buf,
                   r->klen, r->buf + r->klen, r->vlen, r->hdrs);
    }
    free(rows);
    return GS_OK;
}

/* ---- command line -------------------------------------------------------------------------- */

static void tail_usage(FILE *f)
{
    fprintf(
        f,
        "usage: gridstream tail TOPIC [--bootstrap HOST:PORT] [--config FILE] [--set k=v]\n"
        "                       [--table] [--from-beginning] [--max N] [--timeout SECONDS]\n"
        "                       [--partition P]\n"
        "  prints the records of TOPIC as JSON lines\n"
        "  {\"topic\":..,\"partition\":..,\"offset\":..,\"key\":..,\"value\":{..}}, values decoded "
        "by\n"
        "  the topic's type (gridstream.kpi/incidents/alerts/scorecards, city.reports/sensors/\n"
        "  video/cases); other topics (gridstream.dlq) show \"headers\" and the value's size.\n"
        "  Only committed data is shown; no consumer group, nothing committed.\n"
        "  --bootstrap       brokers; overrides bootstrap.servers (a running `gridstream broker`\n"
        "                    prints its address)\n"
        "  --from-beginning  start at the beginning of each partition (default: the end)\n"
        "  --table           read up to the end as of start, print the latest value per key in\n"
        "                    key order, and exit\n"
        "  --max N           stop after N records (rows with --table)\n"
        "  --timeout S       stop after S seconds without a record (default: until SIGINT)\n"
        "  --partition P     read partition P only\n");
}

static int tail_bad(const char *what)
{
    fprintf(stderr, "gridstream tail: %s (see gridstream tail --help)\n", what);
    return GS_TAIL_EXIT_USAGE;
}

/* Parses the command line into o; returns 0, or an exit code (-1: --help was printed). */
static int tail_parse(int argc, char **argv, gs_tail_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->partition = -1;
    char msg[300];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            tail_usage(stdout);
            return -1;
        }
        if (strcmp(a, "--table") == 0) {
            o->table = true;
            continue;
        }
        if (strcmp(a, "--from-beginning") == 0) {
            o->from_beginning = true;
            continue;
        }
        static const char *const valued[] = {"--bootstrap", "--config",    "--set", "--max",
                                             "--timeout",   "--partition", NULL};
        bool is_valued = false;
        for (const char *const *v = valued; *v; v++)
            is_valued = is_valued || strcmp(a, *v) == 0;
        if (is_valued) {
            if (i + 1 >= argc) {
                snprintf(msg, sizeof(msg), "%s needs a value", a);
                return tail_bad(msg);
            }
            const char *v = argv[++i];
            char *end;
            errno = 0;
            if (strcmp(a, "--bootstrap") == 0) {
                if (!*v) return tail_bad("--bootstrap needs HOST:PORT");
                o->bootstrap = v;
            } else if (strcmp(a, "--max") == 0) {
                o->max = strtoll(v, &end, 10);
                if (errno || end == v || *end || o->max < 1) {
                    snprintf(msg, sizeof(msg), "--max '%.40s': want a whole number >= 1", v);
                    return tail_bad(msg);
                }
            } else if (strcmp(a, "--timeout") == 0) {
                o->timeout_s = strtod(v, &end);
                if (errno || end == v || *end || !isfinite(o->timeout_s) || o->timeout_s <= 0) {
                    snprintf(msg, sizeof(msg), "--timeout '%.40s': want seconds > 0", v);
                    return tail_bad(msg);
                }
            } else if (strcmp(a, "--partition") == 0) {
                long p = strtol(v, &end, 10);
                if (errno || end == v || *end || p < 0 || p > INT32_MAX) {
                    snprintf(msg, sizeof(msg), "--partition '%.40s': want a partition number", v);
                    return tail_bad(msg);
                }
                o->partition = (int32_t)p;
            } /* --config and --set: gs_config_from_cli */
            continue;
        }
        if (a[0] == '-' && a[1]) {
            snprintf(msg, sizeof(msg), "unexpected argument '%.80s'", a);
            return tail_bad(msg);
        }
        if (o->topic) {
            snprintf(msg, sizeof(msg), "one TOPIC only, got '%.80s' and '%.80s'", o->topic, a);
            return tail_bad(msg);
        }
        o->topic = a;
    }
    if (!o->topic || !*o->topic) return tail_bad("TOPIC is required");
    return 0;
}

/* ---- Kafka --------------------------------------------------------------------------------- */

/*
 * Error reporting state, the consumer's opaque. Errors are reported only while reading (before,
 * the caller reports a failure itself, with context) and once per error code until a record
 * arrives again: a broker outage repeats its error every second.
 */
typedef struct gs_tail_errs {
    bool on;
    int last; /* rd_kafka_resp_err_t last reported, 0 = none */
} gs_tail_errs_t;

/* librdkafka's error events; served by rd_kafka_consumer_poll() on the calling thread. */
static void tail_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    gs_tail_errs_t *errs = opaque;
    (void)rk;
    if (!errs->on || err == errs->last) return;
    errs->last = err;
    fprintf(stderr, "gridstream tail: kafka: %s\n", reason);
}

static bool tail_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char why[512];
    if (rd_kafka_conf_set(conf, k, v, why, sizeof(why)) == RD_KAFKA_CONF_OK) return true;
    fprintf(stderr, "gridstream tail: %s=%s: %s\n", k, v, why);
    return false;
}

/*
 * A consumer for o and cfg, or NULL with the error printed. Defaults go first so that kafka.* may
 * override them (e.g. kafka.isolation.level=read_uncommitted to see aborted data); what the tool
 * relies on (no commits, no topic creation, end-of-partition events) is set last. `errs` must
 * outlive the consumer.
 */
static rd_kafka_t *tail_consumer_new(const gs_tail_opts_t *o, const gs_config_t *cfg,
                                     gs_tail_errs_t *errs)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[1024];
    /* librdkafka's assign() needs a group.id; it is never joined and nothing is committed. */
    if (!tail_conf_set(conf, "group.id", "gridstream-tail") ||
        !tail_conf_set(conf, "client.id", "gridstream-tail") ||
        !tail_conf_set(conf, "isolation.level", "read_committed") ||
        !tail_conf_set(conf, "auto.offset.reset", "earliest") ||
        !tail_conf_set(conf, "log_level", "2")) /* errors come through tail_on_error */
        goto fail;
    if (gs_config_kafka_apply(cfg, conf, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream tail: configuration error: %s\n", err);
        goto fail;
    }
    if ((o->bootstrap && !tail_conf_set(conf, "bootstrap.servers", o->bootstrap)) ||
        !tail_conf_set(conf, "enable.auto.commit", "false") ||
        !tail_conf_set(conf, "enable.auto.offset.store", "false") ||
        !tail_conf_set(conf, "allow.auto.create.topics", "false") ||
        !tail_conf_set(conf, "enable.partition.eof", "true"))
        goto fail;
    rd_kafka_conf_set_error_cb(conf, tail_on_error);
    rd_kafka_conf_set_opaque(conf, errs);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "gridstream tail: cannot create a Kafka consumer: %s\n", err);
        goto fail;
    }
    rd_kafka_poll_set_consumer(rk); /* error_cb is served by rd_kafka_consumer_poll() */
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/*
 * The partitions of o->topic (all, or o->partition) as a list for assign(), or NULL with the
 * error printed: the cluster does not answer within GS_TAIL_METADATA_TIMEOUT_MS, or the topic or
 * partition does not exist.
 *
 * Asks for the metadata of all topics and looks the topic up: a request naming a missing topic
 * creates it on brokers that auto-create, whatever allow.auto.create.topics says, when the broker
 * only speaks Metadata < v4 (the librdkafka mock cluster behind `gridstream broker` does). For the
 * same reason no topic handle exists before the topic is known to exist.
 */
static rd_kafka_topic_partition_list_t *tail_partitions(rd_kafka_t *rk, const gs_tail_opts_t *o,
                                                        const char *bootstrap)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    double start = tail_now();
    for (;;) {
        double left_ms = GS_TAIL_METADATA_TIMEOUT_MS - (tail_now() - start) * 1000;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(rk, 1, NULL, &md, left_ms > 100 ? (int)left_ms : 100);
        if (err) {
            fprintf(stderr, "gridstream tail: no answer from %s within %d s (%s)\n", bootstrap,
                    GS_TAIL_METADATA_TIMEOUT_MS / 1000, rd_kafka_err2str(err));
            return NULL;
        }
        const struct rd_kafka_metadata_topic *t = NULL;
        for (int i = 0; i < md->topic_cnt && !t; i++)
            if (strcmp(md->topics[i].topic, o->topic) == 0) t = &md->topics[i];
        err = !t                     ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
              : t->err               ? t->err
              : t->partition_cnt > 0 ? RD_KAFKA_RESP_ERR_NO_ERROR
                                     : RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
        if (!err) {
            int n = t->partition_cnt;
            parts = rd_kafka_topic_partition_list_new(n);
            for (int i = 0; i < n; i++)
                if (o->partition < 0 || t->partitions[i].id == o->partition)
                    rd_kafka_topic_partition_list_add(parts, o->topic, t->partitions[i].id);
            rd_kafka_metadata_destroy(md);
            if (parts->cnt == 0) {
                fprintf(stderr, "gridstream tail: %s has no partition %d (partitions 0..%d)\n",
                        o->topic, (int)o->partition, n - 1);
                rd_kafka_topic_partition_list_destroy(parts);
                parts = NULL;
            }
            return parts;
        }
        rd_kafka_metadata_destroy(md);
        double elapsed_ms = (tail_now() - start) * 1000;
        bool unknown = err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (tail_stop ||
            elapsed_ms >= (unknown ? GS_TAIL_UNKNOWN_TOPIC_MS : GS_TAIL_METADATA_TIMEOUT_MS)) {
            if (unknown)
                fprintf(stderr, "gridstream tail: topic '%s' does not exist on %s\n", o->topic,
                        bootstrap);
            else
                fprintf(stderr, "gridstream tail: topic '%s': %s\n", o->topic,
                        rd_kafka_err2str(err));
            return NULL;
        }
        struct timespec ts = {0, 200 * 1000 * 1000}; /* a new topic may not be everywhere yet */
        nanosleep(&ts, NULL);
    }
}

/*
 * Reads the end offset of every partition in parts into its .offset (read_committed: the last
 * stable offset). Returns false with the error printed.
 */
static bool tail_end_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, parts->elems[i].topic, parts->elems[i].partition,
                                             &lo, &hi, GS_TAIL_METADATA_TIMEOUT_MS);
        if (err) {
            fprintf(stderr, "gridstream tail: %s [%d]: cannot read the end offset: %s\n",
                    parts->elems[i].topic, (int)parts->elems[i].partition, rd_kafka_err2str(err));
            return false;
        }
        parts->elems[i].offset = hi;
    }
    return true;
}

/* ---- the read loop ------------------------------------------------------------------------- */

int gs_tail_main(int argc, char **argv)
{
    gs_tail_opts_t o;
    int rc = tail_parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    gs_config_t cfg;
    if (gs_config_from_cli(&cfg, NULL, argc, argv, environ) != GS_OK) return GS_TAIL_EXIT_USAGE;
    const char *bootstrap = o.bootstrap ? o.bootstrap : cfg.bootstrap_servers;
    if (!*bootstrap) {
        fprintf(stderr, "gridstream tail: no brokers: pass --bootstrap HOST:PORT (the embedded "
                        "cluster runs in another process: `gridstream broker` prints its "
                        "address), or set bootstrap.servers\n");
        return GS_TAIL_EXIT_USAGE;
    }
    const ProtobufCMessageDescriptor *d = gs_topic_descriptor(o.topic, false);

    rc = GS_TAIL_EXIT_RUNTIME;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    gs_tail_part_t *prog = NULL;
    gs_tail_table_t table = {0};
    gs_tail_errs_t errs = {0};
    int n_open = 0; /* --table: partitions not read to their end yet */

    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = tail_on_signal;
    sigemptyset(&sa.sa_mask);
    tail_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    if (!(rk = tail_consumer_new(&o, &cfg, &errs))) goto out;
    if (!(parts = tail_partitions(rk, &o, bootstrap))) goto out;
    if (!tail_end_offsets(rk, parts)) goto out;
    if (o.table) {
        if (!(prog = calloc((size_t)parts->cnt, sizeof(*prog)))) goto nomem;
        for (int i = 0; i < parts->cnt; i++) {
            prog[i].id = parts->elems[i].partition;
            prog[i].end = parts->elems[i].offset;
            prog[i].done = prog[i].end <= 0; /* empty: low == high is caught by EOF */
            n_open += !prog[i].done;
        }
    }
    if (o.table || o.from_beginning)
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
    if (err) {
        fprintf(stderr, "gridstream tail: assign %s: %s\n", o.topic, rd_kafka_err2str(err));
        goto out;
    }

    long long seen = 0;
    bool unflushed = false;
    double last = tail_now();
    errs.on = true;
    while (!tail_stop && !(o.table && n_open == 0)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, unflushed ? 0 : GS_TAIL_POLL_MS);
        if (!m) {
            if (unflushed) {
                fflush(stdout);
                unflushed = false;
            }
            if (o.timeout_s > 0 && tail_now() - last >= o.timeout_s) {
                if (o.table) {
                    fprintf(stderr,
                            "gridstream tail: --table: no record for %g s before the end of %d "
                            "partition(s) of %s\n",
                            o.timeout_s, n_open, o.topic);
                    goto out;
                }
                break;
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            for (int i = 0; o.table && i < parts->cnt; i++)
                if (prog[i].id == m->partition && !prog[i].done) {
                    prog[i].done = true;
                    n_open--;
                }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            /* Consumer errors repeat while they last (e.g. the topic was deleted): once each. */
            if ((int)m->err != errs.last)
                fprintf(stderr, "gridstream tail: %s [%d]: %s\n", o.topic, (int)m->partition,
                        rd_kafka_message_errstr(m));
            errs.last = m->err;
            rd_kafka_message_destroy(m);
            if (rd_kafka_fatal_error(rk, NULL, 0)) goto out;
            continue;
        }
        errs.last = 0;
        last = tail_now();
        if (o.table) {
            bool ok = true;
            for (int i = 0; i < parts->cnt; i++)
                if (prog[i].id == m->partition && !prog[i].done) {
                    ok = tail_table_put(&table, m) == GS_OK;
                    if (m->offset + 1 >= prog[i].end) {
                        prog[i].done = true;
                        n_open--;
                    }
                }
            rd_kafka_message_destroy(m);
            if (!ok) goto nomem;
            continue;
        }
        rd_kafka_headers_t *hdrs = NULL;
        if (!d) rd_kafka_message_headers(m, &hdrs);
        tail_print(stdout, o.topic, d, m->partition, m->offset, m->key, m->key_len, m->payload,
                   m->len, hdrs);
        rd_kafka_message_destroy(m);
        unflushed = true;
        if (o.max && ++seen >= o.max) break;
    }
    if (o.table) {
        if (n_open > 0) {
            fprintf(stderr, "gridstream tail: --table: interrupted before the end of %s\n",
                    o.topic);
            goto out;
        }
        if (tail_table_print(&table, &o, d) != GS_OK) goto nomem;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gridstream tail: writing the output: %s\n", strerror(errno));
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    fprintf(stderr, "gridstream tail: out of memory\n");
out:
    fflush(stdout);
    errs.on = false;
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    free(prog);
    tail_table_fini(&table);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

/* ---- reading a topic to its end for another command ------------------------------------------ */

int gs_tail_read_to_end(const gs_config_t *cfg, const char *bootstrap, const char *topic,
                        double timeout_s, gs_tail_record_fn fn, void *ctx)
{
    gs_tail_opts_t o = {.topic = topic, .bootstrap = bootstrap, .table = true, .partition = -1};
    const char *bs = bootstrap ? bootstrap : cfg->bootstrap_servers;
    int rc = GS_TAIL_EXIT_RUNTIME;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    gs_tail_part_t *prog = NULL;
    gs_tail_errs_t errs = {0};
    int n_open = 0;

    tail_stop = 0;
    if (!(rk = tail_consumer_new(&o, cfg, &errs))) goto out;
    if (!(parts = tail_partitions(rk, &o, bs))) goto out;
    if (!tail_end_offsets(rk, parts)) goto out;
    if (!(prog = calloc((size_t)parts->cnt, sizeof(*prog)))) {
        fprintf(stderr, "gridstream: out of memory reading %s\n", topic);
        goto out;
    }
    for (int i = 0; i < parts->cnt; i++) {
        prog[i].id = parts->elems[i].partition;
        prog[i].end = parts->elems[i].offset;
        prog[i].done = prog[i].end <= 0;
        n_open += !prog[i].done;
        parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
    if (err) {
        fprintf(stderr, "gridstream: assign %s: %s\n", topic, rd_kafka_err2str(err));
        goto out;
    }
    double last = tail_now();
    errs.on = true;
    while (n_open > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, GS_TAIL_POLL_MS);
        if (!m) {
            if (timeout_s > 0 && tail_now() - last >= timeout_s) {
                fprintf(stderr,
                        "gridstream: %s: no record for %g s before the end of %d partition(s)\n",
                        topic, timeout_s, n_open);
                goto out;
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            for (int i = 0; i < parts->cnt; i++)
                if (prog[i].id == m->partition && !prog[i].done) {
                    prog[i].done = true;
                    n_open--;
                }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            if ((int)m->err != errs.last)
                fprintf(stderr, "gridstream: %s [%d]: %s\n", topic, (int)m->partition,
                        rd_kafka_message_errstr(m));
            errs.last = m->err;
            rd_kafka_message_destroy(m);
            if (rd_kafka_fatal_error(rk, NULL, 0)) goto out;
            continue;
        }
        errs.last = 0;
        last = tail_now();
        int stop = 0;
        for (int i = 0; i < parts->cnt; i++)
            if (prog[i].id == m->partition && !prog[i].done) {
                stop =
                    fn(ctx, m->key, m->key ? m->key_len : 0, m->payload, m->payload ? m->len : 0);
                if (m->offset + 1 >= prog[i].end) {
                    prog[i].done = true;
                    n_open--;
                }
            }
        rd_kafka_message_destroy(m);
        if (stop) goto out;
    }
    rc = 0;
out:
    errs.on = false;
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    free(prog);
    return rc;
}
