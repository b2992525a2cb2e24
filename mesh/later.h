/*  mesh/later.h — jobs waiting for a time: delayed submissions.

    A binary min-heap of scheduled jobs ordered by (run_at_ms, id). The
    coordinator's loop asks it for the jobs that are due and how long it may
    sleep until the next one. It borrows the jobs (the job table owns them);
    job->lpos is each job's index while it is in the heap.
*/
#ifndef POPEBOT_MESH_LATER_H
#define POPEBOT_MESH_LATER_H

#include <stddef.h>
#include <stdint.h>
#include "mesh/job.h"

typedef struct {
    job_t **heap;
    size_t n, cap;
} later_t;

void later_init(later_t *l);
void later_free(later_t *l);
/* Add a job with job->run_at_ms set. 0, or -1 (ENOMEM). */
int later_push(later_t *l, job_t *job);
/* Take a job out (it was cancelled); no-op if it is not in the heap. */
void later_remove(later_t *l, job_t *job);
/* Pop the earliest job if it is due at now_ms, else NULL. */
job_t *later_pop_due(later_t *l, int64_t now_ms);
/* run_at_ms of the earliest job, or INT64_MAX when none waits. */
int64_t later_next(const later_t *l);

#endif
