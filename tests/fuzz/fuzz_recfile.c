/*
 * fuzz_recfile.c - fuzz target: the replay record file reader (engine/recfile.c) over any bytes.
 *
 * The input is the file. Invariants: every record returned lies inside the file, starts where the
 * previous one ended, and carries the bytes and lengths its header gives; the walk ends at exactly
 * the end of the file (GS_ERR_NOENT) or at the first record that cannot be framed
 * (GS_ERR_FORMAT, with a message naming the file and that record's byte offset), and stays there;
 * and writing the records read with gs_recwriter gives back the same bytes.
 */
#include <string.h>
#include <inttypes.h>

#include "fuzz.h"
#include "recfile.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* True iff a whole record can be framed at data[pos..size). */
static bool frames(const uint8_t *data, size_t size, size_t pos)
{
    if (size - pos < 4) return false;
    uint64_t kl = be32(data + pos);
    if (kl > size - pos - 4) return false;
    size_t vpos = pos + 4 + (size_t)kl;
    if (size - vpos < 4) return false;
    return be32(data + vpos) <= size - vpos - 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gs_fuzz_file_t in, out;
    const char *path = gs_fuzz_file_set(&in, "recfile-in", data, size);
    const char *opath = gs_fuzz_file_set(&out, "recfile-out", NULL, 0);
    char err[512] = "";
    gs_recreader_t r;
    gs_recwriter_t w;

    GS_FUZZ_CHECK(gs_recreader_open(&r, path, false, err, sizeof(err)) == GS_OK, "open: %s", err);
    GS_FUZZ_CHECK(r.size == size, "size %zu, file %zu", r.size, size);
    GS_FUZZ_CHECK(gs_recwriter_open(&w, opath, err, sizeof(err)) == GS_OK, "open: %s", err);

    size_t pos = 0;
    uint64_t n = 0;
    gs_rec_t rec;
    gs_err_t e;
    while ((e = gs_recreader_next(&r, &rec, err, sizeof(err))) == GS_OK) {
        GS_FUZZ_CHECK(rec.offset == pos, "record %" PRIu64 " at %" PRIu64 ", expected %zu", n,
                      rec.offset, pos);
        GS_FUZZ_CHECK(frames(data, size, pos), "record at %zu cannot be framed", pos);
        const uint8_t *base = r.data;
        GS_FUZZ_CHECK(rec.key == base + pos + 4 && rec.klen == be32(data + pos), "key of %zu", pos);
        size_t vpos = pos + 4 + rec.klen;
        GS_FUZZ_CHECK(rec.val == base + vpos + 4 && rec.vlen == be32(data + vpos), "value of %zu",
                      pos);
        GS_FUZZ_CHECK(vpos + 4 + rec.vlen <= size, "record at %zu runs past the end", pos);
        GS_FUZZ_CHECK(memcmp(rec.key, data + pos + 4, rec.klen) == 0 &&
                          memcmp(rec.val, data + vpos + 4, rec.vlen) == 0,
                      "record at %zu: other bytes than the file's", pos);
        gs_recwriter_put(&w, rec.key, rec.klen, rec.val, rec.vlen);
        pos = vpos + 4 + rec.vlen;
        n++;
        GS_FUZZ_CHECK(r.index == n && r.pos == pos, "reader position");
        GS_FUZZ_CHECK(gs_recreader_more(&r) == (pos < size), "more() at %zu", pos);
    }
    if (e == GS_ERR_NOENT) {
        GS_FUZZ_CHECK(pos == size, "clean end at %zu of %zu bytes", pos, size);
    } else {
        GS_FUZZ_CHECK(e == GS_ERR_FORMAT, "unexpected %s", gs_err_str(e));
        GS_FUZZ_CHECK(pos < size && !frames(data, size, pos), "format error at a good record");
        char where[64];
        snprintf(where, sizeof(where), "byte offset %zu ", pos);
        GS_FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 && strstr(err, where) != NULL,
                      "message '%s' must name %s and %s", err, path, where);
        /* the error is sticky: the same record fails again */
        GS_FUZZ_CHECK(gs_recreader_next(&r, &rec, err, sizeof(err)) == GS_ERR_FORMAT,
                      "second read after an error");
    }
    GS_FUZZ_CHECK(gs_recwriter_close(&w, err, sizeof(err)) == GS_OK, "write: %s", err);
    gs_recreader_close(&r);

    size_t wlen;
    uint8_t *written = gs_fuzz_file_get(&out, &wlen);
    GS_FUZZ_CHECK(wlen == pos && memcmp(written, data, pos) == 0,
                  "records written again: %zu bytes, read %zu", wlen, pos);
    free(written);
    return 0;
}
