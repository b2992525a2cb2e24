/*  mesh/sched.h — which queued job goes to which worker.

    Queued jobs wait in ready queues, one per (role, where-labels) pair; each
    queue is a binary heap ordered by priority (higher first), then age (older
    first — job ids grow with creation time). sched_pick() gives a worker the
    best job among the queues of the roles it serves whose where-labels it
    carries, unless the role already runs max_concurrency jobs mesh-wide.

    Rules it keeps:
    - Only the coordinator's loop calls it; it holds no locks.
    - It borrows jobs: a job in a queue is owned by the job table.
    - A job is in at most one queue, and job->queue says which.
    - Per-role running counts change only through sched_started/stopped, so
      max_concurrency holds as long as every lease start and end is reported.
*/
#ifndef POPEBOT_MESH_SCHED_H
#define POPEBOT_MESH_SCHED_H

#include <stddef.h>
#include "mesh/job.h"
#include "mesh/peer.h"

typedef struct sched sched_t;

sched_t *sched_new(void);
void sched_destroy(sched_t **self_p);

/* Put a job in its ready queue. Returns 0, or -1 (ENOMEM). */
int sched_push(sched_t *s, job_t *job);
/* Take a queued job out of its queue (cancel); no-op if it is in none. */
void sched_remove(sched_t *s, job_t *job);
/* Pop the best job peer p may run now, or NULL. Does not count it as
   started: call sched_started() when the lease is made. */
job_t *sched_pick(sched_t *s, const peer_t *p);

void sched_started(sched_t *s, const job_t *job);
void sched_stopped(sched_t *s, const job_t *job);

/* Queued jobs of one role (all where-queues), and in total. */
size_t sched_depth(const sched_t *s, const char *role);
size_t sched_total(const sched_t *s);
/* Running jobs of one role, as counted for max_concurrency. */
uint32_t sched_running(const sched_t *s, const char *role);

#endif
