/*
 * config.c - properties parsing and the configuration sources of config.h.
 *
 * The .properties reading follows java.util.Properties where it matters for hand-written files:
 * '#' and '!' comment lines, key and value separated by '=', ':' or white space, surrounding white
 * space trimmed, a trailing backslash continuing the line.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gs_config_defaults(gs_config_t *c)
{
    memset(c, 0, sizeof(*c));
    gs_params_defaults(&c->params);
}

gs_err_t gs_config_set(gs_config_t *c, const char *key, const char *value, char *errbuf,
                       size_t errlen)
{
    gs_err_t err = gs_params_set(&c->params, key, value, errbuf, errlen);
    if (err != GS_ERR_NOENT)
        return err;
    snprintf(errbuf, errlen, "%s: unknown configuration key (see 'gridstream config keys')", key);
    return GS_ERR_CONFIG;
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Splits a properties line into key and value in place. Returns false if there is no key. */
static bool split(char *line, char **key, char **value)
{
    char *s = trim(line);
    if (!*s)
        return false;
    char *p = s;
    while (*p && *p != '=' && *p != ':' && !isspace((unsigned char)*p))
        p++;
    char *kend = p;
    while (*p && isspace((unsigned char)*p))
        p++;
    if (*p == '=' || *p == ':')
        p++;
    *kend = 0;
    *key = s;
    *value = trim(p);
    return **key != 0;
}

gs_err_t gs_config_set_pair(gs_config_t *c, const char *pair, char *errbuf, size_t errlen)
{
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair) {
        snprintf(errbuf, errlen, "--set '%s': expected key=value", pair);
        return GS_ERR_CONFIG;
    }
    char key[256];
    size_t kl = (size_t)(eq - pair);
    if (kl >= sizeof(key)) {
        snprintf(errbuf, errlen, "--set: key too long");
        return GS_ERR_CONFIG;
    }
    memcpy(key, pair, kl);
    key[kl] = 0;
    return gs_config_set(c, trim(key), eq + 1, errbuf, errlen);
}

gs_err_t gs_config_load_file(gs_config_t *c, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return GS_ERR_CONFIG;
    }
    char line[8192], acc[16384];
    size_t alen = 0;
    int lineno = 0, start = 0;
    gs_err_t err = GS_OK;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        char *s = line;
        if (alen == 0) {
            start = lineno;
            s = trim(line);
            if (*s == '#' || *s == '!' || *s == 0)
                continue;
        } else {
            s = trim(line); /* continuation lines drop their leading white space */
        }
        n = strlen(s);
        bool cont = n > 0 && s[n - 1] == '\\';
        if (cont)
            s[--n] = 0;
        if (alen + n + 1 > sizeof(acc)) {
            snprintf(errbuf, errlen, "%s:%d: line too long", path, start);
            err = GS_ERR_CONFIG;
            break;
        }
        memcpy(acc + alen, s, n);
        alen += n;
        acc[alen] = 0;
        if (cont)
            continue;
        char *key, *value;
        alen = 0;
        if (!split(acc, &key, &value))
            continue;
        char why[512];
        if (gs_config_set(c, key, value, why, sizeof(why)) != GS_OK) {
            snprintf(errbuf, errlen, "%s:%d: %s", path, start, why);
            err = GS_ERR_CONFIG;
            break;
        }
    }
    fclose(f);
    return err;
}

gs_err_t gs_config_load_env(gs_config_t *c, char **envp, char *errbuf, size_t errlen)
{
    static const char prefix[] = "GRIDSTREAM_";
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0)
            continue;
        const char *name = *e + sizeof(prefix) - 1;
        const char *eq = strchr(name, '=');
        if (!eq)
            continue;
        char key[256];
        size_t kl = (size_t)(eq - name);
        if (kl >= sizeof(key))
            continue;
        for (size_t i = 0; i < kl; i++)
            key[i] = name[i] == '_' ? '.' : (char)tolower((unsigned char)name[i]);
        key[kl] = 0;
        char why[512];
        if (gs_config_set(c, key, eq + 1, why, sizeof(why)) != GS_OK) {
            snprintf(errbuf, errlen, "environment %.*s: %s", (int)(eq - *e), *e, why);
            return GS_ERR_CONFIG;
        }
    }
    return GS_OK;
}

static void print_one(void *ctx, const char *key, const char *value, const char *doc)
{
    FILE *out = ctx;
    fprintf(out, "# %s\n%s=%s\n", doc, key, value);
}

void gs_config_print(const gs_config_t *c, FILE *out)
{
    gs_params_each(&c->params, print_one, out);
}
