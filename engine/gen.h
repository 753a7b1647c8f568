/*
 * gen.h - `gridstream gen`: a synthetic city for the four input topics.
 *
 * The core (gs_gen_t) is deterministic: a fixed PRNG (xoshiro256**, seeded by splitmix64) and a
 * simulation that goes day by day over the cells, queues every record it decides on with the time
 * at which it is to be placed in its partition, and hands records over in that order. The same
 * options give the same record stream, byte for byte, on every run. The content exercises every
 * rule of SPEC §3-§6: reports of every channel (inspectors dominant), exact duplicates, follow-up
 * reports of the same problem nearby (merges) or just too far or too late (no merge), sensors of
 * every kind with NORMAL/ALARM sequences, video detection bursts (plus low-confidence, unmapped and
 * near-miss ones), case lifecycles referencing the signal they were opened for, a few records
 * placed late by minutes, and invalid records of every SPEC §3 reason.
 *
 * Invariants the generator keeps, so that valid case events always find their incident:
 * - every record's event time is <= its placement time (late records are placed later, never
 *   earlier), so a partition never holds a record from the future of the records after it;
 * - a case event is placed at least GS_GEN_CASE_MIN_DELAY_MS after the signal it references, and
 *   no record is late by more than GS_GEN_LATE_MAX_MS, so the signal is applied first in the
 *   event-time merge of SPEC §4;
 * - cases reference signals only: a report (its channel), the ALARM edge of a sensor, the detection
 *   that fires a video burst; video detections and readings of one sensor are never late, so their
 *   arrival order is their time order.
 *
 * The CLI (gs_gen_main) writes the stream to replay files or produces it to Kafka.
 */
#ifndef GS_GEN_H
#define GS_GEN_H

#include "gs.h"

#define GS_GEN_LATE_MAX_MS (20 * GS_MINUTE_MS)
#define GS_GEN_CASE_MIN_DELAY_MS (30 * GS_MINUTE_MS)
#define GS_GEN_MAX_CELLS 40000

typedef struct gs_gen_opts {
    uint64_t seed;         /* 1 */
    uint32_t partitions;   /* 4 */
    int cells;             /* 200 (1..GS_GEN_MAX_CELLS) */
    int days;              /* 35 */
    int64_t start_ms;      /* 2024-03-01 00:00 UTC+8 */
    double events_per_day; /* 4: reports and video bursts per cell and day, on average */
    double invalid_rate;   /* 0.02: share of invalid records, 0..0.5 */
} gs_gen_opts_t;

void gs_gen_opts_defaults(gs_gen_opts_t *o);

/* One generated record. Pointers are valid during the emit callback only. */
typedef struct gs_gen_rec {
    gs_source_t topic;
    uint32_t partition; /* murmur2 of the key, except for intent GS_ERR_WRONG_PARTITION */
    const char *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
    int64_t event_time_ms; /* of the value (as written, also when invalid; 0 if undecodable) */
    int64_t place_ms;      /* generation order: event time, later for late records */
    gs_err_t intent;       /* GS_OK, or the SPEC §3 reason the record was made to fail with */
    bool duplicate;        /* same identity as an earlier record (dedup drops it) */
    bool late;             /* placed after records with a later event time */
} gs_gen_rec_t;

/* Called for every record in order; a nonzero return stops the run. */
typedef int (*gs_gen_emit_fn)(void *ctx, const gs_gen_rec_t *rec);

typedef struct gs_gen_stats {
    uint64_t records;
    uint64_t per_topic[GS_SRC__COUNT];
    uint64_t invalid;                     /* records with an intent other than GS_OK */
    uint64_t per_reason[GS_REASON_COUNT]; /* by gs_reason_index() */
    uint64_t duplicates, late;
    uint64_t signals, cases; /* signals created; case lifecycles started */
} gs_gen_stats_t;

typedef struct gs_gen gs_gen_t;

/* Checks `o` and builds the city. NULL with the reason in errbuf on bad options or no memory. */
gs_gen_t *gs_gen_new(const gs_gen_opts_t *o, char *errbuf, size_t errlen);

/*
 * Generates the whole stream, calling `emit` for each record in placement order (ties: order of
 * generation). Returns GS_OK, GS_ERR_INVAL if `emit` stopped it, GS_ERR_NOMEM. Runs once.
 */
gs_err_t gs_gen_run(gs_gen_t *g, gs_gen_emit_fn emit, void *ctx);

/* Counts of what was emitted so far. */
const gs_gen_stats_t *gs_gen_stats(const gs_gen_t *g);

void gs_gen_destroy(gs_gen_t *g);

/* Entry point of `gridstream gen ...`; returns the process exit code (0, 1 runtime, 2 usage). */
int gs_gen_main(int argc, char **argv);

#endif
