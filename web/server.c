/*  web/server.c — civetweb's start and stop, and one request's life.

    civetweb runs a fixed pool of worker threads; each gets its own socket
    to the mesh loop in init_thread (web/bridge.c) and closes it in
    exit_thread, so web_stop() (mg_stop waits for the threads) leaves no
    socket open and the coordinator can then terminate its ZeroMQ context.
    One handler takes every path: web/routes.c routes it.
*/
#include "web/web_int.h"
#include "mesh/clock.h"
#include "node/log.h"
#include "web/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WEB_THREAD_NICE 10   /* HTTP threads yield to the mesh loop */
#define WEB_SESSIONS 256     /* live UI sessions at most (the least recently used goes) */
#define WEB_THROTTLE_SLOTS 1024  /* failed-login counters, per table */
#define WEB_LOGIN_FAILS 5    /* failed logins per address or user per window ... */
#define WEB_LOGIN_WINDOW_MS 60000  /* ... of a minute; then 429 until it ends */

static void *s_init_thread(const struct mg_context *ctx, int type)
{
    web_t *w = mg_get_user_data(ctx);
    if (type != 1)            /* only connection workers talk to the loop */
        return NULL;
    /* The mesh loop is one thread and every request passes through it;
       HTTP threads are many. At equal priority the scheduler gives the loop
       one share among dozens and it becomes the bottleneck under load, so
       HTTP threads run at a lower priority (raising the loop's would need
       privileges; lowering ours never does). */
    if (setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), WEB_THREAD_NICE) != 0)
        log_msg(LL_DEBUG, "http", "cannot lower an HTTP thread's priority");
    bridge_t *b = bridge_new(w->opts.zctx, w->opts.api_endpoint, &w->stopping);
    if (!b)
        log_msg(LL_ERROR, "http", "a worker thread cannot reach the loop");
    return b;
}

static void s_exit_thread(const struct mg_context *ctx, int type, void *ptr)
{
    (void) ctx;
    (void) type;
    bridge_t *b = ptr;
    bridge_destroy(&b);
}

static int s_log_message(const struct mg_connection *conn, const char *message)
{
    (void) conn;
    log_msg(LL_DEBUG, "http", "%s", message);
    return 1;
}

static int s_handle(struct mg_connection *conn, void *cbdata)
{
    web_req_t r = { .conn = conn, .ri = mg_get_request_info(conn), .web = cbdata,
                    .bridge = mg_get_thread_pointer(conn) };
    if (!r.bridge)
        web_error(&r, 503, "unavailable", "this server thread cannot reach the loop");
    else
        web_route(&r);
    if (!r.status)            /* a handler that could not answer (out of memory) */
        web_error(&r, 500, "internal", "the request could not be answered");
    for (size_t i = 0; i < WEB_PARAMS; i++)
        free(r.param[i]);
    free(r.body);
    return r.status ? r.status : 500;
}

/* Delete the UI sessions that ended while the coordinator was down; a
   failure only leaves them to the next login's sweep. */
static void s_sweep(web_t *w)
{
    char err[256];
    int n = sessions_sweep(w->sessions, clock_wall_ms(), err, sizeof err);
    if (n < 0)
        log_msg(LL_WARN, "http", "%s", err);
    else if (n > 0)
        log_msg(LL_DEBUG, "http", "%d ended UI sessions deleted", n);
}

/* Free w and what it owns (after its threads stopped, or before any ran). */
static void s_free(web_t *w)
{
    sessions_destroy(&w->sessions);
    throttle_destroy(&w->fail_addr);
    throttle_destroy(&w->fail_user);
    free(w);
}

web_t *web_start(const web_opts_t *opts, char *err, size_t errlen)
{
    web_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->opts = *opts;
    snprintf(w->listen, sizeof w->listen, "%s", opts->listen);
    snprintf(w->cluster_id, sizeof w->cluster_id, "%s", opts->cluster_id);
    snprintf(w->version, sizeof w->version, "%s", opts->version);
    w->opts.listen = w->listen;
    w->opts.cluster_id = w->cluster_id;
    w->opts.version = w->version;
    char threads[16], ports[140];
    snprintf(threads, sizeof threads, "%u", opts->threads);
    snprintf(ports, sizeof ports, "%s%s", w->listen, opts->tls_pem ? "s" : "");
    const char *options[] = {
        "listening_ports", ports,       /* with TLS the port speaks HTTPS only */
        "num_threads", threads,
        "request_timeout_ms", "30000",
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "30000",
        "tcp_nodelay", "1",
        /* without TLS the list ends here */
        opts->tls_pem ? "ssl_certificate" : NULL, opts->tls_pem,
        "ssl_protocol_version", "4",    /* TLS 1.2 and newer */
        NULL
    };
    struct mg_callbacks cb = { 0 };
    cb.init_thread = s_init_thread;
    cb.exit_thread = s_exit_thread;
    cb.log_message = s_log_message;
    if (opts->tls_pem && web_tls_load(err, errlen) != 0) {
        s_free(w);
        return NULL;
    }
    w->sessions = sessions_new(opts->auth, WEB_SESSIONS, opts->session_lifetime_ms,
                               opts->session_idle_ms);
    w->fail_addr = throttle_new(WEB_THROTTLE_SLOTS, WEB_LOGIN_FAILS, WEB_LOGIN_WINDOW_MS);
    w->fail_user = throttle_new(WEB_THROTTLE_SLOTS, WEB_LOGIN_FAILS, WEB_LOGIN_WINDOW_MS);
    if (!w->sessions || !w->fail_addr || !w->fail_user) {
        snprintf(err, errlen, "out of memory");
        s_free(w);
        return NULL;
    }
    s_sweep(w);
    mg_init_library(0);
    w->ctx = mg_start(&cb, w, options);
    if (!w->ctx) {
        snprintf(err, errlen, "cannot serve HTTP%s on %s (address in use or not valid%s?)",
                 opts->tls_pem ? "S" : "", opts->listen,
                 opts->tls_pem ? ", or the TLS key and certificate unusable" : "");
        s_free(w);
        return NULL;
    }
    mg_set_request_handler(w->ctx, "/", s_handle, w);
    return w;
}

void web_stop(web_t **self_p)
{
    web_t *w = *self_p;
    if (!w)
        return;
    atomic_store(&w->stopping, 1);   /* loop calls and log follows give up */
    mg_stop(w->ctx);
    s_free(w);
    *self_p = NULL;
}
