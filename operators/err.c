/*
 * err.c - the names gridstream shows to the outside world: the short error names (for input
 * rejections these are the DLQ `error` header values of SPEC §3, so they are part of the
 * contract), the input and output topic names, and the one helper every operator uses to hand a
 * protobuf message to the sink.
 *
 * Everything here is a const table or a pure function; no state.
 */
#include <stdlib.h>
#include <string.h>

#include "gs.h"

/* Reason names, indexed by gs_reason_index(): -1 "decode" ... -11 "unknown_ref". */
static const char *const gs_reason_name[GS_REASON_COUNT] = {
    "decode",       "missing_id",     "invalid_enum",     "invalid_cell", "invalid_problem_code",
    "invalid_time", "invalid_number", "invalid_position", "key_mismatch", "wrong_partition",
    "unknown_ref",
};

const char *const gs_source_topic[GS_SRC__COUNT] = {
    "city.reports",
    "city.sensors",
    "city.video",
    "city.cases",
};

const char *const gs_output_topic[GS_OUT__COUNT] = {
    "gridstream.kpi",        "gridstream.incidents", "gridstream.alerts",
    "gridstream.scorecards", "gridstream.dlq",
};

/* Packed records up to this size are built on the stack; larger ones (scorecards) on the heap. */
#define GS_EMIT_STACK_MAX 4096

const char *gs_err_str(gs_err_t e)
{
    if (gs_err_is_reason(e)) return gs_reason_name[gs_reason_index(e)];
    switch (e) {
    case GS_OK:
        return "ok";
    case GS_ERR_NOMEM:
        return "nomem";
    case GS_ERR_IO:
        return "io";
    case GS_ERR_CONFIG:
        return "config";
    case GS_ERR_FORMAT:
        return "format";
    case GS_ERR_INVAL:
        return "invalid_argument";
    case GS_ERR_NOENT:
        return "not_found";
    default:
        return "unknown";
    }
}

gs_err_t gs_err_from_reason(const char *name)
{
    if (name == NULL) return GS_OK;
    for (int i = 0; i < GS_REASON_COUNT; i++)
        if (strcmp(name, gs_reason_name[i]) == 0) return (gs_err_t)(-(i + 1));
    return GS_OK;
}

gs_err_t gs_sink_emit_msg(const gs_sink_t *sink, gs_output_t topic, const char *key,
                          const ProtobufCMessage *msg)
{
    uint8_t stackbuf[GS_EMIT_STACK_MAX];
    uint8_t *buf = stackbuf;
    size_t len = protobuf_c_message_get_packed_size(msg);
    size_t klen = key ? strlen(key) : 0;

    if (len > sizeof(stackbuf)) {
        buf = malloc(len);
        if (buf == NULL) return GS_ERR_NOMEM;
    }
    size_t packed = protobuf_c_message_pack(msg, buf);
    sink->emit(sink->ctx, topic, key, klen, buf, packed);
    if (buf != stackbuf) free(buf);
    return GS_OK;
}

bool gs_reserve(void *arrp, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *old;
    memcpy(&old, arrp, sizeof(old)); /* arrp points at a T *: same representation as void * */
    void *na = realloc(old, nc * size);
    if (!na) return false;
    memcpy(arrp, &na, sizeof(na));
    *cap = nc;
    return true;
}
