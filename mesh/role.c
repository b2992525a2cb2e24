/*  mesh/role.c — role definitions: built-ins and JSON role files (role.h).

    Rules: a role set owns its roles; a role owns every string in it. Parsing
    is strict and all-or-nothing: on any error nothing is added to the set.
    One parser (s_role_from_json) serves the roles file and the HTTP API.
*/
#include "mesh/role.h"
#include "mesh/template.h"
#include "mesh/trigger.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool role_name_valid(const char *name)
{
    return kv_name_valid(name, strlen(name));
}

bool role_scope_valid(const char *s, size_t len)
{
    if ((len == 5 && memcmp(s, "admin", 5) == 0) || (len == 4 && memcmp(s, "read", 4) == 0))
        return true;
    if (len > 7 && memcmp(s, "submit:", 7) == 0)
        return (len == 8 && s[7] == '*') || kv_name_valid(s + 7, len - 7);
    return len > 7 && memcmp(s, "worker:", 7) == 0 && kv_name_valid(s + 7, len - 7);
}

bool role_defined(const role_t *r)
{
    return r->builtin || r->ncommand > 0;
}

/* Free the role's triggers and leave it with none. */
static void s_free_triggers(role_t *r)
{
    for (size_t i = 0; i < r->ntriggers; i++)
        trigger_destroy(&r->triggers[i]);
    free(r->triggers);
    r->triggers = NULL;
    r->ntriggers = 0;
}

/* Free the definition; the name stays. */
static void s_free_def(role_t *r)
{
    for (size_t i = 0; i < r->ncommand; i++)
        free(r->command[i]);
    free(r->command);
    for (size_t i = 0; i < r->npermissions; i++)
        free(r->permissions[i]);
    free(r->permissions);
    s_free_triggers(r);
    kv_free(&r->env);
    kv_free(&r->where);
}

void role_destroy(role_t **self_p)
{
    role_t *r = *self_p;
    if (!r)
        return;
    s_free_def(r);
    free(r->name);
    free(r);
    *self_p = NULL;
}

void role_take_def(role_t *dst, role_t **src_p)
{
    role_t *src = *src_p;
    char *name = dst->name;
    s_free_def(dst);
    *dst = *src;
    dst->name = name;
    free(src->name);
    free(src);
    *src_p = NULL;
}

void role_clear(role_t *r)
{
    char *name = r->name;
    s_free_def(r);
    memset(r, 0, sizeof *r);
    r->name = name;
    r->max_attempts = 1;
}

static role_t *s_role_new(const char *name)
{
    role_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->name = strdup(name);
    r->max_attempts = ROLE_DEFAULT_MAX_ATTEMPTS;
    r->backoff_base_ms = ROLE_DEFAULT_BACKOFF_BASE_MS;
    r->backoff_max_ms = ROLE_DEFAULT_BACKOFF_MAX_MS;
    r->enabled = true;
    if (!r->name) {
        free(r);
        return NULL;
    }
    return r;
}

static int s_push(roleset_t *set, role_t *r)
{
    role_t **items = realloc(set->items, (set->n + 1) * sizeof(role_t *));
    if (!items)
        return -1;
    set->items = items;
    items[set->n++] = r;
    return 0;
}

int roleset_add(roleset_t *set, role_t *r)
{
    return s_push(set, r);
}

int roleset_init(roleset_t *set)
{
    set->items = NULL;
    set->n = 0;
    const char *builtins[] = { "echo", "sleep" };
    for (size_t i = 0; i < 2; i++) {
        role_t *r = s_role_new(builtins[i]);
        if (!r || s_push(set, r) != 0) {
            role_destroy(&r);
            roleset_free(set);
            return -1;
        }
        r->builtin = true;
    }
    return 0;
}

role_t *roleset_find(const roleset_t *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i]->name, name) == 0)
            return set->items[i];
    return NULL;
}

void roleset_free(roleset_t *set)
{
    for (size_t i = 0; i < set->n; i++)
        role_destroy(&set->items[i]);
    free(set->items);
    set->items = NULL;
    set->n = 0;
}

/* ---- JSON parsing ------------------------------------------------------ */

typedef struct {
    char *err;
    size_t errlen;
    const char *role;
    bool stored;              /* parsing what the store kept (trigger_from_json's rule) */
} s_ctx_t;

static int s_fail(s_ctx_t *c, const char *field, const char *what)
{
    snprintf(c->err, c->errlen, "role '%s': %s %s", c->role, field, what);
    return -1;
}

static int s_uint(s_ctx_t *c, json_t *v, const char *field, uint32_t min, uint32_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t) min ||
        json_integer_value(v) > (json_int_t) UINT32_MAX) {
        char what[64];
        snprintf(what, sizeof what, "must be an integer >= %u", min);
        return s_fail(c, field, what);
    }
    *out = (uint32_t) json_integer_value(v);
    return 0;
}

static int s_command(s_ctx_t *c, role_t *r, json_t *v)
{
    if (json_is_string(v) && r->shell) {
        char why[300];
        if (!tpl_shell_safe(json_string_value(v), why, sizeof why))
            return s_fail(c, "command:", why);
        r->command = calloc(1, sizeof(char *));
        if (!r->command || !(r->command[0] = strdup(json_string_value(v))))
            return s_fail(c, "command", "out of memory");
        r->ncommand = 1;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return s_fail(c, "command", "must be a non-empty array of strings");
    if (r->shell && json_array_size(v) != 1)
        return s_fail(c, "command", "of a shell role must be one string (the shell line)");
    char why[300];
    if (r->shell && json_is_string(json_array_get(v, 0)) &&
        !tpl_shell_safe(json_string_value(json_array_get(v, 0)), why, sizeof why))
        return s_fail(c, "command:", why);
    r->command = calloc(json_array_size(v), sizeof(char *));
    if (!r->command)
        return s_fail(c, "command", "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return s_fail(c, "command", "must be a non-empty array of strings");
        if (!(r->command[i] = strdup(json_string_value(e))))
            return s_fail(c, "command", "out of memory");
        r->ncommand = i + 1;
    }
    return 0;
}

static int s_env(s_ctx_t *c, role_t *r, json_t *v)
{
    if (!json_is_object(v))
        return s_fail(c, "env", "must be an object of strings");
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
        if (!json_is_string(e) || !*k || strchr(k, '='))
            return s_fail(c, "env", "must map variable names to strings");
        if (kv_set(&r->env, k, json_string_value(e)) != 0)
            return s_fail(c, "env", "out of memory");
    }
    return 0;
}

/* Labels every worker that runs the role's jobs must carry. */
static int s_where(s_ctx_t *c, role_t *r, json_t *v)
{
    const char *what = "must map label names (letters, digits, _ . -) to values without ','";
    if (!json_is_object(v))
        return s_fail(c, "where", what);
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
        if (!json_is_string(e) || !kv_name_valid(k, strlen(k)) || strchr(json_string_value(e), ','))
            return s_fail(c, "where", what);
        if (kv_set(&r->where, k, json_string_value(e)) != 0)
            return s_fail(c, "where", "out of memory");
    }
    return 0;
}

static int s_permissions(s_ctx_t *c, role_t *r, json_t *v)
{
    const char *what = "must be an array of scopes (admin, read, submit:ROLE, submit:*, "
                       "worker:ID)";
    if (!json_is_array(v) || json_array_size(v) > ROLE_PERMISSIONS_MAX)
        return s_fail(c, "permissions", what);
    r->permissions = calloc(json_array_size(v) + 1, sizeof(char *));
    if (!r->permissions)
        return s_fail(c, "permissions", "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || !role_scope_valid(json_string_value(e), json_string_length(e)))
            return s_fail(c, "permissions", what);
        if (!(r->permissions[i] = strdup(json_string_value(e))))
            return s_fail(c, "permissions", "out of memory");
        r->npermissions = i + 1;
    }
    return 0;
}

/* Cron schedules and file watches; an error names the trigger's index. */
static int s_triggers(s_ctx_t *c, role_t *r, json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) > TRIGGER_MAX)
        return s_fail(c, "triggers", "must be an array of at most 16 trigger objects");
    r->triggers = calloc(json_array_size(v) + 1, sizeof(trigger_t *));
    if (!r->triggers)
        return s_fail(c, "triggers", "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char why[300];
        if (!(r->triggers[i] = trigger_from_json(e, c->stored, why, sizeof why))) {
            snprintf(c->err, c->errlen, "role '%s': triggers[%zu].%s", c->role, i, why);
            return -1;
        }
        r->ntriggers = i + 1;
    }
    return 0;
}

static int s_field(s_ctx_t *c, role_t *r, const char *key, json_t *v)
{
    if (strcmp(key, "name") == 0)
        return 0;
    if (strcmp(key, "shell") == 0)
        return 0; /* read first, in s_role_from_json */
    if (strcmp(key, "command") == 0)
        return s_command(c, r, v);
    if (strcmp(key, "timeout_ms") == 0)
        return s_uint(c, v, key, 0, &r->timeout_ms);
    if (strcmp(key, "max_attempts") == 0)
        return s_uint(c, v, key, 1, &r->max_attempts);
    if (strcmp(key, "max_concurrency") == 0)
        return s_uint(c, v, key, 0, &r->max_concurrency);
    if (strcmp(key, "backoff_base_ms") == 0)
        return s_uint(c, v, key, 0, &r->backoff_base_ms);
    if (strcmp(key, "backoff_max_ms") == 0)
        return s_uint(c, v, key, 0, &r->backoff_max_ms);
    if (strcmp(key, "env") == 0)
        return s_env(c, r, v);
    if (strcmp(key, "where") == 0)
        return s_where(c, r, v);
    if (strcmp(key, "enabled") == 0) {
        if (!json_is_boolean(v))
            return s_fail(c, key, "must be true or false");
        r->enabled = json_is_true(v);
        return 0;
    }
    if (strcmp(key, "permissions") == 0)
        return s_permissions(c, r, v);
    if (strcmp(key, "triggers") == 0)
        return s_triggers(c, r, v);
    return s_fail(c, key, "is not a role field (known: name, command, shell, timeout_ms, "
                          "max_attempts, backoff_base_ms, backoff_max_ms, max_concurrency, env, "
                          "where, enabled, permissions, triggers)");
}

static role_t *s_role_from_json(json_t *o, const char *label, char *err, size_t errlen)
{
    s_ctx_t c = { err, errlen, label, false };
    if (!json_is_object(o)) {
        s_fail(&c, "entry", "must be an object");
        return NULL;
    }
    json_t *name = json_object_get(o, "name");
    if (!json_is_string(name) || !role_name_valid(json_string_value(name))) {
        s_fail(&c, "name", "must be 1-64 characters of letters, digits, _ . -");
        return NULL;
    }
    c.role = json_string_value(name);
    role_t *r = s_role_new(c.role);
    json_t *shell = json_object_get(o, "shell");
    if (!r || (shell && !json_is_boolean(shell))) {
        s_fail(&c, "shell", r ? "must be true or false" : "out of memory");
        role_destroy(&r);
        return NULL;
    }
    r->shell = json_is_true(shell);
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (s_field(&c, r, key, v) != 0) {
            role_destroy(&r);
            return NULL;
        }
    }
    if (r->ncommand == 0) {
        s_fail(&c, "command", "is missing");
        role_destroy(&r);
    }
    return r;
}

static int s_add_all(roleset_t *set, json_t *roles, char *err, size_t errlen)
{
    size_t first = set->n, i;
    json_t *o;
    json_array_foreach(roles, i, o) {
        char label[32];
        snprintf(label, sizeof label, "#%zu", i + 1);
        role_t *r = s_role_from_json(o, label, err, errlen);
        if (r && roleset_find(set, r->name)) {
            snprintf(err, errlen, "role '%s' is defined twice (or is built in)", r->name);
            role_destroy(&r);
        }
        if (!r || s_push(set, r) != 0) {
            role_destroy(&r);
            while (set->n > first)
                role_destroy(&set->items[--set->n]);
            return -1;
        }
    }
    return 0;
}

role_t *role_from_json(const json_t *o, char *err, size_t errlen)
{
    return s_role_from_json((json_t *) o, "(new)", err, errlen);
}

int role_set_triggers(role_t *r, const json_t *triggers, char *err, size_t errlen)
{
    s_ctx_t c = { err, errlen, r->name, true };
    if (r->ntriggers > 0 || r->triggers)
        return s_fail(&c, "triggers", "are already set");
    if (s_triggers(&c, r, (json_t *) triggers) == 0)
        return 0;
    s_free_triggers(r);
    return -1;
}

/* ---- JSON writing ---------------------------------------------------------- */

static json_t *s_strings(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *s_env_json(const kvlist_t *env)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < env->n; i++)
        if (json_object_set_new(o, env->items[i].key, json_string(env->items[i].val)) != 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

json_t *role_triggers_json(const role_t *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < r->ntriggers; i++)
        if (json_array_append_new(a, trigger_to_json(r->triggers[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *role_to_json(const role_t *r)
{
    json_t *o = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:b,s:o}",
                          "name", r->name, "shell", r->shell,
                          "timeout_ms", (json_int_t) r->timeout_ms,
                          "max_attempts", (json_int_t) r->max_attempts,
                          "backoff_base_ms", (json_int_t) r->backoff_base_ms,
                          "backoff_max_ms", (json_int_t) r->backoff_max_ms,
                          "max_concurrency", (json_int_t) r->max_concurrency,
                          "env", s_env_json(&r->env), "where", s_env_json(&r->where),
                          "enabled", r->enabled,
                          "permissions", s_strings(r->permissions, r->npermissions));
    if (o && json_object_set_new(o, "triggers", role_triggers_json(r)) != 0) {
        json_decref(o);
        return NULL;
    }
    if (!o || r->ncommand == 0)
        return o;
    json_t *cmd = r->shell ? json_string(r->command[0]) : s_strings(r->command, r->ncommand);
    if (json_object_set_new(o, "command", cmd) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- files ------------------------------------------------------------------ */

static int s_load_doc(roleset_t *set, json_t *doc, char *err, size_t errlen)
{
    json_t *roles = json_object_get(doc, "roles");
    if (!json_is_object(doc) || !json_is_array(roles)) {
        snprintf(err, errlen, "expected {\"roles\": [...]}");
        return -1;
    }
    return s_add_all(set, roles, err, errlen);
}

int roleset_load_json(roleset_t *set, const char *text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (!doc) {
        snprintf(err, errlen, "line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    int rc = s_load_doc(set, doc, err, errlen);
    json_decref(doc);
    return rc;
}

int roleset_load_file(roleset_t *set, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    char inner[200];
    int rc = s_load_doc(set, doc, inner, sizeof inner);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, inner);
    json_decref(doc);
    return rc;
}
