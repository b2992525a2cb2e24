/*  store/authcurve.c — join tokens and enrolled CURVE keys (authcurve.h).

    Two databases of DIR/auth (auth_int.h):
      tokens: id (12 hex) -> pub (32) | created ms (8) | expires ms (8) |
              uses_max (4) | used (4), integers big-endian
      peers:  pub (32) -> identity text (no NUL)
    Both are small (one entry per token or enrolled node), so lookups by
    the other field scan them. Commits are synced, like the API keys: an
    admitted or revoked key must not come back after a crash.
*/
#include "store/authcurve.h"
#include "store/auth_int.h"

#include <stdio.h>
#include <string.h>

#define S_JT_SIZE (32 + 8 + 8 + 4 + 4)

static int s_fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "credentials store: %s: %s", what, mdb_strerror(rc));
    return -1;
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void s_jt_pack(const auth_jt_t *t, uint8_t out[S_JT_SIZE])
{
    memcpy(out, t->pub, 32);
    s_put64(out + 32, (uint64_t) t->created_ms);
    s_put64(out + 40, (uint64_t) t->expires_ms);
    s_put32(out + 48, t->uses_max);
    s_put32(out + 52, t->used);
}

static int s_jt_unpack(const MDB_val *k, const MDB_val *v, auth_jt_t *t)
{
    const uint8_t *p = v->mv_data;
    if (k->mv_size != AUTH_ID_LEN || v->mv_size < S_JT_SIZE)
        return -1;
    memcpy(t->id, k->mv_data, AUTH_ID_LEN);
    t->id[AUTH_ID_LEN] = '\0';
    memcpy(t->pub, p, 32);
    t->created_ms = (int64_t) s_get64(p + 32);
    t->expires_ms = (int64_t) s_get64(p + 40);
    t->uses_max = s_get32(p + 48);
    t->used = s_get32(p + 52);
    return 0;
}

/* ---- tokens ---------------------------------------------------------------- */

static int s_jt_put(MDB_txn *txn, auth_t *a, const auth_jt_t *t, unsigned flags)
{
    uint8_t buf[S_JT_SIZE];
    s_jt_pack(t, buf);
    MDB_val k = { AUTH_ID_LEN, (void *) t->id }, v = { sizeof buf, buf };
    return mdb_put(txn, a->tokens, &k, &v, flags);
}

int auth_jt_add(auth_t *a, const auth_jt_t *t, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc == 0 && (rc = s_jt_put(txn, a, t, MDB_NOOVERWRITE)) != 0)
        mdb_txn_abort(txn);
    else if (rc == 0)
        rc = mdb_txn_commit(txn);
    return rc ? s_fail(err, errlen, "saving a join token", rc) : 0;
}

static int s_jt_read(MDB_txn *txn, auth_t *a, const char *id, auth_jt_t *out)
{
    MDB_val k = { strlen(id), (void *) id }, v;
    if (k.mv_size != AUTH_ID_LEN)
        return MDB_NOTFOUND;
    int rc = mdb_get(txn, a->tokens, &k, &v);
    if (rc == 0 && s_jt_unpack(&k, &v, out) != 0)
        rc = MDB_CORRUPTED;
    return rc;
}

int auth_jt_get(auth_t *a, const char *id, auth_jt_t *out, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "reading", rc);
    rc = s_jt_read(txn, a, id, out);
    mdb_txn_abort(txn);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : s_fail(err, errlen, "reading a join token", rc);
}

typedef struct {
    const uint8_t *pub;
    auth_jt_t *out;
    int found;
} s_by_pub_t;

static int s_match_pub(const auth_jt_t *t, void *arg)
{
    s_by_pub_t *b = arg;
    if (memcmp(t->pub, b->pub, 32) != 0)
        return 0;
    *b->out = *t;
    b->found = 1;
    return 1;
}

int auth_jt_by_pub(auth_t *a, const uint8_t pub[32], auth_jt_t *out, char *err, size_t errlen)
{
    s_by_pub_t b = { pub, out, 0 };
    if (auth_jt_each(a, s_match_pub, &b, err, errlen) != 0)
        return -1;
    return b.found;
}

bool auth_jt_usable(const auth_jt_t *t, int64_t now)
{
    return (t->expires_ms == 0 || now < t->expires_ms) &&
           (t->uses_max == 0 || t->used < t->uses_max);
}

int auth_jt_revoke(auth_t *a, const char *id, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = { strlen(id), (void *) id };
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "writing", rc);
    rc = mdb_del(txn, a->tokens, &k, NULL);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? 0 : s_fail(err, errlen, "revoking a join token", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc ? s_fail(err, errlen, "revoking a join token", rc) : 1;
}

int auth_jt_each(auth_t *a, auth_jt_fn *fn, void *arg, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0 && (rc = mdb_cursor_open(txn, a->tokens, &cur)) == 0) {
        for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op) op) == 0; op = MDB_NEXT) {
            auth_jt_t t;
            if (s_jt_unpack(&k, &v, &t) == 0 && fn(&t, arg) != 0)
                break;
        }
        mdb_cursor_close(cur);
    }
    if (txn)
        mdb_txn_abort(txn);
    return rc ? s_fail(err, errlen, "listing join tokens", rc) : 0;
}

/* ---- enrolled keys ----------------------------------------------------------- */

int auth_peer_set(auth_t *a, const uint8_t pub[32], const char *user, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = { 32, (void *) pub }, v = { strlen(user), (void *) user };
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc == 0 && (rc = mdb_put(txn, a->peers, &k, &v, 0)) != 0)
        mdb_txn_abort(txn);
    else if (rc == 0)
        rc = mdb_txn_commit(txn);
    return rc ? s_fail(err, errlen, "saving an enrolled key", rc) : 0;
}

int auth_peer_get(auth_t *a, const uint8_t pub[32], char *user, size_t cap, char *err,
                  size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = { 32, (void *) pub }, v;
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "reading", rc);
    rc = mdb_get(txn, a->peers, &k, &v);
    if (rc == 0 && v.mv_size < cap) {
        memcpy(user, v.mv_data, v.mv_size);
        user[v.mv_size] = '\0';
    }
    mdb_txn_abort(txn);
    return rc == 0 ? (v.mv_size < cap ? 1 : 0)
         : rc == MDB_NOTFOUND ? 0 : s_fail(err, errlen, "reading an enrolled key", rc);
}

/* Visit every (key, identity) of peers; stop when fn returns non-zero. */
typedef int (s_peer_fn)(MDB_cursor *cur, const MDB_val *k, const MDB_val *v, void *arg);

static int s_peers_scan(auth_t *a, bool write, s_peer_fn *fn, void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin(a->env, NULL, write ? 0 : MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, a->peers, &cur)) == 0) {
        for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op) op) == 0; op = MDB_NEXT)
            if (fn(cur, &k, &v, arg) != 0)
                break;
        mdb_cursor_close(cur);
    }
    if (rc == 0 && write)
        return mdb_txn_commit(txn);
    mdb_txn_abort(txn);
    return rc;
}

typedef struct {
    const char *user;
    uint8_t *pub;              /* found key goes here (by_user) */
    int count;
} s_user_t;

static bool s_is_user(const MDB_val *v, const char *user)
{
    return v->mv_size == strlen(user) && memcmp(v->mv_data, user, v->mv_size) == 0;
}

static int s_find_user(MDB_cursor *cur, const MDB_val *k, const MDB_val *v, void *arg)
{
    s_user_t *u = arg;
    (void) cur;
    if (!s_is_user(v, u->user) || k->mv_size != 32)
        return 0;
    memcpy(u->pub, k->mv_data, 32);
    u->count = 1;
    return 1;
}

static int s_drop_user(MDB_cursor *cur, const MDB_val *k, const MDB_val *v, void *arg)
{
    s_user_t *u = arg;
    (void) k;
    if (s_is_user(v, u->user) && mdb_cursor_del(cur, 0) == 0)
        u->count++;
    return 0;
}

int auth_peer_by_user(auth_t *a, const char *user, uint8_t pub[32], char *err, size_t errlen)
{
    s_user_t u = { user, pub, 0 };
    int rc = s_peers_scan(a, false, s_find_user, &u);
    return rc ? s_fail(err, errlen, "reading enrolled keys", rc) : u.count;
}

int auth_peer_drop_user(auth_t *a, const char *user, char *err, size_t errlen)
{
    s_user_t u = { user, NULL, 0 };
    int rc = s_peers_scan(a, true, s_drop_user, &u);
    return rc ? s_fail(err, errlen, "revoking enrolled keys", rc) : u.count;
}

/* Delete every key of user in txn; how many, or -(mdb error). */
static int s_drop_in(MDB_txn *txn, auth_t *a, const char *user, const uint8_t *keep)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int n = 0, rc = mdb_cursor_open(txn, a->peers, &cur);
    if (rc != 0)
        return -rc;
    for (int op = MDB_FIRST; rc == 0 && mdb_cursor_get(cur, &k, &v, (MDB_cursor_op) op) == 0;
         op = MDB_NEXT) {
        if (!s_is_user(&v, user) || (keep && k.mv_size == 32 && memcmp(k.mv_data, keep, 32) == 0))
            continue;
        if ((rc = mdb_cursor_del(cur, 0)) == 0)
            n++;
    }
    mdb_cursor_close(cur);
    return rc ? -rc : n;
}

int auth_peer_set_only(auth_t *a, const uint8_t pub[32], const char *user, char *err,
                       size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = { 32, (void *) pub }, v = { strlen(user), (void *) user };
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "writing", rc);
    int n = s_drop_in(txn, a, user, pub);
    rc = n < 0 ? -n : mdb_put(txn, a->peers, &k, &v, 0);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    return rc ? s_fail(err, errlen, "saving an enrolled key", rc) : 0;
}

int auth_enroll(auth_t *a, const char *id, int64_t now, const uint8_t pub[32], const char *user,
                char *err, size_t errlen)
{
    MDB_txn *txn;
    auth_jt_t t;
    MDB_val k = { 32, (void *) pub }, v = { strlen(user), (void *) user };
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "writing", rc);
    rc = s_jt_read(txn, a, id, &t);
    if (rc == MDB_NOTFOUND || (rc == 0 && !auth_jt_usable(&t, now))) {
        mdb_txn_abort(txn);
        return 0;
    }
    t.used++;
    if (rc == 0 && (rc = s_jt_put(txn, a, &t, 0)) == 0 &&
        (rc = mdb_put(txn, a->peers, &k, &v, 0)) == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    return rc ? s_fail(err, errlen, "enrolling a key", rc) : 1;
}

typedef struct {
    auth_t *a;
    const char *user;
    auth_key_fn *fn;
    void *arg;
    int count, rc;
} s_revoke_t;

static int s_revoke_one(MDB_cursor *cur, const MDB_val *k, const MDB_val *v, void *arg)
{
    s_revoke_t *r = arg;
    if (!s_is_user(v, r->user) || k->mv_size != 32)
        return 0;
    uint8_t pub[32];
    memcpy(pub, k->mv_data, 32);
    MDB_val key = { 32, pub }, val = { strlen(r->user), (void *) r->user };
    if ((r->rc = mdb_cursor_del(cur, 0)) != 0 ||
        (r->rc = mdb_put(mdb_cursor_txn(cur), r->a->revoked, &key, &val, 0)) != 0)
        return 1;
    if (r->fn)
        r->fn(pub, r->arg);
    r->count++;
    return 0;
}

int auth_peer_revoke_user(auth_t *a, const char *user, auth_key_fn *fn, void *arg, char *err,
                          size_t errlen)
{
    s_revoke_t r = { a, user, fn, arg, 0, 0 };
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc == 0 && (rc = mdb_cursor_open(txn, a->peers, &cur)) == 0) {
        for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op) op) == 0; op = MDB_NEXT)
            if (s_revoke_one(cur, &k, &v, &r) != 0)
                break;
        mdb_cursor_close(cur);
        rc = r.rc;
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    return rc ? s_fail(err, errlen, "revoking enrolled keys", rc) : r.count;
}

int auth_revoked_each(auth_t *a, auth_key_fn *fn, void *arg, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "reading", rc);
    if ((rc = mdb_cursor_open(txn, a->revoked, &cur)) == 0) {
        for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op) op) == 0; op = MDB_NEXT)
            if (k.mv_size == 32 && fn(k.mv_data, arg) != 0)
                break;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return rc ? s_fail(err, errlen, "reading revoked keys", rc) : 0;
}
