/*  store/auth_int.h — the credentials environment as the files of store/
    that keep data in it see it (store/auth.c, store/users.c).

    auth.c opens the environment and every named database in it at
    auth_open, so the database handles are valid for the environment's
    life and any thread may use them in its own transaction.
*/
#ifndef POPEBOT_STORE_AUTH_INT_H
#define POPEBOT_STORE_AUTH_INT_H

#include <lmdb.h>

struct auth {
    MDB_env *env;             /* DIR/auth */
    MDB_dbi keys;             /* credential id -> record (auth.c) */
    MDB_dbi users;            /* UI user name -> password hash (users.c) */
};

#endif
