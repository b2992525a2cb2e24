/*  store/authcurve.h — join tokens and enrolled CURVE keys, in DIR/auth.

    Join tokens: by id, the token's CURVE public key (the secret half is only
    in the token text, never stored), when it was made, when it expires
    (0 = never), how many enrollments it allows (0 = any) and has made.
    Peers: an enrolled CURVE public key -> the identity it proves, "w:ID" for
    the worker registration ID, "c:NAME" for a client. The coordinator's ZAP
    handler admits exactly these keys (and usable join tokens).

    Rules: like auth.h, every call opens its own short transaction, so the
    CLI (join-token) and the running coordinator share the environment;
    errors are returned with a reason, never printed.
*/
#ifndef POPEBOT_STORE_AUTHCURVE_H
#define POPEBOT_STORE_AUTHCURVE_H

#include "store/auth.h"

#define AUTH_USER_MAX 136     /* "w:" or "c:" + an id of at most 128 bytes + NUL */

typedef struct {
    char id[AUTH_ID_LEN + 1];
    uint8_t pub[32];          /* the token's CURVE public key */
    int64_t created_ms, expires_ms;   /* expires 0: never */
    uint32_t uses_max, used;          /* uses_max 0: no limit */
} auth_jt_t;

int auth_jt_add(auth_t *a, const auth_jt_t *t, char *err, size_t errlen);
/* 1 found, 0 not, -1 error. */
int auth_jt_get(auth_t *a, const char *id, auth_jt_t *out, char *err, size_t errlen);
int auth_jt_by_pub(auth_t *a, const uint8_t pub[32], auth_jt_t *out, char *err, size_t errlen);
/* Whether the token may still enroll a node at time now (wall ms). */
bool auth_jt_usable(const auth_jt_t *t, int64_t now);
/* 1 deleted, 0 no such id, -1 error. */
int auth_jt_revoke(auth_t *a, const char *id, char *err, size_t errlen);
typedef int (auth_jt_fn)(const auth_jt_t *t, void *arg);
int auth_jt_each(auth_t *a, auth_jt_fn *fn, void *arg, char *err, size_t errlen);

/* Admit pub as user (replacing what pub proved before). 0 or -1. */
int auth_peer_set(auth_t *a, const uint8_t pub[32], const char *user, char *err, size_t errlen);
/* The identity pub proves: 1 found, 0 not enrolled, -1 error. */
int auth_peer_get(auth_t *a, const uint8_t pub[32], char *user, size_t cap, char *err,
                  size_t errlen);
/* The key enrolled as user: 1 found, 0 none, -1 error. */
int auth_peer_by_user(auth_t *a, const char *user, uint8_t pub[32], char *err, size_t errlen);
/* Forget every key of user: how many, or -1. */
int auth_peer_drop_user(auth_t *a, const char *user, char *err, size_t errlen);
/* Admit pub as user and forget every other key of user, in one
   transaction (the local client key, replaced). 0 or -1. */
int auth_peer_set_only(auth_t *a, const uint8_t pub[32], const char *user, char *err,
                       size_t errlen);
/* Enroll pub as user with join token id, in one transaction: the token's
   use is counted only together with the key. 1 done, 0 the token is absent
   or no longer usable, -1 error. */
int auth_enroll(auth_t *a, const char *id, int64_t now, const uint8_t pub[32], const char *user,
                char *err, size_t errlen);

/* Revoked keys: those of deleted workers, refused forever. */
typedef int (auth_key_fn)(const uint8_t pub[32], void *arg);
/* Forget every key of user and add it to the revoked keys, in one
   transaction; fn (may be NULL) sees each key. How many, or -1. */
int auth_peer_revoke_user(auth_t *a, const char *user, auth_key_fn *fn, void *arg, char *err,
                          size_t errlen);
/* Every revoked key; fn returns non-zero to stop. 0 or -1. */
int auth_revoked_each(auth_t *a, auth_key_fn *fn, void *arg, char *err, size_t errlen);

#endif
