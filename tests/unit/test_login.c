/*  tests/unit/test_login.c — the pieces of UI logins that need no server:
    the failed-login throttle (web/throttle.h) and the users store with its
    decoy hash (store/users.h). Sessions are in test_sessions.c. Times are
    passed in, so nothing here sleeps.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/users.h"
#include "web/throttle.h"

static void test_throttle_window(void **state)
{
    (void) state;
    throttle_t *t = throttle_new(4, 3, 1000);
    assert_non_null(t);
    for (int i = 0; i < 2; i++)
        throttle_fail(t, "alice", 100);
    assert_int_equal(throttle_wait(t, "alice", 100), 0);
    throttle_fail(t, "alice", 400);
    assert_int_equal(throttle_wait(t, "alice", 400), 700);   /* the window began at 100 */
    assert_int_equal(throttle_wait(t, "bob", 400), 0);
    assert_int_equal(throttle_wait(t, "alice", 1100), 0);    /* it is over */
    throttle_fail(t, "alice", 1100);                          /* a new window */
    assert_int_equal(throttle_wait(t, "alice", 1100), 0);
    throttle_clear(t, "alice");
    throttle_fail(t, "alice", 1200);
    throttle_fail(t, "alice", 1200);
    assert_int_equal(throttle_wait(t, "alice", 1200), 0);
    throttle_destroy(&t);
    assert_null(t);
}

static void test_throttle_is_bounded(void **state)
{
    (void) state;
    throttle_t *t = throttle_new(2, 1, 1000);
    throttle_fail(t, "a", 10);
    throttle_fail(t, "b", 20);
    throttle_fail(t, "c", 30);                 /* takes a's slot, the oldest */
    assert_int_equal(throttle_wait(t, "a", 30), 0);
    assert_true(throttle_wait(t, "b", 30) > 0);
    assert_true(throttle_wait(t, "c", 30) > 0);
    char longkey[200];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    throttle_fail(t, longkey, 40);             /* cut to THROTTLE_KEY_MAX, still counted */
    assert_true(throttle_wait(t, longkey, 40) > 0);
    throttle_destroy(&t);
}

static void test_users_store(void **state)
{
    (void) state;
    char dir[] = "/tmp/popebot-test-login-XXXXXX", err[256];
    assert_non_null(mkdtemp(dir));
    auth_t *a = auth_open(dir, err, sizeof err);
    assert_non_null(a);
    const char *pw = "twelve bytes!";
    assert_int_equal(users_set(a, "alice", pw, strlen(pw), err, sizeof err), 0);
    assert_int_equal(users_verify(a, "alice", pw, strlen(pw), err, sizeof err), 1);
    assert_int_equal(users_verify(a, "alice", "twelve bytes?", 13, err, sizeof err), 0);
    assert_int_equal(users_verify(a, "nobody", pw, strlen(pw), err, sizeof err), 0);
    assert_int_equal(users_verify(a, "bad name", pw, strlen(pw), err, sizeof err), 0);
    assert_int_equal(users_set(a, "alice", "short", 5, err, sizeof err), -1);
    assert_null(strstr(err, "short"));
    assert_int_equal(users_set(a, "", pw, strlen(pw), err, sizeof err), -1);
    assert_int_equal(users_delete(a, "alice", err, sizeof err), 1);
    assert_int_equal(users_delete(a, "alice", err, sizeof err), 0);
    assert_int_equal(users_verify(a, "alice", pw, strlen(pw), err, sizeof err), 0);
    auth_close(&a);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The decoy an unknown name is checked against is a well-formed argon2id
   hash with today's interactive parameters, so checking it costs what
   checking a real one does. */
static void test_decoy_costs_like_a_real_hash(void **state)
{
    (void) state;
    char decoy[crypto_pwhash_STRBYTES];
    assert_true(sodium_init() >= 0);
    users_decoy(decoy);
    assert_int_equal(crypto_pwhash_str_needs_rehash(decoy, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                    crypto_pwhash_MEMLIMIT_INTERACTIVE), 0);
    assert_int_not_equal(crypto_pwhash_str_verify(decoy, "anything at all", 15), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_throttle_window),
        cmocka_unit_test(test_throttle_is_bounded),
        cmocka_unit_test(test_users_store),
        cmocka_unit_test(test_decoy_costs_like_a_real_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
