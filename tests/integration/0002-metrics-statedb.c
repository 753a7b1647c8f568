/*
 * 0002-metrics-statedb: RocksDB memory as the metrics scrape reads it. gs_statedb_memory() on a
 * real database in a temporary directory: memtables grow with committed entries, the block cache
 * fills when entries are read back after a reopen (flushed to SST files); through
 * gs_metrics_watch_memory() the scrape shows the same numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "statedb.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/gs-metrics-statedb-XXXXXX");
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

static gs_err_t memory(void *ctx, size_t *block_cache, size_t *memtables)
{
    return gs_statedb_memory(ctx, block_cache, memtables);
}

static void commit_entries(gs_statedb_t *db, int n)
{
    char err[512];
    gs_statedb_batch_t *b = gs_statedb_batch_new();
    char val[200];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < n; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "key-%06d", i);
        gs_statedb_batch_put(b, 0, GS_NS_META, key, (size_t)kl, val, sizeof(val));
    }
    gs_checkpoint_t cp = {.changelog_offset = n, .positions = {-1, -1, -1, -1}};
    assert_int_equal(gs_statedb_commit(db, b, 0, &cp, true, err, sizeof(err)), GS_OK);
    gs_statedb_batch_destroy(b);
}

static bool count(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    ++*(int *)ctx;
    return true;
}

static void test_memory_through_scrape(void **state)
{
    (void)state;
    char err[512];
    gs_statedb_t *db = gs_statedb_open(dir, 32u << 20, err, sizeof(err));
    assert_non_null(db);
    size_t bc0 = 0, mt0 = 0, bc = 0, mt = 0;
    assert_int_equal(gs_statedb_memory(db, &bc0, &mt0), GS_OK);
    commit_entries(db, 5000);
    assert_int_equal(gs_statedb_memory(db, &bc, &mt), GS_OK);
    assert_true(mt >= mt0 + 5000 * 200); /* the values alone */

    gs_metrics_t *m = gs_metrics_new_engine(1);
    gs_metrics_watch_memory(m, memory, db);
    char *text = gs_metrics_render(m, NULL);
    char line[128];
    size_t bc2 = 0, mt2 = 0;
    assert_int_equal(gs_statedb_memory(db, &bc2, &mt2), GS_OK);
    snprintf(line, sizeof(line), "\ngridstream_rocksdb_memtable_bytes %zu\n", mt2);
    if (!strstr(text, line)) fail_msg("missing %s in\n%s", line, text);
    free(text);
    gs_metrics_destroy(m);
    gs_statedb_close(db);

    /* reopened: memtables are empty (the WAL replay flushes them), reads fill the block cache */
    db = gs_statedb_open(dir, 32u << 20, err, sizeof(err));
    assert_non_null(db);
    int n = 0;
    assert_int_equal(gs_statedb_scan(db, 0, GS_NS_META, count, &n), GS_OK);
    assert_int_equal(n, 5000);
    assert_int_equal(gs_statedb_memory(db, &bc, &mt), GS_OK);
    assert_true(bc > 0);
    gs_statedb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memory_through_scrape, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
