/*  node/coord_list.c — job listings for JOBS and GET /api/jobs: one filter
    (state, role, worker, an id range), newest first, a page at a time.

    Where a listing reads: every unfinished job (queued, scheduled,
    running) is in the coordinator's memory, so a filter on one of those
    states walks the job table and never the store (which would also miss
    this turn's uncommitted changes); anything else walks the store through
    its indexes (coord_stored_jobs), preferring the in-memory copy of each
    job it meets.

    Rules: pages are ordered by job id, which grows with creation time, so
    a cursor "ids below X" sees each job at most once however many new jobs
    arrive between pages; a page says whether more matches follow, and a
    store walk stops after COORD_SCAN_MAX records and says so.
*/
#include "node/coord_int.h"
#include "mesh/objenc.h"

#include <stdlib.h>
#include <string.h>

bool coord_job_matches(const coord_filter_t *f, const job_t *job)
{
    if (f->by_state && job->state != f->state)
        return false;
    if (f->role && strcmp(f->role, job->role->name) != 0)
        return false;
    if (f->worker) {
        const char *w = job->worker ? job->worker->id : job->last_worker;
        if (!w || strcmp(f->worker, w) != 0)
            return false;
    }
    return true;
}

static int s_newer_first(const void *a, const void *b)
{
    uint64_t x = (*(job_t *const *) a)->id, y = (*(job_t *const *) b)->id;
    return x < y ? 1 : x > y ? -1 : 0;
}

static bool s_in_range(const coord_filter_t *f, const job_t *job)
{
    return job->id >= f->from && (!f->before || job->id < f->before);
}

/* Matches from the job table, sorted newest first (the table's order is
   creation order except for finished jobs brought back from the store). */
static size_t s_memory_matches(coord_t *c, const coord_filter_t *f, job_t ***out)
{
    size_t n = 0, cap = 0;
    job_t **all = NULL;
    for (job_t *j = jobtab_newest(c->jobs); j; j = jobtab_older(c->jobs)) {
        if (!s_in_range(f, j) || !coord_job_matches(f, j))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            job_t **grown = realloc(all, nc * sizeof *grown);
            if (!grown)
                break;              /* out of memory: a short page, never a crash */
            all = grown;
            cap = nc;
        }
        all[n++] = j;
    }
    if (n > 1)
        qsort(all, n, sizeof *all, s_newer_first);
    *out = all;
    return n;
}

static size_t s_memory_jobs(coord_t *c, const coord_filter_t *f, pb_buf_t *out,
                            coord_page_t *page)
{
    job_t **all = NULL;
    size_t found = s_memory_matches(c, f, &all);
    coord_page_t pg = { 0 };
    for (; pg.n < found && pg.n < f->limit; pg.n++) {
        objenc_job(out, all[pg.n], NULL, 0);
        pg.last_id = pg.scanned_id = all[pg.n]->id;
    }
    pg.more = found > pg.n;
    free(all);
    if (page)
        *page = pg;
    return pg.n;
}

size_t coord_list_jobs(coord_t *c, const coord_filter_t *f, pb_buf_t *out, coord_page_t *page)
{
    if (f->by_state && !job_state_terminal(f->state))
        return s_memory_jobs(c, f, out, page);
    return coord_stored_jobs(c, f, out, page);
}
