/*  node/client.c — DEALER connection used by the CLI (client.h).

    Rules: every receive has a deadline; linger is short so a CLI whose
    coordinator is gone exits promptly; undecodable replies are reported,
    never trusted.
*/
#include "node/client.h"
#include "mesh/clock.h"

#include <stdlib.h>
#include <zmq.h>

struct client {
    void *ctx;                /* libzmq context */
    void *sock;               /* DEALER connected to the coordinator */
};

client_t *client_new(const char *endpoint, uint32_t max_message, const curve_client_t *curve)
{
    client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    int linger = 200;
    int64_t maxsize = max_message;
    c->ctx = zmq_ctx_new();
    c->sock = c->ctx ? zmq_socket(c->ctx, ZMQ_DEALER) : NULL;
    if (!c->sock) {
        client_destroy(&c);
        return NULL;
    }
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    if (curve_client_apply(c->sock, curve) != 0 || zmq_connect(c->sock, endpoint) != 0)
        client_destroy(&c);
    return c;
}

void client_destroy(client_t **self_p)
{
    client_t *c = *self_p;
    if (!c)
        return;
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c);
    *self_p = NULL;
}

int client_send(client_t *c, const pb_buf_t *b)
{
    return zmq_send(c->sock, pb_buf_data(b), pb_buf_size(b), ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

pb_msg_t *client_recv(client_t *c, int timeout_ms, bool *timed_out, char *why, size_t whylen)
{
    *timed_out = false;
    zmq_pollitem_t item = { c->sock, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&item, 1, timeout_ms) <= 0) {
        *timed_out = true;
        return NULL;
    }
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, c->sock, 0) < 0) {
        zmq_msg_close(&frame);
        snprintf(why, whylen, "receive failed: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    pb_err_t err;
    pb_msg_t *m = pb_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &err);
    zmq_msg_close(&frame);
    if (!m)
        snprintf(why, whylen, "bad reply from coordinator: %s", err.reason);
    return m;
}

pb_msg_t *client_call(client_t *c, const pb_buf_t *b, uint64_t req_id, int timeout_ms)
{
    if (client_send(c, b) != 0)
        return NULL;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return NULL;
        bool timed_out;
        char why[160];
        pb_msg_t *m = client_recv(c, (int) left, &timed_out, why, sizeof why);
        if (m && (pb_req_id(m) == req_id ||
                  (m->cmd == PB_ERROR && m->u.error.req_id == 0)))
            return m;
        pb_msg_destroy(&m);
        if (timed_out)
            return NULL;
    }
}
