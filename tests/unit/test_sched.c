/*  tests/unit/test_sched.c — scheduler decisions: role routing, label
    constraints, priority then age, max_concurrency, removal, counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/sched.h"

typedef struct {
    role_t build, test;
    sched_t *s;
    job_t *jobs[64];
    size_t njobs;
    uint64_t next_id;
} fx_t;

static job_t *s_job(fx_t *f, role_t *role, int32_t prio, const char *where)
{
    kvlist_t w = { 0 };
    char err[64];
    assert_int_equal(kv_parse(&w, where, err, sizeof err), 0);
    job_t *j = job_new(++f->next_id, role, "{}", 2, prio, &w, 0);
    kv_free(&w);
    assert_non_null(j);
    f->jobs[f->njobs++] = j;
    assert_int_equal(sched_push(f->s, j), 0);
    return j;
}

static peer_t *s_peer(const char *roles, const char *labels, uint32_t slots)
{
    peer_t *p = peer_new("w");
    char *copy = strdup(roles), *save = NULL;
    p->roles = calloc(8, sizeof(char *));
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        p->roles[p->nroles++] = strdup(t);
    free(copy);
    char err[64];
    assert_int_equal(kv_parse(&p->labels, labels, err, sizeof err), 0);
    p->slots = slots;
    p->state = PEER_ONLINE;
    return p;
}

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->build.name = "build";
    f->build.max_attempts = 3;
    f->test.name = "test";
    f->test.max_attempts = 3;
    f->s = sched_new();
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    sched_destroy(&f->s);
    for (size_t i = 0; i < f->njobs; i++)
        job_destroy(&f->jobs[i]);
    free(f);
    return 0;
}

static void test_priority_then_age(void **state)
{
    fx_t *f = *state;
    job_t *low_old = s_job(f, &f->build, 0, "");
    job_t *high_new = s_job(f, &f->build, 5, "");
    job_t *low_new = s_job(f, &f->build, 0, "");
    job_t *high_newer = s_job(f, &f->build, 5, "");
    peer_t *p = s_peer("build", "", 4);
    assert_ptr_equal(sched_pick(f->s, p), high_new);
    assert_ptr_equal(sched_pick(f->s, p), high_newer);
    assert_ptr_equal(sched_pick(f->s, p), low_old);
    assert_ptr_equal(sched_pick(f->s, p), low_new);
    assert_null(sched_pick(f->s, p));
    assert_int_equal(sched_total(f->s), 0);
    peer_destroy(&p);
}

static void test_many_keep_heap_order(void **state)
{
    fx_t *f = *state;
    srand(7);
    for (int i = 0; i < 60; i++)
        s_job(f, &f->build, rand() % 5, "");
    peer_t *p = s_peer("build", "", 100);
    job_t *prev = sched_pick(f->s, p);
    for (job_t *j; (j = sched_pick(f->s, p)); prev = j)
        assert_true(j->priority < prev->priority ||
                    (j->priority == prev->priority && j->id > prev->id));
    peer_destroy(&p);
}

static void test_role_routing(void **state)
{
    fx_t *f = *state;
    job_t *t = s_job(f, &f->test, 0, "");
    peer_t *builder = s_peer("build", "", 1);
    peer_t *tester = s_peer("echo,test", "", 1);
    assert_null(sched_pick(f->s, builder));
    assert_int_equal(sched_depth(f->s, "test"), 1);
    assert_ptr_equal(sched_pick(f->s, tester), t);
    peer_destroy(&builder);
    peer_destroy(&tester);
}

static void test_where_labels(void **state)
{
    fx_t *f = *state;
    job_t *eu = s_job(f, &f->build, 9, "region=eu");
    job_t *gpu_eu = s_job(f, &f->build, 9, "region=eu,gpu=1");
    job_t *any = s_job(f, &f->build, 0, "");
    peer_t *us = s_peer("build", "region=us", 4);
    peer_t *eu_cpu = s_peer("build", "region=eu", 4);
    peer_t *eu_gpu = s_peer("build", "gpu=1,region=eu,zone=b", 4);
    /* the us worker skips both constrained jobs, despite their priority */
    assert_ptr_equal(sched_pick(f->s, us), any);
    assert_null(sched_pick(f->s, us));
    assert_ptr_equal(sched_pick(f->s, eu_cpu), eu);
    assert_null(sched_pick(f->s, eu_cpu));
    assert_ptr_equal(sched_pick(f->s, eu_gpu), gpu_eu);
    assert_int_equal(sched_total(f->s), 0);
    peer_destroy(&us);
    peer_destroy(&eu_cpu);
    peer_destroy(&eu_gpu);
}

static void test_max_concurrency(void **state)
{
    fx_t *f = *state;
    f->build.max_concurrency = 2;
    for (int i = 0; i < 4; i++)
        s_job(f, &f->build, 0, "");
    peer_t *a = s_peer("build", "", 4), *b = s_peer("build", "", 4);
    job_t *j1 = sched_pick(f->s, a);
    sched_started(f->s, j1);
    job_t *j2 = sched_pick(f->s, b);
    sched_started(f->s, j2);
    assert_non_null(j1);
    assert_non_null(j2);
    assert_int_equal(sched_running(f->s, "build"), 2);
    assert_null(sched_pick(f->s, a));
    assert_null(sched_pick(f->s, b));
    sched_stopped(f->s, j1);
    job_t *j3 = sched_pick(f->s, b);
    assert_non_null(j3);
    sched_started(f->s, j3);
    assert_null(sched_pick(f->s, a));
    assert_int_equal(sched_depth(f->s, "build"), 1);
    peer_destroy(&a);
    peer_destroy(&b);
}

static void test_remove(void **state)
{
    fx_t *f = *state;
    job_t *a = s_job(f, &f->build, 1, "");
    job_t *b = s_job(f, &f->build, 2, "");
    job_t *c = s_job(f, &f->build, 3, "x=1");
    sched_remove(f->s, b);
    assert_null(b->queue);
    sched_remove(f->s, b); /* second time: no-op */
    sched_remove(f->s, c); /* empties and frees its where-queue */
    assert_int_equal(sched_total(f->s), 1);
    assert_int_equal(sched_depth(f->s, "build"), 1);
    peer_t *p = s_peer("build", "x=1", 4);
    assert_ptr_equal(sched_pick(f->s, p), a);
    assert_null(sched_pick(f->s, p));
    /* a where-queue can come back after it was freed */
    job_t *d = s_job(f, &f->build, 0, "x=1");
    assert_ptr_equal(sched_pick(f->s, p), d);
    peer_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_priority_then_age, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_many_keep_heap_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_role_routing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_where_labels, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_max_concurrency, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_remove, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
