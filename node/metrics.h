/*  node/metrics.h — the numbers /metrics reports that the loop must count
    as things happen: jobs finished by role and state, and two latency
    histograms (dispatch: ready to assigned; job: created to finished).

    Rules: only the loop thread touches a metrics_t; recording is a few
    additions with fixed buckets and no allocation (only the first job to
    end in a role allocates that role's counters).
*/
#ifndef POPEBOT_NODE_METRICS_H
#define POPEBOT_NODE_METRICS_H

#include <czmq.h>
#include <stdint.h>
#include "mesh/job.h"

#define HISTO_BUCKETS 16                 /* finite upper bounds; +Inf is one more */

/* The bounds of the buckets, in microseconds, ascending (0.0005 s .. 60 s). */
extern const int64_t histo_bounds_us[HISTO_BUCKETS];

typedef struct {
    uint64_t counts[HISTO_BUCKETS + 1];  /* per bucket (not cumulative); last = over 60 s */
    uint64_t count;                      /* observations */
    uint64_t sum_us;                     /* their sum, microseconds */
} histo_t;

void histo_observe(histo_t *h, int64_t us);

typedef struct {
    histo_t dispatch;                    /* ready (queued) -> assigned to a worker */
    histo_t job;                         /* created -> finished */
    zhashx_t *finished;                  /* role name -> uint64_t[JOB_STATE_COUNT], owned */
} metrics_t;

int metrics_init(metrics_t *m);
void metrics_free(metrics_t *m);
/* A job was leased to a worker at now_us (monotonic); job->ready_us says
   since when it waited. */
void metrics_dispatched(metrics_t *m, const job_t *job, int64_t now_us);
/* A job reached its terminal state. */
void metrics_ended(metrics_t *m, const job_t *job);
/* Finished counts of a role (NULL when none of its jobs ended yet). */
const uint64_t *metrics_finished(const metrics_t *m, const char *role);

#endif
