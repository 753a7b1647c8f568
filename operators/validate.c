/*
 * validate.c - decoding and validation of input records (SPEC §3, §11 "Required fields").
 *
 * Every input record passes through here first, so two things matter: the checks are applied in
 * exactly SPEC's order (the first failing check names the DLQ reason, which is part of the
 * contract), and the hot path does not touch malloc. protobuf-c allocates the unpacked message and
 * its strings through a ProtobufCAllocator; gridstream gives it a bump arena owned by the caller
 * (one per stream thread) and reset between records. A record larger than the arena spills into
 * overflow chunks, which are freed at reset, and the arena grows (by doubling) so that the next
 * record of that size fits. Arbitrary bytes must never crash the decoder: protobuf-c checks
 * lengths against the buffer, and the arena turns absurd requests into a NULL, which protobuf-c
 * reports as a failed unpack (decode). protobuf-c does not check that string fields are UTF-8, as
 * proto3 requires and the Java and Python parsers enforce; gridstream checks it after unpacking
 * (and refuses NUL inside strings, which C strings cannot carry), so that such bytes are `decode`
 * here as they are for those clients.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "validate.h"

#define GS_ARENA_ALIGN 16
/* No single arena request above this is honoured: input records are far smaller, and a huge
 * request must fail cleanly (sanitizer allocators abort on absurd sizes instead of returning NULL).
 */
#define GS_ARENA_MAX_REQUEST ((size_t)1 << 30)
/* The main buffer grows to fit the largest record seen, up to this size. */
#define GS_ARENA_MAX_GROW ((size_t)1 << 20)
/* Smallest overflow chunk, so that many small spills share one malloc. */
#define GS_ARENA_MIN_CHUNK ((size_t)4096)

/* An overflow chunk: header, then `cap` bytes of 16-byte aligned storage. */
struct gs_arena_chunk {
    struct gs_arena_chunk *next;
    size_t cap, used;
    _Alignas(GS_ARENA_ALIGN) uint8_t data[];
};

static size_t gs_arena_round(size_t n)
{
    return (n + (GS_ARENA_ALIGN - 1)) & ~(size_t)(GS_ARENA_ALIGN - 1);
}

/* protobuf-c alloc callback. Returns NULL (never aborts) when the request cannot be met. */
static void *gs_arena_alloc(void *data, size_t size)
{
    gs_arena_t *a = data;
    struct gs_arena_chunk *c = a->extra;

    if (size > GS_ARENA_MAX_REQUEST) return NULL;
    size_t n = gs_arena_round(size ? size : 1);

    if (a->buf != NULL && a->cap - a->used >= n) {
        void *p = a->buf + a->used;
        a->used += n;
        return p;
    }
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > GS_ARENA_MIN_CHUNK ? n : GS_ARENA_MIN_CHUNK;
        c = aligned_alloc(GS_ARENA_ALIGN, sizeof(*c) + cap);
        if (c == NULL) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->extra;
        a->extra = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* protobuf-c free callback: arena memory is released all at once by gs_arena_reset(). */
static void gs_arena_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

void gs_arena_init(gs_arena_t *a, size_t initial)
{
    a->pc.alloc = gs_arena_alloc;
    a->pc.free = gs_arena_free;
    a->pc.allocator_data = a;
    a->extra = NULL;
    a->used = 0;
    a->cap = gs_arena_round(initial);
    a->buf = a->cap ? aligned_alloc(GS_ARENA_ALIGN, a->cap) : NULL;
    if (a->buf == NULL) a->cap = 0; /* works, every request spills into a chunk */
}

void gs_arena_reset(gs_arena_t *a)
{
    size_t need = a->used;
    bool spilled = a->extra != NULL;

    while (a->extra != NULL) {
        struct gs_arena_chunk *next = a->extra->next;
        need += a->extra->used;
        free(a->extra);
        a->extra = next;
    }
    a->used = 0;
    if (spilled && a->cap < GS_ARENA_MAX_GROW) {
        size_t cap = a->cap ? a->cap : GS_ARENA_MIN_CHUNK;
        while (cap < need && cap < GS_ARENA_MAX_GROW)
            cap *= 2;
        uint8_t *buf = aligned_alloc(GS_ARENA_ALIGN, cap);
        if (buf != NULL) { /* else keep the old buffer: growing is an optimisation */
            free(a->buf);
            a->buf = buf;
            a->cap = cap;
        }
    }
}

void gs_arena_fini(gs_arena_t *a)
{
    while (a->extra != NULL) {
        struct gs_arena_chunk *next = a->extra->next;
        free(a->extra);
        a->extra = next;
    }
    free(a->buf);
    a->buf = NULL;
    a->cap = a->used = 0;
}

/* Reads a varint at *p (< end); false if it runs past end or over 10 bytes. */
static bool gs_validate_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << (shift < 64 ? shift : 63);
        if ((b & 0x80) == 0) {
            *v = x;
            return true;
        }
    }
    return false;
}

/*
 * True iff s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF) without a NUL. proto3 parsers (Java, Python) reject string fields that are not
 * UTF-8; protobuf-c does not check, and it hands strings over NUL-terminated, so an embedded NUL
 * would silently cut an id short.
 */
static bool gs_validate_utf8(const uint8_t *s, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    for (size_t i = 0; i < n;) {
        /* eight ASCII bytes without a NUL at a time: ids and codes are mostly ASCII */
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (((w | ((w - ones) & ~w)) & highs) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] == 0) return false;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = gs_utf8_seq_len(s + i, n - i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

/*
 * Walks the top-level fields of an encoded message and checks every occurrence of a string field
 * of `desc` with gs_validate_utf8(), and that no field has number 0: protobuf-c refuses tag 0
 * only in its one-byte form and takes an overlong one (0x80 0x00) as an unknown field, which the
 * Java and Python parsers refuse. Runs after protobuf-c accepted the bytes; it still checks every
 * bound itself and answers false on anything it cannot walk.
 */
static bool gs_validate_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                                size_t len)
{
    const uint8_t *end = p + len;
    /* the string fields numbered below 64, as bits: one pass over the descriptor instead of a
       search of it for every length-delimited field */
    uint64_t strings = 0;
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (desc->fields[i].type == PROTOBUF_C_TYPE_STRING && desc->fields[i].id < 64)
            strings |= UINT64_C(1) << desc->fields[i].id;

    while (p < end) {
        uint64_t tag, n;
        if (!gs_validate_varint(&p, end, &tag) || tag >> 3 == 0) return false;
        switch (tag & 7) {
        case 0: /* varint */
            if (!gs_validate_varint(&p, end, &n)) return false;
            break;
        case 1: /* 64-bit */
            if ((size_t)(end - p) < 8) return false;
            p += 8;
            break;
        case 5: /* 32-bit */
            if ((size_t)(end - p) < 4) return false;
            p += 4;
            break;
        case 2: { /* length-delimited */
            if (!gs_validate_varint(&p, end, &n) || n > (uint64_t)(end - p)) return false;
            bool is_string;
            if (tag >> 3 < 64) {
                is_string = strings >> (tag >> 3) & 1;
            } else {
                const ProtobufCFieldDescriptor *f =
                    tag >> 3 <= UINT32_MAX
                        ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3))
                        : NULL;
                is_string = f != NULL && f->type == PROTOBUF_C_TYPE_STRING;
            }
            if (is_string && !gs_validate_utf8(p, (size_t)n)) return false;
            p += n;
            break;
        }
        default: /* groups: protobuf-c has already refused them */
            return false;
        }
    }
    return true;
}

static bool gs_validate_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* SPEC §11: the key is exactly the cell printed in decimal (no sign, spaces or leading zeros). */
static bool gs_validate_key(const void *key, size_t klen, uint64_t cell)
{
    char digits[24];
    size_t n = 0;

    if (key == NULL) return false;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + cell % 10);
        cell /= 10;
    } while (cell != 0);
    return klen == n && memcmp(key, digits + sizeof(digits) - n, n) == 0;
}

static bool gs_validate_latlon_finite(double lat, double lon)
{
    return isfinite(lat) && isfinite(lon);
}

static bool gs_validate_position(double lat, double lon)
{
    return fabs(lat) <= 90.0 && fabs(lon) <= 180.0;
}

/*
 * event_time_ms must be > 0 (SPEC §3) and, beyond the contract, no later than 9999-12-31: every
 * window, TTL and deadline is computed in int64 milliseconds, and a time near INT64_MAX would
 * overflow them.
 */
static bool gs_validate_time(int64_t t)
{
    return t > 0 && t <= GS_TIME_LATEST;
}

static gs_err_t gs_validate_report(const Gridstream__V1__Report *r)
{
    int ch = (int)r->channel;

    if (gs_validate_empty(r->report_id)) return GS_ERR_MISSING_ID;
    /* VIDEO and SENSOR signals come from their own topics (SPEC §3). */
    if (ch < GRIDSTREAM__V1__CHANNEL__INSPECTOR ||
        ch > GRIDSTREAM__V1__CHANNEL__SUPERIOR_ASSIGNED || ch == GRIDSTREAM__V1__CHANNEL__VIDEO ||
        ch == GRIDSTREAM__V1__CHANNEL__SENSOR)
        return GS_ERR_INVALID_ENUM;
    if (!gs_cell_valid(r->cell)) return GS_ERR_INVALID_CELL;
    if (!gs_problem_valid(r->problem_code)) return GS_ERR_INVALID_PROBLEM_CODE;
    if (!gs_validate_time(r->event_time_ms)) return GS_ERR_INVALID_TIME;
    if (!gs_validate_latlon_finite(r->lat, r->lon)) return GS_ERR_INVALID_NUMBER;
    if (!gs_validate_position(r->lat, r->lon)) return GS_ERR_INVALID_POSITION;
    return GS_OK;
}

static gs_err_t gs_validate_sensor(const Gridstream__V1__SensorReading *s)
{
    int kind = (int)s->kind, state = (int)s->state;

    if (gs_validate_empty(s->sensor_id)) return GS_ERR_MISSING_ID;
    if (kind < GRIDSTREAM__V1__SENSOR_KIND__MANHOLE_COVER ||
        kind > GRIDSTREAM__V1__SENSOR_KIND__MUCK_TRUCK ||
        state < GRIDSTREAM__V1__SENSOR_STATE__NORMAL || state > GRIDSTREAM__V1__SENSOR_STATE__ALARM)
        return GS_ERR_INVALID_ENUM;
    if (!gs_cell_valid(s->cell)) return GS_ERR_INVALID_CELL;
    if (!gs_validate_time(s->event_time_ms)) return GS_ERR_INVALID_TIME;
    if (!gs_validate_latlon_finite(s->lat, s->lon) || !isfinite(s->value))
        return GS_ERR_INVALID_NUMBER;
    if (!gs_validate_position(s->lat, s->lon)) return GS_ERR_INVALID_POSITION;
    return GS_OK;
}

static gs_err_t gs_validate_video(const Gridstream__V1__VideoDetection *v)
{
    /* SPEC §11: the float32 confidence widened to double, so 0.6f (0.60000002...) is >= 0.6. */
    double conf = (double)v->confidence;

    if (gs_validate_empty(v->detection_id) || gs_validate_empty(v->camera_id))
        return GS_ERR_MISSING_ID;
    /* alarm_type is a vendor code, not an enum: an unmapped type is ignored later, not rejected. */
    if (!gs_cell_valid(v->cell)) return GS_ERR_INVALID_CELL;
    if (!gs_validate_time(v->event_time_ms)) return GS_ERR_INVALID_TIME;
    if (!gs_validate_latlon_finite(v->lat, v->lon) || !(conf >= 0.0 && conf <= 1.0))
        return GS_ERR_INVALID_NUMBER;
    if (!gs_validate_position(v->lat, v->lon)) return GS_ERR_INVALID_POSITION;
    return GS_OK;
}

static gs_err_t gs_validate_case(const Gridstream__V1__CaseEvent *c)
{
    int stage = (int)c->stage, ch = (int)c->ref_channel;

    if (gs_validate_empty(c->case_id) || gs_validate_empty(c->ref_id)) return GS_ERR_MISSING_ID;
    if (stage < GRIDSTREAM__V1__STAGE__FILED || stage > GRIDSTREAM__V1__STAGE__CLOSED ||
        ch < GRIDSTREAM__V1__CHANNEL__INSPECTOR || ch > GRIDSTREAM__V1__CHANNEL__SUPERIOR_ASSIGNED)
        return GS_ERR_INVALID_ENUM;
    if (!gs_cell_valid(c->cell)) return GS_ERR_INVALID_CELL;
    if (!gs_validate_time(c->event_time_ms)) return GS_ERR_INVALID_TIME;
    if (stage == GRIDSTREAM__V1__STAGE__FILED && c->deadline_ms < c->event_time_ms)
        return GS_ERR_INVALID_TIME;
    /* a CaseEvent has no lat, lon or value: invalid_number and invalid_position cannot apply */
    return GS_OK;
}

static const ProtobufCMessageDescriptor *const gs_validate_desc[GS_SRC__COUNT] = {
    &gridstream__v1__report__descriptor,
    &gridstream__v1__sensor_reading__descriptor,
    &gridstream__v1__video_detection__descriptor,
    &gridstream__v1__case_event__descriptor,
};

const ProtobufCMessageDescriptor *gs_source_descriptor(gs_source_t src)
{
    return gs_validate_desc[src];
}

gs_err_t gs_validate(gs_source_t src, const void *key, size_t klen, const void *val, size_t vlen,
                     gs_arena_t *arena, gs_event_t *ev)
{
    static const uint8_t gs_empty_value[1] = {0};
    ProtobufCMessage *m;
    gs_err_t e;

    ev->src = src;
    ev->t = GS_TIME_MIN;
    ev->cell = 0;
    ev->m.base = NULL;
    if ((unsigned)src >= GS_SRC__COUNT) return GS_ERR_INVAL;
    if (val == NULL) {
        if (vlen != 0) return GS_ERR_DECODE;
        val = gs_empty_value; /* a NULL (tombstone) value is the empty message */
    }

    m = protobuf_c_message_unpack(gs_validate_desc[src], &arena->pc, vlen, val);
    if (m == NULL || !gs_validate_strings(gs_validate_desc[src], val, vlen)) return GS_ERR_DECODE;
    ev->m.base = m;

    switch (src) {
    case GS_SRC_REPORTS:
        ev->t = ev->m.report->event_time_ms;
        ev->cell = ev->m.report->cell;
        e = gs_validate_report(ev->m.report);
        break;
    case GS_SRC_SENSORS:
        ev->t = ev->m.sensor->event_time_ms;
        ev->cell = ev->m.sensor->cell;
        e = gs_validate_sensor(ev->m.sensor);
        break;
    case GS_SRC_VIDEO:
        ev->t = ev->m.video->event_time_ms;
        ev->cell = ev->m.video->cell;
        e = gs_validate_video(ev->m.video);
        break;
    case GS_SRC_CASES:
    default:
        ev->t = ev->m.cas->event_time_ms;
        ev->cell = ev->m.cas->cell;
        e = gs_validate_case(ev->m.cas);
        break;
    }
    if (e != GS_OK) return e;
    if (!gs_validate_key(key, klen, ev->cell)) return GS_ERR_KEY_MISMATCH;
    return GS_OK;
}
