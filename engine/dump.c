/*
 * dump.c - JSON rendering of protobuf-c messages by walking their descriptors (protobuf-c has no
 * JSON support of its own), and the `dump` command over record files.
 */
#include "dump.h"

#include <math.h>
#include <string.h>

#include "codes.h"
#include "recfile.h"

void gs_json_bytes(FILE *out, const void *data, size_t n)
{
    const uint8_t *p = data;
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
        } else if (c >= 0x80) {
            size_t len = gs_utf8_seq_len(p + i, n - i);
            if (len) {
                fwrite(p + i, 1, len, out);
                i += len;
                continue;
            }
            fputs("\\ufffd", out);
        } else {
            fputc(c, out);
        }
        i++;
    }
    fputc('"', out);
}

static void json_string(FILE *out, const char *s)
{
    gs_json_bytes(out, s, strlen(s));
}

static void json_double(FILE *out, double v)
{
    if (isnan(v) || isinf(v))
        fputs("null", out);
    else
        fprintf(out, "%.17g", v);
}

static void json_value(FILE *out, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        fprintf(out, "%d", *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        fprintf(out, "%u", *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        fprintf(out, "%lld", (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        json_double(out, (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        json_double(out, *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fputs(*(const protobuf_c_boolean *)p ? "true" : "false", out);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)f->descriptor, v);
        if (ev)
            json_string(out, ev->name);
        else
            fprintf(out, "%d", v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        json_string(out, *(char *const *)p ? *(char *const *)p : "");
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        fprintf(out, "{\"bytes\":%zu}", b->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (m)
            gs_json_message(out, m);
        else
            fputs("null", out);
        break;
    }
    }
}

static size_t type_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

void gs_json_message(FILE *out, const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    fputc('{', out);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const uint8_t *base = (const uint8_t *)msg;
        if (i) fputc(',', out);
        json_string(out, f->name);
        fputc(':', out);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const uint8_t *arr = *(uint8_t *const *)(base + f->offset);
            fputc('[', out);
            for (size_t j = 0; j < n; j++) {
                if (j) fputc(',', out);
                json_value(out, f, arr + j * type_size(f));
            }
            fputc(']', out);
        } else {
            json_value(out, f, base + f->offset);
        }
    }
    fputc('}', out);
}

const ProtobufCMessageDescriptor *gs_topic_descriptor(const char *name, bool within)
{
    static const struct {
        const char *topic;
        const ProtobufCMessageDescriptor *d;
    } map[] = {
        {"gridstream.kpi", &gridstream__v1__kpi_record__descriptor},
        {"gridstream.incidents", &gridstream__v1__incident__descriptor},
        {"gridstream.alerts", &gridstream__v1__alert__descriptor},
        {"gridstream.scorecards", &gridstream__v1__scorecard__descriptor},
        {"city.reports", &gridstream__v1__report__descriptor},
        {"city.sensors", &gridstream__v1__sensor_reading__descriptor},
        {"city.video", &gridstream__v1__video_detection__descriptor},
        {"city.cases", &gridstream__v1__case_event__descriptor},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (within ? strstr(name, map[i].topic) != NULL : strcmp(name, map[i].topic) == 0)
            return map[i].d;
    return NULL; /* gridstream.dlq and unknown topics: no message type */
}

int gs_dump_main(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0) {
        fprintf(
            stderr,
            "usage: gridstream dump FILE...\n"
            "  decodes record files to JSON lines {\"key\":...,\"value\":{...}}; the message type\n"
            "  follows the topic in the file name (gridstream.kpi.rec, city/city.reports/0.rec, "
            "...);\n"
            "  DLQ and unknown files show the value's size only\n");
        return 2;
    }
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        gs_recreader_t rd;
        char err[1024];
        if (gs_recreader_open(&rd, argv[i], false, err, sizeof(err)) != GS_OK) {
            fprintf(stderr, "gridstream dump: %s\n", err);
            gs_recreader_close(&rd);
            rc = 1;
            continue;
        }
        const ProtobufCMessageDescriptor *d = gs_topic_descriptor(argv[i], true);
        gs_rec_t rec;
        gs_err_t e;
        while ((e = gs_recreader_next(&rd, &rec, err, sizeof(err))) == GS_OK) {
            char key[1024];
            snprintf(key, sizeof(key), "%.*s", (int)rec.klen, (const char *)rec.key);
            fputs("{\"key\":", stdout);
            json_string(stdout, key);
            fputs(",\"value\":", stdout);
            ProtobufCMessage *m = d ? protobuf_c_message_unpack(d, NULL, rec.vlen, rec.val) : NULL;
            if (m) {
                gs_json_message(stdout, m);
                protobuf_c_message_free_unpacked(m, NULL);
            } else {
                printf("{\"bytes\":%u%s}", rec.vlen, d ? ",\"error\":\"decode\"" : "");
            }
            fputs("}\n", stdout);
        }
        if (e != GS_ERR_NOENT) {
            fprintf(stderr, "gridstream dump: %s\n", err);
            rc = 1;
        }
        gs_recreader_close(&rd);
    }
    return rc;
}
