/*  web/sessions.c — the session table (sessions.h).

    A slot is free when its user is empty. Lookups scan every slot and
    compare ids with sodium_memcmp, so the time taken does not depend on
    which bytes of a guessed id match; the table is small (hundreds of
    slots), so the scan is cheap next to one request.
*/
#include "web/sessions.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RAW 32                          /* random bytes of an id or token */

typedef struct {
    uint8_t id[S_RAW];                    /* the session's id */
    session_t s;                          /* user "" = free slot */
    int64_t last_ms;                      /* last use (monotonic) */
} slot_t;

struct sessions {
    pthread_mutex_t lock;                 /* guards every slot */
    slot_t *slot;                         /* max of them, owned */
    size_t max;
    int64_t lifetime_ms;                  /* absolute lifetime */
    int64_t idle_ms;                      /* ends when unused this long */
};

sessions_t *sessions_new(size_t max, int64_t lifetime_ms, int64_t idle_ms)
{
    sessions_t *self = calloc(1, sizeof *self);
    if (!self || !(self->slot = calloc(max, sizeof *self->slot))) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    self->max = max;
    self->lifetime_ms = lifetime_ms;
    self->idle_ms = idle_ms;
    return self;
}

void sessions_destroy(sessions_t **self_p)
{
    sessions_t *self = *self_p;
    if (!self)
        return;
    sodium_memzero(self->slot, self->max * sizeof *self->slot);
    free(self->slot);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static bool s_live(const sessions_t *self, const slot_t *sl, int64_t now_ms)
{
    return sl->s.user[0] && now_ms < sl->s.expires_ms && now_ms - sl->last_ms < self->idle_ms;
}

/* A free or ended slot; else the least recently used session of the same
   user, so one user logging in again and again only displaces their own
   sessions; else (the table full of others) the least recently used one. */
static slot_t *s_take(sessions_t *self, const char *user, int64_t now_ms)
{
    slot_t *lru = &self->slot[0], *own = NULL;
    for (size_t i = 0; i < self->max; i++) {
        slot_t *sl = &self->slot[i];
        if (!s_live(self, sl, now_ms))
            return sl;
        if (sl->last_ms < lru->last_ms)
            lru = sl;
        if (strcmp(sl->s.user, user) == 0 && (!own || sl->last_ms < own->last_ms))
            own = sl;
    }
    return own ? own : lru;
}

static void s_text(char *out, const uint8_t *raw)
{
    sodium_bin2base64(out, SESSION_TEXT + 1, raw, S_RAW, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void sessions_start(sessions_t *self, const char *user, int64_t now_ms, char *id, session_t *out)
{
    uint8_t csrf[S_RAW];
    pthread_mutex_lock(&self->lock);
    slot_t *sl = s_take(self, user, now_ms);
    memset(sl, 0, sizeof *sl);
    randombytes_buf(sl->id, S_RAW);
    randombytes_buf(csrf, S_RAW);
    snprintf(sl->s.user, sizeof sl->s.user, "%s", user);
    s_text(sl->s.csrf, csrf);
    sl->s.expires_ms = now_ms + self->lifetime_ms;
    sl->last_ms = now_ms;
    s_text(id, sl->id);
    *out = sl->s;
    pthread_mutex_unlock(&self->lock);
    sodium_memzero(csrf, sizeof csrf);
}

/* The slot id names (live or not), or NULL; called with the lock held. */
static slot_t *s_find(sessions_t *self, const char *id)
{
    uint8_t raw[S_RAW];
    size_t n = 0;
    if (strlen(id) != SESSION_TEXT ||
        sodium_base642bin(raw, sizeof raw, id, SESSION_TEXT, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || n != S_RAW)
        return NULL;
    slot_t *hit = NULL;
    for (size_t i = 0; i < self->max; i++)
        if (sodium_memcmp(self->slot[i].id, raw, S_RAW) == 0 && self->slot[i].s.user[0])
            hit = &self->slot[i];
    return hit;
}

int sessions_find(sessions_t *self, const char *id, int64_t now_ms, session_t *out)
{
    pthread_mutex_lock(&self->lock);
    slot_t *sl = s_find(self, id);
    int ok = sl && s_live(self, sl, now_ms);
    if (ok) {
        sl->last_ms = now_ms;
        *out = sl->s;
    } else if (sl) {
        memset(sl, 0, sizeof *sl);        /* ended: free the slot now */
    }
    pthread_mutex_unlock(&self->lock);
    return ok;
}

int sessions_end(sessions_t *self, const char *id)
{
    pthread_mutex_lock(&self->lock);
    slot_t *sl = s_find(self, id);
    if (sl)
        memset(sl, 0, sizeof *sl);
    pthread_mutex_unlock(&self->lock);
    return sl != NULL;
}

int sessions_csrf_ok(const session_t *s, const char *token)
{
    return token && strlen(token) == SESSION_TEXT &&
           sodium_memcmp(s->csrf, token, SESSION_TEXT) == 0;
}
