/*
 * bench.c - `gridstream bench`: dispatch to the modes, and what they share: clocks, the machine,
 * RSS, heap allocation counts. Also `bench replay --input DIR`: the whole replay pipeline over
 * record files (outputs packed but not written) against a protobuf-c decode-only loop over the
 * same records, each repeated and the best run kept, in the same process.
 *
 * The Kafka modes e2e and restore are in kafka.c, latency in latency.c.
 */
#include "bench.h"

#include <malloc.h>
#include <unistd.h>

#include "bench_int.h"

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
#include "validate.h"

double gs_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

/* jemalloc's mallctl when the process runs on jemalloc, looked up at run time so that the library
   does not depend on it. */
static mallctl_fn mallctl_get(void)
{
    return (mallctl_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "mallctl");
}

/*
 * small.nrequests + large.nrequests over all arenas (MALLCTL_ARENAS_ALL = 4096) count allocation
 * calls. Requests served from a thread's cache reach those counters only when the cache is flushed
 * or refilled, so the calling thread's cache is flushed first. (nmalloc, which this used before,
 * counts regions handed to thread caches in refills, not calls.)
 */
int64_t gs_bench_allocations(void)
{
    mallctl_fn mallctl = mallctl_get();
    if (!mallctl) return -1;
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    uint64_t small = 0, large = 0;
    sz = sizeof(small);
    if (mallctl("stats.arenas.4096.small.nrequests", &small, &sz, NULL, 0) != 0) return -1;
    sz = sizeof(large);
    if (mallctl("stats.arenas.4096.large.nrequests", &large, &sz, NULL, 0) != 0) return -1;
    return (int64_t)(small + large);
}

void gs_bench_purge(void)
{
    mallctl_fn mallctl = mallctl_get();
    if (mallctl) {
        mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
        mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
    } else {
        malloc_trim(0);
    }
}

int64_t gs_bench_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long long size = 0, resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    return n == 2 ? (int64_t)resident * sysconf(_SC_PAGESIZE) : -1;
}

int gs_bench_machine(char *buf, size_t len)
{
    char model[256] = "unknown CPU", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ' || *c == '\t')
                        c++;
                    c[strcspn(c, "\n")] = 0;
                    snprintf(model, sizeof(model), "%s", c);
                }
                break;
            }
        fclose(f);
    }
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 1073741824.0;
    snprintf(buf, len, "%d cores, %s, %.0f GiB", cores, model, gib);
    return cores;
}

int gs_bench_parse_list(const char *s, int64_t *out, int max, int64_t limit)
{
    int n = 0;
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 1 || v > limit || n == max) return -1;
        out[n++] = v;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return n ? n : -1;
}

void gs_bench_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
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
                ProtobufCMessage *m = protobuf_c_message_unpack(
                    gs_source_descriptor((gs_source_t)s), NULL, rec.vlen, rec.val);
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
                        "  (make DIR with: gridstream gen --output DIR ...)\n");
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
        int64_t a0 = gs_bench_allocations();
        if (gs_replay_run(&o, &st, err, sizeof(err)) != GS_OK) {
            fprintf(stderr, "\ngridstream bench: %s\n", err);
            return 1;
        }
        int64_t a1 = gs_bench_allocations();
        records = 0;
        for (int s = 0; s < GS_SRC__COUNT; s++)
            records += st.records_in[s];
        if (a0 >= 0 && a1 >= 0) allocs_per_m = (double)(a1 - a0) * 1e6 / (double)records;
        double rps = (double)records / st.seconds;
        if (rps > best_replay) best_replay = rps;
        if (!json) fprintf(stderr, "\rrun %d/%d: decode-only...", r + 1, runs);
        double t0 = gs_bench_now();
        decoded = decode_all(input, st.partitions, &bytes);
        double dps = (double)decoded / (gs_bench_now() - t0);
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

static const char *const usage_text =
    "usage: gridstream bench <mode> [options]\n"
    "  pipeline [--cells C] [--days D] [--partitions N] [--threads 1,2] [--runs R] [--json]\n"
    "      every operator over generated records in memory vs. protobuf-c decode-only, per\n"
    "      thread count, and heap allocations per 1M records in the steady state\n"
    "  state [--cells 10000,100000,1000000] [--memory BYTES] [--dir DIR] [--json]\n"
    "      RSS and RocksDB bytes per open incident and per active cell\n"
    "  report [--out DIR] [--quick] [--commit REV]   run every mode, write DIR/RESULTS.md,\n"
    "      DIR/results.json, DIR/threads.svg and DIR/latency.svg (default DIR: bench), print\n"
    "      the plans\n"
    "  plan (--preset fuzhou|chengdu|zhengzhou|province | --cells C --events-per-second E\n"
    "       --retention-days D) [--results FILE] [--json]   capacity from measured figures\n"
    "  replay --input DIR [--runs N] [--json]   replay of record files vs. decode-only\n"
    "  e2e [--cells C] [--days D] [--partitions N] [--threads 1,2] [--json]\n"
    "      gridstream run --until-end on the embedded cluster (exactly_once, at_least_once) vs.\n"
    "      kcat consuming the same input topics\n"
    "  restore [--entries N] [--value-bytes B] [--json]   changelog restore of one task vs.\n"
    "      RocksDB writes with the WAL off (db_bench fillseq when installed)\n"
    "  latency [--cells C] [--days D] [--partitions N] [--threads T] [--burst B] [--window S]\n"
    "          [--levels 25,50,75] [--commit-interval MS] [--set key=value]... [--quick]\n"
    "          [--json]\n"
    "      record produced -> its incident or alert visible to a read_committed consumer,\n"
    "      p50/p99/p999 at 25, 50 and 75 % of the capacity measured in the same run\n";

static int bench_latency(int argc, char **argv)
{
    gs_bench_latency_opts_t o;
    gs_bench_latency_defaults(&o);
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--quick") == 0) {
            gs_bench_latency_quick(&o);
            continue;
        }
        if (!v) goto usage;
        i++;
        if (strcmp(a, "--cells") == 0)
            o.cells = atoi(v);
        else if (strcmp(a, "--days") == 0)
            o.days = atoi(v);
        else if (strcmp(a, "--partitions") == 0)
            o.partitions = (uint32_t)atoi(v);
        else if (strcmp(a, "--threads") == 0)
            o.threads = atoi(v);
        else if (strcmp(a, "--burst") == 0)
            o.burst = strtoll(v, NULL, 10);
        else if (strcmp(a, "--window") == 0)
            o.window_s = strtod(v, NULL);
        else if (strcmp(a, "--commit-interval") == 0)
            o.commit_ms = strtoll(v, NULL, 10);
        else if (strcmp(a, "--levels") == 0) {
            int64_t pct[GS_BENCH_LAT_LEVELS];
            if (gs_bench_parse_list(v, pct, GS_BENCH_LAT_LEVELS, 100) != GS_BENCH_LAT_LEVELS) {
                fprintf(stderr,
                        "gridstream bench latency: --levels %s: give %d loads in percent "
                        "of capacity, 1..100, comma-separated (e.g. 25,50,75)\n",
                        v, GS_BENCH_LAT_LEVELS);
                goto usage;
            }
            for (int k = 0; k < GS_BENCH_LAT_LEVELS; k++)
                o.pct[k] = (int)pct[k];
        } else if (strcmp(a, "--set") == 0 && o.nset < 8)
            o.set[o.nset++] = v;
        else
            goto usage;
    }
    if (o.cells < 1 || o.days < 1 || o.partitions < 1 || o.partitions > 64 || o.threads < 1 ||
        o.threads > 64 || o.burst < 1 || !(o.window_s > 0 && o.window_s <= 600) || o.commit_ms < 0)
        goto usage;
    o.progress = json ? NULL : stderr;
    static gs_bench_latency_res_t r;
    char err[1024];
    if (gs_bench_latency(&o, &r, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench latency: %s\n", err);
        return 1;
    }
    if (json)
        gs_bench_latency_json(&r, stdout);
    else
        gs_bench_latency_text(&r, stdout);
    return 0;
usage:
    fprintf(stderr, "%s", usage_text);
    return 2;
}

static int bench_e2e(int argc, char **argv)
{
    gs_bench_e2e_opts_t o;
    gs_bench_e2e_defaults(&o);
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (!v) goto usage;
        i++;
        if (strcmp(a, "--cells") == 0)
            o.cells = atoi(v);
        else if (strcmp(a, "--days") == 0)
            o.days = atoi(v);
        else if (strcmp(a, "--partitions") == 0)
            o.partitions = (uint32_t)atoi(v);
        else if (strcmp(a, "--threads") == 0) {
            if ((o.nthreads = gs_bench_parse_list(v, o.threads, GS_BENCH_MAX_ROWS, 64)) < 0)
                goto usage;
        } else
            goto usage;
    }
    if (o.cells < 1 || o.days < 1 || o.partitions < 1 || o.partitions > 64) goto usage;
    o.progress = json ? NULL : stderr;
    static gs_bench_e2e_res_t r;
    char err[1024];
    if (gs_bench_e2e(&o, &r, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench e2e: %s\n", err);
        return 1;
    }
    if (json)
        gs_bench_e2e_json(&r, stdout);
    else
        gs_bench_e2e_text(&r, stdout);
    return 0;
usage:
    fprintf(stderr, "%s", usage_text);
    return 2;
}

static int bench_restore(int argc, char **argv)
{
    gs_bench_restore_opts_t o;
    gs_bench_restore_defaults(&o);
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (!v) goto usage;
        i++;
        if (strcmp(a, "--entries") == 0)
            o.entries = strtoll(v, NULL, 10);
        else if (strcmp(a, "--value-bytes") == 0)
            o.value_bytes = (size_t)strtoull(v, NULL, 10);
        else
            goto usage;
    }
    if (o.entries < 1 || o.entries > 100000000 || o.value_bytes < 8 || o.value_bytes > 65536)
        goto usage;
    o.progress = json ? NULL : stderr;
    gs_bench_restore_res_t r;
    char err[1024];
    if (gs_bench_restore(&o, &r, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench restore: %s\n", err);
        return 1;
    }
    if (json)
        gs_bench_restore_json(&r, stdout);
    else
        gs_bench_restore_text(&r, stdout);
    return 0;
usage:
    fprintf(stderr, "%s", usage_text);
    return 2;
}

static int bench_pipeline(int argc, char **argv)
{
    gs_bench_pipeline_opts_t o;
    gs_bench_pipeline_defaults(&o);
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (!v) goto usage;
        i++;
        if (strcmp(a, "--cells") == 0)
            o.cells = atoi(v);
        else if (strcmp(a, "--days") == 0)
            o.days = atoi(v);
        else if (strcmp(a, "--partitions") == 0)
            o.partitions = (uint32_t)atoi(v);
        else if (strcmp(a, "--runs") == 0)
            o.runs = atoi(v);
        else if (strcmp(a, "--threads") == 0) {
            if ((o.nthreads = gs_bench_parse_list(v, o.threads, GS_BENCH_MAX_ROWS, 256)) < 0)
                goto usage;
        } else
            goto usage;
    }
    if (o.cells < 1 || o.days < 1 || o.partitions < 1 || o.partitions > 1024 || o.runs < 1)
        goto usage;
    o.progress = json ? NULL : stderr;
    gs_bench_pipeline_res_t r;
    char err[1024];
    if (gs_bench_pipeline(&o, &r, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench pipeline: %s\n", err);
        return 1;
    }
    if (json)
        gs_bench_pipeline_json(&r, stdout);
    else
        gs_bench_pipeline_text(&r, stdout);
    return 0;
usage:
    fprintf(stderr, "%s", usage_text);
    return 2;
}

static int bench_state(int argc, char **argv)
{
    gs_bench_state_opts_t o;
    gs_bench_state_defaults(&o);
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (!v) goto usage;
        i++;
        if (strcmp(a, "--cells") == 0) {
            if ((o.nsizes = gs_bench_parse_list(v, o.cells, GS_BENCH_MAX_ROWS, 100000000)) < 0)
                goto usage;
        } else if (strcmp(a, "--memory") == 0)
            o.memory_bytes = strtoll(v, NULL, 10);
        else if (strcmp(a, "--dir") == 0)
            o.dir = v;
        else
            goto usage;
    }
    if (o.memory_bytes < (1 << 20)) goto usage;
    o.progress = json ? NULL : stderr;
    gs_bench_state_res_t r;
    char err[1024];
    if (gs_bench_state(&o, &r, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench state: %s\n", err);
        return 1;
    }
    if (json)
        gs_bench_state_json(&r, stdout);
    else
        gs_bench_state_text(&r, stdout);
    return 0;
usage:
    fprintf(stderr, "%s", usage_text);
    return 2;
}

int gs_bench_main(int argc, char **argv)
{
    const char *m = argc >= 1 ? argv[0] : "";
    if (strcmp(m, "replay") == 0) return bench_replay(argc - 1, argv + 1);
    if (strcmp(m, "pipeline") == 0) return bench_pipeline(argc - 1, argv + 1);
    if (strcmp(m, "state") == 0) return bench_state(argc - 1, argv + 1);
    if (strcmp(m, "report") == 0) return gs_bench_report_main(argc - 1, argv + 1);
    if (strcmp(m, "plan") == 0) return gs_bench_plan_main(argc - 1, argv + 1);
    if (strcmp(m, "e2e") == 0) return bench_e2e(argc - 1, argv + 1);
    if (strcmp(m, "restore") == 0) return bench_restore(argc - 1, argv + 1);
    if (strcmp(m, "latency") == 0) return bench_latency(argc - 1, argv + 1);
    fprintf(stderr, "%s", usage_text);
    return 2;
}
