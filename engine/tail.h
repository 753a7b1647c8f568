/*
 * tail.h - `gridstream tail TOPIC`: read one topic of a Kafka cluster and print its records as JSON
 * lines, decoded with the topic's message type (SPEC §2), for people watching a running engine and
 * for scripts. A plain consumer without a group: every partition is assigned from the topic's
 * metadata, nothing is committed, and only committed transactional data is shown
 * (isolation.level=read_committed), so what it prints is what downstream consumers see.
 */
#ifndef GS_TAIL_H
#define GS_TAIL_H

#include <stddef.h>

/*
 * Entry point of `gridstream tail` (argv: the arguments after "tail"); returns the exit code:
 * 0 ok, 1 runtime failure (unreachable cluster, unknown topic), 2 usage or configuration error.
 * Runs on the calling thread; for its duration SIGINT and SIGTERM stop the read loop (exit 0; with
 * --table, exit 1 as the table is incomplete), the previous handlers restored on return.
 */
int gs_tail_main(int argc, char **argv);

struct gs_config;

/*
 * Called for each record by gs_tail_read_to_end(); key and val (NULL for a null key or value) are
 * borrowed for the call. A nonzero return stops the read.
 */
typedef int (*gs_tail_record_fn)(void *ctx, const void *key, size_t klen, const void *val,
                                 size_t vlen);

/*
 * Reads `topic` as a table source: every partition from its beginning up to its end offset as of
 * the call (read_committed: the last stable offset), calling fn for each record, in partition
 * order within a partition (so the last call for a key carries its latest value). Same consumer
 * as `tail --table`: no group joined, nothing committed, no topic created. `bootstrap` NULL means
 * cfg's bootstrap.servers. Fails when no record arrives for timeout_s seconds before the end
 * (0 = wait forever). Returns 0, or 1 with the error printed; runs on the calling thread.
 */
int gs_tail_read_to_end(const struct gs_config *cfg, const char *bootstrap, const char *topic,
                        double timeout_s, gs_tail_record_fn fn, void *ctx);

#endif
