/*
 * incident.c - signals to incidents (SPEC §5) and the case lifecycle (SPEC §6).
 *
 * Incidents live in GS_NS_INCIDENT under a per-task handle (a counter, so deterministic). The
 * joinable incidents of a (cell, problem) are listed in GS_NS_CANDIDATE, pruned lazily; every
 * signal's reference key (channel, signal id) points to its incident in GS_NS_REF, which is how
 * case events find their incident. Every change to an incident goes through
 * gs_task_incident_changed() with the incident's counts from before the change, so KPIs and the
 * scorecard view follow.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "timeutil.h"
#include "task_int.h"

#define REF_KEY_MAX 1100

gs_incident_t *gs_incident_get(gs_task_t *t, uint64_t handle)
{
    uint8_t k[8];
    gs_put_be64(k, handle);
    return gs_store_update(t->st, GS_NS_INCIDENT, k, 8, NULL);
}

void gs_incident_kpi_counts(const gs_incident_t *inc, int64_t v[GS_KPI_NCOUNTS])
{
    memset(v, 0, GS_KPI_NCOUNTS * sizeof(int64_t));
    if (!inc) return;
    v[GS_C_SIGNALS] = inc->signal_count;
    v[GS_C_INCIDENTS] = 1;
    v[GS_C_MERGED] = (int64_t)inc->signal_count - 1;
    v[GS_C_CAPTURED] = gs_channel_active(inc->first_channel);
    v[GS_C_FILED] = inc->filed_ms != 0;
    v[GS_C_REJECTED] = inc->has_rejected;
    v[GS_C_RECTIFIED] = inc->rectified_ms != 0;
    v[GS_C_ON_TIME] =
        inc->rectified_ms != 0 && inc->filed_ms != 0 && inc->rectified_ms <= inc->deadline_ms;
    v[GS_C_CLOSED] = inc->closed_ms != 0;
    v[GS_C_REWORKED] = inc->rework_count >= 1;
}

static size_t ref_key(uint8_t *k, int channel, const char *id, size_t len)
{
    if (len > REF_KEY_MAX - 1) len = REF_KEY_MAX - 1;
    k[0] = (uint8_t)channel;
    memcpy(k + 1, id, len);
    return len + 1;
}

static void ref_set(gs_task_t *t, const gs_signal_t *sig, uint64_t handle)
{
    uint8_t k[REF_KEY_MAX];
    size_t kl = ref_key(k, sig->channel, sig->sid, sig->sid_len);
    uint8_t v[8];
    gs_put_be64(v, handle);
    if (!gs_store_put(t->st, GS_NS_REF, k, kl, v, 8)) gs_task_note_oom(t);
}

static bool has_position(double lat, double lon)
{
    return !(lat == 0.0 && lon == 0.0);
}

static double haversine(double lat1, double lon1, double lat2, double lon2, double r)
{
    const double rad = M_PI / 180.0;
    double dphi = (lat2 - lat1) * rad, dlambda = (lon2 - lon1) * rad;
    double a = sin(dphi / 2) * sin(dphi / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlambda / 2) * sin(dlambda / 2);
    if (a > 1.0) a = 1.0;
    return 2.0 * r * asin(sqrt(a));
}

static int id_cmp(const gs_incident_t *a, const gs_incident_t *b)
{
    size_t n = a->id_len < b->id_len ? a->id_len : b->id_len;
    int c = memcmp(gs_inc_id(a), gs_inc_id(b), n);
    if (c) return c;
    return (a->id_len > b->id_len) - (a->id_len < b->id_len);
}

/* Candidates are kept until the watermark is past last signal + window + TTL. */
static bool candidate_stale(const gs_task_t *t, const gs_incident_t *inc)
{
    if (t->wm == GS_TIME_MIN || t->wm == GS_TIME_MAX) return false;
    return t->wm - inc->last_signal_ms > t->p->correlation_window_ms + t->p->dedup_ttl_ms;
}

static void cand_key(uint8_t k[12], uint64_t cell, uint32_t problem)
{
    gs_put_be64(k, cell);
    gs_put_be32(k + 8, problem);
}

static uint64_t open_incident(gs_task_t *t, const gs_signal_t *sig)
{
    const gs_params_t *p = t->p;
    char id[1200];
    /* "<cell>-<problem>-<t>-<channel>-<signal id>", cut to the buffer */
    char *q = gs_fmt_u64(id, sig->cell);
    *q++ = '-';
    q = gs_fmt_u64(q, sig->problem);
    *q++ = '-';
    q = gs_fmt_i64(q, sig->t);
    *q++ = '-';
    q = gs_fmt_i64(q, sig->channel);
    *q++ = '-';
    size_t room = sizeof(id) - 1 - (size_t)(q - id);
    size_t sl = sig->sid_len < room ? sig->sid_len : room;
    memcpy(q, sig->sid, sl);
    int n = (int)((q - id) + (ptrdiff_t)sl);
    id[n] = 0;
    /* The signal that opened an incident, delivered again after its identity was forgotten,
       would open an incident with the same id: it is a duplicate, and changes nothing. */
    uint8_t rk[REF_KEY_MAX];
    size_t rkl = ref_key(rk, sig->channel, sig->sid, sig->sid_len);
    const uint8_t *hv = gs_store_get(t->st, GS_NS_REF, rk, rkl, NULL);
    const gs_incident_t *prev = hv ? gs_incident_get(t, gs_get_be64(hv)) : NULL;
    if (prev && prev->id_len == (size_t)n && memcmp(gs_inc_id(prev), id, (size_t)n) == 0) {
        t->m.duplicates_exact++;
        return 0;
    }
    uint64_t handle = t->next_handle++;
    uint8_t hk[8];
    gs_put_be64(hk, handle);
    gs_incident_t *inc = gs_store_put(t->st, GS_NS_INCIDENT, hk, 8, NULL, sizeof(*inc) + (size_t)n);
    if (!inc) {
        gs_task_note_oom(t);
        return 0;
    }
    inc->handle = handle;
    inc->cell = sig->cell;
    inc->problem = sig->problem;
    inc->opened_ms = inc->last_signal_ms = sig->t;
    inc->lat = sig->lat;
    inc->lon = sig->lon;
    inc->first_channel = (uint8_t)sig->channel;
    inc->signal_count = 1;
    inc->channel_mask = 1u << sig->channel;
    inc->month = gs_time_month_index(sig->t, p->tz_offset_minutes);
    inc->sc_e = gs_time_month_start(inc->month + 1, p->tz_offset_minutes) + p->score_grace_ms;
    inc->id_len = (uint16_t)n;
    memcpy((char *)(inc + 1), id, (size_t)n);
    gs_task_month_register(t, inc->month, inc->sc_e);

    uint8_t ck[12];
    cand_key(ck, sig->cell, sig->problem);
    size_t clen = 0;
    const uint8_t *old = gs_store_get(t->st, GS_NS_CANDIDATE, ck, 12, &clen);
    uint8_t *copy = gs_task_scratch(t, clen + 8);
    if (copy) {
        if (clen) memcpy(copy, old, clen);
        gs_put_be64(copy + clen, handle);
        if (!gs_store_put(t->st, GS_NS_CANDIDATE, ck, 12, copy, clen + 8)) gs_task_note_oom(t);
    }
    ref_set(t, sig, handle);
    t->m.incidents_opened++;

    inc = gs_incident_get(t, handle);
    int64_t zero_k[GS_KPI_NCOUNTS] = {0};
    int64_t zero_s[GS_SCORE_NCOUNTS] = {0};
    gs_task_incident_changed(t, inc, zero_k, zero_s, NULL, 0);
    gs_alert_on_open(t, inc);
    return handle;
}

void gs_correlate(gs_task_t *t, const gs_signal_t *sig)
{
    const gs_params_t *p = t->p;
    t->m.signals++;
    uint8_t ck[12];
    cand_key(ck, sig->cell, sig->problem);
    size_t clen = 0;
    const uint8_t *list = gs_store_get(t->st, GS_NS_CANDIDATE, ck, 12, &clen);
    gs_incident_t *best = NULL;
    double best_d = 0;
    size_t n = clen / 8, keep = 0, stale = 0;
    uint64_t handles[256];
    uint64_t *h = n <= 256 ? handles : malloc(n * sizeof(uint64_t));
    if (!h) {
        gs_task_note_oom(t);
        return;
    }
    bool sig_pos = has_position(sig->lat, sig->lon);
    for (size_t i = 0; i < n; i++)
        h[i] = gs_get_be64(list + 8 * i);
    for (size_t i = 0; i < n; i++) {
        uint8_t hk[8];
        gs_put_be64(hk, h[i]);
        gs_incident_t *inc = (gs_incident_t *)gs_store_get(t->st, GS_NS_INCIDENT, hk, 8, NULL);
        if (!inc || candidate_stale(t, inc)) {
            stale++;
            continue;
        }
        h[keep++] = h[i];
        if (inc->stage == GRIDSTREAM__V1__STAGE__CLOSED ||
            inc->stage == GRIDSTREAM__V1__STAGE__REJECTED)
            continue;
        if (sig->t - inc->last_signal_ms > p->correlation_window_ms ||
            sig->t < inc->opened_ms - p->correlation_window_ms)
            continue;
        double d = 0;
        if (sig_pos && has_position(inc->lat, inc->lon)) {
            d = haversine(inc->lat, inc->lon, sig->lat, sig->lon, p->earth_radius_m);
            if (!(d <= p->correlation_distance_m)) continue;
        }
        if (!best || d < best_d ||
            (d == best_d && (inc->opened_ms < best->opened_ms ||
                             (inc->opened_ms == best->opened_ms && id_cmp(inc, best) < 0)))) {
            best = inc;
            best_d = d;
        }
    }
    if (stale) {
        uint8_t *nl = gs_store_put(t->st, GS_NS_CANDIDATE, ck, 12, NULL, keep * 8);
        if (nl)
            for (size_t i = 0; i < keep; i++)
                gs_put_be64(nl + 8 * i, h[i]);
        if (keep == 0) gs_store_del(t->st, GS_NS_CANDIDATE, ck, 12);
    }
    uint64_t best_handle = best ? best->handle : 0;
    if (h != handles) free(h);
    if (!best) {
        open_incident(t, sig);
        return;
    }
    gs_incident_t *inc = gs_incident_get(t, best_handle);
    int64_t kb[GS_KPI_NCOUNTS], sb[GS_SCORE_NCOUNTS];
    gs_incident_kpi_counts(inc, kb);
    gs_incident_score_counts(inc, sb);
    inc->signal_count++;
    inc->channel_mask |= 1u << sig->channel;
    if (sig->t > inc->last_signal_ms) inc->last_signal_ms = sig->t;
    t->m.signals_merged++;
    ref_set(t, sig, best_handle);
    inc = gs_incident_get(t, best_handle);
    gs_task_incident_changed(t, inc, kb, sb, gs_inc_sc_dept(inc), inc->sc_dept_len);
}

/* Rebuilds an incident with new department strings (the value changes size). */
static gs_incident_t *set_depts(gs_task_t *t, gs_incident_t *inc, const char *dept, size_t dlen,
                                const char *scd, size_t sclen)
{
    size_t need = sizeof(*inc) + inc->id_len + dlen + sclen;
    uint8_t *b = gs_task_scratch(t, need);
    if (!b) return inc;
    memcpy(b, inc, sizeof(*inc) + inc->id_len);
    memmove(b + sizeof(*inc) + inc->id_len, dept, dlen);
    memmove(b + sizeof(*inc) + inc->id_len + dlen, scd, sclen);
    gs_incident_t *ni = (gs_incident_t *)b;
    ni->dept_len = (uint16_t)dlen;
    ni->sc_dept_len = (uint16_t)sclen;
    uint8_t hk[8];
    gs_put_be64(hk, inc->handle);
    gs_incident_t *stored = gs_store_put(t->st, GS_NS_INCIDENT, hk, 8, b, need);
    if (!stored) {
        gs_task_note_oom(t);
        return inc;
    }
    return stored;
}

gs_err_t gs_lifecycle_apply(gs_task_t *t, const Gridstream__V1__CaseEvent *ce)
{
    uint8_t k[REF_KEY_MAX];
    size_t kl = ref_key(k, (int)ce->ref_channel, ce->ref_id, strlen(ce->ref_id));
    const uint8_t *hv = gs_store_get(t->st, GS_NS_REF, k, kl, NULL);
    if (!hv) return GS_ERR_UNKNOWN_REF;
    uint64_t handle = gs_get_be64(hv);
    gs_incident_t *inc = gs_incident_get(t, handle);
    if (!inc) return GS_ERR_UNKNOWN_REF;
    t->m.case_events++;

    int64_t kb[GS_KPI_NCOUNTS], sb[GS_SCORE_NCOUNTS];
    gs_incident_kpi_counts(inc, kb);
    gs_incident_score_counts(inc, sb);
    /* the scorecard's department before the change, copied: the value may move */
    char old_scd[GS_DEPT_MAX];
    size_t old_scd_len = inc->sc_dept_len < sizeof(old_scd) ? inc->sc_dept_len : sizeof(old_scd);
    memcpy(old_scd, gs_inc_sc_dept(inc), old_scd_len);

    int64_t ts = ce->event_time_ms;
    bool by_e = ts <= inc->sc_e;
    if (ts >= inc->stage_ms) {
        inc->stage = (uint8_t)ce->stage;
        inc->stage_ms = ts;
    }
    switch (ce->stage) {
    case GRIDSTREAM__V1__STAGE__FILED:
        if (inc->filed_ms == 0) {
            inc->filed_ms = ts;
            inc->deadline_ms = ce->deadline_ms;
            gs_task_timer_add(t, inc->deadline_ms, handle);
        }
        if (by_e && !inc->sc_filed) {
            inc->sc_filed = 1;
            inc->sc_deadline_ms = ce->deadline_ms;
        }
        break;
    case GRIDSTREAM__V1__STAGE__REJECTED:
        inc->has_rejected = 1;
        break;
    case GRIDSTREAM__V1__STAGE__DISPATCHED: {
        size_t dl = strlen(ce->department);
        if (dl > GS_DEPT_MAX) { /* cut on a UTF-8 character boundary */
            dl = GS_DEPT_MAX;
            while (dl > 0 && ((unsigned char)ce->department[dl] & 0xc0) == 0x80)
                dl--;
        }
        bool sc = by_e && dl > 0;
        inc = set_depts(t, inc, ce->department, dl, sc ? ce->department : gs_inc_sc_dept(inc),
                        sc ? dl : inc->sc_dept_len);
        break;
    }
    case GRIDSTREAM__V1__STAGE__RECTIFIED:
        if (inc->rectified_ms == 0) inc->rectified_ms = ts;
        if (by_e && inc->sc_rectified_ms == 0) inc->sc_rectified_ms = ts;
        break;
    case GRIDSTREAM__V1__STAGE__REWORK:
        inc->rework_count++;
        if (by_e) inc->sc_reworked = 1;
        if (inc->rework_count == (uint32_t)t->p->rework_alert_count)
            gs_alert_emit(t, GRIDSTREAM__V1__ALERT_KIND__REPEATED_REWORK, inc, ts,
                          inc->rework_count, "incident sent back for rework repeatedly");
        break;
    case GRIDSTREAM__V1__STAGE__CLOSED:
        if (inc->closed_ms == 0) inc->closed_ms = ts;
        break;
    default: /* VERIFIED changes only the stage */
        break;
    }
    gs_task_incident_changed(t, inc, kb, sb, old_scd, old_scd_len);
    return GS_OK;
}
