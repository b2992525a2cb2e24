/*  tests/unit/test_template.c — placeholder expansion and shell quoting.

    The shell-quoting tests do not just compare strings: they hand the quoted
    word to a real /bin/sh ("printf %s WORD") and check that the shell prints
    the original bytes back, so a quoting mistake shows up as a wrong output.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/template.h"

static const tpl_var_t s_vars[] = {
    { "JOB_ID", "job-42" },
    { "WORKER_ID", "w1" },
    { "WORK_DIR", "/var/lib/popebot/jobs/job-42" },
    { "PAYLOAD", "{\"a\": 1}" },
    { "EMPTY", "" },
    { "X_2", "x2" },
};
#define S_NVARS (sizeof s_vars / sizeof s_vars[0])

/* Expand in argv mode and compare; fails on error. */
static void
s_check(const char *tmpl, const char *want)
{
    char err[128] = "";
    char *got = tpl_expand(tmpl, s_vars, S_NVARS, false, err, sizeof err);
    if (!got)
        fail_msg("tpl_expand(\"%s\") failed: %s", tmpl, err);
    assert_string_equal(got, want);
    free(got);
}

static void
test_plain_text_unchanged(void **state)
{
    (void) state;
    s_check("", "");
    s_check("echo hello world", "echo hello world");
    s_check("a { b } c {x} $HOME 'q' \"d\"", "a { b } c {x} $HOME 'q' \"d\"");
}

static void
test_each_variable(void **state)
{
    (void) state;
    for (size_t i = 0; i < S_NVARS; i++) {
        char tmpl[64];
        snprintf(tmpl, sizeof tmpl, "{{%s}}", s_vars[i].name);
        s_check(tmpl, s_vars[i].value);
        snprintf(tmpl, sizeof tmpl, "<{{%s}}>", s_vars[i].name);
        char want[128];
        snprintf(want, sizeof want, "<%s>", s_vars[i].value);
        s_check(tmpl, want);
    }
}

static void
test_several_and_adjacent(void **state)
{
    (void) state;
    s_check("run --job={{JOB_ID}} --worker {{WORKER_ID}} in {{WORK_DIR}}",
            "run --job=job-42 --worker w1 in /var/lib/popebot/jobs/job-42");
    s_check("{{JOB_ID}}{{WORKER_ID}}{{X_2}}", "job-42w1x2");
    s_check("{{JOB_ID}}{{JOB_ID}}", "job-42job-42");
    s_check("a{{EMPTY}}b", "ab");
    s_check("{{{JOB_ID}}}", "{job-42}");
    s_check("{{{{JOB_ID}}", "{{job-42");
}

static void
test_unknown_name_is_error(void **state)
{
    (void) state;
    char err[128] = "";
    char *got = tpl_expand("echo {{JOB_ID}} {{JOB_IDD}}", s_vars, S_NVARS,
                           false, err, sizeof err);
    assert_null(got);
    assert_string_equal(err, "unknown placeholder {{JOB_IDD}}");

    /* a name is matched whole, not as a prefix of a known one */
    got = tpl_expand("{{JOB}}", s_vars, S_NVARS, false, err, sizeof err);
    assert_null(got);
    assert_string_equal(err, "unknown placeholder {{JOB}}");

    /* no variables at all */
    got = tpl_expand("{{A}}", NULL, 0, true, err, sizeof err);
    assert_null(got);
    assert_string_equal(err, "unknown placeholder {{A}}");

    /* a very long name is cut short in the message */
    char tmpl[600];
    memset(tmpl, 'N', sizeof tmpl);
    memcpy(tmpl, "{{", 2);
    memcpy(tmpl + sizeof tmpl - 3, "}}", 3);
    got = tpl_expand(tmpl, s_vars, S_NVARS, false, err, sizeof err);
    assert_null(got);
    assert_non_null(strstr(err, "unknown placeholder {{NNNN"));
    assert_non_null(strstr(err, "...}}"));
    assert_true(strlen(err) < 100);

    /* a NULL or tiny err buffer is not written past */
    assert_null(tpl_expand("{{NOPE}}", s_vars, S_NVARS, false, NULL, 0));
    char tiny[4] = "zzz";
    assert_null(tpl_expand("{{NOPE}}", s_vars, S_NVARS, false, tiny, 1));
    assert_string_equal(tiny, "");
}

static void
test_literal_braces(void **state)
{
    (void) state;
    s_check("{{", "{{");
    s_check("{{}}", "{{}}");
    s_check("{{lower}}", "{{lower}}");
    s_check("{{Job_ID}}", "{{Job_ID}}");
    s_check("{{A", "{{A");
    s_check("{{JOB_ID}", "{{JOB_ID}");
    s_check("{{JOB_ID }}", "{{JOB_ID }}");
    s_check("{{ JOB_ID}}", "{{ JOB_ID}}");
    s_check("{{JOB-ID}}", "{{JOB-ID}}");
    s_check("{{PAYLOAD.field}}", "{{PAYLOAD.field}}");
    s_check("}}", "}}");
    s_check("x}}y{{", "x}}y{{");
    s_check("{ {JOB_ID} }", "{ {JOB_ID} }");
    s_check("{{{", "{{{");
    s_check("trailing {", "trailing {");
}

static void
test_values_not_reexpanded(void **state)
{
    (void) state;
    const tpl_var_t vars[] = {
        { "PAYLOAD", "{{JOB_ID}} and {{NOPE}}" },
        { "JOB_ID", "j1" },
        { "HALF", "{{" },
    };
    char err[128] = "";
    char *got = tpl_expand("{{PAYLOAD}}/{{JOB_ID}}", vars, 3, false, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got, "{{JOB_ID}} and {{NOPE}}/j1");
    free(got);

    /* a value ending in "{{" does not join with the following text */
    got = tpl_expand("{{HALF}}JOB_ID}}", vars, 3, false, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got, "{{JOB_ID}}");
    free(got);

    /* NULL value counts as empty */
    const tpl_var_t nullv[] = { { "V", NULL } };
    got = tpl_expand("[{{V}}]", nullv, 1, false, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got, "[]");
    free(got);
    got = tpl_expand("[{{V}}]", nullv, 1, true, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got, "['']");
    free(got);
}

static void
test_shell_quote_strings(void **state)
{
    (void) state;
    static const struct { const char *in, *out; } cases[] = {
        { "", "''" },
        { "abc", "'abc'" },
        { "'", "''\\'''" },
        { "it's", "'it'\\''s'" },
        { "''", "''\\'''\\'''" },
        { "\"x\"", "'\"x\"'" },
        { "$(id)", "'$(id)'" },
        { "`id`", "'`id`'" },
        { "a; rm -rf /", "'a; rm -rf /'" },
        { "a\nb", "'a\nb'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *q = tpl_shell_quote(cases[i].in);
        assert_non_null(q);
        assert_string_equal(q, cases[i].out);
        free(q);
    }
    char *q = tpl_shell_quote(NULL);
    assert_non_null(q);
    assert_string_equal(q, "''");
    free(q);
}

static void
test_shell_mode_expand(void **state)
{
    (void) state;
    const tpl_var_t vars[] = {
        { "PAYLOAD", "it's $(id); `x`\n\"q\"" },
        { "EMPTY", "" },
    };
    char err[128] = "";
    char *got = tpl_expand("echo {{PAYLOAD}} {{EMPTY}}!", vars, 2, true, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got, "echo 'it'\\''s $(id); `x`\n\"q\"' ''!");
    free(got);

    /* quoting applies to values only, never to the template's own text */
    got = tpl_expand("echo 'lit' \"$HOME\"", vars, 2, true, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got, "echo 'lit' \"$HOME\"");
    free(got);
}

/* Strings that break naive quoting. */
static const char *const s_nasty[] = {
    "",
    "plain",
    "'",
    "''",
    "'''",
    "a'b'c",
    "\"",
    "\"'\"",
    "\\",
    "\\'",
    "'\\",
    "$HOME",
    "${HOME}",
    "$(echo pwned)",
    "`echo pwned`",
    "; echo pwned",
    "&& echo pwned || true",
    "| cat",
    "> /tmp/popebot-should-not-exist",
    "a\nb",
    "\n",
    "trailing newlines\n\n\n",
    "\ttab\t",
    "  spaces  ",
    "*",
    "?",
    "[a-z]",
    "~",
    "~root",
    "#comment",
    "-n",
    "--",
    "%s %d %%",
    "!",
    "!!",
    "{a,b}",
    "'; echo pwned; '",
    "'\"$(echo pwned)\"'",
    "\x01\x02\x1b[31m\x7f",
    "\xc3\xa9t\xc3\xa9 \xe2\x82\xac",
    "\xff\xfe",
};

/* Run sh -c "printf %s WORD" and return what the shell wrote, or NULL. */
static char *
s_shell_echo(const char *word, size_t *outlen)
{
    size_t cmdlen = strlen(word) + 16;
    char *cmd = malloc(cmdlen);
    assert_non_null(cmd);
    snprintf(cmd, cmdlen, "printf %%s %s", word);
    FILE *f = popen(cmd, "r");
    free(cmd);
    assert_non_null(f);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t n;
    while ((n = fread(out + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    int status = pclose(f);
    assert_int_equal(status, 0);
    *outlen = len;
    return out;
}

static void
test_shell_quote_roundtrip(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_nasty / sizeof s_nasty[0]; i++) {
        const char *s = s_nasty[i];
        char *q = tpl_shell_quote(s);
        assert_non_null(q);
        size_t len;
        char *out = s_shell_echo(q, &len);
        if (len != strlen(s) || memcmp(out, s, len) != 0)
            fail_msg("case %zu: quoted as <%s>, shell printed %zu bytes <%.*s>",
                     i, q, len, (int) len, out);
        free(out);
        free(q);
    }
}

static void
test_shell_expand_roundtrip(void **state)
{
    (void) state;
    /* the same through tpl_expand: the whole command line is shell text */
    for (size_t i = 0; i < sizeof s_nasty / sizeof s_nasty[0]; i++) {
        const tpl_var_t vars[] = { { "PAYLOAD", s_nasty[i] } };
        char err[128] = "";
        char *line = tpl_expand("{{PAYLOAD}}{{PAYLOAD}}", vars, 1, true, err, sizeof err);
        assert_non_null(line);
        size_t len;
        char *out = s_shell_echo(line, &len);
        size_t n = strlen(s_nasty[i]);
        if (len != 2 * n || memcmp(out, s_nasty[i], n) != 0
            || memcmp(out + n, s_nasty[i], n) != 0)
            fail_msg("case %zu: line <%s>, shell printed <%.*s>",
                     i, line, (int) len, out);
        free(out);
        free(line);
    }
}

static void
test_long_output_grows(void **state)
{
    (void) state;
    /* many expansions force the buffer to grow several times */
    size_t reps = 5000;
    char *tmpl = malloc(reps * 10 + 1);
    assert_non_null(tmpl);
    tmpl[0] = '\0';
    for (size_t i = 0; i < reps; i++)
        strcat(tmpl + i * 10, "{{JOB_ID}}");
    char err[128] = "";
    char *got = tpl_expand(tmpl, s_vars, S_NVARS, false, err, sizeof err);
    assert_non_null(got);
    assert_int_equal(strlen(got), reps * 6);
    for (size_t i = 0; i < reps; i++)
        assert_memory_equal(got + i * 6, "job-42", 6);
    free(got);
    free(tmpl);
}

/* Shell lines: a placeholder only where its single-quoted value is one
   plain word; inside the line's own quotes, backquotes, a comment or after a
   here-document it is refused (by tpl_shell_safe and by tpl_expand). */
static void test_shell_placeholder_positions(void **state)
{
    (void) state;
    static const char *const safe[] = {
        "printf '%s' {{PAYLOAD}}", "echo {{A}} {{B}}; cat {{A}} | wc -c",
        "x=\"$HOME\"; echo {{A}} \"$x\"", "echo \\\"{{A}}", "echo a#b {{A}}",
        "echo '#' {{A}}", "f() { echo {{A}}; }", "echo {{A}} # a comment after it",
        "echo 'it''s' {{A}}", "echo \"a'b\" {{A}}", "$(printf {{A}})",
    };
    static const char *const unsafe[] = {
        "echo \"{{PAYLOAD}}\"", "echo \"x $y {{A}} z\"", "echo '{{A}}'",
        "echo `printf {{A}}`", "echo x # {{A}}", "#{{A}}", "cat <<EOF\n{{A}}\nEOF",
        "cat <<'EOF'\nx\nEOF\necho {{A}}", "echo $'{{A}}'", "echo \"a\\\"{{A}}\"",
    };
    char err[400];
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++) {
        err[0] = '\0';
        if (!tpl_shell_safe(safe[i], err, sizeof err))
            fail_msg("refused a safe line: %s (%s)", safe[i], err);
    }
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
        if (tpl_shell_safe(unsafe[i], err, sizeof err))
            fail_msg("accepted an unsafe line: %s", unsafe[i]);
    tpl_var_t vars[] = { { "PAYLOAD", "$(touch /tmp/x)" } };
    assert_null(tpl_expand("echo \"{{PAYLOAD}}\"", vars, 1, true, err, sizeof err));
    assert_non_null(strstr(err, "inside double quotes"));
    char *ok = tpl_expand("echo \"{{PAYLOAD}}\"", vars, 1, false, err, sizeof err);
    assert_non_null(ok);      /* argv mode: no shell parses it, nothing to refuse */
    free(ok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text_unchanged),
        cmocka_unit_test(test_each_variable),
        cmocka_unit_test(test_several_and_adjacent),
        cmocka_unit_test(test_unknown_name_is_error),
        cmocka_unit_test(test_literal_braces),
        cmocka_unit_test(test_values_not_reexpanded),
        cmocka_unit_test(test_shell_quote_strings),
        cmocka_unit_test(test_shell_mode_expand),
        cmocka_unit_test(test_shell_quote_roundtrip),
        cmocka_unit_test(test_shell_expand_roundtrip),
        cmocka_unit_test(test_long_output_grows),
        cmocka_unit_test(test_shell_placeholder_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
