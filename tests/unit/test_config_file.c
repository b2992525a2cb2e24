/*  tests/unit/test_config_file.c — the JSON config file (--config,
    POPEBOT_CONFIG): precedence flag > environment > file > default, the
    sources config_entry reports, masking of secrets, and the errors for
    unknown keys, command-line-only flags, bad values and bad JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/config.h"

static char s_path[64];

static void s_write(const char *text)
{
    snprintf(s_path, sizeof s_path, "/tmp/popebot-cfgtest-%d.json", (int) getpid());
    FILE *f = fopen(s_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int s_parse(config_t *cfg, char *err, int argc, ...)
{
    char *argv[16] = { "popebot-node" };
    va_list ap;
    va_start(ap, argc);
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return config_parse(cfg, argc, argv, err, 200);
}

static const char *s_source(const config_t *cfg, const char *name, const char **value)
{
    config_entry_t e;
    for (size_t pos = 0; config_entry(cfg, &pos, &e);)
        if (strcmp(e.name, name) == 0) {
            if (value)
                *value = e.value;
            return e.source;
        }
    return NULL;
}

static void test_precedence(void **state)
{
    (void) state;
    config_t c;
    char err[200], arg[96];
    s_write("{\"slots\": 7, \"heartbeat\": \"250ms\", \"name\": \"from-file\", \"labels\": \"a=1\"}");
    snprintf(arg, sizeof arg, "--config=%s", s_path);
    setenv("POPEBOT_NAME", "from-env", 1);
    setenv("POPEBOT_LABELS", "b=2", 1);
    assert_int_equal(s_parse(&c, err, 4, "--role=worker", arg, "--labels=c=3"), 0);
    assert_int_equal(c.slots, 7);                 /* file beats default */
    assert_int_equal(c.heartbeat_ms, 250);
    assert_string_equal(c.name, "from-env");     /* env beats file */
    assert_string_equal(c.labels, "c=3");        /* flag beats env and file */
    assert_int_equal(c.liveness, 3);             /* default */
    const char *v = NULL;
    assert_string_equal(s_source(&c, "slots", &v), "file");
    assert_string_equal(v, "7");
    assert_string_equal(s_source(&c, "name", NULL), "env");
    assert_string_equal(s_source(&c, "labels", NULL), "flag");
    assert_string_equal(s_source(&c, "liveness", NULL), "default");
    assert_string_equal(s_source(&c, "config", NULL), "flag");
    config_free(&c);
    unsetenv("POPEBOT_NAME");
    unsetenv("POPEBOT_LABELS");
    /* POPEBOT_CONFIG names the file too */
    setenv("POPEBOT_CONFIG", s_path, 1);
    assert_int_equal(s_parse(&c, err, 2, "--role=worker"), 0);
    assert_int_equal(c.slots, 7);
    assert_string_equal(s_source(&c, "config", NULL), "env");
    config_free(&c);
    unsetenv("POPEBOT_CONFIG");
    unlink(s_path);
}

static void test_types_and_secret(void **state)
{
    (void) state;
    config_t c;
    char err[200], arg[96];
    s_write("{\"insecure\": true, \"join\": \"pbj1_secret\"}");
    snprintf(arg, sizeof arg, "--config=%s", s_path);
    assert_int_equal(s_parse(&c, err, 4, "config", "--role=worker", arg), -1);
    assert_non_null(strstr(err, "POPEBOT_JOIN"));      /* a token is no file's business */
    assert_null(strstr(err, "pbj1_secret"));
    config_free(&c);
    s_write("{\"insecure\": true, \"max-message\": 65536}");
    setenv("POPEBOT_JOIN", "pbj1_secret", 1);
    assert_int_equal(s_parse(&c, err, 4, "config", "--role=worker", arg), 0);
    unsetenv("POPEBOT_JOIN");
    assert_true(c.show_config);
    assert_int_equal(c.mode, MODE_WORKER);
    assert_true(c.insecure);
    assert_int_equal(c.max_message, 65536);
    config_entry_t e;
    bool seen = false;
    for (size_t pos = 0; config_entry(&c, &pos, &e);)
        if (strcmp(e.name, "join") == 0) {
            assert_true(e.secret);
            assert_string_equal(e.source, "env");
            seen = true;
        } else {
            assert_false(e.secret);
        }
    assert_true(seen);
    config_free(&c);
    /* `config` alone shows the coordinator, and takes --json */
    assert_int_equal(s_parse(&c, err, 3, "config", "--json"), 0);
    assert_int_equal(c.mode, MODE_COORDINATOR);
    assert_true(c.json);
    config_free(&c);
    unlink(s_path);
}

static void s_refused(const char *file_text, const char *role, const char *want)
{
    config_t c;
    char err[200], arg[96];
    s_write(file_text);
    snprintf(arg, sizeof arg, "--config=%s", s_path);
    assert_int_equal(s_parse(&c, err, 3, role, arg), -1);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    assert_non_null(strstr(err, s_path));
    config_free(&c);
    unlink(s_path);
}

static void test_errors(void **state)
{
    (void) state;
    s_refused("{\"slots\": 4, \"bogus\": 1}", "--role=worker", "key 'bogus': unknown key");
    s_refused("{\"slots\": 4}", "--role=coordinator", "key 'slots': unknown key (not a coordinator flag)");
    s_refused("{\"slots\": \"many\"}", "--role=worker", "--slots: bad value 'many'");
    s_refused("{\"heartbeat\": 10}", "--role=worker", "--heartbeat: bad duration");
    s_refused("{\"slots\": [1]}", "--role=worker", "key 'slots': expected a string, number");
    s_refused("{\"config\": \"/x\"}", "--role=worker", "cannot name another");
    s_refused("{\"slots\": 1,\n \"slots\": 2}", "--role=worker", "line 2");
    s_refused("[1, 2]", "--role=worker", "expected a JSON object");
    s_refused("{\"slots\": ", "--role=worker", "line 1");
    /* a missing file is refused, naming it */
    config_t c;
    char err[200];
    assert_int_equal(s_parse(&c, err, 3, "--role=worker", "--config=/nonexistent/popebot.json"), -1);
    assert_non_null(strstr(err, "/nonexistent/popebot.json"));
    config_free(&c);
}

static void test_log_format(void **state)
{
    (void) state;
    config_t c;
    char err[200];
    assert_int_equal(s_parse(&c, err, 2, "--role=worker"), 0);
    assert_string_equal(c.log_format, "text");
    setenv("POPEBOT_LOG_FORMAT", "json", 1);
    assert_int_equal(s_parse(&c, err, 2, "--role=coordinator"), 0);
    assert_string_equal(c.log_format, "json");
    unsetenv("POPEBOT_LOG_FORMAT");
    assert_int_equal(s_parse(&c, err, 3, "--role=worker", "--log-format=xml"), -1);
    assert_non_null(strstr(err, "--log-format"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_types_and_secret),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_log_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
