/*  web/sessions.c — UI login sessions over the credentials store
    (sessions.h).

    This file makes ids, derives CSRF tokens and applies the time rules;
    store/authsess.c keeps the records (by a hash of the id, never the id).
    Every function works on its own stack copies of an id and wipes them.
*/
#include "web/sessions.h"
#include "store/authsess.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char S_CSRF_PERSONAL[] = "pb-session-csrf1";  /* BLAKE2b's 16 personal bytes */

struct sessions {
    auth_t *auth;                         /* the store, borrowed */
    size_t max;                           /* live sessions at most */
    int64_t lifetime_ms;                  /* absolute lifetime */
    int64_t idle_ms;                      /* ends when unused this long */
    int64_t touch_ms;                     /* a last use is written at most this often */
};

sessions_t *sessions_new(auth_t *auth, size_t max, int64_t lifetime_ms, int64_t idle_ms)
{
    sessions_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->auth = auth;
    self->max = max;
    self->lifetime_ms = lifetime_ms;
    self->idle_ms = idle_ms;
    self->touch_ms = idle_ms / 10 < SESSION_TOUCH_MS ? idle_ms / 10 : SESSION_TOUCH_MS;
    return self;
}

void sessions_destroy(sessions_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

static void s_text(char *out, const uint8_t *raw)
{
    sodium_bin2base64(out, SESSION_TEXT + 1, raw, AUTHSESS_ID,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* id text into raw: 0, or -1 when it is not an id. */
static int s_raw(const char *id, uint8_t raw[AUTHSESS_ID])
{
    size_t n = 0;
    if (!id || strlen(id) != SESSION_TEXT ||
        sodium_base642bin(raw, AUTHSESS_ID, id, SESSION_TEXT, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || n != AUTHSESS_ID)
        return -1;
    return 0;
}

/* What the page sees of stored session st named by raw. */
static void s_view(const uint8_t raw[AUTHSESS_ID], const authsess_t *st, session_t *out)
{
    uint8_t csrf[AUTHSESS_ID];
    crypto_generichash_blake2b_salt_personal(csrf, sizeof csrf, raw, AUTHSESS_ID, NULL, 0, NULL,
                                             (const unsigned char *) S_CSRF_PERSONAL);
    memset(out, 0, sizeof *out);
    snprintf(out->user, sizeof out->user, "%s", st->user);
    s_text(out->csrf, csrf);
    out->expires_ms = st->expires_ms;
    sodium_memzero(csrf, sizeof csrf);
}

int sessions_start(sessions_t *self, const char *user, int64_t now_ms, char *id, session_t *out,
                   char *err, size_t errlen)
{
    uint8_t raw[AUTHSESS_ID];
    authsess_t st = { .created_ms = now_ms, .expires_ms = now_ms + self->lifetime_ms,
                      .last_ms = now_ms };
    snprintf(st.user, sizeof st.user, "%s", user);
    randombytes_buf(raw, sizeof raw);
    int rc = authsess_put(self->auth, raw, &st, now_ms, self->idle_ms, self->max, err, errlen);
    if (rc == 1) {
        s_text(id, raw);
        s_view(raw, &st, out);
    }
    sodium_memzero(raw, sizeof raw);
    return rc;
}

/* The use at now of live session st named by raw, written when the
   stored one is touch_ms old or more: 1, 0 it ended meanwhile, -1. */
static int s_used(sessions_t *self, const uint8_t *raw, const authsess_t *st, int64_t now_ms,
                  char *err, size_t errlen)
{
    if (now_ms - st->last_ms < self->touch_ms)
        return 1;
    return authsess_touch(self->auth, raw, now_ms, err, errlen);
}

int sessions_find(sessions_t *self, const char *id, int64_t now_ms, session_t *out, char *err,
                  size_t errlen)
{
    uint8_t raw[AUTHSESS_ID];
    authsess_t st;
    if (s_raw(id, raw) != 0)
        return 0;
    int rc = authsess_get(self->auth, raw, &st, err, errlen);
    if (rc == 1 && !authsess_live(&st, now_ms, self->idle_ms))
        rc = authsess_end(self->auth, raw, err, errlen) < 0 ? -1 : 0;
    else if (rc == 1)
        rc = s_used(self, raw, &st, now_ms, err, errlen);
    if (rc == 1)
        s_view(raw, &st, out);
    sodium_memzero(raw, sizeof raw);
    return rc;
}

int sessions_end(sessions_t *self, const char *id, char *err, size_t errlen)
{
    uint8_t raw[AUTHSESS_ID];
    if (s_raw(id, raw) != 0)
        return 0;
    int rc = authsess_end(self->auth, raw, err, errlen);
    sodium_memzero(raw, sizeof raw);
    return rc;
}

int sessions_sweep(sessions_t *self, int64_t now_ms, char *err, size_t errlen)
{
    return authsess_sweep(self->auth, now_ms, self->idle_ms, err, errlen);
}

int sessions_csrf_ok(const session_t *s, const char *token)
{
    return token && strlen(token) == SESSION_TEXT &&
           sodium_memcmp(s->csrf, token, SESSION_TEXT) == 0;
}
