/*  mesh/jobtab.h — every job the coordinator knows, by id and by age.

    The table owns its jobs. Finished jobs stay queryable until more than
    `keep_finished` have ended; then the oldest finished ones are dropped.
    (Until the LMDB store lands, this table is the only copy of a job.)

    Rules: a job is in the table from jobtab_add() until it is evicted or the
    table is destroyed; pointers to it stay valid that long. Eviction only
    ever drops finished jobs, never queued or running ones.
*/
#ifndef POPEBOT_MESH_JOBTAB_H
#define POPEBOT_MESH_JOBTAB_H

#include <stddef.h>
#include "mesh/job.h"

typedef struct jobtab jobtab_t;

jobtab_t *jobtab_new(size_t keep_finished);
void jobtab_destroy(jobtab_t **self_p);

/* Takes ownership. Returns 0, or -1 (ENOMEM; the job is then destroyed). */
int jobtab_add(jobtab_t *t, job_t *job);
job_t *jobtab_find(const jobtab_t *t, const char *id, size_t len);
/* Note that job reached a terminal state; may evict older finished jobs,
   never this one (the caller may go on using it until its next call). */
void jobtab_finished(jobtab_t *t, job_t *job);
/* Drop a finished job now (its record was pruned from the store). */
void jobtab_forget(jobtab_t *t, job_t *job);
/* A finished job runs again (retried by hand): it may no longer be evicted. */
void jobtab_unfinished(jobtab_t *t, job_t *job);
size_t jobtab_size(const jobtab_t *t);

/* Walk newest first: jobtab_newest(), then jobtab_older() until NULL.
   One walk at a time (it uses the list's cursor); do not add or evict
   jobs during a walk. */
job_t *jobtab_newest(jobtab_t *t);
job_t *jobtab_older(jobtab_t *t);

#endif
