/*
 * replay.h - `gridstream replay`: the whole pipeline over record files, without Kafka. Each
 * partition number is a task; its four input files are merged in event-time order (SPEC §4), every
 * operator runs, and at the end of input the watermark goes to +infinity so that every window
 * closes, every deadline passes and every scorecard is evaluated. Deterministic: the same input
 * directory gives byte-identical output files.
 */
#ifndef GS_REPLAY_H
#define GS_REPLAY_H

#include <stdio.h>

#include "gs.h"
#include "params.h"
#include "recfile.h"
#include "task.h"

typedef struct gs_replay_stats {
    uint32_t partitions;
    uint64_t records_in[GS_SRC__COUNT];
    uint64_t dlq[GS_REASON_COUNT];
    uint64_t out[GS_OUT__COUNT];
    gs_task_metrics_t totals; /* summed over tasks */
    double seconds;
} gs_replay_stats_t;

typedef struct gs_replay_opts {
    const char *input;
    const char *output; /* NULL: outputs are counted, not written (bench) */
    const gs_params_t *params;
    FILE *progress;   /* progress lines, or NULL */
    FILE *scorecards; /* the scorecard tables, or NULL */
} gs_replay_opts_t;

/* Runs a replay. On failure returns an error with a message naming the file and offset. */
gs_err_t gs_replay_run(const gs_replay_opts_t *o, gs_replay_stats_t *st, char *errbuf,
                       size_t errlen);

/* One task's run over input that is already open (the bench drives tasks from memory). */
typedef struct gs_replay_task_opts {
    const gs_params_t *params;
    uint32_t task, partitions;
    const gs_sink_t *sink;          /* outputs, and rejected records as GS_OUT_DLQ (key: reason) */
    const gs_partial_sink_t *parts; /* partials for the rollup */
    FILE *progress;                 /* or NULL */
    /* Optional: mark() is called once after record number mark_at has been applied, and once at
       the end of input before the task's final flush (the bench's steady-state window). */
    uint64_t mark_at;
    void (*mark)(void *ctx, uint64_t records);
    void *mark_ctx;
} gs_replay_task_opts_t;

/*
 * Runs task o->task over rd[] (one reader per input topic, in gs_source_t order; read to their
 * end, not closed): merge, validate, apply, then end of input and the task's flush. Counts go to
 * *st (records_in, dlq, totals; not zeroed). Not thread-safe with respect to *st and the sinks;
 * distinct tasks may run in parallel with distinct sinks and stats.
 */
gs_err_t gs_replay_task(const gs_replay_task_opts_t *o, gs_recreader_t rd[GS_SRC__COUNT],
                        gs_replay_stats_t *st, char *errbuf, size_t errlen);

/* Prints one Scorecard record (packed) as the table replay and demo show. */
void gs_replay_print_scorecard(FILE *f, const void *val, size_t vlen);

/* Prints the one-screen summary of a finished replay. */
void gs_replay_print_summary(const gs_replay_stats_t *st, FILE *out);

#endif
