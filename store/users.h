/*  store/users.h — UI users: a name and an argon2id password hash each.

    Users live in the credentials environment DIR/auth (store/auth.h), in
    their own database "users", so `popebot-node passwd` can set or delete a
    password beside a running coordinator and the next login sees it.

    A record is: version (1) | when the password was set, ms (8,
    big-endian) | the crypto_pwhash_str text (argon2id, interactive limits)
    NUL. The password itself is never stored, returned or put in an error
    message. Setting or deleting a password ends every UI session of the
    user (store/authsess.h), in the same transaction.

    Rules: names are 1-64 bytes of [A-Za-z0-9._@-]; passwords are 12-1024
    bytes (the cap bounds what one login may make the server hash);
    users_verify costs one argon2id verification whether or not the user
    exists, so its time does not tell which names are users; every function
    opens its own short transaction (none is open while hashing) and
    returns errors with a reason, never printing them.
*/
#ifndef POPEBOT_STORE_USERS_H
#define POPEBOT_STORE_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "store/auth.h"

#define USERS_NAME_MAX 64             /* bytes of a user name */
#define USERS_PASSWORD_MIN 12         /* bytes of a password, at least */
#define USERS_PASSWORD_MAX 1024       /* and at most */

/* Whether name is a valid user name. */
bool users_name_valid(const char *name);
/* Set (create or replace) name's password. 0, or -1 with err (a bad name
   or password length is said so; the password is never quoted). */
int users_set(auth_t *a, const char *name, const char *password, size_t len, char *err,
              size_t errlen);
/* Delete name: 1 deleted, 0 no such user, -1 error. */
int users_delete(auth_t *a, const char *name, char *err, size_t errlen);
/* 1 when name is a user and password is its password, 0 when not (an
   unknown or invalid name included), -1 with err when the store cannot
   tell. Always costs one argon2id verification. */
int users_verify(auth_t *a, const char *name, const char *password, size_t len, char *err,
                 size_t errlen);
/* The hash an unknown name is verified against (crypto_pwhash_STRBYTES
   bytes): today's interactive parameters, fixed salt and digest. Exposed
   for the unit test that checks it costs what a real one does. */
void users_decoy(char *out);

#endif
