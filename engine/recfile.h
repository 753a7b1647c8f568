/*
 * recfile.h - the replay file format: a sequence of records, each
 * [u32 big-endian key length][key][u32 big-endian value length][value]. A reader that maps a file
 * and walks it with byte offsets, and a buffered writer.
 */
#ifndef GS_RECFILE_H
#define GS_RECFILE_H

#include <stdio.h>

#include "gs.h"

typedef struct gs_rec {
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *val;
    uint32_t vlen;
    uint64_t offset; /* byte offset of the record in its file: its position, like a Kafka offset */
} gs_rec_t;

typedef struct gs_recreader {
    char *path;
    uint8_t *data;
    size_t size, pos;
    uint64_t index; /* records read so far */
} gs_recreader_t;

/*
 * Opens `path` (a missing file is an empty stream when missing_ok). On error fills errbuf with the
 * path and reason and returns GS_ERR_IO.
 */
gs_err_t gs_recreader_open(gs_recreader_t *r, const char *path, bool missing_ok, char *errbuf,
                           size_t errlen);

/*
 * Next record: GS_OK with *rec filled, GS_ERR_NOENT at a clean end, GS_ERR_FORMAT for a truncated
 * or oversized record (errbuf names the file and byte offset).
 */
gs_err_t gs_recreader_next(gs_recreader_t *r, gs_rec_t *rec, char *errbuf, size_t errlen);

/* True if another record follows. */
static inline bool gs_recreader_more(const gs_recreader_t *r)
{
    return r->pos < r->size;
}

void gs_recreader_close(gs_recreader_t *r);

typedef struct gs_recwriter {
    FILE *f;
    char *path;
    uint64_t records;
    bool failed;
} gs_recwriter_t;

gs_err_t gs_recwriter_open(gs_recwriter_t *w, const char *path, char *errbuf, size_t errlen);
void gs_recwriter_put(gs_recwriter_t *w, const void *key, size_t klen, const void *val,
                      size_t vlen);
/* Flushes and closes; GS_ERR_IO (errbuf filled) if any write failed. */
gs_err_t gs_recwriter_close(gs_recwriter_t *w, char *errbuf, size_t errlen);

#endif
