/*  web/sessions.h — UI login sessions: made, checked and ended for the
    web layer, kept in the credentials store (store/authsess.h) so that a
    coordinator restart does not log anyone out.

    A session is made by a successful POST /api/login and named by a random
    256-bit id that the browser holds in an HttpOnly cookie; with it goes a
    CSRF token that the UI must echo in X-CSRF-Token on every state change.
    Both travel as 43 base64url characters. The token is derived from the
    id (a personalised BLAKE2b-256 of it), so it is never stored and comes
    out the same after a restart, and it tells nothing about the id.

    Rules: the store is the only truth (no cache here), so a logout, a
    password change or `passwd --delete` made by any process counts at the
    next request; times are wall-clock ms, since monotonic time does not
    survive a restart; a session ends at logout, at its absolute lifetime,
    after its idle time (its last use is written at most once a minute, or
    every tenth of the idle time when that is shorter), when its user's
    password changes or the user is deleted, or when `max` are live and it
    is the least recently used (of its user's own first); the CSRF token is
    compared in constant time; nothing here logs.
*/
#ifndef POPEBOT_WEB_SESSIONS_H
#define POPEBOT_WEB_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "store/users.h"

#define SESSION_TEXT 43                  /* base64url characters of an id or token */
#define SESSION_TOUCH_MS (60LL * 1000)   /* a last use is written at most this often */

typedef struct sessions sessions_t;

typedef struct {
    char user[USERS_NAME_MAX + 1];
    char csrf[SESSION_TEXT + 1];         /* the token X-CSRF-Token must carry */
    int64_t expires_ms;                  /* wall-clock time of the absolute end */
} session_t;

/* Sessions kept in auth (borrowed), at most max live. NULL when out of
   memory. */
sessions_t *sessions_new(struct auth *auth, size_t max, int64_t lifetime_ms, int64_t idle_ms);
void sessions_destroy(sessions_t **self_p);
/* Start a session for user whose login began at now_ms (wall clock, taken
   before the password was checked): 1 with its id text in id
   (SESSION_TEXT+1 bytes) and what it holds in out; 0 when user is no
   longer a user or its password was set since the login began; -1 with err. */
int sessions_start(sessions_t *self, const char *user, int64_t now_ms, char *id, session_t *out,
                   char *err, size_t errlen);
/* 1 and out when id names a live session at now_ms (its use is recorded),
   0 when it names none (an ended one is deleted), -1 with err. */
int sessions_find(sessions_t *self, const char *id, int64_t now_ms, session_t *out, char *err,
                  size_t errlen);
/* End the session id names: 1 ended, 0 there was none, -1 with err. */
int sessions_end(sessions_t *self, const char *id, char *err, size_t errlen);
/* Delete every session ended at now_ms: how many, or -1 with err. */
int sessions_sweep(sessions_t *self, int64_t now_ms, char *err, size_t errlen);
/* Whether token is s's CSRF token (constant time). */
int sessions_csrf_ok(const session_t *s, const char *token);

#endif
