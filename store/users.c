/*  store/users.c — UI users and their argon2id password hashes (users.h).

    Hashing happens outside any transaction: an argon2id computation takes
    a good fraction of a second and tens of MiB, and LMDB's single writer
    must not wait for it. An unknown name is verified against a hash of the
    same parameters made from fixed bytes, which no password matches, so
    both answers cost the same work.

    A record's time is when its password was last set: setting or deleting
    a password also ends the user's UI sessions, in the same transaction
    (store/authsess.h), and a session begun before it is refused.
*/
#include "store/users.h"
#include "store/auth_int.h"
#include "mesh/clock.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define S_VERSION 1
#define S_HEAD (1 + 8)

static int s_fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "users store: %s: %s", what, mdb_strerror(rc));
    return -1;
}

bool users_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > USERS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '@' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool s_length_ok(size_t len, char *err, size_t errlen)
{
    if (len >= USERS_PASSWORD_MIN && len <= USERS_PASSWORD_MAX)
        return true;
    snprintf(err, errlen, "the password must be %d to %d bytes long", USERS_PASSWORD_MIN,
             USERS_PASSWORD_MAX);
    return false;
}

static int s_put(auth_t *a, const char *name, const char *hash, char *err, size_t errlen)
{
    uint8_t rec[S_HEAD + crypto_pwhash_STRBYTES];
    size_t hl = strlen(hash);
    uint64_t now = (uint64_t) clock_wall_ms();
    rec[0] = S_VERSION;
    for (int i = 0; i < 8; i++)
        rec[1 + i] = (uint8_t) (now >> (56 - 8 * i));
    memcpy(rec + S_HEAD, hash, hl + 1);
    MDB_val k = { strlen(name), (void *) name }, v = { S_HEAD + hl + 1, rec };
    MDB_txn *txn;
    int ended = 0, rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc == 0 && ((rc = mdb_put(txn, a->users, &k, &v, 0)) != 0 ||
                    (rc = authsess_end_user_txn(txn, a, name, &ended)) != 0))
        mdb_txn_abort(txn);
    else if (rc == 0)
        rc = mdb_txn_commit(txn);
    sodium_memzero(rec, sizeof rec);
    return rc ? s_fail(err, errlen, "saving a password", rc) : 0;
}

int users_set(auth_t *a, const char *name, const char *password, size_t len, char *err,
              size_t errlen)
{
    char hash[crypto_pwhash_STRBYTES];
    if (!users_name_valid(name)) {
        snprintf(err, errlen, "a user name is 1 to %d of the characters A-Z a-z 0-9 . _ @ -",
                 USERS_NAME_MAX);
        return -1;
    }
    if (!s_length_ok(len, err, errlen))
        return -1;
    if (crypto_pwhash_str(hash, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        snprintf(err, errlen, "cannot hash the password (out of memory)");
        return -1;
    }
    int rc = s_put(a, name, hash, err, errlen);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int users_delete(auth_t *a, const char *name, char *err, size_t errlen)
{
    if (!users_name_valid(name))
        return 0;
    MDB_val k = { strlen(name), (void *) name };
    MDB_txn *txn;
    int ended = 0, rc = mdb_txn_begin(a->env, NULL, 0, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "deleting a user", rc);
    rc = mdb_del(txn, a->users, &k, NULL);
    if (rc == 0)
        rc = authsess_end_user_txn(txn, a, name, &ended);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? 0 : s_fail(err, errlen, "deleting a user", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc ? s_fail(err, errlen, "deleting a user", rc) : 1;
}

int users_set_ms_txn(MDB_txn *txn, auth_t *a, const char *name, int64_t *out)
{
    if (!users_name_valid(name))
        return MDB_NOTFOUND;
    MDB_val k = { strlen(name), (void *) name }, v;
    int rc = mdb_get(txn, a->users, &k, &v);
    if (rc != 0)
        return rc;
    const uint8_t *p = v.mv_data;
    if (v.mv_size <= S_HEAD || p[0] != S_VERSION)
        return MDB_NOTFOUND;             /* not a user this version can log in */
    uint64_t ms = 0;
    for (int i = 0; i < 8; i++)
        ms = ms << 8 | p[1 + i];
    *out = (int64_t) ms;
    return 0;
}

/* name's stored hash into out: 1 found, 0 not, -1 error. */
static int s_get(auth_t *a, const char *name, char out[crypto_pwhash_STRBYTES], char *err,
                 size_t errlen)
{
    if (!users_name_valid(name))
        return 0;
    MDB_val k = { strlen(name), (void *) name }, v = { 0, NULL };
    MDB_txn *txn;
    int rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return s_fail(err, errlen, "reading", rc);
    rc = mdb_get(txn, a->users, &k, &v);
    const uint8_t *p = v.mv_data;   /* read only when rc == 0 */
    int found = rc == 0 && v.mv_size > S_HEAD && v.mv_size <= S_HEAD + crypto_pwhash_STRBYTES &&
                p[0] == S_VERSION && p[v.mv_size - 1] == '\0';
    if (found)
        memcpy(out, p + S_HEAD, v.mv_size - S_HEAD);
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_fail(err, errlen, "reading", rc);
    return found;
}

/* A hash with today's interactive parameters that no password matches
   (its salt and digest are fixed bytes, not the output of any input). */
void users_decoy(char *out)
{
    snprintf(out, crypto_pwhash_STRBYTES, "$argon2id$v=19$m=%zu,t=%llu,p=1$%s$%s",
             (size_t) crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024,
             (unsigned long long) crypto_pwhash_OPSLIMIT_INTERACTIVE,
             "cG9wZWJvdC1kZWNveS0x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
}

int users_verify(auth_t *a, const char *name, const char *password, size_t len, char *err,
                 size_t errlen)
{
    char hash[crypto_pwhash_STRBYTES];
    int found = s_get(a, name, hash, err, errlen);
    if (found < 0)
        return -1;
    if (!found)
        users_decoy(hash);
    bool too_long = len > USERS_PASSWORD_MAX;  /* no stored password is; same cost anyway */
    int ok = crypto_pwhash_str_verify(hash, password, too_long ? USERS_PASSWORD_MAX : len) == 0;
    sodium_memzero(hash, sizeof hash);
    return found && ok && !too_long;
}
