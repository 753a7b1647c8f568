/*
 * 0003-cluster-nodelay: the embedded cluster's brokers answer without Nagle's algorithm. A
 * response written in more than one segment otherwise waits for the client's delayed ACK, about
 * 40 ms on loopback, which every commit paid (engine/cluster.c). The test connects a plain TCP
 * socket to each broker, finds the broker's side of that connection among this process's file
 * descriptors (same process: the mock brokers run on librdkafka threads here) and asks the kernel
 * for its TCP_NODELAY.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The fd whose local end is `local` and whose peer is `peer`, or -1. */
static int find_socket(const struct sockaddr_in *local, const struct sockaddr_in *peer)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int found = -1;
    struct dirent *e;
    while ((e = readdir(d)) && found < 0) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == dirfd(d)) continue;
        struct sockaddr_in a, b;
        socklen_t al = sizeof(a), bl = sizeof(b);
        if (getsockname(fd, (struct sockaddr *)&a, &al) != 0 || a.sin_family != AF_INET) continue;
        if (getpeername(fd, (struct sockaddr *)&b, &bl) != 0) continue;
        if (a.sin_port == local->sin_port && b.sin_port == peer->sin_port &&
            a.sin_addr.s_addr == local->sin_addr.s_addr)
            found = fd;
    }
    closedir(d);
    return found;
}

static void test_brokers_set_nodelay(void **state)
{
    (void)state;
    char err[512];
    gs_cluster_t *cl = gs_cluster_start(3, NULL, 0, err, sizeof(err));
    assert_non_null(cl);
    char bs[512];
    snprintf(bs, sizeof(bs), "%s", gs_cluster_bootstrap(cl));
    int brokers = 0;
    for (char *tok = strtok(bs, ","); tok; tok = strtok(NULL, ",")) {
        char *colon = strrchr(tok, ':');
        assert_non_null(colon);
        struct sockaddr_in srv = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(colon + 1))};
        *colon = '\0';
        assert_int_equal(inet_pton(AF_INET, tok, &srv.sin_addr), 1);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(c >= 0);
        assert_int_equal(connect(c, (struct sockaddr *)&srv, sizeof(srv)), 0);
        struct sockaddr_in me;
        socklen_t ml = sizeof(me);
        assert_int_equal(getsockname(c, (struct sockaddr *)&me, &ml), 0);
        /* the broker accepts on its own thread: wait for its end to appear */
        int fd = -1;
        for (int i = 0; i < 500 && fd < 0; i++) {
            fd = find_socket(&srv, &me);
            if (fd < 0) sleep_ms(10);
        }
        assert_true(fd >= 0);
        /* the broker sets its options just after accept(): give it the same time */
        int on = 0;
        socklen_t ol;
        for (int i = 0; i < 500 && !on; i++) {
            ol = sizeof(on);
            assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &ol), 0);
            if (!on) sleep_ms(10);
        }
        assert_int_not_equal(on, 0);
        /* and the client's own end, for contrast, has the kernel default */
        ol = sizeof(on);
        assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, &ol), 0);
        assert_int_equal(on, 0);
        close(c);
        brokers++;
    }
    assert_int_equal(brokers, 3);
    gs_cluster_stop(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brokers_set_nodelay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
