/*  tests/unit/test_idmap.c — the id map against a plain array model, through
    growth and many deletions (backward shift must keep every key findable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "mesh/idmap.h"

#define N 20000

static void test_model(void **state)
{
    (void) state;
    idmap_t m;
    assert_int_equal(idmap_init(&m), 0);
    static uint64_t keys[N];
    static int present[N];
    srand(42);
    for (int i = 0; i < N; i++)
        keys[i] = ((uint64_t) rand() << 32 | (uint64_t) rand()) | 1; /* never 0 */
    for (int round = 0; round < 200000; round++) {
        int i = rand() % N;
        if (rand() % 3) {
            assert_int_equal(idmap_put(&m, keys[i], &keys[i]), 0);
            present[i] = 1;
        } else {
            idmap_del(&m, keys[i]);
            present[i] = 0;
        }
    }
    size_t count = 0;
    for (int i = 0; i < N; i++) {
        void *v = idmap_get(&m, keys[i]);
        if (present[i])
            assert_ptr_equal(v, &keys[i]);
        else
            assert_null(v);
        count += (size_t) present[i];
    }
    assert_int_equal(m.n, count);
    assert_int_equal(idmap_put(&m, 0, keys), -1);
    assert_null(idmap_get(&m, 0));
    idmap_free(&m);
}

static void test_sequential_ids(void **state)
{
    (void) state;
    /* job ids: clock << 16 | sequence, clustered keys */
    idmap_t m;
    idmap_init(&m);
    uint64_t base = (uint64_t) 0x19ad1c2a0f3 << 16;
    for (uint64_t i = 0; i < 100000; i++)
        assert_int_equal(idmap_put(&m, base + i, (void *) (uintptr_t) (i + 1)), 0);
    for (uint64_t i = 0; i < 100000; i += 2)
        idmap_del(&m, base + i);
    for (uint64_t i = 0; i < 100000; i++)
        assert_ptr_equal(idmap_get(&m, base + i), i % 2 ? (void *) (uintptr_t) (i + 1) : NULL);
    assert_int_equal(m.n, 50000);
    idmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_sequential_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
