/*  mesh/backoff.h — exponential backoff with full jitter.

    Used for reconnect delays. Each call to backoff_next() returns a random
    delay in [current/2, current] and then doubles current, up to max_ms;
    backoff_reset() goes back to min_ms after a success. The jitter spreads
    a crowd of workers that lost the same coordinator, so they do not all
    reconnect in the same millisecond.

    Rules it keeps:
    - No global state: the random generator's state lives in the backoff_t,
      seeded from getrandom() on first use, so two backoffs are independent.
    - A zero-initialised backoff_t with min_ms/max_ms set works without
      backoff_init(); current == 0 means "not started" and becomes min_ms.
    - min_ms 0 is taken as 1 and max_ms below min_ms as min_ms, so the delay
      always grows and never overflows (arithmetic is done in 64 bits).
*/
#ifndef POPEBOT_MESH_BACKOFF_H
#define POPEBOT_MESH_BACKOFF_H

#include <stdint.h>

typedef struct {
    uint32_t min_ms;          /* first (and reset) upper bound of a delay */
    uint32_t max_ms;          /* cap of current */
    uint32_t current;         /* upper bound of the next delay; 0 = min_ms */
    uint64_t rng;             /* xorshift64* state; 0 = not yet seeded */
} backoff_t;

/* Set the bounds and start at min_ms. */
void backoff_init(backoff_t *b, uint32_t min_ms, uint32_t max_ms);

/* A random delay in [current/2, current] ms; then current doubles (capped). */
uint32_t backoff_next(backoff_t *b);

/* Back to min_ms (after a successful connection). */
void backoff_reset(backoff_t *b);

/* The delay before retry number n (1 = after the first failure) of a job
   whose role has base_ms and max_ms: a random delay in [d/2, d] with
   d = min(max_ms, base_ms * 2^(n-1)). Uses (and overwrites) b's bounds; b
   serves only as the random generator. */
uint32_t backoff_after(backoff_t *b, uint32_t base_ms, uint32_t max_ms, uint32_t n);

#endif
