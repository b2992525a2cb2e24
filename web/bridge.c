/*  web/bridge.c — one HTTP thread's socket to the mesh loop.

    Each civetweb worker thread owns one DEALER connected to the loop's
    in-process ROUTER (made in init_thread, closed in exit_thread), because
    ZeroMQ sockets must not be shared between threads. A call sends one
    request and waits, bounded, for the answer carrying its req_id; answers
    to earlier calls that timed out arrive later and are dropped by id. A
    waiting call gives up as soon as the server is stopping, so a long poll
    cannot hold up the coordinator's shutdown.
*/
#include "web/web_int.h"
#include "mesh/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct bridge {
    void *sock;               /* DEALER to the loop's api socket */
    uint64_t next_id;         /* req_id of the next call */
    const atomic_int *stop;   /* the server's stopping flag */
};

#define SLICE_MS 100          /* a waiting call checks the stopping flag this often */

bridge_t *bridge_new(void *zctx, const char *endpoint, const atomic_int *stop)
{
    bridge_t *b = calloc(1, sizeof *b);
    int linger = 0;
    if (!b || !(b->sock = zmq_socket(zctx, ZMQ_DEALER)) ||
        zmq_setsockopt(b->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(b->sock, endpoint) != 0) {
        bridge_destroy(&b);
        return NULL;
    }
    b->next_id = 1;
    b->stop = stop;
    return b;
}

void bridge_destroy(bridge_t **self_p)
{
    bridge_t *b = *self_p;
    if (!b)
        return;
    if (b->sock)
        zmq_close(b->sock);
    free(b);
    *self_p = NULL;
}

uint64_t bridge_next_id(bridge_t *b)
{
    return b->next_id++;
}

pb_msg_t *bridge_call(bridge_t *b, const pb_buf_t *req, uint64_t req_id, uint32_t timeout_ms)
{
    if (zmq_send(b->sock, pb_buf_data(req), pb_buf_size(req), 0) < 0)
        return NULL;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        zmq_pollitem_t it = { b->sock, 0, ZMQ_POLLIN, 0 };
        if (left <= 0 || atomic_load(b->stop) ||
            (zmq_poll(&it, 1, (long) (left < SLICE_MS ? left : SLICE_MS)) < 0 && errno != EINTR))
            return NULL;
        if (!(it.revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, b->sock, 0) < 0) {
            zmq_msg_close(&frame);
            continue;
        }
        pb_err_t err;
        pb_msg_t *m = pb_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &err);
        zmq_msg_close(&frame);
        if (m && pb_req_id(m) == req_id)
            return m;
        pb_msg_destroy(&m);   /* late answer to a call that gave up */
    }
}

/* The loop's ERROR as the HTTP error it maps to. */
static void s_loop_error(web_req_t *r, const pb_msg_t *m)
{
    const pb_error_t *e = &m->u.error;
    char code[32];
    size_t n = e->code.len < sizeof code - 1 ? e->code.len : sizeof code - 1;
    memcpy(code, e->code.ptr, n);
    code[n] = '\0';
    web_error(r, web_status_for(e->code.ptr, e->code.len), code, "%.*s",
              (int) (e->message.len > 400 ? 400 : e->message.len), e->message.ptr);
}

/* Send op with body (JSON) and wait up to timeout_ms: the answer or NULL. */
static pb_msg_t *s_api_call(web_req_t *r, const char *op, const json_t *body, uint32_t timeout_ms)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    pb_buf_t req;
    pb_buf_init(&req);
    uint64_t id = bridge_next_id(r->bridge);
    pb_enc_api(&req, id, op, text ? text : "{}", text ? strlen(text) : 2);
    free(text);
    pb_msg_t *m = bridge_call(r->bridge, &req, id, timeout_ms);
    pb_buf_free(&req);
    return m;
}

/* The JSON of a REPLY whose body is JSON text; NULL for anything else. */
static json_t *s_reply_json(const pb_msg_t *m)
{
    if (!m || m->cmd != PB_REPLY || m->u.reply.body->type != MSGPACK_OBJECT_STR)
        return NULL;
    return json_loadb(m->u.reply.body->via.str.ptr, m->u.reply.body->via.str.size,
                      JSON_DECODE_ANY, NULL);
}

json_t *web_api_quiet(web_req_t *r, const char *op, const json_t *body, uint32_t timeout_ms)
{
    pb_msg_t *m = s_api_call(r, op, body, timeout_ms);
    json_t *out = s_reply_json(m);
    pb_msg_destroy(&m);
    return out;
}

pb_msg_t *web_call(web_req_t *r, const pb_buf_t *req, uint64_t req_id)
{
    pb_msg_t *m = bridge_call(r->bridge, req, req_id, r->web->opts.timeout_ms);
    if (!m) {
        web_error(r, 503, "unavailable", "the coordinator's loop did not answer in time");
        return NULL;
    }
    if (m->cmd == PB_ERROR) {
        s_loop_error(r, m);
        pb_msg_destroy(&m);
    }
    return m;
}

int web_api(web_req_t *r, const char *op, const json_t *body, json_t **out, uint32_t wait_ms)
{
    pb_msg_t *m = s_api_call(r, op, body, r->web->opts.timeout_ms + wait_ms);
    *out = s_reply_json(m);
    if (!m)
        web_error(r, 503, "unavailable", "the coordinator's loop did not answer in time");
    else if (m->cmd == PB_ERROR)
        s_loop_error(r, m);
    else if (!*out)
        web_error(r, 500, "internal", "the loop's answer to %s could not be read", op);
    pb_msg_destroy(&m);
    return *out ? 0 : -1;
}
