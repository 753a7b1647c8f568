/*
 * recfile.c - reading and writing replay record files (recfile.h). Files are read whole into
 * memory (replay inputs are bounded by what fits; the bench generates into memory anyway) and
 * walked by offset, so an error can always name the byte where it happened.
 */
#include "recfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

gs_err_t gs_recreader_open(gs_recreader_t *r, const char *path, bool missing_ok, char *errbuf,
                           size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->path = strdup(path);
    if (!r->path) return GS_ERR_NOMEM;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT && missing_ok) return GS_OK;
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return GS_ERR_IO;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(errbuf, errlen, "%s: not a regular file", path);
        fclose(f);
        return GS_ERR_IO;
    }
    r->size = (size_t)sb.st_size;
    r->data = malloc(r->size ? r->size : 1);
    if (!r->data) {
        fclose(f);
        snprintf(errbuf, errlen, "%s: out of memory reading %zu bytes", path, r->size);
        return GS_ERR_NOMEM;
    }
    if (r->size && fread(r->data, 1, r->size, f) != r->size) {
        snprintf(errbuf, errlen, "%s: read error", path);
        fclose(f);
        return GS_ERR_IO;
    }
    fclose(f);
    return GS_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

gs_err_t gs_recreader_next(gs_recreader_t *r, gs_rec_t *rec, char *errbuf, size_t errlen)
{
    if (r->pos >= r->size) return GS_ERR_NOENT;
    size_t start = r->pos, left = r->size - r->pos;
    if (left < 4) goto trunc;
    uint32_t kl = be32(r->data + r->pos);
    if ((size_t)kl > left - 4) goto trunc;
    size_t vpos = r->pos + 4 + kl;
    if (r->size - vpos < 4) goto trunc;
    uint32_t vl = be32(r->data + vpos);
    if ((size_t)vl > r->size - vpos - 4) goto trunc;
    rec->key = r->data + r->pos + 4;
    rec->klen = kl;
    rec->val = r->data + vpos + 4;
    rec->vlen = vl;
    rec->offset = start;
    r->pos = vpos + 4 + vl;
    r->index++;
    return GS_OK;
trunc:
    snprintf(errbuf, errlen,
             "%s: record %llu at byte offset %zu is truncated or has a length beyond the end of "
             "the file (%zu bytes)",
             r->path, (unsigned long long)r->index, start, r->size);
    return GS_ERR_FORMAT;
}

void gs_recreader_close(gs_recreader_t *r)
{
    free(r->data);
    free(r->path);
    memset(r, 0, sizeof(*r));
}

gs_err_t gs_recwriter_open(gs_recwriter_t *w, const char *path, char *errbuf, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->f = fopen(path, "wb");
    if (!w->f) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return GS_ERR_IO;
    }
    w->path = strdup(path);
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    return GS_OK;
}

void gs_recwriter_put(gs_recwriter_t *w, const void *key, size_t klen, const void *val, size_t vlen)
{
    uint8_t h[4];
    h[0] = (uint8_t)(klen >> 24);
    h[1] = (uint8_t)(klen >> 16);
    h[2] = (uint8_t)(klen >> 8);
    h[3] = (uint8_t)klen;
    if (fwrite(h, 1, 4, w->f) != 4 || (klen && fwrite(key, 1, klen, w->f) != klen))
        w->failed = true;
    h[0] = (uint8_t)(vlen >> 24);
    h[1] = (uint8_t)(vlen >> 16);
    h[2] = (uint8_t)(vlen >> 8);
    h[3] = (uint8_t)vlen;
    if (fwrite(h, 1, 4, w->f) != 4 || (vlen && fwrite(val, 1, vlen, w->f) != vlen))
        w->failed = true;
    w->records++;
}

gs_err_t gs_recwriter_close(gs_recwriter_t *w, char *errbuf, size_t errlen)
{
    gs_err_t err = GS_OK;
    if (w->f && (fclose(w->f) != 0 || w->failed)) {
        snprintf(errbuf, errlen, "%s: write failed: %s", w->path ? w->path : "?", strerror(errno));
        err = GS_ERR_IO;
    }
    free(w->path);
    memset(w, 0, sizeof(*w));
    return err;
}
