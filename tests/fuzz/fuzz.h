/*
 * fuzz.h - what the fuzz targets of tests/fuzz share.
 *
 * Every target is one LLVMFuzzerTestOneInput. Built with GS_FUZZ (clang, the fuzz preset) it is a
 * libFuzzer binary; in every other build it is linked with driver.c, which runs it over the seed
 * corpus and the saved regressions as a CTest entry, so a crash found once is checked by every
 * test run after it. GS_FUZZ_CHECK states an invariant that must hold whatever the input: it
 * aborts, which libFuzzer reports as a crash (saving the input) and the driver as a failure.
 */
#ifndef GS_FUZZ_H
#define GS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition and a printf-style explanation (at least a format string). */
#define GS_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/*
 * An in-memory file (memfd) with a path, /proc/self/fd/N, for the readers that take a path: no
 * disk I/O per input. Created on first use; one per target, not thread-safe.
 */
typedef struct gs_fuzz_file {
    int fd;
    char path[64];
} gs_fuzz_file_t;

/* Replaces the content of `f` (created on first use, `name` for debugging) and returns its path. */
const char *gs_fuzz_file_set(gs_fuzz_file_t *f, const char *name, const void *data, size_t size);

/* The current content of `f` in a new heap buffer (caller frees), its length in *size. */
uint8_t *gs_fuzz_file_get(gs_fuzz_file_t *f, size_t *size);

/* Decodes and validates an input record of `src` and checks it against SPEC §3 (validate_check.c).
 * The first byte is the key length (255: no key), then the key, then the value. */
int gs_fuzz_validate(gs_source_t src, const uint8_t *data, size_t size);

#endif
