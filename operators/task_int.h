/*
 * task_int.h - the inside of a task, shared by the operator files that make it up: signals.c
 * (dedup, sensor edges, video persistence), incident.c (correlation, case lifecycle, an incident's
 * counts), alerts.c and task.c (watermark, timers, KPI buckets, partials, flush). Not for use
 * outside operators/.
 */
#ifndef GS_TASK_INT_H
#define GS_TASK_INT_H

#include "kpi.h"
#include "task.h"

/* A signal (SPEC §4): what a report, a sensor edge or a video burst becomes. */
typedef struct gs_signal {
    uint64_t cell;
    uint32_t problem;
    int channel;
    int64_t t;
    double lat, lon;
    const char *sid; /* signal id: report_id, sensor_id:seq or detection_id; borrowed */
    size_t sid_len;
} gs_signal_t;

/*
 * An incident, the value of GS_NS_INCIDENT under its 8-byte big-endian handle. Fixed part, then
 * id_len bytes of incident_id, dept_len bytes of department, sc_dept_len bytes of the department
 * as seen by the scorecard (last DISPATCHED by E).
 */
typedef struct gs_incident {
    uint64_t handle;
    uint64_t cell;
    int64_t opened_ms, last_signal_ms;
    double lat, lon;  /* position of the first signal */
    int64_t stage_ms; /* time of the event that set `stage` */
    int64_t filed_ms, deadline_ms, rectified_ms, closed_ms;
    int64_t sc_e; /* evaluation time E of its month */
    int64_t sc_deadline_ms, sc_rectified_ms;
    uint32_t problem, signal_count, channel_mask, rework_count;
    int32_t month; /* month index of opened_ms */
    uint8_t first_channel, stage, has_rejected, overdue_done;
    uint8_t sc_filed, sc_reworked, out_dirty, pad;
    uint16_t id_len, dept_len, sc_dept_len, pad2;
} gs_incident_t;

static inline const char *gs_inc_id(const gs_incident_t *i)
{
    return (const char *)(i + 1);
}
static inline const char *gs_inc_dept(const gs_incident_t *i)
{
    return gs_inc_id(i) + i->id_len;
}
static inline const char *gs_inc_sc_dept(const gs_incident_t *i)
{
    return gs_inc_dept(i) + i->dept_len;
}
static inline size_t gs_inc_size(const gs_incident_t *i)
{
    return sizeof(*i) + i->id_len + i->dept_len + i->sc_dept_len;
}

typedef struct gs_keylist { /* variable-length keys: [u16 len][bytes]... */
    uint8_t *buf;
    size_t len, cap;
} gs_keylist_t;

typedef struct gs_month_state { /* a month this task has incidents in */
    int32_t month;
    uint8_t frozen; /* the task's watermark has passed E: its scorecard view is final */
    int64_t e;
} gs_month_state_t;

typedef struct gs_timer {
    int64_t at;
    uint64_t handle;
} gs_timer_t;

struct gs_task {
    uint32_t id;
    const gs_params_t *p;
    gs_store_t *st;
    gs_sink_t sink;
    gs_partial_sink_t parts;

    int64_t part_max[GS_SRC__COUNT];
    bool part_seen[GS_SRC__COUNT];
    bool part_idle[GS_SRC__COUNT];
    int64_t wm;
    int64_t next_sweep;
    uint64_t next_handle;

    gs_kpi_table_t win;       /* this task's KPI windows, every level */
    gs_keylist_t kpi_buckets; /* changed GS_NS_KPI_BUCKET keys */
    gs_keylist_t score_keys;  /* changed GS_NS_SCORE keys */
    uint64_t *out_inc;        /* incidents changed since the last flush */
    size_t nout, cout;
    gs_month_state_t *months; /* registered months, ascending */
    size_t nmonths, cmonths;
    gs_timer_t *heap; /* OVERDUE deadlines, min-heap */
    size_t nheap, cheap;
    uint8_t *scratch; /* incident rebuilds */
    size_t cscratch;
    gs_err_t oom; /* sticky allocation failure, reported by flush */

    gs_task_metrics_t m;
};

/* signals.c */
bool gs_dedup_seen(gs_task_t *t, const gs_event_t *ev, uint8_t *key, size_t *klen);
void gs_dedup_register(gs_task_t *t, const uint8_t *key, size_t klen, int64_t ts);
void gs_dedup_sweep(gs_task_t *t);
bool gs_signal_from_sensor(gs_task_t *t, const gs_event_t *ev, gs_signal_t *sig, char *sidbuf,
                           size_t sidcap);
bool gs_signal_from_video(gs_task_t *t, const gs_event_t *ev, gs_signal_t *sig);
#define GS_DEDUP_KEY_MAX 1024

/* incident.c */
void gs_correlate(gs_task_t *t, const gs_signal_t *sig);
gs_err_t gs_lifecycle_apply(gs_task_t *t, const Gridstream__V1__CaseEvent *ce);
gs_incident_t *gs_incident_get(gs_task_t *t, uint64_t handle);
void gs_incident_kpi_counts(const gs_incident_t *inc, int64_t v[GS_KPI_NCOUNTS]);

/* task.c: applying an incident's change to KPIs and the scorecard view */
void gs_task_incident_changed(gs_task_t *t, gs_incident_t *inc,
                              const int64_t kpi_before[GS_KPI_NCOUNTS],
                              const int64_t score_before[GS_SCORE_NCOUNTS], const char *dept_before,
                              size_t dept_before_len);
void gs_incident_score_counts(const gs_incident_t *inc, int64_t v[GS_SCORE_NCOUNTS]);
void gs_task_timer_add(gs_task_t *t, int64_t at, uint64_t handle);
void gs_task_month_register(gs_task_t *t, int32_t month, int64_t e);
void gs_task_note_oom(gs_task_t *t);
/* The task's scratch buffer, at least n bytes; valid until the next call. NULL on OOM. */
uint8_t *gs_task_scratch(gs_task_t *t, size_t n);
gs_err_t gs_keylist_push(gs_keylist_t *kl, const void *key, size_t klen);

/* task.c: the gridstream.incidents record of an incident */
#define GS_INC_ID_MAX 1199 /* longest incident_id written, in bytes */
#define GS_INCIDENT_RECORD_MAX (GS_INC_ID_MAX + GS_DEPT_MAX + 16 * 12)
/* Fills m with id and dept as its strings (NUL-terminated copies, cut to their maximums). */
void gs_incident_fill(const gs_incident_t *inc, Gridstream__V1__Incident *m,
                      char id[GS_INC_ID_MAX + 1], char dept[GS_DEPT_MAX + 1]);
/* Packs the record gs_incident_fill describes, as protobuf-c would, into out; returns its length.
 */
size_t gs_incident_pack(const gs_incident_t *inc, uint8_t out[GS_INCIDENT_RECORD_MAX]);

/* alerts.c */
void gs_alert_on_open(gs_task_t *t, const gs_incident_t *inc);
void gs_alert_emit(gs_task_t *t, int kind, const gs_incident_t *inc, int64_t at, uint32_t count,
                   const char *message);

#endif
