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
 * Entry point of `gridstream broker [--partitions N] [--brokers B] [--config FILE] [--set k=v]`:
 * runs the embedded cluster in the foreground with the whole topic plan of the configuration
 * created (N input partitions, default 4; B brokers, default 3). Prints exactly one line to stdout,
 * "bootstrap: 127.0.0.1:PORT,...", flushed as soon as the topics exist, then logs on stderr only;
 * stops on SIGINT or SIGTERM. `argv` starts after the command name. Returns the exit code: 0 after
 * a signal, 1 if the cluster cannot start, 2 for usage and configuration errors.
 */
int gs_broker_main(int argc, char **argv);

#endif
