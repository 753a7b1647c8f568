/*
 * pbwire.h - protobuf wire encoding for the records written on the hot path (KPI windows,
 * incidents), field by field into a caller's buffer, without building a protobuf-c message and
 * packing it through its descriptors. Each writer produces exactly what protobuf_c_message_pack()
 * writes for a proto3 field: nothing for a zero value or an empty string, otherwise the tag and
 * the value. The unit tests compare whole records with protobuf-c's.
 */
#ifndef GS_PBWIRE_H
#define GS_PBWIRE_H

#include <stdint.h>
#include <string.h>

static inline uint8_t *gs_pb_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

/* uint64, int64 (two's complement), uint32, bool; enums and int32 pass their value sign-extended
   to 64 bits, as the wire wants. */
static inline uint8_t *gs_pb_vfield(uint8_t *o, unsigned field, uint64_t v)
{
    if (v == 0) return o;
    return gs_pb_varint(gs_pb_varint(o, (uint64_t)field << 3), v);
}

/* double: left out when == 0 (so -0.0 too, as protobuf-c does); NaN is written. */
static inline uint8_t *gs_pb_dfield(uint8_t *o, unsigned field, double d)
{
    if (d == 0) return o;
    o = gs_pb_varint(o, (uint64_t)field << 3 | 1);
    uint64_t bits;
    memcpy(&bits, &d, 8);
    for (int i = 0; i < 8; i++, bits >>= 8)
        *o++ = (uint8_t)bits;
    return o;
}

/* string of n bytes (protobuf-c writes a C string up to its NUL: pass that length). */
static inline uint8_t *gs_pb_sfield(uint8_t *o, unsigned field, const void *s, size_t n)
{
    if (n == 0) return o;
    o = gs_pb_varint(gs_pb_varint(o, (uint64_t)field << 3 | 2), n);
    memcpy(o, s, n);
    return o + n;
}

#endif
