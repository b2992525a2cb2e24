/*  tests/unit/test_kv.c — label lists: parsing, order, subset matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/kv.h"

static void test_parse_sorted(void **state)
{
    (void) state;
    kvlist_t l = { 0 };
    char err[100];
    assert_int_equal(kv_parse(&l, "zone=b,region=eu,gpu=1,,region=us", err, sizeof err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(kv_get(&l, "region"), "us"); /* last one wins */
    char *s = kv_format(&l);
    assert_string_equal(s, "gpu=1,region=us,zone=b");
    free(s);
    kv_free(&l);
    assert_int_equal(kv_parse(&l, "", err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    s = kv_format(&l);
    assert_string_equal(s, "");
    free(s);
}

static void test_parse_errors(void **state)
{
    (void) state;
    kvlist_t l = { 0 };
    char err[100];
    assert_int_equal(kv_parse(&l, "region", err, sizeof err), -1);
    assert_non_null(strstr(err, "key=value"));
    assert_int_equal(kv_parse(&l, "=eu", err, sizeof err), -1);
    assert_int_equal(kv_parse(&l, "a b=c", err, sizeof err), -1);
    assert_non_null(strstr(err, "bad key"));
    kv_free(&l);
}

static void test_subset(void **state)
{
    (void) state;
    kvlist_t want = { 0 }, have = { 0 };
    char err[100];
    kv_parse(&have, "region=eu,gpu=1", err, sizeof err);
    assert_true(kv_subset(&want, &have)); /* nothing wanted */
    kv_parse(&want, "gpu=1", err, sizeof err);
    assert_true(kv_subset(&want, &have));
    kv_set(&want, "region", "us");
    assert_false(kv_subset(&want, &have));
    kv_set(&want, "region", "eu");
    kv_set(&want, "ssd", "1");
    assert_false(kv_subset(&want, &have));
    kv_free(&want);
    kv_free(&have);
}

static void test_wire(void **state)
{
    (void) state;
    pb_kv_t items[2] = { { pb_s("b"), pb_s("2") }, { pb_s("a"), pb_s("1") } };
    pb_kvs_t w = { items, 2 };
    kvlist_t l = { 0 };
    assert_int_equal(kv_from_wire(&l, &w), 0);
    assert_string_equal(l.items[0].key, "a");
    pb_kv_t back[2];
    pb_kvs_t v = kv_to_wire(&l, back);
    assert_int_equal(v.n, 2);
    assert_true(pb_str_eq(v.items[1].val, "2"));
    kv_free(&l);
    pb_kv_t dup[2] = { { pb_s("a"), pb_s("1") }, { pb_s("a"), pb_s("2") } };
    pb_kvs_t d = { dup, 2 };
    assert_int_equal(kv_from_wire(&l, &d), -1);
    kv_free(&l);
    /* {"a": "1,b=2"} must not read as {"a": "1", "b": "2"} once formatted */
    pb_kv_t sneaky[1] = { { pb_s("a"), pb_s("1,b=2") } };
    pb_kvs_t s = { sneaky, 1 };
    assert_int_equal(kv_from_wire(&l, &s), -1);
    kv_free(&l);
    pb_kv_t badkey[1] = { { pb_s("a=b"), pb_s("1") } };
    pb_kvs_t b = { badkey, 1 };
    assert_int_equal(kv_from_wire(&l, &b), -1);
    kv_free(&l);
    pb_kv_t nul[1] = { { pb_s("a"), { "x\0y", 3 } } };
    pb_kvs_t n = { nul, 1 };
    assert_int_equal(kv_from_wire(&l, &n), -1);
    kv_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_sorted),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
