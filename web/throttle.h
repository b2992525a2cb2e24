/*  web/throttle.h — counting failed logins per key (a client address or a
    user name) so that guessing passwords is slow.

    A key that fails max times within one window (which starts at its first
    failure) must wait until the window ends. The table has a fixed number
    of slots (bounded memory) and one mutex; when it is full, a new key takes
    the slot whose window began longest ago, so memory never grows however
    many keys an attacker invents (an address key cannot be pushed out by
    user keys: they live in separate tables). Keys are compared as text and
    never logged.
*/
#ifndef POPEBOT_WEB_THROTTLE_H
#define POPEBOT_WEB_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define THROTTLE_KEY_MAX 72               /* bytes of a key kept; longer ones are cut */

typedef struct throttle throttle_t;

throttle_t *throttle_new(size_t slots, unsigned max, int64_t window_ms);
void throttle_destroy(throttle_t **self_p);
/* 0 when key may try now, else how many ms until it may. */
int64_t throttle_wait(throttle_t *self, const char *key, int64_t now_ms);
/* Count one failure of key at now_ms. */
void throttle_fail(throttle_t *self, const char *key, int64_t now_ms);
/* Forget key's failures (after a success). */
void throttle_clear(throttle_t *self, const char *key);

#endif
