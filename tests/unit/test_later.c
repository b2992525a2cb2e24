/*  tests/unit/test_later.c — delayed jobs come out in due order, only when
    due, and cancelled ones never come out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "mesh/later.h"

static role_t s_role = { .name = "echo", .max_attempts = 1 };

static void test_due_order(void **state)
{
    (void) state;
    later_t l;
    later_init(&l);
    job_t *jobs[200];
    srand(3);
    for (int i = 0; i < 200; i++) {
        jobs[i] = job_new((uint64_t) i + 1, &s_role, "{}", 2, 0, NULL, 0);
        jobs[i]->run_at_ms = 1000 + rand() % 50;   /* many equal times */
        assert_int_equal(later_push(&l, jobs[i]), 0);
    }
    for (int i = 0; i < 200; i += 3)
        later_remove(&l, jobs[i]);
    later_remove(&l, jobs[0]);                    /* twice: no-op */
    assert_null(later_pop_due(&l, 999));
    assert_true(later_next(&l) >= 1000);
    int64_t prev_at = 0;
    uint64_t prev_id = 0;
    size_t n = 0;
    for (job_t *j; (j = later_pop_due(&l, 2000)); n++) {
        assert_true(j->id % 3 != 1);              /* removed ones never come out */
        assert_true(j->run_at_ms > prev_at || (j->run_at_ms == prev_at && j->id > prev_id));
        prev_at = j->run_at_ms;
        prev_id = j->id;
    }
    assert_int_equal(n, 200 - 67);
    assert_true(later_next(&l) == INT64_MAX);
    for (int i = 0; i < 200; i++)
        job_destroy(&jobs[i]);
    later_free(&l);
}

static void test_only_when_due(void **state)
{
    (void) state;
    later_t l;
    later_init(&l);
    job_t *a = job_new(1, &s_role, "{}", 2, 0, NULL, 0);
    job_t *b = job_new(2, &s_role, "{}", 2, 0, NULL, 0);
    a->run_at_ms = 500;
    b->run_at_ms = 100;
    later_push(&l, a);
    later_push(&l, b);
    assert_true(later_next(&l) == 100);
    assert_null(later_pop_due(&l, 99));
    assert_ptr_equal(later_pop_due(&l, 100), b);
    assert_null(later_pop_due(&l, 499));
    assert_ptr_equal(later_pop_due(&l, 10000), a);
    job_destroy(&a);
    job_destroy(&b);
    later_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_order),
        cmocka_unit_test(test_only_when_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
