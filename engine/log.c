/*
 * log.c - structured log lines (log.h).
 *
 * A line is composed in a memory stream and written with one write(2), so that concurrent lines
 * never interleave on the descriptor. The pairs of gs_log() are found by splitting the format (not
 * the output) at spaces: each `key=value` item of the format is formatted on its own, with the
 * arguments its conversions consume, and the result is escaped for the output format. JSON strings
 * go through gs_json_bytes() (dump.h), the project's one JSON string writer; logfmt follows
 * go-logfmt: a value is quoted when it is empty or holds a space, '=', '"', a control character or
 * bytes that are not UTF-8 (written as \ufffd).
 */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codes.h"
#include "dump.h"

static _Atomic int log_fd = 2;
static _Atomic int log_format = GS_LOG_LOGFMT;
static _Atomic int log_min = GS_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *gs_log_level_str(gs_log_level_t lv)
{
    return lv >= GS_LOG_DEBUG && lv <= GS_LOG_ERROR ? level_names[lv] : "info";
}

void gs_log_setup(int fd, gs_log_format_t format, gs_log_level_t min_level)
{
    atomic_store(&log_fd, fd);
    atomic_store(&log_format, (int)format);
    atomic_store(&log_min, (int)min_level);
}

void gs_log_setup_config(const gs_config_t *c)
{
    gs_log_setup(2, c->log_json ? GS_LOG_JSON : GS_LOG_LOGFMT, (gs_log_level_t)c->log_level);
}

bool gs_log_enabled(gs_log_level_t lv)
{
    return (int)lv >= atomic_load_explicit(&log_min, memory_order_relaxed);
}

/* ---- one line -------------------------------------------------------------------------------- */

static void write_ts(FILE *f, int64_t ts_ms)
{
    time_t s = (time_t)(ts_ms / 1000);
    int ms = (int)(ts_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        s--;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
            tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static bool logfmt_needs_quotes(const uint8_t *p, size_t n)
{
    if (n == 0) return true;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c <= ' ' || c == '=' || c == '"' || c == 0x7f) return true;
        if (c >= 0x80) {
            size_t len = gs_utf8_seq_len(p + i, n - i);
            if (!len) return true;
            i += len;
        } else {
            i++;
        }
    }
    return false;
}

static void logfmt_value(FILE *f, const char *v, size_t n)
{
    const uint8_t *p = (const uint8_t *)v;
    if (!logfmt_needs_quotes(p, n)) {
        fwrite(p, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\r') {
            fputs("\\r", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else if (c >= 0x80) {
            size_t len = gs_utf8_seq_len(p + i, n - i);
            if (len) {
                fwrite(p + i, 1, len, f);
                i += len;
                continue;
            }
            fputs("\\ufffd", f);
        } else {
            fputc(c, f);
        }
        i++;
    }
    fputc('"', f);
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    return i == n;
}

static void line_begin(FILE *f, gs_log_format_t format, int64_t ts_ms, gs_log_level_t lv,
                       const char *event)
{
    const char *ev = event && *event ? event : "log";
    if (format == GS_LOG_JSON) {
        fputs("{\"ts\":\"", f);
        write_ts(f, ts_ms);
        fprintf(f, "\",\"level\":\"%s\",\"event\":", gs_log_level_str(lv));
        gs_json_bytes(f, ev, strlen(ev));
    } else {
        fputs("ts=", f);
        write_ts(f, ts_ms);
        fprintf(f, " level=%s event=", gs_log_level_str(lv));
        logfmt_value(f, ev, strlen(ev));
    }
}

/* One pair; `number` asks for a JSON number (honoured only when the text is one). */
static void line_pair(FILE *f, gs_log_format_t format, const char *key, size_t klen,
                      const char *val, size_t vlen, bool number)
{
    if (format == GS_LOG_JSON) {
        fputc(',', f);
        gs_json_bytes(f, key, klen);
        fputc(':', f);
        if (number && json_number(val, vlen))
            fwrite(val, 1, vlen, f);
        else
            gs_json_bytes(f, val, vlen);
    } else {
        fputc(' ', f);
        fwrite(key, 1, klen, f);
        fputc('=', f);
        logfmt_value(f, val, vlen);
    }
}

static void line_end(FILE *f, gs_log_format_t format)
{
    if (format == GS_LOG_JSON) fputc('}', f);
    fputc('\n', f);
}

/*
 * Formats the value part of one format item, [s, e), consuming its arguments from `ap`, into
 * `out`. Sets *number when the value is exactly one integer or floating conversion.
 */
static void format_value(FILE *out, const char *s, const char *e, va_list *ap, bool *number)
{
    int conversions = 0, literal = 0;
    bool numeric = false;
    while (s < e) {
        if (*s != '%') {
            fputc(*s++, out);
            literal++;
            continue;
        }
        if (s + 1 < e && s[1] == '%') {
            fputc('%', out);
            s += 2;
            literal++;
            continue;
        }
        /* %[flags][width][.precision][length]conversion */
        char spec[32];
        size_t sl = 0;
        spec[sl++] = *s++;
        while (s < e && strchr("-+ #0", *s) && sl < 16)
            spec[sl++] = *s++;
        int width = 0, prec = 0;
        bool star_w = false, star_p = false;
        if (s < e && *s == '*') {
            star_w = true;
            spec[sl++] = *s++;
        } else {
            while (s < e && *s >= '0' && *s <= '9' && sl < 20)
                spec[sl++] = *s++;
        }
        if (s < e && *s == '.') {
            spec[sl++] = *s++;
            if (s < e && *s == '*') {
                star_p = true;
                spec[sl++] = *s++;
            } else {
                while (s < e && *s >= '0' && *s <= '9' && sl < 26)
                    spec[sl++] = *s++;
            }
        }
        if (star_w) width = va_arg(*ap, int);
        if (star_p) prec = va_arg(*ap, int);
        char len[3] = "";
        if (s < e && (*s == 'h' || *s == 'l')) {
            len[0] = *s++;
            if (s < e && *s == len[0]) len[1] = *s++;
        } else if (s < e && strchr("jztL", *s)) {
            len[0] = *s++;
        }
        char conv = s < e ? *s++ : 0;
        conversions++;
        char buf[512];
        buf[0] = 0;
#define GS_FMT(...)                                                                                \
    do {                                                                                           \
        if (star_w && star_p)                                                                      \
            snprintf(buf, sizeof(buf), spec, width, prec, __VA_ARGS__);                            \
        else if (star_w)                                                                           \
            snprintf(buf, sizeof(buf), spec, width, __VA_ARGS__);                                  \
        else if (star_p)                                                                           \
            snprintf(buf, sizeof(buf), spec, prec, __VA_ARGS__);                                   \
        else                                                                                       \
            snprintf(buf, sizeof(buf), spec, __VA_ARGS__);                                         \
    } while (0)
        _Pragma("GCC diagnostic push");
        _Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"");
        switch (conv) {
        case 'd':
        case 'i': {
            long long v = len[0] == 'l' && len[1] == 'l' ? va_arg(*ap, long long)
                          : len[0] == 'l'                ? va_arg(*ap, long)
                          : len[0] == 'j'                ? (long long)va_arg(*ap, intmax_t)
                          : len[0] == 'z'                ? (long long)va_arg(*ap, ssize_t)
                          : len[0] == 't'                ? (long long)va_arg(*ap, ptrdiff_t)
                                                         : va_arg(*ap, int);
            if (len[0] == 'h') v = len[1] == 'h' ? (signed char)v : (short)v;
            memcpy(spec + sl, "lld", 4);
            GS_FMT(v);
            numeric = true;
            break;
        }
        case 'u':
        case 'o':
        case 'x':
        case 'X': {
            unsigned long long v = len[0] == 'l' && len[1] == 'l' ? va_arg(*ap, unsigned long long)
                                   : len[0] == 'l'                ? va_arg(*ap, unsigned long)
                                   : len[0] == 'j' ? (unsigned long long)va_arg(*ap, uintmax_t)
                                   : len[0] == 'z' ? (unsigned long long)va_arg(*ap, size_t)
                                   : len[0] == 't' ? (unsigned long long)va_arg(*ap, ptrdiff_t)
                                                   : va_arg(*ap, unsigned int);
            if (len[0] == 'h') v = len[1] == 'h' ? (unsigned char)v : (unsigned short)v;
            spec[sl] = 'l';
            spec[sl + 1] = 'l';
            spec[sl + 2] = conv;
            spec[sl + 3] = 0;
            GS_FMT(v);
            numeric = conv == 'u';
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            if (len[0] == 'L') {
                long double v = va_arg(*ap, long double);
                spec[sl] = 'L';
                spec[sl + 1] = conv;
                spec[sl + 2] = 0;
                GS_FMT(v);
            } else {
                double v = va_arg(*ap, double);
                spec[sl] = conv;
                spec[sl + 1] = 0;
                GS_FMT(v);
            }
            numeric = conv != 'a' && conv != 'A';
            break;
        case 'c': {
            int v = va_arg(*ap, int);
            spec[sl] = 'c';
            spec[sl + 1] = 0;
            GS_FMT(v);
            break;
        }
        case 's': {
            const char *v = va_arg(*ap, const char *);
            spec[sl] = 's';
            spec[sl + 1] = 0;
            /* long strings are written whole, not cut at the buffer */
            if (!star_w && !star_p && sl == 1) {
                fputs(v ? v : "(null)", out);
                continue;
            }
            GS_FMT(v ? v : "(null)");
            break;
        }
        case 'p': {
            void *v = va_arg(*ap, void *);
            spec[sl] = 'p';
            spec[sl + 1] = 0;
            GS_FMT(v);
            break;
        }
        default: /* %n or an unknown conversion: written as it stands, consuming nothing */
            fputc('%', out);
            if (conv) fputc(conv, out);
            break;
        }
        _Pragma("GCC diagnostic pop");
#undef GS_FMT
        fputs(buf, out);
    }
    *number = numeric && conversions == 1 && literal == 0;
}

/* Appends the pairs of `fmt` to the line in `f`. */
static void format_pairs(FILE *f, gs_log_format_t format, const char *fmt, va_list ap)
{
    if (!fmt) return;
    va_list aq;
    va_copy(aq, ap);
    char *val = NULL;
    size_t vlen = 0;
    FILE *vf = open_memstream(&val, &vlen);
    if (!vf) {
        va_end(aq);
        return;
    }
    const char *s = fmt;
    for (;;) {
        while (*s == ' ')
            s++;
        if (!*s) break;
        const char *item = s;
        while (*s && *s != ' ')
            s++;
        const char *eq = memchr(item, '=', (size_t)(s - item));
        const char *pct = memchr(item, '%', (size_t)(s - item));
        const char *key = "msg", *vstart = item;
        size_t klen = 3;
        if (eq && eq > item && (!pct || eq < pct)) {
            key = item;
            klen = (size_t)(eq - item);
            vstart = eq + 1;
        }
        bool number = false;
        rewind(vf);
        format_value(vf, vstart, s, &aq, &number);
        fflush(vf);
        size_t n = (size_t)ftell(vf);
        line_pair(f, format, key, klen, val, n, number);
    }
    fclose(vf);
    free(val);
    va_end(aq);
}

static char *compose(gs_log_format_t format, int64_t ts_ms, gs_log_level_t lv, const char *event,
                     const char *fmt, va_list ap, size_t *len_out)
{
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f) return NULL;
    line_begin(f, format, ts_ms, lv, event);
    format_pairs(f, format, fmt, ap);
    line_end(f, format);
    if (fclose(f) != 0) {
        free(line);
        return NULL;
    }
    if (len_out) *len_out = len;
    return line;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One write(2) per line (repeated only if the kernel took part of it). */
static void emit(const char *line, size_t len)
{
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    while (len > 0) {
        ssize_t w = write(fd, line, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        line += w;
        len -= (size_t)w;
    }
}

void gs_logv(gs_log_level_t lv, const char *event, const char *fmt, va_list ap)
{
    if (!gs_log_enabled(lv)) return;
    size_t len = 0;
    char *line = compose((gs_log_format_t)atomic_load_explicit(&log_format, memory_order_relaxed),
                         wall_ms(), lv, event, fmt, ap, &len);
    if (!line) return;
    emit(line, len);
    free(line);
}

void gs_log(gs_log_level_t lv, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gs_logv(lv, event, fmt, ap);
    va_end(ap);
}

char *gs_log_format_line(gs_log_format_t format, int64_t ts_ms, gs_log_level_t lv,
                         const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = compose(format, ts_ms, lv, event, fmt, ap, NULL);
    va_end(ap);
    return line;
}

void gs_log_kv(gs_log_level_t lv, const char *event, const char *const *kv, size_t n)
{
    if (!gs_log_enabled(lv)) return;
    gs_log_format_t format =
        (gs_log_format_t)atomic_load_explicit(&log_format, memory_order_relaxed);
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f) return;
    line_begin(f, format, wall_ms(), lv, event);
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[2 * i] ? kv[2 * i] : "msg";
        const char *v = kv[2 * i + 1] ? kv[2 * i + 1] : "";
        line_pair(f, format, k, strlen(k), v, strlen(v), false);
    }
    line_end(f, format);
    if (fclose(f) == 0) emit(line, len);
    free(line);
}

/* ---- configuration --------------------------------------------------------------------------- */

bool gs_log_secret_key(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "sasl.jaas");
}

typedef struct config_ctx {
    FILE *f;
    gs_log_format_t format;
} config_ctx_t;

static void config_pair(void *ctx, const char *key, const char *value, const char *doc)
{
    config_ctx_t *c = ctx;
    const char *v = gs_log_secret_key(key) ? "(hidden)" : value;
    line_pair(c->f, c->format, key, strlen(key), v, strlen(v), false);
}

void gs_log_config(const gs_config_t *c)
{
    if (!gs_log_enabled(GS_LOG_INFO)) return;
    config_ctx_t ctx = {NULL,
                        (gs_log_format_t)atomic_load_explicit(&log_format, memory_order_relaxed)};
    char *line = NULL;
    size_t len = 0;
    ctx.f = open_memstream(&line, &len);
    if (!ctx.f) return;
    line_begin(ctx.f, ctx.format, wall_ms(), GS_LOG_INFO, "config");
    gs_config_each(c, config_pair, &ctx);
    line_end(ctx.f, ctx.format);
    if (fclose(ctx.f) == 0) emit(line, len);
    free(line);
}

/* ---- burst limiter --------------------------------------------------------------------------- */

void gs_log_ratelimit_init(gs_log_ratelimit_t *rl, uint32_t burst, int64_t interval_ms)
{
    memset(rl, 0, sizeof(*rl));
    rl->burst = burst;
    rl->interval_ms = interval_ms > 0 ? interval_ms : 1;
    rl->window_start = INT64_MIN;
}

bool gs_log_ratelimit_allow(gs_log_ratelimit_t *rl, int64_t now_ms, uint64_t *suppressed)
{
    if (rl->window_start == INT64_MIN || now_ms < rl->window_start ||
        now_ms - rl->window_start >= rl->interval_ms) {
        rl->window_start = now_ms;
        rl->in_window = 0;
    }
    if (rl->in_window >= rl->burst) {
        rl->suppressed++;
        return false;
    }
    rl->in_window++;
    rl->total_allowed++;
    if (suppressed) {
        *suppressed = rl->suppressed;
        rl->suppressed = 0;
    }
    return true;
}

uint64_t gs_log_ratelimit_take(gs_log_ratelimit_t *rl, int64_t now_ms)
{
    if (rl->suppressed == 0 || now_ms - rl->window_start < rl->interval_ms) return 0;
    uint64_t k = rl->suppressed;
    rl->suppressed = 0;
    return k;
}
