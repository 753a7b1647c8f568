/*
 * params.h - every number of the contract that is configuration (SPEC: "Where this file gives a
 * default, the value is configurable"), with SPEC's defaults, and the parser of their
 * `key=value` form. The engine's own keys (Kafka, threads, state) live in engine/config.c; both
 * share one properties namespace.
 */
#ifndef GS_PARAMS_H
#define GS_PARAMS_H

#include "gs.h"

#define GS_MAX_MAP 64      /* entries in the alarm-type and sensor maps */
#define GS_MAX_CRITICAL 32 /* critical problem codes */

typedef struct gs_code_map {
    uint32_t from[GS_MAX_MAP];
    uint32_t to[GS_MAX_MAP];
    int n;
} gs_code_map_t;

typedef struct gs_params {
    /* §4 dedup and signals */
    int64_t dedup_ttl_ms;             /* dedup.ttl.ms = 7 d */
    double video_min_confidence;      /* video.confidence.min = 0.6 */
    int video_burst_count;            /* video.burst.count = 3 */
    int64_t video_burst_window_ms;    /* video.burst.window.ms = 60 000 */
    int64_t video_latch_ms;           /* video.latch.ms = 600 000 */
    gs_code_map_t video_alarm_map;    /* video.alarm.map = 882:20506,883:20103,... */
    gs_code_map_t sensor_problem_map; /* sensor.problem.map = 1:10101,2:20401,... (kind:code) */
    /* §5 correlation */
    int64_t correlation_window_ms; /* correlation.window.ms = 24 h */
    double correlation_distance_m; /* correlation.distance.m = 50 */
    double earth_radius_m;         /* correlation.earth.radius.m = 6 371 008.8 */
    /* §7 KPIs and time */
    int tz_offset_minutes;          /* timezone.offset.minutes = 480 */
    int64_t watermark_lag_ms;       /* watermark.lag.ms = 5 min */
    int64_t kpi_grace_ms;           /* kpi.grace.ms = 5 min */
    int64_t kpi_retention_ms;       /* kpi.retention.ms = 35 d (HOUR, DAY, ROLLING_24H) */
    int64_t kpi_month_retention_ms; /* kpi.month.retention.ms = 400 d */
    /* §8 alerts */
    int hotspot_threshold;                    /* alert.hotspot.threshold = 5 */
    int64_t hotspot_window_ms;                /* alert.hotspot.window.ms = 1 h */
    uint32_t critical_codes[GS_MAX_CRITICAL]; /* alert.critical.codes = 10101,20401 */
    int n_critical;
    int rework_alert_count; /* alert.rework.count = 2 */
    /* §9 scorecard */
    int64_t score_grace_ms; /* scorecard.grace.ms = 7 d */
    double target_timely, target_capture, target_filing, target_rework; /* .95 .90 .90 .05 */
    double weight_timely, weight_capture, weight_filing, weight_rework; /* 1.0 .5 .5 1.0 */
    double cap_timely, cap_capture, cap_filing, cap_rework;             /* 40 20 10 15 */
    double overdue_points, cap_overdue;                                 /* 0.2 15 */
    double grade_a, grade_b, grade_c, grade_d;                          /* 90 75 60 40 */
    double fail_below;                                                  /* 60 */
    int accountability_fails;                                           /* 2 */
    int64_t rewards[3]; /* scorecard.rewards = 1000000,600000,300000 */
} gs_params_t;

/* Fills `p` with SPEC's defaults. */
void gs_params_defaults(gs_params_t *p);

/*
 * Sets one key from its text form. Returns GS_OK, GS_ERR_NOENT if `key` is not an operator key
 * (the caller may try its own keys), or GS_ERR_CONFIG with the reason in `errbuf`.
 */
gs_err_t gs_params_set(gs_params_t *p, const char *key, const char *value, char *errbuf,
                       size_t errlen);

/* Calls `fn` for every operator key with its current value in text form (for config dumps). */
void gs_params_each(const gs_params_t *p,
                    void (*fn)(void *ctx, const char *key, const char *value, const char *doc),
                    void *ctx);

/* Looks up `from` in a code map; 0 if absent. */
uint32_t gs_code_map_get(const gs_code_map_t *m, uint32_t from);

bool gs_params_is_critical(const gs_params_t *p, uint32_t problem);

#endif
