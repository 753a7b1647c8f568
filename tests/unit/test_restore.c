/*
 * test_restore: a task rebuilt from its persisted state carries on as if it had never stopped.
 * Task A applies records and flushes; every changed entry goes to a "persisted" store (what the
 * engine writes to the changelog and RocksDB). Task B is created over an empty store whose miss
 * loader reads the persisted one, gets each persisted incident through gs_task_restore_incident,
 * and then sees the rest of the input: its watermark, incident handles, deadlines and scorecard
 * months must continue where A's stopped, and its outputs must equal those of a task that saw
 * all of the input without stopping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testkit.h"

#define HOUR INT64_C(3600000)
#define MIN INT64_C(60000)

/* The persisted side: one store, keys prefixed with their namespace. */
static void persist(void *ctx, gs_ns_t ns, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    gs_store_t *p = ctx;
    uint8_t k[2048];
    assert_true(klen + 1 <= sizeof(k));
    k[0] = (uint8_t)ns;
    memcpy(k + 1, key, klen);
    if (val)
        assert_non_null(gs_store_put(p, GS_NS_META, k, klen + 1, val, vlen));
    else
        gs_store_del(p, GS_NS_META, k, klen + 1);
}

static bool load(void *ctx, gs_ns_t ns, const void *key, size_t klen, void **val, size_t *vlen)
{
    gs_store_t *p = ctx;
    uint8_t k[2048];
    k[0] = (uint8_t)ns;
    memcpy(k + 1, key, klen);
    size_t n;
    const void *v = gs_store_get(p, GS_NS_META, k, klen + 1, &n);
    if (!v) return false;
    *val = malloc(n ? n : 1);
    memcpy(*val, v, n);
    *vlen = n;
    return true;
}

typedef struct restore_ctx {
    gs_task_t *t;
    int incidents;
} restore_ctx_t;

static bool each_incident(void *ctx, const void *key, size_t klen, void *val, size_t vlen)
{
    restore_ctx_t *r = ctx;
    if (klen >= 1 && ((const uint8_t *)key)[0] == GS_NS_INCIDENT) {
        gs_task_restore_incident(r->t, val, vlen);
        r->incidents++;
    }
    return true;
}

/* The input, split in two at `cut`. */
static const gs_event_t *input(tk_ev_t *e, int i)
{
    switch (i) {
    case 0:
        return tk_report(e, "r1", 1, 20101, TK_CELL, TK_T0);
    case 1:
        return tk_case(e, "c1", GRIDSTREAM__V1__STAGE__FILED, 1, "r1", TK_CELL, TK_T0 + MIN,
                       TK_T0 + 2 * HOUR, NULL);
    case 2:
        return tk_report(e, "r2", 1, 20101, TK_CELL, TK_T0 + 30 * MIN); /* joins r1 */
    case 3:
        return tk_report(e, "r3", 1, 10101, TK_CELL2, TK_T0 + HOUR); /* new, CRITICAL */
    default:
        return tk_report(e, "r4", 1, 20102, TK_CELL, TK_T0 + 3 * HOUR); /* wm past deadline */
    }
}

static void test_restore_continues(void **state)
{
    (void)state;
    const int n = 5, cut = 2;

    /* reference: one task over all of the input */
    tk_harness_t ref;
    tk_harness_init(&ref);
    tk_only_source(&ref, GS_SRC_REPORTS);
    tk_ev_t e;
    for (int i = 0; i < n; i++)
        assert_int_equal(tk_apply(&ref, input(&e, i)), GS_OK);
    gs_task_finish(ref.task);
    tk_flush(&ref);

    /* task A: the first part, flushed and persisted */
    tk_harness_t a;
    tk_harness_init(&a);
    tk_only_source(&a, GS_SRC_REPORTS);
    for (int i = 0; i < cut; i++)
        assert_int_equal(tk_apply(&a, input(&e, i)), GS_OK);
    int64_t wm_a = gs_task_watermark(a.task);
    assert_int_equal(wm_a, TK_T0 - 5 * MIN);
    gs_store_t *persisted = gs_store_new();
    gs_store_flush(gs_task_store(a.task), persist, persisted);
    tk_harness_fini(&a);

    /* task B: restored from the persisted entries only */
    tk_capture_t cap;
    tk_parts_t parts;
    tk_capture_init(&cap);
    tk_parts_init(&parts);
    gs_sink_t sink = tk_capture_sink(&cap);
    gs_partial_sink_t psink = tk_parts_sink(&parts);
    gs_store_t *st = gs_store_new();
    gs_store_set_loader(st, load, persisted);
    gs_params_t p;
    gs_params_defaults(&p);
    gs_task_t *b = gs_task_new(0, &p, st, &sink, &psink);
    assert_non_null(b);
    assert_int_equal(gs_task_watermark(b), wm_a);
    restore_ctx_t rc = {b, 0};
    gs_store_scan(persisted, GS_NS_META, NULL, 0, each_incident, &rc);
    assert_int_equal(rc.incidents, 1);
    for (int i = 0; i < GS_SRC__COUNT; i++)
        if (i != GS_SRC_REPORTS) gs_task_set_idle(b, (gs_source_t)i, true);
    for (int i = cut; i < n; i++)
        assert_int_equal(gs_task_apply(b, input(&e, i)), GS_OK);
    gs_task_finish(b);
    assert_int_equal(gs_task_flush(b), GS_OK);

    /* the incident opened before the restart was joined after it and went overdue */
    const char *id1 = "440902001002003-20101-1709222400000-1-r1";
    const Gridstream__V1__Incident *inc = tk_incident(&cap, id1);
    assert_non_null(inc);
    assert_int_equal(inc->signal_count, 2);
    assert_int_equal(inc->deadline_ms, TK_T0 + 2 * HOUR);
    char overdue[128];
    snprintf(overdue, sizeof(overdue), "OVERDUE:%s", id1);
    assert_non_null(tk_alert(&cap, overdue));
    assert_int_equal(tk_count_alerts(&cap, GRIDSTREAM__V1__ALERT_KIND__OVERDUE), 1);

    /* every incident and alert equals the uninterrupted run's final value */
    assert_int_equal(tk_count_distinct(&ref.cap, GS_OUT_INCIDENTS), 3);
    for (size_t i = 0; i < tk_count(&ref.cap, GS_OUT_INCIDENTS); i++) {
        const tk_rec_t *r = tk_nth(&ref.cap, GS_OUT_INCIDENTS, i);
        const tk_rec_t *want = tk_last(&ref.cap, GS_OUT_INCIDENTS, r->key);
        const tk_rec_t *got = tk_last(&cap, GS_OUT_INCIDENTS, r->key);
        assert_non_null(got);
        assert_int_equal(got->vlen, want->vlen);
        assert_memory_equal(got->val, want->val, want->vlen);
    }
    for (size_t i = 0; i < tk_count(&ref.cap, GS_OUT_ALERTS); i++) {
        const tk_rec_t *r = tk_nth(&ref.cap, GS_OUT_ALERTS, i);
        assert_non_null(tk_last(&cap, GS_OUT_ALERTS, r->key));
    }
    /* restored counters: no incident handle was reused, so no id maps to two incidents */
    assert_int_equal(tk_count_distinct(&cap, GS_OUT_INCIDENTS), 3);

    gs_task_destroy(b);
    gs_store_destroy(persisted);
    tk_capture_fini(&cap);
    tk_parts_fini(&parts);
    tk_harness_fini(&ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restore_continues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
