/*
 * test_codes.c - unit tests of codes.c: cell validity and scopes (SPEC §1), problem codes, and the
 * Java-compatible murmur2 partitioner (SPEC §4). The murmur2 expectations are Kafka's own published
 * test vectors (clients UtilsTest.testMurmur2) plus the empty key, derived by hand below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codes.h"

static void test_cell_valid_edges(void **state)
{
    (void)state;
    assert_true(gs_cell_valid(UINT64_C(100000000000001)));
    assert_false(gs_cell_valid(UINT64_C(100000000000000)));  /* lower bound, but GGG = 000 */
    assert_true(gs_cell_valid(UINT64_C(999999999999999)));   /* upper bound */
    assert_false(gs_cell_valid(UINT64_C(1000000000000000))); /* 16 digits */
    assert_false(gs_cell_valid(UINT64_C(1000000000000001))); /* 16 digits, GGG != 000 */
    assert_false(gs_cell_valid(UINT64_C(99999999999999)));   /* 14 digits */
    assert_false(gs_cell_valid(UINT64_C(44090200100200)));   /* 14 digits */
    assert_false(gs_cell_valid(0));
    assert_false(gs_cell_valid(UINT64_MAX));
    assert_true(gs_cell_valid(UINT64_C(440902001002003)));
    assert_false(gs_cell_valid(UINT64_C(440902001002000))); /* GGG = 000 */
    assert_true(gs_cell_valid(UINT64_C(440902001002100)));  /* GGG = 100 */
    assert_true(gs_cell_valid(UINT64_C(440902000000001)));  /* SSS = CCC = 000 is fine */
}

static void test_cell_scopes(void **state)
{
    (void)state;
    const uint64_t cell = UINT64_C(440902001002003);
    assert_int_equal(gs_cell_scope(cell, GS_LEVEL_CELL), UINT64_C(440902001002003));
    assert_int_equal(gs_cell_scope(cell, GS_LEVEL_COMMUNITY), UINT64_C(440902001002));
    assert_int_equal(gs_cell_scope(cell, GS_LEVEL_STREET), UINT64_C(440902001));
    assert_int_equal(gs_cell_scope(cell, GS_LEVEL_DISTRICT), UINT64_C(440902));
    assert_int_equal(gs_cell_scope(cell, GS_LEVEL_CITY), UINT64_C(4409));
    assert_int_equal(gs_cell_scope(UINT64_C(999999999999999), GS_LEVEL_CITY), 9999);
    assert_int_equal(gs_cell_scope(UINT64_C(100000000000001), GS_LEVEL_DISTRICT), 100000);
    assert_int_equal(gs_cell_scope(cell, 0), 0);
    assert_int_equal(gs_cell_scope(cell, 6), 0);
}

static void test_problem_codes(void **state)
{
    (void)state;
    assert_true(gs_problem_valid(10101)); /* manhole cover */
    assert_true(gs_problem_valid(20401)); /* waterlogging */
    assert_true(gs_problem_valid(29999));
    assert_true(gs_problem_valid(19999));
    assert_true(gs_problem_valid(20506));
    assert_false(gs_problem_valid(30101)); /* kind 3 */
    assert_false(gs_problem_valid(101));   /* kind 0 */
    assert_false(gs_problem_valid(0));
    assert_false(gs_problem_valid(20001)); /* major 00 */
    assert_false(gs_problem_valid(20100)); /* minor 00 */
    assert_false(gs_problem_valid(10000));
    assert_false(gs_problem_valid(110101)); /* kind 11 */
    assert_false(gs_problem_valid(UINT32_MAX));
}

static void test_channel_active(void **state)
{
    (void)state;
    assert_false(gs_channel_active(0));
    for (int ch = 1; ch <= 6; ch++)
        assert_true(gs_channel_active(ch));
    for (int ch = 7; ch <= 9; ch++)
        assert_false(gs_channel_active(ch));
}

static int32_t mm2s(const char *s)
{
    return gs_murmur2(s, strlen(s));
}

/* Kafka clients UtilsTest.testMurmur2 vectors: one per tail length 0..3 and multi-block keys. */
static void test_murmur2_kafka_vectors(void **state)
{
    (void)state;
    assert_int_equal(mm2s("21"), -973932308);
    assert_int_equal(mm2s("foobar"), -790332482);
    assert_int_equal(mm2s("a-little-bit-long-string"), -985981536);
    assert_int_equal(mm2s("a-little-bit-longer-string"), -1486304829);
    assert_int_equal(mm2s("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
    assert_int_equal(mm2s("abc"), 479470107);
}

/*
 * Empty key: no 4-byte blocks, no tail, so only the seed mixing and the final avalanche run:
 *   h = 0x9747b28c ^ 0                                       = 0x9747b28c
 *   h ^= h >>> 13   (0x9747b28c >>> 13 = 0x0004ba3d)           = 0x974308b1
 *   h *= 0x5bd1e995 (0x974308b1 * 0x5bd1e995 = 0x3640dbd5_106e2805, low 32 bits)
 *                                                             = 0x106e2805
 *   h ^= h >>> 15   (0x106e2805 >>> 15 = 0x000020dc)           = 0x106e08d9 = 275646681
 */
static void test_murmur2_empty(void **state)
{
    (void)state;
    assert_int_equal(gs_murmur2("", 0), 275646681);
    assert_int_equal(gs_murmur2(NULL, 0), 275646681);
    assert_int_equal(gs_partition_for_key("", 0, 1000), 275646681 % 1000);
}

/* Only the bytes count, not the pointer or alignment. */
static void test_murmur2_unaligned(void **state)
{
    (void)state;
    char buf[64];
    const char *s = "a-little-bit-longer-string";
    for (size_t off = 0; off < 8; off++) {
        memcpy(buf + off, s, strlen(s));
        assert_int_equal(gs_murmur2(buf + off, strlen(s)), -1486304829);
    }
}

/* High bytes (>= 0x80) are used unsigned, as Java's `& 0xff`: changing one must change the hash. */
static void test_murmur2_high_bytes(void **state)
{
    (void)state;
    const uint8_t a[5] = {0xff, 0x80, 0x01, 0x7f, 0xfe};
    uint8_t b[5];
    memcpy(b, a, sizeof(a));
    int32_t h = gs_murmur2(a, sizeof(a));
    for (size_t i = 0; i < sizeof(b); i++) {
        b[i] ^= 0x80;
        assert_int_not_equal(gs_murmur2(b, sizeof(b)), h);
        b[i] ^= 0x80;
    }
    assert_int_equal(gs_murmur2(b, sizeof(b)), h);
}

/* partition = (murmur2 & 0x7fffffff) % n, i.e. Kafka's toPositive(), not abs(). */
static void test_partition_relation(void **state)
{
    (void)state;
    /* -973932308 & 0x7fffffff = 2147483648 - 973932308 = 1173551340 */
    assert_int_equal(gs_partition_for_key("21", 2, 1), 0);
    assert_int_equal(gs_partition_for_key("21", 2, 7), 1173551340u % 7u);
    assert_int_equal(1173551340u % 7u, 3);
    assert_int_equal(gs_partition_for_key("21", 2, 1000), 340);
    /* 479470107 is positive: unchanged by the mask */
    assert_int_equal(gs_partition_for_key("abc", 3, 1000), 107);
    /* -790332482 & 0x7fffffff = 1357151166 */
    assert_int_equal(gs_partition_for_key("foobar", 6, 1000), 166);
    assert_int_equal(gs_partition_for_key("foobar", 6, 0), 0);

    const char *keys[] = {"440902001002003", "440902001002004", "440903001001001", "21", ""};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t len = strlen(keys[i]);
        uint32_t pos = (uint32_t)gs_murmur2(keys[i], len) & 0x7fffffffu;
        for (uint32_t n = 1; n <= 64; n++) {
            uint32_t p = gs_partition_for_key(keys[i], len, n);
            assert_true(p < n);
            assert_int_equal(p, pos % n);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cell_valid_edges),      cmocka_unit_test(test_cell_scopes),
        cmocka_unit_test(test_problem_codes),         cmocka_unit_test(test_channel_active),
        cmocka_unit_test(test_murmur2_kafka_vectors), cmocka_unit_test(test_murmur2_empty),
        cmocka_unit_test(test_murmur2_unaligned),     cmocka_unit_test(test_murmur2_high_bytes),
        cmocka_unit_test(test_partition_relation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
