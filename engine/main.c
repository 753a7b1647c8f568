/*
 * main.c - the `gridstream` command line: subcommand dispatch, configuration sources, help.
 *
 * Exit codes: 0 success, 1 runtime failure (I/O, bad input files), 2 usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cluster.h"
#include "config.h"
#include "dump.h"
#include "gen.h"
#include "replay.h"
#include "run.h"
#include "demo.h"
#include "report.h"
#include "tail.h"
#include "topics.h"

extern char **environ;

#define EXIT_USAGE 2

static void usage(FILE *f)
{
    fprintf(
        f,
        "gridstream %s - event-stream processing for grid-based city management\n"
        "\n"
        "usage: gridstream <command> [options]\n"
        "\n"
        "commands:\n"
        "  demo                              embedded cluster + synthetic city + engine, live "
        "view\n"
        "  run [--until-end]                 the engine on Kafka (embedded cluster without\n"
        "                                    bootstrap.servers); 'gridstream run --help'\n"
        "  replay --input DIR --output DIR   run the whole pipeline over record files, no Kafka\n"
        "  gen (--output DIR | --bootstrap HOST:PORT)  a synthetic city to the input topics\n"
        "  tail TOPIC --bootstrap HOST:PORT  print a topic as JSON lines (--table: latest per "
        "key)\n"
        "  dump FILE...                      decode record files to JSON lines\n"
        "  scorecard --month YYYY-MM         a city's monthly scorecard as md, html or json\n"
        "  broker [--partitions N]           run the embedded Kafka-protocol cluster with every "
        "topic\n"
        "  topics --partitions N             print every topic the engine needs (name partitions "
        "policy)\n"
        "  bench pipeline|state|report|plan  capacity benchmark and planner (bench/README.md)\n"
        "  config check FILE                 validate a properties file, print the effective "
        "config\n"
        "  config keys                       list every configuration key with its default\n"
        "  version                           print the version\n"
        "  help                              this text\n"
        "\n"
        "configuration (later sources win): --config FILE (Java .properties), environment\n"
        "GRIDSTREAM_<KEY> (upper case, '.' as '_'), --set key=value (repeatable).\n"
        "\n"
        "replay input: DIR/<topic>/<partition>.rec for city.reports, city.sensors, city.video,\n"
        "city.cases; each file a sequence of [u32 BE key length][key][u32 BE value "
        "length][value].\n"
        "replay output: DIR/gridstream.{kpi,incidents,alerts,scorecards,dlq}.rec, same framing.\n"
        "\n"
        "exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error\n",
        GS_VERSION);
}

/* Configuration from every source; returns 0 or the exit code of a configuration error. */
static int load_config(gs_config_t *cfg, const char *file, int argc, char **argv)
{
    return gs_config_from_cli(cfg, file, argc, argv, environ) == GS_OK ? 0 : EXIT_USAGE;
}

static const char *opt_value(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

/* Rejects options this command does not know. `known` lists options taking a value. */
static int check_options(int argc, char **argv, const char *const *known, const char *const *flags)
{
    for (int i = 0; i < argc; i++) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            if (strcmp(argv[i], *k) == 0) {
                ok = true;
                i++;
            }
        for (const char *const *k = flags; k && *k && !ok; k++)
            ok = strcmp(argv[i], *k) == 0;
        if (!ok) {
            fprintf(stderr, "gridstream: unexpected argument '%s' (see gridstream help)\n",
                    argv[i]);
            return EXIT_USAGE;
        }
    }
    return 0;
}

static int cmd_replay(int argc, char **argv)
{
    static const char *const known[] = {"--input", "--output", "--config", "--set", NULL};
    static const char *const flags[] = {"--quiet", NULL};
    int rc = check_options(argc, argv, known, flags);
    if (rc) return rc;
    gs_config_t cfg;
    if ((rc = load_config(&cfg, NULL, argc, argv))) return rc;
    const char *in = opt_value(argc, argv, "--input"), *out = opt_value(argc, argv, "--output");
    if (!in || !out) {
        fprintf(stderr, "gridstream replay: --input DIR and --output DIR are required\n");
        return EXIT_USAGE;
    }
    bool quiet = false;
    for (int i = 0; i < argc; i++)
        quiet = quiet || strcmp(argv[i], "--quiet") == 0;
    gs_replay_opts_t o = {.input = in,
                          .output = out,
                          .params = &cfg.params,
                          .progress = quiet ? NULL : stderr,
                          .scorecards = quiet ? NULL : stdout};
    gs_replay_stats_t st;
    char err[1024];
    if (gs_replay_run(&o, &st, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream replay: %s\n", err);
        return 1;
    }
    if (!quiet) {
        printf("\n");
        gs_replay_print_summary(&st, stdout);
        printf("  outputs written to %s/\n", out);
    }
    return 0;
}

static int cmd_config(int argc, char **argv)
{
    gs_config_t cfg;
    if (argc >= 1 && strcmp(argv[0], "keys") == 0) {
        gs_config_defaults(&cfg);
        gs_config_print(&cfg, stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[0], "check") == 0) {
        int rc = load_config(&cfg, argv[1], argc - 2, argv + 2);
        if (rc) return rc;
        printf("# %s: ok\n", argv[1]);
        gs_config_print(&cfg, stdout);
        return 0;
    }
    fprintf(stderr, "usage: gridstream config check FILE | gridstream config keys\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "demo") == 0) return gs_demo_main(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0) return gs_run_main(argc - 2, argv + 2);
    if (strcmp(cmd, "replay") == 0) return cmd_replay(argc - 2, argv + 2);
    if (strcmp(cmd, "broker") == 0) return gs_broker_main(argc - 2, argv + 2);
    if (strcmp(cmd, "topics") == 0) return gs_topics_main(argc - 2, argv + 2);
    if (strcmp(cmd, "gen") == 0) return gs_gen_main(argc - 2, argv + 2);
    if (strcmp(cmd, "tail") == 0) return gs_tail_main(argc - 2, argv + 2);
    if (strcmp(cmd, "dump") == 0) return gs_dump_main(argc - 2, argv + 2);
    if (strcmp(cmd, "scorecard") == 0) return gs_scorecard_main(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0) return gs_bench_main(argc - 2, argv + 2);
    if (strcmp(cmd, "config") == 0) return cmd_config(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("gridstream %s\n", GS_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "gridstream: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
