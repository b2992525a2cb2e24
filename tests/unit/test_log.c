/*  tests/unit/test_log.c — log lines in JSON: every line is one valid JSON
    object whatever the message holds (quotes, control characters, bytes
    that are not UTF-8, a message cut at the line limit), with job_id and
    worker_id as fields only when given; the text format is unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/log.h"

/* Run fn with stderr going to a file; return what it wrote (caller frees). */
static char *s_capture(void (*fn)(void))
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/popebot-logtest-%d", (int) getpid());
    fflush(stderr);
    int saved = dup(2);
    assert_non_null(freopen(path, "w", stderr));
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return strdup(buf);
}

static void s_lines(void)
{
    char big[3000];
    memset(big, 'x', sizeof big);
    memcpy(big + 1021, "\xc3\xa9\xc3\xa9", 4);   /* a character cut at the 1024 limit */
    big[sizeof big - 1] = '\0';
    log_job(LL_INFO, "worker", "0190abc", "w\"1", "job %s: say \"%s\"\t\n", "0190abc", "\\");
    log_msg(LL_WARN, "coordinator", "bad bytes \xff\xfe and \x01 control");
    log_job(LL_ERROR, "worker", NULL, "w2", "%s", big);
    log_msg(LL_DEBUG, "worker", "below the level");
}

static void test_json_lines(void **state)
{
    (void) state;
    log_set_level(LL_INFO);
    log_set_json(1);
    char *out = s_capture(s_lines);
    log_set_json(0);
    json_t *recs[3];
    char *save = NULL, *line = strtok_r(out, "\n", &save);
    for (int i = 0; i < 3; i++, line = strtok_r(NULL, "\n", &save)) {
        assert_non_null(line);
        json_error_t jerr;
        recs[i] = json_loads(line, 0, &jerr);
        if (!recs[i])
            fail_msg("line %d is not JSON (%s): %s", i, jerr.text, line);
        assert_non_null(json_object_get(recs[i], "time"));
    }
    assert_null(line);                          /* the debug line was not written */
    assert_string_equal(json_string_value(json_object_get(recs[0], "job_id")), "0190abc");
    assert_string_equal(json_string_value(json_object_get(recs[0], "worker_id")), "w\"1");
    assert_string_equal(json_string_value(json_object_get(recs[0], "message")),
                        "job 0190abc: say \"\\\"\t\n");
    assert_string_equal(json_string_value(json_object_get(recs[0], "level")), "info");
    assert_string_equal(json_string_value(json_object_get(recs[0], "component")), "worker");
    assert_null(json_object_get(recs[1], "job_id"));
    assert_null(json_object_get(recs[1], "worker_id"));
    assert_string_equal(json_string_value(json_object_get(recs[1], "message")),
                        "bad bytes ?? and \x01 control");
    assert_null(json_object_get(recs[2], "job_id"));
    assert_string_equal(json_string_value(json_object_get(recs[2], "worker_id")), "w2");
    for (int i = 0; i < 3; i++)
        json_decref(recs[i]);
    free(out);
}

static void s_text_line(void)
{
    log_job(LL_INFO, "worker", "0190abc", "w1", "job %s: done", "0190abc");
}

static void test_text_unchanged(void **state)
{
    (void) state;
    char *out = s_capture(s_text_line);
    assert_non_null(strstr(out, "Z INFO  worker: job 0190abc: done\n"));
    assert_null(strchr(out, '{'));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_text_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
