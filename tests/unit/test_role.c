/*  tests/unit/test_role.c — role files: built-ins, valid roles, and every
    kind of mistake a role file can hold (each must be refused, naming it);
    one role object to JSON and back; replacing and clearing a role in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mesh/role.h"
#include "mesh/trigger.h"

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
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"],\"enabled\":1}]}", "enabled");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"],\"permissions\":\"read\"}]}",
              "permissions");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"],\"permissions\":[\"root\"]}]}",
              "permissions");
    s_refused("{\"roles\":[{\"name\":\"a\",\"command\":[\"x\"],\"permissions\":[\"submit:a b\"]}]}",
              "permissions");
}

static role_t *s_parse(const char *text, char *err, size_t errlen)
{
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    role_t *r = role_from_json(o, err, errlen);
    json_decref(o);
    return r;
}

/* Triggers: defaults written back, errors naming the trigger and field,
   paths normalised or refused, keys that follow the definition. */
static void test_triggers(void **state)
{
    (void) state;
    char err[300] = "";
    role_t *r = s_parse("{\"name\":\"t\",\"command\":[\"x\"],\"triggers\":["
                        "{\"type\":\"cron\",\"schedule\":\"@daily\"},"
                        "{\"type\":\"watch\",\"paths\":[\"/srv/in///\",\"/\"]},"
                        "{\"type\":\"cron\",\"schedule\":\"@daily\",\"timezone\":\"UTC\"}]}",
                        err, sizeof err);
    assert_non_null(r);
    json_t *t = role_triggers_json(r);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "timezone")), "UTC");
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "missed")), "skip");
    json_t *paths = json_object_get(json_array_get(t, 1), "paths");
    assert_string_equal(json_string_value(json_array_get(paths, 0)), "/srv/in");
    assert_string_equal(json_string_value(json_array_get(paths, 1)), "/");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 1), "debounce_ms")),
                     TRIGGER_DEBOUNCE_DEFAULT);
    /* the same definition, written with or without its defaults: the same key */
    assert_true(r->triggers[0]->key == r->triggers[2]->key);
    assert_true(r->triggers[0]->key != r->triggers[1]->key);
    json_decref(t);
    role_destroy(&r);
    static const struct { const char *triggers, *want; } bad[] = {
        { "[{\"type\":\"cron\",\"schedule\":\"0 24 * * *\"}]", "triggers[0].schedule: cron: hour" },
        { "[{\"type\":\"cron\",\"schedule\":\"@daily\"},{\"type\":\"cron\",\"schedule\":1}]",
          "triggers[1].schedule must be a string" },
        { "[{\"type\":\"cron\",\"schedule\":\"@daily\",\"timezone\":\"Nowhere/Land\"}]",
          "triggers[0].timezone:" },
        { "[{\"type\":\"watch\",\"paths\":[\"/a/./b\"]}]", "triggers[0].paths must be" },
        { "[{\"type\":\"watch\",\"paths\":[\"/a//b\"]}]", "triggers[0].paths must be" },
        { "[{\"type\":\"watch\",\"paths\":[\"/a/..\"]}]", "triggers[0].paths must be" },
        { "[{\"type\":\"watch\",\"paths\":[\"/a\"],\"schedule\":\"@daily\"}]",
          "triggers[0].schedule is not a field of a watch trigger" },
        { "[{\"type\":\"watch\",\"paths\":[\"/a\"],\"debounce_ms\":3600001}]",
          "triggers[0].debounce_ms must be" },
        { "{}", "triggers must be an array" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[400];
        snprintf(text, sizeof text, "{\"name\":\"t\",\"command\":[\"x\"],\"triggers\":%s}",
                 bad[i].triggers);
        r = s_parse(text, err, sizeof err);
        assert_null(r);
        if (!strstr(err, bad[i].want))
            fail_msg("%s: got '%s', want '%s'", bad[i].triggers, err, bad[i].want);
    }
}

static void test_json_round_trip(void **state)
{
    (void) state;
    char err[200] = "";
    const char *text = "{\"name\":\"deploy\",\"command\":[\"run\",\"{{PAYLOAD}}\"],"
                       "\"shell\":false,\"timeout_ms\":500,\"max_attempts\":2,"
                       "\"backoff_base_ms\":10,\"backoff_max_ms\":20,\"max_concurrency\":3,"
                       "\"env\":{\"A\":\"1\"},\"where\":{\"zone\":\"eu-1\"},\"enabled\":false,"
                       "\"permissions\":[\"submit:deploy\",\"worker:w1\",\"read\"],"
                       "\"triggers\":[{\"type\":\"cron\",\"schedule\":\"*/5 9-17 * * mon-fri\","
                       "\"timezone\":\"Europe/Berlin\",\"missed\":\"once\",\"payload\":{\"a\":[1]}},"
                       "{\"type\":\"watch\",\"paths\":[\"/srv/in\",\"/etc/app.conf\"],"
                       "\"debounce_ms\":0,\"payload\":{}}]}";
    role_t *r = s_parse(text, err, sizeof err);
    assert_non_null(r);
    assert_false(r->enabled);
    assert_int_equal(r->npermissions, 3);
    assert_string_equal(r->permissions[1], "worker:w1");
    assert_string_equal(kv_get(&r->where, "zone"), "eu-1");
    assert_int_equal(r->ntriggers, 2);
    assert_int_equal(r->triggers[0]->missed, TRIGGER_MISSED_ONCE);
    assert_int_equal(r->triggers[1]->npaths, 2);
    json_t *back = role_to_json(r), *orig = json_loads(text, 0, NULL);
    assert_true(json_equal(back, orig));
    json_decref(back);
    json_decref(orig);
    role_t *sh = s_parse("{\"name\":\"s\",\"shell\":true,\"command\":\"echo hi\"}", err,
                         sizeof err);
    assert_non_null(sh);
    assert_true(sh->enabled);
    back = role_to_json(sh);
    assert_string_equal(json_string_value(json_object_get(back, "command")), "echo hi");
    assert_int_equal(json_array_size(json_object_get(back, "permissions")), 0);
    json_decref(back);
    role_destroy(&sh);
    assert_null(s_parse("{\"name\":\"x\",\"command\":[\"a\"],\"nope\":1}", err, sizeof err));
    assert_non_null(strstr(err, "nope"));
    role_destroy(&r);
}

static void test_in_place(void **state)
{
    (void) state;
    char err[200];
    role_t *r = s_parse("{\"name\":\"a\",\"command\":[\"old\"],\"env\":{\"X\":\"1\"}}", err,
                        sizeof err);
    role_t *keep = r;
    role_t *n = s_parse("{\"name\":\"a\",\"command\":[\"new\",\"arg\"],\"permissions\":[\"read\"]}",
                        err, sizeof err);
    role_take_def(r, &n);
    assert_null(n);
    assert_ptr_equal(r, keep);
    assert_string_equal(r->name, "a");
    assert_int_equal(r->ncommand, 2);
    assert_string_equal(r->command[0], "new");
    assert_int_equal(r->env.n, 0);
    assert_int_equal(r->npermissions, 1);
    assert_true(role_defined(r));
    role_clear(r);
    assert_string_equal(r->name, "a");
    assert_false(role_defined(r));
    assert_int_equal(r->npermissions, 0);
    role_destroy(&r);
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
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_triggers),
        cmocka_unit_test(test_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
