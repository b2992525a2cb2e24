/*  tests/unit/test_task.c — one job attempt on a worker (node/task.c).

    Each test builds a lease, starts a task and drives it the way the worker
    loop does (zmq_poll on its descriptors, timers, log buffers) until it
    finishes, then checks the outcome: state, exit code, result and error,
    the output that went through the log buffers, and that the work
    directory is gone. Commands are real /bin/sh processes.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/task.h"

typedef struct {
    char root[64];            /* work root, made per test */
    task_ctx_t ctx;
    char out[256 * 1024];     /* stdout that went through the log buffer */
    size_t out_len;
    char err[4096];           /* stderr, likewise */
    size_t err_len;
    task_done_t done;         /* the outcome */
    int64_t elapsed_ms;       /* start to finish */
} s_run_t;

static int64_t
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_setup(void **state)
{
    s_run_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    snprintf(r->root, sizeof r->root, "/tmp/test_task.XXXXXX");
    assert_non_null(mkdtemp(r->root));
    r->ctx = (task_ctx_t) { "w-1", "worker one", r->root, 200, NULL, NULL };
    *state = r;
    return 0;
}

static int
s_teardown(void **state)
{
    s_run_t *r = *state;
    task_done_free(&r->done);
    rmdir(r->root);
    free(r);
    return 0;
}

static bool
s_root_empty(const s_run_t *r)
{
    DIR *d = opendir(r->root);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n == 0;
}

static void
s_take_logs(s_run_t *r, task_t *t, int64_t now, bool force)
{
    for (int stream = 1; stream <= 2; stream++) {
        const char *data;
        size_t len = task_log_due(t, stream, now, force, &data);
        if (len == 0)
            continue;
        assert_true(len <= TASK_LOG_MAX);
        char *buf = stream == 1 ? r->out : r->err;
        size_t *blen = stream == 1 ? &r->out_len : &r->err_len;
        size_t cap = stream == 1 ? sizeof r->out : sizeof r->err;
        size_t n = len < cap - *blen ? len : cap - *blen;
        memcpy(buf + *blen, data, n);
        *blen += n;
        task_log_consumed(t, stream);
    }
}

/* Run the lease to the end, like the worker loop; cancel after cancel_ms. */
static void
s_run(s_run_t *r, const pb_lease_t *lease, int64_t cancel_ms)
{
    task_t *t = task_new(lease, &r->ctx);
    assert_non_null(t);
    int64_t start = s_now();
    task_start(t, start);
    bool cancelled = false;
    while (!task_finished(t)) {
        zmq_pollitem_t items[TASK_MAX_FDS];
        size_t n = task_poll_items(t, items);
        int64_t now = s_now(), at = task_next_timer(t);
        long wait = at - now < 0 ? 0 : at - now > 50 ? 50 : (long) (at - now);
        zmq_poll(items, (int) n, wait);
        now = s_now();
        task_on_poll(t, items, n, now);
        if (task_next_timer(t) <= now)
            task_on_timers(t, now);
        if (cancel_ms >= 0 && !cancelled && now - start >= cancel_ms) {
            task_cancel(t, now);
            cancelled = true;
        }
        s_take_logs(r, t, now, false);
        assert_true(now - start < 10000);
    }
    s_take_logs(r, t, s_now(), true);
    r->elapsed_ms = s_now() - start;
    assert_int_equal(task_outcome(t, &r->done), 0);
    task_destroy(&t);
    assert_null(t);
    assert_true(s_root_empty(r));
}

static pb_lease_t
s_lease(const char *role, const char *payload, pb_str_t *cmd, uint32_t ncmd)
{
    pb_lease_t l;
    memset(&l, 0, sizeof l);
    l.job_id = pb_s("0000018c00000001");
    l.attempt = 2;
    l.role = pb_s(role);
    l.payload = pb_s(payload);
    l.command = (pb_strs_t) { cmd, ncmd };
    return l;
}

static void
s_expect(const s_run_t *r, const char *state, const char *result, const char *error)
{
    assert_string_equal(r->done.state, state);
    assert_string_equal(r->done.job_id, "0000018c00000001");
    assert_int_equal(r->done.attempt, 2);
    if (result)
        assert_string_equal(r->done.result, result);
    else
        assert_null(r->done.result);
    if (error)
        assert_string_equal(r->done.error, error);
    else
        assert_null(r->done.error);
}

/* ---- built-ins ----------------------------------------------------------- */

static void
test_echo(void **state)
{
    s_run_t *r = *state;
    pb_lease_t l = s_lease("echo", "{\"a\":[1,2]}", NULL, 0);
    s_run(r, &l, -1);
    s_expect(r, "succeeded", "{\"a\":[1,2]}", NULL);
    assert_false(r->done.has_exit_code);
}

static void
test_sleep(void **state)
{
    s_run_t *r = *state;
    pb_lease_t l = s_lease("sleep", "{\"ms\": 120}", NULL, 0);
    s_run(r, &l, -1);
    s_expect(r, "succeeded", "{\"slept_ms\":120}", NULL);
    assert_true(r->elapsed_ms >= 120 && r->elapsed_ms < 1000);
}

static void
test_sleep_bad_payload(void **state)
{
    s_run_t *r = *state;
    const char *bad[] = { "{}", "[1]", "{\"ms\": -1}", "{\"ms\": \"5\"}", "nope" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pb_lease_t l = s_lease("sleep", bad[i], NULL, 0);
        task_done_free(&r->done);
        s_run(r, &l, -1);
        s_expect(r, "failed", NULL, "sleep: payload must be {\"ms\": N}");
    }
}

static void
test_sleep_timeout_and_cancel(void **state)
{
    s_run_t *r = *state;
    pb_lease_t l = s_lease("sleep", "{\"ms\": 5000}", NULL, 0);
    l.timeout_ms = 100;
    s_run(r, &l, -1);
    s_expect(r, "timed_out", NULL, "timed out after 100 ms");
    assert_true(r->elapsed_ms >= 100 && r->elapsed_ms < 1000);

    task_done_free(&r->done);
    l.timeout_ms = 0;
    s_run(r, &l, 50);
    s_expect(r, "cancelled", NULL, "cancelled");
}

static void
test_no_command(void **state)
{
    s_run_t *r = *state;
    pb_lease_t l = s_lease("other", "{}", NULL, 0);
    s_run(r, &l, -1);
    s_expect(r, "failed", NULL, "role has no command");
}

/* ---- commands ------------------------------------------------------------ */

static void
test_command_output_and_tail(void **state)
{
    s_run_t *r = *state;
    pb_str_t cmd[] = { pb_s("sh"), pb_s("-c"),
                       pb_s("echo out; echo err >&2; cat; printf ' %s' \"$1\""),
                       pb_s("sh"), pb_s("{{JOB_ID}}/{{ATTEMPT}}/{{WORKER_ID}}") };
    pb_lease_t l = s_lease("cmd", "{\"p\":1}", cmd, 5);
    s_run(r, &l, -1);
    s_expect(r, "succeeded", "\"out\\n{\\\"p\\\":1} 0000018c00000001/2/w-1\"", NULL);
    assert_true(r->done.has_exit_code);
    assert_int_equal(r->done.exit_code, 0);
    assert_int_equal(r->out_len, strlen("out\n{\"p\":1} 0000018c00000001/2/w-1"));
    assert_memory_equal(r->err, "err\n", 4);
}

static void
test_command_result_file(void **state)
{
    s_run_t *r = *state;
    pb_str_t cmd[] = { pb_s("sh"), pb_s("-c"),
                       pb_s("echo noise; printf '{ \"n\" : [1, 2] }' > \"$POPEBOT_JOB_RESULT\"") };
    pb_lease_t l = s_lease("cmd", "{}", cmd, 3);
    s_run(r, &l, -1);
    s_expect(r, "succeeded", "{\"n\":[1,2]}", NULL);
}

static void
test_command_exit_and_signal(void **state)
{
    s_run_t *r = *state;
    pb_str_t cmd[] = { pb_s("sh"), pb_s("-c"), pb_s("printf 'x\\377y'; exit 3") };
    pb_lease_t l = s_lease("cmd", "{}", cmd, 3);
    s_run(r, &l, -1);
    s_expect(r, "failed", "\"x\xef\xbf\xbdy\"", "exit status 3");
    assert_true(r->done.has_exit_code);
    assert_int_equal(r->done.exit_code, 3);

    task_done_free(&r->done);
    cmd[2] = pb_s("kill -9 $$");
    s_run(r, &l, -1);
    s_expect(r, "failed", "\"\"", "killed by signal 9");
    assert_false(r->done.has_exit_code);
}

static void
test_command_timeout_escalates(void **state)
{
    s_run_t *r = *state;
    pb_str_t cmd[] = { pb_s("sh"), pb_s("-c"), pb_s("trap '' TERM; echo ready; sleep 20") };
    pb_lease_t l = s_lease("cmd", "{}", cmd, 3);
    l.timeout_ms = 100;
    s_run(r, &l, -1);
    s_expect(r, "timed_out", "\"ready\\n\"", "timed out after 100 ms");
    /* 100 ms timeout + 200 ms grace, then SIGKILL */
    assert_true(r->elapsed_ms >= 300 && r->elapsed_ms < 2000);
}

static void
test_command_cancel(void **state)
{
    s_run_t *r = *state;
    pb_str_t cmd[] = { pb_s("sleep"), pb_s("20") };
    pb_lease_t l = s_lease("cmd", "{}", cmd, 2);
    s_run(r, &l, 100);
    s_expect(r, "cancelled", "\"\"", "cancelled");
    assert_true(r->elapsed_ms < 1000);
}

static void
test_command_env_is_clean(void **state)
{
    s_run_t *r = *state;
    setenv("TEST_TASK_SECRET", "hunter2", 1);
    pb_str_t cmd[] = { pb_s("sh"), pb_s("-c"),
                       pb_s("printf '%s|%s|%s|%s|%s' \"$TEST_TASK_SECRET\" \"$FOO\" "
                            "\"$POPEBOT_JOB_ID\" \"$POPEBOT_JOB_ROLE\" \"$POPEBOT_JOB_PAYLOAD\"") };
    pb_kv_t env[] = { { pb_s("FOO"), pb_s("f-{{ATTEMPT}}") } };
    pb_lease_t l = s_lease("cmd", "[7]", cmd, 3);
    l.env = (pb_kvs_t) { env, 1 };
    s_run(r, &l, -1);
    s_expect(r, "succeeded", "\"|f-2|0000018c00000001|cmd|[7]\"", NULL);
    unsetenv("TEST_TASK_SECRET");
}

static void
test_command_shell_mode(void **state)
{
    s_run_t *r = *state;
    pb_str_t cmd[] = { pb_s("printf '%s' {{PAYLOAD}} | wc -c") };
    pb_lease_t l = s_lease("cmd", "a'b; echo pwned", cmd, 1);
    l.shell = true;
    s_run(r, &l, -1);
    s_expect(r, "succeeded", "\"15\\n\"", NULL);
}

static void
test_command_start_errors(void **state)
{
    s_run_t *r = *state;
    pb_str_t cmd[] = { pb_s("echo"), pb_s("{{NOPE}}") };
    pb_lease_t l = s_lease("cmd", "{}", cmd, 2);
    s_run(r, &l, -1);
    s_expect(r, "failed", NULL, "unknown placeholder {{NOPE}}");

    task_done_free(&r->done);
    cmd[0] = pb_s("/nonexistent/prog");
    l.command.n = 1;
    s_run(r, &l, -1);
    assert_string_equal(r->done.state, "failed");
    assert_non_null(r->done.error);

    task_done_free(&r->done);
    cmd[0] = pb_s("true");
    l.job_id = pb_s("../escape");
    s_run(r, &l, -1);
    assert_string_equal(r->done.state, "failed");
    assert_string_equal(r->done.error, "job id is not usable as a directory name");
}

static void
test_command_big_output(void **state)
{
    s_run_t *r = *state;
    pb_str_t cmd[] = { pb_s("sh"), pb_s("-c"),
                       pb_s("head -c 200000 /dev/zero | tr '\\000' x; echo END") };
    pb_lease_t l = s_lease("cmd", "{}", cmd, 3);
    s_run(r, &l, -1);
    assert_string_equal(r->done.state, "succeeded");
    assert_int_equal(r->out_len, 200004);
    size_t rlen = strlen(r->done.result);
    assert_true(rlen >= 64 * 1024 && rlen <= 64 * 1024 + 8);
    assert_string_equal(r->done.result + rlen - 6, "END\\n\"");
}

static void
test_reject_item(void **state)
{
    (void) state;
    task_done_t d;
    assert_int_equal(task_done_reject(&d, pb_s("j"), 4, "no free slot"), 0);
    assert_string_equal(d.job_id, "j");
    assert_int_equal(d.attempt, 4);
    assert_string_equal(d.state, "rejected");
    assert_string_equal(d.error, "no free slot");
    assert_null(d.result);
    task_done_free(&d);
    assert_null(d.job_id);
}

#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_echo),
        T(test_sleep),
        T(test_sleep_bad_payload),
        T(test_sleep_timeout_and_cancel),
        T(test_no_command),
        T(test_command_output_and_tail),
        T(test_command_result_file),
        T(test_command_exit_and_signal),
        T(test_command_timeout_escalates),
        T(test_command_cancel),
        T(test_command_env_is_clean),
        T(test_command_shell_mode),
        T(test_command_start_errors),
        T(test_command_big_output),
        T(test_reject_item),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
