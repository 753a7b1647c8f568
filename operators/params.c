/*
 * params.c - the configurable numbers of the contract: SPEC's defaults, the strict parser of their
 * `key=value` text form, and the dump of every key for config listings.
 *
 * One const table describes every key (name, type, where it lives in gs_params_t, its admissible
 * range and a one-line doc string), so that set, each and the defaults cannot drift apart. Parsing
 * is strict because a typo in a configuration silently changes every number gridstream emits: the
 * whole value must be consumed, no surrounding spaces, integers in range, doubles finite and in
 * range, maps `from:to,from:to` and lists `a,b,c`. Errors name the key and say why.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "params.h"

/* Longest time any *.ms key may take: 100 years, so that t ± value never overflows int64. */
#define GS_PARAMS_MAX_MS INT64_C(3155760000000)
/* Timezone offsets: ±14 h, the range of real-world UTC offsets. */
#define GS_PARAMS_MAX_TZ_MIN 840
/* Problem codes critical regardless of configuration (SPEC §8: manhole cover, waterlogging). */
#define GS_PARAMS_CRIT_MANHOLE 10101u
#define GS_PARAMS_CRIT_WATERLOGGING 20401u

typedef enum gs_ptype {
    GS_PT_MS,      /* int64_t, 1 .. GS_PARAMS_MAX_MS */
    GS_PT_COUNT,   /* int, 1 .. INT32_MAX */
    GS_PT_TZ,      /* int, -840 .. 840 */
    GS_PT_DOUBLE,  /* double, finite, in [lo, hi] (lo exclusive if lo_open) */
    GS_PT_MAP,     /* gs_code_map_t */
    GS_PT_CRIT,    /* critical_codes + n_critical */
    GS_PT_REWARDS, /* int64_t[3] */
} gs_ptype_t;

typedef struct gs_pdef {
    const char *key;
    gs_ptype_t type;
    size_t off;
    double lo, hi;
    bool lo_open;
    const char *doc;
} gs_pdef_t;

#define GS_OFF(f) offsetof(gs_params_t, f)
#define GS_UNBOUNDED 1e300

static const gs_pdef_t gs_params_table[] = {
    {"dedup.ttl.ms", GS_PT_MS, GS_OFF(dedup_ttl_ms), 0, 0, false,
     "event time during which a message identity counts as a duplicate (SPEC 4.1)"},
    {"video.confidence.min", GS_PT_DOUBLE, GS_OFF(video_min_confidence), 0, 1, false,
     "video detections with a lower confidence are ignored (SPEC 4.4)"},
    {"video.burst.count", GS_PT_COUNT, GS_OFF(video_burst_count), 0, 0, false,
     "qualifying detections of a camera and alarm type that make a video signal"},
    {"video.burst.window.ms", GS_PT_MS, GS_OFF(video_burst_window_ms), 0, 0, false,
     "the burst's detections must lie within this span of event time"},
    {"video.latch.ms", GS_PT_MS, GS_OFF(video_latch_ms), 0, 0, false,
     "a fired camera stays latched until this long passes without a qualifying detection"},
    {"video.alarm.map", GS_PT_MAP, GS_OFF(video_alarm_map), 0, 0, false,
     "vendor alarm type to problem code, as type:code,type:code; unmapped types are ignored"},
    {"sensor.problem.map", GS_PT_MAP, GS_OFF(sensor_problem_map), 0, 0, false,
     "sensor kind (enum number) to problem code, as kind:code,kind:code"},
    {"correlation.window.ms", GS_PT_MS, GS_OFF(correlation_window_ms), 0, 0, false,
     "a signal joins an incident whose last signal is at most this much older (SPEC 5)"},
    {"correlation.distance.m", GS_PT_DOUBLE, GS_OFF(correlation_distance_m), 0, GS_UNBOUNDED, false,
     "a signal joins an incident whose first signal is at most this many metres away"},
    {"correlation.earth.radius.m", GS_PT_DOUBLE, GS_OFF(earth_radius_m), 0, GS_UNBOUNDED, true,
     "Earth radius of the great-circle distance, in metres"},
    {"timezone.offset.minutes", GS_PT_TZ, GS_OFF(tz_offset_minutes), 0, 0, false,
     "local time of the KPI windows and scorecard months, minutes east of UTC (SPEC 7)"},
    {"watermark.lag.ms", GS_PT_MS, GS_OFF(watermark_lag_ms), 0, 0, false,
     "the watermark trails the smallest partition maximum event time by this much"},
    {"kpi.grace.ms", GS_PT_MS, GS_OFF(kpi_grace_ms), 0, 0, false,
     "a KPI window is first emitted when the watermark passes its end plus this grace"},
    {"kpi.retention.ms", GS_PT_MS, GS_OFF(kpi_retention_ms), 0, 0, false,
     "HOUR, DAY and ROLLING_24H windows accept changes until this long after their end"},
    {"kpi.month.retention.ms", GS_PT_MS, GS_OFF(kpi_month_retention_ms), 0, 0, false,
     "MONTH windows accept changes until this long after their end"},
    {"alert.hotspot.threshold", GS_PT_COUNT, GS_OFF(hotspot_threshold), 0, 0, false,
     "incidents opened in a cell within the hotspot window that raise a HOTSPOT alert (SPEC 8)"},
    {"alert.hotspot.window.ms", GS_PT_MS, GS_OFF(hotspot_window_ms), 0, 0, false,
     "span of opening times counted for a HOTSPOT alert"},
    {"alert.critical.codes", GS_PT_CRIT, GS_OFF(critical_codes), 0, 0, false,
     "problem codes whose incidents raise a CRITICAL alert (10101 and 20401 always do)"},
    {"alert.rework.count", GS_PT_COUNT, GS_OFF(rework_alert_count), 0, 0, false,
     "rework count at which a REPEATED_REWORK alert is raised"},
    {"scorecard.grace.ms", GS_PT_MS, GS_OFF(score_grace_ms), 0, 0, false,
     "a month is evaluated this long after its end (SPEC 9)"},
    {"scorecard.target.timely", GS_PT_DOUBLE, GS_OFF(target_timely), 0, 1, false,
     "timely rate below which points are deducted"},
    {"scorecard.target.capture", GS_PT_DOUBLE, GS_OFF(target_capture), 0, 1, false,
     "capture rate below which points are deducted"},
    {"scorecard.target.filing", GS_PT_DOUBLE, GS_OFF(target_filing), 0, 1, false,
     "filing rate below which points are deducted"},
    {"scorecard.target.rework", GS_PT_DOUBLE, GS_OFF(target_rework), 0, 1, false,
     "rework rate above which points are deducted"},
    {"scorecard.weight.timely", GS_PT_DOUBLE, GS_OFF(weight_timely), 0, GS_UNBOUNDED, false,
     "points per percentage point of timely rate below target"},
    {"scorecard.weight.capture", GS_PT_DOUBLE, GS_OFF(weight_capture), 0, GS_UNBOUNDED, false,
     "points per percentage point of capture rate below target"},
    {"scorecard.weight.filing", GS_PT_DOUBLE, GS_OFF(weight_filing), 0, GS_UNBOUNDED, false,
     "points per percentage point of filing rate below target"},
    {"scorecard.weight.rework", GS_PT_DOUBLE, GS_OFF(weight_rework), 0, GS_UNBOUNDED, false,
     "points per percentage point of rework rate above target"},
    {"scorecard.cap.timely", GS_PT_DOUBLE, GS_OFF(cap_timely), 0, 100, false,
     "most points the timely rate can deduct"},
    {"scorecard.cap.capture", GS_PT_DOUBLE, GS_OFF(cap_capture), 0, 100, false,
     "most points the capture rate can deduct"},
    {"scorecard.cap.filing", GS_PT_DOUBLE, GS_OFF(cap_filing), 0, 100, false,
     "most points the filing rate can deduct"},
    {"scorecard.cap.rework", GS_PT_DOUBLE, GS_OFF(cap_rework), 0, 100, false,
     "most points the rework rate can deduct"},
    {"scorecard.cap.overdue", GS_PT_DOUBLE, GS_OFF(cap_overdue), 0, 100, false,
     "most points overdue open incidents can deduct"},
    {"scorecard.overdue.points", GS_PT_DOUBLE, GS_OFF(overdue_points), 0, GS_UNBOUNDED, false,
     "points deducted per overdue open incident"},
    {"scorecard.grade.a", GS_PT_DOUBLE, GS_OFF(grade_a), 0, 100, false, "lowest score graded A"},
    {"scorecard.grade.b", GS_PT_DOUBLE, GS_OFF(grade_b), 0, 100, false, "lowest score graded B"},
    {"scorecard.grade.c", GS_PT_DOUBLE, GS_OFF(grade_c), 0, 100, false, "lowest score graded C"},
    {"scorecard.grade.d", GS_PT_DOUBLE, GS_OFF(grade_d), 0, 100, false,
     "lowest score graded D (below is E)"},
    {"scorecard.fail.below", GS_PT_DOUBLE, GS_OFF(fail_below), 0, 100, false,
     "a district whose score is below this fails the month"},
    {"scorecard.accountability.fails", GS_PT_COUNT, GS_OFF(accountability_fails), 0, 0, false,
     "consecutive failed months that trigger accountability"},
    {"scorecard.rewards", GS_PT_REWARDS, GS_OFF(rewards), 0, 0, false,
     "CNY for ranks 1,2,3 (paid) and N,N-1,N-2 (charged), as r1,r2,r3"},
};

#define GS_PARAMS_NKEYS (sizeof(gs_params_table) / sizeof(gs_params_table[0]))

/* Defaults of the two code maps (SPEC §4.3, §4.4). */
static const uint32_t gs_default_sensor_map[][2] = {
    {1, 10101}, {2, 20401}, {3, 20301}, {4, 20302}, {5, 20103}, {6, 10201}, {7, 20304},
};
static const uint32_t gs_default_video_map[][2] = {
    {882, 20506}, {883, 20103}, {887, 20501}, {890, 20102},
    {891, 20507}, {892, 20104}, {893, 20509}, {894, 20510},
};

void gs_params_defaults(gs_params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->dedup_ttl_ms = 7 * GS_DAY_MS;
    p->video_min_confidence = 0.6;
    p->video_burst_count = 3;
    p->video_burst_window_ms = 60 * INT64_C(1000);
    p->video_latch_ms = 10 * GS_MINUTE_MS;
    for (size_t i = 0; i < sizeof(gs_default_video_map) / sizeof(gs_default_video_map[0]); i++) {
        p->video_alarm_map.from[i] = gs_default_video_map[i][0];
        p->video_alarm_map.to[i] = gs_default_video_map[i][1];
        p->video_alarm_map.n++;
    }
    for (size_t i = 0; i < sizeof(gs_default_sensor_map) / sizeof(gs_default_sensor_map[0]); i++) {
        p->sensor_problem_map.from[i] = gs_default_sensor_map[i][0];
        p->sensor_problem_map.to[i] = gs_default_sensor_map[i][1];
        p->sensor_problem_map.n++;
    }
    p->correlation_window_ms = 24 * GS_HOUR_MS;
    p->correlation_distance_m = 50.0;
    p->earth_radius_m = 6371008.8;
    p->tz_offset_minutes = 480;
    p->watermark_lag_ms = 5 * GS_MINUTE_MS;
    p->kpi_grace_ms = 5 * GS_MINUTE_MS;
    p->kpi_retention_ms = 35 * GS_DAY_MS;
    p->kpi_month_retention_ms = 400 * GS_DAY_MS;
    p->hotspot_threshold = 5;
    p->hotspot_window_ms = GS_HOUR_MS;
    p->critical_codes[0] = GS_PARAMS_CRIT_MANHOLE;
    p->critical_codes[1] = GS_PARAMS_CRIT_WATERLOGGING;
    p->n_critical = 2;
    p->rework_alert_count = 2;
    p->score_grace_ms = 7 * GS_DAY_MS;
    p->target_timely = 0.95;
    p->target_capture = 0.90;
    p->target_filing = 0.90;
    p->target_rework = 0.05;
    p->weight_timely = 1.0;
    p->weight_capture = 0.5;
    p->weight_filing = 0.5;
    p->weight_rework = 1.0;
    p->cap_timely = 40;
    p->cap_capture = 20;
    p->cap_filing = 10;
    p->cap_rework = 15;
    p->overdue_points = 0.2;
    p->cap_overdue = 15;
    p->grade_a = 90;
    p->grade_b = 75;
    p->grade_c = 60;
    p->grade_d = 40;
    p->fail_below = 60;
    p->accountability_fails = 2;
    p->rewards[0] = 1000000;
    p->rewards[1] = 600000;
    p->rewards[2] = 300000;
}

#define GS_PARAMS_ERR_VALUE_MAX 48

/* Writes "<key>: '<value>' <why>" into errbuf and returns GS_ERR_CONFIG. */
static gs_err_t gs_params_fail(char *errbuf, size_t errlen, const char *key, const char *value,
                               const char *fmt, ...)
{
    if (errbuf == NULL || errlen == 0) return GS_ERR_CONFIG;
    /* Long values (maps) are cut so that the reason always fits in the message. */
    int n =
        strlen(value) > GS_PARAMS_ERR_VALUE_MAX
            ? snprintf(errbuf, errlen, "%s: '%.*s...' ", key, GS_PARAMS_ERR_VALUE_MAX - 3, value)
            : snprintf(errbuf, errlen, "%s: '%s' ", key, value);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return GS_ERR_CONFIG;
}

typedef enum gs_pint {
    GS_PINT_OK,
    GS_PINT_NOT_INT, /* not a decimal integer */
    GS_PINT_RANGE,   /* a decimal integer that does not fit in int64_t */
} gs_pint_t;

/*
 * Parses the integer in s[0..len) (not NUL-terminated in general): an optional sign and decimal
 * digits, nothing else (strtoll alone would skip leading spaces and accept "0x").
 */
static gs_pint_t gs_params_parse_i64(const char *s, size_t len, int64_t *out)
{
    char tmp[32];
    size_t i = (len > 0 && (s[0] == '+' || s[0] == '-')) ? 1 : 0;

    if (i == len) return GS_PINT_NOT_INT;
    for (size_t j = i; j < len; j++)
        if (s[j] < '0' || s[j] > '9') return GS_PINT_NOT_INT;
    if (len >= sizeof(tmp)) return GS_PINT_RANGE;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno == ERANGE) return GS_PINT_RANGE;
    if (errno != 0 || *end != '\0') return GS_PINT_NOT_INT;
    *out = (int64_t)v;
    return GS_PINT_OK;
}

/* Parses an integer key's whole value; on failure fills errbuf. */
static gs_err_t gs_params_int_value(const gs_pdef_t *d, const char *value, int64_t *v, char *errbuf,
                                    size_t errlen)
{
    switch (gs_params_parse_i64(value, strlen(value), v)) {
    case GS_PINT_OK:
        return GS_OK;
    case GS_PINT_RANGE:
        return gs_params_fail(errbuf, errlen, d->key, value, "is out of range");
    default:
        return gs_params_fail(errbuf, errlen, d->key, value, "is not an integer");
    }
}

/* Parses a uint32 code in s[0..len). */
static bool gs_params_parse_u32(const char *s, size_t len, uint32_t *out)
{
    int64_t v;
    if (gs_params_parse_i64(s, len, &v) != GS_PINT_OK || v < 0 || v > (int64_t)UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Splits `value` at commas; calls fn on each item; an empty value has no items. */
typedef gs_err_t (*gs_params_item_fn)(void *ctx, const char *item, size_t len, int index);

static gs_err_t gs_params_split(const char *value, gs_params_item_fn fn, void *ctx, int *count)
{
    int n = 0;
    if (value[0] != '\0') {
        const char *s = value;
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            gs_err_t e = fn(ctx, s, len, n);
            if (e != GS_OK) return e;
            n++;
            if (comma == NULL) break;
            s = comma + 1;
        }
    }
    *count = n;
    return GS_OK;
}

typedef struct gs_params_pctx {
    const char *key, *value;
    char *errbuf;
    size_t errlen;
    gs_code_map_t map;
    uint32_t codes[GS_MAX_CRITICAL];
    int64_t rewards[3];
} gs_params_pctx_t;

static gs_err_t gs_params_map_item(void *ctx, const char *item, size_t len, int index)
{
    gs_params_pctx_t *c = ctx;
    const char *colon = memchr(item, ':', len);
    uint32_t from, to;

    if (index >= GS_MAX_MAP)
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value, "has more than %d entries",
                              GS_MAX_MAP);
    if (colon == NULL || !gs_params_parse_u32(item, (size_t)(colon - item), &from) ||
        !gs_params_parse_u32(colon + 1, len - (size_t)(colon - item) - 1, &to))
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value,
                              "is not a list of from:to pairs of unsigned integers (entry %d)",
                              index + 1);
    if (from == 0)
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value,
                              "maps 0, which means unspecified and cannot be mapped");
    if (!gs_problem_valid(to))
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value,
                              "maps %" PRIu32 " to %" PRIu32 ", which is not a valid problem code",
                              from, to);
    for (int i = 0; i < c->map.n; i++)
        if (c->map.from[i] == from)
            return gs_params_fail(c->errbuf, c->errlen, c->key, c->value, "maps %" PRIu32 " twice",
                                  from);
    c->map.from[c->map.n] = from;
    c->map.to[c->map.n] = to;
    c->map.n++;
    return GS_OK;
}

static gs_err_t gs_params_crit_item(void *ctx, const char *item, size_t len, int index)
{
    gs_params_pctx_t *c = ctx;
    uint32_t code;

    if (index >= GS_MAX_CRITICAL)
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value, "has more than %d codes",
                              GS_MAX_CRITICAL);
    if (!gs_params_parse_u32(item, len, &code))
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value,
                              "is not a comma-separated list of unsigned integers (item %d)",
                              index + 1);
    if (!gs_problem_valid(code))
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value,
                              "contains %" PRIu32 ", which is not a valid problem code", code);
    c->codes[index] = code;
    return GS_OK;
}

static gs_err_t gs_params_reward_item(void *ctx, const char *item, size_t len, int index)
{
    gs_params_pctx_t *c = ctx;
    int64_t v;

    if (index >= 3)
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value,
                              "must have exactly 3 amounts");
    if (gs_params_parse_i64(item, len, &v) != GS_PINT_OK)
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value,
                              "is not a comma-separated list of integers (item %d)", index + 1);
    if (v < 0 || v > INT64_C(1000000000000))
        return gs_params_fail(c->errbuf, c->errlen, c->key, c->value,
                              "item %d must be between 0 and 1000000000000", index + 1);
    c->rewards[index] = v;
    return GS_OK;
}

static gs_err_t gs_params_set_one(gs_params_t *p, const gs_pdef_t *d, const char *value,
                                  char *errbuf, size_t errlen)
{
    void *field = (char *)p + d->off;
    gs_params_pctx_t c = {.key = d->key, .value = value, .errbuf = errbuf, .errlen = errlen};
    int64_t v;
    int n;
    gs_err_t e;

    switch (d->type) {
    case GS_PT_MS:
        if ((e = gs_params_int_value(d, value, &v, errbuf, errlen)) != GS_OK) return e;
        if (v <= 0 || v > GS_PARAMS_MAX_MS)
            return gs_params_fail(errbuf, errlen, d->key, value,
                                  "must be between 1 and %" PRId64 " ms", GS_PARAMS_MAX_MS);
        *(int64_t *)field = v;
        return GS_OK;
    case GS_PT_COUNT:
        if ((e = gs_params_int_value(d, value, &v, errbuf, errlen)) != GS_OK) return e;
        if (v < 1 || v > INT32_MAX)
            return gs_params_fail(errbuf, errlen, d->key, value, "must be between 1 and %" PRId32,
                                  INT32_MAX);
        *(int *)field = (int)v;
        return GS_OK;
    case GS_PT_TZ:
        if ((e = gs_params_int_value(d, value, &v, errbuf, errlen)) != GS_OK) return e;
        if (v < -GS_PARAMS_MAX_TZ_MIN || v > GS_PARAMS_MAX_TZ_MIN)
            return gs_params_fail(errbuf, errlen, d->key, value,
                                  "must be between -%d and %d minutes (UTC-14..UTC+14)",
                                  GS_PARAMS_MAX_TZ_MIN, GS_PARAMS_MAX_TZ_MIN);
        *(int *)field = (int)v;
        return GS_OK;
    case GS_PT_DOUBLE: {
        char *end;
        double x;
        /* strtod skips leading spaces; a strict number starts with a sign, digit or dot. */
        if (value[0] == '\0' || !(value[0] == '-' || value[0] == '+' || value[0] == '.' ||
                                  (value[0] >= '0' && value[0] <= '9')))
            return gs_params_fail(errbuf, errlen, d->key, value, "is not a number");
        x = strtod(value, &end);
        if (*end != '\0') return gs_params_fail(errbuf, errlen, d->key, value, "is not a number");
        if (!isfinite(x)) /* overflow gives ±HUGE_VAL; underflow to 0 or a denormal is fine */
            return gs_params_fail(errbuf, errlen, d->key, value, "is not a finite number");
        if ((d->lo_open ? x <= d->lo : x < d->lo) || x > d->hi) {
            if (d->hi >= GS_UNBOUNDED)
                return gs_params_fail(errbuf, errlen, d->key, value, "must be %s %g",
                                      d->lo_open ? ">" : ">=", d->lo);
            return gs_params_fail(errbuf, errlen, d->key, value, "must be between %g and %g", d->lo,
                                  d->hi);
        }
        *(double *)field = x;
        return GS_OK;
    }
    case GS_PT_MAP:
        e = gs_params_split(value, gs_params_map_item, &c, &n);
        if (e != GS_OK) return e;
        *(gs_code_map_t *)field = c.map;
        return GS_OK;
    case GS_PT_CRIT:
        e = gs_params_split(value, gs_params_crit_item, &c, &n);
        if (e != GS_OK) return e;
        memcpy(p->critical_codes, c.codes, sizeof(c.codes));
        p->n_critical = n;
        return GS_OK;
    case GS_PT_REWARDS:
        e = gs_params_split(value, gs_params_reward_item, &c, &n);
        if (e != GS_OK) return e;
        if (n != 3)
            return gs_params_fail(errbuf, errlen, d->key, value, "must have exactly 3 amounts");
        memcpy(p->rewards, c.rewards, sizeof(c.rewards));
        return GS_OK;
    }
    return GS_ERR_INVAL;
}

gs_err_t gs_params_set(gs_params_t *p, const char *key, const char *value, char *errbuf,
                       size_t errlen)
{
    if (errbuf != NULL && errlen > 0) errbuf[0] = '\0';
    if (key == NULL) return GS_ERR_NOENT;
    for (size_t i = 0; i < GS_PARAMS_NKEYS; i++) {
        const gs_pdef_t *d = &gs_params_table[i];
        if (strcmp(d->key, key) != 0) continue;
        if (value == NULL) {
            if (errbuf != NULL && errlen > 0) snprintf(errbuf, errlen, "%s: missing value", key);
            return GS_ERR_CONFIG;
        }
        return gs_params_set_one(p, d, value, errbuf, errlen);
    }
    return GS_ERR_NOENT;
}

/* Shortest "%.*g" text that reads back as exactly x, without an exponent for ordinary sizes. */
static void gs_params_fmt_double(char *out, size_t len, double x)
{
    bool plain = fabs(x) < 1e15 && (x == 0 || fabs(x) >= 1e-4);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, len, "%.*g", prec, x);
        if (strtod(out, NULL) == x && (!plain || !strchr(out, 'e'))) return;
    }
}

/* Appends to a text buffer, keeping it NUL-terminated. */
static void gs_params_append(char *out, size_t len, size_t *pos, const char *fmt, ...)
{
    if (*pos >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *pos, len - *pos, fmt, ap);
    va_end(ap);
    if (n > 0) *pos += (size_t)n;
}

void gs_params_each(const gs_params_t *p,
                    void (*fn)(void *ctx, const char *key, const char *value, const char *doc),
                    void *ctx)
{
    /* A full map is 64 entries of at most "4294967295:4294967295," (22 bytes). */
    char text[GS_MAX_MAP * 24];

    for (size_t i = 0; i < GS_PARAMS_NKEYS; i++) {
        const gs_pdef_t *d = &gs_params_table[i];
        const void *field = (const char *)p + d->off;
        size_t pos = 0;

        text[0] = '\0';
        switch (d->type) {
        case GS_PT_MS:
            snprintf(text, sizeof(text), "%" PRId64, *(const int64_t *)field);
            break;
        case GS_PT_COUNT:
        case GS_PT_TZ:
            snprintf(text, sizeof(text), "%d", *(const int *)field);
            break;
        case GS_PT_DOUBLE:
            gs_params_fmt_double(text, sizeof(text), *(const double *)field);
            break;
        case GS_PT_MAP: {
            const gs_code_map_t *m = field;
            for (int j = 0; j < m->n; j++)
                gs_params_append(text, sizeof(text), &pos, "%s%" PRIu32 ":%" PRIu32, j ? "," : "",
                                 m->from[j], m->to[j]);
            break;
        }
        case GS_PT_CRIT:
            for (int j = 0; j < p->n_critical; j++)
                gs_params_append(text, sizeof(text), &pos, "%s%" PRIu32, j ? "," : "",
                                 p->critical_codes[j]);
            break;
        case GS_PT_REWARDS:
            snprintf(text, sizeof(text), "%" PRId64 ",%" PRId64 ",%" PRId64, p->rewards[0],
                     p->rewards[1], p->rewards[2]);
            break;
        }
        fn(ctx, d->key, text, d->doc);
    }
}

uint32_t gs_code_map_get(const gs_code_map_t *m, uint32_t from)
{
    for (int i = 0; i < m->n; i++)
        if (m->from[i] == from) return m->to[i];
    return 0;
}

bool gs_params_is_critical(const gs_params_t *p, uint32_t problem)
{
    /* SPEC §8: 10101 or 20401 "or any code in the configured critical set". */
    if (problem == GS_PARAMS_CRIT_MANHOLE || problem == GS_PARAMS_CRIT_WATERLOGGING) return true;
    for (int i = 0; i < p->n_critical; i++)
        if (p->critical_codes[i] == problem) return true;
    return false;
}
