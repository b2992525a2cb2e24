/*  web/throttle.c — failed-login counters (throttle.h).

    A slot is free when its key is empty. Windows are measured on the
    monotonic clock the caller passes, so a wall-clock step neither frees
    nor locks anyone.
*/
#include "web/throttle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[THROTTLE_KEY_MAX + 1];       /* "" = free */
    int64_t start_ms;                     /* first failure of this window */
    unsigned failures;                    /* in this window */
} slot_t;

struct throttle {
    pthread_mutex_t lock;                 /* guards every slot */
    slot_t *slot;                         /* n of them, owned */
    size_t n;
    unsigned max;                         /* failures allowed per window */
    int64_t window_ms;
};

throttle_t *throttle_new(size_t slots, unsigned max, int64_t window_ms)
{
    throttle_t *self = calloc(1, sizeof *self);
    if (!self || !(self->slot = calloc(slots, sizeof *self->slot))) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    self->n = slots;
    self->max = max;
    self->window_ms = window_ms;
    return self;
}

void throttle_destroy(throttle_t **self_p)
{
    throttle_t *self = *self_p;
    if (!self)
        return;
    free(self->slot);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* key's slot or NULL; with the lock held. */
static slot_t *s_find(throttle_t *self, const char *key)
{
    size_t n = strnlen(key, THROTTLE_KEY_MAX);
    for (size_t i = 0; i < self->n; i++)
        if (self->slot[i].key[0] && strncmp(self->slot[i].key, key, n) == 0 &&
            self->slot[i].key[n] == '\0')
            return &self->slot[i];
    return NULL;
}

/* A free slot, else the one whose window began longest ago. */
static slot_t *s_take(throttle_t *self)
{
    slot_t *old = &self->slot[0];
    for (size_t i = 0; i < self->n; i++) {
        if (!self->slot[i].key[0])
            return &self->slot[i];
        if (self->slot[i].start_ms < old->start_ms)
            old = &self->slot[i];
    }
    return old;
}

int64_t throttle_wait(throttle_t *self, const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    slot_t *sl = s_find(self, key);
    int64_t left = sl ? sl->start_ms + self->window_ms - now_ms : 0;
    int64_t wait = sl && sl->failures >= self->max && left > 0 ? left : 0;
    pthread_mutex_unlock(&self->lock);
    return wait;
}

void throttle_fail(throttle_t *self, const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    slot_t *sl = s_find(self, key);
    if (sl && now_ms - sl->start_ms < self->window_ms) {
        sl->failures++;
    } else {
        if (!sl) {
            sl = s_take(self);
            snprintf(sl->key, sizeof sl->key, "%.*s", THROTTLE_KEY_MAX, key);
        }
        sl->start_ms = now_ms;
        sl->failures = 1;
    }
    pthread_mutex_unlock(&self->lock);
}

void throttle_clear(throttle_t *self, const char *key)
{
    pthread_mutex_lock(&self->lock);
    slot_t *sl = s_find(self, key);
    if (sl)
        memset(sl, 0, sizeof *sl);
    pthread_mutex_unlock(&self->lock);
}
