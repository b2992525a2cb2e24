/*  mesh/clock.h — the two clocks the mesh uses, in milliseconds.

    Monotonic time for every timer, timeout and liveness check (it never
    jumps); wall-clock time only for timestamps shown to people and stored
    with jobs.
*/
#ifndef POPEBOT_MESH_CLOCK_H
#define POPEBOT_MESH_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);
/* Monotonic microseconds, for latencies finer than a millisecond. */
int64_t clock_mono_us(void);

#endif
