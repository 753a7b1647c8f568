/*
 * fuzz_properties.c - fuzz target: a .properties file through gs_config_load_file()
 * (engine/config.c).
 *
 * The input is the file. An oracle reads it by the rules config.c documents (lines end at '\n'
 * with trailing '\r' dropped, '#' and '!' comment lines, key and value split at '=', ':' or white
 * space and trimmed, a trailing backslash continuing the line, also at the end of the file, lines
 * up to 8 KiB and logical lines up to 16 KiB) and applies each pair with gs_config_set().
 * Invariants: the loader and the oracle agree on success, on the error message (the file, the
 * line and the key or the reason) and on the resulting configuration; an accepted configuration
 * printed by gs_config_print() loads back to the same printed text.
 *
 * kafka.plugin.library.paths would make librdkafka load a shared object named by the input, so
 * inputs that mention "plugin" are skipped.
 */
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define LOGICAL_MAX 16384 /* a logical line, continuations joined */

static char *trim(char *s)
{
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
        s[--n] = 0;
    return s;
}

/* Applies one logical line; false (errbuf filled) when gs_config_set() refuses it. */
static bool apply(gs_config_t *c, char *logical, const char *path, int line, char *errbuf,
                  size_t errlen)
{
    char *s = trim(logical), *p = s;
    if (!*s) return true;
    while (*p && *p != '=' && *p != ':' && *p != ' ' && !(*p >= '\t' && *p <= '\r'))
        p++;
    char *kend = p;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
        p++;
    if (*p == '=' || *p == ':') p++;
    *kend = 0;
    if (!*s) return true;
    char why[512];
    if (gs_config_set(c, s, trim(p), why, sizeof(why)) == GS_OK) return true;
    snprintf(errbuf, errlen, "%s:%d: %s", path, line, why);
    return false;
}

/* The oracle: GS_OK or GS_ERR_CONFIG with the message config.c should give. */
static gs_err_t oracle(gs_config_t *c, const uint8_t *data, size_t size, const char *path,
                       char *errbuf, size_t errlen)
{
    static char acc[LOGICAL_MAX];
    char *line = malloc(size + 1);
    GS_FUZZ_CHECK(line != NULL, "out of memory");
    size_t alen = 0, pos = 0;
    int lineno = 0, start = 0;
    gs_err_t rc = GS_OK;

    while (pos < size || alen > 0) {
        bool eof = pos >= size;
        size_t len = 0;
        lineno++;
        if (!eof) {
            const uint8_t *nl = memchr(data + pos, '\n', size - pos);
            size_t phys = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;
            len = strnlen((const char *)data + pos, phys); /* a NUL ends what the line says */
            memcpy(line, data + pos, len);
            pos += phys;
        }
        line[len] = 0;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        char *s = trim(line);
        if (alen == 0) {
            start = lineno;
            if (*s == '#' || *s == '!' || *s == 0) continue;
        }
        size_t n = strlen(s);
        bool cont = n > 0 && s[n - 1] == '\\';
        if (cont) s[--n] = 0;
        if (alen + n + 1 > sizeof(acc)) {
            snprintf(errbuf, errlen, "%s:%d: line too long", path, start);
            rc = GS_ERR_CONFIG;
            break;
        }
        memcpy(acc + alen, s, n);
        alen += n;
        acc[alen] = 0;
        if (cont && !eof) continue;
        alen = 0;
        if (!apply(c, acc, path, start, errbuf, errlen)) {
            rc = GS_ERR_CONFIG;
            break;
        }
    }
    free(line);
    return rc;
}

static char *print(const gs_config_t *c, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    GS_FUZZ_CHECK(f != NULL, "open_memstream failed");
    gs_config_print(c, f);
    fclose(f);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gs_fuzz_file_t file;
    static gs_config_t got, want, again;
    static char err[2048], werr[2048];

    if (memmem(data, size, "plugin", 6) != NULL) return 0;
    const char *path = gs_fuzz_file_set(&file, "properties", data, size);

    gs_config_defaults(&got);
    gs_config_defaults(&want);
    err[0] = werr[0] = 0;
    gs_err_t e = gs_config_load_file(&got, path, err, sizeof(err));
    gs_err_t we = oracle(&want, data, size, path, werr, sizeof(werr));
    GS_FUZZ_CHECK(e == GS_OK || e == GS_ERR_CONFIG, "unexpected %s", gs_err_str(e));
    GS_FUZZ_CHECK(e == we, "loader says %s (%s), oracle %s (%s)", gs_err_str(e), err,
                  gs_err_str(we), werr);
    if (e != GS_OK) {
        GS_FUZZ_CHECK(strcmp(err, werr) == 0, "loader: '%s', oracle: '%s'", err, werr);
        return 0;
    }

    size_t glen, wlen, alen;
    char *gtext = print(&got, &glen), *wtext = print(&want, &wlen);
    GS_FUZZ_CHECK(glen == wlen && memcmp(gtext, wtext, glen) == 0,
                  "loader and oracle give other configurations");

    /* What gs_config_print() writes is a properties file that loads back to itself. */
    path = gs_fuzz_file_set(&file, "properties", gtext, glen);
    gs_config_defaults(&again);
    GS_FUZZ_CHECK(gs_config_load_file(&again, path, err, sizeof(err)) == GS_OK,
                  "printed configuration does not load: %s", err);
    char *atext = print(&again, &alen);
    GS_FUZZ_CHECK(alen == glen && memcmp(atext, gtext, glen) == 0,
                  "printed configuration loads back differently");
    free(gtext);
    free(wtext);
    free(atext);
    return 0;
}
