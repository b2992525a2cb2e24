/*  store/auth_int.h — the layout of DIR/auth, shared by the files of store/
    that keep credentials in it (auth.c: API keys and worker tokens;
    users.c: UI users' password hashes; authcurve.c: join tokens and
    enrolled CURVE keys; authsess.c: UI login sessions). Not for use
    outside store/.

    auth.c opens the environment and every named database in it at
    auth_open, so the database handles are valid for the environment's
    life and any thread may use them in its own transaction.
*/
#ifndef POPEBOT_STORE_AUTH_INT_H
#define POPEBOT_STORE_AUTH_INT_H

#include <lmdb.h>
#include <stdint.h>

struct auth {
    MDB_env *env;             /* DIR/auth */
    MDB_dbi keys;             /* credential id -> API key or worker token record (auth.c) */
    MDB_dbi users;            /* UI user name -> password hash (users.c) */
    MDB_dbi tokens;           /* join token id -> join public key and limits (authcurve.c) */
    MDB_dbi peers;            /* CURVE public key (32 bytes) -> identity "w:ID" / "c:NAME" */
    MDB_dbi revoked;          /* CURVE public key (32 bytes) -> identity it had; refused forever */
    MDB_dbi sessions;         /* half a session id's hash (16 bytes) -> the session (authsess.c) */
};

/* Inside txn, delete every session of user (users.c does so when the
   user's password changes or the user goes); *n counts them. 0 or an
   LMDB error code. */
int authsess_end_user_txn(MDB_txn *txn, struct auth *a, const char *user, int *n);
/* Inside txn, when name's password was last set (wall ms) into *out:
   0, MDB_NOTFOUND when there is no such user, or an LMDB error code. */
int users_set_ms_txn(MDB_txn *txn, struct auth *a, const char *name, int64_t *out);

#endif
