/*  store/auth_int.h — the layout of DIR/auth, shared by the files that
    keep credentials in it (auth.c: API keys and worker tokens; authcurve.c:
    join tokens and enrolled CURVE keys). Not for use outside store/.
*/
#ifndef POPEBOT_STORE_AUTH_INT_H
#define POPEBOT_STORE_AUTH_INT_H

#include <lmdb.h>

struct auth {
    MDB_env *env;             /* DIR/auth */
    MDB_dbi keys;             /* id -> API key or worker token record */
    MDB_dbi tokens;           /* join token id -> join public key and limits */
    MDB_dbi peers;            /* CURVE public key (32 bytes) -> identity "w:ID" / "c:NAME" */
};

#endif
