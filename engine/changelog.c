/*
 * changelog.c - changelog record formats and the read-back rule of changelog.h.
 */
#include "changelog.h"

#include <stdlib.h>
#include <string.h>

size_t gs_clog_key(uint8_t *out, gs_ns_t ns, const void *key, size_t klen)
{
    out[0] = (uint8_t)ns;
    memcpy(out + 1, key, klen);
    return klen + 1;
}

void gs_clog_header(uint8_t out[GS_CLOG_HEADER_LEN], int64_t seq, uint64_t nonce)
{
    gs_put_be64(out, (uint64_t)seq);
    gs_put_be64(out + 8, (uint64_t)nonce);
}

size_t gs_clog_marker(uint8_t out[GS_CLOG_MARKER_MAX], int64_t seq, uint64_t nonce,
                      const int64_t *positions, int npos)
{
    if (npos > GS_CHECKPOINT_POSITIONS) npos = GS_CHECKPOINT_POSITIONS;
    gs_put_be64(out, (uint64_t)seq);
    gs_put_be64(out + 8, (uint64_t)nonce);
    out[16] = (uint8_t)npos;
    for (int i = 0; i < npos; i++)
        gs_put_be64(out + 17 + 8 * i, (uint64_t)positions[i]);
    return 17 + 8 * (size_t)npos;
}

/* A buffered entry: [ns u8][del u8][klen u32][vlen u32][key][val] */
struct gs_clog_reader {
    gs_statedb_batch_t *out;
    uint32_t dbid;
    gs_checkpoint_t applied; /* what `out` holds */
    /* the open group */
    bool open;
    int64_t seq;
    uint64_t nonce;
    bool complete; /* its marker has been read */
    int64_t marker_positions[GS_CHECKPOINT_POSITIONS];
    int marker_npos;
    int64_t next_offset; /* offset after the group's last record */
    uint8_t *buf;
    size_t len, cap, n;
    uint64_t read, napplied, dropped;
    int64_t max_seq; /* groups beyond it are dropped (gs_clog_reader_limit) */
};

gs_clog_reader_t *gs_clog_reader_new(gs_statedb_batch_t *out, uint32_t dbid,
                                     const gs_checkpoint_t *start)
{
    gs_clog_reader_t *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->out = out;
    r->dbid = dbid;
    r->applied = *start;
    r->max_seq = INT64_MAX;
    return r;
}

void gs_clog_reader_destroy(gs_clog_reader_t *r)
{
    if (!r) return;
    free(r->buf);
    free(r);
}

static void group_apply(gs_clog_reader_t *r)
{
    for (size_t off = 0; off < r->len;) {
        const uint8_t *p = r->buf + off;
        uint32_t kl, vl;
        memcpy(&kl, p + 2, 4);
        memcpy(&vl, p + 6, 4);
        gs_statedb_batch_put(r->out, r->dbid, (gs_ns_t)p[0], p + 10, kl, p[1] ? NULL : p + 10 + kl,
                             vl);
        off += 10 + (size_t)kl + vl;
    }
    r->napplied += r->n;
    r->applied.seq = r->seq;
    r->applied.changelog_offset = r->next_offset;
    if (r->complete)
        for (int i = 0; i < r->marker_npos; i++)
            r->applied.positions[i] = r->marker_positions[i];
}

static void group_close(gs_clog_reader_t *r, bool apply)
{
    if (!r->open) return;
    if (apply && r->seq <= r->max_seq)
        group_apply(r);
    else
        r->dropped += r->n + (r->complete ? 1 : 0);
    r->open = false;
    r->complete = false;
    r->len = r->n = 0;
}

gs_err_t gs_clog_reader_add(gs_clog_reader_t *r, int64_t offset, const void *key, size_t klen,
                            const void *val, size_t vlen, const void *hdr, size_t hlen)
{
    r->read++;
    if (!hdr || hlen != GS_CLOG_HEADER_LEN || klen < 1) {
        r->dropped++;
        return GS_OK;
    }
    int64_t seq = (int64_t)gs_get_be64(hdr);
    uint64_t nonce = gs_get_be64((const uint8_t *)hdr + 8);
    if (r->open && (seq != r->seq || nonce != r->nonce)) {
        /* a new group: the open one survives only if this one moved forward */
        group_close(r, seq > r->seq && (r->complete || r->n > 0));
    }
    if (!r->open) {
        r->open = true;
        r->seq = seq;
        r->nonce = nonce;
        r->complete = false;
    }
    r->next_offset = offset + 1;
    if (klen == GS_CLOG_MARKER_KEY_LEN && memcmp(key, GS_CLOG_MARKER_KEY, klen) == 0) {
        const uint8_t *v = val;
        if (!v || vlen < 17 || v[16] > GS_CHECKPOINT_POSITIONS || vlen < 17 + 8 * (size_t)v[16]) {
            r->dropped++;
            return GS_OK;
        }
        r->complete = true;
        r->marker_npos = v[16];
        for (int i = 0; i < r->marker_npos; i++)
            r->marker_positions[i] = (int64_t)gs_get_be64(v + 17 + 8 * i);
        return GS_OK;
    }
    if (r->complete) { /* an entry after its group's marker: not written by gridstream */
        r->dropped++;
        return GS_OK;
    }
    size_t need = r->len + 10 + (klen - 1) + (val ? vlen : 0);
    if (!GS_RESERVE(r->buf, r->cap, need)) return GS_ERR_NOMEM;
    uint8_t *p = r->buf + r->len;
    uint32_t kl = (uint32_t)(klen - 1), vl = val ? (uint32_t)vlen : 0;
    p[0] = ((const uint8_t *)key)[0];
    p[1] = val == NULL;
    memcpy(p + 2, &kl, 4);
    memcpy(p + 6, &vl, 4);
    memcpy(p + 10, (const uint8_t *)key + 1, kl);
    if (vl) memcpy(p + 10 + kl, val, vl);
    r->len = need;
    r->n++;
    return GS_OK;
}

const gs_checkpoint_t *gs_clog_reader_checkpoint(const gs_clog_reader_t *r)
{
    return &r->applied;
}

void gs_clog_reader_set_out(gs_clog_reader_t *r, gs_statedb_batch_t *out)
{
    r->out = out;
}

void gs_clog_reader_limit(gs_clog_reader_t *r, int64_t max_seq)
{
    r->max_seq = max_seq;
}

void gs_clog_reader_end(gs_clog_reader_t *r)
{
    group_close(r, r->complete);
}

void gs_clog_reader_counts(const gs_clog_reader_t *r, uint64_t *read, uint64_t *applied,
                           uint64_t *dropped)
{
    *read = r->read;
    *applied = r->napplied;
    *dropped = r->dropped;
}
