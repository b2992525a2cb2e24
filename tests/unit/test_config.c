/*  tests/unit/test_config.c — flags, POPEBOT_* variables and their
    precedence, durations, modes, and the errors for bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"

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

static void test_worker_defaults(void **state)
{
    (void) state;
    config_t c;
    char err[200];
    assert_int_equal(s_parse(&c, err, 2, "--role=worker"), 0);
    assert_int_equal(c.mode, MODE_WORKER);
    assert_int_equal(c.slots, 4);
    assert_int_equal(c.heartbeat_ms, 1000);
    assert_int_equal(c.liveness, 3);
    assert_int_equal(c.reconnect_min_ms, 1000);
    assert_int_equal(c.reconnect_max_ms, 30000);
    assert_string_equal(c.roles, "echo,sleep");
}

static void test_flags_and_env(void **state)
{
    (void) state;
    config_t c;
    char err[200];
    setenv("POPEBOT_SLOTS", "9", 1);
    setenv("POPEBOT_NAME", "from-env", 1);
    assert_int_equal(s_parse(&c, err, 5, "--role", "worker", "--slots=12", "--heartbeat=250ms"), 0);
    assert_int_equal(c.slots, 12);               /* flag beats env */
    assert_string_equal(c.name, "from-env");    /* env beats default */
    assert_int_equal(c.heartbeat_ms, 250);
    unsetenv("POPEBOT_SLOTS");
    unsetenv("POPEBOT_NAME");
    setenv("POPEBOT_ROLE", "coordinator", 1);
    assert_int_equal(s_parse(&c, err, 3, "--bind", "tcp://127.0.0.1:1"), 0);
    assert_int_equal(c.mode, MODE_COORDINATOR);
    assert_string_equal(c.bind, "tcp://127.0.0.1:1");
    unsetenv("POPEBOT_ROLE");
}

static void test_durations(void **state)
{
    (void) state;
    config_t c;
    char err[200];
    assert_int_equal(s_parse(&c, err, 3, "submit", "echo"), 0);
    assert_int_equal(c.timeout_ms, 10000);
    assert_int_equal(s_parse(&c, err, 4, "submit", "echo", "--timeout=1.5s"), 0);
    assert_int_equal(c.timeout_ms, 1500);
    assert_int_equal(s_parse(&c, err, 4, "submit", "echo", "--timeout=2m"), 0);
    assert_int_equal(c.timeout_ms, 120000);
    assert_int_equal(s_parse(&c, err, 4, "submit", "echo", "--timeout=10"), -1);
    assert_non_null(strstr(err, "unit"));
    assert_int_equal(s_parse(&c, err, 4, "submit", "echo", "--timeout=-1s"), -1);
}

static void test_sizes(void **state)
{
    (void) state;
    config_t c;
    char err[200];
    assert_int_equal(s_parse(&c, err, 2, "--role=coordinator"), 0);
    assert_true(c.store_map_size == 64ULL << 30 && c.job_log_max == 10ULL << 20);
    assert_int_equal(s_parse(&c, err, 4, "--role=coordinator", "--store-map-size=2M",
                             "--store-reserve=4096"), 0);
    assert_true(c.store_map_size == 2ULL << 20 && c.store_reserve == 4096);
    assert_int_equal(s_parse(&c, err, 3, "--role=coordinator", "--store-map-size=1.5G"), -1);
    assert_int_equal(s_parse(&c, err, 3, "--role=coordinator", "--store-map-size=-1"), -1);
    assert_int_equal(s_parse(&c, err, 3, "--role=coordinator", "--store-map-size=99999999T"), -1);
    assert_int_equal(s_parse(&c, err, 3, "--role=coordinator", "--store-map-size=2MB"), -1);
    assert_non_null(strstr(err, "K, M, G or T"));
}

static void test_client_commands(void **state)
{
    (void) state;
    config_t c;
    char err[200];
    assert_int_equal(s_parse(&c, err, 6, "submit", "build", "--payload={\"a\":1}", "--wait",
                             "--priority=-3"), 0);
    assert_int_equal(c.mode, MODE_SUBMIT);
    assert_string_equal(c.arg, "build");
    assert_true(c.wait);
    assert_int_equal(c.priority, -3);
    assert_int_equal(s_parse(&c, err, 3, "jobs", "--state=running"), 0);
    assert_string_equal(c.state, "running");
    assert_int_equal(c.limit, 100);
    assert_int_equal(s_parse(&c, err, 2, "job"), -1);
    assert_non_null(strstr(err, "job ID"));
    assert_int_equal(s_parse(&c, err, 4, "job", "a", "b"), -1);
    assert_non_null(strstr(err, "unexpected argument"));
}

static void test_errors(void **state)
{
    (void) state;
    config_t c;
    char err[200];
    assert_int_equal(s_parse(&c, err, 1), -1);
    assert_non_null(strstr(err, "--role"));
    assert_int_equal(s_parse(&c, err, 2, "--role=boss"), -1);
    assert_non_null(strstr(err, "boss"));
    assert_int_equal(s_parse(&c, err, 3, "--role=worker", "--frobnicate=1"), -1);
    assert_non_null(strstr(err, "unknown flag --frobnicate"));
    assert_int_equal(s_parse(&c, err, 3, "--role=worker", "--slots=abc"), -1);
    assert_non_null(strstr(err, "--slots"));
    assert_int_equal(s_parse(&c, err, 3, "--role=worker", "--slots=0"), -1);
    assert_int_equal(s_parse(&c, err, 3, "--role=coordinator", "--slots=2"), -1); /* worker-only */
    assert_int_equal(s_parse(&c, err, 2, "launch"), -1);
    assert_non_null(strstr(err, "unknown command"));
    assert_int_equal(s_parse(&c, err, 3, "--role=worker", "--slots"), -1);
    assert_non_null(strstr(err, "needs a value"));
    setenv("POPEBOT_LIVENESS", "many", 1);
    assert_int_equal(s_parse(&c, err, 2, "--role=worker"), -1);
    assert_non_null(strstr(err, "POPEBOT_LIVENESS"));
    /* a flag on the command line wins: the bad variable is not read */
    assert_int_equal(s_parse(&c, err, 3, "--role=worker", "--liveness=4"), 0);
    assert_int_equal(c.liveness, 4);
    unsetenv("POPEBOT_LIVENESS");
    assert_int_equal(s_parse(&c, err, 2, "--help"), 0);
    assert_true(c.help);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_defaults),
        cmocka_unit_test(test_flags_and_env),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_client_commands),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
