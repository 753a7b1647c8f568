/*
 * gs.h - what every gridstream module shares: the error type, the input and output topics, the
 * decoded input event and the output sink.
 *
 * Operators (this directory) are pure: no I/O, no clock, no threads, no globals. They see input
 * events decoded by validate.c, keep their state in a gs_store_t, and hand every output record to a
 * gs_sink_t. The engine (engine/) supplies the sink, the store's persistence and the time.
 */
#ifndef GS_H
#define GS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gridstream/v1/gridstream.pb-c.h"

/*
 * Errors. 0 is success. -1 ... -11 are the input rejections of SPEC §3, in the order they are
 * checked; gs_err_str() of those is the short reason name carried in the DLQ `error` header.
 */
typedef enum gs_err {
    GS_OK = 0,
    GS_ERR_DECODE = -1,
    GS_ERR_MISSING_ID = -2,
    GS_ERR_INVALID_ENUM = -3,
    GS_ERR_INVALID_CELL = -4,
    GS_ERR_INVALID_PROBLEM_CODE = -5,
    GS_ERR_INVALID_TIME = -6,
    GS_ERR_INVALID_NUMBER = -7,
    GS_ERR_INVALID_POSITION = -8,
    GS_ERR_KEY_MISMATCH = -9,
    GS_ERR_WRONG_PARTITION = -10,
    GS_ERR_UNKNOWN_REF = -11,
    /* not input rejections */
    GS_ERR_NOMEM = -32,
    GS_ERR_IO = -33,
    GS_ERR_CONFIG = -34,
    GS_ERR_FORMAT = -35,
    GS_ERR_INVAL = -36,
    GS_ERR_NOENT = -37,
} gs_err_t;

#define GS_REASON_COUNT 11

/* True for the errors that reject an input record to the DLQ. */
static inline bool gs_err_is_reason(gs_err_t e)
{
    return e <= GS_ERR_DECODE && e >= GS_ERR_UNKNOWN_REF;
}

/* 0-based index of a rejection reason, for per-reason counters. */
static inline int gs_reason_index(gs_err_t e)
{
    return -(int)e - 1;
}

/* Short name of an error ("decode", "missing_id", ... for reasons). Never NULL. */
const char *gs_err_str(gs_err_t e);

/* The rejection whose short name is `name`, or GS_OK if there is none. */
gs_err_t gs_err_from_reason(const char *name);

/* Input topics, in the merge tie-break order of SPEC §4 (reports, sensors, video, cases). */
typedef enum gs_source {
    GS_SRC_REPORTS = 0,
    GS_SRC_SENSORS = 1,
    GS_SRC_VIDEO = 2,
    GS_SRC_CASES = 3,
    GS_SRC__COUNT = 4
} gs_source_t;

/* Output topics. */
typedef enum gs_output {
    GS_OUT_KPI = 0,
    GS_OUT_INCIDENTS = 1,
    GS_OUT_ALERTS = 2,
    GS_OUT_SCORECARDS = 3,
    GS_OUT_DLQ = 4,
    GS_OUT__COUNT = 5
} gs_output_t;

extern const char *const gs_source_topic[GS_SRC__COUNT]; /* "city.reports", ... */
extern const char *const gs_output_topic[GS_OUT__COUNT]; /* "gridstream.kpi", ... */

#define GS_TIME_MIN INT64_MIN /* watermark "-infinity" */
#define GS_TIME_MAX INT64_MAX /* watermark "+infinity" */
#define GS_MINUTE_MS INT64_C(60000)
#define GS_HOUR_MS INT64_C(3600000)
#define GS_DAY_MS INT64_C(86400000)

/*
 * A decoded, validated input record. The message pointer is borrowed from the decoding arena and
 * valid until that arena is reset. `t` is the record's merge time: its event_time_ms when the value
 * decoded (even if validation then rejected it), GS_TIME_MIN when it did not.
 */
typedef struct gs_event {
    gs_source_t src;
    int64_t t;
    uint64_t cell;
    union {
        const ProtobufCMessage *base;
        const Gridstream__V1__Report *report;
        const Gridstream__V1__SensorReading *sensor;
        const Gridstream__V1__VideoDetection *video;
        const Gridstream__V1__CaseEvent *cas;
    } m;
} gs_event_t;

/*
 * Output sink. Operators call emit() with a packed record; key and value are borrowed for the
 * duration of the call only. For GS_OUT_DLQ the engine adds the source coordinates.
 */
typedef struct gs_sink {
    void (*emit)(void *ctx, gs_output_t topic, const void *key, size_t klen, const void *val,
                 size_t vlen);
    void *ctx;
} gs_sink_t;

/*
 * Makes room for `need` elements of `size` bytes in the growable array whose pointer is at
 * `arrp` (any T **) and whose capacity is *cap, at least doubling. Returns false on OOM, leaving
 * the array as it was. Use through GS_RESERVE(array, cap, need).
 */
bool gs_reserve(void *arrp, size_t *cap, size_t need, size_t size);
#define GS_RESERVE(arr, cap, need) gs_reserve(&(arr), &(cap), (need), sizeof(*(arr)))

/* Writes v in decimal at p (at most 20 bytes, no NUL) and returns the end: keys on the hot path. */
static inline char *gs_fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* As gs_fmt_u64 for a signed value (at most 20 bytes). */
static inline char *gs_fmt_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return gs_fmt_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return gs_fmt_u64(p, (uint64_t)v);
}

/* Packs `msg` and emits it with a NUL-terminated key. Returns GS_OK or GS_ERR_NOMEM. */
gs_err_t gs_sink_emit_msg(const gs_sink_t *sink, gs_output_t topic, const char *key,
                          const ProtobufCMessage *msg);

/*
 * Big-endian integers in byte keys and values (sorted as numbers by RocksDB). Every state key
 * goes through these, so they are one load or store and a byte swap where the compiler has one.
 */
static inline uint64_t gs_be64_swap(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#elif defined(__GNUC__)
    return __builtin_bswap64(v);
#else
    uint64_t r = 0;
    for (int i = 0; i < 8; i++, v >>= 8)
        r = (r << 8) | (v & 0xff);
    return r;
#endif
}
static inline uint32_t gs_be32_swap(uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#elif defined(__GNUC__)
    return __builtin_bswap32(v);
#else
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
#endif
}
static inline void gs_put_be64(uint8_t *o, uint64_t v)
{
    v = gs_be64_swap(v);
    memcpy(o, &v, 8);
}
static inline uint64_t gs_get_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return gs_be64_swap(v);
}
static inline void gs_put_be32(uint8_t *o, uint32_t v)
{
    v = gs_be32_swap(v);
    memcpy(o, &v, 4);
}
static inline uint32_t gs_get_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return gs_be32_swap(v);
}

#endif /* GS_H */
