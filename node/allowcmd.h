/*  node/allowcmd.h — the worker's --allow-command list.

    The list names the executables a worker will start for command jobs.
    Empty means no restriction (any command, the default). Entries are
    absolute paths; a job's executable is allowed when its canonical path
    (realpath, as mesh/runner's runner_resolve gives it) equals the
    canonical path of an entry. Entries are canonicalised at each check, so
    an entry that is a symlink allows whatever it points to when the job
    starts, and an entry missing at that moment allows nothing.

    A shell role runs /bin/sh, so the list must hold /bin/sh (or a path to
    the same file) for shell roles to run. Built-in roles never reach here.
*/
#ifndef POPEBOT_NODE_ALLOWCMD_H
#define POPEBOT_NODE_ALLOWCMD_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char **paths;             /* as given on the command line, owned */
    size_t n;                 /* 0: any command may run */
} allowcmd_t;

/* Parse "PATH,PATH,..." (empty entries are skipped). Returns 0, or -1 with
   a one-line reason in err (an entry that is not absolute, out of memory);
   a is then empty. */
int allowcmd_parse(allowcmd_t *a, const char *list, char *err, size_t errlen);
void allowcmd_free(allowcmd_t *a);

/* Whether a restricts anything (NULL and empty do not). */
bool allowcmd_active(const allowcmd_t *a);

/* Whether the canonical path real is allowed by a. */
bool allowcmd_match(const allowcmd_t *a, const char *real);

/* The list for the start log: "any (--allow-command not set)", or each
   entry with what it resolves to now ("/bin/sh -> /usr/bin/dash",
   "/opt/x (not found)"). A malloc'd string, or NULL on ENOMEM. */
char *allowcmd_describe(const allowcmd_t *a);

#endif
