/*  tests/fuzz/fuzz_template.c — libFuzzer target: the argv template
    expander (mesh/template.h tpl_expand, tpl_shell_quote).

    Input: one flags byte (bit 0: shell mode), then the template, then up to
    seven values, NUL-separated, for the placeholders the worker offers
    (node/task.c): JOB_ID ATTEMPT WORKER_ID WORKER_NAME WORK_DIR ROLE PAYLOAD.
    A value not in the input is a fixed word.

    What it asserts: tpl_expand gives exactly what a second, deliberately
    naive expander written here gives (left to right, one pass, unknown
    names refused, values copied verbatim or as one single-quoted shell
    word), so an argv element only ever holds template text and the values
    themselves, and a value is never expanded again. In shell mode each
    value's quoted form, read back by a small POSIX-quote reader, is the
    value again, whatever quotes and backslashes it holds.
    Rules: C11, no state between inputs, everything allocated is freed.
*/
#include "mesh/template.h"
#include "tests/fuzz/fuzz_check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_NVARS 7
static const char *const s_names[S_NVARS] = {
    "JOB_ID", "ATTEMPT", "WORKER_ID", "WORKER_NAME", "WORK_DIR", "ROLE", "PAYLOAD",
};
static const char *const s_defaults[S_NVARS] = {
    "j-1", "1", "w1", "box one", "/tmp/job", "echo", "{\"a\":\"b c\"}",
};

/* ---- a growing string for the reference expander ------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} s_str_t;

static void s_add(s_str_t *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        FUZZ_CHECK(s->p, "out of memory");
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void s_add_quoted(s_str_t *s, const char *v)
{
    s_add(s, "'", 1);
    for (; *v; v++)
        if (*v == '\'')
            s_add(s, "'\\''", 4);
        else
            s_add(s, v, 1);
    s_add(s, "'", 1);
}

static bool s_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The expansion by the rules of template.h, char by char; NULL for an
   unknown placeholder. */
static char *s_reference(const char *t, const char *const *vals, bool shell)
{
    s_str_t out = { NULL, 0, 0 };
    s_add(&out, "", 0);
    size_t i = 0;
    while (t[i]) {
        if (t[i] == '{' && t[i + 1] == '{') {
            size_t j = i + 2;
            while (s_name_char(t[j]))
                j++;
            if (j > i + 2 && t[j] == '}' && t[j + 1] == '}') {
                int k = -1;
                for (int v = 0; v < S_NVARS; v++)
                    if (strlen(s_names[v]) == j - i - 2 && memcmp(s_names[v], t + i + 2, j - i - 2) == 0)
                        k = v;
                if (k < 0) {
                    free(out.p);
                    return NULL;
                }
                if (shell)
                    s_add_quoted(&out, vals[k]);
                else
                    s_add(&out, vals[k], strlen(vals[k]));
                i = j + 2;
                continue;
            }
        }
        s_add(&out, t + i, 1);
        i++;
    }
    return out.p;
}

/* Read one POSIX shell word made of '...' runs and \x escapes; NULL when q
   is anything else (an unquoted special character, an open quote). */
static char *s_unquote(const char *q)
{
    s_str_t out = { NULL, 0, 0 };
    s_add(&out, "", 0);
    while (*q) {
        if (*q == '\'') {
            const char *end = strchr(q + 1, '\'');
            if (!end)
                break;
            s_add(&out, q + 1, (size_t) (end - q - 1));
            q = end + 1;
        } else if (*q == '\\' && q[1]) {
            s_add(&out, q + 1, 1);
            q += 2;
        } else {
            break;
        }
    }
    if (*q) {
        free(out.p);
        return NULL;
    }
    return out.p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool shell = data[0] & 1;
    /* template and values: a NUL-terminated copy split at NUL bytes */
    char *buf = malloc(size);
    FUZZ_CHECK(buf, "out of memory");
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *parts[1 + S_NVARS];
    size_t np = 0;
    for (size_t off = 0; off < size && np < 1 + S_NVARS; np++) {
        parts[np] = buf + off;
        off += strlen(buf + off) + 1;
    }
    const char *vals[S_NVARS];
    tpl_var_t vars[S_NVARS];
    for (int i = 0; i < S_NVARS; i++) {
        vals[i] = (size_t) i + 1 < np ? parts[i + 1] : s_defaults[i];
        vars[i] = (tpl_var_t) { s_names[i], vals[i] };
    }

    char err[128], why[400];
    char *got = tpl_expand(parts[0], vars, S_NVARS, shell, err, sizeof err);
    if (shell && !tpl_shell_safe(parts[0], why, sizeof why)) {
        /* a placeholder inside the line's own quoting: always refused */
        FUZZ_CHECK(!got && strncmp(err, "placeholder {{", 14) == 0,
                   "a shell line with a quoted placeholder is refused, naming it");
        free(buf);
        return 0;
    }
    char *want = s_reference(parts[0], vals, shell);
    FUZZ_CHECK((got == NULL) == (want == NULL), "refused exactly when a name is unknown");
    if (got)
        FUZZ_CHECK(strcmp(got, want) == 0, "the expansion is the template with values in place");
    else
        FUZZ_CHECK(strncmp(err, "unknown placeholder {{", 22) == 0, "the reason names the placeholder");
    free(got);
    free(want);

    if (shell)
        for (int i = 0; i < S_NVARS; i++) {
            char *q = tpl_shell_quote(vals[i]);
            FUZZ_CHECK(q, "out of memory");
            char *back = s_unquote(q);
            FUZZ_CHECK(back && strcmp(back, vals[i]) == 0, "a quoted value reads back as itself");
            free(back);
            free(q);
        }
    free(buf);
    return 0;
}
