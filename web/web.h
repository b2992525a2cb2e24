/*  web/web.h — the coordinator's HTTP server (civetweb): REST API, webhooks,
    /metrics and health.

    web_start() starts civetweb's threads; every request is routed by
    web/routes.c, authenticated by web/auth.c, and answered either from the
    mesh loop (an API or client-protocol message over the in-process socket,
    web/bridge.c) or, for health, at once. The mesh loop stays the only
    owner of scheduling state: this layer never touches it directly.

    Rules: a request gets exactly one response; every error is
    {"error":{"code":..,"message":..}} (web/http.c); every wait on the loop
    is bounded; the web layer never logs a credential.
*/
#ifndef POPEBOT_WEB_WEB_H
#define POPEBOT_WEB_WEB_H

#include <stddef.h>
#include <stdint.h>

struct auth;

typedef struct web web_t;

typedef struct {
    const char *listen;        /* "ADDR:PORT" */
    size_t max_body;           /* largest request body, bytes */
    unsigned threads;          /* civetweb worker threads (long polls hold one each) */
    void *zctx;                /* the coordinator's ZeroMQ context */
    const char *api_endpoint;  /* the loop's in-process socket */
    const char *events_endpoint; /* the loop's event XPUB (in-process) */
    struct auth *auth;         /* credentials */
    const char *cluster_id;
    const char *version;
    uint32_t timeout_ms;       /* how long a request waits for the loop */
    uint32_t follow_max_ms;    /* longest live log follow (SSE) */
    uint32_t session_lifetime_ms; /* a UI session's absolute lifetime */
    uint32_t session_idle_ms;  /* a UI session unused this long ends */
    const char *tls_pem;       /* PEM with the private key and certificate chain:
                                  HTTPS only on the port; NULL = plain HTTP */
} web_opts_t;

web_t *web_start(const web_opts_t *opts, char *err, size_t errlen);
/* Stops civetweb (waiting for its threads, which close their sockets). */
void web_stop(web_t **self_p);

#endif
