/*
 * fuzz_common.c - the in-memory file of fuzz.h, for targets whose code under test opens a path.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

const char *gs_fuzz_file_set(gs_fuzz_file_t *f, const char *name, const void *data, size_t size)
{
    if (f->path[0] == '\0') {
        f->fd = memfd_create(name, 0);
        GS_FUZZ_CHECK(f->fd >= 0, "memfd_create failed");
        snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
    }
    GS_FUZZ_CHECK(ftruncate(f->fd, 0) == 0, "ftruncate failed");
    const uint8_t *p = data;
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(f->fd, p + done, size - done, (off_t)done);
        GS_FUZZ_CHECK(n > 0, "pwrite failed");
        done += (size_t)n;
    }
    return f->path;
}

uint8_t *gs_fuzz_file_get(gs_fuzz_file_t *f, size_t *size)
{
    struct stat sb;
    GS_FUZZ_CHECK(fstat(f->fd, &sb) == 0, "fstat failed");
    *size = (size_t)sb.st_size;
    uint8_t *buf = malloc(*size ? *size : 1);
    GS_FUZZ_CHECK(buf != NULL, "out of memory");
    for (size_t done = 0; done < *size;) {
        ssize_t n = pread(f->fd, buf + done, *size - done, (off_t)done);
        GS_FUZZ_CHECK(n > 0, "pread failed");
        done += (size_t)n;
    }
    return buf;
}
