/*  mesh/role.h — what a role is and where role definitions come from.

    A role is a kind of job: a name, an argv template (or a shell line), a
    timeout, how many attempts a job gets, how many of its jobs may run at once
    across the whole mesh, and extra environment. Two built-in roles exist in
    every mesh: "echo" (the result is the payload) and "sleep" (payload
    {"ms": N}); workers run them in-process, without forking.

    Role files are JSON: {"roles": [{...}, ...]}. Parsing is strict: an unknown
    field, a wrong type or a bad name is an error that names the role and the
    field, because a typo in a role must not silently change what runs.
*/
#ifndef POPEBOT_MESH_ROLE_H
#define POPEBOT_MESH_ROLE_H

#include <stdbool.h>
#include <stdint.h>
#include "mesh/kv.h"

#define ROLE_DEFAULT_MAX_ATTEMPTS 3
#define ROLE_DEFAULT_BACKOFF_BASE_MS 1000
#define ROLE_DEFAULT_BACKOFF_MAX_MS 60000

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
void roleset_free(roleset_t *set);

bool role_name_valid(const char *name);
void role_destroy(role_t **self_p);

#endif
