/*
 * topics.c - the topic plan of topics.h and the `gridstream topics` command.
 *
 * Input and output names come from the operators' topic tables (gs_source_topic, gs_output_topic),
 * so the plan cannot drift from what the engine reads and writes; the internal topics are prefixed
 * with application.id, like Kafka Streams' internal topics, so that two applications sharing a
 * cluster do not share state.
 */
#include "topics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define EXIT_USAGE 2

static const char *const internal_suffix[] = {"partials", "state-changelog", "rollup-changelog"};

/* Appends one entry if there is room; counts it either way. */
static void plan_add(gs_topic_spec_t *out, size_t cap, size_t *n, const char *prefix,
                     const char *name, int partitions, const char *cleanup)
{
    if (*n < cap) {
        gs_topic_spec_t *t = &out[*n];
        snprintf(t->name, sizeof(t->name), "%s%s", prefix, name);
        t->partitions = partitions;
        t->cleanup = cleanup;
    }
    (*n)++;
}

size_t gs_topics_plan(const gs_config_t *c, int partitions, gs_topic_spec_t *out, size_t cap)
{
    size_t n = 0;
    for (int s = 0; s < GS_SRC__COUNT; s++)
        plan_add(out, cap, &n, "", gs_source_topic[s], partitions, "delete");
    for (int o = 0; o < GS_OUT__COUNT; o++) {
        /* Scorecards are few (one per city and month) and read in order by one consumer. */
        int p = o == GS_OUT_SCORECARDS ? 1 : partitions;
        plan_add(out, cap, &n, "", gs_output_topic[o], p, o == GS_OUT_DLQ ? "delete" : "compact");
    }
    char prefix[sizeof(c->application_id) + 1];
    snprintf(prefix, sizeof(prefix), "%s-", c->application_id);
    for (size_t i = 0; i < sizeof(internal_suffix) / sizeof(internal_suffix[0]); i++)
        plan_add(out, cap, &n, prefix, internal_suffix[i], partitions, "compact");
    return n;
}

bool gs_topics_parse_partitions(const char *s, int *n)
{
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > GS_TOPICS_MAX_PARTITIONS) return false;
    *n = (int)v;
    return true;
}

static void topics_usage(FILE *f)
{
    fprintf(
        f,
        "usage: gridstream topics --partitions N [--config FILE] [--set key=value]...\n"
        "\n"
        "Prints every topic the engine needs for this configuration when the input topics have\n"
        "N partitions (1..%d): inputs, outputs and the internal topics prefixed with\n"
        "application.id, one a line as \"name partitions cleanup.policy\". Create them before\n"
        "`gridstream run` where clients may not create topics.\n",
        GS_TOPICS_MAX_PARTITIONS);
}

int gs_topics_main(int argc, char **argv)
{
    const char *parts = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            topics_usage(stdout);
            return 0;
        }
        bool takes_value = strcmp(argv[i], "--partitions") == 0 ||
                           strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--set") == 0;
        if (!takes_value) {
            fprintf(stderr, "gridstream topics: unexpected argument '%s'\n\n", argv[i]);
            topics_usage(stderr);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gridstream topics: %s needs a value\n", argv[i]);
            return EXIT_USAGE;
        }
        if (strcmp(argv[i], "--partitions") == 0) parts = argv[i + 1];
        i++;
    }
    if (!parts) {
        fprintf(stderr, "gridstream topics: --partitions N is required\n\n");
        topics_usage(stderr);
        return EXIT_USAGE;
    }
    int n;
    if (!gs_topics_parse_partitions(parts, &n)) {
        fprintf(stderr, "gridstream topics: --partitions: '%s' is not an integer in 1..%d\n", parts,
                GS_TOPICS_MAX_PARTITIONS);
        return EXIT_USAGE;
    }
    gs_config_t cfg;
    if (gs_config_from_cli(&cfg, NULL, argc, argv, environ) != GS_OK) return EXIT_USAGE;
    gs_topic_spec_t plan[GS_TOPICS_COUNT];
    size_t cnt = gs_topics_plan(&cfg, n, plan, GS_TOPICS_COUNT);
    for (size_t i = 0; i < cnt; i++)
        printf("%s %d %s\n", plan[i].name, plan[i].partitions, plan[i].cleanup);
    return fflush(stdout) == 0 ? 0 : 1;
}
