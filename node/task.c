/*  node/task.c — one job attempt running on this worker (task.h).

    Three kinds of task, decided by the lease: a lease with no command whose
    role is "echo" or "sleep" is a built-in; everything else is a command.
      echo     finishes inside task_start: the payload is the result.
      sleep    {"ms": N} in the payload; a timer, nothing else.
      command  work dir <work_root>/<job_id>.<attempt> (0700) holding
               payload.json (the child's stdin) and maybe result.json;
               argv from the role's template; a clean environment; the
               process runs in its own group via mesh/runner. With an
               allow-list (--allow-command) the executable is resolved
               first (runner_resolve) and run only if listed, by the very
               canonical path that was checked.

    The life of a command, as timers and descriptors move it on:
      spawned --timeout--> SIGTERM --kill_grace--> SIGKILL
      spawned --REVOKE---> SIGTERM --kill_grace--> SIGKILL
      pidfd readable -> reaped: SIGKILL to the group, pidfd closed, pipes
                        get S_EOF_WAIT_MS to reach EOF, then are closed
      reaped and both pipes closed -> finished: outcome, result, work dir
                        removed.
    Outcome precedence: timed out, then cancelled, then the exit status.

    Timers are absolute CLOCK_MONOTONIC milliseconds; S_NEVER means off.
    Every string of the task is owned by it; task_outcome moves the
    outcome's strings (and the job id) to the caller.
*/
#include "node/task.h"
#include "mesh/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mesh/kv.h"
#include "mesh/runner.h"
#include "mesh/template.h"

#define S_NEVER        INT64_MAX
#define S_TAIL_MAX     (64 * 1024)      /* stdout kept for the result */
#define S_RESULT_MAX   (1024 * 1024)    /* largest result.json taken */
#define S_EOF_WAIT_MS  1000             /* pipes' grace after the reap */
#define S_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define S_SLEEP_USAGE  "sleep: payload must be {\"ms\": N}"

typedef enum { S_ECHO, S_SLEEP, S_COMMAND } s_kind_t;

/* Output of one stream not yet handed to the worker. */
typedef struct {
    char *data;               /* TASK_LOG_MAX bytes, allocated at spawn */
    size_t len;               /* bytes waiting */
    int64_t first_at;         /* when the first waiting byte was read */
} s_logbuf_t;

struct task {
    /* the lease, copied */
    char *job_id;             /* NULL once moved out by task_outcome */
    uint32_t attempt;
    char *role;
    char *payload;            /* JSON text, NUL-terminated */
    size_t payload_len;
    char **command;           /* argv template (or one shell line) */
    size_t ncommand;
    bool shell;               /* command[0] is a /bin/sh -c line */
    kvlist_t env;             /* the role's env; values are templates */
    uint32_t timeout_ms;      /* 0 = none */
    task_ctx_t ctx;           /* the worker it runs on */
    s_kind_t kind;

    /* progress */
    bool finished;            /* outcome is set */
    bool timed_out;           /* the timeout fired first */
    bool cancelled;           /* a REVOKE came */
    int64_t timeout_at;       /* when the timeout fires */
    int64_t kill_at;          /* when SIGKILL follows SIGTERM */
    int64_t sleep_until;      /* built-in sleep: when it is done */
    uint32_t sleep_ms;        /* built-in sleep: how long */
    int64_t eof_at;           /* after the reap: when pipes are closed anyway */

    /* command */
    char *work_dir;           /* path, NULL when not made or removed */
    runner_proc_t proc;       /* pid, pidfd and pipes */
    bool spawned;             /* proc holds a child */
    bool reaped;              /* the child was waited for */
    int reap_errno;           /* waitpid failed with this (0: it did not) */
    int exit_code;            /* 0-255, or -1 when killed by a signal */
    int term_signal;          /* > 0 when killed by a signal */
    s_logbuf_t logs[2];       /* stdout, stderr */
    char *tail;               /* last S_TAIL_MAX bytes of stdout */
    size_t tail_len;

    /* outcome, valid once finished */
    const char *state;        /* static string */
    bool has_exit_code;
    int32_t out_exit_code;
    char *result;             /* JSON text or NULL */
    char *error;              /* or NULL */
};

/* ---- small helpers ------------------------------------------------------- */

static char * __attribute__((format(printf, 1, 2)))
s_strdupf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    return rc < 0 ? NULL : s;
}

/* A wire string as an owned C string; nil becomes "". */
static char *
s_dup(pb_str_t s)
{
    char *out = malloc((size_t) s.len + 1);
    if (!out)
        return NULL;
    if (s.len)
        memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return out;
}

static void
s_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int
s_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) st;
    (void) type;
    (void) ftw;
    remove(path);             /* best effort: keep going */
    return 0;
}

/* Remove a directory tree without following symlinks. */
static void
s_remove_tree(const char *path)
{
    nftw(path, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
s_remove_work_dir(task_t *t)
{
    if (!t->work_dir)
        return;
    s_remove_tree(t->work_dir);
    free(t->work_dir);
    t->work_dir = NULL;
}

static void
s_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---- outcome ------------------------------------------------------------- */

/* Set the outcome; takes ownership of result and error. */
static void
s_finish(task_t *t, const char *state, bool has_exit, int exit_code,
         char *result, char *error)
{
    t->finished = true;
    t->state = state;
    t->has_exit_code = has_exit;
    t->out_exit_code = exit_code;
    t->result = result;
    t->error = error;
    t->timeout_at = t->kill_at = t->sleep_until = t->eof_at = S_NEVER;
}

static void
s_fail(task_t *t, const char *why)
{
    s_remove_work_dir(t);
    s_finish(t, "failed", false, 0, NULL, strdup(why));
}

/* ---- result of a command ------------------------------------------------- */

/* Read a regular file of at most max bytes. NULL if absent, odd or large. */
static char *
s_slurp(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t) st.st_size <= max)
        buf = malloc((size_t) st.st_size + 1);
    size_t n = 0;
    while (buf && n < (size_t) st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t) st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t) r;
    }
    close(fd);
    *len = n;
    return buf;
}

/* result.json re-dumped compactly, or NULL when missing or not JSON. */
static char *
s_result_file(const task_t *t)
{
    char *path = s_strdupf("%s/result.json", t->work_dir);
    size_t len = 0;
    char *text = path ? s_slurp(path, S_RESULT_MAX, &len) : NULL;
    free(path);
    if (!text)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    free(text);
    if (!j)
        return NULL;
    char *out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

/* The stdout tail as one JSON string. */
static char *
s_result_tail(const task_t *t)
{
    size_t len = 0;
    char *text = utf8_repair(t->tail ? t->tail : "", t->tail_len, &len);
    json_t *j = text ? json_stringn(text, len) : NULL;
    free(text);
    char *out = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return out;
}

/* The process is reaped and its pipes are closed: decide how it ended. */
static void
s_finish_command(task_t *t)
{
    char *result = t->work_dir ? s_result_file(t) : NULL;
    if (!result)
        result = s_result_tail(t);
    s_remove_work_dir(t);
    bool exited = t->reaped && t->reap_errno == 0 && t->term_signal == 0;
    const char *state;
    char *error;
    if (t->timed_out) {
        state = "timed_out";
        error = s_strdupf("timed out after %u ms", t->timeout_ms);
    } else if (t->cancelled) {
        state = "cancelled";
        error = strdup("cancelled");
    } else if (t->reap_errno) {
        state = "failed";
        error = s_strdupf("lost the process: waitpid: %s", strerror(t->reap_errno));
    } else if (t->term_signal) {
        state = "failed";
        error = s_strdupf("killed by signal %d", t->term_signal);
    } else if (t->exit_code != 0) {
        state = "failed";
        error = s_strdupf("exit status %d", t->exit_code);
    } else {
        state = "succeeded";
        error = NULL;
    }
    s_finish(t, state, exited, exited ? t->exit_code : 0, result, error);
}

static void
s_check_done(task_t *t)
{
    if (t->kind == S_COMMAND && t->spawned && !t->finished && t->reaped
        && t->proc.out_fd < 0 && t->proc.err_fd < 0)
        s_finish_command(t);
}

/* ---- built-ins ----------------------------------------------------------- */

static void
s_start_echo(task_t *t)
{
    char *result = t->payload_len ? strdup(t->payload) : NULL;
    s_finish(t, "succeeded", false, 0, result, NULL);
}

static void
s_start_sleep(task_t *t, int64_t now)
{
    json_error_t jerr;
    json_t *j = json_loadb(t->payload, t->payload_len, 0, &jerr);
    json_t *ms = json_is_object(j) ? json_object_get(j, "ms") : NULL;
    json_int_t v = json_is_integer(ms) ? json_integer_value(ms) : -1;
    json_decref(j);
    if (v < 0 || v > (json_int_t) UINT32_MAX) {
        s_fail(t, S_SLEEP_USAGE);
        return;
    }
    t->sleep_ms = (uint32_t) v;
    t->sleep_until = now + (int64_t) v;
}

static void
s_sleep_timers(task_t *t, int64_t now)
{
    if (t->sleep_until <= t->timeout_at && now >= t->sleep_until)
        s_finish(t, "succeeded", false, 0,
                 s_strdupf("{\"slept_ms\":%u}", t->sleep_ms), NULL);
    else if (now >= t->timeout_at)
        s_finish(t, "timed_out", false, 0, NULL,
                 s_strdupf("timed out after %u ms", t->timeout_ms));
}

/* ---- starting a command -------------------------------------------------- */

/* A job id that is safe as one path component. */
static bool
s_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
               || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

static int
s_make_work_dir(task_t *t, char *err, size_t errlen)
{
    if (!s_name_ok(t->job_id)) {
        snprintf(err, errlen, "job id is not usable as a directory name");
        return -1;
    }
    char *path = s_strdupf("%s/%s.%u", t->ctx.work_root, t->job_id, t->attempt);
    if (!path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = mkdir(path, 0700);
    if (rc < 0 && errno == EEXIST) {         /* left over by a crash */
        s_remove_tree(path);
        rc = mkdir(path, 0700);
    }
    if (rc < 0) {
        snprintf(err, errlen, "work dir %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    t->work_dir = path;
    return 0;
}

static int
s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

/* Write the payload to <work_dir>/payload.json; returns its path. */
static char *
s_write_payload(task_t *t, char *err, size_t errlen)
{
    char *path = s_strdupf("%s/payload.json", t->work_dir);
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
    if (fd < 0 || s_write_all(fd, t->payload, t->payload_len) < 0) {
        snprintf(err, errlen, "payload.json: %s", path ? strerror(errno) : "out of memory");
        if (fd >= 0)
            close(fd);
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

/* The placeholders a command may use; values point into the task or buf. */
#define S_NVARS 7
static void
s_vars(const task_t *t, tpl_var_t vars[S_NVARS], char attempt[16])
{
    snprintf(attempt, 16, "%u", t->attempt);
    vars[0] = (tpl_var_t) { "JOB_ID", t->job_id };
    vars[1] = (tpl_var_t) { "ATTEMPT", attempt };
    vars[2] = (tpl_var_t) { "WORKER_ID", t->ctx.worker_id };
    vars[3] = (tpl_var_t) { "WORKER_NAME", t->ctx.worker_name };
    vars[4] = (tpl_var_t) { "WORK_DIR", t->work_dir };
    vars[5] = (tpl_var_t) { "ROLE", t->role };
    vars[6] = (tpl_var_t) { "PAYLOAD", t->payload };
}

/* argv from the template: each element expanded, or /bin/sh -c LINE. */
static char **
s_build_argv(const task_t *t, const tpl_var_t *vars, size_t *argc,
             char *err, size_t errlen)
{
    size_t n = t->shell ? 3 : t->ncommand;
    char **argv = calloc(n + 1, sizeof *argv);
    if (!argv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *argc = n;
    if (t->shell) {
        argv[0] = strdup("/bin/sh");
        argv[1] = strdup("-c");
        argv[2] = tpl_expand(t->command[0], vars, S_NVARS, true, err, errlen);
        if (argv[0] && argv[1] && argv[2])
            return argv;
        if (argv[2])
            snprintf(err, errlen, "out of memory");
    } else {
        size_t i = 0;
        while (i < n && (argv[i] = tpl_expand(t->command[i], vars, S_NVARS,
                                               false, err, errlen)) != NULL)
            i++;
        if (i == n)
            return argv;
    }
    s_strv_free(argv, n);
    return NULL;
}

static bool
s_env_name_ok(const char *name)
{
    return name[0] != '\0' && !strchr(name, '=');
}

/* The variables taken from the worker's own environment when set. */
static int
s_env_inherit(kvlist_t *env)
{
    static const char *const pass[] = {
        "PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "TERM",
    };
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
        const char *v = getenv(pass[i]);
        if (v && kv_set(env, pass[i], v) < 0)
            return -1;
    }
    if (!kv_get(env, "PATH") && kv_set(env, "PATH", S_DEFAULT_PATH) < 0)
        return -1;
    return 0;
}

/* The role's env, values expanded (argv mode). */
static int
s_env_role(const task_t *t, kvlist_t *env, const tpl_var_t *vars,
           char *err, size_t errlen)
{
    for (size_t i = 0; i < t->env.n; i++) {
        const kv_t *kv = &t->env.items[i];
        if (!s_env_name_ok(kv->key)) {
            snprintf(err, errlen, "env: invalid variable name '%.64s'", kv->key);
            return -1;
        }
        char *v = tpl_expand(kv->val, vars, S_NVARS, false, err, errlen);
        if (!v)
            return -1;
        int rc = kv_set(env, kv->key, v);
        free(v);
        if (rc < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* Linux refuses one environment string over 128 KiB (MAX_ARG_STRLEN), so a
   larger payload is left out of POPEBOT_JOB_PAYLOAD; stdin and
   POPEBOT_JOB_PAYLOAD_FILE always carry it. */
#define S_ENV_PAYLOAD_MAX (64 * 1024)

static int
s_env_popebot(const task_t *t, kvlist_t *env, const char *attempt)
{
    char *result = s_strdupf("%s/result.json", t->work_dir);
    char *payload = s_strdupf("%s/payload.json", t->work_dir);
    bool small = strlen(t->payload) <= S_ENV_PAYLOAD_MAX;
    int rc = result && payload
        && kv_set(env, "POPEBOT_JOB_ID", t->job_id) == 0
        && kv_set(env, "POPEBOT_JOB_ATTEMPT", attempt) == 0
        && kv_set(env, "POPEBOT_JOB_WORKER_ID", t->ctx.worker_id) == 0
        && kv_set(env, "POPEBOT_JOB_ROLE", t->role) == 0
        && kv_set(env, "POPEBOT_JOB_WORK_DIR", t->work_dir) == 0
        && (!small || kv_set(env, "POPEBOT_JOB_PAYLOAD", t->payload) == 0)
        && kv_set(env, "POPEBOT_JOB_PAYLOAD_FILE", payload) == 0
        && kv_set(env, "POPEBOT_JOB_RESULT", result) == 0 ? 0 : -1;
    free(result);
    free(payload);
    return rc;
}

/* The child's whole environment as NAME=VALUE strings. */
static char **
s_build_env(const task_t *t, const tpl_var_t *vars, const char *attempt,
            size_t *envc, char *err, size_t errlen)
{
    kvlist_t env = { NULL, 0 };
    char **envp = NULL;
    snprintf(err, errlen, "out of memory");
    if (s_env_inherit(&env) == 0 && s_env_role(t, &env, vars, err, errlen) == 0
        && s_env_popebot(t, &env, attempt) == 0)
        envp = calloc(env.n + 1, sizeof *envp);
    size_t i = 0;
    for (; envp && i < env.n; i++)
        if (!(envp[i] = s_strdupf("%s=%s", env.items[i].key, env.items[i].val)))
            break;
    if (envp && i < env.n) {
        snprintf(err, errlen, "out of memory");
        s_strv_free(envp, env.n);
        envp = NULL;
    }
    *envc = env.n;
    kv_free(&env);
    return envp;
}

static int
s_alloc_buffers(task_t *t)
{
    t->logs[0].data = malloc(TASK_LOG_MAX);
    t->logs[1].data = malloc(TASK_LOG_MAX);
    t->tail = malloc(S_TAIL_MAX);
    return t->logs[0].data && t->logs[1].data && t->tail ? 0 : -1;
}

/* Replace control characters: err becomes one printable line. */
static void
s_one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* The canonical executable spec would run, when the allow-list names it;
   else NULL with the refusal (or the lookup error) in err. */
static char *
s_allowed_path(const task_t *t, const runner_spec_t *spec, char *err, size_t errlen)
{
    char *real = runner_resolve(spec, err, errlen);
    if (!real || allowcmd_match(t->ctx.allow, real))
        return real;
    if (t->shell)
        snprintf(err, errlen, "not allowed on this worker: a shell role runs "
                 "/bin/sh (%.200s), which is not in --allow-command", real);
    else
        snprintf(err, errlen, "not allowed on this worker: '%.100s' runs %.200s, "
                 "which is not in --allow-command", spec->argv[0], real);
    s_one_line(err);
    free(real);
    return NULL;
}

/* argv and envp are ready: check the executable, fork and exec. */
static int
s_spawn(task_t *t, char **argv, char **envp, const char *stdin_path,
        char *err, size_t errlen)
{
    runner_spec_t spec = { argv, envp, t->work_dir, stdin_path, NULL, t->ctx.hide };
    char *path = NULL;
    if (allowcmd_active(t->ctx.allow)
        && !(path = s_allowed_path(t, &spec, err, errlen)))
        return -1;
    spec.path = path;
    int rc = -1;
    if (s_alloc_buffers(t) < 0)
        snprintf(err, errlen, "out of memory");
    else
        rc = runner_spawn(&spec, &t->proc, err, errlen);
    free(path);
    if (rc < 0)
        return -1;
    t->spawned = true;
    return 0;
}

static void
s_start_command(task_t *t)
{
    char err[512] = "";
    if (t->ncommand == 0) {
        s_fail(t, "role has no command");
        return;
    }
    if (s_make_work_dir(t, err, sizeof err) < 0) {
        s_fail(t, err);
        return;
    }
    char *stdin_path = s_write_payload(t, err, sizeof err);
    tpl_var_t vars[S_NVARS];
    char attempt[16];
    s_vars(t, vars, attempt);
    size_t argc = 0, envc = 0;
    char **argv = stdin_path ? s_build_argv(t, vars, &argc, err, sizeof err) : NULL;
    char **envp = argv ? s_build_env(t, vars, attempt, &envc, err, sizeof err) : NULL;
    if (!envp || s_spawn(t, argv, envp, stdin_path, err, sizeof err) < 0)
        s_fail(t, err);
    s_strv_free(argv, argc);
    s_strv_free(envp, envc);
    free(stdin_path);
}

/* ---- a running command --------------------------------------------------- */

static void
s_tail_add(task_t *t, const char *p, size_t n)
{
    if (n >= S_TAIL_MAX) {
        memcpy(t->tail, p + n - S_TAIL_MAX, S_TAIL_MAX);
        t->tail_len = S_TAIL_MAX;
        return;
    }
    if (t->tail_len + n > S_TAIL_MAX) {
        size_t drop = t->tail_len + n - S_TAIL_MAX;
        memmove(t->tail, t->tail + drop, t->tail_len - drop);
        t->tail_len -= drop;
    }
    memcpy(t->tail + t->tail_len, p, n);
    t->tail_len += n;
}

/* Read a pipe until EAGAIN, EOF (closes it) or a full buffer. */
static void
s_read_pipe(task_t *t, int idx, int64_t now)
{
    int *fd = idx == 0 ? &t->proc.out_fd : &t->proc.err_fd;
    s_logbuf_t *b = &t->logs[idx];
    while (*fd >= 0 && b->len < TASK_LOG_MAX) {
        ssize_t r = read(*fd, b->data + b->len, TASK_LOG_MAX - b->len);
        if (r > 0) {
            if (b->len == 0)
                b->first_at = now;
            if (idx == 0)
                s_tail_add(t, b->data + b->len, (size_t) r);
            b->len += (size_t) r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            s_close_fd(fd);                   /* EOF, or an error */
        }
    }
}

static void
s_close_pipes(task_t *t)
{
    s_close_fd(&t->proc.out_fd);
    s_close_fd(&t->proc.err_fd);
}

/* The pidfd is readable: wait for the child, then kill what it left. */
static void
s_try_reap(task_t *t, int64_t now)
{
    int code = -1, sig = 0;
    int rc = runner_reap(&t->proc, &code, &sig);
    if (rc == 0)
        return;
    t->reaped = true;
    t->reap_errno = rc < 0 ? errno : 0;
    t->exit_code = code;
    t->term_signal = sig;
    s_close_fd(&t->proc.pidfd);
    runner_signal_group(&t->proc, SIGKILL);   /* stragglers; ESRCH is fine */
    t->timeout_at = t->kill_at = S_NEVER;
    t->eof_at = now + S_EOF_WAIT_MS;
}

/* SIGTERM now, SIGKILL after the grace period. */
static void
s_terminate(task_t *t, int64_t now)
{
    runner_signal_group(&t->proc, SIGTERM);
    if (t->kill_at == S_NEVER)
        t->kill_at = now + t->ctx.kill_grace_ms;
}

static void
s_command_timers(task_t *t, int64_t now)
{
    if (!t->reaped && now >= t->timeout_at) {
        t->timed_out = true;
        t->timeout_at = S_NEVER;
        s_terminate(t, now);
    }
    if (!t->reaped && now >= t->kill_at) {
        runner_signal_group(&t->proc, SIGKILL);
        t->kill_at = S_NEVER;
    }
    if (t->reaped && now >= t->eof_at) {
        s_close_pipes(t);
        s_check_done(t);
    }
}

/* ---- public -------------------------------------------------------------- */

int
task_done_reject(task_done_t *d, pb_str_t job_id, uint32_t attempt, const char *why)
{
    memset(d, 0, sizeof *d);
    d->job_id = s_dup(job_id);
    d->attempt = attempt;
    d->state = "rejected";
    d->error = strdup(why);
    if (d->job_id && d->error)
        return 0;
    task_done_free(d);
    return -1;
}

void
task_done_free(task_done_t *d)
{
    free(d->job_id);
    free(d->result);
    free(d->error);
    memset(d, 0, sizeof *d);
}

static int
s_copy_lease(task_t *t, const pb_lease_t *l)
{
    t->job_id = s_dup(l->job_id);
    t->role = s_dup(l->role);
    t->payload = s_dup(l->payload);
    t->payload_len = l->payload.len;
    t->command = calloc(l->command.n + 1, sizeof *t->command);
    if (!t->job_id || !t->role || !t->payload || !t->command)
        return -1;
    for (; t->ncommand < l->command.n; t->ncommand++)
        if (!(t->command[t->ncommand] = s_dup(l->command.items[t->ncommand])))
            return -1;
    for (uint32_t i = 0; i < l->env.n; i++) {
        char *k = s_dup(l->env.items[i].key);
        char *v = s_dup(l->env.items[i].val);
        int rc = k && v ? kv_set(&t->env, k, v) : -1;
        free(k);
        free(v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

task_t *
task_new(const pb_lease_t *lease, const task_ctx_t *ctx)
{
    task_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ctx = *ctx;
    t->attempt = lease->attempt;
    t->shell = lease->shell;
    t->timeout_ms = lease->timeout_ms;
    t->proc = (runner_proc_t) { -1, -1, -1, -1 };
    t->timeout_at = t->kill_at = t->sleep_until = t->eof_at = S_NEVER;
    if (s_copy_lease(t, lease) < 0) {
        task_destroy(&t);
        return NULL;
    }
    bool builtin = t->ncommand == 0;
    t->kind = builtin && strcmp(t->role, "echo") == 0 ? S_ECHO
            : builtin && strcmp(t->role, "sleep") == 0 ? S_SLEEP
            : S_COMMAND;
    return t;
}

void
task_destroy(task_t **self_p)
{
    task_t *t = *self_p;
    if (!t)
        return;
    if (t->spawned && !t->reaped) {
        runner_signal_group(&t->proc, SIGKILL);
        while (waitpid(t->proc.pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    runner_close(&t->proc);
    s_remove_work_dir(t);
    free(t->job_id);
    free(t->role);
    free(t->payload);
    s_strv_free(t->command, t->ncommand);
    kv_free(&t->env);
    free(t->logs[0].data);
    free(t->logs[1].data);
    free(t->tail);
    free(t->result);
    free(t->error);
    free(t);
    *self_p = NULL;
}

void
task_start(task_t *t, int64_t now)
{
    if (t->timeout_ms > 0)
        t->timeout_at = now + t->timeout_ms;
    if (t->kind == S_ECHO)
        s_start_echo(t);
    else if (t->kind == S_SLEEP)
        s_start_sleep(t, now);
    else
        s_start_command(t);
}

const char *task_job_id(const task_t *t) { return t->job_id; }
uint32_t task_attempt(const task_t *t)   { return t->attempt; }
const char *task_role(const task_t *t)   { return t->role; }
bool task_finished(const task_t *t)      { return t->finished; }
int task_pid(const task_t *t)            { return t->spawned ? t->proc.pid : 0; }

size_t
task_poll_items(const task_t *t, zmq_pollitem_t *items)
{
    size_t n = 0;
    if (t->kind != S_COMMAND || !t->spawned || t->finished)
        return 0;
    if (t->proc.pidfd >= 0)
        items[n++] = (zmq_pollitem_t) { NULL, t->proc.pidfd, ZMQ_POLLIN, 0 };
    if (t->proc.out_fd >= 0 && t->logs[0].len < TASK_LOG_MAX)
        items[n++] = (zmq_pollitem_t) { NULL, t->proc.out_fd, ZMQ_POLLIN, 0 };
    if (t->proc.err_fd >= 0 && t->logs[1].len < TASK_LOG_MAX)
        items[n++] = (zmq_pollitem_t) { NULL, t->proc.err_fd, ZMQ_POLLIN, 0 };
    return n;
}

void
task_on_poll(task_t *t, const zmq_pollitem_t *items, size_t n, int64_t now)
{
    if (t->kind != S_COMMAND || !t->spawned || t->finished)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].revents)
            continue;
        int fd = items[i].fd;
        if (fd == t->proc.out_fd)
            s_read_pipe(t, 0, now);
        else if (fd == t->proc.err_fd)
            s_read_pipe(t, 1, now);
        else if (fd == t->proc.pidfd)
            s_try_reap(t, now);
    }
    s_check_done(t);
}

static int64_t
s_min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int64_t
task_next_timer(const task_t *t)
{
    int64_t at = S_NEVER;
    if (!t->finished) {
        at = s_min64(t->timeout_at, t->sleep_until);
        at = s_min64(at, t->reaped ? t->eof_at : t->kill_at);
    }
    for (int i = 0; i < 2; i++)
        if (t->logs[i].len > 0)
            at = s_min64(at, t->logs[i].first_at + TASK_LOG_DELAY_MS);
    return at;
}

void
task_on_timers(task_t *t, int64_t now)
{
    if (t->finished)
        return;
    if (t->kind == S_SLEEP)
        s_sleep_timers(t, now);
    else if (t->kind == S_COMMAND && t->spawned)
        s_command_timers(t, now);
}

void
task_cancel(task_t *t, int64_t now)
{
    if (t->finished)
        return;
    t->cancelled = true;
    if (t->kind == S_SLEEP) {
        s_finish(t, "cancelled", false, 0, NULL, strdup("cancelled"));
    } else if (t->kind == S_COMMAND && t->spawned) {
        if (t->reaped) {
            s_close_pipes(t);
            s_check_done(t);
        } else {
            s_terminate(t, now);
        }
    }
}

void
task_kill(task_t *t)
{
    if (t->kind == S_COMMAND && t->spawned && !t->reaped)
        runner_signal_group(&t->proc, SIGKILL);
}

size_t
task_log_due(const task_t *t, int stream, int64_t now, bool force, const char **data)
{
    if (stream < 1 || stream > 2)
        return 0;
    const s_logbuf_t *b = &t->logs[stream - 1];
    if (b->len == 0)
        return 0;
    if (!force && !t->finished && b->len < TASK_LOG_SEND
        && now < b->first_at + TASK_LOG_DELAY_MS)
        return 0;
    *data = b->data;
    return b->len;
}

void
task_log_consumed(task_t *t, int stream)
{
    if (stream >= 1 && stream <= 2)
        t->logs[stream - 1].len = 0;
}

bool
task_log_pending(const task_t *t)
{
    return t->logs[0].len > 0 || t->logs[1].len > 0;
}

int
task_outcome(task_t *t, task_done_t *out)
{
    if (!t->finished)
        return -1;
    out->job_id = t->job_id;
    out->attempt = t->attempt;
    out->state = t->state;
    out->has_exit_code = t->has_exit_code;
    out->exit_code = t->out_exit_code;
    out->result = t->result;
    out->error = t->error;
    out->confirm_seq = 0;
    t->job_id = t->result = t->error = NULL;
    return 0;
}
