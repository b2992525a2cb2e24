/*  tests/unit/test_login.c — the pieces of UI logins that need no server:
    the failed-login throttle (web/throttle.h), the session table
    (web/sessions.h) and the users store with its decoy hash
    (store/users.h). Times are passed in, so nothing here sleeps.
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
#include "web/sessions.h"
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

static void test_sessions_life(void **state)
{
    (void) state;
    sessions_t *ss = sessions_new(2, 10000, 1000);
    char id[SESSION_TEXT + 1], id2[SESSION_TEXT + 1], id3[SESSION_TEXT + 1];
    session_t s, got;
    sessions_start(ss, "alice", 0, id, &s);
    assert_int_equal(strlen(id), SESSION_TEXT);
    assert_int_equal(strlen(s.csrf), SESSION_TEXT);
    assert_string_equal(s.user, "alice");
    assert_int_equal(sessions_find(ss, id, 500, &got), 1);
    assert_string_equal(got.csrf, s.csrf);
    assert_true(sessions_csrf_ok(&got, s.csrf));
    assert_false(sessions_csrf_ok(&got, NULL));
    assert_false(sessions_csrf_ok(&got, id));
    assert_int_equal(sessions_find(ss, id, 1400, &got), 1);  /* idle clock restarted at 500 */
    assert_int_equal(sessions_find(ss, id, 2500, &got), 0);  /* idle too long */
    assert_int_equal(sessions_find(ss, "not-an-id", 0, &got), 0);
    sessions_start(ss, "bob", 3000, id2, &s);
    for (int64_t t = 3500; t < 10000 + 3000; t += 500)
        assert_int_equal(sessions_find(ss, id2, t, &got), 1);
    assert_int_equal(sessions_find(ss, id2, 13000, &got), 0); /* its lifetime is over */
    sessions_start(ss, "carol", 20000, id, &s);
    sessions_start(ss, "dave", 20100, id2, &s);
    assert_int_equal(sessions_find(ss, id, 20200, &got), 1);
    sessions_start(ss, "erin", 20300, id3, &s);              /* full: dave, least recent, goes */
    assert_int_equal(sessions_find(ss, id2, 20400, &got), 0);
    assert_int_equal(sessions_find(ss, id, 20400, &got), 1);
    assert_int_equal(sessions_end(ss, id), 1);
    assert_int_equal(sessions_end(ss, id), 0);
    assert_int_equal(sessions_find(ss, id, 20500, &got), 0);
    /* full of others': a user logging in again and again displaces only
       their own sessions after the first */
    sessions_start(ss, "frank", 20600, id, &s);             /* table: erin, frank */
    char id4[SESSION_TEXT + 1];
    sessions_start(ss, "frank", 20700, id4, &s);            /* frank's own goes, not erin */
    assert_int_equal(sessions_find(ss, id3, 20800, &got), 1);
    assert_int_equal(sessions_find(ss, id, 20800, &got), 0);
    assert_int_equal(sessions_find(ss, id4, 20800, &got), 1);
    sessions_destroy(&ss);
    assert_null(ss);
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
        cmocka_unit_test(test_sessions_life),
        cmocka_unit_test(test_users_store),
        cmocka_unit_test(test_decoy_costs_like_a_real_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
