/*
 * topics.h - the topic plan: every Kafka topic the engine needs for a configuration, with its
 * partition count and cleanup policy, and `gridstream topics`, which prints it so that operators
 * can provision the topics on clusters where clients may not create them.
 *
 * The plan never relies on broker auto-creation: the embedded cluster (cluster.h) auto-creates an
 * unknown topic with 4 partitions whatever the configuration says, and a real cluster may not
 * auto-create at all. For input partition count N and application.id A the plan is, in this order:
 *
 *   city.reports, city.sensors, city.video, city.cases     N  delete   (inputs, co-partitioned)
 *   gridstream.kpi, gridstream.incidents, gridstream.alerts N  compact  (tables keyed by id)
 *   gridstream.scorecards                                   1  compact  (one stream of months)
 *   gridstream.dlq                                          N  delete
 *   A-partials, A-state-changelog, A-rollup-changelog       N  compact  (internal, task p = p)
 */
#ifndef GS_TOPICS_H
#define GS_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define GS_TOPICS_COUNT 12             /* topics in every plan */
#define GS_TOPICS_MAX_PARTITIONS 10000 /* largest input partition count accepted */

typedef struct gs_topic_spec {
    char name[256];
    int partitions;
    const char *cleanup; /* "delete" or "compact"; a static string */
} gs_topic_spec_t;

/*
 * Fills `out` with the plan for configuration `c` when the input topics have `partitions`
 * partitions (1..GS_TOPICS_MAX_PARTITIONS). Writes at most `cap` entries (`out` may be NULL when
 * `cap` is 0) and returns the number of topics in the whole plan (GS_TOPICS_COUNT), like snprintf:
 * a return value above `cap` means the plan was cut short. Any thread; no allocation.
 */
size_t gs_topics_plan(const gs_config_t *c, int partitions, gs_topic_spec_t *out, size_t cap);

/*
 * Parses a partition count: a decimal integer in 1..GS_TOPICS_MAX_PARTITIONS with nothing
 * around it. Returns false (and leaves *n alone) otherwise.
 */
bool gs_topics_parse_partitions(const char *s, int *n);

/*
 * Entry point of `gridstream topics --partitions N [--config FILE] [--set k=v]`: prints the plan,
 * one topic a line as "name partitions cleanup.policy". `argv` starts after the command name.
 * Returns the exit code: 0, 1 if stdout cannot be written, 2 for usage and configuration errors.
 */
int gs_topics_main(int argc, char **argv);

#endif
