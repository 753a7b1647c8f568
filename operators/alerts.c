/*
 * alerts.c - alerts of SPEC §8. HOTSPOT and CRITICAL are decided when an incident opens (here);
 * OVERDUE by the task's deadline timers and REPEATED_REWORK by the lifecycle, both through
 * gs_alert_emit(). Each alert id is produced once by construction: CRITICAL and OVERDUE once per
 * incident, REPEATED_REWORK when the count reaches the threshold, and HOTSPOT is suppressed while
 * one of the same cell lies within the window.
 *
 * State: GS_NS_CELL, per cell the open times of its recent incidents and of its recent hotspots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_int.h"

typedef struct cell_hdr {
    uint32_t nopen, nhot;
    /* int64_t times[nopen + nhot]: open times, then hotspot times */
} cell_hdr_t;

void gs_alert_emit(gs_task_t *t, int kind, const gs_incident_t *inc, int64_t at, uint32_t count,
                   const char *message)
{
    static const char *const prefix[] = {"", "HOTSPOT", "CRITICAL", "OVERDUE", "REWORK"};
    char id[1400];
    if (kind == GRIDSTREAM__V1__ALERT_KIND__HOTSPOT)
        snprintf(id, sizeof(id), "HOTSPOT:%llu:%lld", (unsigned long long)inc->cell, (long long)at);
    else
        snprintf(id, sizeof(id), "%s:%.*s", prefix[kind], (int)inc->id_len, gs_inc_id(inc));
    char incident_id[1200];
    snprintf(incident_id, sizeof(incident_id), "%.*s", (int)inc->id_len, gs_inc_id(inc));
    Gridstream__V1__Alert a;
    gridstream__v1__alert__init(&a);
    a.alert_id = id;
    a.kind = (Gridstream__V1__AlertKind)kind;
    a.cell = inc->cell;
    a.incident_id = incident_id;
    a.event_time_ms = at;
    a.problem_code = inc->problem;
    a.count = count;
    a.message = (char *)message;
    if (gs_sink_emit_msg(&t->sink, GS_OUT_ALERTS, id, &a.base) != GS_OK) gs_task_note_oom(t);
    t->m.alerts[kind]++;
}

/* Appends t->cell's open time, drops times too old to matter, and counts the hotspot window. */
static void hotspot_check(gs_task_t *t, const gs_incident_t *inc)
{
    const gs_params_t *p = t->p;
    uint8_t k[8];
    gs_put_be64(k, inc->cell);
    size_t vlen = 0;
    const cell_hdr_t *old = gs_store_get(t->st, GS_NS_CELL, k, 8, &vlen);
    uint32_t nopen = old ? old->nopen : 0, nhot = old ? old->nhot : 0;
    const int64_t *ot = old ? (const int64_t *)(old + 1) : NULL;
    int64_t horizon = GS_TIME_MIN;
    if (t->wm != GS_TIME_MIN && t->wm != GS_TIME_MAX)
        horizon = t->wm - p->hotspot_window_ms - p->kpi_retention_ms;

    size_t cap = sizeof(cell_hdr_t) + (size_t)(nopen + nhot + 2) * sizeof(int64_t);
    uint8_t *buf = gs_task_scratch(t, cap);
    if (!buf) return;
    cell_hdr_t *h = (cell_hdr_t *)buf;
    int64_t *nt = (int64_t *)(h + 1);
    uint32_t no = 0, nh = 0;
    for (uint32_t i = 0; i < nopen; i++)
        if (ot[i] >= horizon) nt[no++] = ot[i];
    int64_t at = inc->opened_ms;
    nt[no++] = at;
    uint32_t count = 0;
    for (uint32_t i = 0; i < no; i++)
        if (nt[i] > at - p->hotspot_window_ms && nt[i] <= at) count++;
    bool suppressed = false;
    for (uint32_t i = 0; i < nhot; i++) {
        int64_t ht = ot[nopen + i];
        if (ht < horizon) continue;
        nt[no + nh++] = ht;
        if (ht > at - p->hotspot_window_ms && ht <= at) suppressed = true;
    }
    bool fire = count >= (uint32_t)p->hotspot_threshold && !suppressed;
    if (fire) nt[no + nh++] = at;
    h->nopen = no;
    h->nhot = nh;
    if (!gs_store_put(t->st, GS_NS_CELL, k, 8, buf,
                      sizeof(cell_hdr_t) + (size_t)(no + nh) * sizeof(int64_t)))
        gs_task_note_oom(t);
    if (fire) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%u incidents opened in cell %llu within %lld min", count,
                 (unsigned long long)inc->cell, (long long)(p->hotspot_window_ms / 60000));
        gs_alert_emit(t, GRIDSTREAM__V1__ALERT_KIND__HOTSPOT, inc, at, count, msg);
    }
}

void gs_alert_on_open(gs_task_t *t, const gs_incident_t *inc)
{
    hotspot_check(t, inc);
    if (gs_params_is_critical(t->p, inc->problem))
        gs_alert_emit(t, GRIDSTREAM__V1__ALERT_KIND__CRITICAL, inc, inc->opened_ms, 1,
                      "critical problem reported");
}
