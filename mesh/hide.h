/*  mesh/hide.h — hide one directory (a worker's keys) from a job's process.

    In the child, between fork and exec, hide_apply() gives the job its own
    mount namespace with an empty read-only tmpfs over the directory, so the
    job sees an empty directory where the worker keeps its CURVE keys.
    A worker running as an ordinary user (the recommended way) first enters
    a new user namespace that maps only its own uid and gid, which is what
    lets it make the mount; the job then has no capabilities and cannot undo
    it. A worker running as root skips the user namespace: its jobs are root
    and could unmount the tmpfs, which is why root workers are warned about.

    hide_probe() tries all of it once in a throw-away child at the worker's
    start, so a kernel that forbids it is known before any job runs.
*/
#ifndef POPEBOT_MESH_HIDE_H
#define POPEBOT_MESH_HIDE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char dir[4096];           /* the directory to cover */
    bool root;                /* running as root: no user namespace */
    char uid_map[48];         /* "UID UID 1\n" */
    char gid_map[48];         /* "GID GID 1\n" */
} hide_t;

/* Fill h for dir (before fork). 0, or -1 when dir is too long. */
int hide_prepare(hide_t *h, const char *dir);
/* In the child, before exec: async-signal-safe. 0, or -1 with errno. */
int hide_apply(const hide_t *h);
/* Whether hiding works here: 0, or -1 with a one-line reason. */
int hide_probe(const hide_t *h, char *err, size_t errlen);

#endif
