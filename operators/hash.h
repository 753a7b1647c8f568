/*
 * hash.h - a fast 64-bit hash of short byte strings (state keys), MurmurHash64A-style mixing.
 * Not for anything on the wire: the wire partitioner is murmur2 in codes.c.
 */
#ifndef GS_HASH_H
#define GS_HASH_H

#include <stdint.h>
#include <string.h>

static inline uint64_t gs_hash64(const void *data, size_t len, uint64_t seed)
{
    const uint64_t m = UINT64_C(0xc6a4a7935bd1e995);
    const int r = 47;
    const uint8_t *p = (const uint8_t *)data;
    uint64_t h = seed ^ (len * m);
    while (len >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t k = 0;
        memcpy(&k, p, len);
        h ^= k;
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

#endif
