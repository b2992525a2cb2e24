/*  mesh/later.c — the min-heap of scheduled jobs (later.h).

    Invariant: for every i > 0, heap[(i-1)/2] is due no later than heap[i]
    (ties broken by id, so equal times keep submission order), and
    heap[i]->lpos == i.
*/
#include "mesh/later.h"

#include <stdlib.h>

static int s_before(const job_t *a, const job_t *b)
{
    if (a->run_at_ms != b->run_at_ms)
        return a->run_at_ms < b->run_at_ms;
    return a->id < b->id;
}

static void s_set(later_t *l, size_t i, job_t *job)
{
    l->heap[i] = job;
    job->lpos = i;
}

static void s_up(later_t *l, size_t i)
{
    job_t *job = l->heap[i];
    while (i > 0 && s_before(job, l->heap[(i - 1) / 2])) {
        s_set(l, i, l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    s_set(l, i, job);
}

static void s_down(later_t *l, size_t i)
{
    job_t *job = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->n)
            break;
        if (c + 1 < l->n && s_before(l->heap[c + 1], l->heap[c]))
            c++;
        if (!s_before(l->heap[c], job))
            break;
        s_set(l, i, l->heap[c]);
        i = c;
    }
    s_set(l, i, job);
}

void later_init(later_t *l)
{
    l->heap = NULL;
    l->n = l->cap = 0;
}

void later_free(later_t *l)
{
    free(l->heap);
    later_init(l);
}

int later_push(later_t *l, job_t *job)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        job_t **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return -1;
        l->heap = h;
        l->cap = cap;
    }
    l->heap[l->n++] = job;
    s_up(l, l->n - 1);
    return 0;
}

void later_remove(later_t *l, job_t *job)
{
    size_t i = job->lpos;
    if (i >= l->n || l->heap[i] != job)
        return;
    job_t *last = l->heap[--l->n];
    if (i == l->n)
        return;
    s_set(l, i, last);
    s_up(l, i);
    s_down(l, last->lpos);
}

job_t *later_pop_due(later_t *l, int64_t now_ms)
{
    if (l->n == 0 || l->heap[0]->run_at_ms > now_ms)
        return NULL;
    job_t *job = l->heap[0];
    later_remove(l, job);
    return job;
}

int64_t later_next(const later_t *l)
{
    return l->n ? l->heap[0]->run_at_ms : INT64_MAX;
}
