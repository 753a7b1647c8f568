/*
 * codes.h - the codes of SPEC §1: grid cells and their scopes, problem codes, channels, and the
 * mappings from sensor kinds and video alarm types to problem codes; the Java-compatible murmur2
 * partitioner of SPEC §4.
 */
#ifndef GS_CODES_H
#define GS_CODES_H

#include "gs.h"

#define GS_CELL_MIN UINT64_C(100000000000000)
#define GS_CELL_MAX UINT64_C(999999999999999)

/* Levels, numbered as the wire enum Level. */
enum {
    GS_LEVEL_CELL = 1,
    GS_LEVEL_COMMUNITY = 2,
    GS_LEVEL_STREET = 3,
    GS_LEVEL_DISTRICT = 4,
    GS_LEVEL_CITY = 5
};

/* Window kinds, numbered as the wire enum WindowKind. */
enum { GS_WIN_HOUR = 1, GS_WIN_DAY = 2, GS_WIN_MONTH = 3, GS_WIN_ROLLING_24H = 4 };

/* 15 digits and grid sequence GGG != 000. */
bool gs_cell_valid(uint64_t cell);

/* The scope code of `cell` at `level` (GS_LEVEL_*): the cell itself, or its decimal prefix. */
uint64_t gs_cell_scope(uint64_t cell, int level);

/* kind in {1,2}, major 1..99, minor 1..99. */
bool gs_problem_valid(uint32_t code);

/* Channels 1..6 are active discovery (counted as captured); 7..9 are passive. */
static inline bool gs_channel_active(int ch)
{
    return ch >= 1 && ch <= 6;
}

/*
 * Length (2..4) of the well-formed UTF-8 sequence of a non-ASCII lead byte at p, with n bytes
 * left; 0 if the bytes there are not well-formed UTF-8 (overlong forms, surrogates and code points
 * above U+10FFFF are not).
 */
size_t gs_utf8_seq_len(const uint8_t *p, size_t n);

/* Kafka Java client murmur2 of the key bytes (seed 0x9747b28c). */
int32_t gs_murmur2(const void *key, size_t len);

/* Partition of a key among `nparts`: (murmur2 & 0x7fffffff) % nparts. */
uint32_t gs_partition_for_key(const void *key, size_t len, uint32_t nparts);

#endif
