/*  tests/fuzz/fuzz_cron.c — libFuzzer target: cron expressions
    (mesh/cron.h cron_parse, cron_next).

    Input: the expression, as arbitrary bytes (a NUL-terminated copy is
    parsed; an embedded NUL ends it early). The zones are loaded once, on
    the first input, and never change (read-only after that).

    What it asserts: cron_parse either succeeds or fails with a message
    that starts "cron: "; when it succeeds, cron_next from a few instants
    (the epoch, a DST change in Berlin and New York, far past and future,
    the extremes of int64) in UTC, Europe/Berlin and America/New_York
    returns a whole minute strictly after the start, or INT64_MAX, and
    chaining it a few times keeps increasing.
    Rules: C11, no state between inputs but the loaded zones, everything
    allocated per input is freed.
*/
#include "mesh/cron.h"
#include "tests/fuzz/fuzz_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const int64_t s_starts[] = {
    0,
    1774746000000LL,            /* 2026-03-29 01:00 UTC, Berlin springs forward */
    1793512800000LL - 1,        /* just before 2026-11-01 06:00 UTC, New York falls back */
    -2208988800000LL,           /* 1900 */
    7258118400000LL,            /* 2200 */
    INT64_MIN,
    INT64_MAX - 1,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tz_t *zones[3];
    static int loaded;
    if (!loaded) {
        char err[256];
        zones[1] = tz_load("Europe/Berlin", err, sizeof err);
        zones[2] = tz_load("America/New_York", err, sizeof err);
        loaded = 1;
    }
    if (size > 4096)
        return 0;
    char *expr = malloc(size + 1);
    FUZZ_CHECK(expr, "out of memory");
    memcpy(expr, data, size);
    expr[size] = '\0';
    cron_t c;
    char err[160] = "";
    if (cron_parse(&c, expr, err, sizeof err) != 0) {
        FUZZ_CHECK(strncmp(err, "cron: ", 6) == 0, "a parse error says what failed");
        free(expr);
        return 0;
    }
    for (size_t zi = 0; zi < 3; zi++)
        for (size_t i = 0; i < sizeof s_starts / sizeof s_starts[0]; i++) {
            int64_t t = s_starts[i];
            for (int k = 0; k < 3; k++) {
                int64_t next = cron_next(&c, zones[zi], t);
                if (next == INT64_MAX)
                    break;
                FUZZ_CHECK(next > t, "the next fire is strictly after the start");
                FUZZ_CHECK(next % 60000 == 0, "fires are whole minutes");
                t = next;
            }
        }
    free(expr);
    return 0;
}
