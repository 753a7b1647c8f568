/*
 * test_changelog.c - the changelog read-back rule (engine/changelog.h): complete groups applied,
 * redone attempts and cut-short commits dropped, an aborted attempt dropped by the writer's limit,
 * groups whose marker compaction removed applied, and the checkpoint (offset, seq, positions) that
 * matches what was applied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "changelog.h"

typedef struct log {
    gs_statedb_batch_t *b;
    gs_clog_reader_t *r;
    int64_t off;
} log_t;

static void open_log(log_t *l)
{
    gs_checkpoint_t start = {.changelog_offset = -1, .seq = 0, .positions = {-1, -1, -1, -1}};
    l->b = gs_statedb_batch_new();
    l->r = gs_clog_reader_new(l->b, 7, &start);
    l->off = 0;
    assert_non_null(l->b);
    assert_non_null(l->r);
}

static void close_log(log_t *l)
{
    gs_clog_reader_destroy(l->r);
    gs_statedb_batch_destroy(l->b);
}

static void entry(log_t *l, int64_t seq, uint64_t nonce, const char *key, const char *val)
{
    uint8_t k[64], h[GS_CLOG_HEADER_LEN];
    size_t kl = gs_clog_key(k, GS_NS_DEDUP, key, strlen(key));
    gs_clog_header(h, seq, nonce);
    assert_int_equal(
        gs_clog_reader_add(l->r, l->off++, k, kl, val, val ? strlen(val) : 0, h, sizeof(h)), GS_OK);
}

static void marker(log_t *l, int64_t seq, uint64_t nonce, int64_t pos0)
{
    uint8_t v[GS_CLOG_MARKER_MAX], h[GS_CLOG_HEADER_LEN];
    int64_t pos[4] = {pos0, pos0 + 1, pos0 + 2, pos0 + 3};
    size_t vl = gs_clog_marker(v, seq, nonce, pos, 4);
    gs_clog_header(h, seq, nonce);
    assert_int_equal(gs_clog_reader_add(l->r, l->off++, GS_CLOG_MARKER_KEY, GS_CLOG_MARKER_KEY_LEN,
                                        v, vl, h, sizeof(h)),
                     GS_OK);
}

static void expect(log_t *l, size_t applied_entries, int64_t offset, int64_t seq, int64_t pos0,
                   uint64_t dropped)
{
    gs_clog_reader_end(l->r);
    const gs_checkpoint_t *cp = gs_clog_reader_checkpoint(l->r);
    assert_int_equal(gs_statedb_batch_count(l->b), applied_entries);
    assert_int_equal(cp->changelog_offset, offset);
    assert_int_equal(cp->seq, seq);
    assert_int_equal(cp->positions[0], pos0);
    assert_int_equal(cp->positions[3], pos0 < 0 ? -1 : pos0 + 3);
    uint64_t nr, na, nd;
    gs_clog_reader_counts(l->r, &nr, &na, &nd);
    assert_int_equal(na, applied_entries);
    assert_int_equal(nd, dropped);
}

static void test_complete_groups(void **state)
{
    (void)state;
    log_t l;
    open_log(&l);
    entry(&l, 1, 0xa, "a", "1");
    entry(&l, 1, 0xa, "b", NULL); /* a delete is an entry too */
    marker(&l, 1, 0xa, 100);
    entry(&l, 2, 0xa, "a", "2");
    marker(&l, 2, 0xa, 200);
    expect(&l, 3, 5, 2, 200, 0);
    close_log(&l);
}

static void test_redone_attempt_dropped(void **state)
{
    (void)state;
    log_t l;
    open_log(&l);
    entry(&l, 1, 0xa, "a", "1");
    marker(&l, 1, 0xa, 100);
    /* attempt 2 by one incarnation (complete, but its transaction did not commit) ... */
    entry(&l, 2, 0xa, "a", "bad");
    entry(&l, 2, 0xa, "c", "bad");
    marker(&l, 2, 0xa, 300);
    /* ... redone from commit 1 by the next incarnation */
    entry(&l, 2, 0xb, "a", "2");
    marker(&l, 2, 0xb, 250);
    expect(&l, 2, 7, 2, 250, 3);
    close_log(&l);
}

static void test_limit_drops_aborted_attempt(void **state)
{
    (void)state;
    log_t l;
    open_log(&l);
    entry(&l, 1, 0xa, "a", "1");
    marker(&l, 1, 0xa, 100);
    /* attempt 2, complete and readable (no transaction markers), but aborted: the writer that
     * rewinds knows it committed up to 1 */
    entry(&l, 2, 0xa, "a", "bad");
    marker(&l, 2, 0xa, 300);
    gs_clog_reader_limit(l.r, 1);
    expect(&l, 1, 2, 1, 100, 2);
    close_log(&l);
}

static void test_cut_short_commit_dropped(void **state)
{
    (void)state;
    log_t l;
    open_log(&l);
    entry(&l, 1, 0xa, "a", "1");
    marker(&l, 1, 0xa, 100);
    entry(&l, 2, 0xa, "a", "2"); /* no marker: the process died mid-commit */
    entry(&l, 2, 0xa, "b", "2");
    expect(&l, 1, 2, 1, 100, 2);
    close_log(&l);
}

static void test_compacted_marker(void **state)
{
    (void)state;
    log_t l;
    open_log(&l);
    entry(&l, 1, 0xa, "a", "1"); /* commit 1's marker was compacted away */
    entry(&l, 3, 0xa, "b", "3");
    marker(&l, 3, 0xa, 300);
    expect(&l, 2, 3, 3, 300, 0);
    close_log(&l);
}

static void test_foreign_records_skipped(void **state)
{
    (void)state;
    log_t l;
    open_log(&l);
    assert_int_equal(gs_clog_reader_add(l.r, l.off++, "\x01x", 2, "v", 1, NULL, 0), GS_OK);
    expect(&l, 0, -1, 0, -1, 1);
    close_log(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_groups),
        cmocka_unit_test(test_redone_attempt_dropped),
        cmocka_unit_test(test_limit_drops_aborted_attempt),
        cmocka_unit_test(test_cut_short_commit_dropped),
        cmocka_unit_test(test_compacted_marker),
        cmocka_unit_test(test_foreign_records_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
