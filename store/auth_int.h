/*  store/auth_int.h — the layout of DIR/auth, shared by the files of store/
    that keep credentials in it (auth.c: API keys and worker tokens;
    users.c: UI users' password hashes; authcurve.c: join tokens and
    enrolled CURVE keys). Not for use outside store/.

    auth.c opens the environment and every named database in it at
    auth_open, so the database handles are valid for the environment's
    life and any thread may use them in its own transaction.
*/
#ifndef POPEBOT_STORE_AUTH_INT_H
#define POPEBOT_STORE_AUTH_INT_H

#include <lmdb.h>

struct auth {
    MDB_env *env;             /* DIR/auth */
    MDB_dbi keys;             /* credential id -> API key or worker token record (auth.c) */
    MDB_dbi users;            /* UI user name -> password hash (users.c) */
    MDB_dbi tokens;           /* join token id -> join public key and limits (authcurve.c) */
    MDB_dbi peers;            /* CURVE public key (32 bytes) -> identity "w:ID" / "c:NAME" */
    MDB_dbi revoked;          /* CURVE public key (32 bytes) -> identity it had; refused forever */
};

#endif
