/*
 * 0004-restore-writer: a changelog read back the way restore does it (engine/run.c
 * restore_changelog), in a real RocksDB: the read-back rule of changelog.h fills a batch, every
 * time it holds enough entries the batch goes to the writer thread of statedb.h with the
 * checkpoint of that prefix, and the reader goes on in a second batch. Checked:
 *   - after each prefix is written, the state in RocksDB and its checkpoint are exactly what a
 *     reader of only the records before that checkpoint gives (redone attempts dropped, later
 *     groups overwriting and deleting earlier entries in order);
 *   - the final state and checkpoint equal those of one reader into one batch, with the trailing
 *     cut-short commit dropped, and with a rewind limit;
 *   - destroying the writer with a batch in flight writes it first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "changelog.h"
#include "statedb.h"

/* ---- a synthetic changelog ---------------------------------------------------------------------
 */

typedef struct rec {
    int64_t seq;
    uint64_t nonce;
    bool marker, del;
    char key[16], val[24];
} rec_t;

#define MAX_RECS 1024
#define GROUPS 40

static rec_t recs[MAX_RECS];
static int nrecs;

static void add_entry(int64_t seq, uint64_t nonce, int k, const char *val)
{
    assert_true(nrecs < MAX_RECS);
    rec_t *r = &recs[nrecs++];
    *r = (rec_t){.seq = seq, .nonce = nonce, .del = val == NULL};
    snprintf(r->key, sizeof(r->key), "k%02d", k);
    if (val) snprintf(r->val, sizeof(r->val), "%s", val);
}

static void add_marker(int64_t seq, uint64_t nonce)
{
    assert_true(nrecs < MAX_RECS);
    recs[nrecs++] = (rec_t){.seq = seq, .nonce = nonce, .marker = true};
}

/*
 * Commits 1..GROUPS of 1 to 6 entries over 23 keys (overwrites and deletes of earlier commits),
 * each closed by its marker; every seventh commit is first attempted by an incarnation that died
 * before its marker and then redone by the next (another nonce); then a commit cut short.
 */
static void make_log(void)
{
    nrecs = 0;
    uint64_t nonce = 1;
    char v[24];
    for (int g = 1; g <= GROUPS; g++) {
        int n = 1 + (g * 5) % 6;
        if (g % 7 == 3) {
            for (int i = 0; i < n; i++) {
                snprintf(v, sizeof(v), "aborted%d-%d", g, i);
                add_entry(g, nonce, (g * 3 + i) % 23, v);
            }
            nonce++;
        }
        for (int i = 0; i < n; i++) {
            snprintf(v, sizeof(v), "v%d-%d", g, i);
            add_entry(g, nonce, (g * 3 + i) % 23, (g + i) % 9 == 0 ? NULL : v);
        }
        add_marker(g, nonce);
    }
    for (int i = 0; i < 3; i++)
        add_entry(GROUPS + 1, nonce, i, "cut-short");
}

static void feed(gs_clog_reader_t *rd, int i)
{
    const rec_t *r = &recs[i];
    uint8_t k[32], h[GS_CLOG_HEADER_LEN], m[GS_CLOG_MARKER_MAX];
    gs_clog_header(h, r->seq, r->nonce);
    gs_err_t e;
    if (r->marker) {
        int64_t pos[4] = {r->seq * 10, r->seq * 10 + 1, r->seq * 10 + 2, r->seq * 10 + 3};
        size_t ml = gs_clog_marker(m, r->seq, r->nonce, pos, 4);
        e = gs_clog_reader_add(rd, i, GS_CLOG_MARKER_KEY, GS_CLOG_MARKER_KEY_LEN, m, ml, h,
                               sizeof(h));
    } else {
        size_t kl = gs_clog_key(k, GS_NS_DEDUP, r->key, strlen(r->key));
        e = gs_clog_reader_add(rd, i, k, kl, r->del ? NULL : r->val, r->del ? 0 : strlen(r->val), h,
                               sizeof(h));
    }
    assert_int_equal(e, GS_OK);
}

/* ---- RocksDB side ------------------------------------------------------------------------------
 */

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/gs-restore-writer-XXXXXX");
    assert_non_null(mkdtemp(dir));
    make_log();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(gs_statedb_remove_dir(dir), 0);
    return 0;
}

static const gs_checkpoint_t none = {
    .changelog_offset = -1, .seq = 0, .positions = {-1, -1, -1, -1}};

typedef struct dump {
    char s[4096];
    size_t len;
    int n;
} dump_t;

static bool dump_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    dump_t *d = ctx;
    int w = snprintf(d->s + d->len, sizeof(d->s) - d->len, "%.*s=%.*s;", (int)klen,
                     (const char *)key, (int)vlen, (const char *)val);
    assert_true(w > 0 && (size_t)w < sizeof(d->s) - d->len);
    d->len += (size_t)w;
    d->n++;
    return true;
}

static bool count_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    (*(int *)ctx)++;
    return true;
}

static void dump_task(gs_statedb_t *db, uint32_t task, dump_t *d)
{
    memset(d, 0, sizeof(*d));
    assert_int_equal(gs_statedb_scan(db, task, GS_NS_DEDUP, dump_one, d), GS_OK);
}

static void assert_cp_equal(const gs_checkpoint_t *a, const gs_checkpoint_t *b)
{
    assert_int_equal(a->changelog_offset, b->changelog_offset);
    assert_int_equal(a->seq, b->seq);
    for (int i = 0; i < GS_CHECKPOINT_POSITIONS; i++)
        assert_int_equal(a->positions[i], b->positions[i]);
}

/*
 * The reference: records [0, end) through one reader into one batch, the end of the log, one
 * commit to `task` (replacing what it held). Returns the checkpoint written.
 */
static gs_checkpoint_t reference(gs_statedb_t *db, uint32_t task, int end, int64_t limit)
{
    char err[512];
    assert_int_equal(gs_statedb_drop_task(db, task, err, sizeof(err)), GS_OK);
    gs_statedb_batch_t *b = gs_statedb_batch_new();
    gs_clog_reader_t *rd = gs_clog_reader_new(b, task, &none);
    assert_non_null(rd);
    if (limit >= 0) gs_clog_reader_limit(rd, limit);
    for (int i = 0; i < end; i++)
        feed(rd, i);
    gs_clog_reader_end(rd);
    gs_checkpoint_t cp = *gs_clog_reader_checkpoint(rd);
    assert_int_equal(gs_statedb_commit(db, b, task, &cp, true, err, sizeof(err)), GS_OK);
    gs_clog_reader_destroy(rd);
    gs_statedb_batch_destroy(b);
    return cp;
}

/*
 * Restore of task 1 as restore_changelog does it, prefixes of `bound` entries or more. With
 * `check`, waits for each prefix and compares RocksDB with the reference of its records (task 3).
 * Returns the number of prefixes handed to the writer.
 */
static int restore(gs_statedb_t *db, size_t bound, int64_t limit, bool check,
                   gs_checkpoint_t *final)
{
    char err[512];
    gs_statedb_batch_t *b[2] = {gs_statedb_batch_new(), gs_statedb_batch_new()};
    int cur = 0, prefixes = 0;
    gs_clog_reader_t *rd = gs_clog_reader_new(b[cur], 1, &none);
    gs_statedb_writer_t *w = gs_statedb_writer_new(db, err, sizeof(err));
    assert_non_null(w);
    if (limit >= 0) gs_clog_reader_limit(rd, limit);
    for (int i = 0; i < nrecs; i++) {
        feed(rd, i);
        if (gs_statedb_batch_count(b[cur]) < bound) continue;
        gs_checkpoint_t cp = *gs_clog_reader_checkpoint(rd);
        /* as restore does: the other batch back before going on in it */
        assert_int_equal(gs_statedb_writer_wait(w, err, sizeof(err)), GS_OK);
        assert_int_equal(gs_statedb_writer_submit(w, b[cur], 1, gs_clog_reader_checkpoint(rd), true,
                                                  err, sizeof(err)),
                         GS_OK);
        prefixes++;
        cur ^= 1;
        assert_int_equal(gs_statedb_batch_count(b[cur]), 0); /* written and cleared, or new */
        gs_clog_reader_set_out(rd, b[cur]);
        if (!check) continue;
        assert_int_equal(gs_statedb_writer_wait(w, err, sizeof(err)), GS_OK);
        gs_checkpoint_t got, want = reference(db, 3, (int)cp.changelog_offset, limit);
        assert_int_equal(gs_statedb_checkpoint(db, 1, &got, err, sizeof(err)), GS_OK);
        assert_cp_equal(&got, &cp);
        assert_cp_equal(&got, &want);
        dump_t d1, d3;
        dump_task(db, 1, &d1);
        dump_task(db, 3, &d3);
        assert_string_equal(d1.s, d3.s);
    }
    /* the end: every prefix written, then the last batch with the final checkpoint (WAL on) */
    assert_int_equal(gs_statedb_writer_wait(w, err, sizeof(err)), GS_OK);
    gs_clog_reader_end(rd);
    *final = *gs_clog_reader_checkpoint(rd);
    assert_int_equal(gs_statedb_commit(db, b[cur], 1, final, true, err, sizeof(err)), GS_OK);
    gs_statedb_writer_destroy(w);
    gs_clog_reader_destroy(rd);
    gs_statedb_batch_destroy(b[0]);
    gs_statedb_batch_destroy(b[1]);
    return prefixes;
}

static void test_prefixes_and_checkpoints(void **state)
{
    (void)state;
    char err[512];
    gs_statedb_t *db = gs_statedb_open(dir, 32u << 20, err, sizeof(err));
    assert_non_null(db);
    const size_t bounds[] = {1, 5, 7, 16};
    for (size_t k = 0; k < sizeof(bounds) / sizeof(bounds[0]); k++) {
        assert_int_equal(gs_statedb_drop_task(db, 1, err, sizeof(err)), GS_OK);
        gs_checkpoint_t fin, cp;
        int prefixes = restore(db, bounds[k], -1, true, &fin);
        assert_true(prefixes >= 3);
        gs_checkpoint_t want = reference(db, 2, nrecs, -1);
        assert_cp_equal(&fin, &want);
        /* the last complete commit, its marker the record before the cut-short one */
        assert_int_equal(fin.seq, GROUPS);
        assert_int_equal(fin.changelog_offset, nrecs - 3);
        assert_int_equal(fin.positions[0], GROUPS * 10);
        assert_int_equal(gs_statedb_checkpoint(db, 1, &cp, err, sizeof(err)), GS_OK);
        assert_cp_equal(&cp, &want);
        dump_t d1, d2;
        dump_task(db, 1, &d1);
        dump_task(db, 2, &d2);
        assert_true(d1.n > 0);
        assert_string_equal(d1.s, d2.s);
        assert_null(strstr(d1.s, "aborted"));
        assert_null(strstr(d1.s, "cut-short"));
    }
    gs_statedb_close(db);
}

static void test_rewind_limit_full_speed(void **state)
{
    (void)state;
    char err[512];
    gs_statedb_t *db = gs_statedb_open(dir, 32u << 20, err, sizeof(err));
    assert_non_null(db);
    /* a rewind to commit 30: what follows it is dropped, in whichever batch it lands */
    gs_checkpoint_t fin;
    assert_true(restore(db, 4, 30, false, &fin) >= 3);
    gs_checkpoint_t want = reference(db, 2, nrecs, 30);
    assert_int_equal(want.seq, 30);
    assert_cp_equal(&fin, &want);
    dump_t d1, d2;
    dump_task(db, 1, &d1);
    dump_task(db, 2, &d2);
    assert_string_equal(d1.s, d2.s);
    gs_statedb_close(db);
}

static void test_destroy_writes_in_flight(void **state)
{
    (void)state;
    char err[512];
    gs_statedb_t *db = gs_statedb_open(dir, 32u << 20, err, sizeof(err));
    assert_non_null(db);
    gs_statedb_writer_t *w = gs_statedb_writer_new(db, err, sizeof(err));
    assert_non_null(w);
    gs_statedb_batch_t *b = gs_statedb_batch_new();
    char k[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "k%04d", i);
        gs_statedb_batch_put(b, 5, GS_NS_DEDUP, k, strlen(k), "v", 1);
    }
    gs_checkpoint_t cp = {.changelog_offset = 1000, .seq = 4, .positions = {1, 2, 3, 4}}, got;
    assert_int_equal(gs_statedb_writer_submit(w, b, 5, &cp, true, err, sizeof(err)), GS_OK);
    gs_statedb_writer_destroy(w);
    assert_int_equal(gs_statedb_batch_count(b), 0);
    int n = 0;
    assert_int_equal(gs_statedb_scan(db, 5, GS_NS_DEDUP, count_one, &n), GS_OK);
    assert_int_equal(n, 1000);
    assert_int_equal(gs_statedb_checkpoint(db, 5, &got, err, sizeof(err)), GS_OK);
    assert_cp_equal(&got, &cp);
    gs_statedb_writer_destroy(NULL);
    gs_statedb_batch_destroy(b);
    gs_statedb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prefixes_and_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewind_limit_full_speed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_writes_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
