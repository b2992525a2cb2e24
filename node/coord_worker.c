/*  node/coord_worker.c — the coordinator's side of the worker protocol.

    Handles HELLO, PING, LOG, DONE, DRAIN and BYE; keeps leases consistent
    with what workers report; expires silent workers; dispatches queued jobs.
    HTTP workers (node/coord_api_worker.c) report through the same
    coord_worker_log / coord_worker_done and are dispatched to by the same
    round, their waiting long polls standing in for a connection.

    Invariants:
    - A running job has job->worker set and is in that peer's lease array
      exactly once, and is counted once in the scheduler's running count.
    - A report (LOG or DONE) counts only if it names the job's current
      lease: same worker, same attempt, job still running. Anything else is
      stale and ignored (at-least-once delivery with attempt numbers).
    - A lease that ends without a result goes back to the queue, or to
      `dead` once the role's max_attempts are spent.
    - A deleted registration's id (a tombstone in c->tombstones) is refused
      at HELLO until the HTTP API creates it again.
*/
#include "node/coord_int.h"
#include "mesh/objenc.h"
#include "node/log.h"

#include <stdlib.h>
#include <string.h>

#define EXPIRE_CHECK_MS 50

static peer_t *s_peer_by_rid(coord_t *c, const rid_t *rid)
{
    char key[511];
    coord_rid_key(rid->data, rid->size, key);
    return zhashx_lookup(c->by_rid, key);
}

static void s_unbind(coord_t *c, peer_t *p)
{
    zframe_t *f = p->routing_id;
    if (!f)
        return;
    char key[511];
    coord_rid_key(zframe_data(f), zframe_size(f), key);
    if (zhashx_lookup(c->by_rid, key) == p)
        zhashx_delete(c->by_rid, key);
    zframe_destroy(&f);
    p->routing_id = NULL;
}

/* ---- job endings ------------------------------------------------------- */

static void s_notify_waiters(coord_t *c, job_t *job)
{
    for (size_t i = 0; i < job->nwaiters; i++) {
        zframe_t *f = job->waiters[i];
        coord_result_add(c, f, job);
        zframe_destroy(&f);
    }
    free(job->waiters);
    job->waiters = NULL;
    job->nwaiters = 0;
}

void coord_job_ended(coord_t *c, job_t *job)
{
    c->stats.finished++;
    metrics_ended(&c->metrics, job);
    log_job(LL_DEBUG, "coordinator", job->idstr, job->worker ? job->worker->id : job->last_worker,
            "job %s: %s after %u attempt(s)", job->idstr,
            job_state_name(job->state), job->attempts);
    coord_save_job(c, job);
    s_notify_waiters(c, job);
    jobtab_finished(c->jobs, job); /* may free it: last use */
}

static void s_end(coord_t *c, job_t *job, job_state_t state, const char *error)
{
    job_finish(job, state, false, 0, NULL, 0, error, clock_wall_ms());
    coord_job_ended(c, job);
}

static void s_requeue(coord_t *c, job_t *job)
{
    job->state = JOB_QUEUED;
    job->worker = NULL;
    if (sched_push(c->sched, job) != 0) {
        s_end(c, job, JOB_FAILED, "coordinator out of memory while requeueing");
        return;
    }
    coord_save_job(c, job);
    c->dispatch_needed = true;
}

/* Detach a running job from its worker. */
void coord_unlease(coord_t *c, job_t *job)
{
    peer_lease_remove(job->worker, job);
    sched_stopped(c->sched, job);
    job->worker = NULL;
    c->dispatch_needed = true;
}

/* The attempt never started (rejected, or its ASSIGN never left): it does
   not count, and a job that never started shows no start and no worker. */
static void s_unstart(job_t *job)
{
    if (job->attempts > 0)
        job->attempts--;
    if (job->attempts == 0) {
        job->started_ms = 0;
        free(job->last_worker);
        job->last_worker = NULL;
    }
}

/* The lease ended without a result (worker lost, or it gave the job back). */
static void s_lease_lost(coord_t *c, job_t *job, const char *why)
{
    char error[200];
    const char *worker = job->worker->id;
    coord_unlease(c, job);
    if (job->revoking) {
        s_end(c, job, JOB_CANCELLED, "cancelled (its worker was lost)");
        return;
    }
    if (!coord_attempts_left(job)) {
        snprintf(error, sizeof error, "worker %s %s; all %u attempts spent", worker, why,
                 job->role->max_attempts);
        log_job(LL_WARN, "coordinator", job->idstr, worker, "job %s attempt %u: %s -> dead",
                job->idstr,
                job->attempts, error);
        s_end(c, job, JOB_DEAD, error);
        return;
    }
    log_job(LL_INFO, "coordinator", job->idstr, worker, "job %s attempt %u: worker %s %s; requeued",
            job->idstr,
            job->attempts, worker, why);
    s_requeue(c, job);
}

void coord_peer_down(coord_t *c, peer_t *p, const char *why)
{
    log_job(LL_WARN, "coordinator", NULL, p->id, "worker %s (%s) offline: %s; %zu lease(s) to requeue",
            p->id, p->name, why, p->nleases);
    s_unbind(c, p);
    p->state = PEER_OFFLINE;
    p->http_live = false;
    coord_save_peer(c, p);
    while (p->nleases > 0)
        s_lease_lost(c, p->leases[0], why);
}

/* An admin deleted or disconnected the worker: its leases go back to the
   queue and the attempts they were do not count (the job did nothing
   wrong); a connected worker is told to cancel them and then gets
   ERROR code/message, which ends its session. */
void coord_peer_evict(coord_t *c, peer_t *p, const char *code, const char *message)
{
    log_job(LL_WARN, "coordinator", NULL, p->id, "worker %s (%s) %s; %zu lease(s) to requeue", p->id,
            p->name, code, p->nleases);
    while (p->nleases > 0) {
        job_t *job = p->leases[0];
        if (p->routing_id) {
            pb_lease_ref_t ref = { { job->idstr, JOBID_LEN }, job->attempts };
            pb_buf_reset(&c->out);
            pb_enc_revoke(&c->out, &ref);
            coord_send(c, zframe_data(p->routing_id), zframe_size(p->routing_id));
        }
        coord_unlease(c, job);
        if (job->revoking) {
            char why[64];
            snprintf(why, sizeof why, "cancelled (its worker was %s)", code);
            s_end(c, job, JOB_CANCELLED, why);
            continue;
        }
        job->attempt_base++;
        s_requeue(c, job);
    }
    if (p->routing_id) {
        pb_buf_reset(&c->out);
        pb_enc_error(&c->out, 0, code, message);
        coord_send(c, zframe_data(p->routing_id), zframe_size(p->routing_id));
    }
    s_unbind(c, p);
    p->state = PEER_OFFLINE;
    p->http_live = false;
}

void coord_lease_lost(coord_t *c, job_t *job, const char *why)
{
    s_lease_lost(c, job, why);
}

void coord_lease_undo(coord_t *c, job_t *job)
{
    coord_unlease(c, job);
    s_unstart(job);
    s_requeue(c, job);
}

/* ---- leases -------------------------------------------------------------- */

static int s_lease(coord_t *c, peer_t *p, job_t *job, bool new_attempt)
{
    if (peer_lease_add(p, job) != 0)
        return -1;
    if (new_attempt) {
        job->attempts++;
        free(job->progress.message);           /* progress is per attempt */
        memset(&job->progress, 0, sizeof job->progress);
    }
    job->state = JOB_RUNNING;
    job->worker = p;
    job->started_ms = clock_wall_ms();
    if (!job->last_worker || strcmp(job->last_worker, p->id) != 0) {
        free(job->last_worker);
        job->last_worker = strdup(p->id);
    }
    sched_started(c->sched, job);
    coord_save_job(c, job);
    return 0;
}

static void s_send_revoke(coord_t *c, const rid_t *rid, pb_str_t job_id, uint32_t attempt)
{
    pb_lease_ref_t ref = { job_id, attempt };
    pb_buf_reset(&c->out);
    pb_enc_revoke(&c->out, &ref);
    coord_send(c, rid->data, rid->size);
}

static bool s_reported(const pb_hello_t *h, const job_t *job)
{
    for (uint32_t i = 0; i < h->n_running; i++)
        if (h->running[i].attempt == job->attempts &&
            h->running[i].job_id.len == JOBID_LEN &&
            memcmp(h->running[i].job_id.ptr, job->idstr, JOBID_LEN) == 0)
            return true;
    return false;
}

/* Make the peer's leases match what its HELLO says it still runs. */
static void s_reconcile(coord_t *c, const rid_t *rid, peer_t *p, const pb_hello_t *h)
{
    for (size_t i = p->nleases; i-- > 0;)
        if (!s_reported(h, p->leases[i]))
            s_lease_lost(c, p->leases[i], "no longer runs it");
    for (uint32_t i = 0; i < h->n_running; i++) {
        pb_lease_ref_t *ref = &h->running[i];
        job_t *job = jobtab_find(c->jobs, ref->job_id.ptr, ref->job_id.len);
        bool current = job && job->attempts == ref->attempt;
        if (current && job->worker == p && !job->revoking)
            continue;
        if (current && job->worker == p) {  /* cancelled while we were apart: again */
            s_send_revoke(c, rid, ref->job_id, ref->attempt);
            continue;
        }
        if (current && ref->attempt > job->attempt_base && job->state == JOB_QUEUED && job->queue &&
            peer_serves(p, job->role->name) && kv_subset(&job->where, &p->labels)) {
            sched_remove(c->sched, job);
            if (s_lease(c, p, job, false) == 0)
                continue;
            s_requeue(c, job);
        }
        s_send_revoke(c, rid, ref->job_id, ref->attempt);
    }
}

/* ---- HELLO --------------------------------------------------------------- */

static const char *s_hello_problem(const pb_hello_t *h)
{
    if (!kv_name_valid(h->worker_id.ptr, h->worker_id.len))
        return "worker id must be 1-64 characters of letters, digits, _ . -";
    if (h->slots < 1 || h->slots > 100000)
        return "slots must be between 1 and 100000";
    if (h->heartbeat_ms < 10 || h->heartbeat_ms > 600000 || h->liveness < 1 || h->liveness > 100)
        return "heartbeat must be 10-600000 ms with liveness 1-100";
    if (h->roles.n == 0 || h->roles.n > 256)
        return "a worker must serve 1-256 roles";
    for (uint32_t i = 0; i < h->roles.n; i++) {
        char *name = pb_str_dup(h->roles.items[i]);
        bool ok = name && role_name_valid(name);
        free(name);
        if (!ok)
            return "role names must be 1-64 characters of letters, digits, _ . -";
    }
    return NULL;
}

static void s_bind(coord_t *c, peer_t *p, const rid_t *rid)
{
    char key[511];
    s_unbind(c, p);
    p->routing_id = zframe_new(rid->data, rid->size);
    coord_rid_key(rid->data, rid->size, key);
    zhashx_update(c->by_rid, key, p);
    const char *addr = rid->msg ? zmq_msg_gets(rid->msg, "Peer-Address") : NULL;
    free(p->address);
    p->address = strdup(addr ? addr : "");
}

static void s_welcome(coord_t *c, const rid_t *rid)
{
    pb_welcome_t w = { c->opts->heartbeat_ms, c->opts->liveness, pb_s(POPEBOT_VERSION) };
    pb_buf_reset(&c->out);
    pb_enc_welcome(&c->out, &w);
    coord_send(c, rid->data, rid->size);
}

/* Find or create the registration a HELLO names; NULL when refused. */
static peer_t *s_hello_peer(coord_t *c, const rid_t *rid, const pb_hello_t *h, int64_t now)
{
    char *id = pb_str_dup(h->worker_id);
    if (id && zhashx_lookup(c->tombstones, id)) {
        coord_send_error(c, rid, 0, "deleted", "this worker id's registration was deleted; "
                         "an admin may create it again (POST /api/clusters)");
        free(id);
        return NULL;
    }
    peer_t *p = id ? zhashx_lookup(c->peers, id) : NULL;
    peer_t *other = s_peer_by_rid(c, rid);
    if (other && other != p)
        coord_peer_down(c, other, "re-registered under another id");
    if (p && p->routing_id && !(zframe_size(p->routing_id) == rid->size &&
                                memcmp(zframe_data(p->routing_id), rid->data, rid->size) == 0)) {
        if (!peer_expired(p, now)) {
            char text[200];
            snprintf(text, sizeof text, "worker id '%s' is already online from %s; "
                     "give each worker its own --name or --id", id, p->address);
            coord_send_error(c, rid, 0, "duplicate-id", text);
            free(id);
            return NULL;
        }
        coord_peer_down(c, p, "reconnected");
    }
    if (!p && id && (p = peer_new(id)) != NULL)
        zhashx_insert(c->peers, id, p);
    if (p && !p->first_seen_ms)
        p->first_seen_ms = clock_wall_ms();
    free(id);
    return p;
}

static void s_hello(coord_t *c, const rid_t *rid, const pb_hello_t *h)
{
    int64_t now = clock_mono_ms();
    const char *problem = s_hello_problem(h);
    if (problem) {
        coord_send_error(c, rid, 0, "bad-hello", problem);
        return;
    }
    peer_t *p = s_hello_peer(c, rid, h, now);
    if (!p)
        return;
    if (peer_update(p, h) != 0) {
        coord_send_error(c, rid, 0, "bad-hello", "labels need unique keys of letters, digits, "
                         "_ . - and values without ','");
        return;
    }
    if (p->http_live)   /* it served over HTTP until now: that session ends */
        coord_peer_down(c, p, "came back over ZeroMQ");
    s_bind(c, p, rid);
    p->self_drain = h->draining;
    peer_set_live(p);
    p->last_seen_ms = now;
    p->seen_wall_ms = clock_wall_ms();
    coord_save_peer(c, p);
    s_welcome(c, rid);
    s_reconcile(c, rid, p, h);
    c->dispatch_needed = true;
    log_job(LL_INFO, "coordinator", NULL, p->id, "worker %s (%s) %s from %s: %zu role(s), %u slot(s), "
            "%zu lease(s) kept", p->id, p->name, peer_state_name(p->state), p->address,
            p->nroles, p->slots, p->nleases);
}

/* ---- reports ------------------------------------------------------------- */

static job_t *s_current(coord_t *c, peer_t *p, pb_str_t job_id, uint32_t attempt)
{
    job_t *job = jobtab_find(c->jobs, job_id.ptr, job_id.len);
    if (job && job->worker == p && job->attempts == attempt && job->state == JOB_RUNNING)
        return job;
    c->stats.stale_reports++;
    char jid[48];
    snprintf(jid, sizeof jid, "%.*s", (int) (job_id.len > 40 ? 40 : job_id.len),
             job_id.ptr ? job_id.ptr : "");
    log_job(LL_DEBUG, "coordinator", jid, p->id, "stale report from %s: job %.*s attempt %u (%s)", p->id,
            (int) (job_id.len > 40 ? 40 : job_id.len), job_id.ptr, attempt,
            !job ? "unknown job" : job->worker != p ? "not its lease"
            : job->attempts != attempt ? "not the current attempt" : "job not running");
    return NULL;
}

void coord_worker_log(coord_t *c, peer_t *p, const pb_log_t *m)
{
    job_t *job = s_current(c, p, m->job_id, m->attempt);
    if (job)
        coord_save_log(c, job, m->data.ptr, m->data.len);
}

bool coord_attempts_left(const job_t *job)
{
    return job->attempts - job->attempt_base < job->role->max_attempts;
}

/* "attempt N of M timed out: WHY; all attempts spent" (malloc'd). */
static char *s_spent(const job_t *job, const char *error)
{
    char *out = malloc(320);
    if (out)
        snprintf(out, 320, "attempt %u of %u: %.200s; all attempts spent",
                 job->attempts - job->attempt_base, job->role->max_attempts,
                 error ? error : "failed");
    return out;
}

/* The attempt failed and the role allows another: wait out the backoff as
   `scheduled`, keeping what this attempt reported. */
static void s_retry_later(coord_t *c, job_t *job, job_state_t how, const pb_done_item_t *d,
                          const char *error)
{
    const role_t *r = job->role;
    uint32_t delay = backoff_after(&c->retry_rng, r->backoff_base_ms, r->backoff_max_ms,
                                   job->attempts - job->attempt_base);
    free(job->error);
    job->error = error ? strdup(error) : NULL;
    job->has_exit_code = d->has_exit_code;
    job->exit_code = d->exit_code;
    job->state = JOB_SCHEDULED;
    job->run_at_ms = clock_wall_ms() + delay;
    log_job(LL_INFO, "coordinator", job->idstr, job->last_worker,
            "job %s attempt %u %s (%s); retry in %u ms", job->idstr,
            job->attempts, job_state_name(how), error ? error : "", delay);
    if (later_push(&c->later, job) != 0) {
        s_end(c, job, JOB_FAILED, "coordinator out of memory while scheduling a retry");
        return;
    }
    coord_save_job(c, job);
}

void coord_worker_done(coord_t *c, peer_t *p, const pb_done_item_t *d)
{
    job_t *job = s_current(c, p, d->job_id, d->attempt);
    if (!job)
        return;
    if (pb_str_eq(d->state, "rejected")) {
        coord_unlease(c, job);
        s_unstart(job);
        if (job->revoking)
            s_end(c, job, JOB_CANCELLED, "cancelled before it started");
        else
            s_requeue(c, job);
        return;
    }
    char *state_name = pb_str_dup(d->state);
    char *error = pb_str_dup(d->error);
    job_state_t state;
    if (!state_name || job_state_parse(state_name, &state) != 0 || !job_state_terminal(state) ||
        state == JOB_DEAD) {
        state = JOB_FAILED;
        free(error);
        error = strdup("worker reported an unknown final state");
    }
    coord_unlease(c, job);
    bool failed = (state == JOB_FAILED || state == JOB_TIMED_OUT) && !job->revoking;
    if (failed && coord_attempts_left(job)) {
        s_retry_later(c, job, state, d, error);
    } else {
        char *why = error;
        if (failed && job->role->max_attempts > 1) { /* retried, and out of attempts */
            state = JOB_DEAD;
            why = s_spent(job, error);
        }
        job_finish(job, state, d->has_exit_code, d->exit_code, d->result.ptr, d->result.len,
                   why, clock_wall_ms());
        if (why != error)
            free(why);
        coord_job_ended(c, job);
    }
    free(state_name);
    free(error);
}

/* ---- entry points ---------------------------------------------------------- */

void coord_worker_msg(coord_t *c, const rid_t *rid, pb_msg_t *msg)
{
    if (msg->cmd == PB_HELLO) {
        s_hello(c, rid, &msg->u.hello);
        return;
    }
    bool worker_cmd = msg->cmd == PB_PING || msg->cmd == PB_LOG || msg->cmd == PB_DONE ||
                      msg->cmd == PB_DRAIN || msg->cmd == PB_BYE;
    if (!worker_cmd) {
        c->stats.malformed++;
        return; /* a coordinator->peer command sent to us: ignore it */
    }
    peer_t *p = s_peer_by_rid(c, rid);
    if (!p) {
        coord_send_error(c, rid, 0, "not-registered", "send HELLO first");
        return;
    }
    p->last_seen_ms = clock_mono_ms();
    p->seen_wall_ms = clock_wall_ms();
    switch (msg->cmd) {
    case PB_PING:   /* answered after the commit: it confirms what came before */
        pb_buf_reset(&c->out);
        pb_enc_pong(&c->out, msg->u.ping.seq);
        coord_reply(c, rid->data, rid->size);
        break;
    case PB_LOG:
        coord_worker_log(c, p, &msg->u.log);
        break;
    case PB_DONE:
        for (uint32_t i = 0; i < msg->u.done.n; i++)
            coord_worker_done(c, p, &msg->u.done.items[i]);
        break;
    case PB_DRAIN:
        p->self_drain = true;
        peer_set_live(p);
        coord_save_peer(c, p);
        log_job(LL_INFO, "coordinator", NULL, p->id, "worker %s (%s) draining", p->id, p->name);
        break;
    default: /* PB_BYE */
        coord_peer_down(c, p, "said goodbye");
        break;
    }
}

/* How long p may be silent: its own heartbeat × liveness over ZeroMQ;
   --http-worker-timeout for an HTTP worker (or one that never said HELLO). */
static int64_t s_silence_limit(const coord_t *c, const peer_t *p)
{
    if (p->routing_id || (!p->http_live && p->heartbeat_ms))
        return (int64_t) p->heartbeat_ms * (p->liveness ? p->liveness : 1);
    return c->opts->http_worker_timeout_ms;
}

void coord_expire_peers(coord_t *c, int64_t now)
{
    if (now - c->last_expire_check < EXPIRE_CHECK_MS)
        return;
    c->last_expire_check = now;
    for (peer_t *p = zhashx_first(c->peers); p; p = zhashx_next(c->peers))
        if ((p->routing_id || p->nleases > 0 || p->http_live) && p->polls == 0 &&
            now - p->last_seen_ms > s_silence_limit(c, p)) {
            char why[80];
            snprintf(why, sizeof why, "silent for %lld ms", (long long) (now - p->last_seen_ms));
            coord_peer_down(c, p, why);
        }
}

/* ---- dispatch ------------------------------------------------------------ */

static void s_lease_view(const job_t *job, pb_lease_t *l, pb_str_t *cmd, pb_kv_t *env)
{
    const role_t *r = job->role;
    for (size_t i = 0; i < r->ncommand; i++)
        cmd[i] = pb_s(r->command[i]);
    l->job_id = (pb_str_t) { job->idstr, JOBID_LEN };
    l->attempt = job->attempts;
    l->role = pb_s(r->name);
    l->payload = pb_s(job->payload);
    l->command = (pb_strs_t) { cmd, (uint32_t) r->ncommand };
    l->shell = r->shell;
    l->env = kv_to_wire(&r->env, env);
    l->timeout_ms = r->timeout_ms;
}

/* Send one ASSIGN with the given jobs. Returns 0, or -1 if the peer is gone. */
static int s_send_assign(coord_t *c, peer_t *p, job_t **jobs, size_t n)
{
    pb_lease_t *leases = calloc(n, sizeof *leases);
    void **scratch = calloc(2 * n, sizeof(void *));
    int rc = -1;
    if (leases && scratch) {
        size_t i = 0;
        for (; i < n; i++) {
            const role_t *r = jobs[i]->role;
            scratch[2 * i] = calloc(r->ncommand + 1, sizeof(pb_str_t));
            scratch[2 * i + 1] = calloc(r->env.n + 1, sizeof(pb_kv_t));
            if (!scratch[2 * i] || !scratch[2 * i + 1])
                break;
            s_lease_view(jobs[i], &leases[i], scratch[2 * i], scratch[2 * i + 1]);
        }
        if (i == n) {
            pb_buf_reset(&c->out);
            pb_enc_assign(&c->out, leases, (uint32_t) n);
            rc = coord_send(c, zframe_data(p->routing_id), zframe_size(p->routing_id));
        }
        for (size_t k = 0; k < 2 * n; k++)
            free(scratch[k]);
    }
    free(scratch);
    free(leases);
    return rc;
}

typedef struct {
    peer_t *peer;
    uint32_t credit;          /* leases it may still take in this dispatch */
    job_t **jobs;             /* leased to it in this dispatch */
    size_t n;
} s_slot_t;

static size_t s_collect(coord_t *c, s_slot_t **out)
{
    size_t n = 0, cap = zhashx_size(c->peers);
    s_slot_t *slots = calloc(cap ? cap : 1, sizeof *slots);
    for (peer_t *p = zhashx_first(c->peers); slots && p; p = zhashx_next(c->peers)) {
        uint32_t credit = p->routing_id ? peer_credit(p)
                        : p->http_live && p->polls ? peer_credit(p) : 0;
        if (!p->routing_id && credit > p->polls)
            credit = p->polls;     /* one job per waiting long poll */
        if (credit == 0)
            continue;
        slots[n].jobs = calloc(credit, sizeof(job_t *));
        if (!slots[n].jobs)
            break;
        slots[n].peer = p;
        slots[n].credit = credit;
        n++;
    }
    *out = slots;
    return n;
}

/* Round-robin: each round gives every peer with credit at most one job. */
static void s_match(coord_t *c, s_slot_t *slots, size_t n)
{
    bool progress = true;
    size_t rotate = c->rotate++;
    int64_t now_us = clock_mono_us();
    while (progress) {
        progress = false;
        for (size_t k = 0; k < n; k++) {
            s_slot_t *s = &slots[(k + rotate) % n];
            if (s->credit == 0)
                continue;
            job_t *job = sched_pick(c->sched, s->peer);
            if (!job || s_lease(c, s->peer, job, true) != 0) {
                if (job)
                    s_requeue(c, job);
                s->credit = 0;
                continue;
            }
            metrics_dispatched(&c->metrics, job, now_us);
            s->jobs[s->n++] = job;
            s->credit--;
            progress = true;
        }
    }
}

/* The ASSIGN never left: the attempts did not start, so they do not count. */
static void s_undeliverable(coord_t *c, s_slot_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        coord_unlease(c, s->jobs[i]);
        s_unstart(s->jobs[i]);
        s_requeue(c, s->jobs[i]);
    }
    coord_peer_down(c, s->peer, "unreachable");
}

void coord_dispatch(coord_t *c)
{
    if (!c->dispatch_needed || sched_total(c->sched) == 0)
        return;
    c->dispatch_needed = false;
    s_slot_t *slots = NULL;
    size_t n = s_collect(c, &slots);
    if (n > 0)
        s_match(c, slots, n);
    for (size_t i = 0; i < n; i++) {
        if (slots[i].n > 0 && !slots[i].peer->routing_id)
            coord_polls_hand(c, slots[i].peer, slots[i].jobs, slots[i].n);
        else if (slots[i].n > 0 &&
                 s_send_assign(c, slots[i].peer, slots[i].jobs, slots[i].n) != 0)
            s_undeliverable(c, &slots[i]);
        free(slots[i].jobs);
    }
    free(slots);
}
