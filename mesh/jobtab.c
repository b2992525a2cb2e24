/*  mesh/jobtab.c — job table: a hash by id plus two ordered lists (jobtab.h).

    `byid` maps the 64-bit id to the job and owns nothing; `order`
    holds every job in creation order and owns them; `finished` is a FIFO
    of finished jobs used for eviction. Each job keeps its handles in both
    lists so removal is O(1).
*/
#include "mesh/jobtab.h"

#include <czmq.h>
#include <stdlib.h>
#include "mesh/idmap.h"

struct jobtab {
    idmap_t byid;             /* id -> job_t*, borrowed */
    zlistx_t *order;          /* creation order, owns the jobs */
    zlistx_t *finished;       /* finish order, borrowed */
    size_t keep_finished;     /* finished jobs kept before eviction */
};

static void s_job_free(void **item)
{
    job_destroy((job_t **) item);
}

jobtab_t *jobtab_new(size_t keep_finished)
{
    jobtab_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->order = zlistx_new();
    t->finished = zlistx_new();
    t->keep_finished = keep_finished;
    if (idmap_init(&t->byid) != 0 || !t->order || !t->finished) {
        jobtab_destroy(&t);
        return NULL;
    }
    zlistx_set_destructor(t->order, s_job_free);
    return t;
}

void jobtab_destroy(jobtab_t **self_p)
{
    jobtab_t *t = *self_p;
    if (!t)
        return;
    idmap_free(&t->byid);
    zlistx_destroy(&t->finished);
    zlistx_destroy(&t->order);
    free(t);
    *self_p = NULL;
}

int jobtab_add(jobtab_t *t, job_t *job)
{
    if (idmap_put(&t->byid, job->id, job) != 0) {
        job_destroy(&job);
        return -1;
    }
    job->h_order = zlistx_add_end(t->order, job);
    if (!job->h_order) {
        idmap_del(&t->byid, job->id);
        job_destroy(&job);
        return -1;
    }
    return 0;
}

job_t *jobtab_find(const jobtab_t *t, const char *id, size_t len)
{
    uint64_t key;
    if (jobid_parse(id, len, &key) != 0)
        return NULL;
    return idmap_get(&t->byid, key);
}

static void s_evict_oldest(jobtab_t *t)
{
    job_t *old = zlistx_first(t->finished);
    zlistx_delete(t->finished, old->h_finished);
    idmap_del(&t->byid, old->id);
    zlistx_delete(t->order, old->h_order); /* destroys it */
}

void jobtab_finished(jobtab_t *t, job_t *job)
{
    if (job->h_finished)
        return;
    job->h_finished = zlistx_add_end(t->finished, job);
    /* never the job just given: callers still hold it (so with keep 0 one
       finished job stays until the next one ends) */
    while (zlistx_size(t->finished) > t->keep_finished && zlistx_first(t->finished) != job)
        s_evict_oldest(t);
}

void jobtab_forget(jobtab_t *t, job_t *job)
{
    if (!job->h_finished)
        return; /* only finished jobs are ever forgotten */
    zlistx_delete(t->finished, job->h_finished);
    idmap_del(&t->byid, job->id);
    zlistx_delete(t->order, job->h_order); /* destroys it */
}

void jobtab_unfinished(jobtab_t *t, job_t *job)
{
    if (!job->h_finished)
        return;
    zlistx_delete(t->finished, job->h_finished);
    job->h_finished = NULL;
}

size_t jobtab_size(const jobtab_t *t)
{
    return zlistx_size(t->order);
}

job_t *jobtab_newest(jobtab_t *t)
{
    return zlistx_last(t->order);
}

job_t *jobtab_older(jobtab_t *t)
{
    return zlistx_prev(t->order);
}
