/*  node/task.h — one job attempt running on this worker.

    A task is made from one lease of an ASSIGN and lives until it has ended
    and the worker has taken its outcome. It is either a built-in (echo,
    sleep: timers only, no process) or a command run through mesh/runner in
    its own process group and work directory.

    The worker loop drives it and never blocks on it:
      task_new -> task_start -> { task_poll_items / task_on_poll,
      task_next_timer / task_on_timers, task_log_due / task_log_consumed,
      task_cancel } ... until task_finished -> task_outcome -> task_destroy.

    Rules it keeps:
    - A task never logs and never sends: it reports through its outcome
      (state, exit code, result, error) and its two log buffers, and the
      worker decides what to say.
    - A command task is finished only when its process is reaped and both
      pipes are closed; after the reap the whole group gets SIGKILL (no
      stragglers outlive the job) and the pipes get at most 1 s to reach EOF.
    - Each log buffer holds at most TASK_LOG_MAX bytes; a full buffer is not
      read into, so the pipe pushes back on the job until the worker flushes.
    - task_destroy never leaves anything behind: a process still running is
      killed (SIGKILL to the group) and reaped, descriptors are closed and the
      work directory is removed.
*/
#ifndef POPEBOT_NODE_TASK_H
#define POPEBOT_NODE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "mesh/proto.h"
#include "node/allowcmd.h"
#include "mesh/hide.h"

#define TASK_MAX_FDS      3             /* pidfd, stdout, stderr */
#define TASK_LOG_SEND     (16 * 1024)   /* a buffer this full is sent at once */
#define TASK_LOG_DELAY_MS 50            /* else 50 ms after its first byte */
#define TASK_LOG_MAX      (64 * 1024)   /* a buffer never holds more */

typedef struct task task_t;

/* What a task needs to know about the worker it runs on; the strings must
   outlive every task. */
typedef struct {
    const char *worker_id;      /* {{WORKER_ID}}, POPEBOT_JOB_WORKER_ID */
    const char *worker_name;    /* {{WORKER_NAME}} */
    const char *work_root;      /* existing parent of per-job work dirs */
    uint32_t kill_grace_ms;     /* SIGTERM -> SIGKILL delay */
    const allowcmd_t *allow;    /* executables a command may run; NULL or
                                   empty = any (built-ins are never checked) */
    const hide_t *hide;         /* a directory jobs must not see; NULL = none */
} task_ctx_t;

/* How one attempt ended: one item of a DONE message. Owns its strings. */
typedef struct {
    char *job_id;
    uint32_t attempt;
    const char *state;          /* static: succeeded failed timed_out cancelled rejected */
    bool has_exit_code;         /* false for built-ins and signal deaths */
    int32_t exit_code;
    char *result;               /* JSON text, or NULL */
    char *error;                /* one line, or NULL */
    uint64_t confirm_seq;       /* sent: the PING whose PONG confirms it; 0 = unsent */
} task_done_t;

/* Fill d as a "rejected" item (the lease was not run). 0, or -1 on ENOMEM. */
int task_done_reject(task_done_t *d, pb_str_t job_id, uint32_t attempt, const char *why);
void task_done_free(task_done_t *d);

/* Copy what the lease says (the message may go away after). NULL on ENOMEM. */
task_t *task_new(const pb_lease_t *lease, const task_ctx_t *ctx);
/* Kill and reap what still runs, close, remove the work dir, free. */
void task_destroy(task_t **self_p);

/* Start it. Never fails: a start that goes wrong (bad payload, template
   error, an executable ctx->allow does not list, spawn error) finishes the
   task at once as "failed", and nothing is run. */
void task_start(task_t *t, int64_t now_ms);

const char *task_job_id(const task_t *t);
uint32_t task_attempt(const task_t *t);
const char *task_role(const task_t *t);
bool task_finished(const task_t *t);
/* The process id of a command task (its process group), or 0. */
int task_pid(const task_t *t);

/* Write the descriptors to poll into items (at most TASK_MAX_FDS); returns
   how many. Hand the same items back to task_on_poll after zmq_poll. */
size_t task_poll_items(const task_t *t, zmq_pollitem_t *items);
void task_on_poll(task_t *t, const zmq_pollitem_t *items, size_t n, int64_t now_ms);

/* The earliest instant (monotonic ms) at which the task needs attention:
   a timer or a log buffer coming due. INT64_MAX when none. */
int64_t task_next_timer(const task_t *t);
void task_on_timers(task_t *t, int64_t now_ms);

/* REVOKE: built-ins end at once; a process gets SIGTERM, then SIGKILL after
   the grace period. The outcome becomes "cancelled". */
void task_cancel(task_t *t, int64_t now_ms);
/* SIGKILL the process group now (the worker gives up on the job). */
void task_kill(task_t *t);

/* Output of stream (1 stdout, 2 stderr) that should be sent now: when the
   buffer holds TASK_LOG_SEND bytes, its first byte is TASK_LOG_DELAY_MS old,
   force is set, or the task has finished. Returns the length (0: nothing)
   and points *data at it; call task_log_consumed once it is sent or dropped. */
size_t task_log_due(const task_t *t, int stream, int64_t now_ms, bool force,
                    const char **data);
void task_log_consumed(task_t *t, int stream);
/* Whether any output waits in a buffer. */
bool task_log_pending(const task_t *t);

/* Move the outcome of a finished task into out. 0, or -1 (not finished). */
int task_outcome(task_t *t, task_done_t *out);

#endif
