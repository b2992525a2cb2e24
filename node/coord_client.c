/*  node/coord_client.c — the coordinator's side of the client protocol.

    SUBMIT creates jobs (and, with wait, remembers who wants the RESULT);
    JOB, JOBS and WORKERS answer queries with REPLY; CANCEL ends a queued job
    at once or asks the running job's worker to stop it (REVOKE). LOGS,
    ROLES and DRAIN_WORKER run the code the HTTP API's job.logs, role.list
    and cluster.patch run (coord_api.h's shared operations), so both ways
    give the same answers.

    Rules: a request gets exactly one reply, REPLY/SUBMITTED or ERROR, with
    the request's req_id. A refused job in a SUBMIT batch does not refuse
    the others: each entry of SUBMITTED says what happened to its job.
    coord_submit_one is the one way a job is created, for SUBMIT and for
    the HTTP layer's role trigger alike; its refusals start with a fixed
    prefix the web layer maps to a status ("unknown role", "role disabled",
    "queue full", "store full", ...).
*/
#include "node/coord_int.h"
#include "node/coord_api.h"
#include "node/mpjson.h"
#include "mesh/objenc.h"
#include "node/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SUBMIT_MAX 100000     /* jobs in one SUBMIT */
#define JOBS_DEFAULT 100      /* JOBS without a limit */
#define JOBS_MAX 10000        /* largest JOBS limit */
#define IDEM_KEY_MAX 255      /* bytes in an idempotency key */

/* An ERROR for a client: held like every client message. */
static void s_error(coord_t *c, const rid_t *rid, uint64_t req_id, const char *code,
                    const char *message)
{
    pb_buf_reset(&c->out);
    pb_enc_error(&c->out, req_id, code, message);
    coord_reply(c, rid->data, rid->size);
}

static int s_add_waiter(job_t *job, const rid_t *rid)
{
    void **w = realloc(job->waiters, (job->nwaiters + 1) * sizeof(void *));
    if (!w)
        return -1;
    job->waiters = w;
    w[job->nwaiters] = zframe_new(rid->data, rid->size);
    if (!w[job->nwaiters])
        return -1;
    job->nwaiters++;
    return 0;
}

/* Whether s is one JSON value (any type), as the CLI and the workers expect. */
static bool s_is_json(pb_str_t s)
{
    if (s.len == 0)
        return false;
    json_t *v = json_loadb(s.ptr, s.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    json_decref(v);
    return v != NULL;
}

/* Queue a new job, or hold it until its time when it was submitted with a
   delay. 0, or -1 when out of memory (the job is then ended as failed). */
static int s_enqueue(coord_t *c, job_t *job, uint32_t delay_ms)
{
    int rc;
    if (delay_ms > 0) {
        job->state = JOB_SCHEDULED;
        job->run_at_ms = job->created_ms + delay_ms;
        rc = later_push(&c->later, job);
    } else {
        rc = sched_push(c->sched, job);
    }
    if (rc != 0) {
        job_finish(job, JOB_FAILED, false, 0, NULL, 0, "could not be queued", clock_wall_ms());
        coord_job_ended(c, job);
        return -1;
    }
    coord_save_job(c, job);
    return 0;
}

/* Queued and scheduled jobs, as counted for --queue-limit. */
static size_t s_waiting(const coord_t *c)
{
    return sched_total(c->sched) + c->later.n;
}

/* Add the role's label constraint to the job's own; a job may narrow it
   with other labels but not contradict it. NULL, or why not. */
static const char *s_role_where(const role_t *role, kvlist_t *where, char *whybuf, size_t whylen)
{
    for (size_t i = 0; i < role->where.n; i++) {
        const kv_t *need = &role->where.items[i];
        const char *have = kv_get(where, need->key);
        if (have && strcmp(have, need->val) != 0) {
            snprintf(whybuf, whylen, "where: %.64s=%.64s contradicts role '%.64s', whose jobs "
                     "run only where %.64s=%.64s", need->key, have, role->name, need->key,
                     need->val);
            return whybuf;
        }
        if (!have && kv_set(where, need->key, need->val) != 0)
            return "out of memory";
    }
    return NULL;
}

/* Why item it cannot become a job (into whybuf), or NULL when it can. */
static const char *s_refusal(coord_t *c, const pb_submit_item_t *it, bool json_checked,
                             role_t **role, kvlist_t *where, char *whybuf, size_t whylen)
{
    *role = NULL;
    if (!coord_store_room(c, it->payload.len))
        return c->store_full;
    char *name = pb_str_dup(it->role);
    *role = name ? roleset_find(&c->roles, name) : NULL;
    snprintf(whybuf, whylen, "unknown role '%.64s'", name ? name : "");
    free(name);
    if (!*role || !role_defined(*role))                 /* none, or vanished */
        return whybuf;
    if (!(*role)->enabled) {
        snprintf(whybuf, whylen, "role disabled: '%.60s' takes no new jobs", (*role)->name);
        return whybuf;
    }
    if (s_waiting(c) >= c->opts->queue_limit) {
        snprintf(whybuf, whylen, "queue full: %zu jobs are waiting (--queue-limit)", s_waiting(c));
        return whybuf;
    }
    if (!json_checked && !s_is_json(it->payload))
        return "payload must be JSON text";
    if (it->idem_key.ptr && (it->idem_key.len == 0 || it->idem_key.len > IDEM_KEY_MAX))
        return "idempotency key must be 1-255 bytes";
    if (kv_from_wire(where, &it->where) != 0)
        return "where labels need unique keys of letters, digits, _ . - and values without ','";
    return s_role_where(*role, where, whybuf, whylen);
}

/* The job an idempotency key already created within the window: 1 and its
   id in idout, 0 when there is none, -1 when the store cannot tell. */
static int s_known_key(coord_t *c, pb_str_t key, char *idout)
{
    char err[200];
    uint64_t id;
    int64_t created;
    if (!key.ptr)
        return 0;
    int found = store_idem_get(c->store, key.ptr, key.len, &id, &created, err, sizeof err);
    if (found < 0)
        log_msg(LL_WARN, "coordinator", "store: %s", err);
    if (found != 1 || clock_wall_ms() - created > IDEM_WINDOW_MS)
        return found < 0 ? -1 : 0;
    jobid_format(id, idout);
    return 1;
}

job_t *coord_submit_one(coord_t *c, const pb_submit_item_t *it, bool json_checked, char *idout,
                        const char **why, char *whybuf, size_t whylen)
{
    role_t *role;
    kvlist_t where = { 0 };
    job_t *job = NULL;
    *why = s_refusal(c, it, json_checked, &role, &where, whybuf, whylen);
    int known = *why ? 0 : s_known_key(c, it->idem_key, idout);
    if (known == 1) {   /* the first job; a finished one may be only in the store */
        kv_free(&where);
        job_t *first = jobtab_find(c->jobs, idout, JOBID_LEN);
        uint64_t id;
        if (!first && jobid_parse(idout, JOBID_LEN, &id) == 0)
            first = coord_load_job(c, id);
        return first;
    }
    int64_t now = clock_wall_ms();
    if (known < 0)
        *why = "the store cannot check the idempotency key now";
    else if (!*why && !(job = job_new(jobid_next(&c->ids, now), role, it->payload.ptr,
                                      it->payload.len, it->priority, &where, now)))
        *why = "coordinator out of memory";
    kv_free(&where);
    if (!job)
        return NULL;
    if (jobtab_add(c->jobs, job) != 0 || s_enqueue(c, job, it->delay_ms) != 0) {
        *why = "coordinator out of memory";
        return NULL;
    }
    if (it->idem_key.ptr)
        coord_save_idem(c, it->idem_key, job->id, now);
    memcpy(idout, job->idstr, JOBID_LEN + 1);
    c->stats.submitted++;
    return job;
}

/* A waiter for a job that may already have ended: push its RESULT now. */
static const char *s_wait_for(coord_t *c, job_t *job, const rid_t *rid)
{
    if (job_state_terminal(job->state)) {
        zframe_t *f = zframe_new(rid->data, rid->size);
        if (f)
            coord_result_add(c, f, job);
        zframe_destroy(&f);
        return NULL;
    }
    return s_add_waiter(job, rid) == 0 ? NULL
                                       : "accepted, but the result cannot be pushed (out of memory)";
}

static void s_submit(coord_t *c, const rid_t *rid, const pb_submit_t *m)
{
    if (m->n > SUBMIT_MAX) {
        s_error(c, rid, m->req_id, "too-large", "at most 100000 jobs per SUBMIT");
        return;
    }
    pb_submitted_item_t *res = calloc(m->n ? m->n : 1, sizeof *res);
    char (*whybuf)[96] = calloc(m->n ? m->n : 1, 96);
    char (*ids)[JOBID_LEN + 1] = calloc(m->n ? m->n : 1, JOBID_LEN + 1);
    if (!res || !whybuf || !ids) {
        free(res);
        free(whybuf);
        free(ids);
        s_error(c, rid, m->req_id, "unavailable", "coordinator out of memory");
        return;
    }
    for (uint32_t i = 0; i < m->n; i++) {
        const char *why = NULL;
        job_t *job = coord_submit_one(c, &m->items[i], false, ids[i], &why, whybuf[i],
                                      sizeof whybuf[i]);
        if (job && m->wait)
            why = s_wait_for(c, job, rid);
        if (!why || job)
            res[i].job_id = (pb_str_t) { ids[i], JOBID_LEN };
        res[i].error = pb_s(why);
    }
    c->dispatch_needed = true;
    /* held in the outbox: SUBMITTED leaves after the turn's durable commit */
    pb_buf_reset(&c->out);
    pb_enc_submitted(&c->out, m->req_id, res, m->n);
    coord_reply(c, rid->data, rid->size);
    free(res);
    free(whybuf);
    free(ids);
}

/* The job in memory; otherwise answer from the store (JOB), or say why it
   cannot be cancelled (CANCEL), and return NULL. */
static job_t *s_find(coord_t *c, const rid_t *rid, const pb_query_t *q, bool is_job)
{
    job_t *job = jobtab_find(c->jobs, q->job_id.ptr, q->job_id.len);
    uint64_t id;
    if (job)
        return job;
    char text[120], state[32];
    pb_buf_t *body = is_job ? &c->scratch : NULL;
    pb_buf_reset(&c->scratch);
    int found = jobid_parse(q->job_id.ptr, q->job_id.len, &id) == 0
                    ? coord_stored_job(c, id, body, state, sizeof state) : 0;
    if (found == 1 && is_job) {
        pb_buf_reset(&c->out);
        pb_enc_reply_begin(&c->out, q->req_id);
        pb_w_raw(&c->out, pb_buf_data(&c->scratch), pb_buf_size(&c->scratch));
        coord_reply(c, rid->data, rid->size);
    } else if (found == 1) {
        snprintf(text, sizeof text, "job %.16s already %s", q->job_id.ptr, state);
        s_error(c, rid, q->req_id, "conflict", text);
    } else {
        snprintf(text, sizeof text, "no job %.*s", (int) (q->job_id.len > 40 ? 40 : q->job_id.len),
                 q->job_id.ptr);
        s_error(c, rid, q->req_id, found < 0 ? "unavailable" : "not-found", text);
    }
    return NULL;
}

static void s_job(coord_t *c, const rid_t *rid, const pb_query_t *q)
{
    job_t *job = s_find(c, rid, q, true);
    if (!job)
        return;
    pb_buf_reset(&c->out);
    pb_enc_reply_begin(&c->out, q->req_id);
    coord_encode_with_log(c, &c->out, job);
    coord_reply(c, rid->data, rid->size);
}

static void s_jobs(coord_t *c, const rid_t *rid, const pb_query_t *q)
{
    coord_filter_t f = { .by_state = q->state.ptr != NULL, .state = JOB_QUEUED };
    char *state = pb_str_dup(q->state), *role = pb_str_dup(q->role);
    bool bad = q->state.ptr && (!state || job_state_parse(state, &f.state) != 0);
    if (bad) {
        s_error(c, rid, q->req_id, "bad-request", "unknown job state");
    } else {
        f.role = role;
        f.limit = q->limit ? (q->limit > JOBS_MAX ? JOBS_MAX : q->limit) : JOBS_DEFAULT;
        pb_buf_reset(&c->scratch);
        size_t n = coord_list_jobs(c, &f, &c->scratch, NULL);
        pb_buf_reset(&c->out);
        pb_enc_reply_begin(&c->out, q->req_id);
        pb_w_array(&c->out, (uint32_t) n);
        pb_w_raw(&c->out, pb_buf_data(&c->scratch), pb_buf_size(&c->scratch));
        coord_reply(c, rid->data, rid->size);
    }
    free(state);
    free(role);
}

static int s_by_id(const void *a, const void *b)
{
    return strcmp((*(peer_t *const *) a)->id, (*(peer_t *const *) b)->id);
}

static void s_workers(coord_t *c, const rid_t *rid, const pb_query_t *q)
{
    size_t n = 0, cap = zhashx_size(c->peers);
    peer_t **all = calloc(cap ? cap : 1, sizeof *all);
    for (peer_t *p = zhashx_first(c->peers); all && p; p = zhashx_next(c->peers))
        all[n++] = p;
    qsort(all, n, sizeof *all, s_by_id);
    pb_buf_reset(&c->out);
    pb_enc_reply_begin(&c->out, q->req_id);
    pb_w_array(&c->out, (uint32_t) n);
    for (size_t i = 0; i < n; i++)
        objenc_peer(&c->out, all[i]);
    coord_reply(c, rid->data, rid->size);
    free(all);
}

static void s_reply_job(coord_t *c, const rid_t *rid, uint64_t req_id, const job_t *job)
{
    pb_buf_reset(&c->out);
    pb_enc_reply_begin(&c->out, req_id);
    objenc_job(&c->out, job, NULL, 0);
    coord_reply(c, rid->data, rid->size);
}

static void s_revoke(coord_t *c, job_t *job)
{
    pb_lease_ref_t ref = { { job->idstr, JOBID_LEN }, job->attempts };
    job->revoking = true;
    coord_save_job(c, job);   /* the cancel survives a restart */
    if (!job->worker->routing_id)
        return;               /* not connected now: told again when it says HELLO */
    pb_buf_reset(&c->out);
    pb_enc_revoke(&c->out, &ref);
    coord_send(c, zframe_data(job->worker->routing_id), zframe_size(job->worker->routing_id));
}

static void s_cancel(coord_t *c, const rid_t *rid, const pb_query_t *q)
{
    job_t *job = s_find(c, rid, q, false);
    if (!job)
        return;
    if (job_state_terminal(job->state)) {
        char text[80];
        snprintf(text, sizeof text, "job %s already %s", job->idstr, job_state_name(job->state));
        s_error(c, rid, q->req_id, "conflict", text);
        return;
    }
    log_job(LL_INFO, "coordinator", job->idstr, job->worker ? job->worker->id : NULL,
            "job %s: cancel requested (%s)", job->idstr,
            job_state_name(job->state));
    bool http = job->state == JOB_RUNNING && !job->worker->routing_id &&
                (job->worker->http_live || strcmp(peer_kind(job->worker), "http") == 0);
    if (job->state == JOB_RUNNING && !http) {
        s_revoke(c, job);
        s_reply_job(c, rid, q->req_id, job);
        return;
    }
    if (http)                 /* nobody to tell: its next report about it gets 409 */
        coord_unlease(c, job);
    sched_remove(c->sched, job);
    later_remove(&c->later, job);
    job_finish(job, JOB_CANCELLED, false, 0, NULL, 0,
               http ? "cancelled while running on an HTTP worker"
               : job->attempts > job->attempt_base ? "cancelled while waiting to be retried"
                                                   : "cancelled before it started", clock_wall_ms());
    s_reply_job(c, rid, q->req_id, job);
    coord_job_ended(c, job); /* may free it */
}

/* Run a job that ended badly again, with a fresh allotment of attempts. */
static void s_retry(coord_t *c, const rid_t *rid, const pb_query_t *q)
{
    uint64_t id;
    job_t *job = jobtab_find(c->jobs, q->job_id.ptr, q->job_id.len);
    if (!job && jobid_parse(q->job_id.ptr, q->job_id.len, &id) == 0)
        job = coord_load_job(c, id);
    char text[160];
    if (!job) {
        snprintf(text, sizeof text, "no job %.*s (or its role no longer exists)",
                 (int) (q->job_id.len > 40 ? 40 : q->job_id.len), q->job_id.ptr);
        s_error(c, rid, q->req_id, "not-found", text);
        return;
    }
    if (!job_state_terminal(job->state) || job->state == JOB_SUCCEEDED ||
        (!job->role->builtin && job->role->ncommand == 0)) {
        snprintf(text, sizeof text, "job %s is %s; only failed, timed_out, cancelled or dead "
                 "jobs of existing roles can be retried", job->idstr, job_state_name(job->state));
        s_error(c, rid, q->req_id, "conflict", text);
        return;
    }
    jobtab_unfinished(c->jobs, job);
    job->attempt_base = job->attempts;
    job->started_ms = 0;      /* it shows no start and no worker until it runs again */
    free(job->last_worker);
    job->last_worker = NULL;
    job->revoking = false;
    job->has_exit_code = false;
    job->finished_ms = job->run_at_ms = 0;
    free(job->result);
    free(job->error);
    job->result = job->error = NULL;
    job->state = JOB_QUEUED;
    if (sched_push(c->sched, job) != 0) {
        job_finish(job, JOB_FAILED, false, 0, NULL, 0, "could not be queued", clock_wall_ms());
        coord_job_ended(c, job);
        s_error(c, rid, q->req_id, "unavailable", "coordinator out of memory");
        return;
    }
    coord_save_job(c, job);
    c->dispatch_needed = true;
    log_job(LL_INFO, "coordinator", job->idstr, NULL, "job %s: retried by hand after %u attempt(s)", job->idstr,
            job->attempts);
    s_reply_job(c, rid, q->req_id, job);
}

/* REPLY with a shared operation's object as msgpack, or its ERROR. */
static void s_reply_json(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *o,
                         const coord_fail_t *fail)
{
    if (!o) {
        s_error(c, rid, req_id, fail->code, fail->message);
        return;
    }
    pb_buf_reset(&c->out);
    pb_enc_reply_begin(&c->out, req_id);
    mpjson_write(&c->out, o);
    json_decref(o);
    coord_reply(c, rid->data, rid->size);
}

static void s_logs(coord_t *c, const rid_t *rid, const pb_query_t *q)
{
    coord_fail_t fail = { "unavailable", "coordinator out of memory" };
    char *id = pb_str_dup(q->job_id);
    json_t *o = NULL;
    if (q->limit == 0 || q->limit > COORD_LOGS_MAX) {
        fail.code = "bad-request";
        snprintf(fail.message, sizeof fail.message, "LOGS limit must be 1..%d bytes",
                 COORD_LOGS_MAX);
    } else if (id) {
        o = coord_job_logs(c, id, q->offset, q->limit, &fail);
    }
    free(id);
    s_reply_json(c, rid, q->req_id, o, &fail);
}

static void s_roles(coord_t *c, const rid_t *rid, const pb_query_t *q)
{
    coord_fail_t fail = { "unavailable", "coordinator out of memory" };
    s_reply_json(c, rid, q->req_id, coord_roles_json(c), &fail);
}

/* Drain a worker's registration, or let it take jobs again, as the HTTP
   API's PATCH {"state": ...} does; the answer is its worker object. */
static void s_drain_worker(coord_t *c, const rid_t *rid, const pb_query_t *q)
{
    char *id = pb_str_dup(q->worker_id);
    peer_t *p = id ? zhashx_lookup(c->peers, id) : NULL;
    char text[120];
    if (!p) {
        snprintf(text, sizeof text, "no worker '%.64s'", id ? id : "");
        s_error(c, rid, q->req_id, id ? "not-found" : "unavailable", text);
    } else {
        p->admin.drain = q->drain;
        if (coord_peer_changed(c, p, "the client protocol") != 0) {
            s_error(c, rid, q->req_id, "unavailable", "coordinator out of memory");
        } else {
            pb_buf_reset(&c->out);
            pb_enc_reply_begin(&c->out, q->req_id);
            objenc_peer(&c->out, p);
            coord_reply(c, rid->data, rid->size);
        }
    }
    free(id);
}

void coord_client_msg(coord_t *c, const rid_t *rid, pb_msg_t *msg)
{
    switch (msg->cmd) {
    case PB_SUBMIT:
        s_submit(c, rid, &msg->u.submit);
        break;
    case PB_JOB:
        s_job(c, rid, &msg->u.query);
        break;
    case PB_JOBS:
        s_jobs(c, rid, &msg->u.query);
        break;
    case PB_WORKERS:
        s_workers(c, rid, &msg->u.query);
        break;
    case PB_RETRY:
        s_retry(c, rid, &msg->u.query);
        break;
    case PB_LOGS:
        s_logs(c, rid, &msg->u.query);
        break;
    case PB_ROLES:
        s_roles(c, rid, &msg->u.query);
        break;
    case PB_DRAIN_WORKER:
        s_drain_worker(c, rid, &msg->u.query);
        break;
    default: /* PB_CANCEL */
        s_cancel(c, rid, &msg->u.query);
        break;
    }
}
