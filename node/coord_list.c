/*  node/coord_list.c — job listings for JOBS and GET /api/jobs: one filter
    (state, role, worker, an id range, a search text), newest first, a page
    at a time.

    Where a listing reads: every unfinished job (queued, scheduled,
    running) is in the coordinator's memory, so a filter on one of those
    states walks the job table and never the store (which would also miss
    this turn's uncommitted changes); anything else walks the store through
    its indexes (coord_stored_jobs), preferring the in-memory copy of each
    job it meets.

    Rules: pages are ordered by job id, which grows with creation time, so
    a cursor "ids below X" sees each job at most once however many new jobs
    arrive between pages; a page says whether more matches follow, and a
    store walk — or a search (q) of the jobs in memory — stops after
    COORD_SCAN_MAX jobs and says so (truncated, with a cursor to go on).
*/
#include "node/coord_int.h"
#include "mesh/objenc.h"

#include <stdlib.h>
#include <string.h>

static bool s_has(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

bool coord_job_matches(const coord_filter_t *f, const job_t *job)
{
    if (f->by_state && job->state != f->state)
        return false;
    if (f->role && strcmp(f->role, job->role->name) != 0)
        return false;
    const char *w = job->worker ? job->worker->id : job->last_worker;
    if (f->worker && (!w || strcmp(f->worker, w) != 0))
        return false;
    return !f->text || s_has(job->idstr, f->text) || s_has(job->role->name, f->text) ||
           s_has(w, f->text) || s_has(job->payload, f->text) || s_has(job->error, f->text);
}

static bool s_in_range(const coord_filter_t *f, const job_t *job)
{
    return job->id >= f->from && (!f->before || job->id < f->before);
}

/* Put job into sel (newest first, at most cap entries; *n of them now). */
static void s_select(job_t **sel, size_t *n, size_t cap, job_t *job)
{
    size_t at = *n;
    while (at > 0 && sel[at - 1]->id < job->id)
        at--;
    if (at == cap)
        return;               /* older than every one kept, and no room */
    size_t keep = *n < cap ? *n : cap - 1;
    memmove(sel + at + 1, sel + at, (keep - at) * sizeof *sel);
    sel[at] = job;
    *n = keep + 1;
}

/* The newest `limit` matches from the job table, plus one to tell whether
   more follow. The table is in creation order except for finished jobs
   brought back from the store, so the walk keeps a bounded selection
   instead of sorting every match: no allocation beyond limit + 1 pointers. */
static size_t s_memory_jobs(coord_t *c, const coord_filter_t *f, pb_buf_t *out,
                            coord_page_t *page)
{
    size_t cap = f->limit + 1, found = 0, scanned = 0;
    uint64_t lowest = 0;
    bool cut = false;
    job_t **sel = calloc(cap, sizeof *sel);
    for (job_t *j = jobtab_newest(c->jobs); sel && j; j = jobtab_older(c->jobs)) {
        if (f->text && scanned == COORD_SCAN_MAX) {   /* a search reads text: bound it */
            cut = true;
            break;
        }
        if (!s_in_range(f, j))
            continue;
        scanned++;
        lowest = !lowest || j->id < lowest ? j->id : lowest;
        if (coord_job_matches(f, j))
            s_select(sel, &found, cap, j);
    }
    coord_page_t pg = { 0 };
    for (; pg.n < found && pg.n < f->limit; pg.n++) {
        objenc_job(out, sel[pg.n], NULL, 0);
        pg.last_id = pg.scanned_id = sel[pg.n]->id;
    }
    pg.more = found > pg.n;
    if (cut && !pg.more) {            /* the next page goes on below what was read */
        pg.truncated = true;
        pg.scanned_id = lowest;
    }
    free(sel);
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
