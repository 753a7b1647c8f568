/*
 * 0001-statedb: task state persisted in a real RocksDB in a temporary directory. A task's store
 * is staged (changelog callback sees every persisted entry), committed with its checkpoint,
 * closed, reopened and read back through the store's miss loader; deletes persist as deletes;
 * transient namespaces are never written; dropping a task removes its key range only; a batch
 * rebuilt from changelog records (restore) gives the same state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "statedb.h"
#include "store.h"

typedef struct cl_rec {
    uint32_t task;
    gs_ns_t ns;
    char key[32], val[32];
    bool del;
} cl_rec_t;

typedef struct cl {
    cl_rec_t r[64];
    int n;
} cl_t;

static void changelog(void *ctx, uint32_t task, gs_ns_t ns, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    cl_t *c = ctx;
    assert_true(c->n < 64);
    cl_rec_t *r = &c->r[c->n++];
    memset(r, 0, sizeof(*r));
    r->task = task;
    r->ns = ns;
    memcpy(r->key, key, klen < 31 ? klen : 31);
    r->del = val == NULL;
    if (val) memcpy(r->val, val, vlen < 31 ? vlen : 31);
}

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/gs-statedb-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void put(gs_store_t *s, gs_ns_t ns, const char *k, const char *v)
{
    assert_non_null(gs_store_put(s, ns, k, strlen(k), v, strlen(v) + 1));
}

static const char *get(gs_store_t *s, gs_ns_t ns, const char *k)
{
    return gs_store_get(s, ns, k, strlen(k), NULL);
}

static void test_commit_reopen_load(void **state)
{
    (void)state;
    char err[512];
    gs_statedb_t *db = gs_statedb_open(dir, 32u << 20, err, sizeof(err));
    assert_non_null(db);
    gs_checkpoint_t cp;
    assert_int_equal(gs_statedb_checkpoint(db, 3, &cp, err, sizeof(err)), GS_OK);
    assert_int_equal(cp.changelog_offset, -1);
    assert_int_equal(cp.seq, 0);
    assert_int_equal(cp.positions[0], -1);
    assert_int_equal(cp.positions[3], -1);

    gs_store_t *s = gs_store_new();
    put(s, GS_NS_DEDUP, "id-1", "t0");
    put(s, GS_NS_INCIDENT, "inc-1", "open");
    put(s, GS_NS_KPI_BUCKET, "bucket", "transient");
    put(s, GS_NS_DEDUP, "gone", "x");
    assert_true(gs_store_del(s, GS_NS_DEDUP, "gone", 4));
    cl_t cl = {0};
    gs_statedb_batch_t *b = gs_statedb_batch_new();
    gs_statedb_stage(b, 3, s, changelog, &cl);
    /* id-1, inc-1, and the tombstone of "gone"; the KPI bucket is never persisted */
    assert_int_equal(gs_statedb_batch_count(b), 3);
    assert_int_equal(cl.n, 3);
    int dels = 0;
    for (int i = 0; i < cl.n; i++) {
        assert_int_equal(cl.r[i].task, 3);
        assert_int_not_equal(cl.r[i].ns, GS_NS_KPI_BUCKET);
        dels += cl.r[i].del;
    }
    assert_int_equal(dels, 1);
    cp.changelog_offset = 42;
    cp.seq = 9;
    for (int i = 0; i < GS_CHECKPOINT_POSITIONS; i++)
        cp.positions[i] = 1000 + i;
    assert_int_equal(gs_statedb_commit(db, b, 3, &cp, true, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_statedb_batch_count(b), 0);
    gs_store_destroy(s);
    gs_statedb_close(db);

    db = gs_statedb_open(dir, 32u << 20, err, sizeof(err));
    assert_non_null(db);
    assert_int_equal(gs_statedb_checkpoint(db, 3, &cp, err, sizeof(err)), GS_OK);
    assert_int_equal(cp.changelog_offset, 42);
    assert_int_equal(cp.seq, 9);
    for (int i = 0; i < GS_CHECKPOINT_POSITIONS; i++)
        assert_int_equal(cp.positions[i], 1000 + i);
    s = gs_store_new();
    gs_statedb_attach(db, 3, s);
    assert_string_equal(get(s, GS_NS_DEDUP, "id-1"), "t0");
    assert_string_equal(get(s, GS_NS_INCIDENT, "inc-1"), "open");
    assert_null(get(s, GS_NS_KPI_BUCKET, "bucket"));
    assert_null(get(s, GS_NS_DEDUP, "gone"));
    assert_null(get(s, GS_NS_INCIDENT, "id-1")); /* namespaces are separate */
    /* loaded entries are clean: nothing to stage */
    cl.n = 0;
    gs_statedb_stage(b, 3, s, changelog, &cl);
    assert_int_equal(cl.n, 0);
    gs_store_destroy(s);

    /* another task does not see task 3's state */
    s = gs_store_new();
    gs_statedb_attach(db, 4, s);
    assert_null(get(s, GS_NS_DEDUP, "id-1"));
    gs_store_destroy(s);
    gs_statedb_batch_destroy(b);
    gs_statedb_close(db);
}

static bool count_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    (*(int *)ctx)++;
    return true;
}

static void test_drop_task_and_restore(void **state)
{
    (void)state;
    char err[512];
    gs_statedb_t *db = gs_statedb_open(dir, 32u << 20, err, sizeof(err));
    assert_non_null(db);
    gs_statedb_batch_t *b = gs_statedb_batch_new();
    gs_checkpoint_t cp = {.changelog_offset = 7, .seq = 1, .positions = {-1, -1, -1, -1}};
    /* restore-style writes: records as read back from a changelog, WAL off */
    for (uint32_t task = 0; task < 3; task++) {
        char k[16];
        for (int i = 0; i < 10; i++) {
            snprintf(k, sizeof(k), "k%02d", i);
            gs_statedb_batch_put(b, task, GS_NS_REF, k, strlen(k), "v", 2);
        }
        gs_statedb_batch_put(b, task, GS_NS_REF, "k03", 3, NULL, 0); /* a later delete */
        assert_int_equal(gs_statedb_commit(db, b, task, &cp, false, err, sizeof(err)), GS_OK);
    }
    int n[3] = {0, 0, 0};
    for (uint32_t task = 0; task < 3; task++)
        assert_int_equal(gs_statedb_scan(db, task, GS_NS_REF, count_one, &n[task]), GS_OK);
    assert_int_equal(n[0], 9);
    assert_int_equal(n[1], 9);
    assert_int_equal(n[2], 9);

    assert_int_equal(gs_statedb_drop_task(db, 1, err, sizeof(err)), GS_OK);
    n[0] = n[1] = n[2] = 0;
    for (uint32_t task = 0; task < 3; task++)
        assert_int_equal(gs_statedb_scan(db, task, GS_NS_REF, count_one, &n[task]), GS_OK);
    assert_int_equal(n[0], 9);
    assert_int_equal(n[1], 0);
    assert_int_equal(n[2], 9);
    assert_int_equal(gs_statedb_checkpoint(db, 1, &cp, err, sizeof(err)), GS_OK);
    assert_int_equal(cp.changelog_offset, -1);
    assert_int_equal(gs_statedb_checkpoint(db, 2, &cp, err, sizeof(err)), GS_OK);
    assert_int_equal(cp.changelog_offset, 7);
    gs_statedb_batch_destroy(b);
    gs_statedb_close(db);
}

static void test_open_failure_names_dir(void **state)
{
    (void)state;
    char err[512] = "";
    gs_statedb_t *db =
        gs_statedb_open("/proc/gridstream-cannot-be-here", 32u << 20, err, sizeof(err));
    assert_null(db);
    assert_non_null(strstr(err, "/proc/gridstream-cannot-be-here"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_reopen_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_task_and_restore, setup, teardown),
        cmocka_unit_test(test_open_failure_names_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
