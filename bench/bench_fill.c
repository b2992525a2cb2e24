/*  bench/bench_fill.c — fill a store with many jobs, for the start-up bench.

      bench_fill DIR FINISHED QUEUED
    writes FINISHED succeeded echo jobs and then QUEUED queued ones into the
    LMDB store in DIR (created), 10,000 per transaction, without fsync. The
    coordinator started on DIR afterwards must recover the queued ones (and
    only look at them: finished jobs are history).
*/
#include "mesh/job.h"
#include "mesh/role.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

static int s_write(store_t *s, role_t *echo, jobid_gen_t *ids, long n, bool finished)
{
    char err[256];
    for (long i = 0; i < n; i++) {
        if (i % 10000 == 0 && (store_commit(s, err, sizeof err) != 0 ||
                               store_begin(s, err, sizeof err) != 0))
            return fprintf(stderr, "bench_fill: %s\n", err), -1;
        char payload[48];
        int len = snprintf(payload, sizeof payload, "{\"n\":%ld}", i);
        job_t *job = job_new(jobid_next(ids, 1700000000000LL + i / 1000), echo, payload,
                             (size_t) len, 0, NULL, 1700000000000LL + i / 1000);
        if (!job)
            return -1;
        if (finished)
            job_finish(job, JOB_SUCCEEDED, false, 0, payload, (size_t) len, NULL, job->created_ms);
        int rc = store_put_job(s, job, err, sizeof err);
        job_destroy(&job);
        if (rc != 0)
            return fprintf(stderr, "bench_fill: %s\n", err), -1;
    }
    return store_commit(s, err, sizeof err);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_fill DIR FINISHED QUEUED\n");
        return 2;
    }
    char err[256];
    store_opts_t o = { argv[1], false, 0 };
    store_t *s = store_open(&o, err, sizeof err);
    roleset_t roles;
    if (!s || roleset_init(&roles) != 0)
        return fprintf(stderr, "bench_fill: %s\n", err), 1;
    jobid_gen_t ids = { 0 };
    role_t *echo = roleset_find(&roles, "echo");
    int rc = s_write(s, echo, &ids, atol(argv[2]), true) == 0 &&
             s_write(s, echo, &ids, atol(argv[3]), false) == 0 ? 0 : 1;
    store_close(&s);
    roleset_free(&roles);
    return rc;
}
