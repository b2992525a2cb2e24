/*  mesh/runner.h — start and stop one job's process tree.

    A job's command runs as a child in its own process group (setpgid), with
    a clean environment that the caller builds, its work directory as cwd, a
    file (the payload) as stdin, and stdout/stderr on two non-blocking,
    close-on-exec pipes. The caller (the worker loop) polls the two pipes and
    the pidfd; this module never blocks and never prints.

    Rules it keeps:
    - Between fork() and exec() the child calls only async-signal-safe
      functions: everything it needs (argv, envp, the resolved executable
      path) is prepared before fork().
    - The child starts with an empty signal mask and default dispositions,
      whatever the worker blocked for its signalfd.
    - Every file descriptor of the worker above 2 is closed in the child.
    - If exec fails the child writes "popebot: exec NAME: REASON" to its
      stderr pipe and exits 127, as shells do.
*/
#ifndef POPEBOT_MESH_RUNNER_H
#define POPEBOT_MESH_RUNNER_H

#include <stdbool.h>
#include <sys/types.h>
#include "mesh/hide.h"

typedef struct {
    char *const *argv;        /* NULL-terminated; argv[0] is looked up in PATH
                                 taken from envp when it holds no '/' */
    char *const *envp;        /* NULL-terminated, the job's whole environment */
    const char *work_dir;     /* existing directory: the child's cwd */
    const char *stdin_path;   /* opened read-only as stdin; NULL = /dev/null */
    const char *path;         /* executable to run as is (e.g. what
                                 runner_resolve returned); NULL = resolve
                                 argv[0] as described above */
    const hide_t *hide;       /* a directory the child must not see
                                 (mesh/hide.h); NULL = none */
} runner_spec_t;

typedef struct {
    pid_t pid;                /* also the process group id */
    int pidfd;                /* readable when the child exited; -1 if closed */
    int out_fd;               /* child's stdout, non-blocking; -1 once closed */
    int err_fd;               /* child's stderr, non-blocking; -1 once closed */
} runner_proc_t;

/* Start the child. Returns 0, or -1 with a one-line reason in err. */
int runner_spawn(const runner_spec_t *spec, runner_proc_t *proc, char *err, size_t errlen);

/* Send sig to the child's whole process group. Returns 0 or -1 (errno). */
int runner_signal_group(const runner_proc_t *proc, int sig);

/* Reap the child if it has exited. Returns 1 when reaped, with *exit_code
   (0-255) or *term_signal (>0) set; 0 while still running; -1 on error. */
int runner_reap(runner_proc_t *proc, int *exit_code, int *term_signal);

/* Close every descriptor still open in proc (pidfd and pipes). */
void runner_close(runner_proc_t *proc);

/* Resolve NAME against the PATH value given (as execvp would).
   Returns a malloc'd path, or NULL when no executable is found. */
char *runner_which(const char *name, const char *path_env);

/* The executable runner_spawn would run for spec (argv[0] looked up exactly
   as it does: PATH from envp, relative entries against work_dir), as a
   canonical absolute path (realpath: no symlinks, no "." or ".."). Returns
   a malloc'd path, or NULL with a one-line reason in err. Passing the result
   as spec->path makes runner_spawn execute the very file that was checked. */
char *runner_resolve(const runner_spec_t *spec, char *err, size_t errlen);

#endif
