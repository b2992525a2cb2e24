/*  node/coord_curve.c — CURVE on the coordinator's TCP socket: its keys, the
    ZAP handler, the per-message identity rules and enrollment.

    Keys: DIR/curve/server.{key,pub} is the coordinator's pair (made at
    first start); DIR/curve/client.{key,pub} is a client pair for the CLI on
    this machine (`--data-dir=DIR`), enrolled as "c:local" at every start.
    The API socket (inproc) stays plaintext: only this process reaches it.

    ZAP: libzmq asks inproc://zeromq.zap.01 about every CURVE handshake on
    the TCP socket. The REP socket that answers is polled by the mesh loop
    itself, like the ROUTER: a handshake waits at most one turn (100 ms plus
    a commit), far inside libzmq's handshake limit, and the answer comes
    from the same thread that deletes registrations, so no lock and no race
    between "deleted" and "admitted". Admitted are: the public keys of usable
    join tokens (a token's key is never anything else), and keys enrolled in
    DIR/auth (store/authcurve.h) that are not revoked and whose worker is
    not deleted. The ZAP User-Id is what the key proves: "w:ID@Z85",
    "c:NAME@Z85" (the key, so every message can be checked against the
    revoked keys) or "j:TOKEN-ID". Refusals are logged at most once a second.

    Rules per message (the body frame carries the User-Id):
      - "j:" may send ENROLL and nothing else; ENROLL comes only from "j:";
      - HELLO, PING, LOG, DONE, DRAIN, BYE only from "w:", and a HELLO only
        for the worker id the key was enrolled as; the others only on a
        connection whose registration is that same worker id;
      - client commands from "c:" and "w:" (a job may submit sub-jobs);
      - a "w:" identity whose key was revoked (c->revoked, loaded at start,
        grown by deletions) or whose id is deleted gets ERROR "deleted" and
        nothing else, so an open session is cut off at its next message and
        stays cut off when the id is registered again.
    With --insecure there is no User-Id and none of this applies.
*/
#include "node/coord_int.h"
#include "node/log.h"
#include "mesh/clock.h"
#include "mesh/curve.h"
#include "mesh/kv.h"
#include "store/authcurve.h"

#include <stdio.h>
#include <sodium.h>
#include <string.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_ZAP_DOMAIN "popebot"
#define S_ZAP_BATCH 256
#define COORD_CURVE_USER_MAX (AUTH_USER_MAX + 1 + CURVE_Z85_LEN)

/* ---- set-up ---------------------------------------------------------------- */

static int s_local_client(coord_t *c, const char *dir)
{
    curve_pair_t pair;
    uint8_t pub[32];
    char err[256];
    if (curve_pair_ensure(dir, "client", &pair, err, sizeof err) != 0 ||
        curve_z85_decode(pair.pub, pub) != 0 ||
        auth_peer_set_only(c->auth, pub, "c:local", err, sizeof err) != 0) {
        log_msg(LL_ERROR, "coordinator", "local client key: %s", err);
        return -1;
    }
    snprintf(c->local_user, sizeof c->local_user, "c:local@%s", pair.pub);
    sodium_memzero(&pair, sizeof pair);
    return 0;
}

static int s_note_revoked(const uint8_t pub[32], void *arg)
{
    coord_t *c = arg;
    char z85[CURVE_Z85_LEN + 1];
    curve_z85_encode(pub, z85);
    zhashx_update(c->revoked, z85, c);         /* any non-NULL item: a set */
    return 0;
}

/* The keys of deleted workers, into c->revoked: checked on every message. */
static int s_load_revoked(coord_t *c)
{
    char err[256];
    if (auth_revoked_each(c->auth, s_note_revoked, c, err, sizeof err) != 0) {
        log_msg(LL_ERROR, "coordinator", "revoked CURVE keys: %s", err);
        return -1;
    }
    return 0;
}

int coord_curve_open(coord_t *c)
{
    char dir[4096], err[256];
    curve_pair_t server;
    if (c->opts->insecure) {
        log_msg(LL_WARN, "coordinator", "--insecure: the mesh socket %s is PLAINTEXT and "
                "unauthenticated; anyone who reaches it can run jobs and read payloads",
                c->opts->bind);
        return 0;
    }
    snprintf(dir, sizeof dir, "%s/curve", c->opts->data_dir);
    if (curve_pair_ensure(dir, "server", &server, err, sizeof err) != 0) {
        log_msg(LL_ERROR, "coordinator", "CURVE keys: %s", err);
        return -1;
    }
    if (s_local_client(c, dir) != 0 || s_load_revoked(c) != 0)
        return -1;
    c->zap = zmq_socket(c->zctx, ZMQ_REP);
    int linger = 0;
    if (!c->zap || zmq_setsockopt(c->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(c->zap, S_ZAP_ENDPOINT) != 0 ||
        curve_server_apply(c->router, server.sec, S_ZAP_DOMAIN) != 0) {
        log_msg(LL_ERROR, "coordinator", "CURVE set-up: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    c->secure = true;
    snprintf(c->server_pub, sizeof c->server_pub, "%s", server.pub);
    log_msg(LL_INFO, "coordinator", "CURVE on; this coordinator's public key is %s", server.pub);
    return 0;
}

/* ---- ZAP ----------------------------------------------------------------- */

/* A join token's key: 1 and its identity when usable, 0 when pub is no
   token's, -1 when it is a token's but refused (or the store failed). */
static int s_admit_token(coord_t *c, const uint8_t pub[32], char *user, size_t cap)
{
    char err[256];
    auth_jt_t t;
    int rc = auth_jt_by_pub(c->auth, pub, &t, err, sizeof err);
    if (rc < 0)
        log_msg(LL_WARN, "coordinator", "ZAP: %s", err);
    if (rc != 1)
        return rc;
    if (!auth_jt_usable(&t, clock_wall_ms()))
        return -1;
    snprintf(user, cap, "j:%s", t.id);
    return 1;
}

/* The identity a client key proves, into user; false when it is refused.
   A join token's key is a token's whatever else it might match; an
   enrolled key proves "w:ID@Z85" or "c:NAME@Z85", the key included so
   that every message can be checked against the revoked keys. */
static bool s_admit_key(coord_t *c, const uint8_t pub[32], char *user, size_t cap)
{
    char err[256], z85[CURVE_Z85_LEN + 1], who[AUTH_USER_MAX];
    int rc = s_admit_token(c, pub, user, cap);
    if (rc != 0)
        return rc == 1;
    curve_z85_encode(pub, z85);
    if (zhashx_lookup(c->revoked, z85))
        return false;
    rc = auth_peer_get(c->auth, pub, who, sizeof who, err, sizeof err);
    if (rc < 0)
        log_msg(LL_WARN, "coordinator", "ZAP: %s", err);
    if (rc != 1 || (strncmp(who, "w:", 2) == 0 && zhashx_lookup(c->tombstones, who + 2)))
        return false;
    snprintf(user, cap, "%s@%s", who, z85);
    return true;
}

/* A refused handshake, logged at most once a second with a count. */
static void s_log_refusal(coord_t *c, const char *address, zframe_t *key)
{
    int64_t now = clock_mono_ms();
    c->refused_unlogged++;
    if (c->last_log_refused != 0 && now - c->last_log_refused < 1000)
        return;
    char z85[CURVE_Z85_LEN + 1] = "?";
    if (key && zframe_size(key) == 32)
        curve_z85_encode(zframe_data(key), z85);
    log_msg(LL_WARN, "coordinator", "refused a CURVE peer from %s: public key %s is not "
            "enrolled (or its registration was deleted); %llu refused since the last such line",
            address ? address : "?", z85, (unsigned long long) c->refused_unlogged);
    c->refused_unlogged = 0;
    c->last_log_refused = now;
}

/* One ZAP request: frames version, request id, domain, address, identity,
   mechanism, then the credentials (for CURVE: the client's public key). */
static void s_zap_one(coord_t *c, zmsg_t *req)
{
    char *version = zmsg_popstr(req), *reqid = zmsg_popstr(req);
    char *domain = zmsg_popstr(req), *address = zmsg_popstr(req);
    char *identity = zmsg_popstr(req), *mech = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req);
    char user[COORD_CURVE_USER_MAX] = "";
    bool ok = version && mech && key && strcmp(mech, "CURVE") == 0 &&
              zframe_size(key) == 32 && s_admit_key(c, zframe_data(key), user, sizeof user);
    if (!ok)
        s_log_refusal(c, address, key);
    zmsg_t *rep = zmsg_new();
    zmsg_addstr(rep, "1.0");
    zmsg_addstr(rep, reqid ? reqid : "");
    zmsg_addstr(rep, ok ? "200" : "400");
    zmsg_addstr(rep, ok ? "OK" : "not enrolled");
    zmsg_addstr(rep, ok ? user : "");
    zmsg_addmem(rep, "", 0);
    zmsg_send(&rep, c->zap);
    zstr_free(&version); zstr_free(&reqid); zstr_free(&domain);
    zstr_free(&address); zstr_free(&identity); zstr_free(&mech);
    zframe_destroy(&key);
}

void coord_zap_serve(coord_t *c)
{
    for (int n = 0; c->zap && n < S_ZAP_BATCH; n++) {
        zmq_pollitem_t item = { c->zap, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&item, 1, 0) <= 0)
            return;
        zmsg_t *req = zmsg_recv(c->zap);
        if (!req)
            return;
        s_zap_one(c, req);
        zmsg_destroy(&req);
    }
}

/* ---- per-message rules ------------------------------------------------------ */

static bool s_worker_cmd(pb_cmd_t cmd)
{
    return cmd == PB_HELLO || cmd == PB_PING || cmd == PB_LOG || cmd == PB_DONE ||
           cmd == PB_DRAIN || cmd == PB_BYE;
}

static bool s_refuse(coord_t *c, const rid_t *rid, const char *code, const char *text)
{
    coord_send_error(c, rid, 0, code, text);
    return false;
}

/* The id part of a "w:ID@Z85" / "c:NAME@Z85" identity into id (empty when
   it does not fit), and the key part, or NULL. */
static const char *s_split_user(const char *user, char *id, size_t cap)
{
    const char *at = strchr(user + 2, '@');     /* ids have no @; Z85 may */
    size_t n = at ? (size_t) (at - (user + 2)) : strlen(user + 2);
    if (n >= cap)
        n = 0;
    memcpy(id, user + 2, n);
    id[n] = '\0';
    return at ? at + 1 : NULL;
}

/* Whether a worker identity may send this worker message on this
   connection: a revoked key or a deleted id never; HELLO only for its own
   id; the others only on a connection registered to its own id. */
static bool s_admit_worker(coord_t *c, const rid_t *rid, const char *user, const pb_msg_t *msg)
{
    char id[AUTH_USER_MAX], key[511];
    const char *z85 = s_split_user(user, id, sizeof id);
    if (!z85 || !id[0] || zhashx_lookup(c->revoked, z85) || zhashx_lookup(c->tombstones, id))
        return s_refuse(c, rid, "deleted", "this worker's registration was deleted");
    if (msg->cmd == PB_HELLO)
        return (msg->u.hello.worker_id.len == strlen(id) &&
                memcmp(msg->u.hello.worker_id.ptr, id, strlen(id)) == 0) ||
               s_refuse(c, rid, "forbidden", "this key is enrolled for another worker id");
    if (!s_worker_cmd(msg->cmd))
        return true;
    coord_rid_key(rid->data, rid->size, key);
    peer_t *p = zhashx_lookup(c->by_rid, key);
    return !p || strcmp(p->id, id) == 0 ||
           s_refuse(c, rid, "forbidden", "this connection is registered for another worker id");
}

bool coord_curve_admit(coord_t *c, const rid_t *rid, const pb_msg_t *msg)
{
    if (!c->secure || rid->sock != c->router)
        return true;
    const char *user = zmq_msg_gets(rid->msg, "User-Id");
    if (!user || strlen(user) < 3)
        return s_refuse(c, rid, "forbidden", "no CURVE identity");
    bool join = strncmp(user, "j:", 2) == 0, worker = strncmp(user, "w:", 2) == 0;
    if (join != (msg->cmd == PB_ENROLL))
        return s_refuse(c, rid, "forbidden", join ? "a join identity may only ENROLL"
                                                  : "ENROLL needs a join token's identity");
    if (s_worker_cmd(msg->cmd) && !worker)
        return s_refuse(c, rid, "forbidden", "worker messages need a worker's key");
    /* an operator's act, as HTTP's admin PATCH: only the coordinator's own
       machine (--data-dir: "c:local" with that very key), not any enrolled
       key, whatever name it enrolled under */
    if (msg->cmd == PB_DRAIN_WORKER && strcmp(user, c->local_user) != 0)
        return s_refuse(c, rid, "forbidden", "DRAIN_WORKER needs the coordinator's local key "
                        "(--data-dir on its machine); elsewhere use PATCH /api/clusters/{id}");
    /* a worker sees the roles and output of the jobs it runs, no more */
    if ((msg->cmd == PB_ROLES || msg->cmd == PB_LOGS) && worker)
        return s_refuse(c, rid, "forbidden", "ROLES and LOGS need a client's key");
    return !worker || s_admit_worker(c, rid, user, msg);
}

/* ---- enrollment ---------------------------------------------------------------- */

static void s_enrolled(coord_t *c, const rid_t *rid, const char *user)
{
    pb_buf_reset(&c->out);
    pb_enc_enrolled(&c->out, user);
    coord_send(c, rid->data, rid->size);
}

/* Checks an ENROLL's fields; the reason, or NULL when they are good. */
static const char *s_enroll_bad(const pb_enroll_t *e, bool *worker)
{
    bool w = e->kind.len == 6 && memcmp(e->kind.ptr, "worker", 6) == 0;
    bool cl = e->kind.len == 6 && memcmp(e->kind.ptr, "client", 6) == 0;
    *worker = w;
    if (!w && !cl)
        return "kind must be worker or client";
    if (!curve_z85_valid(e->public_key.ptr, e->public_key.len))
        return "public_key must be a Z85 CURVE key (40 characters)";
    if (!kv_name_valid(e->id.ptr, e->id.len))
        return "id must be 1-64 letters, digits, _ . -";
    return NULL;
}

/* Whether pub may be enrolled at all: not a join token's key (a token's
   text would become a permanent login), not a deleted worker's. 0 or -1
   (ERROR sent). */
static int s_enroll_pub_ok(coord_t *c, const rid_t *rid, const uint8_t pub[32], const char *z85)
{
    char err[256];
    auth_jt_t t;
    int rc = auth_jt_by_pub(c->auth, pub, &t, err, sizeof err);
    if (rc < 0) {
        log_msg(LL_WARN, "coordinator", "enrollment: %s", err);
        return s_refuse(c, rid, "unavailable", "the credentials store cannot be read"), -1;
    }
    if (rc == 1)
        return s_refuse(c, rid, "forbidden", "a join token's key cannot be enrolled"), -1;
    if (zhashx_lookup(c->revoked, z85))
        return s_refuse(c, rid, "deleted", "this key was revoked"), -1;
    return 0;
}

/* 0 enrolled (or already was, with this key), -1 refused (ERROR sent). */
static int s_enroll_key(coord_t *c, const rid_t *rid, const char *user, const uint8_t pub[32],
                        const char *token)
{
    char err[256], known[AUTH_USER_MAX];
    uint8_t have[32];
    int rc = auth_peer_by_user(c->auth, user, have, err, sizeof err);
    if (rc == 1 && memcmp(have, pub, 32) == 0)
        return 0;                                  /* a retry: already done */
    if (rc == 1)
        return s_refuse(c, rid, "conflict", "this id is already enrolled with another key; "
                        "delete its registration first"), -1;
    if (rc == 0 && (rc = auth_peer_get(c->auth, pub, known, sizeof known, err, sizeof err)) == 1)
        return s_refuse(c, rid, "conflict", "this key is already enrolled"), -1;
    if (rc == 0 && (rc = auth_enroll(c->auth, token, clock_wall_ms(), pub, user, err,
                                     sizeof err)) == 0)
        return s_refuse(c, rid, "token", "the join token has expired, been used up or revoked"), -1;
    if (rc < 0) {
        log_msg(LL_WARN, "coordinator", "enrollment of %s: %s", user, err);
        return s_refuse(c, rid, "unavailable", "the credentials store cannot be written"), -1;
    }
    return 0;
}

void coord_enroll(coord_t *c, const rid_t *rid, const pb_msg_t *msg)
{
    const pb_enroll_t *e = &msg->u.enroll;
    const char *token = zmq_msg_gets(rid->msg, "User-Id");
    char user[AUTH_USER_MAX], z85[CURVE_Z85_LEN + 1];
    uint8_t pub[32];
    bool worker;
    const char *bad = s_enroll_bad(e, &worker);
    if (!c->secure || !token || strncmp(token, "j:", 2) != 0)
        return (void) s_refuse(c, rid, "forbidden", "ENROLL needs a secure coordinator and a join token");
    if (bad)
        return (void) s_refuse(c, rid, "invalid", bad);
    snprintf(user, sizeof user, "%c:%.*s", worker ? 'w' : 'c', (int) e->id.len, e->id.ptr);
    if (worker && zhashx_lookup(c->tombstones, user + 2))
        return (void) s_refuse(c, rid, "deleted", "this worker id's registration was deleted; "
                               "an admin may create it again (POST /api/clusters)");
    memcpy(z85, e->public_key.ptr, CURVE_Z85_LEN);
    z85[CURVE_Z85_LEN] = '\0';
    if (curve_z85_decode(z85, pub) != 0 || s_enroll_pub_ok(c, rid, pub, z85) != 0 ||
        s_enroll_key(c, rid, user, pub, token + 2) != 0)
        return;
    log_msg(LL_INFO, "coordinator", "enrolled %s (public key %s) with join token %s", user, z85,
            token + 2);
    s_enrolled(c, rid, user);
}

int coord_curve_forget_worker(coord_t *c, const char *id)
{
    char user[AUTH_USER_MAX], err[256];
    snprintf(user, sizeof user, "w:%s", id);
    if (auth_peer_revoke_user(c->auth, user, s_note_revoked, c, err, sizeof err) < 0) {
        log_msg(LL_WARN, "coordinator", "revoking the CURVE key of %s: %s", id, err);
        return -1;
    }
    return 0;
}
