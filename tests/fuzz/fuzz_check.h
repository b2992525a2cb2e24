/*  tests/fuzz/fuzz_check.h — the one assertion the fuzz targets use.

    FUZZ_CHECK(cond, what) stops the run with a one-line message when an
    invariant the code promises does not hold; libFuzzer sees the abort as
    a crash and keeps the input. It works whatever NDEBUG says, unlike
    assert(). Rules: header only, C11, no state.
*/
#ifndef POPEBOT_TESTS_FUZZ_CHECK_H
#define POPEBOT_TESTS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, what)                                                        \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, \
                    (what), #cond);                                                   \
            abort();                                                                  \
        }                                                                             \
    } while (0)

#endif
