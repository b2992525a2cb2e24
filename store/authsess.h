/*  store/authsess.h — UI login sessions, kept in DIR/auth so that they
    survive a coordinator restart.

    A session is named by 256 random bits (its id, held by the browser in a
    cookie). The store never holds the id: a record is keyed by half of the
    id's BLAKE2b-256 hash and keeps the other half, which a lookup compares
    in constant time (sodium_memcmp). Nothing stored can be turned back into
    an id, so a copy of DIR/auth gives no usable cookie. A record holds the
    session's user and three wall-clock times: when its login began, its
    absolute end, and its last use as stored (the web layer writes that at
    most once a minute, not on every request).

    A session belongs to its user's password: authsess_put refuses one whose
    user no longer exists or whose password was set at or after the login
    began, and store/users.c ends every session of a user in the same
    transaction that changes or deletes its password. LMDB serialises write
    transactions, so no login racing a password change can outlive it.

    Rules: like auth.h, every call opens its own short transaction, so any
    thread of the coordinator and the `passwd` CLI beside it share the
    environment; errors are returned with a reason, never printed; the work
    of a call that scans is bounded by the number of sessions kept, which
    authsess_put holds at `max` live ones (ended ones are deleted by it).
*/
#ifndef POPEBOT_STORE_AUTHSESS_H
#define POPEBOT_STORE_AUTHSESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/auth.h"
#include "store/users.h"

#define AUTHSESS_ID 32                /* random bytes of a session id */

typedef struct {
    char user[USERS_NAME_MAX + 1];
    int64_t created_ms;               /* wall clock: when its login began */
    int64_t expires_ms;               /* wall clock: its absolute end */
    int64_t last_ms;                  /* wall clock: its last use, as stored */
} authsess_t;

/* Whether s is live at now (wall ms): before its absolute end, and its
   last use less than idle_ms away in either direction (a wall clock that
   steps back by more than idle_ms ends sessions rather than lengthening
   them). */
bool authsess_live(const authsess_t *s, int64_t now_ms, int64_t idle_ms);

/* Store session id as s, in one transaction that also deletes every
   session ended at now and, when max live ones remain, the least recently
   used one of s->user (else of anyone). 1 stored; 0 refused, because
   s->user is no user or its password was set at or after s->created_ms;
   -1 with err. */
int authsess_put(auth_t *a, const uint8_t id[AUTHSESS_ID], const authsess_t *s, int64_t now_ms,
                 int64_t idle_ms, size_t max, char *err, size_t errlen);
/* The session id names, live or not: 1 and out, 0 none, -1 with err. */
int authsess_get(auth_t *a, const uint8_t id[AUTHSESS_ID], authsess_t *out, char *err,
                 size_t errlen);
/* Record a use of session id at now (a later last use only): 1 done,
   0 there is no such session (it ended meanwhile), -1 with err. */
int authsess_touch(auth_t *a, const uint8_t id[AUTHSESS_ID], int64_t now_ms, char *err,
                   size_t errlen);
/* Delete session id: 1 deleted, 0 none, -1 with err. */
int authsess_end(auth_t *a, const uint8_t id[AUTHSESS_ID], char *err, size_t errlen);
/* Delete every session of user: how many, or -1 with err. */
int authsess_end_user(auth_t *a, const char *user, char *err, size_t errlen);
/* Delete every session ended at now (and any record that does not
   decode): how many, or -1 with err. */
int authsess_sweep(auth_t *a, int64_t now_ms, int64_t idle_ms, char *err, size_t errlen);

#endif
