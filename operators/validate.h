/*
 * validate.h - decoding and validation of input records (SPEC §3): bytes in, a gs_event_t or the
 * first rejection reason that applies out. Decoding allocates from a caller-owned arena, so the hot
 * path does no malloc per record.
 */
#ifndef GS_VALIDATE_H
#define GS_VALIDATE_H

#include "gs.h"

/*
 * A bump allocator for protobuf-c. Reset between records; grows by doubling when a record needs
 * more (rarely: the arena is sized for typical records).
 */
typedef struct gs_arena {
    ProtobufCAllocator pc; /* pass &arena->pc to protobuf-c */
    uint8_t *buf;
    size_t cap, used;
    struct gs_arena_chunk *extra; /* overflow chunks, freed at reset */
} gs_arena_t;

void gs_arena_init(gs_arena_t *a, size_t initial);
void gs_arena_reset(gs_arena_t *a);
void gs_arena_fini(gs_arena_t *a);

/* The latest event time accepted: 9999-12-31T23:59:59.999Z. */
#define GS_TIME_LATEST INT64_C(253402300799999)

/* The protobuf-c descriptor of topic `src`'s message type. */
const ProtobufCMessageDescriptor *gs_source_descriptor(gs_source_t src);

/*
 * Decodes `val` as the message type of topic `src` and applies SPEC §3's checks in order
 * (decode, missing_id, invalid_enum, invalid_cell, invalid_problem_code, invalid_time,
 * invalid_number, invalid_position, key_mismatch). wrong_partition and unknown_ref are the
 * caller's. On GS_OK `ev` is filled. On rejection ev->t is still the merge time (event_time_ms if
 * the value decoded, GS_TIME_MIN if not) and ev->m.base is set when it decoded. `key` may be NULL
 * (a record without a key is a key_mismatch). Message memory comes from `arena`.
 */
gs_err_t gs_validate(gs_source_t src, const void *key, size_t klen, const void *val, size_t vlen,
                     gs_arena_t *arena, gs_event_t *ev);

#endif
