/*  store/auth.c — API keys and worker tokens, stored hashed (auth.h).

    One LMDB environment DIR/auth with the database "keys":
      id (12 hex) -> kind (1) | BLAKE2b-256 of the credential (32) |
                     created ms (8, big-endian) | scopes NUL | name NUL
    and beside it "users" for UI passwords (store/users.c), "tokens",
    "peers" and "revoked" for CURVE (store/authcurve.c) and "sessions" for
    UI logins (store/authsess.c). Every one is created on first open, by
    whichever process opens the environment first, so a data dir made by an
    older version gains the new ones and its records stay as they were.
    The environment is small (64 MiB of address space) and synced on every
    commit: credentials change rarely and must not come back after a revoke.
*/
#include "store/auth.h"
#include "store/auth_int.h"
#include "mesh/clock.h"
#include "mesh/role.h"

#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MAP_SIZE (64ULL << 20)
#define S_HASH 32
#define S_SECRET 32
#define S_HEAD (1 + S_HASH + 8)
#define S_MAX_DBS 16      /* named databases: 6 in use; the limit is per process, not stored */


static int s_fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "credentials store: %s: %s", what, mdb_strerror(rc));
    return -1;
}

static int s_open_db(auth_t *a, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "opening", rc);
    if ((rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &a->keys)) == 0 &&
        (rc = mdb_dbi_open(txn, "users", MDB_CREATE, &a->users)) == 0 &&
        (rc = mdb_dbi_open(txn, "tokens", MDB_CREATE, &a->tokens)) == 0 &&
        (rc = mdb_dbi_open(txn, "peers", MDB_CREATE, &a->peers)) == 0 &&
        (rc = mdb_dbi_open(txn, "revoked", MDB_CREATE, &a->revoked)) == 0 &&
        (rc = mdb_dbi_open(txn, "sessions", MDB_CREATE, &a->sessions)) == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    return rc ? s_fail(err, errlen, "opening", rc) : 0;
}

auth_t *auth_open(const char *data_dir, char *err, size_t errlen)
{
    char path[4096];
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return NULL;
    }
    if ((size_t) snprintf(path, sizeof path, "%s/auth", data_dir) >= sizeof path ||
        (mkdir(data_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(path, 0700) != 0 && errno != EEXIST)) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return NULL;
    }
    auth_t *a = calloc(1, sizeof *a);
    int rc = a ? mdb_env_create(&a->env) : ENOMEM;
    if (rc == 0 && ((rc = mdb_env_set_maxdbs(a->env, S_MAX_DBS)) != 0 ||
                    (rc = mdb_env_set_mapsize(a->env, S_MAP_SIZE)) != 0 ||
                    (rc = mdb_env_open(a->env, path, MDB_NOTLS, 0600)) != 0)) {
        mdb_env_close(a->env);
        a->env = NULL;
    }
    if (rc != 0 || s_open_db(a, err, errlen) != 0) {
        if (rc != 0)
            s_fail(err, errlen, path, rc);
        auth_close(&a);
    }
    return a;
}

void auth_close(auth_t **self_p)
{
    auth_t *a = *self_p;
    if (!a)
        return;
    if (a->env)
        mdb_env_close(a->env);
    free(a);
    *self_p = NULL;
}

/* ---- scopes -------------------------------------------------------------- */

bool auth_scopes_valid(const char *scopes)
{
    if (!scopes || !*scopes || strlen(scopes) >= AUTH_SCOPES_MAX)
        return false;
    for (const char *p = scopes;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t) (end - p) : strlen(p);
        if (!role_scope_valid(p, n))  /* one grammar for keys and role permissions */
            return false;
        if (!end)
            return true;
        p = end + 1;
    }
}

static bool s_has(const char *scopes, const char *word, size_t n)
{
    for (const char *p = scopes;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if (len == n && memcmp(p, word, n) == 0)
            return true;
        if (!end)
            return false;
        p = end + 1;
    }
}

bool auth_allows(const char *scopes, const char *need)
{
    if (s_has(scopes, "admin", 5))
        return true;
    if (strncmp(need, "submit:", 7) == 0 && s_has(scopes, "submit:*", 8))
        return true;
    return strcmp(need, "admin") != 0 && s_has(scopes, need, strlen(need));
}

/* ---- records ------------------------------------------------------------- */

static void s_hash(const char *token, size_t len, uint8_t out[S_HASH])
{
    crypto_generichash(out, S_HASH, (const unsigned char *) token, len, NULL, 0);
}

static int s_decode(const MDB_val *k, const MDB_val *v, auth_key_t *out, uint8_t hash[S_HASH])
{
    const uint8_t *p = v->mv_data;
    if (k->mv_size != AUTH_ID_LEN || v->mv_size < S_HEAD + 2 || p[v->mv_size - 1] != '\0')
        return -1;
    memset(out, 0, sizeof *out);
    memcpy(out->id, k->mv_data, AUTH_ID_LEN);
    out->kind = (char) p[0];
    if (hash)
        memcpy(hash, p + 1, S_HASH);
    for (int i = 0; i < 8; i++)
        out->created_ms = (out->created_ms << 8) | p[1 + S_HASH + i];
    const char *scopes = (const char *) p + S_HEAD;
    size_t slen = strnlen(scopes, v->mv_size - S_HEAD);
    if (slen + 2 > v->mv_size - S_HEAD || slen >= sizeof out->scopes) /* name's NUL after */
        return -1;
    memcpy(out->scopes, scopes, slen);
    snprintf(out->name, sizeof out->name, "%s", scopes + slen + 1);
    return 0;
}

static int s_put(auth_t *a, const auth_key_t *k, const uint8_t hash[S_HASH], char *err,
                 size_t errlen)
{
    size_t sl = strlen(k->scopes), nl = strlen(k->name);
    uint8_t rec[S_HEAD + AUTH_SCOPES_MAX + AUTH_NAME_MAX];
    rec[0] = (uint8_t) k->kind;
    memcpy(rec + 1, hash, S_HASH);
    for (int i = 0; i < 8; i++)
        rec[1 + S_HASH + i] = (uint8_t) ((uint64_t) k->created_ms >> (56 - 8 * i));
    memcpy(rec + S_HEAD, k->scopes, sl + 1);
    memcpy(rec + S_HEAD + sl + 1, k->name, nl + 1);
    MDB_val key = { AUTH_ID_LEN, (void *) k->id }, val = { S_HEAD + sl + nl + 2, rec };
    MDB_txn *txn;
    int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc == 0 && (rc = mdb_put(txn, a->keys, &key, &val, MDB_NOOVERWRITE)) != 0)
        mdb_txn_abort(txn);
    else if (rc == 0)
        rc = mdb_txn_commit(txn);
    return rc ? s_fail(err, errlen, "saving a credential", rc) : 0;
}

int auth_create(auth_t *a, char kind, const char *scopes, const char *name, char *token,
                auth_key_t *out, char *err, size_t errlen)
{
    uint8_t idraw[AUTH_ID_LEN / 2], secret[S_SECRET], hash[S_HASH];
    if (!auth_scopes_valid(scopes) || (kind != 'k' && kind != 'w')) {
        snprintf(err, errlen, "bad scopes '%.80s': use admin, read, submit:ROLE, submit:* "
                 "or worker:ID, comma-separated", scopes ? scopes : "");
        return -1;
    }
    memset(out, 0, sizeof *out);
    randombytes_buf(idraw, sizeof idraw);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2hex(out->id, sizeof out->id, idraw, sizeof idraw);
    out->kind = kind;
    snprintf(out->scopes, sizeof out->scopes, "%s", scopes);
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    out->created_ms = clock_wall_ms();
    int n = snprintf(token, AUTH_TOKEN_LEN + 1, "pb%c_%s_", kind, out->id);
    sodium_bin2base64(token + n, AUTH_TOKEN_LEN + 1 - (size_t) n, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    s_hash(token, AUTH_TOKEN_LEN, hash);
    sodium_memzero(secret, sizeof secret);
    return s_put(a, out, hash, err, errlen);
}

int auth_check(auth_t *a, const char *token, size_t len, auth_key_t *out, char *err,
               size_t errlen)
{
    uint8_t want[S_HASH], have[S_HASH];
    if (len != AUTH_TOKEN_LEN || token[0] != 'p' || token[1] != 'b' || token[3] != '_' ||
        token[4 + AUTH_ID_LEN] != '_')
        return 0;
    MDB_txn *txn;
    MDB_val k = { AUTH_ID_LEN, (void *) (token + 4) }, v;
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "reading", rc);
    rc = mdb_get(txn, a->keys, &k, &v);
    int found = rc == 0 && s_decode(&k, &v, out, want) == 0;
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_fail(err, errlen, "reading", rc);
    s_hash(token, len, have);
    if (!found)
        return 0;
    return sodium_memcmp(want, have, S_HASH) == 0 && out->kind == token[2];
}

int auth_each(auth_t *a, auth_each_fn *fn, void *arg, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    auth_key_t key;
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "reading", rc);
    if ((rc = mdb_cursor_open(txn, a->keys, &cur)) != 0) {
        mdb_txn_abort(txn);
        return s_fail(err, errlen, "reading", rc);
    }
    int stop = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !stop;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (s_decode(&k, &v, &key, NULL) == 0)
            stop = fn(&key, arg);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_fail(err, errlen, "reading", rc);
}

/* Delete the credential with this id, or every one with exactly these
   scopes; returns how many, or -1. */
static int s_delete_where(auth_t *a, const char *id, const char *scopes, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    auth_key_t key;
    int n = 0, rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc == 0 && (rc = mdb_cursor_open(txn, a->keys, &cur)) != 0)
        mdb_txn_abort(txn);
    if (rc != 0)
        return s_fail(err, errlen, "revoking", rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (s_decode(&k, &v, &key, NULL) != 0)
            continue;
        if ((id && strcmp(key.id, id) == 0) || (scopes && strcmp(key.scopes, scopes) == 0)) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            n++;
        }
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return s_fail(err, errlen, "revoking", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc ? s_fail(err, errlen, "revoking", rc) : n;
}

int auth_revoke(auth_t *a, const char *id, char *err, size_t errlen)
{
    return s_delete_where(a, id, NULL, err, errlen);
}

int auth_revoke_scopes(auth_t *a, const char *scopes, char *err, size_t errlen)
{
    return s_delete_where(a, NULL, scopes, err, errlen);
}
