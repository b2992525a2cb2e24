/*  tests/unit/test_role.c — role files: built-ins, valid roles, and every
    kind of mistake a role file can hold (each must be refused, naming it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mesh/role.h"

static void test_builtins(void **state)
{
    (void) state;
    roleset_t set;
    assert_int_equal(roleset_init(&set), 0);
    assert_int_equal(set.n, 2);
    assert_true(roleset_find(&set, "echo")->builtin);
    assert_true(roleset_find(&set, "sleep")->builtin);
    assert_null(roleset_find(&set, "build"));
    roleset_free(&set);
}

static void test_valid(void **state)
{
    (void) state;
    roleset_t set;
    char err[200];
    roleset_init(&set);
    const char *json = "{\"roles\":[{\"name\":\"build\",\"command\":[\"make\",\"{{PAYLOAD}}\"],"
                       "\"timeout_ms\":5000,\"max_attempts\":2,\"max_concurrency\":3,"
                       "\"env\":{\"CC\":\"gcc\"}},"
                       "{\"name\":\"sh\",\"shell\":true,\"command\":\"echo hi | wc -c\"}]}";
    assert_int_equal(roleset_load_json(&set, json, err, sizeof err), 0);
    role_t *b = roleset_find(&set, "build");
    assert_non_null(b);
    assert_int_equal(b->ncommand, 2);
    assert_string_equal(b->command[1], "{{PAYLOAD}}");
    assert_int_equal(b->timeout_ms, 5000);
    assert_int_equal(b->max_attempts, 2);
    assert_int_equal(b->max_concurrency, 3);
    assert_string_equal(kv_get(&b->env, "CC"), "gcc");
    assert_false(b->shell);
    role_t *s = roleset_find(&set, "sh");
    assert_true(s->shell);
    assert_int_equal(s->ncommand, 1);
    assert_int_equal(s->max_attempts, ROLE_DEFAULT_MAX_ATTEMPTS);
    roleset_free(&set);
}

static void s_refused(const char *json, const char *needle)
{
    roleset_t set;
    char err[200] = "";
    roleset_init(&set);
    assert_int_equal(roleset_load_json(&set, json, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
    assert_int_equal(set.n, 2); /* all or nothing */
    roleset_free(&set);
}

static void test_refused(void **state)
{
    (void) state;
    s_refused("{\"roles\":[", "line");
    s_refused("[]", "expected");
    s_refused("{\"roles\":[{\"name\":\"ok\",\"command\":[\"true\"]},{\"command\":[\"x\"]}]}", "name");
    s_refused("{\"roles\":[{\"name\":\"a b\",\"command\":[\"x\"]}]}", "name");
    s_refused("{\"roles\":[{\"name\":\"a\"}]}", "command");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[]}]}", "command");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[1]}]}", "command");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":\"x\"}]}", "command");
    s_refused("{\"roles\":[{\"name\":\"a\",\"shell\":true,\"command\":[\"a\",\"b\"]}]}", "shell line");
    s_refused("{\"roles\":[{\"name\":\"a\",\"shell\":\"yes\",\"command\":[\"x\"]}]}", "shell");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"],\"timeout_ms\":-1}]}", "timeout_ms");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"],\"max_attempts\":0}]}", "max_attempts");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"],\"env\":{\"A\":1}}]}", "env");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"],\"timeout\":5}]}", "timeout");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"]},{\"name\":\"a\",\"command\":[\"y\"]}]}",
              "twice");
    s_refused("{\"roles\":[{\"name\":\"echo\",\"command\":[\"x\"]}]}", "built in");
}

static void test_file(void **state)
{
    (void) state;
    char path[] = "/tmp/popebot-roles-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"roles\":[{\"name\":\"x\",\"command\":[\"true\"]}]}";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    roleset_t set;
    char err[200];
    roleset_init(&set);
    assert_int_equal(roleset_load_file(&set, path, err, sizeof err), 0);
    assert_non_null(roleset_find(&set, "x"));
    unlink(path);
    assert_int_equal(roleset_load_file(&set, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    roleset_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
