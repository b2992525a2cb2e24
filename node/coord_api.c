/*  node/coord_api.c — the HTTP layer's operations, on the mesh loop.

    An API message names an operation and carries a JSON body; the answer
    is REPLY with JSON text, or ERROR with a code the web layer maps to an
    HTTP status (web/http.c: not-found 404, conflict 409, bad-request 400,
    invalid 422, forbidden 403, queue-full 429, store-full 507,
    unavailable 503). Like every client message, the answer waits in the
    outbox for the turn's durable commit.

    Rules: only messages from the in-process api socket get here (the
    coordinator refuses API on its TCP socket); each operation answers
    exactly once, except worker.next, which may hold its answer until a job
    arrives or its wait runs out (coord_api_tick).
*/
#include "node/coord_int.h"
#include "node/coord_api.h"
#include "node/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void coord_api_reply(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(obj);
    pb_buf_reset(&c->out);
    if (text) {
        pb_enc_reply_begin(&c->out, req_id);
        pb_w_str(&c->out, text, strlen(text));
    } else {
        pb_enc_error(&c->out, req_id, "unavailable", "coordinator out of memory");
    }
    free(text);
    coord_reply_on(c, c->api, rid->data, rid->size);
}

void coord_api_error(coord_t *c, const rid_t *rid, uint64_t req_id, const char *code,
                     const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pb_buf_reset(&c->out);
    pb_enc_error(&c->out, req_id, code, msg);
    coord_reply_on(c, c->api, rid->data, rid->size);
}

peer_t *coord_api_peer(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body,
                       const char *key)
{
    const char *id = json_string_value(json_object_get(body, key));
    peer_t *p = id ? zhashx_lookup(c->peers, id) : NULL;
    if (!p)
        coord_api_error(c, rid, req_id, "not-found", "no worker registration '%.64s'",
                        id ? id : "");
    return p;
}

/* ---- info ---------------------------------------------------------------- */

static void s_info(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    (void) body;
    size_t online = 0, roles = 0;
    for (peer_t *p = zhashx_first(c->peers); p; p = zhashx_next(c->peers))
        online += p->state != PEER_OFFLINE;
    for (size_t i = 0; i < c->roles.n; i++)   /* deleted roles stay as names only */
        roles += role_defined(c->roles.items[i]);
    coord_api_reply(c, rid, req_id, json_pack(
        "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s?}",
        "cluster_id", store_cluster_id(c->store),
        "version", POPEBOT_VERSION,
        "workers", (json_int_t) zhashx_size(c->peers),
        "workers_online", (json_int_t) online,
        "roles", (json_int_t) roles,
        "queued", (json_int_t) sched_total(c->sched),
        "jobs_submitted", (json_int_t) c->stats.submitted,
        "store_full", c->store_full[0] ? c->store_full : NULL));
}

/* ---- the operation table -------------------------------------------------- */

static const struct {
    const char *name;
    coord_api_fn *fn;
} s_ops[] = {
    { "info", s_info },
    COORD_API_OPS
};

void coord_api_msg(coord_t *c, const rid_t *rid, const pb_api_t *m)
{
    json_error_t je;
    json_t *body = json_loadb(m->body.ptr, m->body.len, 0, &je);
    if (!body || !json_is_object(body)) {
        json_decref(body);
        coord_api_error(c, rid, m->req_id, "bad-request", "API body must be a JSON object");
        return;
    }
    for (size_t i = 0; i < sizeof s_ops / sizeof s_ops[0]; i++)
        if (strlen(s_ops[i].name) == m->op.len && memcmp(s_ops[i].name, m->op.ptr, m->op.len) == 0) {
            s_ops[i].fn(c, rid, m->req_id, body);
            json_decref(body);
            return;
        }
    json_decref(body);
    coord_api_error(c, rid, m->req_id, "bad-request", "unknown API operation '%.*s'",
                    (int) (m->op.len <= 40 ? m->op.len : 40), m->op.ptr);
}
