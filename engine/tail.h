/*
 * tail.h - `gridstream tail TOPIC`: read one topic of a Kafka cluster and print its records as JSON
 * lines, decoded with the topic's message type (SPEC §2), for people watching a running engine and
 * for scripts. A plain consumer without a group: every partition is assigned from the topic's
 * metadata, nothing is committed, and only committed transactional data is shown
 * (isolation.level=read_committed), so what it prints is what downstream consumers see.
 */
#ifndef GS_TAIL_H
#define GS_TAIL_H

/*
 * Entry point of `gridstream tail` (argv: the arguments after "tail"); returns the exit code:
 * 0 ok, 1 runtime failure (unreachable cluster, unknown topic), 2 usage or configuration error.
 * Runs on the calling thread; for its duration SIGINT and SIGTERM stop the read loop (exit 0; with
 * --table, exit 1 as the table is incomplete), the previous handlers restored on return.
 */
int gs_tail_main(int argc, char **argv);

#endif
