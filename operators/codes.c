/*
 * codes.c - the codes of SPEC §1 and the partitioner of SPEC §4.
 *
 * Grid cells are 15-digit decimal numbers whose scopes (community, street, district, city) are
 * their decimal prefixes, so every scope is a division. Problem codes are K·10000 + MM·100 + NN.
 * The partitioner must place a key exactly where the Kafka Java client's default partitioner (and
 * librdkafka's murmur2_random) puts it, because producers we did not write choose the partition and
 * we reject records that sit elsewhere (wrong_partition): gs_murmur2 reproduces Java's
 * Utils.murmur2 bit for bit, including its tail-byte switch fallthrough, using uint32_t so that
 * Java's wrapping int arithmetic is well-defined C.
 */
#include "codes.h"

#define GS_MURMUR2_SEED UINT32_C(0x9747b28c)
#define GS_MURMUR2_M UINT32_C(0x5bd1e995)
#define GS_MURMUR2_R 24

bool gs_cell_valid(uint64_t cell)
{
    return cell >= GS_CELL_MIN && cell <= GS_CELL_MAX && cell % 1000 != 0;
}

uint64_t gs_cell_scope(uint64_t cell, int level)
{
    switch (level) {
    case GS_LEVEL_CELL:
        return cell;
    case GS_LEVEL_COMMUNITY:
        return cell / UINT64_C(1000);
    case GS_LEVEL_STREET:
        return cell / UINT64_C(1000000);
    case GS_LEVEL_DISTRICT:
        return cell / UINT64_C(1000000000);
    case GS_LEVEL_CITY:
        return cell / UINT64_C(100000000000);
    default:
        return 0;
    }
}

bool gs_problem_valid(uint32_t code)
{
    uint32_t kind = code / 10000;
    uint32_t major = code / 100 % 100;
    uint32_t minor = code % 100;

    return (kind == 1 || kind == 2) && major >= 1 && minor >= 1;
}

/* Java's (int) view of a 32-bit pattern, without relying on implementation-defined conversion. */
static int32_t gs_codes_to_int32(uint32_t u)
{
    if (u <= (uint32_t)INT32_MAX) return (int32_t)u;
    return -(int32_t)(~u) - 1;
}

int32_t gs_murmur2(const void *key, size_t len)
{
    const uint8_t *data = key;
    uint32_t length = (uint32_t)len; /* Java: int length = data.length */
    uint32_t h = GS_MURMUR2_SEED ^ length;
    size_t length4 = len / 4;

    for (size_t i = 0; i < length4; i++) {
        const uint8_t *p = data + i * 4;
        uint32_t k =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= GS_MURMUR2_M;
        k ^= k >> GS_MURMUR2_R;
        k *= GS_MURMUR2_M;
        h *= GS_MURMUR2_M;
        h ^= k;
    }

    size_t t0 = len & ~(size_t)3; /* Java: length & ~3 */
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)data[t0 + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)data[t0 + 1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)data[t0];
        h *= GS_MURMUR2_M;
        break;
    default:
        break;
    }

    h ^= h >> 13;
    h *= GS_MURMUR2_M;
    h ^= h >> 15;
    return gs_codes_to_int32(h);
}

uint32_t gs_partition_for_key(const void *key, size_t len, uint32_t nparts)
{
    if (nparts == 0) return 0;
    /* Kafka Utils.toPositive(): clear the sign bit (not abs()). */
    uint32_t pos = (uint32_t)gs_murmur2(key, len) & UINT32_C(0x7fffffff);
    return pos % nparts;
}

size_t gs_utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* range of the first continuation byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return len;
}
