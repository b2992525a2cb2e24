/*  web/web_int.h — what the web layer's files share: the server, one
    request's context, the route table and the response helpers.

    A handler gets a web_req_t with the path parameters already split out
    and the caller already authenticated for the route's need; it answers
    with web_json() or web_error() (exactly once) and returns.
*/
#ifndef POPEBOT_WEB_WEB_INT_H
#define POPEBOT_WEB_WEB_INT_H

#include <civetweb.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "mesh/proto.h"
#include "store/auth.h"
#include "web/sessions.h"
#include "web/throttle.h"
#include "web/web.h"

#define WEB_PARAMS 3
#define WEB_STATUS_SLOTS 600          /* HTTP statuses counted for /metrics */

struct web {
    web_opts_t opts;
    char listen[128];                  /* copy of opts.listen */
    char cluster_id[64];
    char version[32];
    struct mg_context *ctx;
    atomic_ullong by_status[WEB_STATUS_SLOTS]; /* responses sent, by status */
    atomic_int follows;                /* live log follows holding a thread now */
    atomic_int polls;                  /* worker long polls holding a thread now */
    atomic_int stopping;               /* web_stop began: loop calls and long responses end */
    sessions_t *sessions;              /* UI logins (web/sessions.h, kept in opts.auth), owned */
    throttle_t *fail_addr;             /* failed logins by client address, owned */
    throttle_t *fail_user;             /* failed logins by user name, owned */
    atomic_int hashing;                /* password verifications running now */
};

typedef struct bridge bridge_t;

typedef struct {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    web_t *web;
    bridge_t *bridge;                  /* this thread's socket to the loop */
    char *param[WEB_PARAMS];           /* path parameters, decoded, owned */
    auth_key_t key;                    /* the caller's credential, when authed */
    bool authed;
    bool by_session;                   /* authed by a UI session cookie, not a key */
    char *body;                        /* the request body, NUL-terminated, owned */
    size_t body_len;
    int status;                        /* the response's status, once sent */
    char allow[64];                    /* the Allow header of a 405 */
    char hdr[512];                     /* more header lines for the response (web_header) */
} web_req_t;

/* ---- responses (web/http.c) ---- */
/* Send obj as JSON (steals the reference). */
void web_json(web_req_t *r, int status, json_t *obj);
void web_error(web_req_t *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Send raw bytes with a content type (text for /metrics, logs). */
void web_send(web_req_t *r, int status, const char *type, const char *data, size_t len);
/* The same with Cache-Control: no-cache (revalidate) instead of no-store;
   a 304 sends no body. */
void web_send_cached(web_req_t *r, int status, const char *type, const char *data, size_t len);
/* A streamed response (Server-Sent Events): the status line and headers
   with chunked encoding, then chunks, then the last (empty) chunk. A write
   returns -1 once the client is gone. */
void web_stream_start(web_req_t *r, int status, const char *type);
int web_stream_write(web_req_t *r, const char *data, size_t len);
void web_stream_end(web_req_t *r);
/* Add a header line ("Name: value", no CRLF) to the response still to be
   sent; a line that does not fit is dropped (the buffer suits a cookie). */
void web_header(web_req_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read the body (bounded by max_body). 0, or -1 after answering 413/400. */
int web_read_body(web_req_t *r);
/* Read and parse a JSON body: an object or array. NULL after answering 400. */
json_t *web_body_json(web_req_t *r);
/* A query-string parameter into buf. 1 found, 0 absent. */
int web_query(const web_req_t *r, const char *name, char *buf, size_t len);
/* The HTTP status for an ERROR code from the loop. */
int web_status_for(const char *code, size_t len);
/* A query parameter that is required to be short: 1 found, 0 absent, and
   -1 after answering 422 when it is longer than len (naming it). */
int web_param(web_req_t *r, const char *name, char *buf, size_t len);
/* 0 when every query parameter's name is in `known` (NULL-terminated);
   else -1 after answering 422 naming the first unknown one. */
int web_params_known(web_req_t *r, const char *const *known);
/* Take one of at most `max` places counted by *held (long responses that
   hold a thread); false after answering 503 when none is free. Give it
   back with web_let_go. */
bool web_hold(web_req_t *r, atomic_int *held, int max, const char *what);
void web_let_go(atomic_int *held);
/* Whether the caller's key allows `need` (auth_allows); answers 403 if not. */
bool web_require(web_req_t *r, const char *need);

/* ---- the loop (web/bridge.c) ---- */
/* stop: set when the server stops; a call waiting on the loop then gives up. */
bridge_t *bridge_new(void *zctx, const char *endpoint, const atomic_int *stop);
void bridge_destroy(bridge_t **self_p);
/* Next request id of this thread's socket. */
uint64_t bridge_next_id(bridge_t *b);
/* Send req (encoded with req_id) and wait for the answer with that id.
   Returns the message, or NULL on timeout or when the server is stopping. */
pb_msg_t *bridge_call(bridge_t *b, const pb_buf_t *req, uint64_t req_id, uint32_t timeout_ms);
/* An API operation: body JSON (not stolen) -> *out JSON. 0 ok; -1 after
   answering the error (the loop's ERROR mapped to its status, or 503). */
int web_api(web_req_t *r, const char *op, const json_t *body, json_t **out, uint32_t wait_ms);
/* An API operation that answers nothing itself (for a stream already
   under way): the JSON, or NULL on any failure. */
json_t *web_api_quiet(web_req_t *r, const char *op, const json_t *body, uint32_t timeout_ms);
/* A job as GET /api/jobs/{id} shows it (its output's tail under "log"); NULL after
   answering the error, or with quiet, NULL without answering. */
json_t *web_job_fetch(web_req_t *r, const char *id, bool quiet);
/* Replace the JSON-text members payload and result of a job by their values. */
void web_job_expand(json_t *job);
/* A client-protocol request (encoded in req with req_id): the REPLY or
   SUBMITTED message, or NULL after answering the error. */
pb_msg_t *web_call(web_req_t *r, const pb_buf_t *req, uint64_t req_id);

/* ---- UI sessions (web/api_login.c) ---- */
/* Authenticate r by its session cookie: 1 authed (as admin, r->by_session),
   0 when it carries no session cookie, -1 after answering (401 for an ended
   session, 403 csrf for a state change without the session's token). */
int web_session_auth(web_req_t *r);
/* Whether r's session cookie still names a live session (answers nothing). */
bool web_session_valid(web_req_t *r);
/* For a long response (web/sse.c): whether the credential that opened it
   still holds — a key not revoked, a session not ended. Answers nothing. */
bool web_credential_valid(web_req_t *r);

/* ---- routes (web/routes.c and the api_*.c files) ---- */
typedef enum {
    NEED_NONE,                         /* public: health */
    NEED_ANY,                          /* any valid credential; the handler checks more */
    NEED_READ,
    NEED_ADMIN,
    NEED_WORKER                        /* worker:{param 0} */
} web_need_t;

typedef void (web_handler_fn)(web_req_t *r);

typedef struct {
    const char *method;
    const char *pattern;               /* "/api/jobs/{}" : {} matches one segment */
    web_need_t need;
    web_handler_fn *handler;
} web_route_t;

/* Route and answer one request. */
void web_route(web_req_t *r);
/* Every route, for the spec test (`popebot-node routes`). */
const web_route_t *web_routes(size_t *n);

/* handlers */
web_handler_fn web_healthz, web_readyz, web_info, web_metrics;
web_handler_fn web_ui_page, web_ui_asset, web_events, web_stats, web_jointokens_post;
web_handler_fn web_jobs_post, web_jobs_list, web_job_get, web_job_cancel, web_job_retry,
    web_job_logs;
web_handler_fn web_clusters_list, web_clusters_post, web_cluster_get, web_cluster_patch,
    web_cluster_delete, web_cluster_disconnect;
web_handler_fn web_roles_list, web_roles_post, web_role_get, web_role_patch, web_role_delete;
web_handler_fn web_worker_webhook, web_worker_next, web_role_trigger;
web_handler_fn web_login, web_logout, web_session_get;

#endif
