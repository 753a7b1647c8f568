/*
 * http.c - /metrics, /healthz and /readyz over libmicrohttpd (http.h).
 *
 * The listening socket is made here rather than by libmicrohttpd so that a bind failure can be
 * reported with its errno and the configuration key to change; the daemon takes it over
 * (MHD_OPTION_LISTEN_SOCKET) and closes it when stopped. libmicrohttpd's own error messages go to
 * the log as event=http_error.
 */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

struct gs_http {
    struct MHD_Daemon *d;
    gs_metrics_t *m;
    gs_health_t *h;
    int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
                             char *body, size_t len, bool take)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (take) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
    char body[1100];
    int n = snprintf(body, sizeof(body), "%s\n", text);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1;
    return reply(c, status, "text/plain; charset=utf-8", body, len, false);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    gs_http_t *s = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    char why[1024];
    if (s->m && strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *text = gs_metrics_render(s->m, &len);
        if (!text) return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len, true);
    }
    if (s->h && strcmp(url, "/healthz") == 0) {
        if (gs_health_live(s->h, gs_health_now_ms(), why, sizeof(why)))
            return reply_text(c, MHD_HTTP_OK, "ok");
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, why);
    }
    if (s->h && strcmp(url, "/readyz") == 0) {
        if (gs_health_ready(s->h, gs_health_now_ms(), why, sizeof(why)))
            return reply_text(c, MHD_HTTP_OK, "ready");
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, why);
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    gs_log(GS_LOG_WARN, "http_error", "error=%s", msg);
}

gs_http_t *gs_http_start(const char *host, int port, gs_metrics_t *m, gs_health_t *h, char *errbuf,
                         size_t errlen)
{
    if (port < 0 || port > 65535) {
        snprintf(errbuf, errlen, "metrics.port %d: not a port", port);
        return NULL;
    }
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host && *host ? host : NULL, service, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(errbuf, errlen, "metrics.host '%s': %s", host ? host : "",
                 rc ? gai_strerror(rc) : "no address");
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        snprintf(errbuf, errlen, "metrics.port %d: %s; set metrics.port=0 to disable", port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    bool v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);

    gs_http_t *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->m = m;
    s->h = h;
    s->port = bound;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                         (v6 ? MHD_USE_IPv6 : 0);
    /* the logger first, so that every message of the daemon goes through it */
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                            NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    if (!s->d) {
        close(fd);
        free(s);
        snprintf(errbuf, errlen, "metrics.port %d: the HTTP server did not start", bound);
        return NULL;
    }
    gs_log(GS_LOG_INFO, "http_listening", "host=%s port=%d paths=/metrics,/healthz,/readyz",
           host && *host ? host : "*", bound);
    return s;
}

int gs_http_port(const gs_http_t *s)
{
    return s->port;
}

void gs_http_stop(gs_http_t *s)
{
    if (!s) return;
    MHD_stop_daemon(s->d); /* closes the listening socket too */
    free(s);
}
