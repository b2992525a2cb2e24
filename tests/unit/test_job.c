/*  tests/unit/test_job.c — job ids, states, and the
    job table's eviction of the oldest finished jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/jobtab.h"

static role_t s_role = { .name = "echo", .max_attempts = 3 };

static void test_ids(void **state)
{
    (void) state;
    jobid_gen_t g = { 0 };
    uint64_t a = jobid_next(&g, 1000), b = jobid_next(&g, 1000), c = jobid_next(&g, 999);
    assert_true(a < b && b < c); /* same ms and a clock going back still grow */
    uint64_t d = jobid_next(&g, 5000);
    assert_true(d > c);
    char s[JOBID_LEN + 1];
    jobid_format(d, s);
    assert_int_equal(strlen(s), 16);
    uint64_t back;
    assert_int_equal(jobid_parse(s, 16, &back), 0);
    assert_true(back == d);
    assert_int_equal(jobid_parse("0123", 4, &back), -1);
    assert_int_equal(jobid_parse("0123456789ABCDEF", 16, &back), -1);
    assert_int_equal(jobid_parse("0123456789abcdeg", 16, &back), -1);
}

static void test_states(void **state)
{
    (void) state;
    job_state_t s;
    for (int i = 0; i < JOB_STATE_COUNT; i++) {
        assert_int_equal(job_state_parse(job_state_name((job_state_t) i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(job_state_parse("done", &s), -1);
    assert_false(job_state_terminal(JOB_RUNNING));
    assert_false(job_state_terminal(JOB_QUEUED));
    assert_true(job_state_terminal(JOB_DEAD));
    assert_true(job_state_terminal(JOB_SUCCEEDED));
}

static void test_eviction(void **state)
{
    (void) state;
    jobtab_t *t = jobtab_new(2);
    job_t *jobs[5];
    for (int i = 0; i < 5; i++) {
        jobs[i] = job_new((uint64_t) i + 1, &s_role, "{}", 2, 0, NULL, 0);
        assert_int_equal(jobtab_add(t, jobs[i]), 0);
    }
    assert_ptr_equal(jobtab_find(t, jobs[3]->idstr, JOBID_LEN), jobs[3]);
    /* finish 0, 2, 4: only the two most recently finished are kept */
    int order[] = { 2, 0, 4 };
    for (int i = 0; i < 3; i++) {
        job_finish(jobs[order[i]], JOB_SUCCEEDED, true, 0, "1", 1, NULL, 1);
        jobtab_finished(t, jobs[order[i]]);
    }
    assert_int_equal(jobtab_size(t), 4);
    char id2[JOBID_LEN + 1];
    jobid_format(3, id2);
    assert_null(jobtab_find(t, id2, JOBID_LEN)); /* jobs[2] finished first: gone */
    assert_non_null(jobtab_find(t, jobs[0]->idstr, JOBID_LEN));
    assert_non_null(jobtab_find(t, jobs[1]->idstr, JOBID_LEN)); /* queued: never evicted */
    /* newest-first walk */
    uint64_t prev = UINT64_MAX;
    int n = 0;
    for (job_t *j = jobtab_newest(t); j; j = jobtab_older(t), n++) {
        assert_true(j->id < prev);
        prev = j->id;
    }
    assert_int_equal(n, 4);
    jobtab_destroy(&t);
    assert_null(t);
}


/* With nothing to keep, a job just finished still outlives the call that
   finished it (its caller goes on using it); the next finish evicts it. */
static void test_keep_zero(void **state)
{
    (void) state;
    jobtab_t *t = jobtab_new(0);
    job_t *a = job_new(1, &s_role, "{}", 2, 0, NULL, 0);
    job_t *b = job_new(2, &s_role, "{}", 2, 0, NULL, 0);
    jobtab_add(t, a);
    jobtab_add(t, b);
    jobtab_finished(t, a);
    assert_ptr_equal(jobtab_find(t, a->idstr, JOBID_LEN), a);
    assert_int_equal(a->state, JOB_QUEUED);   /* readable: not freed */
    char ida[JOBID_LEN + 1];
    memcpy(ida, a->idstr, sizeof ida);
    jobtab_finished(t, b);
    assert_null(jobtab_find(t, ida, JOBID_LEN));
    assert_ptr_equal(jobtab_find(t, b->idstr, JOBID_LEN), b);
    jobtab_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_zero),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_eviction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
