/*  tests/unit/test_sessions.c — UI login sessions kept in DIR/auth
    (web/sessions.h over store/authsess.h): their life and limits, that
    they outlive closing and reopening the store (a restart), that the
    store holds neither an id nor a CSRF token, and that a password change
    or a deleted user ends them. Every test gets its own data dir; times
    are passed in (wall-clock ms), so nothing here sleeps.
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

#include "mesh/clock.h"
#include "store/authsess.h"
#include "store/users.h"
#include "web/sessions.h"

#define PW "twelve bytes!"

typedef struct {
    char dir[64];
    char err[256];
    auth_t *auth;
    int64_t t0;                           /* a wall time after every user was set */
} fx_t;

static void fx_user(fx_t *f, const char *name)
{
    assert_int_equal(users_set(f->auth, name, PW, strlen(PW), f->err, sizeof f->err), 0);
}

static int fx_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/popebot-test-sessions-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->auth = auth_open(f->dir, f->err, sizeof f->err);
    assert_non_null(f->auth);
    const char *users[] = { "alice", "bob", "carol", "dave", "erin", "frank" };
    for (size_t i = 0; i < sizeof users / sizeof *users; i++)
        fx_user(f, users[i]);
    f->t0 = clock_wall_ms() + 1000;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    char cmd[128];
    auth_close(&f->auth);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* find, asserting no store error */
static int fx_find(fx_t *f, sessions_t *ss, const char *id, int64_t t, session_t *got)
{
    return sessions_find(ss, id, t, got, f->err, sizeof f->err);
}

static void fx_start(fx_t *f, sessions_t *ss, const char *user, int64_t t, char *id, session_t *s)
{
    assert_int_equal(sessions_start(ss, user, t, id, s, f->err, sizeof f->err), 1);
}

static void test_sessions_life(void **state)
{
    fx_t *f = *state;
    int64_t T = f->t0;
    sessions_t *ss = sessions_new(f->auth, 2, 10000, 1000);
    char id[SESSION_TEXT + 1], id2[SESSION_TEXT + 1], id3[SESSION_TEXT + 1];
    session_t s, got;
    fx_start(f, ss, "alice", T, id, &s);
    assert_int_equal(strlen(id), SESSION_TEXT);
    assert_int_equal(strlen(s.csrf), SESSION_TEXT);
    assert_string_equal(s.user, "alice");
    assert_int_equal(s.expires_ms, T + 10000);
    assert_int_equal(fx_find(f, ss, id, T + 500, &got), 1);
    assert_string_equal(got.csrf, s.csrf);
    assert_true(sessions_csrf_ok(&got, s.csrf));
    assert_false(sessions_csrf_ok(&got, NULL));
    assert_false(sessions_csrf_ok(&got, id));
    assert_int_equal(fx_find(f, ss, id, T + 1400, &got), 1);  /* idle clock restarted at 500 */
    assert_int_equal(fx_find(f, ss, id, T + 2500, &got), 0);  /* idle too long */
    assert_int_equal(fx_find(f, ss, "not-an-id", T, &got), 0);
    assert_int_equal(fx_find(f, ss, NULL, T, &got), 0);
    fx_start(f, ss, "bob", T + 3000, id2, &s);
    for (int64_t t = 3500; t < 10000 + 3000; t += 500)
        assert_int_equal(fx_find(f, ss, id2, T + t, &got), 1);
    assert_int_equal(fx_find(f, ss, id2, T + 13000, &got), 0); /* its lifetime is over */
    fx_start(f, ss, "carol", T + 20000, id, &s);
    fx_start(f, ss, "dave", T + 20100, id2, &s);
    assert_int_equal(fx_find(f, ss, id, T + 20200, &got), 1);
    fx_start(f, ss, "erin", T + 20300, id3, &s);              /* full: dave, least recent, goes */
    assert_int_equal(fx_find(f, ss, id2, T + 20400, &got), 0);
    assert_int_equal(fx_find(f, ss, id, T + 20400, &got), 1);
    assert_int_equal(sessions_end(ss, id, f->err, sizeof f->err), 1);
    assert_int_equal(sessions_end(ss, id, f->err, sizeof f->err), 0);
    assert_int_equal(fx_find(f, ss, id, T + 20500, &got), 0);
    /* full of others': a user logging in again and again displaces only
       their own sessions after the first */
    fx_start(f, ss, "frank", T + 20600, id, &s);              /* table: erin, frank */
    char id4[SESSION_TEXT + 1];
    fx_start(f, ss, "frank", T + 20700, id4, &s);             /* frank's own goes, not erin */
    assert_int_equal(fx_find(f, ss, id3, T + 20800, &got), 1);
    assert_int_equal(fx_find(f, ss, id, T + 20800, &got), 0);
    assert_int_equal(fx_find(f, ss, id4, T + 20800, &got), 1);
    sessions_destroy(&ss);
    assert_null(ss);
}

/* Closing and reopening DIR/auth is what a restart does to it. */
static void test_sessions_outlive_a_restart(void **state)
{
    fx_t *f = *state;
    int64_t T = f->t0;
    char id[SESSION_TEXT + 1], id2[SESSION_TEXT + 1];
    session_t s, s2, got;
    sessions_t *ss = sessions_new(f->auth, 8, 3600000, 600000);
    fx_start(f, ss, "alice", T, id, &s);
    fx_start(f, ss, "bob", T, id2, &s2);
    sessions_destroy(&ss);
    auth_close(&f->auth);
    f->auth = auth_open(f->dir, f->err, sizeof f->err);
    assert_non_null(f->auth);
    ss = sessions_new(f->auth, 8, 3600000, 600000);
    assert_int_equal(fx_find(f, ss, id, T + 60000, &got), 1);
    assert_string_equal(got.user, "alice");
    assert_string_equal(got.csrf, s.csrf);                     /* the page's token still works */
    assert_int_equal(got.expires_ms, T + 3600000);
    assert_int_equal(sessions_end(ss, id, f->err, sizeof f->err), 1);
    /* an ended one stays ended; one that ran out while "down" is refused */
    sessions_destroy(&ss);
    auth_close(&f->auth);
    f->auth = auth_open(f->dir, f->err, sizeof f->err);
    ss = sessions_new(f->auth, 8, 3600000, 600000);
    assert_int_equal(fx_find(f, ss, id, T + 60000, &got), 0);
    assert_int_equal(fx_find(f, ss, id2, T + 600000, &got), 0); /* idle 10 min */
    sessions_destroy(&ss);
}

/* Every byte of the auth environment's file. */
static uint8_t *fx_file(fx_t *f, size_t *len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/auth/data.mdb", f->dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t) ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc(*len);
    assert_int_equal(fread(buf, 1, *len, fp), *len);
    fclose(fp);
    return buf;
}

static bool fx_holds(const uint8_t *hay, size_t n, const void *needle, size_t len)
{
    return memmem(hay, n, needle, len) != NULL;
}

static void test_store_holds_no_id_or_token(void **state)
{
    fx_t *f = *state;
    char id[SESSION_TEXT + 1];
    uint8_t raw[AUTHSESS_ID], csrf[AUTHSESS_ID];
    size_t n = 0, m = 0, len;
    session_t s;
    sessions_t *ss = sessions_new(f->auth, 8, 3600000, 600000);
    fx_start(f, ss, "alice", f->t0, id, &s);
    sessions_destroy(&ss);
    assert_int_equal(sodium_base642bin(raw, sizeof raw, id, SESSION_TEXT, NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
    assert_int_equal(sodium_base642bin(csrf, sizeof csrf, s.csrf, SESSION_TEXT, NULL, &m, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
    assert_int_equal(n, AUTHSESS_ID);
    assert_int_equal(m, AUTHSESS_ID);
    assert_memory_not_equal(raw, csrf, AUTHSESS_ID);
    authsess_t st;
    assert_int_equal(authsess_get(f->auth, raw, &st, f->err, sizeof f->err), 1);
    uint8_t *file = fx_file(f, &len);                         /* the record is there ... */
    assert_false(fx_holds(file, len, id, SESSION_TEXT));      /* ... but not what names it */
    assert_false(fx_holds(file, len, raw, 8));
    assert_false(fx_holds(file, len, s.csrf, SESSION_TEXT));
    assert_false(fx_holds(file, len, csrf, 8));
    free(file);
}

static void test_password_change_and_delete_end_sessions(void **state)
{
    fx_t *f = *state;
    char id[SESSION_TEXT + 1], id2[SESSION_TEXT + 1], id3[SESSION_TEXT + 1];
    session_t s, got;
    sessions_t *ss = sessions_new(f->auth, 8, 3600000, 600000);
    int64_t now = clock_wall_ms() + 1;
    fx_start(f, ss, "alice", now, id, &s);
    fx_start(f, ss, "alice", now, id2, &s);
    fx_start(f, ss, "bob", now, id3, &s);
    fx_user(f, "alice");                                      /* a new password */
    assert_int_equal(fx_find(f, ss, id, now + 10, &got), 0);
    assert_int_equal(fx_find(f, ss, id2, now + 10, &got), 0);
    assert_int_equal(fx_find(f, ss, id3, now + 10, &got), 1); /* bob's is not touched */
    assert_int_equal(users_delete(f->auth, "bob", f->err, sizeof f->err), 1);
    assert_int_equal(fx_find(f, ss, id3, now + 10, &got), 0);
    /* a login that began before its password was set (or after its user
       went) starts nothing: it raced the change and lost */
    assert_int_equal(sessions_start(ss, "alice", now - 5000, id, &s, f->err, sizeof f->err), 0);
    assert_int_equal(sessions_start(ss, "bob", clock_wall_ms() + 1, id, &s, f->err,
                                    sizeof f->err), 0);
    assert_int_equal(sessions_start(ss, "nobody", clock_wall_ms() + 1, id, &s, f->err,
                                    sizeof f->err), 0);
    fx_start(f, ss, "alice", clock_wall_ms() + 1, id, &s);
    assert_int_equal(authsess_end_user(f->auth, "alice", f->err, sizeof f->err), 1);
    assert_int_equal(authsess_end_user(f->auth, "alice", f->err, sizeof f->err), 0);
    sessions_destroy(&ss);
}

static void test_sweep_deletes_only_ended_ones(void **state)
{
    fx_t *f = *state;
    int64_t T = f->t0;
    char id[SESSION_TEXT + 1];
    session_t s, got;
    sessions_t *ss = sessions_new(f->auth, 8, 10000, 1000);
    fx_start(f, ss, "alice", T, id, &s);
    fx_start(f, ss, "bob", T, id, &s);
    fx_start(f, ss, "carol", T + 900, id, &s);
    assert_int_equal(sessions_sweep(ss, T + 500, f->err, sizeof f->err), 0);
    assert_int_equal(sessions_sweep(ss, T + 1000, f->err, sizeof f->err), 2);  /* idle */
    assert_int_equal(fx_find(f, ss, id, T + 1000, &got), 1);
    assert_int_equal(sessions_sweep(ss, T + 1000, f->err, sizeof f->err), 0);
    assert_int_equal(authsess_end_user(f->auth, "carol", f->err, sizeof f->err), 1);
    sessions_destroy(&ss);
}

/* A use is written at most once per touch interval (a minute by default),
   not on every request; the idle limit counts from the last one written. */
static void test_last_use_is_written_at_most_a_minute_apart(void **state)
{
    fx_t *f = *state;
    int64_t T = f->t0;
    char id[SESSION_TEXT + 1];
    uint8_t raw[AUTHSESS_ID];
    size_t n;
    session_t s, got;
    authsess_t st;
    sessions_t *ss = sessions_new(f->auth, 8, 12 * 3600000LL, 3600000);
    fx_start(f, ss, "alice", T, id, &s);
    assert_int_equal(sodium_base642bin(raw, sizeof raw, id, SESSION_TEXT, NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
    assert_int_equal(fx_find(f, ss, id, T + 59999, &got), 1);
    assert_int_equal(authsess_get(f->auth, raw, &st, f->err, sizeof f->err), 1);
    assert_int_equal(st.last_ms, T);
    assert_int_equal(st.created_ms, T);
    assert_int_equal(fx_find(f, ss, id, T + SESSION_TOUCH_MS, &got), 1);
    assert_int_equal(authsess_get(f->auth, raw, &st, f->err, sizeof f->err), 1);
    assert_int_equal(st.last_ms, T + SESSION_TOUCH_MS);
    /* a wall clock that steps back by more than the idle time ends it */
    assert_int_equal(fx_find(f, ss, id, T - 3600000, &got), 0);
    assert_int_equal(authsess_get(f->auth, raw, &st, f->err, sizeof f->err), 0);
    sessions_destroy(&ss);
}

static void test_live_rule(void **state)
{
    (void) state;
    authsess_t s = { .created_ms = 1000, .expires_ms = 5000, .last_ms = 2000 };
    assert_true(authsess_live(&s, 2000, 1000));
    assert_true(authsess_live(&s, 2999, 1000));
    assert_false(authsess_live(&s, 3000, 1000));              /* idle */
    assert_true(authsess_live(&s, 1001, 1000));               /* a small step back */
    assert_false(authsess_live(&s, 1000, 1000));              /* a big one */
    s.last_ms = 4900;
    assert_false(authsess_live(&s, 5000, 1000));              /* its lifetime is over */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_sessions_life),
        T(test_sessions_outlive_a_restart),
        T(test_store_holds_no_id_or_token),
        T(test_password_change_and_delete_end_sessions),
        T(test_sweep_deletes_only_ended_ones),
        T(test_last_use_is_written_at_most_a_minute_apart),
        cmocka_unit_test(test_live_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
