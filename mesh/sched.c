/*  mesh/sched.c — ready queues and the pick rule (sched.h).

    Layout: a hash of role name -> role_rt; each role_rt has a small array of
    queues, one per distinct where-label set (index 0 is the queue of jobs
    without constraints and always exists); each queue is a binary heap of
    job pointers. A where-queue that empties is freed, so one-off label sets
    leave nothing behind.
*/
#include "mesh/sched.h"
#include "mesh/clock.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

/* A heap entry carries its ordering key, so sifting touches only the heap
   array and not the jobs it points to. */
typedef struct {
    int32_t priority;
    uint64_t id;
    job_t *job;
} s_entry_t;

typedef struct sched_queue {
    struct role_rt *rt;       /* the role it belongs to */
    kvlist_t where;           /* labels its jobs require, owned */
    char *key;                /* kv_format(where), owned */
    s_entry_t *heap;          /* binary heap, best job at [0] */
    size_t n, cap;
} sched_queue_t;

typedef struct role_rt {
    const role_t *role;       /* borrowed; for max_concurrency */
    uint32_t running;         /* leases of this role mesh-wide */
    size_t depth;             /* queued jobs over all its queues */
    sched_queue_t **queues;   /* [0] has no constraints */
    size_t nqueues;
} role_rt_t;

struct sched {
    zhashx_t *roles;          /* name -> role_rt_t, owned */
    size_t total;             /* queued jobs over all roles */
};

/* ---- heap ---------------------------------------------------------------- */

static bool s_before(const s_entry_t *a, const s_entry_t *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority;
    return a->id < b->id;
}

static void s_place(sched_queue_t *q, size_t i, s_entry_t e)
{
    q->heap[i] = e;
    e.job->qpos = i;
}

static void s_sift_up(sched_queue_t *q, size_t i)
{
    s_entry_t e = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before(&e, &q->heap[parent]))
            break;
        s_place(q, i, q->heap[parent]);
        i = parent;
    }
    s_place(q, i, e);
}

static void s_sift_down(sched_queue_t *q, size_t i)
{
    s_entry_t e = q->heap[i];
    for (;;) {
        size_t best = 2 * i + 1;
        if (best >= q->n)
            break;
        if (best + 1 < q->n && s_before(&q->heap[best + 1], &q->heap[best]))
            best++;
        if (!s_before(&q->heap[best], &e))
            break;
        s_place(q, i, q->heap[best]);
        i = best;
    }
    s_place(q, i, e);
}

static int s_heap_push(sched_queue_t *q, job_t *job)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        s_entry_t *h = realloc(q->heap, cap * sizeof *h);
        if (!h)
            return -1;
        q->heap = h;
        q->cap = cap;
    }
    q->heap[q->n++] = (s_entry_t) { job->priority, job->id, job };
    s_sift_up(q, q->n - 1);
    return 0;
}

static void s_heap_remove(sched_queue_t *q, size_t i)
{
    s_entry_t last = q->heap[--q->n];
    if (i == q->n)
        return;
    s_place(q, i, last);
    s_sift_up(q, i);
    s_sift_down(q, last.job->qpos);
}

/* ---- queues and roles ---------------------------------------------------- */

static void s_queue_destroy(sched_queue_t **self_p)
{
    sched_queue_t *q = *self_p;
    if (!q)
        return;
    kv_free(&q->where);
    free(q->key);
    free(q->heap);
    free(q);
    *self_p = NULL;
}

static sched_queue_t *s_queue_new(role_rt_t *rt, const kvlist_t *where)
{
    sched_queue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->rt = rt;
    if (kv_copy(&q->where, where) != 0 || !(q->key = kv_format(where)))
        s_queue_destroy(&q);
    return q;
}

static void s_role_destroy(void **item)
{
    role_rt_t *rt = *item;
    for (size_t i = 0; i < rt->nqueues; i++)
        s_queue_destroy(&rt->queues[i]);
    free(rt->queues);
    free(rt);
    *item = NULL;
}

static role_rt_t *s_role(sched_t *s, const role_t *role)
{
    role_rt_t *rt = zhashx_lookup(s->roles, role->name);
    if (rt)
        return rt;
    kvlist_t none = { 0 };
    rt = calloc(1, sizeof(*rt));
    if (!rt || !(rt->queues = calloc(1, sizeof(sched_queue_t *))) ||
        !(rt->queues[0] = s_queue_new(rt, &none))) {
        if (rt)
            free(rt->queues);
        free(rt);
        return NULL;
    }
    rt->role = role;
    rt->nqueues = 1;
    zhashx_insert(s->roles, role->name, rt);
    return rt;
}

static sched_queue_t *s_queue_for(role_rt_t *rt, const kvlist_t *where)
{
    if (where->n == 0)
        return rt->queues[0];
    char *key = kv_format(where);
    if (!key)
        return NULL;
    for (size_t i = 1; i < rt->nqueues; i++)
        if (strcmp(rt->queues[i]->key, key) == 0) {
            free(key);
            return rt->queues[i];
        }
    free(key);
    sched_queue_t **qs = realloc(rt->queues, (rt->nqueues + 1) * sizeof(*qs));
    if (!qs)
        return NULL;
    rt->queues = qs;
    sched_queue_t *q = s_queue_new(rt, where);
    if (q)
        qs[rt->nqueues++] = q;
    return q;
}

/* Free a where-queue once it is empty (never the default queue). */
static void s_queue_gc(role_rt_t *rt, sched_queue_t *q)
{
    if (q->n > 0 || q == rt->queues[0])
        return;
    for (size_t i = 1; i < rt->nqueues; i++)
        if (rt->queues[i] == q) {
            rt->queues[i] = rt->queues[--rt->nqueues];
            s_queue_destroy(&q);
            return;
        }
}

/* ---- public --------------------------------------------------------------- */

sched_t *sched_new(void)
{
    sched_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->roles = zhashx_new();
    if (!s->roles) {
        free(s);
        return NULL;
    }
    zhashx_set_destructor(s->roles, s_role_destroy);
    return s;
}

void sched_destroy(sched_t **self_p)
{
    sched_t *s = *self_p;
    if (!s)
        return;
    zhashx_destroy(&s->roles);
    free(s);
    *self_p = NULL;
}

int sched_push(sched_t *s, job_t *job)
{
    role_rt_t *rt = s_role(s, job->role);
    sched_queue_t *q = rt ? s_queue_for(rt, &job->where) : NULL;
    if (!q || s_heap_push(q, job) != 0)
        return -1;
    job->queue = q;
    job->ready_us = clock_mono_us();   /* dispatch latency counts from here */
    rt->depth++;
    s->total++;
    return 0;
}

void sched_remove(sched_t *s, job_t *job)
{
    sched_queue_t *q = job->queue;
    if (!q)
        return;
    s_heap_remove(q, job->qpos);
    job->queue = NULL;
    q->rt->depth--;
    s->total--;
    s_queue_gc(q->rt, q);
}

static sched_queue_t *s_best_queue(sched_t *s, const peer_t *p)
{
    sched_queue_t *best = NULL;
    for (size_t r = 0; r < p->nroles; r++) {
        role_rt_t *rt = zhashx_lookup(s->roles, p->roles[r]);
        if (!rt || rt->depth == 0)
            continue;
        uint32_t limit = rt->role->max_concurrency;
        if (limit && rt->running >= limit)
            continue;
        for (size_t i = 0; i < rt->nqueues; i++) {
            sched_queue_t *q = rt->queues[i];
            if (q->n == 0 || !kv_subset(&q->where, &p->labels))
                continue;
            if (!best || s_before(&q->heap[0], &best->heap[0]))
                best = q;
        }
    }
    return best;
}

job_t *sched_pick(sched_t *s, const peer_t *p)
{
    sched_queue_t *q = s_best_queue(s, p);
    if (!q)
        return NULL;
    job_t *job = q->heap[0].job;
    sched_remove(s, job);
    return job;
}

void sched_started(sched_t *s, const job_t *job)
{
    role_rt_t *rt = s_role(s, job->role);
    if (rt)
        rt->running++;
}

void sched_stopped(sched_t *s, const job_t *job)
{
    role_rt_t *rt = zhashx_lookup(s->roles, job->role->name);
    if (rt && rt->running > 0)
        rt->running--;
}

size_t sched_depth(const sched_t *s, const char *role)
{
    role_rt_t *rt = zhashx_lookup(s->roles, role);
    return rt ? rt->depth : 0;
}

size_t sched_total(const sched_t *s)
{
    return s->total;
}

uint32_t sched_running(const sched_t *s, const char *role)
{
    role_rt_t *rt = zhashx_lookup(s->roles, role);
    return rt ? rt->running : 0;
}
