/*  tests/unit/test_routes.c — the route table (web/routes.c) and
    docs/openapi.yaml describe the same API.

    Fails, naming each route, when a route of web_routes() is missing from
    the spec (its path, or that method of it), when the spec lists a path or
    method the table does not have, when an operation's `x-popebot-need`
    differs from the route's auth need, and when the public routes (need
    none) are not marked `security: []` in the spec (or others are).

    The spec is read line by line, without a YAML library, so it must keep
    this layout (docs/openapi.yaml says so at its top):
        paths:                      <- column 0; the next column-0 key ends it
          /api/jobs/{id}:           <- a path: two spaces, unquoted, as in the table
            parameters: ...         <- other four-space keys are ignored
            get:                    <- a method: four spaces, lower case
              x-popebot-need: read  <- six spaces: none|any|read|admin|worker
              security: []          <- six spaces, on public operations only
    Text of block scalars inside the section must be indented deeper than
    six spaces (it is, under an operation's keys). Blank lines and comments
    are skipped. The checker is also run on small made-up specs below, so a
    checker that accepts everything fails too.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/web_int.h"

#ifndef POPEBOT_SOURCE_DIR
#error "tests/CMakeLists.txt passes POPEBOT_SOURCE_DIR"
#endif

#define SPEC_OPS_MAX 128
#define REPORT_MAX 8192

typedef struct {
    char path[160];
    char method[8];          /* upper case, as in the route table */
    char need[16];           /* x-popebot-need, "" when absent */
    bool public_;            /* security: [] */
} spec_op_t;

typedef struct {
    spec_op_t ops[SPEC_OPS_MAX];
    size_t n;
    bool saw_paths;
    char path[160];          /* the path being read, "" outside one */
    spec_op_t *op;           /* the operation being read, or NULL */
} spec_t;

typedef struct {
    char text[REPORT_MAX];
    size_t len;
    int problems;
} report_t;

static void s_problem(report_t *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (rep->len < sizeof rep->text) {
        int n = vsnprintf(rep->text + rep->len, sizeof rep->text - rep->len, fmt, ap);
        rep->len += n > 0 ? (size_t) n : 0;
    }
    if (rep->len < sizeof rep->text - 1) {
        rep->text[rep->len++] = '\n';
        rep->text[rep->len] = '\0';
    }
    va_end(ap);
    rep->problems++;
}

static const char *s_need_name(web_need_t need)
{
    switch (need) {
    case NEED_NONE: return "none";
    case NEED_ANY: return "any";
    case NEED_READ: return "read";
    case NEED_ADMIN: return "admin";
    default: return "worker";
    }
}

static bool s_is_method(const char *key)
{
    static const char *const m[] = { "get", "put", "post", "delete", "options", "head",
                                     "patch", "trace", NULL };
    for (size_t i = 0; m[i]; i++)
        if (strcmp(key, m[i]) == 0)
            return true;
    return false;
}

/* One line of the paths section: its indent, its key and the rest. */
static void s_line(spec_t *sp, report_t *rep, size_t indent, const char *key, const char *rest,
                   int lineno)
{
    if (indent == 2) {
        if (key[0] != '/')
            s_problem(rep, "openapi.yaml:%d: '%s' under paths is not an unquoted /path", lineno,
                      key);
        snprintf(sp->path, sizeof sp->path, "%.159s", key[0] == '/' ? key : "");
        sp->op = NULL;
    } else if (indent == 4) {
        sp->op = NULL;               /* a path-level key like parameters: not an op */
        if (!s_is_method(key) || !sp->path[0])
            return;
        if (sp->n == SPEC_OPS_MAX) {
            s_problem(rep, "openapi.yaml:%d: more than %d operations", lineno, SPEC_OPS_MAX);
            return;
        }
        sp->op = &sp->ops[sp->n++];
        snprintf(sp->op->path, sizeof sp->op->path, "%s", sp->path);
        for (size_t i = 0; key[i] && i < sizeof sp->op->method - 1; i++)
            sp->op->method[i] = (char) (key[i] - 'a' + 'A');
    } else if (indent == 6 && sp->op && strcmp(key, "x-popebot-need") == 0) {
        snprintf(sp->op->need, sizeof sp->op->need, "%.15s", rest);
    } else if (indent == 6 && sp->op && strcmp(key, "security") == 0) {
        sp->op->public_ = strcmp(rest, "[]") == 0;
    }
}

/* Parse the paths section of spec text. Layout problems go into rep. */
static void s_parse(const char *text, spec_t *sp, report_t *rep)
{
    memset(sp, 0, sizeof *sp);
    bool in_paths = false;
    int lineno = 0;
    for (const char *l = text; *l;) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t) (end - l) : strlen(l);
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int) (len < sizeof buf ? len : sizeof buf - 1), l);
        l += len + (end ? 1 : 0);
        lineno++;
        for (size_t n = strlen(buf); n && (buf[n - 1] == ' ' || buf[n - 1] == '\r'); n--)
            buf[n - 1] = '\0';
        size_t indent = strspn(buf, " ");
        char *key = buf + indent;
        if (*key == '\0' || *key == '#')
            continue;
        if (indent == 0) {
            in_paths = strcmp(key, "paths:") == 0;
            sp->saw_paths |= in_paths;
            continue;
        }
        /* a path's key ends at its last ':', any other at its first */
        char *colon = key[0] == '/' ? strrchr(key, ':') : strchr(key, ':');
        if (!in_paths || !colon || indent > 6)
            continue;
        *colon = '\0';
        char *rest = colon + 1;
        rest += strspn(rest, " ");
        s_line(sp, rep, indent, key, rest, lineno);
    }
    if (!sp->saw_paths)
        s_problem(rep, "openapi.yaml has no 'paths:' section at column 0");
}

static const spec_op_t *s_find_op(const spec_t *sp, const char *path, const char *method,
                                  bool *path_seen)
{
    const spec_op_t *found = NULL;
    *path_seen = false;
    for (size_t i = 0; i < sp->n; i++) {
        if (strcmp(sp->ops[i].path, path) != 0)
            continue;
        *path_seen = true;
        if (strcmp(sp->ops[i].method, method) == 0)
            found = &sp->ops[i];
    }
    return found;
}

static void s_check_route(const spec_t *sp, const web_route_t *rt, report_t *rep)
{
    bool path_seen;
    const spec_op_t *op = s_find_op(sp, rt->pattern, rt->method, &path_seen);
    const char *need = s_need_name(rt->need);
    if (!op && !path_seen) {
        s_problem(rep, "%s %s: route in web/routes.c, path missing from docs/openapi.yaml",
                  rt->method, rt->pattern);
        return;
    }
    if (!op) {
        s_problem(rep, "%s %s: route in web/routes.c, the spec's path lacks method %s",
                  rt->method, rt->pattern, rt->method);
        return;
    }
    if (strcmp(op->need, need) != 0)
        s_problem(rep, "%s %s: x-popebot-need is '%s' in the spec, the route needs '%s'",
                  rt->method, rt->pattern, op->need[0] ? op->need : "(missing)", need);
    if (op->public_ != (rt->need == NEED_NONE))
        s_problem(rep, "%s %s: %s", rt->method, rt->pattern,
                  op->public_ ? "spec says public (security: []) but the route needs a key"
                              : "public route lacks 'security: []' in the spec");
}

/* Compare the spec with a route table; every mismatch goes into rep. */
static void s_compare(const spec_t *sp, const web_route_t *routes, size_t n, report_t *rep)
{
    for (size_t i = 0; i < n; i++)
        s_check_route(sp, &routes[i], rep);
    for (size_t i = 0; i < sp->n; i++) {
        const spec_op_t *op = &sp->ops[i];
        bool known = false;
        for (size_t j = 0; j < n && !known; j++)
            known = strcmp(routes[j].pattern, op->path) == 0 && strcmp(routes[j].method, op->method) == 0;
        if (!known)
            s_problem(rep, "%s %s: in docs/openapi.yaml but not in web/routes.c", op->method,
                      op->path);
        for (size_t j = 0; j < i; j++)
            if (strcmp(sp->ops[j].path, op->path) == 0 && strcmp(sp->ops[j].method, op->method) == 0)
                s_problem(rep, "%s %s: listed twice in docs/openapi.yaml", op->method, op->path);
    }
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = size >= 0 ? malloc((size_t) size + 1) : NULL;
    if (text && fread(text, 1, (size_t) size, f) != (size_t) size) {
        free(text);
        text = NULL;
    }
    if (text)
        text[size] = '\0';
    fclose(f);
    return text;
}

/* Run the checker on text against routes; the report is returned in rep. */
static void s_run(const char *text, const web_route_t *routes, size_t n, report_t *rep)
{
    static spec_t sp;
    memset(rep, 0, sizeof *rep);
    s_parse(text, &sp, rep);
    s_compare(&sp, routes, n, rep);
}

static void test_spec_matches_route_table(void **state)
{
    (void) state;
    char *text = s_slurp(POPEBOT_SOURCE_DIR "/docs/openapi.yaml");
    if (!text)
        fail_msg("cannot read %s/docs/openapi.yaml", POPEBOT_SOURCE_DIR);
    size_t n;
    const web_route_t *routes = web_routes(&n);
    static report_t rep;
    s_run(text, routes, n, &rep);
    free(text);
    assert_true(n > 0);
    if (rep.problems)
        fail_msg("docs/openapi.yaml and web/routes.c disagree (%d):\n%s", rep.problems, rep.text);
}

/* ---- the checker itself, on made-up specs ---------------------------------- */

static const web_route_t s_mini[] = {
    { "GET", "/healthz", NEED_NONE, NULL },
    { "GET", "/api/things/{id}", NEED_READ, NULL },
    { "DELETE", "/api/things/{id}", NEED_ADMIN, NULL },
};
#define NMINI (sizeof s_mini / sizeof s_mini[0])

static const char s_good[] =
    "openapi: 3.0.3\n"
    "paths:\n"
    "  /healthz:\n"
    "    get:\n"
    "      x-popebot-need: none\n"
    "      security: []\n"
    "      description: |\n"
    "        /not/a/path:\n"
    "          post:\n"
    "\n"
    "  # a comment\n"
    "  /api/things/{id}:\n"
    "    parameters:\n"
    "      - $ref: x\n"
    "    get:\n"
    "      x-popebot-need: read   \n"
    "    delete:\n"
    "      x-popebot-need: admin\n"
    "components:\n"
    "  /looks/like/a/path:\n"
    "    get:\n";

static void s_expect(const char *text, const char *needle)
{
    static report_t rep;
    s_run(text, s_mini, NMINI, &rep);
    if (!needle) {
        if (rep.problems)
            fail_msg("expected no problem, got:\n%s", rep.text);
        return;
    }
    if (rep.problems == 0 || !strstr(rep.text, needle))
        fail_msg("expected a problem mentioning '%s', got %d:\n%s", needle, rep.problems,
                 rep.text);
}

/* text with the first occurrence of from replaced by to */
static char *s_edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int) (at - text), text, to, at + strlen(from));
    return out;
}

static void s_expect_edit(const char *from, const char *to, const char *needle)
{
    char *t = s_edit(s_good, from, to);
    s_expect(t, needle);
    free(t);
}

static void test_checker_accepts_matching_spec(void **state)
{
    (void) state;
    s_expect(s_good, NULL);
}

static void test_checker_finds_missing_route(void **state)
{
    (void) state;
    s_expect_edit("    delete:\n      x-popebot-need: admin\n", "",
                  "DELETE /api/things/{id}: route in web/routes.c, the spec's path lacks method");
    s_expect_edit("  /healthz:\n", "  /health:\n",
                  "GET /healthz: route in web/routes.c, path missing");
    s_expect_edit("  /healthz:\n", "  /health:\n", "GET /health: in docs/openapi.yaml but not");
    s_expect("paths:\n", "GET /healthz: route in web/routes.c, path missing");
}

static void test_checker_finds_extra_operation(void **state)
{
    (void) state;
    s_expect_edit("    delete:\n", "    post:\n      x-popebot-need: admin\n    delete:\n",
                  "POST /api/things/{id}: in docs/openapi.yaml but not in web/routes.c");
    s_expect_edit("components:\n", "  /api/more:\n    get:\n      x-popebot-need: read\ncomponents:\n",
                  "GET /api/more: in docs/openapi.yaml but not");
    s_expect_edit("    delete:\n", "    get:\n      x-popebot-need: read\n    delete:\n",
                  "GET /api/things/{id}: listed twice");
}

static void test_checker_finds_wrong_auth(void **state)
{
    (void) state;
    s_expect_edit("x-popebot-need: admin", "x-popebot-need: read",
                  "DELETE /api/things/{id}: x-popebot-need is 'read' in the spec, the route "
                  "needs 'admin'");
    s_expect_edit("      x-popebot-need: admin\n", "",
                  "x-popebot-need is '(missing)'");
    s_expect_edit("      security: []\n", "",
                  "GET /healthz: public route lacks 'security: []'");
    s_expect_edit("      x-popebot-need: admin\n",
                  "      x-popebot-need: admin\n      security: []\n",
                  "DELETE /api/things/{id}: spec says public");
}

static void test_checker_refuses_other_layouts(void **state)
{
    (void) state;
    s_expect_edit("  /healthz:\n", "  \"/healthz\":\n", "is not an unquoted /path");
    s_expect("openapi: 3.0.3\n", "no 'paths:' section");
    /* a method at the wrong indent is not seen, so the route is reported */
    s_expect_edit("    delete:\n", "     delete:\n", "DELETE /api/things/{id}: route in");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_matches_route_table),
        cmocka_unit_test(test_checker_accepts_matching_spec),
        cmocka_unit_test(test_checker_finds_missing_route),
        cmocka_unit_test(test_checker_finds_extra_operation),
        cmocka_unit_test(test_checker_finds_wrong_auth),
        cmocka_unit_test(test_checker_refuses_other_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
