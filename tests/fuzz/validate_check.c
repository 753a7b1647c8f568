/*
 * validate_check.c - the check behind the four validation targets (fuzz_reports.c ...): one input
 * record through gs_validate(), judged by an oracle written from SPEC §3 and §11 rather than from
 * validate.c.
 *
 * Invariants, whatever the bytes:
 *  - the result is GS_OK or one of the reasons gs_validate() may give (decode ... key_mismatch);
 *  - decode leaves no message and merge time -infinity; a value that protobuf-c cannot unpack
 *    with its own allocator is decode, and one the arena unpacks, protobuf-c unpacks too;
 *  - a decoded value carries its event_time_ms and cell into the event, its string fields are
 *    UTF-8 without NUL, and the reason is the one the oracle finds first in SPEC's order
 *    (so an accepted record satisfies every check of SPEC §3);
 *  - the decoded message packed again gives the same verdict, and packs to the same bytes.
 */
#include <math.h>
#include <string.h>
#include <inttypes.h>

#include "fuzz.h"
#include "validate.h"

static const ProtobufCMessageDescriptor *const desc_of[GS_SRC__COUNT] = {
    &gridstream__v1__report__descriptor,
    &gridstream__v1__sensor_reading__descriptor,
    &gridstream__v1__video_detection__descriptor,
    &gridstream__v1__case_event__descriptor,
};

/* UTF-8 as RFC 3629 defines it, decoded to code points: no NUL, overlong form or surrogate. */
static bool utf8_ok(const char *str)
{
    const uint8_t *s = (const uint8_t *)str;
    while (*s) {
        uint32_t cp;
        int n;
        if (*s < 0x80) {
            s++;
            continue;
        } else if ((*s & 0xe0) == 0xc0) {
            cp = *s & 0x1f, n = 1;
        } else if ((*s & 0xf0) == 0xe0) {
            cp = *s & 0x0f, n = 2;
        } else if ((*s & 0xf8) == 0xf0) {
            cp = *s & 0x07, n = 3;
        } else {
            return false;
        }
        s++;
        for (int i = 0; i < n; i++, s++) {
            if ((*s & 0xc0) != 0x80) return false;
            cp = cp << 6 | (*s & 0x3f);
        }
        static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    }
    return true;
}

static bool cell_ok(uint64_t c)
{
    return c >= UINT64_C(100000000000000) && c <= UINT64_C(999999999999999) && c % 1000 != 0;
}

static bool problem_ok(uint32_t p)
{
    uint32_t kind = p / 10000, major = p / 100 % 100, minor = p % 100;
    return (kind == 1 || kind == 2) && major >= 1 && minor >= 1;
}

/* SPEC §3 (> 0) and the latest time validate.h documents (9999-12-31T23:59:59.999Z). */
static bool time_ok(int64_t t)
{
    return t > 0 && t <= INT64_C(253402300799999);
}

static bool empty(const char *s)
{
    return s == NULL || *s == '\0';
}

static bool finite2(double a, double b)
{
    return isfinite(a) && isfinite(b);
}

static bool position_ok(double lat, double lon)
{
    return lat >= -90.0 && lat <= 90.0 && lon >= -180.0 && lon <= 180.0;
}

static bool key_ok(const uint8_t *key, size_t klen, uint64_t cell)
{
    char dec[32];
    int n = snprintf(dec, sizeof(dec), "%" PRIu64, cell);
    return key != NULL && klen == (size_t)n && memcmp(key, dec, klen) == 0;
}

/* The first reason of SPEC §3's order that applies to a decoded message, or GS_OK. */
static gs_err_t oracle(gs_source_t src, const ProtobufCMessage *m, const uint8_t *key, size_t klen)
{
    uint64_t cell;
    switch (src) {
    case GS_SRC_REPORTS: {
        const Gridstream__V1__Report *r = (const void *)m;
        int ch = (int)r->channel;
        if (empty(r->report_id)) return GS_ERR_MISSING_ID;
        if (ch < 1 || ch > 9 || ch == 2 || ch == 3) return GS_ERR_INVALID_ENUM;
        if (!cell_ok(r->cell)) return GS_ERR_INVALID_CELL;
        if (!problem_ok(r->problem_code)) return GS_ERR_INVALID_PROBLEM_CODE;
        if (!time_ok(r->event_time_ms)) return GS_ERR_INVALID_TIME;
        if (!finite2(r->lat, r->lon)) return GS_ERR_INVALID_NUMBER;
        if (!position_ok(r->lat, r->lon)) return GS_ERR_INVALID_POSITION;
        cell = r->cell;
        break;
    }
    case GS_SRC_SENSORS: {
        const Gridstream__V1__SensorReading *s = (const void *)m;
        if (empty(s->sensor_id)) return GS_ERR_MISSING_ID;
        if ((int)s->kind < 1 || (int)s->kind > 7 || (int)s->state < 1 || (int)s->state > 2)
            return GS_ERR_INVALID_ENUM;
        if (!cell_ok(s->cell)) return GS_ERR_INVALID_CELL;
        if (!time_ok(s->event_time_ms)) return GS_ERR_INVALID_TIME;
        if (!finite2(s->lat, s->lon) || !isfinite(s->value)) return GS_ERR_INVALID_NUMBER;
        if (!position_ok(s->lat, s->lon)) return GS_ERR_INVALID_POSITION;
        cell = s->cell;
        break;
    }
    case GS_SRC_VIDEO: {
        const Gridstream__V1__VideoDetection *v = (const void *)m;
        double conf = v->confidence;
        if (empty(v->detection_id) || empty(v->camera_id)) return GS_ERR_MISSING_ID;
        if (!cell_ok(v->cell)) return GS_ERR_INVALID_CELL;
        if (!time_ok(v->event_time_ms)) return GS_ERR_INVALID_TIME;
        if (!finite2(v->lat, v->lon) || isnan(conf) || conf < 0.0 || conf > 1.0)
            return GS_ERR_INVALID_NUMBER;
        if (!position_ok(v->lat, v->lon)) return GS_ERR_INVALID_POSITION;
        cell = v->cell;
        break;
    }
    case GS_SRC_CASES:
    default: {
        const Gridstream__V1__CaseEvent *c = (const void *)m;
        if (empty(c->case_id) || empty(c->ref_id)) return GS_ERR_MISSING_ID;
        if ((int)c->stage < 1 || (int)c->stage > 7 || (int)c->ref_channel < 1 ||
            (int)c->ref_channel > 9)
            return GS_ERR_INVALID_ENUM;
        if (!cell_ok(c->cell)) return GS_ERR_INVALID_CELL;
        if (!time_ok(c->event_time_ms)) return GS_ERR_INVALID_TIME;
        if (c->stage == GRIDSTREAM__V1__STAGE__FILED && c->deadline_ms < c->event_time_ms)
            return GS_ERR_INVALID_TIME;
        cell = c->cell;
        break;
    }
    }
    return key_ok(key, klen, cell) ? GS_OK : GS_ERR_KEY_MISMATCH;
}

/* The event_time_ms and cell of a decoded message (every input type has both). */
static void time_cell(gs_source_t src, const ProtobufCMessage *m, int64_t *t, uint64_t *cell)
{
    switch (src) {
    case GS_SRC_REPORTS:
        *t = ((const Gridstream__V1__Report *)(const void *)m)->event_time_ms;
        *cell = ((const Gridstream__V1__Report *)(const void *)m)->cell;
        break;
    case GS_SRC_SENSORS:
        *t = ((const Gridstream__V1__SensorReading *)(const void *)m)->event_time_ms;
        *cell = ((const Gridstream__V1__SensorReading *)(const void *)m)->cell;
        break;
    case GS_SRC_VIDEO:
        *t = ((const Gridstream__V1__VideoDetection *)(const void *)m)->event_time_ms;
        *cell = ((const Gridstream__V1__VideoDetection *)(const void *)m)->cell;
        break;
    default:
        *t = ((const Gridstream__V1__CaseEvent *)(const void *)m)->event_time_ms;
        *cell = ((const Gridstream__V1__CaseEvent *)(const void *)m)->cell;
        break;
    }
}

/* Every string field of `m` (all are singular) is UTF-8 without NUL. */
static bool strings_ok(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING) continue;
        const char *s = *(const char *const *)(const void *)((const char *)m + f->offset);
        if (s != NULL && !utf8_ok(s)) return false;
    }
    return true;
}

/* Checks a decoded event against the oracle; returns a heap copy of the message packed again. */
static uint8_t *check_decoded(gs_source_t src, gs_err_t e, const gs_event_t *ev, const uint8_t *key,
                              size_t klen, size_t *plen)
{
    int64_t t;
    uint64_t cell;

    GS_FUZZ_CHECK(ev->m.base != NULL && ev->m.base->descriptor == desc_of[src],
                  "a decoded value must leave its message of the topic's type");
    time_cell(src, ev->m.base, &t, &cell);
    GS_FUZZ_CHECK(ev->t == t && ev->cell == cell,
                  "event t %" PRId64 " cell %" PRIu64 " differ from the message's %" PRId64
                  " %" PRIu64,
                  ev->t, ev->cell, t, cell);
    GS_FUZZ_CHECK(strings_ok(ev->m.base), "an accepted string field is not UTF-8 without NUL");
    gs_err_t want = oracle(src, ev->m.base, key, klen);
    GS_FUZZ_CHECK(e == want, "gs_validate says %s, SPEC §3 says %s", gs_err_str(e),
                  gs_err_str(want));

    *plen = protobuf_c_message_get_packed_size(ev->m.base);
    uint8_t *packed = malloc(*plen ? *plen : 1);
    GS_FUZZ_CHECK(packed != NULL, "out of memory");
    GS_FUZZ_CHECK(protobuf_c_message_pack(ev->m.base, packed) == *plen, "pack size");
    return packed;
}

int gs_fuzz_validate(gs_source_t src, const uint8_t *data, size_t size)
{
    /* Small first arenas, so that growth and overflow chunks are exercised too. */
    static gs_arena_t arena, arena2;
    static bool ready;
    if (!ready) {
        gs_arena_init(&arena, 64);
        gs_arena_init(&arena2, 0);
        ready = true;
    }

    /* Key and value in buffers of their exact size, so that an overread is caught by ASan. */
    size_t klen = 0, vlen = size;
    bool has_key = false;
    const uint8_t *v = data;
    if (size > 0) {
        has_key = data[0] != 0xff;
        klen = has_key ? data[0] : 0;
        if (klen > size - 1) klen = size - 1;
        v = data + 1 + klen;
        vlen = size - 1 - klen;
    }
    uint8_t *key = has_key ? malloc(klen ? klen : 1) : NULL;
    uint8_t *val = malloc(vlen ? vlen : 1);
    GS_FUZZ_CHECK(val != NULL && (key != NULL || !has_key), "out of memory");
    if (klen) memcpy(key, data + 1, klen);
    if (vlen) memcpy(val, v, vlen);

    gs_event_t ev;
    /* An empty value is also given as NULL, as a tombstone arrives from Kafka. */
    gs_err_t e = gs_validate(src, key, klen, vlen ? val : NULL, vlen, &arena, &ev);
    GS_FUZZ_CHECK(e == GS_OK || (e <= GS_ERR_DECODE && e >= GS_ERR_KEY_MISMATCH),
                  "unexpected result %d (%s)", (int)e, gs_err_str(e));
    GS_FUZZ_CHECK(ev.src == src, "event source");

    ProtobufCMessage *heap = protobuf_c_message_unpack(desc_of[src], NULL, vlen, val);
    if (e == GS_ERR_DECODE) {
        GS_FUZZ_CHECK(ev.m.base == NULL && ev.t == GS_TIME_MIN,
                      "decode must leave no message and merge time -infinity");
    } else {
        GS_FUZZ_CHECK(heap != NULL, "decoded from the arena but protobuf-c's allocator fails");
        size_t plen;
        uint8_t *packed = check_decoded(src, e, &ev, key, klen, &plen);

        /* The message packed again is the same record: same verdict, same canonical bytes. */
        gs_event_t ev2;
        gs_err_t e2 = gs_validate(src, key, klen, packed, plen, &arena2, &ev2);
        GS_FUZZ_CHECK(e2 == e, "packed again: %s, first %s", gs_err_str(e2), gs_err_str(e));
        GS_FUZZ_CHECK(ev2.t == ev.t && ev2.cell == ev.cell, "packed again: other time or cell");
        size_t plen2;
        uint8_t *packed2 = check_decoded(src, e2, &ev2, key, klen, &plen2);
        GS_FUZZ_CHECK(plen2 == plen && memcmp(packed, packed2, plen) == 0, "packing is not stable");
        free(packed2);
        free(packed);
    }
    if (heap == NULL)
        GS_FUZZ_CHECK(e == GS_ERR_DECODE, "protobuf-c refuses the value, gs_validate says %s",
                      gs_err_str(e));
    else
        protobuf_c_message_free_unpacked(heap, NULL);

    gs_arena_reset(&arena);
    gs_arena_reset(&arena2);
    free(key);
    free(val);
    return 0;
}
