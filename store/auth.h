/*  store/auth.h — API keys and worker tokens, stored hashed.

    Credentials live in their own small LMDB environment, DIR/auth, apart
    from the job store: the job store is locked by the running coordinator,
    while `popebot-node keys create` must work beside it. LMDB lets several
    processes share an environment, so the CLI writes a key and the
    coordinator's HTTP threads see it on their next request.

    A credential is "pbk_" (API key) or "pbw_" (a worker's webhook token),
    then a 12-hex id, "_", and 43 base64url characters of 256 random bits.
    The store keeps, by id: the BLAKE2b-256 hash of the whole credential, its
    scopes ("admin", "read", "submit:ROLE", "submit:*", "worker:ID",
    comma-separated), a name and the creation time. The credential itself is
    returned once, by auth_create, and never stored.

    Rules: a check hashes the presented credential and compares hashes in
    constant time (sodium_memcmp); errors are returned with a reason, never
    printed; every function opens its own short transaction, so any thread
    may call any of them.
*/
#ifndef POPEBOT_STORE_AUTH_H
#define POPEBOT_STORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct auth auth_t;

#define AUTH_ID_LEN     12            /* hex characters of a credential's id */
#define AUTH_TOKEN_LEN  (4 + AUTH_ID_LEN + 1 + 43)
#define AUTH_SCOPES_MAX 512           /* bytes of the scopes text */
#define AUTH_NAME_MAX   128

typedef struct {
    char id[AUTH_ID_LEN + 1];
    char kind;                        /* 'k' API key, 'w' worker token */
    char scopes[AUTH_SCOPES_MAX];
    char name[AUTH_NAME_MAX];
    int64_t created_ms;
} auth_key_t;

/* Open (creating) DIR/auth. NULL with err on failure. */
auth_t *auth_open(const char *data_dir, char *err, size_t errlen);
void auth_close(auth_t **self_p);

/* Whether scopes text is well formed: known scope words, valid names. */
bool auth_scopes_valid(const char *scopes);

/* Make and store a new credential; token gets AUTH_TOKEN_LEN+1 bytes.
   kind 'k' or 'w'. 0, or -1 with err. */
int auth_create(auth_t *a, char kind, const char *scopes, const char *name, char *token,
                auth_key_t *out, char *err, size_t errlen);
/* 1 and the key when token is a stored credential, 0 when it is not,
   -1 with err when the store cannot tell. */
int auth_check(auth_t *a, const char *token, size_t len, auth_key_t *out, char *err,
               size_t errlen);
/* Every stored credential, oldest id order; fn returns non-zero to stop. */
typedef int (auth_each_fn)(const auth_key_t *k, void *arg);
int auth_each(auth_t *a, auth_each_fn *fn, void *arg, char *err, size_t errlen);
/* Delete by id: 1 deleted, 0 no such id, -1 error. */
int auth_revoke(auth_t *a, const char *id, char *err, size_t errlen);
/* Delete every credential whose scopes are exactly `scopes`; returns how
   many, or -1. (A deleted worker's tokens.) */
int auth_revoke_scopes(auth_t *a, const char *scopes, char *err, size_t errlen);

/* Whether a key with these scopes may do what `need` names: "admin",
   "read", "submit:ROLE" or "worker:ID". admin may do everything; read
   covers reads only; submit:* any role. */
bool auth_allows(const char *scopes, const char *need);

#endif
