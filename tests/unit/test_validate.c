/*
 * test_validate.c - unit tests of validate.c (SPEC §3): one valid record per topic read back, every
 * rejection reason with its precedence over the later ones, the boundaries SPEC §11 fixes (0.6f,
 * |lat| = 90, exact key text), the decoding arena, and decoder robustness: every truncation of a
 * valid record, random byte strings and mutated records, each checked against an oracle written
 * here independently of validate.c. Also the reason names of err.c (the DLQ `error` header) and
 * gs_sink_emit_msg, whose behaviour belongs to the same wire boundary.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "validate.h"

#define CELL UINT64_C(440902001002003)
#define KEY "440902001002003"
#define T0 INT64_C(1717200000000) /* 2024-06-01T00:00:00Z */

typedef struct fx {
    gs_arena_t a;
    gs_event_t ev;
    uint8_t buf[8192];
    size_t len;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    gs_arena_init(&f->a, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    gs_arena_fini(&f->a);
    free(f);
    return 0;
}

/* ---- valid records ----------------------------------------------------------------------------
 */

static void valid_report(Gridstream__V1__Report *r)
{
    *r = (Gridstream__V1__Report)GRIDSTREAM__V1__REPORT__INIT;
    r->report_id = "R-1";
    r->channel = GRIDSTREAM__V1__CHANNEL__INSPECTOR;
    r->problem_code = 20102;
    r->cell = CELL;
    r->event_time_ms = T0;
    r->lat = 21.66;
    r->lon = 110.92;
    r->reporter_id = "insp-7";
    r->description = "exposed garbage";
}

static void valid_sensor(Gridstream__V1__SensorReading *s)
{
    *s = (Gridstream__V1__SensorReading)GRIDSTREAM__V1__SENSOR_READING__INIT;
    s->sensor_id = "S-9";
    s->kind = GRIDSTREAM__V1__SENSOR_KIND__WATERLOGGING;
    s->cell = CELL;
    s->event_time_ms = T0;
    s->value = 12.5;
    s->state = GRIDSTREAM__V1__SENSOR_STATE__ALARM;
    s->seq = 42;
    s->lat = 21.66;
    s->lon = 110.92;
}

static void valid_video(Gridstream__V1__VideoDetection *v)
{
    *v = (Gridstream__V1__VideoDetection)GRIDSTREAM__V1__VIDEO_DETECTION__INIT;
    v->detection_id = "D-1";
    v->camera_id = "C-3";
    v->alarm_type = 890;
    v->confidence = 0.9f;
    v->cell = CELL;
    v->event_time_ms = T0;
    v->lat = 21.66;
    v->lon = 110.92;
}

static void valid_case(Gridstream__V1__CaseEvent *c)
{
    *c = (Gridstream__V1__CaseEvent)GRIDSTREAM__V1__CASE_EVENT__INIT;
    c->case_id = "K-1";
    c->stage = GRIDSTREAM__V1__STAGE__FILED;
    c->ref_channel = GRIDSTREAM__V1__CHANNEL__INSPECTOR;
    c->ref_id = "R-1";
    c->cell = CELL;
    c->event_time_ms = T0;
    c->deadline_ms = T0 + GS_DAY_MS;
    c->department = "sanitation";
}

static size_t pack(const ProtobufCMessage *m, uint8_t *buf, size_t cap)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    assert_true(n <= cap);
    return protobuf_c_message_pack(m, buf);
}

/* Packs `m` and validates it with key `key` (NUL-terminated, may be NULL). */
static gs_err_t run(fx_t *f, gs_source_t src, const char *key, const ProtobufCMessage *m)
{
    f->len = pack(m, f->buf, sizeof(f->buf));
    gs_arena_reset(&f->a);
    return gs_validate(src, key, key ? strlen(key) : 0, f->buf, f->len, &f->a, &f->ev);
}

#define EXPECT(f, src, key, msg, reason)                                                           \
    do {                                                                                           \
        gs_err_t e_ = run((f), (src), (key), &(msg).base);                                         \
        if (e_ != (reason))                                                                        \
            fail_msg("line %d: expected %s, got %s", __LINE__, gs_err_str(reason),                 \
                     gs_err_str(e_));                                                              \
    } while (0)

/* ---- accepted records -------------------------------------------------------------------------
 */

static void test_valid_report(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    valid_report(&r);
    assert_int_equal(run(f, GS_SRC_REPORTS, KEY, &r.base), GS_OK);
    assert_int_equal(f->ev.src, GS_SRC_REPORTS);
    assert_int_equal(f->ev.t, T0);
    assert_int_equal(f->ev.cell, CELL);
    const Gridstream__V1__Report *got = f->ev.m.report;
    assert_non_null(got);
    assert_ptr_equal(got->base.descriptor, &gridstream__v1__report__descriptor);
    assert_string_equal(got->report_id, "R-1");
    assert_int_equal(got->channel, 1);
    assert_int_equal(got->problem_code, 20102);
    assert_true(got->lat == 21.66 && got->lon == 110.92);
    assert_string_equal(got->reporter_id, "insp-7");
    assert_string_equal(got->description, "exposed garbage");
    /* the message lives in the arena's main buffer: no overflow chunk for a typical record */
    assert_null(f->a.extra);
    assert_true((const uint8_t *)got >= f->a.buf && (const uint8_t *)got < f->a.buf + f->a.cap);

    /* passive and other active channels are fine, as are optional fields left empty */
    for (int ch = 1; ch <= 9; ch++) {
        if (ch == 2 || ch == 3) continue;
        r.channel = (Gridstream__V1__Channel)ch;
        r.reporter_id = "";
        r.description = "";
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_OK);
        assert_int_equal(f->ev.m.report->channel, ch);
    }
    /* UTF-8 text is fine */
    r.description = "\xe6\x9a\xb4\xe9\x9c\xb2\xe5\x9e\x83\xe5\x9c\xbe"; /* 暴露垃圾 */
    EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_OK);
    assert_string_equal(f->ev.m.report->description, r.description);
}

static void test_valid_sensor(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__SensorReading s;
    valid_sensor(&s);
    assert_int_equal(run(f, GS_SRC_SENSORS, KEY, &s.base), GS_OK);
    assert_int_equal(f->ev.src, GS_SRC_SENSORS);
    assert_int_equal(f->ev.t, T0);
    assert_int_equal(f->ev.cell, CELL);
    const Gridstream__V1__SensorReading *got = f->ev.m.sensor;
    assert_string_equal(got->sensor_id, "S-9");
    assert_int_equal(got->kind, 2);
    assert_int_equal(got->state, 2);
    assert_int_equal(got->seq, 42);
    assert_true(got->value == 12.5);
    /* seq 0 allowed (SPEC §11), value 0 and negative values are finite numbers */
    s.seq = 0;
    s.value = -3.0;
    s.kind = GRIDSTREAM__V1__SENSOR_KIND__MUCK_TRUCK;
    s.state = GRIDSTREAM__V1__SENSOR_STATE__NORMAL;
    EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_OK);
    assert_int_equal(f->ev.m.sensor->seq, 0);
    assert_true(f->ev.m.sensor->value == -3.0);
}

static void test_valid_video(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__VideoDetection v;
    valid_video(&v);
    assert_int_equal(run(f, GS_SRC_VIDEO, KEY, &v.base), GS_OK);
    assert_int_equal(f->ev.src, GS_SRC_VIDEO);
    assert_int_equal(f->ev.t, T0);
    assert_int_equal(f->ev.cell, CELL);
    const Gridstream__V1__VideoDetection *got = f->ev.m.video;
    assert_string_equal(got->detection_id, "D-1");
    assert_string_equal(got->camera_id, "C-3");
    assert_int_equal(got->alarm_type, 890);
    assert_true(got->confidence == 0.9f);
    /* alarm type 0 and unmapped types are not DLQ (ignored later); confidence bounds inclusive */
    v.alarm_type = 0;
    v.confidence = 0.6f;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_OK);
    v.alarm_type = 12345;
    v.confidence = 0.0f;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_OK);
    v.confidence = 1.0f;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_OK);
    v.confidence = -0.0f;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_OK);
}

static void test_valid_case(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__CaseEvent c;
    valid_case(&c);
    assert_int_equal(run(f, GS_SRC_CASES, KEY, &c.base), GS_OK);
    assert_int_equal(f->ev.src, GS_SRC_CASES);
    assert_int_equal(f->ev.t, T0);
    assert_int_equal(f->ev.cell, CELL);
    const Gridstream__V1__CaseEvent *got = f->ev.m.cas;
    assert_string_equal(got->case_id, "K-1");
    assert_int_equal(got->stage, 1);
    assert_int_equal(got->ref_channel, 1);
    assert_string_equal(got->ref_id, "R-1");
    assert_int_equal(got->deadline_ms, T0 + GS_DAY_MS);
    assert_string_equal(got->department, "sanitation");
    /* FILED with deadline == event time is allowed (deadline_ms >= event_time_ms) */
    c.deadline_ms = T0;
    EXPECT(f, GS_SRC_CASES, KEY, c, GS_OK);
    /* other stages need no deadline; department optional; every channel can be referenced */
    for (int st = 2; st <= 7; st++) {
        for (int ch = 1; ch <= 9; ch++) {
            c.stage = (Gridstream__V1__Stage)st;
            c.ref_channel = (Gridstream__V1__Channel)ch;
            c.deadline_ms = 0;
            c.department = "";
            EXPECT(f, GS_SRC_CASES, KEY, c, GS_OK);
        }
    }
}

/* ---- each reason, and which reason wins ------------------------------------------------------ */

static void test_decode(void **state)
{
    fx_t *f = *state;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    static const uint8_t cut_string[] = {0x0a, 0x05, 'a'}; /* string of 5, 1 byte present */
    static const uint8_t bad_utf8[] = {0x0a, 0x02, 'R', 0xff};
    static const uint8_t nul_in_id[] = {0x0a, 0x03, 'R', 0x00, '1'};
    static const uint8_t surrogate[] = {0x0a, 0x03, 0xed, 0xa0, 0x80};
    static const uint8_t overlong[] = {0x0a, 0x02, 0xc0, 0xaf};
    static const uint8_t field_zero[] = {0x00, 0x01};
    /* the same tag in two bytes: protobuf-c keeps it as an unknown field (found by fuzzing) */
    static const uint8_t field_zero_long[] = {0x0a, 0x01, 'R', 0x80, 0x00, 0x01};

    for (int src = 0; src < GS_SRC__COUNT; src++) {
        gs_arena_reset(&f->a);
        f->ev.t = 123;
        f->ev.m.base = (const ProtobufCMessage *)f;
        assert_int_equal(
            gs_validate((gs_source_t)src, KEY, 15, garbage, sizeof(garbage), &f->a, &f->ev),
            GS_ERR_DECODE);
        assert_int_equal(f->ev.t, GS_TIME_MIN); /* merge time -inf: it did not decode */
        assert_null(f->ev.m.base);
        assert_int_equal(f->ev.src, src);
        assert_int_equal(
            gs_validate((gs_source_t)src, KEY, 15, cut_string, sizeof(cut_string), &f->a, &f->ev),
            GS_ERR_DECODE);
        /* field 1 is a string in every input type: proto3 strings must be UTF-8 without NUL */
        assert_int_equal(
            gs_validate((gs_source_t)src, KEY, 15, bad_utf8, sizeof(bad_utf8), &f->a, &f->ev),
            GS_ERR_DECODE);
        assert_int_equal(
            gs_validate((gs_source_t)src, KEY, 15, nul_in_id, sizeof(nul_in_id), &f->a, &f->ev),
            GS_ERR_DECODE);
        assert_int_equal(
            gs_validate((gs_source_t)src, KEY, 15, surrogate, sizeof(surrogate), &f->a, &f->ev),
            GS_ERR_DECODE);
        assert_int_equal(
            gs_validate((gs_source_t)src, KEY, 15, overlong, sizeof(overlong), &f->a, &f->ev),
            GS_ERR_DECODE);
        assert_int_equal(
            gs_validate((gs_source_t)src, KEY, 15, field_zero, sizeof(field_zero), &f->a, &f->ev),
            GS_ERR_DECODE);
        assert_int_equal(gs_validate((gs_source_t)src, KEY, 15, field_zero_long,
                                     sizeof(field_zero_long), &f->a, &f->ev),
                         GS_ERR_DECODE);
        assert_int_equal(gs_validate((gs_source_t)src, KEY, 15, NULL, 3, &f->a, &f->ev),
                         GS_ERR_DECODE);
    }
    /* a Report whose valid bytes are cut inside a string */
    Gridstream__V1__Report r;
    valid_report(&r);
    size_t n = pack(&r.base, f->buf, sizeof(f->buf));
    assert_int_equal(gs_validate(GS_SRC_REPORTS, KEY, 15, f->buf, n - 1, &f->a, &f->ev),
                     GS_ERR_DECODE);
    /* a bad string in an optional field is still decode */
    r.description = "caf\xc3";
    EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_DECODE);
    /* a SensorReading read as a VideoDetection: field 2 (kind) is a varint where camera_id, a
       string, is expected; protobuf-c refuses a known field with the wrong wire type */
    Gridstream__V1__SensorReading s;
    valid_sensor(&s);
    EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_OK);
    gs_arena_reset(&f->a);
    assert_int_equal(gs_validate(GS_SRC_VIDEO, KEY, 15, f->buf, f->len, &f->a, &f->ev),
                     GS_ERR_DECODE);
}

/* An empty value (or a NULL one, a tombstone) is the all-default message: no id. */
static void test_empty_value(void **state)
{
    fx_t *f = *state;
    for (int src = 0; src < GS_SRC__COUNT; src++) {
        gs_arena_reset(&f->a);
        assert_int_equal(gs_validate((gs_source_t)src, KEY, 15, "", 0, &f->a, &f->ev),
                         GS_ERR_MISSING_ID);
        assert_int_equal(f->ev.t, 0);
        assert_non_null(f->ev.m.base);
        assert_int_equal(gs_validate((gs_source_t)src, KEY, 15, NULL, 0, &f->a, &f->ev),
                         GS_ERR_MISSING_ID);
    }
    assert_int_equal(gs_validate((gs_source_t)4, KEY, 15, "", 0, &f->a, &f->ev), GS_ERR_INVAL);
}

static void test_missing_id(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    Gridstream__V1__SensorReading s;
    Gridstream__V1__VideoDetection v;
    Gridstream__V1__CaseEvent c;

    valid_report(&r);
    r.report_id = "";
    EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_MISSING_ID);
    assert_int_equal(f->ev.t, T0); /* decoded: merge time is its event time */
    assert_int_equal(f->ev.cell, CELL);
    assert_non_null(f->ev.m.report);
    /* missing_id wins over every later reason */
    r.channel = 0;
    r.cell = 0;
    r.problem_code = 0;
    r.event_time_ms = 0;
    r.lat = NAN;
    EXPECT(f, GS_SRC_REPORTS, NULL, r, GS_ERR_MISSING_ID);
    assert_int_equal(f->ev.t, 0);

    valid_sensor(&s);
    s.sensor_id = "";
    s.kind = 0;
    EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_ERR_MISSING_ID);

    valid_video(&v);
    v.detection_id = "";
    v.cell = 440902001002000;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_MISSING_ID);
    valid_video(&v);
    v.camera_id = "";
    v.confidence = 2.0f;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_MISSING_ID);

    valid_case(&c);
    c.case_id = "";
    c.stage = 0;
    EXPECT(f, GS_SRC_CASES, KEY, c, GS_ERR_MISSING_ID);
    valid_case(&c);
    c.ref_id = "";
    c.deadline_ms = 1; /* FILED before its own time, too */
    EXPECT(f, GS_SRC_CASES, "x", c, GS_ERR_MISSING_ID);
}

static void test_invalid_enum(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    Gridstream__V1__SensorReading s;
    Gridstream__V1__CaseEvent c;

    static const int bad_report_channels[] = {0, 2, 3, 10, -1, 1000};
    for (size_t i = 0; i < sizeof(bad_report_channels) / sizeof(int); i++) {
        valid_report(&r);
        r.channel = (Gridstream__V1__Channel)bad_report_channels[i];
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_INVALID_ENUM);
        r.cell = 12; /* invalid_enum wins over invalid_cell */
        r.event_time_ms = -1;
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_INVALID_ENUM);
    }

    static const int bad_kinds[] = {0, 8, -7};
    for (size_t i = 0; i < sizeof(bad_kinds) / sizeof(int); i++) {
        valid_sensor(&s);
        s.kind = (Gridstream__V1__SensorKind)bad_kinds[i];
        EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_ERR_INVALID_ENUM);
    }
    static const int bad_states[] = {0, 3, -2};
    for (size_t i = 0; i < sizeof(bad_states) / sizeof(int); i++) {
        valid_sensor(&s);
        s.state = (Gridstream__V1__SensorState)bad_states[i];
        s.cell = 0;
        EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_ERR_INVALID_ENUM);
    }

    static const int bad_stages[] = {0, 8, -1};
    for (size_t i = 0; i < sizeof(bad_stages) / sizeof(int); i++) {
        valid_case(&c);
        c.stage = (Gridstream__V1__Stage)bad_stages[i];
        c.cell = 1;
        EXPECT(f, GS_SRC_CASES, KEY, c, GS_ERR_INVALID_ENUM);
    }
    static const int bad_refs[] = {0, 10, -3};
    for (size_t i = 0; i < sizeof(bad_refs) / sizeof(int); i++) {
        valid_case(&c);
        c.ref_channel = (Gridstream__V1__Channel)bad_refs[i];
        c.event_time_ms = 0;
        EXPECT(f, GS_SRC_CASES, KEY, c, GS_ERR_INVALID_ENUM);
    }
}

static void test_invalid_cell(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    Gridstream__V1__SensorReading s;
    Gridstream__V1__VideoDetection v;
    Gridstream__V1__CaseEvent c;
    static const uint64_t bad_cells[] = {
        0, 440902001002000, 44090200100203, 4409020010020031, 100000000000000, UINT64_MAX,
    };

    for (size_t i = 0; i < sizeof(bad_cells) / sizeof(bad_cells[0]); i++) {
        char key[24];
        snprintf(key, sizeof(key), "%llu", (unsigned long long)bad_cells[i]);

        valid_report(&r);
        r.cell = bad_cells[i];
        EXPECT(f, GS_SRC_REPORTS, key, r, GS_ERR_INVALID_CELL);
        assert_int_equal(f->ev.cell, bad_cells[i]);
        r.problem_code = 30101; /* invalid_cell wins over invalid_problem_code ... */
        r.event_time_ms = 0;    /* ... and invalid_time */
        EXPECT(f, GS_SRC_REPORTS, key, r, GS_ERR_INVALID_CELL);

        valid_sensor(&s);
        s.cell = bad_cells[i];
        s.value = INFINITY;
        EXPECT(f, GS_SRC_SENSORS, key, s, GS_ERR_INVALID_CELL);

        valid_video(&v);
        v.cell = bad_cells[i];
        v.event_time_ms = -T0;
        EXPECT(f, GS_SRC_VIDEO, key, v, GS_ERR_INVALID_CELL);

        valid_case(&c);
        c.cell = bad_cells[i];
        c.deadline_ms = T0 - 1;
        EXPECT(f, GS_SRC_CASES, key, c, GS_ERR_INVALID_CELL);
    }
}

static void test_invalid_problem_code(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    static const uint32_t bad_codes[] = {0, 30101, 20001, 20100, 101, 120101, UINT32_MAX};

    for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++) {
        valid_report(&r);
        r.problem_code = bad_codes[i];
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_INVALID_PROBLEM_CODE);
        r.event_time_ms = 0; /* wins over invalid_time */
        r.lat = 100;
        EXPECT(f, GS_SRC_REPORTS, "bad", r, GS_ERR_INVALID_PROBLEM_CODE);
    }
    valid_report(&r);
    r.problem_code = 29999;
    EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_OK);
    r.problem_code = 10101;
    EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_OK);
}

static void test_invalid_time(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    Gridstream__V1__SensorReading s;
    Gridstream__V1__VideoDetection v;
    Gridstream__V1__CaseEvent c;
    static const int64_t bad_times[] = {0, -1, INT64_MIN, INT64_MAX, INT64_C(253402300800000)};

    for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
        valid_report(&r);
        r.event_time_ms = bad_times[i];
        r.lat = NAN; /* invalid_time wins over invalid_number */
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_INVALID_TIME);
        assert_int_equal(f->ev.t, bad_times[i]);

        valid_sensor(&s);
        s.event_time_ms = bad_times[i];
        s.value = NAN;
        EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_ERR_INVALID_TIME);

        valid_video(&v);
        v.event_time_ms = bad_times[i];
        v.confidence = 7.0f;
        EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_TIME);

        valid_case(&c);
        c.event_time_ms = bad_times[i];
        c.stage = GRIDSTREAM__V1__STAGE__CLOSED;
        EXPECT(f, GS_SRC_CASES, "wrong key", c, GS_ERR_INVALID_TIME);
    }
    valid_report(&r);
    r.event_time_ms = 1;
    EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_OK);
    r.event_time_ms = INT64_C(253402300799999); /* 9999-12-31T23:59:59.999Z, the latest accepted */
    EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_OK);

    /* a FILED event must carry deadline_ms >= event_time_ms */
    valid_case(&c);
    c.deadline_ms = T0 - 1;
    EXPECT(f, GS_SRC_CASES, KEY, c, GS_ERR_INVALID_TIME);
    assert_int_equal(f->ev.t, T0);
    c.deadline_ms = 0;
    EXPECT(f, GS_SRC_CASES, "wrong key", c, GS_ERR_INVALID_TIME);
    c.stage = GRIDSTREAM__V1__STAGE__REWORK; /* only FILED carries a deadline */
    EXPECT(f, GS_SRC_CASES, KEY, c, GS_OK);
}

static void test_invalid_number(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    Gridstream__V1__SensorReading s;
    Gridstream__V1__VideoDetection v;
    const double bad[] = {NAN, INFINITY, -INFINITY};

    for (size_t i = 0; i < 3; i++) {
        valid_report(&r);
        r.lat = bad[i];
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_INVALID_NUMBER);
        valid_report(&r);
        r.lon = bad[i];
        r.lat = 95; /* invalid_number wins over invalid_position */
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_INVALID_NUMBER);

        valid_sensor(&s);
        s.value = bad[i];
        EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_ERR_INVALID_NUMBER);
        valid_sensor(&s);
        s.lat = bad[i];
        EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_ERR_INVALID_NUMBER);
        valid_sensor(&s);
        s.lon = bad[i];
        EXPECT(f, GS_SRC_SENSORS, "nope", s, GS_ERR_INVALID_NUMBER);

        valid_video(&v);
        v.lat = bad[i];
        EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_NUMBER);
        valid_video(&v);
        v.lon = bad[i];
        EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_NUMBER);
        valid_video(&v);
        v.confidence = (float)bad[i];
        EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_NUMBER);
    }
    /* confidence: the float32 widened to double, inside [0, 1] */
    valid_video(&v);
    v.confidence = 1.0000001f; /* 1 + 2^-23 */
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_NUMBER);
    v.confidence = -0.0001f;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_NUMBER);
    v.confidence = -1e-45f; /* smallest negative denormal */
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_NUMBER);
    v.confidence = 60.0f; /* a percentage is not a probability */
    v.lat = 91;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_NUMBER);
    v.confidence = 0.6f;
    v.lat = 21.66;
    EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_OK);
    assert_true((double)f->ev.m.video->confidence >= 0.6);
}

static void test_invalid_position(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    Gridstream__V1__SensorReading s;
    Gridstream__V1__VideoDetection v;

    static const double ok_lat[] = {90.0, -90.0, 0.0, 89.9999};
    static const double ok_lon[] = {180.0, -180.0, 0.0, 179.9999};
    for (size_t i = 0; i < 4; i++) {
        valid_report(&r);
        r.lat = ok_lat[i];
        r.lon = ok_lon[i];
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_OK);
    }
    static const double bad_lat[] = {90.0001, -90.0001, 1e300};
    for (size_t i = 0; i < 3; i++) {
        valid_report(&r);
        r.lat = bad_lat[i];
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_INVALID_POSITION);
        r.lon = 0;
        EXPECT(f, GS_SRC_REPORTS, "0" KEY, r, GS_ERR_INVALID_POSITION); /* wins over key */
        valid_sensor(&s);
        s.lat = bad_lat[i];
        EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_ERR_INVALID_POSITION);
        valid_video(&v);
        v.lat = bad_lat[i];
        EXPECT(f, GS_SRC_VIDEO, KEY, v, GS_ERR_INVALID_POSITION);
    }
    static const double bad_lon[] = {180.0001, -180.0001, 360.0};
    for (size_t i = 0; i < 3; i++) {
        valid_report(&r);
        r.lon = bad_lon[i];
        EXPECT(f, GS_SRC_REPORTS, KEY, r, GS_ERR_INVALID_POSITION);
        valid_sensor(&s);
        s.lon = bad_lon[i];
        EXPECT(f, GS_SRC_SENSORS, KEY, s, GS_ERR_INVALID_POSITION);
        valid_video(&v);
        v.lon = bad_lon[i];
        EXPECT(f, GS_SRC_VIDEO, NULL, v, GS_ERR_INVALID_POSITION);
    }
}

static void test_key_mismatch(void **state)
{
    fx_t *f = *state;
    Gridstream__V1__Report r;
    Gridstream__V1__CaseEvent c;
    static const char *const bad_keys[] = {
        "0440902001002003",
        "440902001002004",
        "440902001002003 ",
        " 440902001002003",
        "+440902001002003",
        "44090200100200",
        "",
        "440902001002003\n",
        "4409020010020030",
        "4.40902001002003e14",
    };

    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        valid_report(&r);
        EXPECT(f, GS_SRC_REPORTS, bad_keys[i], r, GS_ERR_KEY_MISMATCH);
        assert_int_equal(f->ev.t, T0);
        assert_non_null(f->ev.m.report);
        valid_case(&c);
        EXPECT(f, GS_SRC_CASES, bad_keys[i], c, GS_ERR_KEY_MISMATCH);
    }
    valid_report(&r);
    EXPECT(f, GS_SRC_REPORTS, NULL, r, GS_ERR_KEY_MISMATCH); /* no key */

    /* the key is (bytes, length), not a C string: a longer buffer cut at 15 matches, and a key
       with the right text followed by a NUL byte does not */
    size_t n = pack(&r.base, f->buf, sizeof(f->buf));
    gs_arena_reset(&f->a);
    assert_int_equal(gs_validate(GS_SRC_REPORTS, KEY "999", 15, f->buf, n, &f->a, &f->ev), GS_OK);
    assert_int_equal(gs_validate(GS_SRC_REPORTS, KEY, 16, f->buf, n, &f->a, &f->ev),
                     GS_ERR_KEY_MISMATCH);
    assert_int_equal(gs_validate(GS_SRC_REPORTS, KEY, 14, f->buf, n, &f->a, &f->ev),
                     GS_ERR_KEY_MISMATCH);
    /* the smallest and largest valid cells */
    r.cell = UINT64_C(100000000000001);
    EXPECT(f, GS_SRC_REPORTS, "100000000000001", r, GS_OK);
    r.cell = UINT64_C(999999999999999);
    EXPECT(f, GS_SRC_REPORTS, "999999999999999", r, GS_OK);
    EXPECT(f, GS_SRC_REPORTS, "999999999999998", r, GS_ERR_KEY_MISMATCH);
}

/* ---- the arena --------------------------------------------------------------------------------
 */

static void test_arena_alignment_and_reuse(void **state)
{
    (void)state;
    gs_arena_t a;
    gs_arena_init(&a, 256);
    assert_non_null(a.buf);
    assert_int_equal(a.cap, 256);
    uint8_t *p1 = a.pc.alloc(a.pc.allocator_data, 1);
    uint8_t *p2 = a.pc.alloc(a.pc.allocator_data, 3);
    uint8_t *p3 = a.pc.alloc(a.pc.allocator_data, 17);
    uint8_t *p4 = a.pc.alloc(a.pc.allocator_data, 0);
    assert_int_equal((uintptr_t)p1 % 16, 0);
    assert_int_equal((uintptr_t)p2 % 16, 0);
    assert_int_equal((uintptr_t)p3 % 16, 0);
    assert_int_equal((uintptr_t)p4 % 16, 0);
    assert_ptr_equal(p2, p1 + 16);
    assert_ptr_equal(p3, p2 + 16);
    assert_ptr_equal(p4, p3 + 32);
    assert_int_equal(a.used, 80);
    memset(p3, 0xab, 17);
    a.pc.free(a.pc.allocator_data, p3); /* no-op */
    assert_int_equal(a.used, 80);
    gs_arena_reset(&a);
    assert_int_equal(a.used, 0);
    assert_ptr_equal(a.pc.alloc(a.pc.allocator_data, 8), p1); /* reused from the start */
    gs_arena_fini(&a);
    assert_null(a.buf);
    gs_arena_fini(&a); /* twice is harmless */
}

static void test_arena_overflow_and_growth(void **state)
{
    (void)state;
    gs_arena_t a;
    gs_event_t ev;
    Gridstream__V1__Report r;
    char desc[3000];
    uint8_t buf[4096];

    gs_arena_init(&a, 64);
    valid_report(&r);
    memset(desc, 'x', sizeof(desc) - 1);
    desc[sizeof(desc) - 1] = '\0';
    r.description = desc;
    size_t n = pack(&r.base, buf, sizeof(buf));

    assert_int_equal(gs_validate(GS_SRC_REPORTS, KEY, 15, buf, n, &a, &ev), GS_OK);
    assert_non_null(a.extra); /* spilled into an overflow chunk */
    assert_int_equal(strlen(ev.m.report->description), sizeof(desc) - 1);
    assert_string_equal(ev.m.report->report_id, "R-1");
    for (size_t i = 0; i < sizeof(desc) - 1; i++)
        assert_int_equal(ev.m.report->description[i], 'x');

    gs_arena_reset(&a); /* frees the chunk and grows so that this record fits next time */
    assert_null(a.extra);
    assert_int_equal(a.used, 0);
    assert_true(a.cap >= 4096);
    assert_int_equal(a.cap & (a.cap - 1), 0); /* a power of two */
    size_t cap = a.cap;
    assert_int_equal(gs_validate(GS_SRC_REPORTS, KEY, 15, buf, n, &a, &ev), GS_OK);
    assert_null(a.extra);
    assert_int_equal(strlen(ev.m.report->description), sizeof(desc) - 1);
    gs_arena_reset(&a);
    assert_int_equal(a.cap, cap); /* stable */
    gs_arena_fini(&a);

    /* an arena without a main buffer still works (everything spills) */
    gs_arena_init(&a, 0);
    assert_null(a.buf);
    assert_int_equal(gs_validate(GS_SRC_REPORTS, KEY, 15, buf, n, &a, &ev), GS_OK);
    assert_int_equal(strlen(ev.m.report->description), sizeof(desc) - 1);
    gs_arena_fini(&a);
}

static void test_arena_huge_requests(void **state)
{
    (void)state;
    gs_arena_t a;
    gs_arena_init(&a, 4096);
    assert_null(a.pc.alloc(a.pc.allocator_data, SIZE_MAX));
    assert_null(a.pc.alloc(a.pc.allocator_data, SIZE_MAX - 8));
    assert_null(a.pc.alloc(a.pc.allocator_data, (size_t)1 << 40));
    assert_null(a.pc.alloc(a.pc.allocator_data, ((size_t)1 << 30) + 1));
    assert_int_equal(a.used, 0);
    assert_null(a.extra);
    /* still usable, and a big-but-sane request spills into its own chunk */
    void *p = a.pc.alloc(a.pc.allocator_data, 100000);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    memset(p, 1, 100000);
    assert_non_null(a.extra);
    void *q = a.pc.alloc(a.pc.allocator_data, 32);
    assert_ptr_equal(q, a.buf); /* small requests still use the main buffer */
    gs_arena_reset(&a);
    assert_int_equal(a.cap, 131072); /* doubled from 4096 until 100 032 bytes fit */
    assert_non_null(a.pc.alloc(a.pc.allocator_data, 3000000));
    gs_arena_reset(&a);
    assert_int_equal(a.cap, (size_t)1 << 20); /* growth is capped */
    gs_arena_fini(&a);
}

/* ---- decoder robustness -----------------------------------------------------------------------
 */

static const ProtobufCMessageDescriptor *desc_of(gs_source_t src)
{
    static const ProtobufCMessageDescriptor *const d[GS_SRC__COUNT] = {
        &gridstream__v1__report__descriptor,
        &gridstream__v1__sensor_reading__descriptor,
        &gridstream__v1__video_detection__descriptor,
        &gridstream__v1__case_event__descriptor,
    };
    return d[src];
}

/* Oracle: UTF-8 by decoding code points (a different method than validate.c's byte ranges). */
static bool oracle_utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp, min;
        size_t len;
        if (s[i] < 0x80) {
            cp = s[i];
            len = 1;
            min = 0;
        } else if ((s[i] & 0xe0) == 0xc0) {
            cp = s[i] & 0x1f;
            len = 2;
            min = 0x80;
        } else if ((s[i] & 0xf0) == 0xe0) {
            cp = s[i] & 0x0f;
            len = 3;
            min = 0x800;
        } else if ((s[i] & 0xf8) == 0xf0) {
            cp = s[i] & 0x07;
            len = 4;
            min = 0x10000;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

/* Oracle: every length-delimited occurrence of a string field holds valid UTF-8 without NUL. */
static bool oracle_strings_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint64_t tag = 0, len = 0;
        int shift = 0;
        do {
            if (i >= n || shift > 63) return false;
            tag |= (uint64_t)(p[i] & 0x7f) << shift;
            shift += 7;
        } while (p[i++] & 0x80);
        switch (tag & 7) {
        case 0:
            while (i < n && (p[i] & 0x80))
                i++;
            i++;
            break;
        case 1:
            i += 8;
            break;
        case 5:
            i += 4;
            break;
        case 2:
            shift = 0;
            do {
                if (i >= n || shift > 63) return false;
                len |= (uint64_t)(p[i] & 0x7f) << shift;
                shift += 7;
            } while (p[i++] & 0x80);
            if (len > n - i) return false;
            for (unsigned k = 0; k < d->n_fields; k++)
                if (d->fields[k].id == (tag >> 3) && d->fields[k].type == PROTOBUF_C_TYPE_STRING &&
                    !oracle_utf8_ok(p + i, (size_t)len))
                    return false;
            i += (size_t)len;
            break;
        default:
            return false;
        }
    }
    return true;
}

static bool oracle_cell_ok(uint64_t cell)
{
    char s[32];
    int n = snprintf(s, sizeof(s), "%llu", (unsigned long long)cell);
    return n == 15 && strcmp(s + 12, "000") != 0;
}

static bool oracle_problem_ok(uint32_t p)
{
    return (p / 10000 == 1 || p / 10000 == 2) && (p / 100) % 100 != 0 && p % 100 != 0;
}

static bool oracle_key_ok(const char *key, uint64_t cell)
{
    char s[32];
    snprintf(s, sizeof(s), "%llu", (unsigned long long)cell);
    return key != NULL && strcmp(key, s) == 0;
}

/* The reason SPEC §3 assigns to message `m` (already decoded) with key `key`. */
static gs_err_t oracle_reason(gs_source_t src, const ProtobufCMessage *m, const char *key)
{
    switch (src) {
    case GS_SRC_REPORTS: {
        const Gridstream__V1__Report *r = (const void *)m;
        if (!*r->report_id) return GS_ERR_MISSING_ID;
        if (!(r->channel == 1 || (r->channel >= 4 && r->channel <= 9))) return GS_ERR_INVALID_ENUM;
        if (!oracle_cell_ok(r->cell)) return GS_ERR_INVALID_CELL;
        if (!oracle_problem_ok(r->problem_code)) return GS_ERR_INVALID_PROBLEM_CODE;
        if (r->event_time_ms < 1 || r->event_time_ms > INT64_C(253402300799999))
            return GS_ERR_INVALID_TIME;
        if (isnan(r->lat) || isinf(r->lat) || isnan(r->lon) || isinf(r->lon))
            return GS_ERR_INVALID_NUMBER;
        if (r->lat > 90 || r->lat < -90 || r->lon > 180 || r->lon < -180)
            return GS_ERR_INVALID_POSITION;
        return oracle_key_ok(key, r->cell) ? GS_OK : GS_ERR_KEY_MISMATCH;
    }
    case GS_SRC_SENSORS: {
        const Gridstream__V1__SensorReading *s = (const void *)m;
        if (!*s->sensor_id) return GS_ERR_MISSING_ID;
        if (s->kind < 1 || s->kind > 7 || s->state < 1 || s->state > 2) return GS_ERR_INVALID_ENUM;
        if (!oracle_cell_ok(s->cell)) return GS_ERR_INVALID_CELL;
        if (s->event_time_ms < 1 || s->event_time_ms > INT64_C(253402300799999))
            return GS_ERR_INVALID_TIME;
        if (isnan(s->lat) || isinf(s->lat) || isnan(s->lon) || isinf(s->lon) || isnan(s->value) ||
            isinf(s->value))
            return GS_ERR_INVALID_NUMBER;
        if (s->lat > 90 || s->lat < -90 || s->lon > 180 || s->lon < -180)
            return GS_ERR_INVALID_POSITION;
        return oracle_key_ok(key, s->cell) ? GS_OK : GS_ERR_KEY_MISMATCH;
    }
    case GS_SRC_VIDEO: {
        const Gridstream__V1__VideoDetection *v = (const void *)m;
        if (!*v->detection_id || !*v->camera_id) return GS_ERR_MISSING_ID;
        if (!oracle_cell_ok(v->cell)) return GS_ERR_INVALID_CELL;
        if (v->event_time_ms < 1 || v->event_time_ms > INT64_C(253402300799999))
            return GS_ERR_INVALID_TIME;
        if (isnan(v->lat) || isinf(v->lat) || isnan(v->lon) || isinf(v->lon) ||
            isnan(v->confidence) || v->confidence < 0.0f || v->confidence > 1.0f)
            return GS_ERR_INVALID_NUMBER;
        if (v->lat > 90 || v->lat < -90 || v->lon > 180 || v->lon < -180)
            return GS_ERR_INVALID_POSITION;
        return oracle_key_ok(key, v->cell) ? GS_OK : GS_ERR_KEY_MISMATCH;
    }
    default: {
        const Gridstream__V1__CaseEvent *c = (const void *)m;
        if (!*c->case_id || !*c->ref_id) return GS_ERR_MISSING_ID;
        if (c->stage < 1 || c->stage > 7 || c->ref_channel < 1 || c->ref_channel > 9)
            return GS_ERR_INVALID_ENUM;
        if (!oracle_cell_ok(c->cell)) return GS_ERR_INVALID_CELL;
        if (c->event_time_ms < 1 || c->event_time_ms > INT64_C(253402300799999) ||
            (c->stage == 1 && c->deadline_ms < c->event_time_ms))
            return GS_ERR_INVALID_TIME;
        return oracle_key_ok(key, c->cell) ? GS_OK : GS_ERR_KEY_MISMATCH;
    }
    }
}

static int64_t oracle_time(gs_source_t src, const ProtobufCMessage *m)
{
    switch (src) {
    case GS_SRC_REPORTS:
        return ((const Gridstream__V1__Report *)m)->event_time_ms;
    case GS_SRC_SENSORS:
        return ((const Gridstream__V1__SensorReading *)m)->event_time_ms;
    case GS_SRC_VIDEO:
        return ((const Gridstream__V1__VideoDetection *)m)->event_time_ms;
    default:
        return ((const Gridstream__V1__CaseEvent *)m)->event_time_ms;
    }
}

typedef struct tally {
    unsigned n[GS_REASON_COUNT + 1]; /* [0] = OK, [i] = reason -i */
} tally_t;

/*
 * Validates (src, key, bytes) and checks the outcome against the oracle: protobuf-c's own unpack
 * with the default allocator (and the proto3 string rule) decides `decode`; if the bytes decode,
 * the oracle's reason and the merge time must match.
 */
static gs_err_t check_against_oracle(fx_t *f, gs_source_t src, const char *key, const uint8_t *p,
                                     size_t n, tally_t *t)
{
    gs_arena_reset(&f->a);
    gs_err_t got = gs_validate(src, key, key ? strlen(key) : 0, p, n, &f->a, &f->ev);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc_of(src), NULL, n, p);
    gs_err_t want = GS_ERR_DECODE;
    int64_t want_t = GS_TIME_MIN;

    if (m != NULL && oracle_strings_ok(desc_of(src), p, n)) {
        want = oracle_reason(src, m, key);
        want_t = oracle_time(src, m);
    }
    if (got != want)
        fail_msg("%s, %zu bytes: got %s, oracle says %s", gs_source_topic[src], n, gs_err_str(got),
                 gs_err_str(want));
    assert_int_equal(f->ev.t, want_t);
    assert_int_equal(f->ev.src, src);
    if (want == GS_ERR_DECODE) {
        assert_null(f->ev.m.base);
    } else {
        assert_non_null(f->ev.m.base);
        assert_ptr_equal(f->ev.m.base->descriptor, desc_of(src));
    }
    protobuf_c_message_free_unpacked(m, NULL);
    assert_true(got == GS_OK || (got >= GS_ERR_KEY_MISMATCH && got <= GS_ERR_DECODE));
    if (t != NULL) t->n[-(int)got]++;
    return got;
}

static size_t pack_valid(gs_source_t src, uint8_t *buf, size_t cap)
{
    Gridstream__V1__Report r;
    Gridstream__V1__SensorReading s;
    Gridstream__V1__VideoDetection v;
    Gridstream__V1__CaseEvent c;
    switch (src) {
    case GS_SRC_REPORTS:
        valid_report(&r);
        return pack(&r.base, buf, cap);
    case GS_SRC_SENSORS:
        valid_sensor(&s);
        return pack(&s.base, buf, cap);
    case GS_SRC_VIDEO:
        valid_video(&v);
        return pack(&v.base, buf, cap);
    default:
        valid_case(&c);
        return pack(&c.base, buf, cap);
    }
}

/* Every prefix of a valid record: decode, or the reason its decodable prefix deserves. */
static void test_truncations(void **state)
{
    fx_t *f = *state;
    uint8_t rec[512];

    for (int src = 0; src < GS_SRC__COUNT; src++) {
        tally_t t = {{0}};
        size_t len = pack_valid((gs_source_t)src, rec, sizeof(rec));
        assert_true(len > 40);
        assert_int_equal(check_against_oracle(f, (gs_source_t)src, KEY, rec, len, NULL), GS_OK);
        for (size_t cut = 0; cut < len; cut++) {
            /* a copy of exactly `cut` bytes, so that ASan sees any read past the prefix */
            uint8_t *prefix = malloc(cut ? cut : 1);
            assert_non_null(prefix);
            memcpy(prefix, rec, cut);
            check_against_oracle(f, (gs_source_t)src, KEY, prefix, cut, &t);
            free(prefix);
        }
        /* every input type starts with its id: the empty prefix is missing_id, and most cuts
           fall inside a field */
        assert_true(t.n[-GS_ERR_MISSING_ID] >= 1);
        assert_true(t.n[-GS_ERR_DECODE] > len / 2);
    }
    /* Report: only a cut before the optional reporter_id/description leaves a complete record */
    Gridstream__V1__Report r;
    valid_report(&r);
    size_t full = pack(&r.base, rec, sizeof(rec));
    r.reporter_id = "";
    r.description = "";
    size_t required = protobuf_c_message_get_packed_size(&r.base);
    assert_int_equal(check_against_oracle(f, GS_SRC_REPORTS, KEY, rec, required, NULL), GS_OK);
    assert_int_equal(check_against_oracle(f, GS_SRC_REPORTS, KEY, rec, required + 1, NULL),
                     GS_ERR_DECODE);
    assert_true(required < full);
}

/* xorshift64*: a fixed, platform-independent sequence. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static void test_random_bytes(void **state)
{
    fx_t *f = *state;
    uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);

    for (int src = 0; src < GS_SRC__COUNT; src++) {
        tally_t t = {{0}};
        for (int i = 0; i < 10000; i++) {
            size_t n = (size_t)(rng_next(&seed) % 201);
            uint8_t *p = malloc(n ? n : 1);
            assert_non_null(p);
            for (size_t k = 0; k < n; k++)
                p[k] = (uint8_t)(rng_next(&seed) >> 56);
            check_against_oracle(f, (gs_source_t)src, KEY, p, n, &t);
            free(p);
        }
        /* random bytes are almost never a message; some short ones are */
        assert_true(t.n[-GS_ERR_DECODE] > 9000);
        assert_true(t.n[-GS_ERR_DECODE] < 10000);
    }
}

static void test_mutated_records(void **state)
{
    fx_t *f = *state;
    uint64_t seed = 42;
    uint8_t rec[512], mut[512];

    for (int src = 0; src < GS_SRC__COUNT; src++) {
        tally_t t = {{0}};
        size_t len = pack_valid((gs_source_t)src, rec, sizeof(rec));
        for (int i = 0; i < 3000; i++) {
            memcpy(mut, rec, len);
            int flips = 1 + (int)(rng_next(&seed) % 3);
            for (int k = 0; k < flips; k++) {
                size_t pos = (size_t)(rng_next(&seed) % len);
                mut[pos] ^= (uint8_t)(1u << (rng_next(&seed) % 8));
            }
            uint8_t *p = malloc(len);
            assert_non_null(p);
            memcpy(p, mut, len);
            check_against_oracle(f, (gs_source_t)src, KEY, p, len, &t);
            free(p);
        }
        /* flips hit every kind of outcome: still-valid records, decode errors and rejections */
        assert_true(t.n[0] > 0);
        assert_true(t.n[-GS_ERR_DECODE] > 0);
        unsigned rejected = 0;
        for (int r = 2; r <= GS_REASON_COUNT; r++)
            rejected += t.n[r];
        assert_true(rejected > 0);
    }
}

/* ---- err.c: reason names (the DLQ header), topic names, the sink helper ---------------------- */

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const names[GS_REASON_COUNT] = {
        "decode",          "missing_id",           "invalid_enum",
        "invalid_cell",    "invalid_problem_code", "invalid_time",
        "invalid_number",  "invalid_position",     "key_mismatch",
        "wrong_partition", "unknown_ref",
    };
    for (int i = 0; i < GS_REASON_COUNT; i++) {
        gs_err_t e = (gs_err_t)(-(i + 1));
        assert_true(gs_err_is_reason(e));
        assert_int_equal(gs_reason_index(e), i);
        assert_string_equal(gs_err_str(e), names[i]);
        assert_int_equal(gs_err_from_reason(names[i]), e);
    }
    assert_string_equal(gs_err_str(GS_OK), "ok");
    assert_string_equal(gs_err_str(GS_ERR_NOMEM), "nomem");
    assert_string_equal(gs_err_str(GS_ERR_IO), "io");
    assert_string_equal(gs_err_str(GS_ERR_CONFIG), "config");
    assert_string_equal(gs_err_str(GS_ERR_FORMAT), "format");
    assert_string_equal(gs_err_str(GS_ERR_INVAL), "invalid_argument");
    assert_string_equal(gs_err_str(GS_ERR_NOENT), "not_found");
    assert_string_equal(gs_err_str((gs_err_t)-12), "unknown");
    assert_string_equal(gs_err_str((gs_err_t)5), "unknown");
    assert_false(gs_err_is_reason(GS_OK));
    assert_false(gs_err_is_reason(GS_ERR_NOMEM));
    assert_int_equal(gs_err_from_reason("ok"), GS_OK);
    assert_int_equal(gs_err_from_reason("nomem"), GS_OK);
    assert_int_equal(gs_err_from_reason("DECODE"), GS_OK);
    assert_int_equal(gs_err_from_reason(""), GS_OK);
    assert_int_equal(gs_err_from_reason(NULL), GS_OK);

    assert_string_equal(gs_source_topic[GS_SRC_REPORTS], "city.reports");
    assert_string_equal(gs_source_topic[GS_SRC_SENSORS], "city.sensors");
    assert_string_equal(gs_source_topic[GS_SRC_VIDEO], "city.video");
    assert_string_equal(gs_source_topic[GS_SRC_CASES], "city.cases");
    assert_string_equal(gs_output_topic[GS_OUT_KPI], "gridstream.kpi");
    assert_string_equal(gs_output_topic[GS_OUT_INCIDENTS], "gridstream.incidents");
    assert_string_equal(gs_output_topic[GS_OUT_ALERTS], "gridstream.alerts");
    assert_string_equal(gs_output_topic[GS_OUT_SCORECARDS], "gridstream.scorecards");
    assert_string_equal(gs_output_topic[GS_OUT_DLQ], "gridstream.dlq");
}

typedef struct capture {
    int calls;
    gs_output_t topic;
    char key[64];
    size_t klen;
    uint8_t *val;
    size_t vlen;
} capture_t;

static void capture_emit(void *ctx, gs_output_t topic, const void *key, size_t klen,
                         const void *val, size_t vlen)
{
    capture_t *c = ctx;
    c->calls++;
    c->topic = topic;
    c->klen = klen;
    memcpy(c->key, key, klen < sizeof(c->key) ? klen : sizeof(c->key) - 1);
    free(c->val);
    c->val = malloc(vlen ? vlen : 1);
    memcpy(c->val, val, vlen);
    c->vlen = vlen;
}

static void test_sink_emit_msg(void **state)
{
    (void)state;
    capture_t cap = {0};
    gs_sink_t sink = {capture_emit, &cap};

    /* small: packed on the stack */
    Gridstream__V1__Alert al = GRIDSTREAM__V1__ALERT__INIT;
    al.alert_id = "CRITICAL:440902001002003-10101-1-3-S-9:0";
    al.kind = GRIDSTREAM__V1__ALERT_KIND__CRITICAL;
    al.cell = CELL;
    al.count = 1;
    assert_int_equal(gs_sink_emit_msg(&sink, GS_OUT_ALERTS, al.alert_id, &al.base), GS_OK);
    assert_int_equal(cap.calls, 1);
    assert_int_equal(cap.topic, GS_OUT_ALERTS);
    assert_int_equal(cap.klen, strlen(al.alert_id));
    assert_memory_equal(cap.key, al.alert_id, cap.klen);
    assert_int_equal(cap.vlen, protobuf_c_message_get_packed_size(&al.base));
    Gridstream__V1__Alert *back = gridstream__v1__alert__unpack(NULL, cap.vlen, cap.val);
    assert_non_null(back);
    assert_string_equal(back->alert_id, al.alert_id);
    assert_int_equal(back->cell, CELL);
    assert_int_equal(back->kind, 2);
    gridstream__v1__alert__free_unpacked(back, NULL);

    /* exactly 4096 and above: the heap path, same bytes */
    static char text[10000];
    for (size_t want = 4095; want <= 4098; want++) {
        /* Alert.message (field 8): 1 tag byte + 2 length bytes + text */
        Gridstream__V1__Alert big = GRIDSTREAM__V1__ALERT__INIT;
        memset(text, 'm', want - 3);
        text[want - 3] = '\0';
        big.message = text;
        assert_int_equal(protobuf_c_message_get_packed_size(&big.base), want);
        assert_int_equal(gs_sink_emit_msg(&sink, GS_OUT_ALERTS, "k", &big.base), GS_OK);
        assert_int_equal(cap.vlen, want);
        back = gridstream__v1__alert__unpack(NULL, cap.vlen, cap.val);
        assert_non_null(back);
        assert_int_equal(strlen(back->message), want - 3);
        gridstream__v1__alert__free_unpacked(back, NULL);
    }
    Gridstream__V1__Scorecard sc = GRIDSTREAM__V1__SCORECARD__INIT;
    memset(text, 'y', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    sc.month = text;
    sc.city = 4409;
    assert_int_equal(gs_sink_emit_msg(&sink, GS_OUT_SCORECARDS, "4409:2024-06", &sc.base), GS_OK);
    assert_int_equal(cap.topic, GS_OUT_SCORECARDS);
    assert_memory_equal(cap.key, "4409:2024-06", 12);
    Gridstream__V1__Scorecard *sb = gridstream__v1__scorecard__unpack(NULL, cap.vlen, cap.val);
    assert_non_null(sb);
    assert_int_equal(sb->city, 4409);
    assert_int_equal(strlen(sb->month), sizeof(text) - 1);
    gridstream__v1__scorecard__free_unpacked(sb, NULL);
    assert_int_equal(cap.calls, 6);
    free(cap.val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_sensor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_video, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_enum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_cell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_problem_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_mismatch, setup, teardown),
        cmocka_unit_test(test_arena_alignment_and_reuse),
        cmocka_unit_test(test_arena_overflow_and_growth),
        cmocka_unit_test(test_arena_huge_requests),
        cmocka_unit_test_setup_teardown(test_truncations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutated_records, setup, teardown),
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_sink_emit_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
