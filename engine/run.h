/*
 * run.h - `gridstream run`: the streaming engine of DESIGN.md on Kafka.
 *
 * A process runs num.stream.threads stream threads. Each is one member of the consumer group
 * application.id (range assignor, static membership), subscribed to the four input topics and the
 * internal partials topic, with one producer (transactional under exactly_once). Input partition
 * p of the four inputs is task p; partials partition p is rollup p; the range assignor gives both
 * to the same thread. Tasks merge their four partitions in event-time order (SPEC §4) and run the
 * operators; rollups sum the tasks' cumulative partials. Every commit.interval.ms a thread flushes
 * its tasks and rollups, writes outputs, partials and changed state (to the changelog topics, with
 * a marker carrying the input positions; changelog.h) in one transaction with the input offsets,
 * commits it, and only then writes the same state to RocksDB. On assignment a task or rollup is
 * restored from RocksDB plus the changelog tail and resumes at the positions its state records.
 *
 * With no bootstrap.servers, run starts the embedded cluster (cluster.h) with the whole topic plan
 * and prints its bootstrap address.
 */
#ifndef GS_RUN_H
#define GS_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "task.h"

typedef struct gs_run gs_run_t;

typedef struct gs_run_opts {
    /*
     * Bounded mode: each task processes what its input partitions hold when it is assigned, then
     * ends its input as replay does (every window closes, every deadline passes, every scorecard
     * is evaluated); the process exits once all its tasks and rollups are done and committed.
     */
    bool until_end;
    int partitions;  /* embedded cluster: input partitions to create (default 4) */
    int brokers;     /* embedded cluster: brokers (default 3) */
    FILE *bootstrap; /* where to print "bootstrap: ..." for the embedded cluster, or NULL */
    bool quiet;      /* no periodic progress lines */
} gs_run_opts_t;

/* Totals over the process, read at any time from any thread (relaxed). */
typedef struct gs_run_stats {
    uint64_t records_in[GS_SRC__COUNT];
    uint64_t dlq[GS_REASON_COUNT];
    uint64_t out[GS_OUT__COUNT];
    uint64_t incidents_opened, signals, duplicates;
    uint64_t alerts[5]; /* by AlertKind */
    uint64_t commits, aborts, rebalances, restored_records;
    uint64_t lag; /* input records not yet applied, over assigned partitions */
    int tasks, rollups;
    int64_t min_watermark; /* over assigned tasks; GS_TIME_MIN if none */
} gs_run_stats_t;

/*
 * Starts the engine (embedded cluster if needed, topic checks, state, threads). Returns NULL with
 * the reason in errbuf (naming the topic, key or directory at fault). `cfg` is copied.
 */
gs_run_t *gs_run_start(const gs_config_t *cfg, const gs_run_opts_t *o, char *errbuf, size_t errlen);

/* The bootstrap servers the engine uses. */
const char *gs_run_bootstrap(const gs_run_t *r);

/* Asks the threads to commit and stop (async-signal-safe: sets a flag). */
void gs_run_stop(gs_run_t *r);

/* True once every thread has finished (until_end done, stopped, or failed). */
bool gs_run_finished(const gs_run_t *r);

void gs_run_stats(const gs_run_t *r, gs_run_stats_t *st);

/*
 * Waits for the threads, stops the embedded cluster, frees everything. Call gs_run_stop() first:
 * threads run until asked to stop, in until_end mode too (gs_run_finished() says when they are
 * done). Returns 0 after a clean stop, 1 after a runtime failure (the message was logged).
 */
int gs_run_join(gs_run_t *r);

/* Entry point of `gridstream run`; argv starts after the command name. Returns the exit code. */
int gs_run_main(int argc, char **argv);

#endif
