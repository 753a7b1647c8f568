/*
 * config.c - properties parsing and the configuration sources of config.h.
 *
 * The .properties reading follows java.util.Properties where it matters for hand-written files:
 * '#' and '!' comment lines, key and value separated by '=', ':' or white space, surrounding white
 * space trimmed, a trailing backslash continuing the line.
 */
#include "config.h"

#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Kafka topic names allow [A-Za-z0-9._-]; application.id prefixes internal topic names. */
static bool topic_safe_chars(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') return false;
    return true;
}

static bool topic_safe(const char *s)
{
    return *s && topic_safe_chars(s);
}

void gs_config_defaults(gs_config_t *c)
{
    memset(c, 0, sizeof(*c));
    gs_params_defaults(&c->params);
    snprintf(c->application_id, sizeof(c->application_id), "gridstream");
    c->exactly_once = true;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->num_stream_threads = cores < 1                       ? 1
                            : cores > GS_CONFIG_MAX_THREADS ? GS_CONFIG_MAX_THREADS
                                                            : (int)cores;
    c->commit_interval_ms = 100;
    snprintf(c->state_dir, sizeof(c->state_dir), "/tmp/gridstream");
    c->state_memory_bytes = INT64_C(256) << 20;
    c->idle_timeout_ms = 30000;
    c->buffered_records = 1000;
    c->metrics_port = 9464;
    snprintf(c->metrics_host, sizeof(c->metrics_host), "0.0.0.0");
    c->log_level = 1;
}

/* A whole decimal integer in [lo, hi]; false otherwise. */
static bool parse_int(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!*v || isspace((unsigned char)*v)) return false;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < lo || x > hi) return false;
    *out = x;
    return true;
}

typedef enum { EK_INT, EK_STR, EK_ENUM } ekind_t;

/* The engine's own keys: one table for set, print and the reference (`config keys`). */
typedef struct ekey {
    const char *name;
    ekind_t kind;
    int64_t lo, hi;           /* EK_INT */
    const char *const *names; /* EK_ENUM, NULL-terminated; index is the value */
    const char *doc;
} ekey_t;

static const char *const guarantee_names[] = {"at_least_once", "exactly_once", NULL};
static const char *const format_names[] = {"logfmt", "json", NULL};
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};

static const ekey_t ekeys[] = {
    {"processing.guarantee", EK_ENUM, 0, 0, guarantee_names,
     "exactly_once: outputs, changelog and input offsets in one transaction; at_least_once"},
    {"num.stream.threads", EK_INT, 1, GS_CONFIG_MAX_THREADS, NULL,
     "stream threads, each a consumer group member with its own tasks (default: cores)"},
    {"commit.interval.ms", EK_INT, 1, 600000, NULL,
     "how often a stream thread commits (outputs become visible to read_committed readers)"},
    {"state.dir", EK_STR, 0, 0, NULL,
     "local state: RocksDB in state.dir/application.id (one process per directory)"},
    {"state.memory.bytes", EK_INT, INT64_C(16) << 20, INT64_C(1) << 42, NULL,
     "RocksDB block cache plus memtables, shared by every task of the process"},
    {"idle.timeout.ms", EK_INT, 0, INT64_C(86400000), NULL,
     "an input partition read to its end with nothing new for this long leaves the watermark "
     "(SPEC 7); 0: at once, as replay does at the end of its input"},
    {"buffered.records.per.partition", EK_INT, 1, 1000000, NULL,
     "records buffered per input partition before it is paused (backpressure)"},
    {"instance.id", EK_STR, 0, 0, NULL,
     "static group membership id of this process; empty = host name + a hash of state.dir"},
    {"metrics.port", EK_INT, 0, 65535, NULL,
     "HTTP port of /metrics, /healthz and /readyz; 0 = no HTTP endpoint"},
    {"metrics.host", EK_STR, 0, 0, NULL, "address the HTTP endpoint binds to"},
    {"log.format", EK_ENUM, 0, 0, format_names, "log lines on stderr: logfmt or json"},
    {"log.level", EK_ENUM, 0, 0, level_names,
     "least severe level logged: debug, info, warn, error"},
};

static gs_err_t set_engine(gs_config_t *c, const ekey_t *k, const char *value, char *errbuf,
                           size_t errlen)
{
    int64_t x = 0;
    int e = 0;
    switch (k->kind) {
    case EK_INT:
        if (!parse_int(value, k->lo, k->hi, &x)) {
            snprintf(errbuf, errlen, "%s: '%.60s' is not an integer in %lld..%lld", k->name, value,
                     (long long)k->lo, (long long)k->hi);
            return GS_ERR_CONFIG;
        }
        break;
    case EK_ENUM:
        for (e = 0; k->names[e] && strcmp(k->names[e], value) != 0; e++)
            ;
        if (!k->names[e]) {
            char list[256] = "";
            for (int i = 0; k->names[i]; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                         k->names[i]);
            snprintf(errbuf, errlen, "%s: '%.60s' is not one of %s", k->name, value, list);
            return GS_ERR_CONFIG;
        }
        break;
    case EK_STR:
        break;
    }
    const char *n = k->name;
    if (strcmp(n, "processing.guarantee") == 0)
        c->exactly_once = e == 1;
    else if (strcmp(n, "num.stream.threads") == 0)
        c->num_stream_threads = (int)x;
    else if (strcmp(n, "commit.interval.ms") == 0)
        c->commit_interval_ms = x;
    else if (strcmp(n, "state.memory.bytes") == 0)
        c->state_memory_bytes = x;
    else if (strcmp(n, "idle.timeout.ms") == 0)
        c->idle_timeout_ms = x;
    else if (strcmp(n, "buffered.records.per.partition") == 0)
        c->buffered_records = (int)x;
    else if (strcmp(n, "metrics.port") == 0)
        c->metrics_port = (int)x;
    else if (strcmp(n, "log.format") == 0)
        c->log_json = e == 1;
    else if (strcmp(n, "log.level") == 0)
        c->log_level = e;
    else {
        char *dst = strcmp(n, "state.dir") == 0     ? c->state_dir
                    : strcmp(n, "instance.id") == 0 ? c->instance_id
                                                    : c->metrics_host;
        size_t cap = strcmp(n, "state.dir") == 0     ? sizeof(c->state_dir)
                     : strcmp(n, "instance.id") == 0 ? sizeof(c->instance_id)
                                                     : sizeof(c->metrics_host);
        if (strlen(value) >= cap) {
            snprintf(errbuf, errlen, "%s: longer than %zu characters", n, cap - 1);
            return GS_ERR_CONFIG;
        }
        if (strcmp(n, "state.dir") == 0 && !*value) {
            snprintf(errbuf, errlen, "state.dir: must not be empty");
            return GS_ERR_CONFIG;
        }
        if (strcmp(n, "instance.id") == 0 && *value && !topic_safe_chars(value)) {
            snprintf(errbuf, errlen, "instance.id: '%.60s' must be A-Z a-z 0-9 . _ -", value);
            return GS_ERR_CONFIG;
        }
        snprintf(dst, cap, "%s", value);
    }
    return GS_OK;
}

static void engine_value(const gs_config_t *c, const ekey_t *k, char *buf, size_t len)
{
    const char *n = k->name;
    if (strcmp(n, "processing.guarantee") == 0)
        snprintf(buf, len, "%s", guarantee_names[c->exactly_once]);
    else if (strcmp(n, "num.stream.threads") == 0)
        snprintf(buf, len, "%d", c->num_stream_threads);
    else if (strcmp(n, "commit.interval.ms") == 0)
        snprintf(buf, len, "%lld", (long long)c->commit_interval_ms);
    else if (strcmp(n, "state.dir") == 0)
        snprintf(buf, len, "%s", c->state_dir);
    else if (strcmp(n, "state.memory.bytes") == 0)
        snprintf(buf, len, "%lld", (long long)c->state_memory_bytes);
    else if (strcmp(n, "idle.timeout.ms") == 0)
        snprintf(buf, len, "%lld", (long long)c->idle_timeout_ms);
    else if (strcmp(n, "buffered.records.per.partition") == 0)
        snprintf(buf, len, "%d", c->buffered_records);
    else if (strcmp(n, "instance.id") == 0)
        snprintf(buf, len, "%s", c->instance_id);
    else if (strcmp(n, "metrics.port") == 0)
        snprintf(buf, len, "%d", c->metrics_port);
    else if (strcmp(n, "metrics.host") == 0)
        snprintf(buf, len, "%s", c->metrics_host);
    else if (strcmp(n, "log.format") == 0)
        snprintf(buf, len, "%s", format_names[c->log_json]);
    else
        snprintf(buf, len, "%s", level_names[c->log_level]);
}

gs_err_t gs_config_set(gs_config_t *c, const char *key, const char *value, char *errbuf,
                       size_t errlen)
{
    gs_err_t err = gs_params_set(&c->params, key, value, errbuf, errlen);
    if (err != GS_ERR_NOENT) return err;
    if (strcmp(key, "application.id") == 0) {
        if (!topic_safe(value) || strlen(value) >= sizeof(c->application_id)) {
            snprintf(errbuf, errlen,
                     "application.id: '%.60s' must be 1..199 characters of A-Z a-z 0-9 . _ -",
                     value);
            return GS_ERR_CONFIG;
        }
        snprintf(c->application_id, sizeof(c->application_id), "%s", value);
        return GS_OK;
    }
    for (size_t i = 0; i < sizeof(ekeys) / sizeof(ekeys[0]); i++)
        if (strcmp(key, ekeys[i].name) == 0) return set_engine(c, &ekeys[i], value, errbuf, errlen);
    if (strcmp(key, "bootstrap.servers") == 0) {
        if (strlen(value) >= sizeof(c->bootstrap_servers)) {
            snprintf(errbuf, errlen, "bootstrap.servers: longer than %zu characters",
                     sizeof(c->bootstrap_servers) - 1);
            return GS_ERR_CONFIG;
        }
        snprintf(c->bootstrap_servers, sizeof(c->bootstrap_servers), "%s", value);
        return GS_OK;
    }
    if (strncmp(key, "kafka.", 6) == 0 && key[6]) {
        const char *k = key + 6;
        int i;
        for (i = 0; i < c->n_kafka; i++)
            if (strcmp(c->kafka[i].key, k) == 0) break;
        if (i == GS_CONFIG_MAX_KAFKA) {
            snprintf(errbuf, errlen, "%s: more than %d kafka.* keys", key, GS_CONFIG_MAX_KAFKA);
            return GS_ERR_CONFIG;
        }
        if (strlen(k) >= sizeof(c->kafka[i].key) || strlen(value) >= sizeof(c->kafka[i].value)) {
            snprintf(errbuf, errlen, "%s: key or value too long", key);
            return GS_ERR_CONFIG;
        }
        rd_kafka_conf_t *probe = rd_kafka_conf_new(); /* refuse what librdkafka would refuse */
        char why[512];
        rd_kafka_conf_res_t res = rd_kafka_conf_set(probe, k, value, why, sizeof(why));
        rd_kafka_conf_destroy(probe);
        if (res != RD_KAFKA_CONF_OK) {
            snprintf(errbuf, errlen, "%s: %s", key, why);
            return GS_ERR_CONFIG;
        }
        snprintf(c->kafka[i].key, sizeof(c->kafka[i].key), "%s", k);
        snprintf(c->kafka[i].value, sizeof(c->kafka[i].value), "%s", value);
        if (i == c->n_kafka) c->n_kafka++;
        return GS_OK;
    }
    snprintf(errbuf, errlen, "%s: unknown configuration key (see 'gridstream config keys')", key);
    return GS_ERR_CONFIG;
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Splits a properties line into key and value in place. Returns false if there is no key. */
static bool split(char *line, char **key, char **value)
{
    char *s = trim(line);
    if (!*s) return false;
    char *p = s;
    while (*p && *p != '=' && *p != ':' && !isspace((unsigned char)*p))
        p++;
    char *kend = p;
    while (*p && isspace((unsigned char)*p))
        p++;
    if (*p == '=' || *p == ':') p++;
    *kend = 0;
    *key = s;
    *value = trim(p);
    return **key != 0;
}

gs_err_t gs_config_set_pair(gs_config_t *c, const char *pair, char *errbuf, size_t errlen)
{
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair) {
        snprintf(errbuf, errlen, "--set '%s': expected key=value", pair);
        return GS_ERR_CONFIG;
    }
    char key[256];
    size_t kl = (size_t)(eq - pair);
    if (kl >= sizeof(key)) {
        snprintf(errbuf, errlen, "--set: key too long");
        return GS_ERR_CONFIG;
    }
    memcpy(key, pair, kl);
    key[kl] = 0;
    return gs_config_set(c, trim(key), eq + 1, errbuf, errlen);
}

gs_err_t gs_config_load_file(gs_config_t *c, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return GS_ERR_CONFIG;
    }
    /* Whole lines: a fixed buffer would cut a long line, and its rest would read as a line of
       its own (a long comment could end in a setting that then took effect). */
    char *line = NULL, acc[16384];
    size_t alen = 0, cap = 0;
    int lineno = 0, start = 0;
    gs_err_t err = GS_OK;
    for (;;) {
        /* At the end of the file a pending continuation ends the line, as in Java. */
        bool eof = getline(&line, &cap, f) < 0;
        if (eof && alen == 0) break;
        if (eof) line[0] = 0;
        lineno++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        char *s = line;
        if (alen == 0) {
            start = lineno;
            s = trim(line);
            if (*s == '#' || *s == '!' || *s == 0) continue;
        } else {
            s = trim(line); /* continuation lines drop their leading white space */
        }
        n = strlen(s);
        bool cont = n > 0 && s[n - 1] == '\\';
        if (cont) s[--n] = 0;
        if (alen + n + 1 > sizeof(acc)) {
            snprintf(errbuf, errlen, "%s:%d: line too long", path, start);
            err = GS_ERR_CONFIG;
            break;
        }
        memcpy(acc + alen, s, n);
        alen += n;
        acc[alen] = 0;
        if (cont) continue;
        char *key, *value;
        alen = 0;
        if (!split(acc, &key, &value)) continue;
        char why[512];
        if (gs_config_set(c, key, value, why, sizeof(why)) != GS_OK) {
            snprintf(errbuf, errlen, "%s:%d: %s", path, start, why);
            err = GS_ERR_CONFIG;
            break;
        }
    }
    free(line);
    fclose(f);
    return err;
}

gs_err_t gs_config_load_env(gs_config_t *c, char **envp, char *errbuf, size_t errlen)
{
    static const char prefix[] = "GRIDSTREAM_";
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0) continue;
        const char *name = *e + sizeof(prefix) - 1;
        const char *eq = strchr(name, '=');
        if (!eq) continue;
        char key[256];
        size_t kl = (size_t)(eq - name);
        if (kl >= sizeof(key)) continue;
        for (size_t i = 0; i < kl; i++)
            key[i] = name[i] == '_' ? '.' : (char)tolower((unsigned char)name[i]);
        key[kl] = 0;
        char why[512];
        if (gs_config_set(c, key, eq + 1, why, sizeof(why)) != GS_OK) {
            snprintf(errbuf, errlen, "environment %.*s: %s", (int)(eq - *e), *e, why);
            return GS_ERR_CONFIG;
        }
    }
    return GS_OK;
}

static void print_one(void *ctx, const char *key, const char *value, const char *doc)
{
    FILE *out = ctx;
    /* A value ending in a backslash would continue into the next line when read back: a second
       backslash and an empty line end the continuation right there. */
    size_t n = strlen(value);
    bool backslash = n > 0 && value[n - 1] == '\\';
    fprintf(out, "# %s\n%s=%s%s\n", doc, key, value, backslash ? "\\\n" : "");
}

gs_err_t gs_config_from_cli(gs_config_t *c, const char *file, int argc, char **argv, char **envp)
{
    char err[1024];
    gs_config_defaults(c);
    if (file && gs_config_load_file(c, file, err, sizeof(err)) != GS_OK) goto fail;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, sizeof(err), "--config needs a file");
                goto fail;
            }
            if (gs_config_load_file(c, argv[++i], err, sizeof(err)) != GS_OK) goto fail;
        }
    if (gs_config_load_env(c, envp, err, sizeof(err)) != GS_OK) goto fail;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--set") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, sizeof(err), "--set needs key=value");
                goto fail;
            }
            if (gs_config_set_pair(c, argv[++i], err, sizeof(err)) != GS_OK) goto fail;
        }
    return GS_OK;
fail:
    fprintf(stderr, "gridstream: configuration error: %s\n", err);
    return GS_ERR_CONFIG;
}

gs_err_t gs_config_kafka_apply(const gs_config_t *c, void *rd_conf, char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_conf;
    if (c->bootstrap_servers[0] &&
        rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstrap_servers, errbuf, errlen) !=
            RD_KAFKA_CONF_OK)
        return GS_ERR_CONFIG;
    for (int i = 0; i < c->n_kafka; i++) {
        char why[512];
        if (rd_kafka_conf_set(conf, c->kafka[i].key, c->kafka[i].value, why, sizeof(why)) !=
            RD_KAFKA_CONF_OK) {
            snprintf(errbuf, errlen, "kafka.%s: %s", c->kafka[i].key, why);
            return GS_ERR_CONFIG;
        }
    }
    return GS_OK;
}

void gs_config_print(const gs_config_t *c, FILE *out)
{
    print_one(out, "application.id", c->application_id,
              "consumer group id, and the prefix of internal topics");
    print_one(out, "bootstrap.servers", c->bootstrap_servers,
              "Kafka brokers (host:port,...); empty = the embedded cluster");
    for (size_t i = 0; i < sizeof(ekeys) / sizeof(ekeys[0]); i++) {
        char v[1100];
        engine_value(c, &ekeys[i], v, sizeof(v));
        print_one(out, ekeys[i].name, v, ekeys[i].doc);
    }
    for (int i = 0; i < c->n_kafka; i++) {
        char k[140];
        snprintf(k, sizeof(k), "kafka.%s", c->kafka[i].key);
        bool secret = strstr(c->kafka[i].key, "password") || strstr(c->kafka[i].key, "secret");
        print_one(out, k, secret ? "(hidden)" : c->kafka[i].value, "passed to librdkafka");
    }
    gs_params_each(&c->params, print_one, out);
}

void gs_config_each(const gs_config_t *c,
                    void (*fn)(void *ctx, const char *key, const char *value, const char *doc),
                    void *ctx)
{
    fn(ctx, "application.id", c->application_id,
       "consumer group id, and the prefix of internal topics");
    fn(ctx, "bootstrap.servers", c->bootstrap_servers,
       "Kafka brokers (host:port,...); empty = the embedded cluster");
    for (size_t i = 0; i < sizeof(ekeys) / sizeof(ekeys[0]); i++) {
        char v[1100];
        engine_value(c, &ekeys[i], v, sizeof(v));
        fn(ctx, ekeys[i].name, v, ekeys[i].doc);
    }
    for (int i = 0; i < c->n_kafka; i++) {
        char k[140];
        snprintf(k, sizeof(k), "kafka.%s", c->kafka[i].key);
        fn(ctx, k, c->kafka[i].value, "passed to librdkafka");
    }
    gs_params_each(&c->params, fn, ctx);
}
