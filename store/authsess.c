/*  store/authsess.c — UI login sessions in DIR/auth (authsess.h).

    The database "sessions" (auth_int.h):
      key:   the first 16 bytes of BLAKE2b-256(id), personalised
             "pb-session-id-v1" so the hash is of no use elsewhere
      value: version (1) | the hash's other 16 bytes | created ms (8) |
             expires ms (8) | last use ms (8) | user (1-64 bytes, no NUL),
             integers big-endian
    A lookup finds the record by the first half and compares the second
    half in constant time: the B-tree's own compares can at most tell an
    attacker about the hash of ids they chose, never the id of a session.

    The table is small (authsess_put keeps at most `max` live sessions and
    deletes ended ones as it scans), so scans are cheap. Commits are synced
    like every other commit of DIR/auth: a logout or a password change must
    not come back after a crash.
*/
#include "store/authsess.h"
#include "store/auth_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define S_VERSION 1
#define S_HALF 16                                  /* bytes of each half of the hash */
#define S_HEAD (1 + S_HALF + 3 * 8)
#define S_REC_MAX (S_HEAD + USERS_NAME_MAX)

static const char S_PERSONAL[] = "pb-session-id-v1";  /* BLAKE2b's 16 personal bytes */

typedef struct {
    uint8_t key[S_HALF];                           /* looked up */
    uint8_t check[S_HALF];                         /* compared */
} s_hash_t;

typedef struct {                                   /* the least recently used of some */
    bool have;
    int64_t last_ms;
    uint8_t key[S_HALF];
} s_lru_t;

typedef struct {                                   /* one write: what it needs, what it did */
    const s_hash_t *h;
    const authsess_t *s;
    const char *user;
    int64_t now_ms, idle_ms;
    size_t max;
    size_t live;                                   /* sessions a scan kept */
    s_lru_t own, any;                              /* of s->user, of everyone */
    int n;                                         /* the answer: stored, found or deleted */
} s_op_t;

typedef int (s_write_fn)(MDB_txn *txn, auth_t *a, s_op_t *op);

static int s_fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "sessions store: %s: %s", what, mdb_strerror(rc));
    return -1;
}

bool authsess_live(const authsess_t *s, int64_t now_ms, int64_t idle_ms)
{
    return now_ms < s->expires_ms && now_ms - s->last_ms < idle_ms &&
           s->last_ms - now_ms < idle_ms;
}

/* ---- records ------------------------------------------------------------- */

static void s_hash(const uint8_t id[AUTHSESS_ID], s_hash_t *h)
{
    uint8_t out[2 * S_HALF];
    crypto_generichash_blake2b_salt_personal(out, sizeof out, id, AUTHSESS_ID, NULL, 0, NULL,
                                             (const unsigned char *) S_PERSONAL);
    memcpy(h->key, out, S_HALF);
    memcpy(h->check, out + S_HALF, S_HALF);
    sodium_memzero(out, sizeof out);
}

static void s_put64(uint8_t *p, int64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) ((uint64_t) v >> (56 - 8 * i));
}

static int64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t) v;
}

/* s (its user a valid name) as a record into out; its length. */
static size_t s_pack(const uint8_t check[S_HALF], const authsess_t *s, uint8_t out[S_REC_MAX])
{
    size_t ul = strlen(s->user);
    out[0] = S_VERSION;
    memcpy(out + 1, check, S_HALF);
    s_put64(out + 1 + S_HALF, s->created_ms);
    s_put64(out + 1 + S_HALF + 8, s->expires_ms);
    s_put64(out + 1 + S_HALF + 16, s->last_ms);
    memcpy(out + S_HEAD, s->user, ul);
    return S_HEAD + ul;
}

/* A record into s and its check half: 0, or -1 when it does not decode. */
static int s_unpack(const MDB_val *k, const MDB_val *v, authsess_t *s, uint8_t check[S_HALF])
{
    const uint8_t *p = v->mv_data;
    size_t ul = v->mv_size > S_HEAD ? v->mv_size - S_HEAD : 0;
    if (k->mv_size != S_HALF || ul == 0 || ul > USERS_NAME_MAX || p[0] != S_VERSION)
        return -1;
    memset(s, 0, sizeof *s);
    memcpy(check, p + 1, S_HALF);
    s->created_ms = s_get64(p + 1 + S_HALF);
    s->expires_ms = s_get64(p + 1 + S_HALF + 8);
    s->last_ms = s_get64(p + 1 + S_HALF + 16);
    memcpy(s->user, p + S_HEAD, ul);
    return 0;
}

/* The session h names into s: 0, MDB_NOTFOUND (none, or the check half
   differs), or an LMDB error. */
static int s_find(MDB_txn *txn, auth_t *a, const s_hash_t *h, authsess_t *s)
{
    uint8_t check[S_HALF];
    MDB_val k = { S_HALF, (void *) h->key }, v;
    int rc = mdb_get(txn, a->sessions, &k, &v);
    if (rc != 0)
        return rc;
    if (s_unpack(&k, &v, s, check) != 0 || sodium_memcmp(check, h->check, S_HALF) != 0)
        return MDB_NOTFOUND;
    return 0;
}

static int s_write(auth_t *a, s_write_fn *fn, s_op_t *op, const char *what, char *err,
                   size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc == 0 && (rc = fn(txn, a, op)) != 0)
        mdb_txn_abort(txn);
    else if (rc == 0)
        rc = mdb_txn_commit(txn);
    return rc ? s_fail(err, errlen, what, rc) : 0;
}

/* ---- scans ---------------------------------------------------------------- */

static void s_lru_offer(s_lru_t *l, const uint8_t *key, int64_t last_ms)
{
    if (l->have && l->last_ms <= last_ms)
        return;
    l->have = true;
    l->last_ms = last_ms;
    memcpy(l->key, key, S_HALF);
}

/* Delete every ended or undecodable session (op->n counts them); count
   the live ones and find the least recently used of op->user and of all. */
static int s_scan(MDB_txn *txn, auth_t *a, s_op_t *op)
{
    MDB_cursor *cur;
    MDB_val k, v;
    authsess_t s;
    uint8_t check[S_HALF];
    int rc = mdb_cursor_open(txn, a->sessions, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (s_unpack(&k, &v, &s, check) != 0 || !authsess_live(&s, op->now_ms, op->idle_ms)) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            op->n++;
            continue;
        }
        op->live++;
        s_lru_offer(&op->any, k.mv_data, s.last_ms);
        if (op->user && strcmp(s.user, op->user) == 0)
            s_lru_offer(&op->own, k.mv_data, s.last_ms);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int authsess_end_user_txn(MDB_txn *txn, auth_t *a, const char *user, int *n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    authsess_t s;
    uint8_t check[S_HALF];
    int rc = mdb_cursor_open(txn, a->sessions, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (s_unpack(&k, &v, &s, check) != 0 || strcmp(s.user, user) != 0)
            continue;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        (*n)++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- writes ---------------------------------------------------------------- */

/* Make room (at most op->max live) and store op->s, unless its user is
   gone or its password is newer than its login (op->n stays 0 then). */
static int s_admit(MDB_txn *txn, auth_t *a, s_op_t *op)
{
    int64_t set_ms;
    int rc = users_set_ms_txn(txn, a, op->s->user, &set_ms);
    if (rc == MDB_NOTFOUND || (rc == 0 && set_ms >= op->s->created_ms))
        return 0;
    if (rc != 0 || (rc = s_scan(txn, a, op)) != 0)
        return rc;
    op->n = 0;
    const s_lru_t *out = op->own.have ? &op->own : &op->any;
    if (op->live >= op->max && out->have) {
        MDB_val k = { S_HALF, (void *) out->key };
        if ((rc = mdb_del(txn, a->sessions, &k, NULL)) != 0)
            return rc;
    }
    uint8_t rec[S_REC_MAX];
    MDB_val k = { S_HALF, (void *) op->h->key }, v = { s_pack(op->h->check, op->s, rec), rec };
    rc = mdb_put(txn, a->sessions, &k, &v, MDB_NOOVERWRITE);
    op->n = rc == 0;
    return rc;
}

static int s_touch(MDB_txn *txn, auth_t *a, s_op_t *op)
{
    authsess_t s;
    int rc = s_find(txn, a, op->h, &s);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    op->n = 1;
    if (op->now_ms <= s.last_ms)
        return 0;
    s.last_ms = op->now_ms;
    uint8_t rec[S_REC_MAX];
    MDB_val k = { S_HALF, (void *) op->h->key }, v = { s_pack(op->h->check, &s, rec), rec };
    return mdb_put(txn, a->sessions, &k, &v, 0);
}

static int s_end(MDB_txn *txn, auth_t *a, s_op_t *op)
{
    authsess_t s;
    int rc = s_find(txn, a, op->h, &s);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    MDB_val k = { S_HALF, (void *) op->h->key };
    op->n = 1;
    return mdb_del(txn, a->sessions, &k, NULL);
}

static int s_end_user(MDB_txn *txn, auth_t *a, s_op_t *op)
{
    return authsess_end_user_txn(txn, a, op->user, &op->n);
}

/* ---- the interface ------------------------------------------------------------ */

int authsess_put(auth_t *a, const uint8_t id[AUTHSESS_ID], const authsess_t *s, int64_t now_ms,
                 int64_t idle_ms, size_t max, char *err, size_t errlen)
{
    s_hash_t h;
    if (!users_name_valid(s->user))
        return 0;
    s_hash(id, &h);
    s_op_t op = { .h = &h, .s = s, .user = s->user, .now_ms = now_ms, .idle_ms = idle_ms,
                  .max = max };
    int rc = s_write(a, s_admit, &op, "saving a session", err, errlen);
    sodium_memzero(&h, sizeof h);
    return rc ? rc : op.n;
}

int authsess_get(auth_t *a, const uint8_t id[AUTHSESS_ID], authsess_t *out, char *err,
                 size_t errlen)
{
    s_hash_t h;
    MDB_txn *txn;
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "reading", rc);
    s_hash(id, &h);
    rc = s_find(txn, a, &h, out);
    mdb_txn_abort(txn);
    sodium_memzero(&h, sizeof h);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_fail(err, errlen, "reading a session", rc);
    return rc == 0;
}

/* A write on the session id names; op.n, or -1. */
static int s_write_id(auth_t *a, const uint8_t id[AUTHSESS_ID], s_write_fn *fn, int64_t now_ms,
                      const char *what, char *err, size_t errlen)
{
    s_hash_t h;
    s_hash(id, &h);
    s_op_t op = { .h = &h, .now_ms = now_ms };
    int rc = s_write(a, fn, &op, what, err, errlen);
    sodium_memzero(&h, sizeof h);
    return rc ? rc : op.n;
}

int authsess_touch(auth_t *a, const uint8_t id[AUTHSESS_ID], int64_t now_ms, char *err,
                   size_t errlen)
{
    return s_write_id(a, id, s_touch, now_ms, "recording a session's use", err, errlen);
}

int authsess_end(auth_t *a, const uint8_t id[AUTHSESS_ID], char *err, size_t errlen)
{
    return s_write_id(a, id, s_end, 0, "ending a session", err, errlen);
}

int authsess_end_user(auth_t *a, const char *user, char *err, size_t errlen)
{
    s_op_t op = { .user = user };
    int rc = s_write(a, s_end_user, &op, "ending a user's sessions", err, errlen);
    return rc ? rc : op.n;
}

int authsess_sweep(auth_t *a, int64_t now_ms, int64_t idle_ms, char *err, size_t errlen)
{
    s_op_t op = { .now_ms = now_ms, .idle_ms = idle_ms };
    int rc = s_write(a, s_scan, &op, "sweeping sessions", err, errlen);
    return rc ? rc : op.n;
}
