/*  tests/unit/test_backoff.c — exponential backoff with full jitter.

    Checks the contract of mesh/backoff.h: every delay lies in
    [current/2, current], current doubles up to max_ms and stays there,
    reset goes back to min_ms, odd bounds (min 0, max below min, values near
    UINT32_MAX) neither stall nor overflow, and the jitter really spreads:
    over many draws both ends of the range are reached.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mesh/backoff.h"

/* Draw once and check the delay against the bound in force before it. */
static uint32_t
s_draw_checked(backoff_t *b, uint32_t bound)
{
    uint32_t d = backoff_next(b);
    assert_true(d >= bound / 2);
    assert_true(d <= bound);
    return d;
}

static void
test_doubles_up_to_max(void **state)
{
    (void) state;
    backoff_t b;
    backoff_init(&b, 1000, 30000);
    uint32_t want[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000 };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(b.current, want[i]);
        s_draw_checked(&b, want[i]);
    }
    assert_int_equal(b.current, 30000);
}

static void
test_reset_goes_back_to_min(void **state)
{
    (void) state;
    backoff_t b;
    backoff_init(&b, 100, 5000);
    for (int i = 0; i < 10; i++)
        backoff_next(&b);
    assert_int_equal(b.current, 5000);
    backoff_reset(&b);
    assert_int_equal(b.current, 100);
    s_draw_checked(&b, 100);
    assert_int_equal(b.current, 200);
}

static void
test_zero_initialised_struct_works(void **state)
{
    (void) state;
    backoff_t b = { .min_ms = 50, .max_ms = 400 };
    s_draw_checked(&b, 50);
    s_draw_checked(&b, 100);
    s_draw_checked(&b, 200);
    s_draw_checked(&b, 400);
    s_draw_checked(&b, 400);
}

static void
test_jitter_spreads(void **state)
{
    (void) state;
    backoff_t b;
    backoff_init(&b, 1000, 1000);
    uint32_t lo = UINT32_MAX, hi = 0;
    unsigned low_half = 0, high_half = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t d = s_draw_checked(&b, 1000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        if (d < 750)
            low_half++;
        else if (d > 750)
            high_half++;
    }
    /* With 20000 draws over 501 values, missing an end is ~e^-40. */
    assert_int_equal(lo, 500);
    assert_int_equal(hi, 1000);
    assert_true(low_half > 8000 && high_half > 8000);
}

static void
test_two_backoffs_are_independent(void **state)
{
    (void) state;
    backoff_t a, b;
    backoff_init(&a, 1000000, 1000000);
    backoff_init(&b, 1000000, 1000000);
    int same = 0;
    for (int i = 0; i < 32; i++)
        same += backoff_next(&a) == backoff_next(&b);
    assert_true(same < 32);
}

static void
test_odd_bounds(void **state)
{
    (void) state;
    backoff_t b;

    backoff_init(&b, 0, 8);             /* min 0 still grows */
    uint32_t bound = 1;
    for (int i = 0; i < 6; i++) {
        s_draw_checked(&b, bound);
        bound = bound * 2 > 8 ? 8 : bound * 2;
    }
    assert_int_equal(b.current, 8);

    backoff_init(&b, 500, 100);         /* max below min: stays at min */
    for (int i = 0; i < 5; i++)
        s_draw_checked(&b, 500);
    assert_int_equal(b.current, 500);

    backoff_init(&b, UINT32_MAX - 1, UINT32_MAX);   /* no overflow */
    s_draw_checked(&b, UINT32_MAX - 1);
    assert_int_equal(b.current, UINT32_MAX);
    s_draw_checked(&b, UINT32_MAX);
    assert_int_equal(b.current, UINT32_MAX);

    backoff_init(&b, 1, 1);             /* [0, 1] */
    for (int i = 0; i < 100; i++)
        s_draw_checked(&b, 1);
}

static void
test_after(void **state)
{
    (void) state;
    backoff_t b = { 0 };
    for (int i = 0; i < 200; i++) {
        uint32_t d1 = backoff_after(&b, 100, 10000, 1);
        uint32_t d3 = backoff_after(&b, 100, 10000, 3);
        uint32_t big = backoff_after(&b, 100, 10000, 40);   /* capped, no overflow */
        assert_true(d1 >= 50 && d1 <= 100);
        assert_true(d3 >= 200 && d3 <= 400);
        assert_true(big >= 5000 && big <= 10000);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_after),
        cmocka_unit_test(test_doubles_up_to_max),
        cmocka_unit_test(test_reset_goes_back_to_min),
        cmocka_unit_test(test_zero_initialised_struct_works),
        cmocka_unit_test(test_jitter_spreads),
        cmocka_unit_test(test_two_backoffs_are_independent),
        cmocka_unit_test(test_odd_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
