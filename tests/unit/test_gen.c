/*
 * test_gen.c - unit tests of gen.c, the synthetic city of `gridstream gen`: the same options give
 * the same record stream (hashed), another seed another one; every record sits in the murmur2
 * partition of its key except the deliberate wrong_partition ones; valid records decode and pass
 * gs_validate() and invalid ones fail with the reason they were made for, every SPEC §3 reason at
 * least once; every valid case event references a signal (report, sensor ALARM edge, firing video
 * detection, each tracked here independently) placed earlier with the right ref_channel, and every
 * unknown_ref one does not; event time never exceeds placement; options are checked.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codes.h"
#include "gen.h"
#include "validate.h"

/* ---- a small string map (ref -> value), enough for a test run -------------------------------- */

typedef struct ent {
    char *k;
    int64_t v, w;
    struct ent *next;
} ent_t;

typedef struct map {
    ent_t **b;
    size_t nb;
} map_t;

static void map_init(map_t *m)
{
    m->nb = 1 << 16;
    m->b = calloc(m->nb, sizeof(*m->b));
    assert_non_null(m->b);
}

static size_t map_hash(const char *s)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(1099511628211);
    return (size_t)h;
}

static ent_t *map_get(map_t *m, const char *k)
{
    for (ent_t *e = m->b[map_hash(k) & (m->nb - 1)]; e; e = e->next)
        if (strcmp(e->k, k) == 0) return e;
    return NULL;
}

static ent_t *map_put(map_t *m, const char *k)
{
    ent_t *e = map_get(m, k);
    if (e) return e;
    e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->k = strdup(k);
    size_t i = map_hash(k) & (m->nb - 1);
    e->next = m->b[i];
    m->b[i] = e;
    return e;
}

static void map_fini(map_t *m)
{
    for (size_t i = 0; i < m->nb; i++)
        for (ent_t *e = m->b[i], *n; e; e = n) {
            n = e->next;
            free(e->k);
            free(e);
        }
    free(m->b);
}

/* ---- runs ------------------------------------------------------------------------------------ */

static void small_opts(gs_gen_opts_t *o)
{
    gs_gen_opts_defaults(o);
    o->cells = 40;
    o->days = 12;
    o->partitions = 4;
    o->invalid_rate = 0.05;
}

typedef struct hash_ctx {
    uint64_t h, n;
} hash_ctx_t;

static void fnv(uint64_t *h, const void *p, size_t n)
{
    for (const uint8_t *b = p; n--; b++)
        *h = (*h ^ *b) * UINT64_C(1099511628211);
}

static int hash_emit(void *ctx, const gs_gen_rec_t *r)
{
    hash_ctx_t *c = ctx;
    uint32_t hdr[4] = {(uint32_t)r->topic, r->partition, (uint32_t)r->klen, (uint32_t)r->vlen};
    fnv(&c->h, hdr, sizeof(hdr));
    fnv(&c->h, r->key, r->klen);
    fnv(&c->h, r->val, r->vlen);
    c->n++;
    return 0;
}

static uint64_t run_hash(const gs_gen_opts_t *o, uint64_t *n)
{
    char err[256];
    gs_gen_t *g = gs_gen_new(o, err, sizeof(err));
    assert_non_null(g);
    hash_ctx_t c = {UINT64_C(1469598103934665603), 0};
    assert_int_equal(gs_gen_run(g, hash_emit, &c), GS_OK);
    assert_int_equal(gs_gen_stats(g)->records, c.n);
    gs_gen_destroy(g);
    *n = c.n;
    return c.h;
}

static void test_deterministic(void **state)
{
    gs_gen_opts_t o;
    small_opts(&o);
    uint64_t n1, n2, n3, n4;
    uint64_t h1 = run_hash(&o, &n1), h2 = run_hash(&o, &n2);
    assert_true(n1 > 10000);
    assert_int_equal(n1, n2);
    assert_int_equal(h1, h2);
    o.seed = 2;
    uint64_t h3 = run_hash(&o, &n3);
    assert_true(h3 != h1);
    o.seed = 1;
    o.partitions = 3; /* same content, other partitions: the stream differs in partitions only */
    uint64_t h4 = run_hash(&o, &n4);
    assert_true(h4 != h1);
}

/* ---- one checked run ------------------------------------------------------------------------- */

typedef struct check_ctx {
    const gs_gen_opts_t *o;
    gs_arena_t a;
    map_t sig;    /* "<channel>|<id>" -> placement and event time of the signal */
    map_t sensor; /* sensor_id -> last state */
    map_t cam;    /* "<camera>|<type>" -> video state (v = last qualifying, w = latched) */
    map_t cam_q;  /* "<camera>|<type>" -> the two previous qualifying times */
    uint64_t records, valid, invalid, reason[GS_REASON_COUNT], cases_valid, cases_checked;
    uint64_t topics[GS_SRC__COUNT], dup, late, late_checked;
    int64_t last_place;
} check_ctx_t;

static void add_signal(check_ctx_t *c, int ch, const char *id, int64_t place, int64_t t)
{
    char k[160];
    snprintf(k, sizeof(k), "%d|%.120s", ch, id);
    ent_t *e = map_put(&c->sig, k);
    e->v = place;
    e->w = t;
}

/* SPEC §4 video rule, for detections that arrive in time order (what gen promises). */
static void video_signal(check_ctx_t *c, const Gridstream__V1__VideoDetection *v, int64_t place)
{
    static const uint32_t mapped[] = {882, 883, 887, 890, 891, 892, 893, 894};
    bool is_mapped = false;
    for (int i = 0; i < 8; i++)
        is_mapped = is_mapped || v->alarm_type == mapped[i];
    if (!is_mapped || (double)v->confidence < 0.6) return;
    char k[128];
    snprintf(k, sizeof(k), "%s|%u", v->camera_id, v->alarm_type);
    ent_t *st = map_get(&c->cam, k);
    if (!st) {
        st = map_put(&c->cam, k);
        st->v = INT64_MIN / 2;
    }
    ent_t *q = map_put(&c->cam_q, k); /* v, w: the two previous qualifying times (0 = none) */
    int64_t t = v->event_time_ms;
    bool expired = t - st->v >= 10 * GS_MINUTE_MS;
    if (st->w && !expired) {
        st->v = t; /* latched: extends */
        return;
    }
    if (expired) {
        st->w = 0;
        q->v = q->w = 0;
    }
    if (q->v && q->w && t - q->v <= 60000) {
        st->w = 1; /* the third within 60 s fires */
        q->v = q->w = 0;
        add_signal(c, 2, v->detection_id, place, t);
    } else {
        q->v = q->w; /* keep the two latest: v older, w newer */
        q->w = t;
    }
    st->v = t;
}

static int check_emit(void *ctx, const gs_gen_rec_t *r)
{
    check_ctx_t *c = ctx;
    c->records++;
    c->topics[r->topic]++;
    assert_true(r->place_ms >= c->last_place); /* handed over in placement order */
    c->last_place = r->place_ms;
    assert_true(r->topic >= 0 && r->topic < GS_SRC__COUNT);
    assert_true(r->partition < c->o->partitions);
    uint32_t want = gs_partition_for_key(r->key, r->klen, c->o->partitions);
    if (r->intent == GS_ERR_WRONG_PARTITION)
        assert_int_not_equal(r->partition, want);
    else
        assert_int_equal(r->partition, want);
    if (r->intent != GS_OK) {
        c->invalid++;
        c->reason[gs_reason_index(r->intent)]++;
    }
    c->dup += r->duplicate;
    c->late += r->late;

    gs_arena_reset(&c->a);
    gs_event_t ev;
    gs_err_t e = gs_validate(r->topic, r->key, r->klen, r->val, r->vlen, &c->a, &ev);
    if (r->intent == GS_ERR_WRONG_PARTITION || r->intent == GS_ERR_UNKNOWN_REF)
        assert_int_equal(e, GS_OK);
    else
        assert_int_equal(e, r->intent);
    if (e == GS_ERR_DECODE) return 0;
    /* event time never after placement; late records placed after their time by <= 20 min */
    assert_true(ev.t <= r->place_ms);
    assert_int_equal(ev.t, r->event_time_ms);
    if (r->late) {
        assert_true(r->place_ms - ev.t >= GS_MINUTE_MS && r->place_ms - ev.t <= GS_GEN_LATE_MAX_MS);
        c->late_checked++;
    }
    if (r->intent != GS_OK && r->intent != GS_ERR_UNKNOWN_REF) return 0;
    if (r->intent == GS_OK) c->valid++;
    if (r->duplicate) return 0; /* dropped by dedup: neither a signal nor a state change */

    char ref[128];
    switch (r->topic) {
    case GS_SRC_REPORTS:
        add_signal(c, (int)ev.m.report->channel, ev.m.report->report_id, r->place_ms, ev.t);
        break;
    case GS_SRC_SENSORS: {
        const Gridstream__V1__SensorReading *s = ev.m.sensor;
        ent_t *st = map_put(&c->sensor, s->sensor_id);
        if (s->state == 2 && st->v != 2) {
            snprintf(ref, sizeof(ref), "%s:%llu", s->sensor_id, (unsigned long long)s->seq);
            add_signal(c, 3, ref, r->place_ms, ev.t);
        }
        st->v = s->state;
        break;
    }
    case GS_SRC_VIDEO:
        video_signal(c, ev.m.video, r->place_ms);
        break;
    default: {
        const Gridstream__V1__CaseEvent *k = ev.m.cas;
        snprintf(ref, sizeof(ref), "%d|%s", (int)k->ref_channel, k->ref_id);
        ent_t *s = map_get(&c->sig, ref);
        if (r->intent == GS_ERR_UNKNOWN_REF) {
            assert_null(s);
            break;
        }
        c->cases_valid++;
        if (!s)
            fail_msg("case %s (stage %d) references %s, not a signal so far", k->case_id,
                     (int)k->stage, ref);
        /* after the signal: in event time by the minimum delay, and in placement */
        assert_true(ev.t >= s->w + GS_GEN_CASE_MIN_DELAY_MS);
        assert_true(ev.t > s->v);
        c->cases_checked++;
    }
    }
    return 0;
}

static void check_run(const gs_gen_opts_t *o, check_ctx_t *c)
{
    memset(c, 0, sizeof(*c));
    c->o = o;
    gs_arena_init(&c->a, 4096);
    map_init(&c->sig);
    map_init(&c->sensor);
    map_init(&c->cam);
    map_init(&c->cam_q);
    c->last_place = INT64_MIN;
    char err[256];
    gs_gen_t *g = gs_gen_new(o, err, sizeof(err));
    assert_non_null(g);
    assert_int_equal(gs_gen_run(g, check_emit, c), GS_OK);
    const gs_gen_stats_t *st = gs_gen_stats(g);
    assert_int_equal(st->records, c->records);
    assert_int_equal(st->invalid, c->invalid);
    assert_int_equal(st->duplicates, c->dup);
    assert_int_equal(st->late, c->late);
    for (int i = 0; i < GS_REASON_COUNT; i++)
        assert_int_equal(st->per_reason[i], c->reason[i]);
    for (int i = 0; i < GS_SRC__COUNT; i++)
        assert_int_equal(st->per_topic[i], c->topics[i]);
    gs_gen_destroy(g);
    gs_arena_fini(&c->a);
    map_fini(&c->sig);
    map_fini(&c->sensor);
    map_fini(&c->cam);
    map_fini(&c->cam_q);
}

static void test_partitions_validation_refs(void **state)
{
    gs_gen_opts_t o;
    small_opts(&o);
    check_ctx_t c;
    check_run(&o, &c);
    for (int i = 0; i < GS_REASON_COUNT; i++) {
        if (c.reason[i] == 0) fail_msg("no record with reason %s", gs_err_str((gs_err_t)(-i - 1)));
    }
    for (int t = 0; t < GS_SRC__COUNT; t++)
        assert_true(c.topics[t] > 100);
    /* about the invalid rate (5 %), the rest valid */
    double share = (double)c.invalid / (double)c.records;
    assert_true(share > 0.04 && share < 0.06);
    assert_int_equal(c.valid + c.invalid - c.reason[gs_reason_index(GS_ERR_UNKNOWN_REF)] -
                         c.reason[gs_reason_index(GS_ERR_WRONG_PARTITION)],
                     c.records - c.reason[gs_reason_index(GS_ERR_UNKNOWN_REF)] -
                         c.reason[gs_reason_index(GS_ERR_WRONG_PARTITION)]);
    assert_true(c.cases_checked > 1000 && c.cases_checked == c.cases_valid);
    assert_true(c.dup > 0 && c.late > 0 && c.late_checked > 0);
}

static void test_one_partition_no_invalid(void **state)
{
    gs_gen_opts_t o;
    small_opts(&o);
    o.partitions = 1;
    o.cells = 3;
    o.invalid_rate = 0;
    check_ctx_t c;
    check_run(&o, &c);
    assert_int_equal(c.invalid, 0);
    assert_true(c.cases_checked > 10);
    /* one partition: no wrong_partition can be made, key_mismatch stands in */
    o.invalid_rate = 0.2;
    check_run(&o, &c);
    assert_int_equal(c.reason[gs_reason_index(GS_ERR_WRONG_PARTITION)], 0);
    assert_true(c.reason[gs_reason_index(GS_ERR_KEY_MISMATCH)] > 0);
}

static int stop_after_10(void *ctx, const gs_gen_rec_t *r)
{
    int *n = ctx;
    return ++*n >= 10;
}

static void test_stop_and_options(void **state)
{
    gs_gen_opts_t o;
    small_opts(&o);
    char err[256];
    gs_gen_t *g = gs_gen_new(&o, err, sizeof(err));
    int n = 0;
    assert_int_equal(gs_gen_run(g, stop_after_10, &n), GS_ERR_INVAL);
    assert_int_equal(n, 10);
    assert_int_equal(gs_gen_stats(g)->records, 10);
    assert_int_equal(gs_gen_run(g, stop_after_10, &n), GS_ERR_INVAL); /* runs once */
    gs_gen_destroy(g);
    gs_gen_destroy(NULL);

    gs_gen_opts_t bad = o;
    bad.cells = 0;
    assert_null(gs_gen_new(&bad, err, sizeof(err)));
    assert_non_null(strstr(err, "cells"));
    bad = o;
    bad.partitions = 0;
    assert_null(gs_gen_new(&bad, err, sizeof(err)));
    bad = o;
    bad.invalid_rate = 0.7;
    assert_null(gs_gen_new(&bad, err, sizeof(err)));
    bad = o;
    bad.events_per_day = 0;
    assert_null(gs_gen_new(&bad, err, sizeof(err)));
    bad = o;
    bad.days = 0;
    assert_null(gs_gen_new(&bad, err, sizeof(err)));
}

/* Defaults: 200 cells of two cities, 2024-03-01 local midnight, every cell code valid. */
static int first_cells(void *ctx, const gs_gen_rec_t *r)
{
    uint64_t *seen = ctx;
    if (r->intent == GS_OK) {
        char k[32];
        memcpy(k, r->key, r->klen);
        k[r->klen] = '\0';
        uint64_t cell = strtoull(k, NULL, 10);
        assert_true(gs_cell_valid(cell));
        assert_true(r->event_time_ms >= INT64_C(1709222400000)); /* 2024-03-01 00:00 UTC+8 */
        uint64_t city = cell / UINT64_C(100000000000);
        seen[city == 4409 ? 0 : city == 4401 ? 1 : 2]++;
    }
    return 0;
}

static void test_defaults(void **state)
{
    gs_gen_opts_t o;
    gs_gen_opts_defaults(&o);
    assert_int_equal(o.seed, 1);
    assert_int_equal(o.partitions, 4);
    assert_int_equal(o.cells, 200);
    assert_int_equal(o.days, 35);
    assert_int_equal(o.start_ms, INT64_C(1709222400000));
    o.days = 2;
    char err[256];
    gs_gen_t *g = gs_gen_new(&o, err, sizeof(err));
    uint64_t seen[3] = {0};
    assert_int_equal(gs_gen_run(g, first_cells, seen), GS_OK);
    assert_true(seen[0] > 0 && seen[1] > 0);
    assert_int_equal(seen[2], 0);
    gs_gen_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_partitions_validation_refs),
        cmocka_unit_test(test_one_partition_no_invalid),
        cmocka_unit_test(test_stop_and_options),
        cmocka_unit_test(test_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
