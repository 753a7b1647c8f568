/*
 * bench_int.h - the inside of `gridstream bench`, shared by its files: bench.c (dispatch, the
 * machine, clocks, RSS and allocation counters), pipeline.c (operators vs. decode-only, 1..N
 * threads), state.c (memory and RocksDB bytes per incident and per cell), kafka.c (e2e and
 * restore on the embedded cluster), latency.c (produced record to visible output), report.c
 * (RESULTS.md, results.json, the plots) and plan.c (the capacity planner and its presets).
 *
 * Every mode measures gridstream and a reference in the same run on the same records, because on a
 * shared machine absolute figures move by tens of percent between runs while ratios hold.
 */
#ifndef GS_BENCH_INT_H
#define GS_BENCH_INT_H

#include <stdio.h>

#include "gs.h"

#define GS_BENCH_MAX_ROWS 16

/* ---- bench.c: measuring ---------------------------------------------------------------------- */

double gs_bench_now(void); /* monotonic seconds */

/*
 * Heap allocation calls so far in the process (malloc, calloc, realloc, aligned), from jemalloc's
 * statistics after flushing the calling thread's cache so that its requests are counted; -1 when
 * the process does not run on jemalloc (dev and sanitizer builds).
 */
int64_t gs_bench_allocations(void);

/* Gives freed memory back to the system (jemalloc purge or malloc_trim) before an RSS baseline. */
void gs_bench_purge(void);

/* Resident set size of the process in bytes, from /proc/self/statm. */
int64_t gs_bench_rss(void);

/* "2 cores, AMD EPYC ..., 23 GiB" into buf; returns the number of online cores. */
int gs_bench_machine(char *buf, size_t len);

/* Parses "1,2,4" into out (at most max values, each 1..limit); returns the count or -1. */
int gs_bench_parse_list(const char *s, int64_t *out, int max, int64_t limit);

/* Writes s as a JSON string (quotes and escapes). */
void gs_bench_json_str(FILE *f, const char *s);

/* ---- pipeline.c ------------------------------------------------------------------------------ */

typedef struct gs_bench_pipeline_opts {
    int cells, days;
    uint32_t partitions;
    int64_t threads[GS_BENCH_MAX_ROWS];
    int nthreads;
    int runs;
    FILE *progress; /* or NULL */
} gs_bench_pipeline_opts_t;

typedef struct gs_bench_pipeline_row {
    int threads;
    double gs_rps, ref_rps; /* best of the runs, whole process */
    double ratio;           /* gs_rps / ref_rps */
    double scaling;         /* gs_rps / (threads * gs_rps at 1 thread), 0 when 1 thread not run */
} gs_bench_pipeline_row_t;

typedef struct gs_bench_pipeline_res {
    gs_bench_pipeline_opts_t o;
    int cores;
    uint64_t records, bytes;
    uint64_t incidents, kpi_records, dlq_records;
    double gen_seconds;
    int nrows;
    gs_bench_pipeline_row_t rows[GS_BENCH_MAX_ROWS];
    /* heap allocation calls per 1M records, -1 when not counted (not on jemalloc) */
    double allocs_window_per_m; /* second half of every task's input, before its final flush */
    uint64_t allocs_window, window_records;
    double allocs_whole_per_m; /* a whole 1-thread run: tasks, final flushes and the rollup */
} gs_bench_pipeline_res_t;

void gs_bench_pipeline_defaults(gs_bench_pipeline_opts_t *o);
gs_err_t gs_bench_pipeline(const gs_bench_pipeline_opts_t *o, gs_bench_pipeline_res_t *r,
                           char *errbuf, size_t errlen);
void gs_bench_pipeline_text(const gs_bench_pipeline_res_t *r, FILE *f);
void gs_bench_pipeline_json(const gs_bench_pipeline_res_t *r, FILE *f);

/* ---- state.c --------------------------------------------------------------------------------- */

typedef struct gs_bench_state_opts {
    int64_t cells[GS_BENCH_MAX_ROWS];
    int nsizes;
    int64_t memory_bytes; /* state.memory.bytes for RocksDB */
    const char *dir;      /* scratch directory for RocksDB (removed afterwards) */
    FILE *progress;
} gs_bench_state_opts_t;

typedef struct gs_bench_state_row {
    int64_t cells, incidents;
    double seconds;
    double events_per_s;         /* reports applied per second while building the state */
    double rss_per_cell;         /* RSS of an active cell with one open incident */
    double rss_per_incident;     /* RSS of one more open incident in an active cell */
    double store_per_incident;   /* bytes of keys and values in the hot table, per incident */
    int64_t rss_state;           /* RSS the hot state added, all incidents */
    int64_t rss_rocksdb;         /* RSS RocksDB added while loading the state */
    int64_t rocksdb_bytes;       /* SST bytes on disk after the load */
    double rocksdb_per_incident; /* rocksdb_bytes / incidents */
    double packed_incident;      /* reference: mean bytes of an incident as its packed record */
} gs_bench_state_row_t;

typedef struct gs_bench_state_res {
    gs_bench_state_opts_t o;
    int nrows;
    gs_bench_state_row_t rows[GS_BENCH_MAX_ROWS];
} gs_bench_state_res_t;

void gs_bench_state_defaults(gs_bench_state_opts_t *o);
gs_err_t gs_bench_state(const gs_bench_state_opts_t *o, gs_bench_state_res_t *r, char *errbuf,
                        size_t errlen);
void gs_bench_state_text(const gs_bench_state_res_t *r, FILE *f);
void gs_bench_state_json(const gs_bench_state_res_t *r, FILE *f);

/* ---- kafka.c: e2e and restore on the embedded cluster -----------------------------------------
 */

struct gs_config;

/* Makes a fresh directory $TMPDIR/gridstream-bench-WHAT-XXXXXX into buf; false with the reason. */
bool gs_bench_scratch_dir(char *buf, size_t len, const char *what, char *err, size_t errlen);

/* The engine configuration of a bench run: defaults, then application.id, bootstrap.servers,
   state.dir, the guarantee, num.stream.threads, no metrics endpoint, log.level warn (or
   $GS_BENCH_LOG), a 6 s session timeout. */
gs_err_t gs_bench_engine_cfg(struct gs_config *c, const char *app, const char *bootstrap,
                             const char *state_dir, bool eos, int threads, char *err,
                             size_t errlen);

typedef struct gs_bench_e2e_opts {
    int cells, days;
    uint32_t partitions;
    int64_t threads[GS_BENCH_MAX_ROWS];
    int nthreads;
    FILE *progress;
} gs_bench_e2e_opts_t;

typedef struct gs_bench_e2e_row {
    bool eos;
    int threads;
    double join_s;  /* run start to the first input record applied (group join, empty restore) */
    double apply_s; /* first record applied to the last */
    double seconds; /* first record applied to the run finished: the measured interval */
    double gs_rps, ratio;
    uint64_t commits, outputs;
} gs_bench_e2e_row_t;

typedef struct gs_bench_e2e_res {
    gs_bench_e2e_opts_t o;
    uint64_t records;
    double produce_seconds;
    double ref_rps; /* kcat, consume only */
    int nrows;
    gs_bench_e2e_row_t rows[2 * GS_BENCH_MAX_ROWS];
} gs_bench_e2e_res_t;

void gs_bench_e2e_defaults(gs_bench_e2e_opts_t *o);
gs_err_t gs_bench_e2e(const gs_bench_e2e_opts_t *o, gs_bench_e2e_res_t *r, char *errbuf,
                      size_t errlen);
void gs_bench_e2e_text(const gs_bench_e2e_res_t *r, FILE *f);
void gs_bench_e2e_json(const gs_bench_e2e_res_t *r, FILE *f);

typedef struct gs_bench_restore_opts {
    int64_t entries;
    size_t value_bytes;
    FILE *progress;
} gs_bench_restore_opts_t;

typedef struct gs_bench_restore_res {
    gs_bench_restore_opts_t o;
    uint64_t changelog_records;
    double produce_seconds;
    double join_seconds;     /* run start to assignment */
    double restore_seconds;  /* assignment to every entry in RocksDB: the measured interval */
    double ready_seconds;    /* run start to the task loaded and running */
    double finished_seconds; /* run start to finished */
    double gs_rps;
    double db_bench_rps; /* 0 when db_bench is not installed */
    double statedb_rps;  /* engine/statedb.c batch writes, WAL off */
    double ref_rps, ratio;
} gs_bench_restore_res_t;

void gs_bench_restore_defaults(gs_bench_restore_opts_t *o);
gs_err_t gs_bench_restore(const gs_bench_restore_opts_t *o, gs_bench_restore_res_t *r, char *errbuf,
                          size_t errlen);
void gs_bench_restore_text(const gs_bench_restore_res_t *r, FILE *f);
void gs_bench_restore_json(const gs_bench_restore_res_t *r, FILE *f);

/* ---- latency.c: produced record to its output visible to a read_committed consumer ---------- */

#define GS_BENCH_LAT_LEVELS 3 /* offered load: 25, 50 and 75 % of the measured capacity */
#define GS_BENCH_LAT_CDF 28   /* points of each level's latency distribution kept for the plot */

/* The quantiles of gs_bench_latency_level_t.cdf_ms, increasing from 0 (min) to 1 (max). */
extern const double gs_bench_lat_cdf_q[GS_BENCH_LAT_CDF];

typedef struct gs_bench_latency_opts {
    int cells, days;
    uint32_t partitions;
    int threads;
    int64_t burst;   /* records produced before the engine starts, to measure capacity */
    double window_s; /* seconds of paced load per level */
    int pct[GS_BENCH_LAT_LEVELS]; /* offered load, % of the capacity: 25, 50, 75 */
    int64_t commit_ms;            /* commit.interval.ms, 0 for the engine's default */
    const char *set[8];           /* more engine settings, "key=value" (borrowed) */
    int nset;
    FILE *progress; /* a progress line, or NULL */
} gs_bench_latency_opts_t;

typedef struct gs_bench_latency_level {
    int pct;
    double offered_rps; /* pct of the capacity */
    double sent_rps;    /* records sent / window */
    double window_s;    /* paced (shorter for every level when the input cannot fill them) */
    double drain_s;     /* end of the window to every record applied and committed */
    uint64_t records;   /* sent in the window */
    uint64_t outputs;   /* incidents opened by records of the window, first seen on the output */
    uint64_t alerts;    /* of those, seen first as an alert (HOTSPOT or CRITICAL) */
    double p50, p99, p999, max;        /* ms, produced to visible; -1 when no output */
    double ref_p50, ref_p99, ref_p999; /* ms, Kafka alone: the input records themselves */
    uint64_t ref_samples;
    double ref2_p50, ref2_p99; /* ms, the same with the engine's consumer fetch.wait.max.ms */
    uint64_t commits;          /* engine commits during the window and drain */
    double commit_mean_ms, txn_mean_ms; /* -1 when /metrics could not be read */
    double commit_share;   /* engine time in commits / (window + drain), per stream thread */
    uint64_t max_lag;      /* most input records not yet applied, every 10 ms from 1 s on */
    double out_per_record; /* output records written per input record applied */
    double cdf_ms[GS_BENCH_LAT_CDF];
} gs_bench_latency_level_t;

typedef struct gs_bench_latency_res {
    gs_bench_latency_opts_t o;
    uint64_t records;    /* generated */
    uint64_t burst;      /* of which in the capacity burst */
    double join_s;       /* engine start to the first record applied */
    double capacity_rps; /* burst / (first applied to all applied) */
    int64_t commit_interval_ms;
    double target_ms; /* commit.interval.ms + 20 */
    bool met;         /* p99 at the 50 % level <= target (false without that level) */
    double seconds;   /* the whole mode */
    char limit[1024]; /* what the measurements say limits the p99 */
    gs_bench_latency_level_t levels[GS_BENCH_LAT_LEVELS];
} gs_bench_latency_res_t;

void gs_bench_latency_defaults(gs_bench_latency_opts_t *o);
void gs_bench_latency_quick(gs_bench_latency_opts_t *o);
gs_err_t gs_bench_latency(const gs_bench_latency_opts_t *o, gs_bench_latency_res_t *r, char *errbuf,
                          size_t errlen);
void gs_bench_latency_text(const gs_bench_latency_res_t *r, FILE *f);
void gs_bench_latency_json(const gs_bench_latency_res_t *r, FILE *f);

/* ---- plan.c ---------------------------------------------------------------------------------- */

/* The measured figures the planner works from (results.json "planner_inputs"). */
typedef struct gs_bench_figures {
    double per_core_rps;         /* in-process records/s of one stream thread */
    double scaling;              /* throughput of N threads / (N x one thread), measured at N max */
    double rss_per_incident;     /* bytes */
    double rss_per_cell;         /* bytes */
    double rocksdb_per_incident; /* bytes on disk */
    double memory_bytes;         /* state.memory.bytes the state figures were measured with */
    double
        kafka_factor;  /* e2e exactly_once 1-thread records/s over per_core_rps; 0: not measured */
    char source[1024]; /* where the figures come from (commit, date, machine) */
} gs_bench_figures_t;

/* Reads planner_inputs from a results.json written by `bench report`. */
gs_err_t gs_bench_figures_load(const char *path, gs_bench_figures_t *fg, char *errbuf,
                               size_t errlen);

/* Writes the planner_inputs object for results.json. */
void gs_bench_figures_json(const gs_bench_figures_t *fg, FILE *f);

/* `gridstream bench plan ...`; exit code. */
int gs_bench_plan_main(int argc, char **argv);

/* Prints the plan of every preset (report's summary). */
void gs_bench_plan_presets(const gs_bench_figures_t *fg, FILE *f, bool markdown);

/* ---- report.c -------------------------------------------------------------------------------- */

int gs_bench_report_main(int argc, char **argv);

#endif
