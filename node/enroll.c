/*  node/enroll.c — a node's CURVE identity: stored, local, or enrolled
    with a join token (enroll.h).

    Files in the key directory: self.key, self.pub (this node's pair),
    coordinator.pub (the pinned key) and endpoint (where the token said the
    coordinator is). The directory and every file are checked before use
    (curve_dir_check, curve_*_load_private): no symbolic links, owned by the
    effective user, directory 0700, self.key 0600, the public files 0644 at
    most; so a directory someone else made cannot plant a coordinator. The enrollment session is a throw-away DEALER in its
    own context, closed before the node's real connection opens.
*/
#include "node/enroll.h"
#include "mesh/jointoken.h"
#include "mesh/proto.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define PENDING "enroll.pending"   /* the id sent; removed once ENROLLED came */

static int s_path(char *out, size_t cap, const char *dir, const char *file)
{
    return (size_t) snprintf(out, cap, "%s/%s", dir, file) < cap ? 0 : -1;
}

/* The id of an enrollment sent but not yet confirmed by ENROLLED: 1 (id
   in buf), 0 none, -1 error. */
static int s_pending(const char *dir, char *id, size_t cap, char *err, size_t errlen)
{
    char path[4096];
    s_path(path, sizeof path, dir, PENDING);
    return curve_text_load_private(path, 0600, id, cap, err, errlen);
}

/* 1 the key dir holds a confirmed identity (loaded), 2 an unconfirmed one
   (loaded), 0 none, -1 error. */
static int s_stored(const char *dir, curve_client_t *out, char *endpoint, size_t cap, char *err,
                    size_t errlen)
{
    char path[4096];
    int rc = curve_dir_check(dir, err, errlen);
    if (rc <= 0)
        return rc;
    rc = curve_pair_load_private(dir, "self", &out->me, err, errlen);
    if (rc <= 0)
        return rc;
    s_path(path, sizeof path, dir, "coordinator.pub");
    rc = curve_text_load_private(path, 0644, out->server_pub, sizeof out->server_pub, err,
                                 errlen);
    if (rc == 0)
        snprintf(err, errlen, "%s is missing: enroll again with --join", path);
    if (rc <= 0)
        return -1;
    if (!curve_z85_valid(out->server_pub, strlen(out->server_pub))) {
        snprintf(err, errlen, "%s does not hold a CURVE public key", path);
        return -1;
    }
    s_path(path, sizeof path, dir, "endpoint");
    if (curve_text_load_private(path, 0644, endpoint, cap, err, errlen) < 0)
        return -1;
    out->on = true;
    char id[256];
    rc = s_pending(dir, id, sizeof id, err, errlen);
    return rc < 0 ? -1 : rc == 1 ? 2 : 1;
}

/* The CLI beside the coordinator: DIR/curve. 1 found, 0 not, -1 error. */
static int s_local(const char *data_dir, curve_client_t *out, char *err, size_t errlen)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/curve", data_dir);
    int rc = curve_pair_load(dir, "client", &out->me, err, errlen);
    if (rc <= 0)
        return rc;
    s_path(path, sizeof path, dir, "server.pub");
    if (curve_text_load(path, out->server_pub, sizeof out->server_pub, err, errlen) != 1)
        return -1;
    out->on = true;
    return 1;
}

/* ---- enrollment ---------------------------------------------------------------- */

static int s_wait_enrolled(void *sock, uint32_t timeout_ms, char *err, size_t errlen)
{
    zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&item, 1, (long) timeout_ms) <= 0) {
        snprintf(err, errlen, "enrollment: no answer within %u ms (wrong endpoint, a coordinator "
                 "with another key, or a refused token)", timeout_ms);
        return -1;
    }
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    pb_err_t perr;
    pb_msg_t *m = zmq_msg_recv(&frame, sock, 0) < 0 ? NULL
                : pb_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &perr);
    zmq_msg_close(&frame);
    int rc = m && m->cmd == PB_ENROLLED ? 0 : -1;
    if (m && m->cmd == PB_ERROR)
        snprintf(err, errlen, "enrollment refused: %.*s: %.*s", (int) m->u.error.code.len,
                 m->u.error.code.ptr, (int) m->u.error.message.len, m->u.error.message.ptr);
    else if (rc != 0)
        snprintf(err, errlen, "enrollment: unexpected answer from the coordinator");
    pb_msg_destroy(&m);
    return rc;
}

/* One ENROLL exchange using the token's identity. 0 or -1 with err. */
static int s_exchange(const enroll_req_t *r, const jtoken_t *t, const curve_client_t *me,
                      char *err, size_t errlen)
{
    curve_client_t join = { .on = true };
    uint8_t jpub[32];
    crypto_scalarmult_base(jpub, t->join_sec);
    curve_z85_encode(t->server_pub, join.server_pub);
    curve_z85_encode(jpub, join.me.pub);
    curve_z85_encode(t->join_sec, join.me.sec);
    void *ctx = zmq_ctx_new(), *s = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int linger = 0, rc = -1;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_enroll_t e = { pb_s(r->kind), pb_s(me->me.pub), pb_s(r->id), pb_s(r->name) };
    pb_enc_enroll(&b, &e);
    if (s && zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) == 0 &&
        curve_client_apply(s, &join) == 0 && zmq_connect(s, t->endpoint) == 0 &&
        zmq_send(s, pb_buf_data(&b), pb_buf_size(&b), 0) >= 0)
        rc = s_wait_enrolled(s, r->timeout_ms, err, errlen);
    else
        snprintf(err, errlen, "enrollment: cannot connect to %s: %s", t->endpoint,
                 zmq_strerror(zmq_errno()));
    sodium_memzero(&join, sizeof join);
    pb_buf_free(&b);
    if (s)
        zmq_close(s);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}

/* Everything a retry needs, written before ENROLL is sent: the pending
   marker first and the pair last, so a half-written dir has no self.key. */
static int s_save(const char *dir, const curve_client_t *me, const char *endpoint,
                  const char *id, char *err, size_t errlen)
{
    char path[4096];
    if (curve_dir_make(dir, err, errlen) != 0)
        return -1;
    s_path(path, sizeof path, dir, PENDING);
    if (curve_text_save(path, id, 0600, err, errlen) != 0)
        return -1;
    s_path(path, sizeof path, dir, "coordinator.pub");
    if (curve_text_save(path, me->server_pub, 0644, err, errlen) != 0)
        return -1;
    s_path(path, sizeof path, dir, "endpoint");
    if (curve_text_save(path, endpoint, 0644, err, errlen) != 0)
        return -1;
    return curve_pair_save(dir, "self", &me->me, err, errlen);
}

/* ENROLLED came: the identity is confirmed. */
static int s_confirm(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    s_path(path, sizeof path, dir, PENDING);
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Enroll with the token. pending: the id of an unconfirmed enrollment whose
   pair is in out->me, or NULL. Reusing that pair (and, for a CLI, its id)
   makes a retry after a lost ENROLLED get ENROLLED again, not "conflict". */
static int s_join(const enroll_req_t *r, const char *pending, curve_client_t *out,
                  char *endpoint, size_t cap, char *err, size_t errlen)
{
    jtoken_t t;
    if (jtoken_decode(r->token, &t, err, errlen) != 0)
        return -1;
    enroll_req_t req = *r;
    bool reuse = pending && (strcmp(pending, r->id) == 0 || strcmp(r->kind, "client") == 0);
    if (reuse)
        req.id = req.name = pending;
    out->on = true;
    curve_z85_encode(t.server_pub, out->server_pub);
    int rc = reuse || curve_pair_new(&out->me) == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "cannot make a CURVE key pair");
    rc = rc == 0 ? s_save(r->key_dir, out, t.endpoint, req.id, err, errlen) : -1;
    rc = rc == 0 ? s_exchange(&req, &t, out, err, errlen) : -1;
    rc = rc == 0 ? s_confirm(r->key_dir, err, errlen) : -1;
    if (rc == 0)
        snprintf(endpoint, cap, "%s", t.endpoint);
    sodium_memzero(&t, sizeof t);
    return rc;
}

/* The stored identity, or an enrollment with the token. */
static int s_key_dir(const enroll_req_t *r, curve_client_t *out, char *endpoint, size_t cap,
                     char *err, size_t errlen)
{
    char id[256];
    int rc = s_stored(r->key_dir, out, endpoint, cap, err, errlen);
    if (rc == 1 || rc < 0)
        return rc < 0 ? -1 : 0;
    if (!r->token && rc == 2) {
        snprintf(err, errlen, "the enrollment in %s was never confirmed by the coordinator: run "
                 "again with the same --join", r->key_dir);
        return -1;
    }
    if (!r->token)
        return 1;
    if (rc == 2 && s_pending(r->key_dir, id, sizeof id, err, errlen) != 1)
        return -1;
    return s_join(r, rc == 2 ? id : NULL, out, endpoint, cap, err, errlen);
}

int enroll_resolve(const enroll_req_t *r, curve_client_t *out, char *endpoint, size_t cap,
                   char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return -1;
    }
    if (r->insecure)
        return 0;
    enroll_req_t req = *r;
    if (req.token && !*req.token)
        req.token = NULL;                          /* POPEBOT_JOIN= is no token */
    if (req.data_dir && !req.token) {
        int rc = s_local(req.data_dir, out, err, errlen);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    int rc = req.key_dir ? s_key_dir(&req, out, endpoint, cap, err, errlen) : 1;
    if (rc != 1)
        return rc;
    bool worker = r->kind && strcmp(r->kind, "worker") == 0;   /* only the CLI has --data-dir */
    snprintf(err, errlen, "no CURVE identity: enroll with --join=TOKEN (see `popebot-node "
             "join-token`)%s, or run with --insecure",
             worker ? "" : ", use --data-dir=DIR beside the coordinator");
    return -1;
}
