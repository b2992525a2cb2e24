/*  node/metrics.c — counters and fixed-bucket histograms (metrics.h). */
#include "node/metrics.h"

#include <stdlib.h>

const int64_t histo_bounds_us[HISTO_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

void histo_observe(histo_t *h, int64_t us)
{
    if (us < 0)
        us = 0;                          /* a clock that stepped back */
    size_t b = 0;
    while (b < HISTO_BUCKETS && us > histo_bounds_us[b])
        b++;
    h->counts[b]++;
    h->count++;
    h->sum_us += (uint64_t) us;
}

static void s_counts_free(void **item)
{
    free(*item);
    *item = NULL;
}

int metrics_init(metrics_t *m)
{
    *m = (metrics_t) { 0 };
    m->finished = zhashx_new();
    if (!m->finished)
        return -1;
    zhashx_set_destructor(m->finished, s_counts_free);
    return 0;
}

void metrics_free(metrics_t *m)
{
    zhashx_destroy(&m->finished);
}

void metrics_dispatched(metrics_t *m, const job_t *job, int64_t now_us)
{
    histo_observe(&m->dispatch, now_us - job->ready_us);
}

void metrics_ended(metrics_t *m, const job_t *job)
{
    if (job->finished_ms && job->created_ms)
        histo_observe(&m->job, (job->finished_ms - job->created_ms) * 1000);
    uint64_t *counts = zhashx_lookup(m->finished, job->role->name);
    if (!counts) {
        counts = calloc(JOB_STATE_COUNT, sizeof *counts);
        if (!counts || zhashx_insert(m->finished, job->role->name, counts) != 0) {
            free(counts);
            return;                      /* out of memory: this one goes uncounted */
        }
    }
    counts[job->state]++;
}

const uint64_t *metrics_finished(const metrics_t *m, const char *role)
{
    return zhashx_lookup(m->finished, role);
}
