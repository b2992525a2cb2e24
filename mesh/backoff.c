/*  mesh/backoff.c — exponential backoff with full jitter (backoff.h).

    The random numbers come from a xorshift64* generator whose state is in
    the backoff_t itself. It is seeded once from getrandom(), falling back
    to the monotonic clock mixed with the pid and the struct's address when
    getrandom() is unavailable; its quality only needs to spread reconnects.
*/
#include "mesh/backoff.h"

#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* The effective bounds: min at least 1, max at least min. */
static uint32_t
s_min(const backoff_t *b)
{
    return b->min_ms ? b->min_ms : 1;
}

static uint32_t
s_max(const backoff_t *b)
{
    uint32_t lo = s_min(b);
    return b->max_ms > lo ? b->max_ms : lo;
}

static void
s_seed(backoff_t *b)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t) sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 32)
             ^ ((uint64_t) getpid() << 16) ^ (uint64_t) (uintptr_t) b;
    }
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;   /* xorshift needs != 0 */
}

static uint64_t
s_random(backoff_t *b)
{
    if (b->rng == 0)
        s_seed(b);
    uint64_t x = b->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

void
backoff_init(backoff_t *b, uint32_t min_ms, uint32_t max_ms)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->current = s_min(b);
    b->rng = 0;
}

uint32_t
backoff_next(backoff_t *b)
{
    uint32_t cur = b->current ? b->current : s_min(b);
    if (cur > s_max(b))
        cur = s_max(b);
    uint64_t lo = cur / 2;
    uint64_t span = (uint64_t) cur - lo + 1;       /* inclusive of cur */
    uint32_t delay = (uint32_t) (lo + s_random(b) % span);
    uint64_t next = (uint64_t) cur * 2;
    b->current = next > s_max(b) ? s_max(b) : (uint32_t) next;
    return delay;
}

void
backoff_reset(backoff_t *b)
{
    b->current = s_min(b);
}

uint32_t
backoff_after(backoff_t *b, uint32_t base_ms, uint32_t max_ms, uint32_t n)
{
    b->min_ms = base_ms;
    b->max_ms = max_ms;
    uint64_t cur = s_min(b);
    for (uint32_t i = 1; i < n && cur < s_max(b); i++)
        cur *= 2;
    b->current = cur > s_max(b) ? s_max(b) : (uint32_t) cur;
    return backoff_next(b);
}
