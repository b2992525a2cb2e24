/*  node/coord_api_worker.c — HTTP workers on the loop: the report webhook
    (worker.report) and the long poll for the next job (worker.next).

    A report changes jobs exactly as the ZeroMQ path does: log lines and
    results go through coord_worker_log / coord_worker_done, the same code
    a LOG or DONE takes; only progress (kept on the job, in memory) and
    status (the worker's own drain) are HTTP's own.

    A long poll waits in c->polls until dispatch hands it a job
    (coord_polls_hand, called by coord_dispatch for a registration without
    a ZeroMQ connection: its credit is its free slots, capped by the polls
    waiting) or its deadline passes (coord_api_tick answers "no job").

    Rules:
    - Every request of an HTTP worker counts as a heartbeat; it is online
      (or draining) from its first request, stays so while a poll waits,
      and goes offline after --http-worker-timeout of silence (its leases
      are then requeued like a dead ZeroMQ worker's, coord_expire_peers).
    - A report counts only for the job's current lease on that worker:
      an unknown job is not-found, anybody else's lease (or an ended one,
      or an older attempt) is conflict. Bad input changes nothing.
    - Each poll is answered exactly once: with a job, "no job", or an error
      when its registration is deleted or the coordinator stops.
*/
#include "node/coord_int.h"
#include "node/coord_api.h"
#include "node/log.h"

#include <stdlib.h>
#include <string.h>

#define LOG_LINES_MAX 10000       /* lines in one log report */
#define PROGRESS_MSG_MAX 1024     /* bytes of a progress message */

/* ---- liveness -------------------------------------------------------------- */

/* A request from p's HTTP worker: a heartbeat; brings it online. */
static void s_seen(coord_t *c, peer_t *p)
{
    p->last_seen_ms = clock_mono_ms();
    p->seen_wall_ms = clock_wall_ms();
    if (!p->first_seen_ms)
        p->first_seen_ms = p->seen_wall_ms;
    if (p->routing_id)
        return;                  /* connected over ZeroMQ: that connection rules */
    peer_state_t was = p->state;
    p->http_live = true;
    peer_set_live(p);
    if (was != p->state) {
        coord_save_peer(c, p);
        c->dispatch_needed = true;
        log_job(LL_INFO, "coordinator", NULL, p->id, "worker %s (%s) %s over HTTP: %zu role(s), %u slot(s)",
                p->id, p->name, peer_state_name(p->state), p->nroles, p->slots);
    }
}

/* ---- the report webhook --------------------------------------------------------- */

/* Only these keys in a report of this type. */
static const char *s_unknown_key(json_t *rep, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(rep, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok)
            return k;
    }
    return NULL;
}

/* The job a report is about, when it is p's current lease; NULL after
   answering why not (invalid, not-found or conflict). */
static job_t *s_lease(coord_t *c, const rid_t *rid, uint64_t req_id, peer_t *p, json_t *rep)
{
    json_t *jid = json_object_get(rep, "job_id"), *att = json_object_get(rep, "attempt");
    uint64_t id;
    if (!json_is_string(jid)) {
        coord_api_error(c, rid, req_id, "invalid", "job_id: a job id string is required");
        return NULL;
    }
    if (att && (!json_is_integer(att) || json_integer_value(att) < 1)) {
        coord_api_error(c, rid, req_id, "invalid", "attempt: an integer >= 1");
        return NULL;
    }
    const char *s = json_string_value(jid);
    job_t *job = jobtab_find(c->jobs, s, json_string_length(jid));
    int stored = job ? 1 : jobid_parse(s, json_string_length(jid), &id) == 0
                           ? coord_stored_job(c, id, NULL, NULL, 0) : 0;
    if (stored != 1) {
        coord_api_error(c, rid, req_id, stored < 0 ? "unavailable" : "not-found",
                        "no job %.40s", s);
        return NULL;
    }
    if (!job || job->worker != p || job->state != JOB_RUNNING ||
        (att && (json_int_t) job->attempts != json_integer_value(att))) {
        c->stats.stale_reports++;
        coord_api_error(c, rid, req_id, "conflict", "job %.40s is not leased to worker %s%s", s,
                        p->id, att ? " as that attempt" : "");
        return NULL;
    }
    job->touched_ms = clock_mono_ms();
    return job;
}

/* The lines, each ending in a newline, as one chunk of output (malloc'd). */
static char *s_lines(json_t *lines, size_t *len)
{
    size_t n = 0, i;
    json_t *l;
    json_array_foreach(lines, i, l)
        n += json_string_length(l) + 1;
    char *out = malloc(n + 1), *w = out;
    json_array_foreach(lines, i, l) {
        if (!out)
            break;
        memcpy(w, json_string_value(l), json_string_length(l));
        w += json_string_length(l);
        *w++ = '\n';
    }
    *len = n;
    return out;
}

static void s_report_log(coord_t *c, const rid_t *rid, uint64_t req_id, peer_t *p, json_t *rep)
{
    static const char *const keys[] = { "type", "job_id", "attempt", "lines", NULL };
    json_t *lines = json_object_get(rep, "lines"), *l;
    size_t i, len = 0;
    const char *bad = s_unknown_key(rep, keys);
    bool ok = json_is_array(lines) && json_array_size(lines) <= LOG_LINES_MAX;
    json_array_foreach(lines, i, l)
        ok = ok && json_is_string(l);
    if (bad) {
        coord_api_error(c, rid, req_id, "invalid", "unknown field '%.40s' in a log report", bad);
        return;
    }
    if (!ok) {
        coord_api_error(c, rid, req_id, "invalid", "lines: an array of at most %d strings",
                        LOG_LINES_MAX);
        return;
    }
    s_seen(c, p);
    job_t *job = s_lease(c, rid, req_id, p, rep);
    if (!job)
        return;
    char *data = s_lines(lines, &len);
    if (!data) {
        coord_api_error(c, rid, req_id, "unavailable", "coordinator out of memory");
        return;
    }
    pb_log_t m = { .job_id = { job->idstr, JOBID_LEN }, .attempt = job->attempts, .stream = 1,
                   .data = { data, (uint32_t) len } };
    coord_worker_log(c, p, &m);
    free(data);
    coord_api_reply(c, rid, req_id, json_pack("{s:b,s:s}", "ok", 1, "job_id", job->idstr));
}

static bool s_count(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static void s_report_progress(coord_t *c, const rid_t *rid, uint64_t req_id, peer_t *p,
                              json_t *rep)
{
    static const char *const keys[] = { "type", "job_id", "attempt", "done", "total", "message",
                                         NULL };
    json_t *done = json_object_get(rep, "done"), *total = json_object_get(rep, "total");
    json_t *msg = json_object_get(rep, "message");
    const char *bad = s_unknown_key(rep, keys);
    if (bad) {
        coord_api_error(c, rid, req_id, "invalid", "unknown field '%.40s' in a progress report",
                        bad);
        return;
    }
    if (!s_count(done) || !s_count(total) || (msg && !json_is_null(msg) &&
        (!json_is_string(msg) || json_string_length(msg) > PROGRESS_MSG_MAX))) {
        coord_api_error(c, rid, req_id, "invalid", "done and total: integers >= 0; message: "
                        "a string of at most %d bytes", PROGRESS_MSG_MAX);
        return;
    }
    s_seen(c, p);
    job_t *job = s_lease(c, rid, req_id, p, rep);
    if (!job)
        return;
    char *text = json_is_string(msg) ? strdup(json_string_value(msg)) : NULL;
    if (json_is_string(msg) && !text) {
        coord_api_error(c, rid, req_id, "unavailable", "coordinator out of memory");
        return;
    }
    free(job->progress.message);
    job->progress.message = text;
    job->progress.done = json_integer_value(done);
    job->progress.total = json_integer_value(total);
    job->progress.has = true;
    coord_event_progress(c, job);
    coord_api_reply(c, rid, req_id, json_pack("{s:b,s:s}", "ok", 1, "job_id", job->idstr));
}

/* Why a result report is malformed, or NULL. */
static const char *s_result_problem(json_t *rep)
{
    static const char *const keys[] = { "type", "job_id", "attempt", "status", "result", "error",
                                        "exit_code", NULL };
    const char *status = json_string_value(json_object_get(rep, "status"));
    json_t *err = json_object_get(rep, "error"), *code = json_object_get(rep, "exit_code");
    if (s_unknown_key(rep, keys))
        return "unknown field (allowed: type, job_id, attempt, status, result, error, exit_code)";
    if (!status || (strcmp(status, "succeeded") != 0 && strcmp(status, "failed") != 0))
        return "status: \"succeeded\" or \"failed\"";
    if (err && !json_is_null(err) && !json_is_string(err))
        return "error: a string";
    if (code && !json_is_null(code) &&
        (!json_is_integer(code) || json_integer_value(code) < INT32_MIN ||
         json_integer_value(code) > INT32_MAX))
        return "exit_code: a 32-bit integer";
    return NULL;
}

static void s_report_result(coord_t *c, const rid_t *rid, uint64_t req_id, peer_t *p,
                            json_t *rep)
{
    const char *problem = s_result_problem(rep);
    if (problem) {
        coord_api_error(c, rid, req_id, "invalid", "%s", problem);
        return;
    }
    s_seen(c, p);
    job_t *job = s_lease(c, rid, req_id, p, rep);
    if (!job)
        return;
    json_t *res = json_object_get(rep, "result"), *code = json_object_get(rep, "exit_code");
    char *text = res ? json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    const char *status = json_string_value(json_object_get(rep, "status"));
    const char *error = json_string_value(json_object_get(rep, "error"));
    if (res && !text) {
        coord_api_error(c, rid, req_id, "unavailable", "coordinator out of memory");
        return;
    }
    char idstr[JOBID_LEN + 1];
    memcpy(idstr, job->idstr, sizeof idstr);          /* the job may be freed below */
    pb_done_item_t d = {
        .job_id = { idstr, JOBID_LEN }, .attempt = job->attempts, .state = pb_s(status),
        .has_exit_code = json_is_integer(code), .exit_code = (int32_t) json_integer_value(code),
        .result = { text, text ? (uint32_t) strlen(text) : 0 }, .error = pb_s(error),
    };
    coord_worker_done(c, p, &d);
    free(text);
    coord_api_reply(c, rid, req_id, json_pack("{s:b,s:s}", "ok", 1, "job_id", idstr));
}

/* Whether v is absent or an array of at most 100,000 strings. */
static bool s_id_list(json_t *v)
{
    size_t i;
    json_t *e;
    if (!v)
        return true;
    if (!json_is_array(v) || json_array_size(v) > 100000)
        return false;
    json_array_foreach(v, i, e)
        if (!json_is_string(e))
            return false;
    return true;
}

/* The jobs a status report lists as running keep their leases alive. */
static void s_touch_running(coord_t *c, peer_t *p, json_t *running)
{
    size_t i;
    json_t *e;
    int64_t now = clock_mono_ms();
    json_array_foreach(running, i, e) {
        job_t *job = jobtab_find(c->jobs, json_string_value(e), json_string_length(e));
        if (job && job->worker == p && job->state == JOB_RUNNING)
            job->touched_ms = now;
    }
}

static void s_report_status(coord_t *c, const rid_t *rid, uint64_t req_id, peer_t *p,
                            json_t *rep)
{
    static const char *const keys[] = { "type", "state", "running", NULL };
    const char *state = json_string_value(json_object_get(rep, "state"));
    json_t *running = json_object_get(rep, "running");
    if (s_unknown_key(rep, keys) || !state || !s_id_list(running) ||
        (strcmp(state, "online") != 0 && strcmp(state, "draining") != 0)) {
        coord_api_error(c, rid, req_id, "invalid",
                        "a status report is {\"type\":\"status\",\"state\":\"online\"|\"draining\""
                        "[,\"running\":[job ids]]}");
        return;
    }
    s_seen(c, p);
    s_touch_running(c, p, running);
    p->self_drain = strcmp(state, "draining") == 0;
    peer_state_t was = p->state;
    if (p->state != PEER_OFFLINE)
        peer_set_live(p);
    if (was != p->state) {
        coord_save_peer(c, p);
        c->dispatch_needed = true;
        log_job(LL_INFO, "coordinator", NULL, p->id, "worker %s (%s) %s (its own status report)", p->id,
                p->name, peer_state_name(p->state));
    }
    coord_api_reply(c, rid, req_id, json_pack("{s:b,s:s}", "ok", 1, "state",
                                              peer_state_name(p->state)));
}

/* worker.report {"worker": id, "report": {...}} */
void coord_api_worker_report(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    json_t *rep = json_object_get(body, "report");
    const char *type = json_string_value(json_object_get(rep, "type"));
    if (!json_is_object(rep) || !type) {
        coord_api_error(c, rid, req_id, "invalid", "a report is an object with a \"type\": "
                        "log, progress, result or status");
        return;
    }
    peer_t *p = coord_api_peer(c, rid, req_id, body, "worker");
    if (!p)
        return;
    if (strcmp(type, "status") != 0 && strcmp(type, "log") != 0 &&
        strcmp(type, "progress") != 0 && strcmp(type, "result") != 0) {
        coord_api_error(c, rid, req_id, "invalid", "type: log, progress, result or status");
        return;
    }
    if (strcmp(type, "log") == 0)
        s_report_log(c, rid, req_id, p, rep);
    else if (strcmp(type, "progress") == 0)
        s_report_progress(c, rid, req_id, p, rep);
    else if (strcmp(type, "result") == 0)
        s_report_result(c, rid, req_id, p, rep);
    else
        s_report_status(c, rid, req_id, p, rep);
}

/* ---- long polls -------------------------------------------------------------------- */

void coord_poll_free(void **item)
{
    coord_poll_t *q = *item;
    if (!q)
        return;
    free(q->worker);
    zframe_destroy(&q->rid);
    free(q);
    *item = NULL;
}

/* worker.next {"worker": id, "wait_ms": n} */
void coord_api_worker_next(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    json_t *wait = json_object_get(body, "wait_ms");
    if (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
        json_integer_value(wait) > 60000) {
        coord_api_error(c, rid, req_id, "invalid", "wait: 0 to 60 seconds");
        return;
    }
    peer_t *p = coord_api_peer(c, rid, req_id, body, "worker");
    if (!p)
        return;
    if (p->routing_id) {
        coord_api_error(c, rid, req_id, "conflict", "worker %s is connected over ZeroMQ; "
                        "its jobs come that way", p->id);
        return;
    }
    coord_poll_t *q = calloc(1, sizeof *q);
    if (!q || !(q->worker = strdup(p->id)) || !(q->rid = zframe_new(rid->data, rid->size)) ||
        !zlistx_add_end(c->polls, q)) {
        coord_poll_free((void **) &q);
        coord_api_error(c, rid, req_id, "unavailable", "coordinator out of memory");
        return;
    }
    q->req_id = req_id;
    q->deadline = clock_mono_ms() + json_integer_value(wait);
    s_seen(c, p);
    p->polls++;
    c->dispatch_needed = true;
}

/* The job as an HTTP worker gets it. */
static json_t *s_lease_json(const job_t *job)
{
    const role_t *r = job->role;
    json_t *cmd = json_array(), *env = json_object();
    for (size_t i = 0; cmd && i < r->ncommand; i++)
        json_array_append_new(cmd, json_string(r->command[i]));
    for (size_t i = 0; env && i < r->env.n; i++)
        json_object_set_new(env, r->env.items[i].key, json_string(r->env.items[i].val));
    json_t *payload = json_loads(job->payload, JSON_DECODE_ANY, NULL);
    json_t *o = json_pack("{s:s,s:i,s:s,s:o?,s:I,s:o,s:b,s:o}", "job_id", job->idstr,
                          "attempt", (int) job->attempts, "role", r->name, "payload", payload,
                          "timeout_ms", (json_int_t) r->timeout_ms, "command", cmd,
                          "shell", r->shell, "env", env);
    return o;
}

/* Remove and return p's oldest waiting poll (the caller frees it). */
static coord_poll_t *s_take(coord_t *c, const peer_t *p)
{
    for (coord_poll_t *q = zlistx_first(c->polls); q; q = zlistx_next(c->polls))
        if (strcmp(q->worker, p->id) == 0) {
            zlistx_detach_cur(c->polls);
            return q;
        }
    return NULL;
}

static void s_answered(coord_t *c, peer_t *p, coord_poll_t **q)
{
    if (p && p->polls > 0)
        p->polls--;
    if (p)
        p->last_seen_ms = clock_mono_ms();   /* it was there until now */
    coord_poll_free((void **) q);
    (void) c;
}

void coord_polls_hand(coord_t *c, peer_t *p, job_t **jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        coord_poll_t *q = s_take(c, p);
        json_t *j = q ? s_lease_json(jobs[i]) : NULL;
        if (!j) {             /* cannot happen but by running out of memory */
            coord_lease_undo(c, jobs[i]);
            if (q)
                coord_api_error(c, &(rid_t) { zframe_data(q->rid), zframe_size(q->rid), NULL,
                                              c->api }, q->req_id, "unavailable",
                                "coordinator out of memory");
        } else {
            log_job(LL_DEBUG, "coordinator", jobs[i]->idstr, p->id, "job %s attempt %u to HTTP worker %s",
                    jobs[i]->idstr, jobs[i]->attempts, p->id);
            jobs[i]->touched_ms = clock_mono_ms();
            coord_api_reply(c, &(rid_t) { zframe_data(q->rid), zframe_size(q->rid), NULL, c->api },
                            q->req_id, j);
        }
        if (q)
            s_answered(c, p, &q);
    }
}

void coord_polls_drop(coord_t *c, const peer_t *p, const char *code, const char *message)
{
    for (coord_poll_t *q; (q = s_take(c, p));) {
        coord_api_error(c, &(rid_t) { zframe_data(q->rid), zframe_size(q->rid), NULL, c->api },
                        q->req_id, code, "%s", message);
        coord_poll_free((void **) &q);
    }
}

/* An HTTP worker's lease that nothing has named for --http-worker-timeout
   is lost: the job may have gone to a poll whose client had left (HTTP
   cannot tell), or the worker dropped it. Reports on the job, and status
   reports listing it in "running", keep it. */
static void s_expire_leases(coord_t *c, int64_t now_mono)
{
    if (now_mono - c->last_lease_sweep < 1000)
        return;
    c->last_lease_sweep = now_mono;
    for (peer_t *p = zhashx_first(c->peers); p; p = zhashx_next(c->peers)) {
        /* ZeroMQ workers' leases are covered by their heartbeats (or, after
           a restart, by the recovery wait); only HTTP workers' by reports */
        if (!p->http_live || p->routing_id)
            continue;
        for (size_t i = 0; i < p->nleases;) {
            job_t *job = p->leases[i];
            if (job->touched_ms == 0) /* recovered from the store: its clock starts now */
                job->touched_ms = now_mono;
            if (now_mono - job->touched_ms < (int64_t) c->opts->http_worker_timeout_ms) {
                i++;
                continue;
            }
            log_job(LL_WARN, "coordinator", job->idstr, p->id, "job %s: HTTP worker %s has not reported on it for "
                    "%u ms; requeued", job->idstr, p->id, c->opts->http_worker_timeout_ms);
            coord_lease_lost(c, job, "its HTTP worker stopped reporting on it");
        }
    }
}

void coord_api_tick(coord_t *c, int64_t now_mono)
{
    s_expire_leases(c, now_mono);
    coord_poll_t *q = zlistx_first(c->polls);
    while (q) {
        if (q->deadline > now_mono) {
            q = zlistx_next(c->polls);
            continue;
        }
        zlistx_detach_cur(c->polls);
        coord_api_reply(c, &(rid_t) { zframe_data(q->rid), zframe_size(q->rid), NULL, c->api },
                        q->req_id, json_pack("{s:n}", "job"));
        s_answered(c, zhashx_lookup(c->peers, q->worker), &q);
        q = zlistx_next(c->polls);    /* detaching moved the cursor back one */
    }
}

void coord_polls_close(coord_t *c)
{
    pb_buf_t out;
    pb_buf_init(&out);
    for (coord_poll_t *q = zlistx_first(c->polls); q; q = zlistx_next(c->polls)) {
        pb_buf_reset(&out);
        pb_enc_error(&out, q->req_id, "unavailable", "the coordinator is stopping");
        if (zmq_send(c->api, zframe_data(q->rid), zframe_size(q->rid),
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(c->api, pb_buf_data(&out), pb_buf_size(&out), ZMQ_DONTWAIT) < 0)
            c->stats.unroutable++;
    }
    pb_buf_free(&out);
    zlistx_purge(c->polls);
}

