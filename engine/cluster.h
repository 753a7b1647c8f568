/*
 * cluster.h - the embedded cluster: librdkafka's mock cluster, which speaks the real Kafka protocol
 * over TCP on loopback, run inside the process so that `gridstream run` (with no
 * bootstrap.servers), `gridstream broker`, the demo and the tests need no JVM and no external
 * Kafka.
 *
 * It is a development and test broker, not a Kafka (DESIGN.md, "The embedded cluster"); what it
 * does not do shapes how it is used:
 *   - it keeps only about 5 MB per partition and drops older data (a tiny retention): a consumer
 *     that falls behind by more loses records, so producers must pace themselves or use more
 *     partitions;
 *   - it does not implement CreateTopics, and auto-creates an unknown topic with 4 partitions on
 *     first use: every topic must be created here, from the topic plan (topics.h), before clients
 *     use it;
 *   - a member killed without leaving its group blocks the group's next rebalance until
 *     session.timeout.ms expires: tests use short session timeouts and static membership;
 *   - nothing is persisted: data and committed offsets vanish when the cluster stops.
 * gs_cluster_control() injects faults (request errors, brokers down, latency, leader and
 * coordinator moves) for the fault-tolerance tests; `gridstream broker --control` serves it on
 * stdin.
 * Brokers listen on 127.0.0.1 on ports chosen by the kernel; gs_cluster_bootstrap() says which.
 */
#ifndef GS_CLUSTER_H
#define GS_CLUSTER_H

#include <stddef.h>

#include "topics.h"

#define GS_CLUSTER_MAX_BROKERS 32

typedef struct gs_cluster gs_cluster_t;

/*
 * Starts a cluster of `brokers` (1..GS_CLUSTER_MAX_BROKERS) brokers on loopback and creates the
 * `n` topics of `topics` (borrowed; may be NULL when n is 0), each with replication factor
 * min(3, brokers). The brokers run on librdkafka's threads until gs_cluster_stop(). Returns NULL
 * with a message in `errbuf` on failure (bad arguments, a listener that cannot be opened, a topic
 * that cannot be created, including a name given twice). Call from one thread at a time.
 */
gs_cluster_t *gs_cluster_start(int brokers, const gs_topic_spec_t *topics, size_t n, char *errbuf,
                               size_t errlen);

/*
 * The bootstrap servers of a started cluster, "127.0.0.1:PORT,127.0.0.1:PORT,...": give it as
 * bootstrap.servers to any Kafka client. Owned by the cluster, valid until gs_cluster_stop().
 */
const char *gs_cluster_bootstrap(const gs_cluster_t *cl);

/*
 * Stops the brokers (closing every client connection) and frees the cluster; all its data is
 * lost. NULL is a no-op. Clients of the cluster should be closed first: they would only see
 * their connections refused.
 */
void gs_cluster_stop(gs_cluster_t *cl);

/*
 * Fault injection, for tests: runs one command `line` (words separated by blanks; the trailing
 * newline optional) against the cluster and writes one line, without a newline, into `reply`:
 * "ok ..." and returns 0, or "error: ..." (unknown command, bad or missing argument) and returns
 * -1 with the cluster untouched. Brokers are numbered 1..brokers. The commands, over
 * librdkafka's mock API:
 *   errors REQUEST COUNT ERROR            the next COUNT requests of that type, to any broker,
 *                                         fail with ERROR (rd_kafka_mock_push_request_errors)
 *   broker-errors BROKER|all REQUEST COUNT ERROR [RTT_MS]
 *                                         the same on one broker's (each broker's) own stack,
 *                                         answered after RTT_MS (taken before cluster errors)
 *   pending BROKER|all REQUEST            "ok N": broker-errors not yet consumed
 *   clear REQUEST                         drops the pending cluster errors of `errors`
 *   down BROKER|all / up BROKER|all       closes a broker's connections and refuses new ones /
 *                                         accepts them again; leaders do not move
 *   rtt BROKER|all MS                     delays every response of the broker(s) by MS
 *   leader TOPIC PARTITION BROKER|none    moves a partition's leader (only topics created by
 *                                         gs_cluster_start: the mock would create others)
 *   coordinator txn|group KEY BROKER      moves the coordinator of a transactional.id or group
 *   help                                  "ok commands: ..."
 * REQUEST is a Kafka request name (Produce, Fetch, InitProducerId, AddPartitionsToTxn, EndTxn,
 * TxnOffsetCommit, ...; case-insensitive) or an ApiKey number; ERROR a librdkafka error name
 * (NOT_LEADER_FOR_PARTITION, _TRANSPORT, ...; RD_KAFKA_RESP_ERR_ prefix optional) or code.
 * Any thread, one call at a time per cluster; the mock applies each change before returning.
 */
int gs_cluster_control(gs_cluster_t *cl, const char *line, char *reply, size_t len);

/*
 * Entry point of `gridstream broker [--partitions N] [--brokers B] [--no-topics] [--control]
 * [--config FILE] [--set k=v]`: runs the embedded cluster in the foreground with the whole topic
 * plan of the configuration created (N input partitions, default 4; B brokers, default 3). Prints
 * the line "bootstrap: 127.0.0.1:PORT,...", flushed as soon as the topics exist, then logs on
 * stderr; with --control it then reads gs_cluster_control() commands from stdin, one a line, and
 * prints each answer as one flushed line on stdout (once stdin ends it only waits for the
 * signal). Stops on SIGINT or SIGTERM. `argv` starts after the command name. Returns the exit
 * code: 0 after a signal, 1 if the cluster cannot start, 2 for usage and configuration errors.
 */
int gs_broker_main(int argc, char **argv);

#endif
