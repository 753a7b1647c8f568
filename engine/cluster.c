/*
 * cluster.c - the embedded cluster of cluster.h, and the `gridstream broker` command.
 *
 * The mock cluster is owned by a dedicated rd_kafka_t that is never used as a client: it only
 * hosts the mock brokers' thread and carries their logs. rd_kafka_mock_cluster_new() opens one
 * listener per broker on 127.0.0.1 with a kernel-chosen port (librdkafka 2.0.2 binds
 * INADDR_LOOPBACK, port 0) and advertises that same address in Metadata, so clients on this
 * machine reach every broker and clients elsewhere reach none.
 *
 * rd_kafka_mock_topic_create() is synchronous: it queues an op to the mock cluster's thread and
 * waits for the reply. With more than one broker, librdkafka 2.0.2's mock thread now and then
 * serves an op only after about 1 s, as if it missed the wakeup of its op queue and waited for its
 * poll timeout (measured: 12 topics one after another took 0 to 5 s with 3 brokers, always ~1 ms
 * with 1 broker; cluster destroy sometimes takes 1 s too). Topics are therefore created from a few
 * threads at once, so that one late wakeup serves them all and start-up costs about a second.
 */
#include "cluster.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define EXIT_USAGE 2

struct gs_cluster {
    rd_kafka_t *rk;              /* hosts the mock cluster; never produces */
    rd_kafka_mock_cluster_t *mc; /* owned; destroyed before rk */
    char *bootstrap;             /* owned copy of the listeners' addresses */
};

/*
 * librdkafka's log callback (any librdkafka thread): one line a message on stderr. The hosting
 * handle has no bootstrap.servers by design; its configuration warning saying so is dropped.
 */
static void cluster_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers")) return;
    fprintf(stderr, "gridstream: embedded cluster: %s: %s\n", fac, buf);
}

#define CREATE_THREADS 16

/* Topic creation shared by the creating threads; each takes the next topic index. */
typedef struct create_job {
    rd_kafka_mock_cluster_t *mc;
    const gs_topic_spec_t *topics;
    size_t n;
    int rf;
    atomic_size_t next;
    rd_kafka_resp_err_t *errs; /* one per topic */
} create_job_t;

static void *create_worker(void *arg)
{
    create_job_t *job = arg;
    size_t i;
    while ((i = atomic_fetch_add(&job->next, 1)) < job->n)
        job->errs[i] = rd_kafka_mock_topic_create(job->mc, job->topics[i].name,
                                                  job->topics[i].partitions, job->rf);
    return NULL;
}

/* Creates every topic; on failure names the first topic (in plan order) that failed. */
static bool create_topics(rd_kafka_mock_cluster_t *mc, int rf, const gs_topic_spec_t *topics,
                          size_t n, char *errbuf, size_t errlen)
{
    if (n == 0) return true;
    bool ok = false;
    create_job_t job = {.mc = mc, .topics = topics, .n = n, .rf = rf};
    atomic_init(&job.next, 0);
    if (!(job.errs = calloc(n, sizeof(*job.errs)))) {
        snprintf(errbuf, errlen, "out of memory");
        return false;
    }
    pthread_t th[CREATE_THREADS];
    size_t started = 0;
    while (started < CREATE_THREADS && started < n &&
           pthread_create(&th[started], NULL, create_worker, &job) == 0)
        started++;
    create_worker(&job); /* also works here, and finishes alone if no thread started */
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    for (size_t i = 0; i < n; i++)
        if (job.errs[i]) {
            snprintf(errbuf, errlen, "embedded cluster: creating topic %s (%d partitions): %s",
                     topics[i].name, topics[i].partitions, rd_kafka_err2str(job.errs[i]));
            goto out;
        }
    ok = true;
out:
    free(job.errs);
    return ok;
}

gs_cluster_t *gs_cluster_start(int brokers, const gs_topic_spec_t *topics, size_t n, char *errbuf,
                               size_t errlen)
{
    gs_cluster_t *cl = NULL;
    rd_kafka_conf_t *conf = NULL;
    if (brokers < 1 || brokers > GS_CLUSTER_MAX_BROKERS) {
        snprintf(errbuf, errlen, "broker count %d is not in 1..%d", brokers,
                 GS_CLUSTER_MAX_BROKERS);
        return NULL;
    }
    if (!(cl = calloc(1, sizeof(*cl)))) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, cluster_log);
    char why[512];
    if (rd_kafka_conf_set(conf, "client.id", "gridstream-embedded-cluster", why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errbuf, errlen, "embedded cluster: %s", why);
        goto fail;
    }
    /* rd_kafka_new() takes ownership of conf on success only. */
    if (!(cl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why)))) {
        snprintf(errbuf, errlen, "embedded cluster: %s", why);
        goto fail;
    }
    conf = NULL;
    if (!(cl->mc = rd_kafka_mock_cluster_new(cl->rk, brokers))) {
        snprintf(errbuf, errlen,
                 "embedded cluster: cannot start %d mock brokers (no loopback listener?)", brokers);
        goto fail;
    }
    const char *bs = rd_kafka_mock_cluster_bootstraps(cl->mc);
    if (!bs || !(cl->bootstrap = strdup(bs))) {
        snprintf(errbuf, errlen, "embedded cluster: no bootstrap address");
        goto fail;
    }
    if (!create_topics(cl->mc, brokers < 3 ? brokers : 3, topics, n, errbuf, errlen)) goto fail;
    return cl;
fail:
    if (conf) rd_kafka_conf_destroy(conf);
    gs_cluster_stop(cl);
    return NULL;
}

const char *gs_cluster_bootstrap(const gs_cluster_t *cl)
{
    return cl->bootstrap;
}

void gs_cluster_stop(gs_cluster_t *cl)
{
    if (!cl) return;
    if (cl->mc) rd_kafka_mock_cluster_destroy(cl->mc);
    if (cl->rk) rd_kafka_destroy(cl->rk);
    free(cl->bootstrap);
    free(cl);
}

/* --- gridstream broker --------------------------------------------------------------------- */

static void broker_usage(FILE *f)
{
    fprintf(f,
            "usage: gridstream broker [--partitions N] [--brokers B] [--no-topics]\n"
            "                         [--config FILE] [--set key=value]...\n"
            "\n"
            "Runs the embedded Kafka-protocol cluster (librdkafka's mock cluster) in the\n"
            "foreground on 127.0.0.1 until SIGINT or SIGTERM, with every topic of the plan\n"
            "(gridstream topics) created: N input partitions (1..%d, default 4), B brokers\n"
            "(1..%d, default 3). Prints one line, \"bootstrap: HOST:PORT,...\", on stdout once\n"
            "the topics exist; logs go to stderr. --no-topics creates none (to try how clients\n"
            "meet a cluster without them).\n"
            "\n"
            "A development and test broker: about 5 MB kept per partition (older data dropped),\n"
            "no CreateTopics (unknown topics are auto-created with 4 partitions), nothing\n"
            "persisted.\n",
            GS_TOPICS_MAX_PARTITIONS, GS_CLUSTER_MAX_BROKERS);
}

static bool parse_brokers(const char *s, int *n)
{
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > GS_CLUSTER_MAX_BROKERS) return false;
    *n = (int)v;
    return true;
}

int gs_broker_main(int argc, char **argv)
{
    int partitions = 4, brokers = 3;
    bool no_topics = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            broker_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--no-topics") == 0) {
            no_topics = true;
            continue;
        }
        bool is_parts = strcmp(argv[i], "--partitions") == 0;
        bool is_brokers = strcmp(argv[i], "--brokers") == 0;
        if (!is_parts && !is_brokers && strcmp(argv[i], "--config") != 0 &&
            strcmp(argv[i], "--set") != 0) {
            fprintf(stderr, "gridstream broker: unexpected argument '%s'\n\n", argv[i]);
            broker_usage(stderr);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gridstream broker: %s needs a value\n", argv[i]);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (is_parts && !gs_topics_parse_partitions(v, &partitions)) {
            fprintf(stderr, "gridstream broker: --partitions: '%s' is not an integer in 1..%d\n", v,
                    GS_TOPICS_MAX_PARTITIONS);
            return EXIT_USAGE;
        }
        if (is_brokers && !parse_brokers(v, &brokers)) {
            fprintf(stderr, "gridstream broker: --brokers: '%s' is not an integer in 1..%d\n", v,
                    GS_CLUSTER_MAX_BROKERS);
            return EXIT_USAGE;
        }
    }
    gs_config_t cfg;
    if (gs_config_from_cli(&cfg, NULL, argc, argv, environ) != GS_OK) return EXIT_USAGE;

    /*
     * Block the stop signals before librdkafka starts its threads (they inherit the mask), then
     * wait for one synchronously: no handler, no flag polling. A reader of stdout that goes away
     * must not kill the broker.
     */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stop, NULL) != 0) {
        perror("gridstream broker: sigprocmask");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    gs_topic_spec_t plan[GS_TOPICS_COUNT];
    size_t n = no_topics ? 0 : gs_topics_plan(&cfg, partitions, plan, GS_TOPICS_COUNT);
    char err[1024];
    gs_cluster_t *cl = gs_cluster_start(brokers, plan, n, err, sizeof(err));
    if (!cl) {
        fprintf(stderr, "gridstream broker: %s\n", err);
        return 1;
    }
    printf("bootstrap: %s\n", gs_cluster_bootstrap(cl));
    fflush(stdout);
    fprintf(stderr,
            "gridstream broker: %d broker%s on %s, %zu topics (input partitions %d, "
            "application.id %s); SIGINT or SIGTERM stops\n",
            brokers, brokers == 1 ? "" : "s", gs_cluster_bootstrap(cl), n, partitions,
            cfg.application_id);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "gridstream broker: %s received, stopping\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    gs_cluster_stop(cl);
    fprintf(stderr, "gridstream broker: stopped\n");
    return 0;
}
