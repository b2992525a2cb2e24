/*  web/sessions.h — UI login sessions, held in the web layer's memory.

    A session is made by a successful POST /api/login and named by a random
    256-bit id that the browser holds in an HttpOnly cookie; with it goes a
    random 256-bit CSRF token that the UI must echo in X-CSRF-Token on every
    state change. Both travel as 43 base64url characters.

    Rules: the table is fixed-size (bounded memory) and guarded by one
    mutex, since civetweb's threads are many; a session ends at logout, at
    its absolute lifetime, after its idle time, when the table is full and
    it is the least recently used, or when the process stops (nothing is
    persisted). Ids are compared in constant time. Nothing here logs.
*/
#ifndef POPEBOT_WEB_SESSIONS_H
#define POPEBOT_WEB_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "store/users.h"

#define SESSION_TEXT 43                  /* base64url characters of an id or token */
#define SESSION_LIFETIME_MS (12LL * 3600 * 1000)
#define SESSION_IDLE_MS (1LL * 3600 * 1000)

typedef struct sessions sessions_t;

typedef struct {
    char user[USERS_NAME_MAX + 1];
    char csrf[SESSION_TEXT + 1];         /* the token X-CSRF-Token must carry */
    int64_t expires_ms;                  /* monotonic time of the absolute end */
} session_t;

/* A table of at most max sessions. NULL when out of memory. */
sessions_t *sessions_new(size_t max, int64_t lifetime_ms, int64_t idle_ms);
void sessions_destroy(sessions_t **self_p);
/* Start a session for user at now_ms (monotonic): its id text into id
   (SESSION_TEXT+1 bytes) and what it holds into out. */
void sessions_start(sessions_t *self, const char *user, int64_t now_ms, char *id, session_t *out);
/* 1 and out when id names a live session (its idle clock restarts), else 0. */
int sessions_find(sessions_t *self, const char *id, int64_t now_ms, session_t *out);
/* End the session id names: 1 ended, 0 there was none. */
int sessions_end(sessions_t *self, const char *id);
/* Whether token is out's CSRF token (constant time). */
int sessions_csrf_ok(const session_t *s, const char *token);

#endif
