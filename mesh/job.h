/*  mesh/job.h — a job as the coordinator holds it, and the job states.

    A job is one execution of a role with a payload. It is queued (or
    scheduled for later), then leased to a worker as attempt N (running), and
    ends in exactly one terminal state. The coordinator's loop is the only
    owner and the only thread that touches a job_t.

    State machine (docs/PROTOCOL.md §5):
      queued -> running -> succeeded | failed | timed_out | cancelled
      running -> queued (worker lost, attempts left) | dead (attempts spent)
      queued -> cancelled
      scheduled -> queued (when due)
*/
#ifndef POPEBOT_MESH_JOB_H
#define POPEBOT_MESH_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include "mesh/kv.h"
#include "mesh/role.h"

typedef enum {
    JOB_QUEUED, JOB_SCHEDULED, JOB_RUNNING,
    JOB_SUCCEEDED, JOB_FAILED, JOB_TIMED_OUT, JOB_CANCELLED, JOB_DEAD,
    JOB_STATE_COUNT
} job_state_t;

const char *job_state_name(job_state_t s);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int job_state_parse(const char *name, job_state_t *out);
bool job_state_terminal(job_state_t s);

#define JOBID_LEN 16            /* lowercase hex of a 64-bit id */
#define JOB_LOG_SHOWN (64 * 1024) /* bytes of output a JOB reply shows at most */

struct peer;
struct sched_queue;

typedef struct job {
    uint64_t id;                 /* 48-bit ms clock << 16 | sequence */
    char idstr[JOBID_LEN + 1];   /* the id as clients see it */
    role_t *role;                /* borrowed from the coordinator's role set */
    char *payload;               /* JSON text, owned */
    int32_t priority;            /* higher runs first */
    kvlist_t where;              /* labels a worker must carry, owned */
    job_state_t state;
    job_state_t stored_state;    /* the state its store record holds;
                                    JOB_STATE_COUNT while it has none */
    uint32_t attempts;           /* attempts started so far */
    uint32_t attempt_base;       /* attempts before the last manual retry: the
                                    role's max_attempts counts from here */
    struct peer *worker;         /* lease holder while running, else NULL */
    char *last_worker;           /* id of the last worker that ran it, owned */
    bool has_exit_code;
    int32_t exit_code;
    char *result;                /* JSON text, owned, NULL until it ends */
    char *error;                 /* why it did not succeed, owned */
    int64_t created_ms, started_ms, finished_ms;   /* 0 = not yet */
    int64_t run_at_ms;           /* scheduled: wall-clock ms when it is due; 0 = none */
    size_t lpos;                 /* its index in the coordinator's "later" heap */
    uint32_t log_seq;            /* next chunk number of its output in the store */
    uint64_t log_stored;         /* bytes of output the store holds for it */
    uint64_t log_dropped;        /* bytes of earliest output dropped over the cap */
    struct sched_queue *queue;   /* the ready queue holding it, or NULL */
    int64_t ready_us;            /* monotonic us when it last entered a ready queue */
    size_t qpos;                 /* its index in that queue's heap */
    void **waiters;              /* zframe_t* routing ids awaiting RESULT */
    size_t nwaiters;
    bool revoking;               /* a cancel was sent to its worker */
    int64_t touched_ms;          /* an HTTP worker's lease: monotonic ms of the last
                                    report or status that named it (or its hand-over) */
    struct {                     /* the last progress report (HTTP webhook); in
                                    memory only, not stored */
        bool has;
        int64_t done, total;
        char *message;           /* owned, or NULL */
    } progress;
    void *h_order;               /* jobtab: handle in the creation-order list */
    void *h_finished;            /* jobtab: handle in the finished FIFO */
} job_t;

/* A new queued job; takes nothing, copies payload and where. */
job_t *job_new(uint64_t id, role_t *role, const char *payload, size_t payload_len,
               int32_t priority, const kvlist_t *where, int64_t now_ms);
void job_destroy(job_t **self_p);


/* Record the end of the job. Copies result/error (either may be NULL). */
int job_finish(job_t *job, job_state_t state, bool has_exit, int32_t exit_code,
               const char *result, size_t result_len, const char *error, int64_t now_ms);

/* Job ids: a 48-bit millisecond clock and a 16-bit sequence, so ids sort by
   creation time. The generator never goes backwards, even if the clock does. */
typedef struct {
    uint64_t last;
} jobid_gen_t;

uint64_t jobid_next(jobid_gen_t *gen, int64_t now_ms);
void jobid_format(uint64_t id, char out[JOBID_LEN + 1]);
/* Returns 0 and sets *id, or -1 when s is not 16 lowercase hex digits. */
int jobid_parse(const char *s, size_t len, uint64_t *id);

#endif
