/*  mesh/template.c — expand {{PLACEHOLDERS}} in a role's command.

    The template is scanned once, left to right. Literal text is copied in
    runs; at each "{{" we look for NAME ([A-Z0-9_]+) followed by "}}". A valid
    placeholder is replaced by its value (single-quoted in shell mode) and the
    scan continues after the "}}", so text that came from a value is never
    looked at again. A "{{" that does not open a valid placeholder is copied
    one '{' at a time, so "{{{JOB_ID}}}" still expands the inner placeholder.

    The result is built in a growing buffer owned by this file until it is
    handed to the caller; every allocation is checked and an error frees it.

    In shell mode a placeholder must stand where a single-quoted word means
    just its value: not inside quotes of the line's own ("..." would let
    $(...) in the value run), not in a comment or after a here-document
    (a newline in the value would end them). tpl_shell_safe() checks that
    with a small scan of the line's quoting, and tpl_expand refuses a line
    that fails it, so a role author's quotes cannot open an injection.
*/
#include "mesh/template.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME_SHOWN 64         /* longest NAME echoed back in an error */

typedef struct {
    char *data;                 /* NUL-terminated once s_buf_put succeeded */
    size_t len;                 /* bytes used, without the NUL */
    size_t cap;                 /* bytes allocated */
    bool oom;                   /* an allocation failed; data is unusable */
} s_buf_t;

static void
s_buf_put(s_buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n >= SIZE_MAX - b->len) {
        b->oom = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->oom = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Append s as one single-quoted shell word: ' becomes '\'' */
static void
s_buf_put_quoted(s_buf_t *b, const char *s)
{
    s_buf_put(b, "'", 1);
    for (const char *q; (q = strchr(s, '\'')) != NULL; s = q + 1) {
        s_buf_put(b, s, (size_t) (q - s));
        s_buf_put(b, "'\\''", 4);
    }
    s_buf_put(b, s, strlen(s));
    s_buf_put(b, "'", 1);
}

/* Hand the buffer to the caller, or free it and return NULL. */
static char *
s_buf_take(s_buf_t *b)
{
    if (!b->oom && !b->data)
        s_buf_put(b, "", 0);
    if (b->oom) {
        free(b->data);
        return NULL;
    }
    return b->data;
}

static void __attribute__((format(printf, 3, 4)))
s_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool
s_is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Length of the NAME of a placeholder starting at s ("{{NAME}}"), or 0 when
   s does not start a valid placeholder. */
static size_t
s_placeholder(const char *s)
{
    size_t n = 0;
    while (s_is_name_char(s[2 + n]))
        n++;
    if (n > 0 && s[2 + n] == '}' && s[3 + n] == '}')
        return n;
    return 0;
}

static const tpl_var_t *
s_lookup(const char *name, size_t len, const tpl_var_t *vars, size_t nvars)
{
    for (size_t i = 0; i < nvars; i++) {
        const char *v = vars[i].name;
        if (v && strncmp(v, name, len) == 0 && v[len] == '\0')
            return &vars[i];
    }
    return NULL;
}

/* ---- where a placeholder may stand in a shell line ------------------------ */

typedef enum { SH_PLAIN, SH_SINGLE, SH_ANSI, SH_DOUBLE, SH_BACK, SH_COMMENT } s_sh_t;

static const char *const s_sh_where[] = {
    "", "inside single quotes", "inside $'...' quotes", "inside double quotes",
    "inside backquotes", "in a comment"
};

/* The state after the character at s (len 1, or 2 for an escape). */
static s_sh_t
s_sh_step(s_sh_t st, const char *s, bool word_start, size_t *len)
{
    *len = 1;
    if ((st == SH_PLAIN || st == SH_DOUBLE || st == SH_BACK || st == SH_ANSI) &&
        s[0] == '\\' && s[1]) {
        *len = 2;             /* an escaped character changes nothing */
        return st;
    }
    switch (st) {
    case SH_PLAIN:
        if (s[0] == '\'')
            return SH_SINGLE;
        if (s[0] == '$' && s[1] == '\'') {
            *len = 2;
            return SH_ANSI;
        }
        if (s[0] == '"')
            return SH_DOUBLE;
        if (s[0] == '`')
            return SH_BACK;
        return s[0] == '#' && word_start ? SH_COMMENT : SH_PLAIN;
    case SH_SINGLE:
    case SH_ANSI:
        return s[0] == '\'' ? SH_PLAIN : st;
    case SH_DOUBLE:
        return s[0] == '"' ? SH_PLAIN : st;
    case SH_BACK:
        return s[0] == '`' ? SH_PLAIN : st;
    default:                  /* SH_COMMENT */
        return s[0] == '\n' ? SH_PLAIN : st;
    }
}

bool
tpl_shell_safe(const char *tmpl, char *err, size_t errlen)
{
    s_sh_t st = SH_PLAIN;
    bool heredoc = false, word_start = true;
    for (const char *s = tmpl; *s;) {
        size_t name = s[0] == '{' && s[1] == '{' ? s_placeholder(s) : 0;
        if (name > 0 && (st != SH_PLAIN || heredoc)) {
            s_seterr(err, errlen, "placeholder {{%.*s}} stands %s: in a shell line a value "
                     "is quoted by the worker and must stand outside quotes, comments and "
                     "here-documents (write {{%.*s}}, not \"{{%.*s}}\")", (int) name, s + 2,
                     heredoc && st == SH_PLAIN ? "after a here-document (<<)" : s_sh_where[st],
                     (int) name, s + 2, (int) name, s + 2);
            return false;
        }
        if (name > 0) {
            s += name + 4;
            word_start = false;
            continue;
        }
        if (st == SH_PLAIN && s[0] == '<' && s[1] == '<')
            heredoc = true;
        size_t len;
        st = s_sh_step(st, s, word_start, &len);
        word_start = strchr(" \t\n;&|()", s[0]) != NULL;
        s += len;
    }
    return true;
}

char *
tpl_expand(const char *tmpl, const tpl_var_t *vars, size_t nvars,
           bool shell_quote, char *err, size_t errlen)
{
    if (!tmpl) {
        s_seterr(err, errlen, "no template");
        return NULL;
    }
    if (shell_quote && !tpl_shell_safe(tmpl, err, errlen))
        return NULL;
    s_buf_t b = { 0 };
    const char *s = tmpl;
    while (*s) {
        const char *open = strstr(s, "{{");
        if (!open) {
            s_buf_put(&b, s, strlen(s));
            break;
        }
        s_buf_put(&b, s, (size_t) (open - s));
        size_t len = s_placeholder(open);
        if (len == 0) {                     /* not a placeholder: literal '{' */
            s_buf_put(&b, open, 1);
            s = open + 1;
            continue;
        }
        const tpl_var_t *var = s_lookup(open + 2, len, vars, nvars);
        if (!var) {
            int shown = len > S_NAME_SHOWN ? S_NAME_SHOWN : (int) len;
            s_seterr(err, errlen, "unknown placeholder {{%.*s%s}}", shown,
                     open + 2, len > S_NAME_SHOWN ? "..." : "");
            free(b.data);
            return NULL;
        }
        const char *value = var->value ? var->value : "";
        if (shell_quote)
            s_buf_put_quoted(&b, value);
        else
            s_buf_put(&b, value, strlen(value));
        s = open + 2 + len + 2;
    }
    char *out = s_buf_take(&b);
    if (!out)
        s_seterr(err, errlen, "out of memory");
    return out;
}

char *
tpl_shell_quote(const char *s)
{
    s_buf_t b = { 0 };
    s_buf_put_quoted(&b, s ? s : "");
    return s_buf_take(&b);
}
