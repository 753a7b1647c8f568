/*
 * http.h - the operations endpoint on metrics.host:metrics.port (libmicrohttpd):
 *
 *   GET /metrics   200, the registry in the Prometheus text format (metrics.h)
 *   GET /healthz   200 "ok" while every stream thread beats; 503 naming the stuck threads
 *   GET /readyz    200 "ready" when ready (health.h); 503 with the reason otherwise
 *   anything else  404 (405 for methods other than GET and HEAD)
 *
 * The server runs in libmicrohttpd's own thread (MHD_USE_INTERNAL_POLLING_THREAD); its answers
 * read relaxed atomics and never wait on stream threads, so they come within milliseconds whatever
 * the stream threads do. The configuration's metrics.port=0 means "no endpoint": the engine then
 * does not call gs_http_start (port 0 here asks for an ephemeral port, which tests use).
 */
#ifndef GS_HTTP_H
#define GS_HTTP_H

#include <stddef.h>

#include "health.h"
#include "metrics.h"

typedef struct gs_http gs_http_t;

/*
 * Listens on `host` (a numeric address or a name, e.g. "0.0.0.0", "::", "127.0.0.1") and `port`
 * (0: an ephemeral port, see gs_http_port) and serves `m` and `h` (borrowed: both must outlive the
 * server; either may be NULL, its endpoints then answer 404). NULL on failure with the reason in
 * errbuf, e.g. "metrics.port 9464: Address already in use; set metrics.port=0 to disable".
 */
gs_http_t *gs_http_start(const char *host, int port, gs_metrics_t *m, gs_health_t *h, char *errbuf,
                         size_t errlen);

/* The port the server listens on. */
int gs_http_port(const gs_http_t *s);

/* Stops the server, waiting for its thread; NULL is a no-op. */
void gs_http_stop(gs_http_t *s);

#endif
