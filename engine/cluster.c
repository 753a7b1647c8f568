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
 *
 * Fault injection (gs_cluster_control) is a thin, checked layer over the mock API: every word is
 * validated before the cluster is touched, so a bad command gets an error line and changes
 * nothing. `gridstream broker --control` reads those commands on its main thread, multiplexing
 * stdin with a signalfd for the stop signals.
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
#include <strings.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <unistd.h>

extern char **environ;

#define EXIT_USAGE 2

struct gs_cluster {
    rd_kafka_t *rk;              /* hosts the mock cluster; never produces */
    rd_kafka_mock_cluster_t *mc; /* owned; destroyed before rk */
    char *bootstrap;             /* owned copy of the listeners' addresses */
    int brokers;                 /* ids 1..brokers */
    gs_topic_spec_t *topics;     /* owned copy of the topics created at start */
    size_t ntopics;
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
    /* The mock brokers' accepted sockets take their options from this handle's configuration.
     * With Nagle on, a broker's response written in two segments waited for the client's delayed
     * ACK (~40 ms on loopback): every transaction's delivery wait was 43-60 ms, even for a commit
     * of a few records (measured; 9 ms on average with this set). */
    char why[512];
    if (rd_kafka_conf_set(conf, "client.id", "gridstream-embedded-cluster", why, sizeof(why)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "socket.nagle.disable", "true", why, sizeof(why)) !=
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
    cl->brokers = brokers;
    if (n && !(cl->topics = malloc(n * sizeof(*topics)))) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    if (n) memcpy(cl->topics, topics, n * sizeof(*topics));
    cl->ntopics = n;
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
    free(cl->topics);
    free(cl);
}

/* --- fault injection ----------------------------------------------------------------------- */

/* Kafka protocol request names, indexed by ApiKey (Kafka's own names, as in the protocol guide). */
static const char *const api_names[] = {"Produce",
                                        "Fetch",
                                        "ListOffsets",
                                        "Metadata",
                                        "LeaderAndIsr",
                                        "StopReplica",
                                        "UpdateMetadata",
                                        "ControlledShutdown",
                                        "OffsetCommit",
                                        "OffsetFetch",
                                        "FindCoordinator",
                                        "JoinGroup",
                                        "Heartbeat",
                                        "LeaveGroup",
                                        "SyncGroup",
                                        "DescribeGroups",
                                        "ListGroups",
                                        "SaslHandshake",
                                        "ApiVersions",
                                        "CreateTopics",
                                        "DeleteTopics",
                                        "DeleteRecords",
                                        "InitProducerId",
                                        "OffsetForLeaderEpoch",
                                        "AddPartitionsToTxn",
                                        "AddOffsetsToTxn",
                                        "EndTxn",
                                        "WriteTxnMarkers",
                                        "TxnOffsetCommit"};
#define API_NAMES (int)(sizeof(api_names) / sizeof(api_names[0]))
#define API_KEY_MAX 999
#define ERRORS_MAX 10000 /* errors one command may push */

/* Parses a decimal integer in [lo, hi], the whole string. */
static bool parse_int(const char *s, long lo, long hi, long *v)
{
    if (!s || !*s) return false;
    errno = 0;
    char *end;
    long x = strtol(s, &end, 10);
    if (errno || *end || x < lo || x > hi) return false;
    *v = x;
    return true;
}

/* A request name (case-insensitive) or ApiKey number; its canonical name into `name`. */
static bool parse_api(const char *s, int16_t *key, const char **name)
{
    long v;
    for (int i = 0; i < API_NAMES; i++)
        if (strcasecmp(s, api_names[i]) == 0) {
            *key = (int16_t)i;
            *name = api_names[i];
            return true;
        }
    if (!parse_int(s, 0, API_KEY_MAX, &v)) return false;
    *key = (int16_t)v;
    *name = v < API_NAMES ? api_names[v] : "ApiKey";
    return true;
}

/*
 * An error by librdkafka's name (NOT_LEADER_FOR_PARTITION, _TRANSPORT; case-insensitive, the
 * RD_KAFKA_RESP_ERR_ prefix optional) or by its code; its name into `name`.
 */
static bool parse_error(const char *s, rd_kafka_resp_err_t *err, const char **name)
{
    const struct rd_kafka_err_desc *d;
    size_t n;
    rd_kafka_get_err_descs(&d, &n);
    if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0) s += 18;
    long v;
    bool num = parse_int(s, -1000, 1000, &v);
    for (size_t i = 0; i < n; i++) {
        if (!d[i].name) continue;
        if (num ? (long)d[i].code == v : strcasecmp(s, d[i].name) == 0) {
            *err = d[i].code;
            *name = d[i].name;
            return true;
        }
    }
    return false;
}

/* A broker id 1..brokers, or "all" (-1) when `all_ok`. */
static bool parse_broker(const gs_cluster_t *cl, const char *s, bool all_ok, int32_t *id)
{
    long v;
    if (all_ok && strcmp(s, "all") == 0) {
        *id = -1;
        return true;
    }
    if (!parse_int(s, 1, cl->brokers, &v)) return false;
    *id = (int32_t)v;
    return true;
}

static const char control_help[] =
    "ok commands: errors REQUEST COUNT ERROR | broker-errors BROKER|all REQUEST COUNT ERROR "
    "[RTT_MS] | pending BROKER|all REQUEST | clear REQUEST | down BROKER|all | up BROKER|all | "
    "rtt BROKER|all MS | leader TOPIC PARTITION BROKER|none | coordinator txn|group KEY BROKER | "
    "help";

#define CONTROL_WORDS 8

int gs_cluster_control(gs_cluster_t *cl, const char *line, char *reply, size_t len)
{
    char buf[1024];
    char *w[CONTROL_WORDS];
    int n = 0;
    if (strlen(line) >= sizeof(buf)) {
        snprintf(reply, len, "error: command longer than %zu bytes", sizeof(buf) - 1);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", line);
    char *save = NULL;
    for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == CONTROL_WORDS) {
            snprintf(reply, len, "error: too many words (see help)");
            return -1;
        }
        w[n++] = t;
    }
    if (n == 0) {
        snprintf(reply, len, "error: empty command (see help)");
        return -1;
    }
    const char *cmd = w[0];
    int16_t key;
    const char *api, *ename;
    rd_kafka_resp_err_t err, e = RD_KAFKA_RESP_ERR_NO_ERROR;
    int32_t b;
    long v, count;

#define ARGS(k, usage)                                                                             \
    do {                                                                                           \
        if (n != (k) + 1) {                                                                        \
            snprintf(reply, len, "error: usage: %s", usage);                                       \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(reply, len, "error: " __VA_ARGS__);                                               \
        return -1;                                                                                 \
    } while (0)

    if (strcmp(cmd, "help") == 0) {
        snprintf(reply, len, "%s", control_help);
        return 0;
    }
    if (strcmp(cmd, "errors") == 0 || strcmp(cmd, "broker-errors") == 0) {
        bool per_broker = cmd[0] == 'b';
        int a = per_broker ? 2 : 1; /* index of REQUEST */
        long rtt = 0;
        if (per_broker && n == 6) {
            if (!parse_int(w[5], 0, 600000, &rtt)) BAD("RTT_MS '%s' is not in 0..600000", w[5]);
        } else if (per_broker) {
            ARGS(4, "broker-errors BROKER|all REQUEST COUNT ERROR [RTT_MS]");
        } else {
            ARGS(3, "errors REQUEST COUNT ERROR");
        }
        b = -1;
        if (per_broker && !parse_broker(cl, w[1], true, &b))
            BAD("no broker '%s' (1..%d or all)", w[1], cl->brokers);
        if (!parse_api(w[a], &key, &api))
            BAD("unknown request '%s' (a Kafka request name such as Produce, or its ApiKey)", w[a]);
        if (!parse_int(w[a + 1], 1, ERRORS_MAX, &count))
            BAD("COUNT '%s' is not in 1..%d", w[a + 1], ERRORS_MAX);
        if (!parse_error(w[a + 2], &err, &ename))
            BAD("unknown error '%s' (a librdkafka error name such as NOT_LEADER_FOR_PARTITION)",
                w[a + 2]);
        if (!per_broker) {
            rd_kafka_resp_err_t *errs = malloc((size_t)count * sizeof(*errs));
            if (!errs) BAD("out of memory");
            for (long i = 0; i < count; i++)
                errs[i] = err;
            rd_kafka_mock_push_request_errors_array(cl->mc, key, (size_t)count, errs);
            free(errs);
            snprintf(reply, len, "ok the next %ld %s %s with %s", count, api,
                     count == 1 ? "request fails" : "requests fail", ename);
            return 0;
        }
        for (int32_t id = b < 0 ? 1 : b; id <= (b < 0 ? cl->brokers : b) && !e; id++)
            for (long i = 0; i < count && !e; i++)
                e = rd_kafka_mock_broker_push_request_error_rtts(cl->mc, id, key, 1, err, (int)rtt);
        if (e) BAD("%s", rd_kafka_err2str(e));
        snprintf(reply, len, "ok the next %ld %s %s to broker %s fail with %s after %ld ms", count,
                 api, count == 1 ? "request" : "requests", w[1], ename, rtt);
        return 0;
    }
    if (strcmp(cmd, "pending") == 0) {
        ARGS(2, "pending BROKER|all REQUEST");
        if (!parse_broker(cl, w[1], true, &b))
            BAD("no broker '%s' (1..%d or all)", w[1], cl->brokers);
        if (!parse_api(w[2], &key, &api)) BAD("unknown request '%s'", w[2]);
        size_t total = 0;
        for (int32_t id = b < 0 ? 1 : b; id <= (b < 0 ? cl->brokers : b) && !e; id++) {
            size_t c = 0;
            e = rd_kafka_mock_broker_error_stack_cnt(cl->mc, id, key, &c);
            total += c;
        }
        if (e) BAD("%s", rd_kafka_err2str(e));
        snprintf(reply, len, "ok %zu", total);
        return 0;
    }
    if (strcmp(cmd, "clear") == 0) {
        ARGS(1, "clear REQUEST");
        if (!parse_api(w[1], &key, &api)) BAD("unknown request '%s'", w[1]);
        rd_kafka_mock_clear_request_errors(cl->mc, key);
        snprintf(reply, len, "ok %s errors cleared", api);
        return 0;
    }
    if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
        ARGS(1, cmd[0] == 'd' ? "down BROKER|all" : "up BROKER|all");
        if (!parse_broker(cl, w[1], true, &b))
            BAD("no broker '%s' (1..%d or all)", w[1], cl->brokers);
        e = cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(cl->mc, b)
                          : rd_kafka_mock_broker_set_up(cl->mc, b);
        if (e) BAD("%s", rd_kafka_err2str(e));
        snprintf(reply, len, "ok broker %s %s", w[1], cmd);
        return 0;
    }
    if (strcmp(cmd, "rtt") == 0) {
        ARGS(2, "rtt BROKER|all MS");
        if (!parse_broker(cl, w[1], true, &b))
            BAD("no broker '%s' (1..%d or all)", w[1], cl->brokers);
        if (!parse_int(w[2], 0, 600000, &v)) BAD("MS '%s' is not in 0..600000", w[2]);
        if ((e = rd_kafka_mock_broker_set_rtt(cl->mc, b, (int)v))) BAD("%s", rd_kafka_err2str(e));
        snprintf(reply, len, "ok broker %s rtt %ld ms", w[1], v);
        return 0;
    }
    if (strcmp(cmd, "leader") == 0) {
        ARGS(3, "leader TOPIC PARTITION BROKER|none");
        const gs_topic_spec_t *t = NULL;
        for (size_t i = 0; i < cl->ntopics && !t; i++)
            if (strcmp(cl->topics[i].name, w[1]) == 0) t = &cl->topics[i];
        /* the mock would create an unknown topic: only the topics made at start are moved */
        if (!t) BAD("no topic '%s' among those created at start", w[1]);
        if (!parse_int(w[2], 0, t->partitions - 1, &v))
            BAD("topic %s has no partition '%s' (0..%d)", t->name, w[2], t->partitions - 1);
        b = -1;
        if (strcmp(w[3], "none") != 0 && !parse_broker(cl, w[3], false, &b))
            BAD("no broker '%s' (1..%d or none)", w[3], cl->brokers);
        if ((e = rd_kafka_mock_partition_set_leader(cl->mc, t->name, (int32_t)v, b)))
            BAD("%s", rd_kafka_err2str(e));
        snprintf(reply, len, "ok %s [%ld] leader %s", t->name, v, w[3]);
        return 0;
    }
    if (strcmp(cmd, "coordinator") == 0) {
        ARGS(3, "coordinator txn|group KEY BROKER");
        const char *type = strcmp(w[1], "txn") == 0 || strcmp(w[1], "transaction") == 0
                               ? "transaction"
                           : strcmp(w[1], "group") == 0 ? "group"
                                                        : NULL;
        if (!type) BAD("coordinator type '%s' is not txn or group", w[1]);
        if (!parse_broker(cl, w[3], false, &b)) BAD("no broker '%s' (1..%d)", w[3], cl->brokers);
        if ((e = rd_kafka_mock_coordinator_set(cl->mc, type, w[2], b)))
            BAD("%s", rd_kafka_err2str(e));
        snprintf(reply, len, "ok %s coordinator of %s is broker %d", type, w[2], (int)b);
        return 0;
    }
#undef ARGS
#undef BAD
    snprintf(reply, len, "error: unknown command '%s' (see help)", cmd);
    return -1;
}

/* --- gridstream broker --------------------------------------------------------------------- */

static void broker_usage(FILE *f)
{
    fprintf(f,
            "usage: gridstream broker [--partitions N] [--brokers B] [--no-topics] [--control]\n"
            "                         [--config FILE] [--set key=value]...\n"
            "\n"
            "Runs the embedded Kafka-protocol cluster (librdkafka's mock cluster) in the\n"
            "foreground on 127.0.0.1 until SIGINT or SIGTERM, with every topic of the plan\n"
            "(gridstream topics) created: N input partitions (1..%d, default 4), B brokers\n"
            "(1..%d, default 3). Prints one line, \"bootstrap: HOST:PORT,...\", on stdout once\n"
            "the topics exist; logs go to stderr. --no-topics creates none (to try how clients\n"
            "meet a cluster without them).\n"
            "\n"
            "--control reads fault-injection commands from stdin, one a line, and answers each\n"
            "with one line on stdout after the bootstrap line: \"ok ...\" or \"error: ...\".\n"
            "Brokers are numbered 1..B; REQUEST is a Kafka request name (Produce, Fetch,\n"
            "EndTxn, TxnOffsetCommit, AddPartitionsToTxn, InitProducerId, ...) or its ApiKey;\n"
            "ERROR is a librdkafka error name (NOT_LEADER_FOR_PARTITION, _TRANSPORT, ...).\n"
            "  errors REQUEST COUNT ERROR      the next COUNT such requests, to any broker, fail\n"
            "  broker-errors BROKER|all REQUEST COUNT ERROR [RTT_MS]\n"
            "                                  the same on one broker's (each broker's) own\n"
            "                                  stack, answered after RTT_MS\n"
            "  pending BROKER|all REQUEST      errors still stacked by broker-errors\n"
            "  clear REQUEST                   drop the pending errors of `errors`\n"
            "  down BROKER|all, up BROKER|all  close a broker's connections and refuse new\n"
            "                                  ones / accept again (no leader change)\n"
            "  rtt BROKER|all MS               delay every answer of a broker by MS\n"
            "  leader TOPIC PARTITION BROKER|none   move a partition's leader\n"
            "  coordinator txn|group KEY BROKER     move a transactional.id's or group's\n"
            "                                  coordinator\n"
            "  help                            the list of commands, on one line\n"
            "When stdin ends the cluster runs on until a signal.\n"
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

/*
 * The --control loop (main thread): serves command lines from stdin, one answer line each on
 * stdout, until a stop signal (returned) or, once stdin ends, keeps only waiting for the signal.
 * The stop signals are blocked and read from a signalfd, so a signal never interrupts a command
 * half done and the cluster is stopped on this thread only.
 */
static int control_loop(gs_cluster_t *cl, const sigset_t *stop)
{
    int sfd = signalfd(-1, stop, SFD_CLOEXEC);
    if (sfd < 0) {
        perror("gridstream broker: signalfd");
        return 0; /* the caller falls back to sigwait */
    }
    char line[1100], reply[1024];
    size_t have = 0;
    bool eof = false, skipping = false; /* skipping: the rest of a line too long to keep */
    int sig = 0;
    while (!sig) {
        struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
        if (poll(pf, eof ? 1 : 2, -1) < 0) {
            if (errno == EINTR) continue;
            perror("gridstream broker: poll");
            break;
        }
        if (pf[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) sig = (int)si.ssi_signo;
            continue;
        }
        if (eof || !(pf[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t got = read(0, line + have, sizeof(line) - 1 - have);
        if (got <= 0) {
            if (got < 0 && errno == EINTR) continue;
            eof = true; /* commands are over; the cluster runs on until a signal */
            fprintf(stderr, "gridstream broker: control input closed\n");
            continue;
        }
        have += (size_t)got;
        char *nl;
        while ((nl = memchr(line, '\n', have))) {
            *nl = 0;
            if (skipping) {
                skipping = false;
            } else {
                gs_cluster_control(cl, line, reply, sizeof(reply));
                printf("%s\n", reply);
                fflush(stdout);
                fprintf(stderr, "gridstream broker: control: %s -> %s\n", line, reply);
            }
            have -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, have);
        }
        if (have == sizeof(line) - 1) { /* no end of line in sight: refuse the whole line */
            if (!skipping) {
                printf("error: command longer than %zu bytes\n", sizeof(line) - 2);
                fflush(stdout);
            }
            skipping = true;
            have = 0;
        }
    }
    close(sfd);
    return sig;
}

int gs_broker_main(int argc, char **argv)
{
    int partitions = 4, brokers = 3;
    bool no_topics = false, control = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            broker_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--no-topics") == 0) {
            no_topics = true;
            continue;
        }
        if (strcmp(argv[i], "--control") == 0) {
            control = true;
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

    int sig = control ? control_loop(cl, &stop) : 0;
    while (!sig && sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "gridstream broker: %s received, stopping\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    gs_cluster_stop(cl);
    fprintf(stderr, "gridstream broker: stopped\n");
    return 0;
}
