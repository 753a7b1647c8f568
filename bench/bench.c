/*
 * bench.c - `gridstream bench replay --input DIR`: the whole replay pipeline (outputs packed but
 * not written) against a protobuf-c decode-only loop over the same input records, each repeated
 * and the best run kept, in the same process. Reports records/s for both and their ratio, as text
 * or JSON (--json).
 */
#include "bench.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs.h"
#include "params.h"
#include "recfile.h"
#include "replay.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const ProtobufCMessageDescriptor *desc_of(int src)
{
    switch (src) {
    case GS_SRC_REPORTS:
        return &gridstream__v1__report__descriptor;
    case GS_SRC_SENSORS:
        return &gridstream__v1__sensor_reading__descriptor;
    case GS_SRC_VIDEO:
        return &gridstream__v1__video_detection__descriptor;
    default:
        return &gridstream__v1__case_event__descriptor;
    }
}

/*
 * Heap allocations so far, from jemalloc's statistics (small + large nmalloc over all arenas), or
 * -1 when the process does not run on jemalloc (sanitizer and dev builds). Looked up at run time so
 * that the library does not depend on jemalloc.
 */
static int64_t allocations(void)
{
    typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
    mallctl_fn mallctl = (mallctl_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "mallctl");
    if (!mallctl) return -1;
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    uint64_t small = 0, large = 0;
    sz = sizeof(small);
    if (mallctl("stats.arenas.4096.small.nmalloc", &small, &sz, NULL, 0) != 0) return -1;
    sz = sizeof(large);
    if (mallctl("stats.arenas.4096.large.nmalloc", &large, &sz, NULL, 0) != 0) return -1;
    return (int64_t)(small + large);
}

/* Decodes every input record once with protobuf-c's default allocator; returns records decoded. */
static uint64_t decode_all(const char *input, uint32_t nparts, uint64_t *bytes)
{
    uint64_t n = 0;
    *bytes = 0;
    for (uint32_t p = 0; p < nparts; p++)
        for (int s = 0; s < GS_SRC__COUNT; s++) {
            char path[4096], err[512];
            snprintf(path, sizeof(path), "%s/%s/%u.rec", input, gs_source_topic[s], p);
            gs_recreader_t rd;
            if (gs_recreader_open(&rd, path, true, err, sizeof(err)) != GS_OK) {
                gs_recreader_close(&rd);
                continue;
            }
            gs_rec_t rec;
            while (gs_recreader_next(&rd, &rec, err, sizeof(err)) == GS_OK) {
                ProtobufCMessage *m =
                    protobuf_c_message_unpack(desc_of(s), NULL, rec.vlen, rec.val);
                if (m) protobuf_c_message_free_unpacked(m, NULL);
                n++;
                *bytes += rec.vlen;
            }
            gs_recreader_close(&rd);
        }
    return n;
}

static int bench_replay(int argc, char **argv)
{
    const char *input = NULL;
    int runs = 3;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
            input = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else {
            fprintf(stderr, "gridstream bench replay: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!input || runs < 1) {
        fprintf(stderr, "usage: gridstream bench replay --input DIR [--runs N] [--json]\n"
                        "  (make DIR with: python3 tests/reference/gen_sample.py --out DIR ...)\n");
        return 2;
    }
    gs_params_t params;
    gs_params_defaults(&params);
    double best_replay = 0, best_decode = 0, allocs_per_m = -1;
    uint64_t records = 0, bytes = 0, decoded = 0;
    gs_replay_stats_t st;
    for (int r = 0; r < runs; r++) {
        if (!json) fprintf(stderr, "\rrun %d/%d: replay...", r + 1, runs);
        char err[1024];
        gs_replay_opts_t o = {.input = input, .params = &params};
        int64_t a0 = allocations();
        if (gs_replay_run(&o, &st, err, sizeof(err)) != GS_OK) {
            fprintf(stderr, "\ngridstream bench: %s\n", err);
            return 1;
        }
        int64_t a1 = allocations();
        records = 0;
        for (int s = 0; s < GS_SRC__COUNT; s++)
            records += st.records_in[s];
        if (a0 >= 0 && a1 >= 0) allocs_per_m = (double)(a1 - a0) * 1e6 / (double)records;
        double rps = (double)records / st.seconds;
        if (rps > best_replay) best_replay = rps;
        if (!json) fprintf(stderr, "\rrun %d/%d: decode-only...", r + 1, runs);
        double t0 = now_s();
        decoded = decode_all(input, st.partitions, &bytes);
        double dps = (double)decoded / (now_s() - t0);
        if (dps > best_decode) best_decode = dps;
    }
    if (!json) fprintf(stderr, "\r%40s\r", "");
    double ratio = best_replay / best_decode;
    if (json) {
        printf("{\"mode\":\"replay\",\"records\":%llu,\"bytes\":%llu,\"partitions\":%u,"
               "\"runs\":%d,\"replay_records_per_s\":%.0f,\"decode_only_records_per_s\":%.0f,"
               "\"ratio\":%.4f,\"incidents\":%llu,\"kpi_records\":%llu,"
               "\"allocations_per_million_records\":%.0f}\n",
               (unsigned long long)records, (unsigned long long)bytes, st.partitions, runs,
               best_replay, best_decode, ratio, (unsigned long long)st.totals.incidents_opened,
               (unsigned long long)st.out[GS_OUT_KPI], allocs_per_m);
    } else {
        printf("bench replay: %llu records (%llu value bytes), %u partitions, best of %d runs, "
               "1 thread\n",
               (unsigned long long)records, (unsigned long long)bytes, st.partitions, runs);
        printf("  %-34s %14s\n", "", "records/s");
        printf("  %-34s %14.0f\n", "protobuf-c decode only (reference)", best_decode);
        printf("  %-34s %14.0f\n", "gridstream replay, all operators", best_replay);
        printf("  ratio replay / decode-only: %.3f (target >= 0.33)\n", ratio);
        if (allocs_per_m >= 0)
            printf("  heap allocations per 1M records, whole replay: %.0f\n", allocs_per_m);
        else
            printf("  heap allocations: not counted (not running on jemalloc)\n");
    }
    return 0;
}

int gs_bench_main(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "replay") == 0) return bench_replay(argc - 1, argv + 1);
    fprintf(stderr, "usage: gridstream bench replay --input DIR [--runs N] [--json]\n");
    return 2;
}
