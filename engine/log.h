/*
 * log.h - structured logs: one line per event that matters, as logfmt (default) or JSON lines.
 *
 *   ts=2026-11-23T10:00:00.123Z level=info event=assigned thread=1 partitions="0,1"
 *   {"ts":"2026-11-23T10:00:00.123Z","level":"info","event":"assigned","thread":1,"partitions":"0,1"}
 *
 * A line is an event name plus key/value pairs. gs_log() takes the pairs as a printf format of
 * space-separated `key=value` items, each value made of literal text and conversions
 * ("thread=%d partitions=%s elapsed_ms=%lld"): every value is formatted, then quoted and escaped
 * for the output format, so values may hold spaces, quotes, newlines or any UTF-8 text. In JSON a
 * value that is exactly one integer or floating conversion is written as a number; everything
 * else is a string.
 *
 * Thread safety: gs_log*() may be called from any thread; each line is written with one write(2)
 * so that lines from different threads never interleave. gs_log_setup() is called once at start,
 * before other threads log. Logging allocates (it is not for the per-record path: per-record
 * events such as DLQ rejections go through a gs_log_ratelimit_t).
 */
#ifndef GS_LOG_H
#define GS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Severity; the numbers are those of config.h's log_level. */
typedef enum gs_log_level {
    GS_LOG_DEBUG = 0,
    GS_LOG_INFO = 1,
    GS_LOG_WARN = 2,
    GS_LOG_ERROR = 3,
} gs_log_level_t;

typedef enum gs_log_format {
    GS_LOG_LOGFMT = 0,
    GS_LOG_JSON = 1,
} gs_log_format_t;

/* "debug", "info", "warn", "error". */
const char *gs_log_level_str(gs_log_level_t lv);

/*
 * Where and how lines are written: file descriptor `fd` (2 by default), the format and the least
 * severe level written (info by default). Call at start, before other threads log.
 */
void gs_log_setup(int fd, gs_log_format_t format, gs_log_level_t min_level);

/* gs_log_setup() from the configuration's log.format and log.level, on stderr. */
void gs_log_setup_config(const gs_config_t *c);

/* True when lines of level `lv` are written (to skip preparing values of a suppressed line). */
bool gs_log_enabled(gs_log_level_t lv);

/*
 * Writes one line: level, event (a short snake_case name) and the pairs of `fmt` (may be NULL or
 * "" for none). A key must be non-empty and have no space, '=' or '"'; a pair without '=' is
 * written under the key "msg".
 */
void gs_log(gs_log_level_t lv, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gs_logv(gs_log_level_t lv, const char *event, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Writes one line from `n` key/value string pairs (kv[2i] the key, kv[2i + 1] the value). */
void gs_log_kv(gs_log_level_t lv, const char *event, const char *const *kv, size_t n);

/*
 * The line gs_log() would write at wall-clock time `ts_ms` (ms since the Unix epoch) in `format`,
 * ending with '\n'. Malloc-ed (the caller frees it); NULL when out of memory. For tests and for
 * callers that keep lines elsewhere.
 */
char *gs_log_format_line(gs_log_format_t format, int64_t ts_ms, gs_log_level_t lv,
                         const char *event, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Writes the effective configuration as one line, event "config": every key with its value, in
 * the order of `gridstream config keys`, values of secret keys (names containing "password",
 * "secret" or "sasl.jaas") replaced by "(hidden)".
 */
void gs_log_config(const gs_config_t *c);

/* True for configuration keys whose values are never logged. */
bool gs_log_secret_key(const char *key);

/*
 * Burst limiter for events that can come once per record (DLQ rejections, late records): at most
 * `burst` lines per `interval_ms`; the lines beyond are counted, not written. Owned by one thread
 * (no locking): one per stream thread and kind of event.
 *
 *     uint64_t k;
 *     if (gs_log_ratelimit_allow(&t->dlq_rl, now_ms, &k))
 *         gs_log(GS_LOG_WARN, "dlq", "topic=%s partition=%d offset=%lld reason=%s suppressed=%llu",
 *                ..., (unsigned long long)k);
 *     ...  and once per loop or commit:
 *     if ((k = gs_log_ratelimit_take(&t->dlq_rl, now_ms)) > 0)
 *         gs_log(GS_LOG_WARN, "dlq_suppressed", "suppressed=%llu", (unsigned long long)k);
 */
typedef struct gs_log_ratelimit {
    uint32_t burst;         /* lines allowed per interval */
    int64_t interval_ms;    /* interval length */
    int64_t window_start;   /* start of the current interval */
    uint32_t in_window;     /* lines allowed in the current interval */
    uint64_t suppressed;    /* lines refused since the last report of them */
    uint64_t total_allowed; /* since init, for tests and metrics */
} gs_log_ratelimit_t;

void gs_log_ratelimit_init(gs_log_ratelimit_t *rl, uint32_t burst, int64_t interval_ms);

/*
 * True when a line may be written at `now_ms` (any monotonic milliseconds). When true and
 * `suppressed` is not NULL, *suppressed receives the number of lines refused since the last
 * report (which the caller adds to its line as suppressed=K); that count is then reset.
 */
bool gs_log_ratelimit_allow(gs_log_ratelimit_t *rl, int64_t now_ms, uint64_t *suppressed);

/*
 * The number of lines refused and not yet reported, once the interval in which they were refused
 * has ended (0 otherwise); the count is reset. Call periodically so that the end of a burst is
 * summarised even when no further line comes.
 */
uint64_t gs_log_ratelimit_take(gs_log_ratelimit_t *rl, int64_t now_ms);

#endif
