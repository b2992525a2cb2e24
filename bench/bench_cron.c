/*  bench/bench_cron.c — what computing a cron trigger's next run costs
    (mesh/cron.c with zones from mesh/tz.c), per call, for a few schedules:
    every minute, every 15 minutes, a daily time in a zone with daylight
    saving, weekdays in another zone, the 29th of February, and one that
    never fires (the 8-year search). The coordinator calls cron_next once
    per run and once per trigger at start, so this bounds what schedules
    add to a loop turn. Prints the median of ROUNDS rounds of N calls, each
    call starting where the previous answer was (or, for "never", at a
    fresh start). Not part of `make test`; see docs/PERFORMANCE.md.

      bench_cron [N] [ROUNDS]      defaults 20000 and 5
*/
#include "mesh/cron.h"
#include "mesh/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* ns per call of one round: n calls chained from start. */
static double s_round(const cron_t *c, const tz_t *z, long n, int64_t start)
{
    int64_t t = start;
    double t0 = s_now_ns();
    for (long i = 0; i < n; i++) {
        int64_t next = cron_next(c, z, t);
        t = next == INT64_MAX ? start + i : next;
    }
    return (s_now_ns() - t0) / (double) n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    static const struct { const char *expr, *zone; } cases[] = {
        { "* * * * *", "UTC" }, { "*/15 * * * *", "UTC" }, { "30 2 * * *", "Europe/Berlin" },
        { "0 9 * * mon-fri", "America/New_York" }, { "0 0 29 2 *", "UTC" },
        { "0 0 30 2 *", "UTC" },
    };
    if (n < 1 || rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: bench_cron [N] [ROUNDS]\n");
        return 2;
    }
    printf("# cron_next: median ns per call of %d rounds of %ld calls\n", rounds, n);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char err[200];
        cron_t c;
        tz_t *z = tz_load(cases[k].zone, err, sizeof err);
        if (!z || cron_parse(&c, cases[k].expr, err, sizeof err) != 0) {
            fprintf(stderr, "bench_cron: %s\n", err);
            tz_destroy(&z);
            return 1;
        }
        long calls = cron_next(&c, z, 0) == INT64_MAX ? (n + 99) / 100 : n;  /* "never" is slow */
        double ns[100];
        for (int r = 0; r < rounds; r++)
            ns[r] = s_round(&c, z, calls, 1796083200000LL);   /* 2026-12-01 */
        qsort(ns, (size_t) rounds, sizeof ns[0], s_cmp);
        printf("%-18s %-18s %10.0f ns\n", cases[k].expr, cases[k].zone, ns[rounds / 2]);
        tz_destroy(&z);
    }
    return 0;
}
