/*  mesh/runner.c — fork and exec one job's command, and signal or reap it.

    Everything that can fail or allocate happens in the parent before fork():
    the work directory is opened, the executable is resolved (PATH taken from
    the job's own envp), stdin is opened, the two pipes are made and the
    messages the child may need are formatted. A failure there returns -1
    with a reason and leaves nothing open and no child behind.

    The child then runs only async-signal-safe calls, in this order:
      setpgid(0,0) -> default dispositions for every signal -> empty mask ->
      move its three source fds above 2 -> dup2 onto 2, 1, 0 -> fchdir ->
      close_range(3, ~0U) -> execve.
    Resetting dispositions matters for SIG_IGN (which exec keeps) and the mask
    matters because the worker blocks signals for its signalfd (exec keeps
    the mask too). Dispositions go first so a signal unblocked by the mask
    reset can only meet SIG_DFL. If any step fails the child writes
    "popebot: ..." to fd 2 (the stderr pipe once dup2 is done) with write()
    and _exit(127)s.

    The parent also calls setpgid(pid, pid), so the group exists before
    runner_spawn returns, whichever of parent or child runs first.

    Relative PATH entries (and the empty entry, meaning ".") are resolved
    against work_dir, and a relative argv[0] with a '/' is taken relative to
    work_dir, because that is the child's cwd when it calls execve.
    runner_resolve runs that same lookup without spawning and canonicalises
    the result; a caller that checks it (the worker's --allow-command) passes
    it back as spec->path, and then no lookup happens at spawn time.
*/
#include "mesh/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define S_EXIT_FAILED  127

/* What the child needs; all of it is ready before fork(). */
typedef struct {
    int in_fd;                  /* stdin source (file or /dev/null) */
    int out_r, out_w;           /* stdout pipe: parent reads out_r */
    int err_r, err_w;           /* stderr pipe: parent reads err_r */
    int wd_fd;                  /* the work directory */
    char *path;                 /* resolved executable (malloc'd) */
    char exec_msg[320];         /* "popebot: exec NAME: " */
    size_t exec_len;
    char chdir_msg[320];        /* "popebot: chdir WORK_DIR: " */
    size_t chdir_len;
    int open_max;               /* fallback bound if close_range fails */
    const hide_t *hide;         /* covered in the child before exec, or NULL */
} s_prep_t;

static void __attribute__((format(printf, 3, 4)))
s_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)            /* keep it one printable line */
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void
s_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void
s_prep_close(s_prep_t *p)
{
    s_close(&p->in_fd);
    s_close(&p->out_r);
    s_close(&p->out_w);
    s_close(&p->err_r);
    s_close(&p->err_w);
    s_close(&p->wd_fd);
    free(p->path);
    p->path = NULL;
}

/* Format "popebot: WHAT ARG: " for the child, one line, at most 200 bytes
   of ARG. Returns its length. */
static size_t
s_format_msg(char *buf, size_t size, const char *what, const char *arg)
{
    int n = snprintf(buf, size, "popebot: %s %.200s: ", what, arg);
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = '?';
    return n < 0 ? 0 : (size_t) n;
}

/* ---- executable lookup ------------------------------------------------- */

static bool
s_is_executable(int dirfd, const char *path)
{
    struct stat st;
    return fstatat(dirfd, path, &st, 0) == 0 && S_ISREG(st.st_mode)
        && faccessat(dirfd, path, X_OK, AT_EACCESS) == 0;
}

/* runner_which, with relative PATH entries taken relative to dirfd. */
static char *
s_which_at(int dirfd, const char *name, const char *path_env)
{
    if (!name || !*name)
        return NULL;
    if (strchr(name, '/'))
        return strdup(name);
    if (!path_env)
        path_env = S_DEFAULT_PATH;
    size_t nlen = strlen(name);
    for (const char *dir = path_env;; ) {
        const char *end = strchrnul(dir, ':');
        size_t dlen = (size_t) (end - dir);
        char *cand = malloc(dlen + nlen + 3);
        if (!cand)
            return NULL;
        if (dlen == 0) {                    /* empty entry means "." */
            dir = ".";
            dlen = 1;
        }
        memcpy(cand, dir, dlen);
        cand[dlen] = '/';
        memcpy(cand + dlen + 1, name, nlen + 1);
        if (s_is_executable(dirfd, cand))
            return cand;
        free(cand);
        if (!*end)
            return NULL;
        dir = end + 1;
    }
}

char *
runner_which(const char *name, const char *path_env)
{
    return s_which_at(AT_FDCWD, name, path_env);
}

static const char *
s_env_path(char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            return envp[i] + 5;
    return S_DEFAULT_PATH;
}

/* found (from s_which_at) made absolute against work_dir, then canonical. */
static char *
s_canonical(const char *work_dir, const char *found, char *err, size_t errlen)
{
    char *abs = NULL;
    if (found[0] == '/')
        abs = strdup(found);
    else if (asprintf(&abs, "%s/%s", work_dir, found) < 0)
        abs = NULL;
    char *real = abs ? realpath(abs, NULL) : NULL;
    if (!abs)
        s_seterr(err, errlen, "out of memory");
    else if (!real)
        s_seterr(err, errlen, "%.200s: %s", abs, strerror(errno));
    free(abs);
    return real;
}

char *
runner_resolve(const runner_spec_t *spec, char *err, size_t errlen)
{
    if (!spec || !spec->argv || !spec->argv[0] || !spec->work_dir) {
        s_seterr(err, errlen, "resolve: argv[0] and work_dir are required");
        return NULL;
    }
    int wd = open(spec->work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (wd < 0) {
        s_seterr(err, errlen, "work dir %s: %s", spec->work_dir, strerror(errno));
        return NULL;
    }
    char *found = s_which_at(wd, spec->argv[0], s_env_path(spec->envp));
    close(wd);
    if (!found) {
        s_seterr(err, errlen, "command not found: %s", spec->argv[0]);
        return NULL;
    }
    char *real = s_canonical(spec->work_dir, found, err, errlen);
    free(found);
    return real;
}

/* ---- the child --------------------------------------------------------- */

/* A few errno texts as constants: strerror() is not async-signal-safe. */
static const char *
s_errtext(int e)
{
    switch (e) {
    case EACCES:       return "Permission denied";
    case ENOENT:       return "No such file or directory";
    case ENOEXEC:      return "Exec format error";
    case ENOTDIR:      return "Not a directory";
    case ELOOP:        return "Too many levels of symbolic links";
    case ENAMETOOLONG: return "File name too long";
    case E2BIG:        return "Argument list too long";
    case ENOMEM:       return "Cannot allocate memory";
    case ETXTBSY:      return "Text file busy";
    case EISDIR:       return "Is a directory";
    case EPERM:        return "Operation not permitted";
    case EMFILE:       return "Too many open files";
    case EIO:          return "Input/output error";
    default:           return "unexpected error";
    }
}

static void __attribute__((noreturn))
s_child_fail(const char *msg, size_t len, int e)
{
    const char *text = s_errtext(e);
    ssize_t rc = write(2, msg, len);
    rc = write(2, text, strlen(text));
    rc = write(2, "\n", 1);
    (void) rc;
    _exit(S_EXIT_FAILED);
}

static void __attribute__((noreturn))
s_child(const s_prep_t *p, char *const *argv, char *const *envp)
{
    static const char setup_msg[] = "popebot: child setup: ";
    setpgid(0, 0);

    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        (void) sigaction(sig, &dfl, NULL);  /* EINVAL for KILL/STOP: fine */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    /* If the worker ran with 0, 1 or 2 closed, a source fd may sit on one
       of the targets; move such fds out of the way first. */
    int src[3] = { p->in_fd, p->out_w, p->err_w };
    for (int i = 0; i < 3; i++)
        if (src[i] < 3 && (src[i] = fcntl(src[i], F_DUPFD, 3)) < 0)
            _exit(S_EXIT_FAILED);
    if (dup2(src[2], 2) < 0)
        _exit(S_EXIT_FAILED);
    if (dup2(src[1], 1) < 0 || dup2(src[0], 0) < 0)
        s_child_fail(setup_msg, sizeof setup_msg - 1, errno);
    static const char hide_msg[] = "popebot: hiding the worker's keys from the job: ";
    if (p->hide && hide_apply(p->hide) != 0)
        s_child_fail(hide_msg, sizeof hide_msg - 1, errno);
    if (fchdir(p->wd_fd) < 0)
        s_child_fail(p->chdir_msg, p->chdir_len, errno);
    if (close_range(3, ~0U, 0) < 0) {
        for (int fd = 3; fd < p->open_max; fd++)   /* old kernel */
            close(fd);
    }
    execve(p->path, argv, envp);
    s_child_fail(p->exec_msg, p->exec_len, errno);
}

/* ---- the parent -------------------------------------------------------- */

static int
s_pipe(int *r, int *w)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    *r = fds[0];
    *w = fds[1];
    int fl = fcntl(*r, F_GETFL);
    return fl < 0 || fcntl(*r, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

/* Open and resolve everything the child needs. */
static int
s_prepare(const runner_spec_t *spec, s_prep_t *p, char *err, size_t errlen)
{
    const char *name = spec->argv[0];
    p->wd_fd = open(spec->work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->wd_fd < 0) {
        s_seterr(err, errlen, "work dir %s: %s", spec->work_dir, strerror(errno));
        return -1;
    }
    p->path = spec->path ? strdup(spec->path)
                         : s_which_at(p->wd_fd, name, s_env_path(spec->envp));
    if (!p->path) {
        if (spec->path)
            s_seterr(err, errlen, "out of memory");
        else
            s_seterr(err, errlen, "command not found: %s", name);
        return -1;
    }
    const char *in = spec->stdin_path ? spec->stdin_path : "/dev/null";
    p->in_fd = open(in, O_RDONLY | O_CLOEXEC);
    if (p->in_fd < 0) {
        s_seterr(err, errlen, "stdin %s: %s", in, strerror(errno));
        return -1;
    }
    if (s_pipe(&p->out_r, &p->out_w) < 0 || s_pipe(&p->err_r, &p->err_w) < 0) {
        s_seterr(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    p->exec_len = s_format_msg(p->exec_msg, sizeof p->exec_msg, "exec", name);
    p->chdir_len = s_format_msg(p->chdir_msg, sizeof p->chdir_msg, "chdir",
                                spec->work_dir);
    long max = sysconf(_SC_OPEN_MAX);
    p->open_max = max > 0 && max < 65536 ? (int) max : 65536;
    p->hide = spec->hide;
    return 0;
}

/* The child is running but we cannot track it: kill it and wait for it. */
static void
s_abandon(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int
runner_spawn(const runner_spec_t *spec, runner_proc_t *proc, char *err, size_t errlen)
{
    proc->pid = -1;
    proc->pidfd = proc->out_fd = proc->err_fd = -1;
    if (!spec || !spec->argv || !spec->argv[0] || !spec->work_dir) {
        s_seterr(err, errlen, "spawn: argv[0] and work_dir are required");
        return -1;
    }
    static char *const no_env[] = { NULL };
    char *const *envp = spec->envp ? spec->envp : no_env;

    s_prep_t p = { .in_fd = -1, .out_r = -1, .out_w = -1,
                   .err_r = -1, .err_w = -1, .wd_fd = -1 };
    if (s_prepare(spec, &p, err, errlen) < 0) {
        s_prep_close(&p);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        s_seterr(err, errlen, "fork: %s", strerror(errno));
        s_prep_close(&p);
        return -1;
    }
    if (pid == 0)
        s_child(&p, spec->argv, envp);

    setpgid(pid, pid);          /* may fail once the child has exec'd: fine */
    int pidfd = pidfd_open(pid, 0);
    if (pidfd < 0 || fcntl(pidfd, F_SETFD, FD_CLOEXEC) < 0) {
        s_seterr(err, errlen, "pidfd_open: %s", strerror(errno));
        if (pidfd >= 0)
            close(pidfd);
        s_abandon(pid);
        s_prep_close(&p);
        return -1;
    }
    proc->pid = pid;
    proc->pidfd = pidfd;
    proc->out_fd = p.out_r;
    proc->err_fd = p.err_r;
    p.out_r = p.err_r = -1;     /* now owned by proc */
    s_prep_close(&p);
    return 0;
}

int
runner_signal_group(const runner_proc_t *proc, int sig)
{
    if (!proc || proc->pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    return kill(-proc->pid, sig);
}

/* On exit sets *exit_code and *term_signal = 0; on a signal sets
   *term_signal and *exit_code = -1. Either pointer may be NULL. */
int
runner_reap(runner_proc_t *proc, int *exit_code, int *term_signal)
{
    if (!proc || proc->pid <= 0) {
        errno = ECHILD;
        return -1;
    }
    int status;
    pid_t r;
    while ((r = waitpid(proc->pid, &status, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return -1;
    if (r == 0 || !(WIFEXITED(status) || WIFSIGNALED(status)))
        return 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (exit_code)
        *exit_code = code;
    if (term_signal)
        *term_signal = sig;
    return 1;
}

void
runner_close(runner_proc_t *proc)
{
    if (!proc)
        return;
    s_close(&proc->pidfd);
    s_close(&proc->out_fd);
    s_close(&proc->err_fd);
}
