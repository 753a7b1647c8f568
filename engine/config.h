/*
 * config.h - configuration: a Java-style .properties file, then GRIDSTREAM_* environment
 * variables, then --set key=value, later sources winning. Every key is known: an unknown key or a
 * bad value stops the program at start with the key and the reason.
 */
#ifndef GS_CONFIG_H
#define GS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gs.h"
#include "params.h"

#define GS_CONFIG_MAX_KAFKA 64
#define GS_CONFIG_MAX_THREADS 64 /* num.stream.threads upper bound */

typedef struct gs_config {
    gs_params_t params;           /* operator keys (params.h) */
    char application_id[200];     /* application.id: consumer group and prefix of internal topics */
    char bootstrap_servers[1024]; /* bootstrap.servers: empty = the embedded cluster */
    struct {
        char key[128]; /* librdkafka property (the part after "kafka.") */
        char value[1024];
    } kafka[GS_CONFIG_MAX_KAFKA]; /* kafka.*: passed to every Kafka client as they are */
    int n_kafka;

    /* the engine (gridstream run): DESIGN.md names, Kafka Streams names where one exists */
    bool exactly_once;          /* processing.guarantee: exactly_once (default) | at_least_once */
    int num_stream_threads;     /* num.stream.threads: default the number of online cores */
    int64_t commit_interval_ms; /* commit.interval.ms: 100 */
    char state_dir[1024];       /* state.dir: /tmp/gridstream (state in state.dir/application.id) */
    int64_t state_memory_bytes; /* state.memory.bytes: RocksDB block cache + memtables, 256 MiB */
    int64_t idle_timeout_ms;    /* idle.timeout.ms: 30000 (SPEC §7) */
    int buffered_records;   /* buffered.records.per.partition: 1000, then the partition pauses */
    char instance_id[200];  /* instance.id: static membership id; empty = host + state.dir */
    int metrics_port;       /* metrics.port: 9464; 0 = no HTTP endpoint */
    char metrics_host[256]; /* metrics.host: bind address, 0.0.0.0 */
    bool log_json;          /* log.format: logfmt (default) | json */
    int log_level;          /* log.level: debug 0, info 1 (default), warn 2, error 3 */
} gs_config_t;

void gs_config_defaults(gs_config_t *c);

/* Sets one key. GS_ERR_CONFIG with "key: reason" in errbuf for unknown keys and bad values. */
gs_err_t gs_config_set(gs_config_t *c, const char *key, const char *value, char *errbuf,
                       size_t errlen);

/* Parses "key=value" (as given to --set). */
gs_err_t gs_config_set_pair(gs_config_t *c, const char *pair, char *errbuf, size_t errlen);

/* Loads a properties file; errors name the file and line. */
gs_err_t gs_config_load_file(gs_config_t *c, const char *path, char *errbuf, size_t errlen);

/*
 * Applies GRIDSTREAM_<KEY> variables from `envp` (NULL-terminated; KEY upper-case with '.' as
 * '_', e.g. GRIDSTREAM_DEDUP_TTL_MS for dedup.ttl.ms).
 */
gs_err_t gs_config_load_env(gs_config_t *c, char **envp, char *errbuf, size_t errlen);

/*
 * The configuration of a command line, from its sources, later winning: defaults, `file` (if not
 * NULL), --config FILE, GRIDSTREAM_* environment (`envp`), --set key=value. Options other than
 * --config and --set are ignored here. On error prints "gridstream: configuration error: ..." to
 * stderr and returns GS_ERR_CONFIG.
 */
gs_err_t gs_config_from_cli(gs_config_t *c, const char *file, int argc, char **argv, char **envp);

/*
 * Applies bootstrap.servers (when set) and every kafka.* key to a librdkafka configuration object
 * (an rd_kafka_conf_t *; void here so that this header does not need rdkafka.h).
 */
gs_err_t gs_config_kafka_apply(const gs_config_t *c, void *rd_conf, char *errbuf, size_t errlen);

/* Writes the effective configuration as properties, one key a line with its doc as a comment. */
void gs_config_print(const gs_config_t *c, FILE *out);

/*
 * Calls `fn` for every key with its effective value in text form and its doc, in the order of
 * gs_config_print(). Values are not hidden: the caller decides what is secret (gs_log_config()).
 */
void gs_config_each(const gs_config_t *c,
                    void (*fn)(void *ctx, const char *key, const char *value, const char *doc),
                    void *ctx);

#endif
