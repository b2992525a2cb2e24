/*  mesh/job.c — job records, states and ids (job.h).

    Every string in a job_t is owned by it and freed by job_destroy; the role
    is borrowed. A job's output lives in the store, not in the job.
*/
#include "mesh/job.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_state_names[JOB_STATE_COUNT] = {
    "queued", "scheduled", "running",
    "succeeded", "failed", "timed_out", "cancelled", "dead"
};

const char *job_state_name(job_state_t s)
{
    return s < JOB_STATE_COUNT ? s_state_names[s] : "unknown";
}

int job_state_parse(const char *name, job_state_t *out)
{
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        if (strcmp(name, s_state_names[i]) == 0) {
            *out = (job_state_t) i;
            return 0;
        }
    return -1;
}

bool job_state_terminal(job_state_t s)
{
    return s >= JOB_SUCCEEDED && s < JOB_STATE_COUNT;
}

job_t *job_new(uint64_t id, role_t *role, const char *payload, size_t payload_len,
               int32_t priority, const kvlist_t *where, int64_t now_ms)
{
    job_t *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->id = id;
    jobid_format(id, job->idstr);
    job->role = role;
    job->priority = priority;
    job->state = JOB_QUEUED;
    job->stored_state = JOB_STATE_COUNT;
    job->created_ms = now_ms;
    job->payload = strndup(payload, payload_len);
    if (!job->payload || (where && kv_copy(&job->where, where) != 0))
        job_destroy(&job);
    return job;
}

void job_destroy(job_t **self_p)
{
    job_t *job = *self_p;
    if (!job)
        return;
    for (size_t i = 0; i < job->nwaiters; i++) {
        zframe_t *f = job->waiters[i];
        zframe_destroy(&f);
    }
    free(job->waiters);
    free(job->payload);
    kv_free(&job->where);
    free(job->last_worker);
    free(job->result);
    free(job->error);
    free(job->progress.message);
    free(job);
    *self_p = NULL;
}

int job_finish(job_t *job, job_state_t state, bool has_exit, int32_t exit_code,
               const char *result, size_t result_len, const char *error, int64_t now_ms)
{
    free(job->result);
    free(job->error);
    job->result = result ? strndup(result, result_len) : NULL;
    job->error = error ? strdup(error) : NULL;
    job->state = state;
    job->has_exit_code = has_exit;
    job->exit_code = exit_code;
    job->finished_ms = now_ms;
    job->worker = NULL;
    return ((result && !job->result) || (error && !job->error)) ? -1 : 0;
}

uint64_t jobid_next(jobid_gen_t *gen, int64_t now_ms)
{
    uint64_t candidate = ((uint64_t) now_ms & 0xFFFFFFFFFFFFULL) << 16;
    gen->last = candidate > gen->last ? candidate : gen->last + 1;
    return gen->last;
}

void jobid_format(uint64_t id, char out[JOBID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = JOBID_LEN - 1; i >= 0; i--, id >>= 4)
        out[i] = hex[id & 15];
    out[JOBID_LEN] = '\0';
}

int jobid_parse(const char *s, size_t len, uint64_t *id)
{
    if (len != JOBID_LEN)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = (v << 4) | (uint64_t) d;
    }
    *id = v;
    return 0;
}
