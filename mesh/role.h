/*  mesh/role.h — what a role is and where role definitions come from.

    A role is a kind of job: a name, an argv template (or a shell line), a
    timeout, how many attempts a job gets, how many of its jobs may run at once
    across the whole mesh, and extra environment. Two built-in roles exist in
    every mesh: "echo" (the result is the payload) and "sleep" (payload
    {"ms": N}); workers run them in-process, without forking.

    Role files are JSON: {"roles": [{...}, ...]}. Parsing is strict: an unknown
    field, a wrong type or a bad name is an error that names the role and the
    field, because a typo in a role must not silently change what runs.

    The same strict parser reads one role object of the HTTP API
    (role_from_json), and role_to_json writes a role back in the file's
    shape, so what the API shows is what a roles file would say. A role's
    "triggers" (cron schedules, file watches) are parsed by mesh/trigger.c.

    A role is never freed while the coordinator runs, because jobs and the
    scheduler borrow role_t pointers: a new definition replaces the old one
    in place (role_take_def), and a deleted role keeps its name with no
    command (role_clear: "vanished", refused like an unknown role).
*/
#ifndef POPEBOT_MESH_ROLE_H
#define POPEBOT_MESH_ROLE_H

#include <stdbool.h>
#include <stdint.h>
#include "mesh/kv.h"

#define ROLE_DEFAULT_MAX_ATTEMPTS 3
#define ROLE_DEFAULT_BACKOFF_BASE_MS 1000
#define ROLE_DEFAULT_BACKOFF_MAX_MS 60000
#define ROLE_PERMISSIONS_MAX 64   /* scopes in one role's permissions */

struct json_t;
struct trigger;

typedef struct {
    char *name;
    char **command;           /* argv template; a shell role has one line */
    size_t ncommand;          /* 0 for built-in roles */
    bool shell;               /* run command[0] with /bin/sh -c */
    bool builtin;             /* echo or sleep: run inside the worker */
    uint32_t timeout_ms;      /* 0 = no timeout */
    uint32_t max_attempts;    /* >= 1 */
    uint32_t backoff_base_ms; /* delay before the first retry (doubles each time) */
    uint32_t backoff_max_ms;  /* cap of that delay */
    uint32_t max_concurrency; /* 0 = unlimited, across the whole mesh */
    kvlist_t env;             /* extra environment for the job */
    kvlist_t where;           /* labels a worker needs to run its jobs (and each job's own) */
    bool enabled;             /* false: new jobs of the role are refused */
    char **permissions;       /* scopes that may trigger it; none = submit:NAME */
    size_t npermissions;
    struct trigger **triggers; /* cron schedules and file watches (mesh/trigger.h), owned */
    size_t ntriggers;
} role_t;

typedef struct {
    role_t **items;
    size_t n;
} roleset_t;

/* A set holding only the built-in roles. Returns 0 or -1 (ENOMEM). */
int roleset_init(roleset_t *set);
/* Load a roles file into set (after the built-ins). 0, or -1 with err. */
int roleset_load_file(roleset_t *set, const char *path, char *err, size_t errlen);
/* Parse roles from JSON text; same rules as the file. */
int roleset_load_json(roleset_t *set, const char *text, char *err, size_t errlen);
role_t *roleset_find(const roleset_t *set, const char *name);
/* Append r (the set takes it; the caller checked the name is free).
   0, or -1 (ENOMEM: r is still the caller's). */
int roleset_add(roleset_t *set, role_t *r);
void roleset_free(roleset_t *set);

bool role_name_valid(const char *name);
/* Whether s is one scope word a permission may name: admin, read,
   submit:ROLE, submit:* or worker:ID (the grammar of store/auth.h). */
bool role_scope_valid(const char *s, size_t len);
void role_destroy(role_t **self_p);

/* One role object, by the roles file's rules. NULL with err (which names
   the role and the field). */
role_t *role_from_json(const struct json_t *o, char *err, size_t errlen);
/* The role as the roles file would hold it (with enabled and permissions);
   a new reference, NULL when out of memory. Built-ins have no command. */
struct json_t *role_to_json(const role_t *r);
/* Parse a stored "triggers" array into r, which has none yet (a zone that
   cannot be read any more idles its trigger: trigger_from_json's "stored").
   0, or -1 with err (r unchanged). */
int role_set_triggers(role_t *r, const struct json_t *triggers, char *err, size_t errlen);
/* r's triggers as an array (empty when none); NULL when out of memory. */
struct json_t *role_triggers_json(const role_t *r);
/* Move src's definition (all but the name) into dst, free dst's old one
   and src itself. dst keeps its address, so borrowed pointers stay good. */
void role_take_def(role_t *dst, role_t **src_p);
/* Drop the definition and keep the name: the role has vanished. */
void role_clear(role_t *r);
/* Whether the role can take new jobs' definitions at all: a built-in or a
   role with a command (not vanished). */
bool role_defined(const role_t *r);

#endif
