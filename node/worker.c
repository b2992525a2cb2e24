/*  node/worker.c — the worker node loop (worker.h).

    One thread, one loop. Each turn:
      1. zmq_poll the DEALER socket, the signalfd and every running job's
         pidfd and pipes, at most until the earliest timer (50 ms while job
         output is buffered, 100 ms otherwise);
      2. signals (drain), job descriptors, coordinator messages, timers
         (jobs and connection);
      3. collect finished jobs: their last output goes out as LOG, their
         outcome joins the pending DONE items;
      4. flush: due LOG batches, one DONE with the pending items, a PING if
         the line has been quiet for one heartbeat interval;
      5. check whether a drain is complete (or out of time).

    The connection is a small state machine:
      WAITING --reconnect_at--> HELLO --WELCOME--> READY
      HELLO --no WELCOME in heartbeat*liveness--> WAITING (backoff)
      READY --silent for coord heartbeat*liveness--> WAITING (backoff)
      any --ERROR not-registered--> HELLO (same socket)
      any --other ERROR--> WAITING (backoff)
    A new socket is made for every connection; the old one is closed with
    linger 0, so nothing queued for a dead coordinator leaks into the next.
    The socket has ZMQ_IMMEDIATE set: while its TCP connection is down a
    send fails at once instead of queueing. A DONE that zmq took just before
    the link dropped (or that a coordinator read but died before committing)
    is not lost either: it is kept until its PONG confirms it (see below).
    The first HELLO on a new socket usually finds no connection yet and is
    retried every S_HELLO_RETRY_MS until it leaves.

    Rules this file keeps:
    - A DONE item is forgotten only when the PONG to a PING sent after it
      arrives (the coordinator answers after committing): until then its
      lease is listed in HELLO and it is sent again after a new WELCOME.
    - Before WELCOME nothing but HELLO is sent. Job output produced while not
      READY is dropped (and counted); DONE items are kept until they are
      sent, and every lease they name is reported in HELLO as still held.
    - Jobs never depend on the connection: they run, time out and finish
      whether or not a coordinator is there.
    - Never more than opts->slots unfinished jobs; an ASSIGN that would
      exceed them, names a role not served, a job already running here, or
      comes while draining is answered with a "rejected" DONE item.
    - A job's output is sent before its DONE (same socket, earlier message).
    - The work root (--work-dir) is 0700 before any job runs: an existing
      one with looser bits is tightened, and the log says so.
    - Timers use CLOCK_MONOTONIC milliseconds; INT64_MAX means "off".
    - Only this file logs about jobs; every such line names the job and
      attempt. node/task.c reports through outcomes only.
*/
#include "node/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "mesh/backoff.h"
#include "mesh/clock.h"
#include "mesh/proto.h"
#include "node/log.h"
#include "node/task.h"

#ifndef POPEBOT_VERSION
#define POPEBOT_VERSION "dev"
#endif

#define S_NEVER          INT64_MAX
#define S_POLL_MS        100     /* longest wait of one turn */
#define S_POLL_LOGS_MS   50      /* ... while job output is buffered */
#define S_RECV_BATCH     64      /* messages read per turn */
#define S_DONE_BATCH     64      /* items per DONE message */
#define S_FINAL_LINGER   2000    /* ms the last DONE/BYE may take to leave */
#define S_FRAME_SLACK    4096    /* room for a DONE item's other fields */
#define S_HELLO_RETRY_MS 20      /* HELLO not sent (not connected yet) */

typedef enum { S_WAITING, S_HELLO, S_READY } s_conn_t;

/* Where one task's descriptors sit in the poll items of this turn. */
typedef struct {
    size_t first;             /* index of its first item */
    size_t n;                 /* how many items */
} s_span_t;

typedef struct {
    const worker_opts_t *opts;
    task_ctx_t tctx;          /* what tasks need of the worker */
    hide_t hide;              /* the key dir covered in jobs (tctx.hide points here) */
    int sigfd;                /* SIGTERM/SIGINT, from main */
    int exit_code;            /* what worker_run returns */
    bool stop;                /* the loop ends after this turn */

    /* connection */
    void *zctx;               /* ZeroMQ context */
    void *sock;               /* DEALER; NULL while WAITING */
    s_conn_t conn;
    backoff_t backoff;        /* reconnect delays */
    int64_t reconnect_at;     /* WAITING: when to connect again */
    int64_t hello_at;         /* HELLO: when registration started */
    bool hello_sent;          /* HELLO: it left (else retried soon) */
    int64_t hello_retry_at;   /* HELLO, not sent: when to try again */
    int64_t last_send;        /* any message sent */
    int64_t last_recv;        /* any message received */
    int64_t last_ping;        /* PING sent */
    uint32_t peer_hb_ms;      /* the coordinator's heartbeat (from WELCOME) */
    uint32_t peer_liveness;   /* ... and liveness */
    pb_buf_t out;             /* encoder buffer, reused */

    /* jobs */
    task_t **tasks;           /* owned; finished ones leave in s_collect */
    size_t ntasks;
    size_t task_cap;
    task_done_t *done;        /* outcomes not yet confirmed, owned: [0, nsent) were
                                 sent and await their PONG, the rest are unsent */
    size_t ndone;
    size_t nsent;
    size_t done_cap;
    uint64_t ping_seq;        /* number of the last PING sent; never reset */

    /* this turn's poll */
    zmq_pollitem_t *items;    /* socket?, signalfd, then task fds */
    size_t item_cap;
    s_span_t *spans;          /* per task polled this turn */
    size_t span_cap;
    size_t npolled;           /* tasks[0..npolled) have spans */
    int sock_item;            /* index of the socket item, or -1 */
    int sig_item;             /* index of the signalfd item, or -1 */

    /* draining */
    bool draining;            /* SIGTERM/SIGINT came */
    bool abort;               /* a second one came: stop now */
    int64_t drain_until;      /* give up waiting for jobs then */

    /* counters */
    uint64_t logs_dropped;    /* bytes of job output dropped (not READY) */
    uint64_t logs_reported;   /* logs_dropped when last logged */
    uint64_t bad_frames;      /* undecodable or unexpected messages */
} s_worker_t;

static int64_t
s_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* A wire string's bytes, never NULL (for "%.*s" and memcmp). */
static const char *
s_p(pb_str_t s)
{
    return s.ptr ? s.ptr : "";
}

/* Its length for "%.*s" in a log line, at most 128. */
static int
s_plen(pb_str_t s)
{
    return (int) (s.len > 128 ? 128 : s.len);
}

/* A wire job id as a C string for log_job, cut at 128 bytes. */
static const char *
s_logid(pb_str_t s, char buf[130])
{
    snprintf(buf, 130, "%.*s", s_plen(s), s_p(s));
    return buf;
}

/* Whether C string a equals wire string b. */
static bool
s_eq(const char *a, pb_str_t b)
{
    return strlen(a) == b.len && memcmp(a, s_p(b), b.len) == 0;
}

/* ---- sending ------------------------------------------------------------- */

/* Send what is encoded in w->out. 0, or -1 (no socket, queue full). */
static int
s_send(s_worker_t *w, int64_t now)
{
    if (!w->sock)
        return -1;
    if (zmq_send(w->sock, pb_buf_data(&w->out), pb_buf_size(&w->out), ZMQ_DONTWAIT) < 0)
        return -1;
    w->last_send = now;
    return 0;
}

/* PING with the next number; its PONG confirms everything sent before. */
static void
s_ping(s_worker_t *w, int64_t now)
{
    pb_buf_reset(&w->out);
    pb_enc_ping(&w->out, ++w->ping_seq);
    w->last_ping = now;
    s_send(w, now);
}

/* The coordinator made durable everything sent before PING seq: those DONE
   items need never be sent again. */
static void
s_on_pong(s_worker_t *w, uint64_t seq)
{
    size_t k = 0;
    while (k < w->nsent && w->done[k].confirm_seq && w->done[k].confirm_seq <= seq)
        task_done_free(&w->done[k++]);
    if (k == 0)
        return;
    memmove(w->done, w->done + k, (w->ndone - k) * sizeof *w->done);
    w->ndone -= k;
    w->nsent -= k;
}

static void
s_send_simple(s_worker_t *w, pb_cmd_t cmd, int64_t now)
{
    pb_buf_reset(&w->out);
    if (cmd == PB_DRAIN)
        pb_enc_drain(&w->out);
    else
        pb_enc_bye(&w->out);
    s_send(w, now);
}

/* The leases this worker holds: running tasks and unsent outcomes. */
static pb_lease_ref_t *
s_held_leases(const s_worker_t *w, uint32_t *n)
{
    pb_lease_ref_t *refs = calloc(w->ntasks + w->ndone + 1, sizeof *refs);
    *n = 0;
    for (size_t i = 0; refs && i < w->ntasks; i++)
        refs[(*n)++] = (pb_lease_ref_t) { pb_s(task_job_id(w->tasks[i])),
                                          task_attempt(w->tasks[i]) };
    for (size_t i = 0; refs && i < w->ndone; i++)
        refs[(*n)++] = (pb_lease_ref_t) { pb_s(w->done[i].job_id), w->done[i].attempt };
    return refs;
}

/* Encode and send HELLO; hello_sent tells whether it left. Sent but
   unconfirmed DONE items are listed as held and sent again after WELCOME:
   a new or restarted coordinator may never have committed them. */
static void
s_try_hello(s_worker_t *w, int64_t now)
{
    for (size_t i = 0; i < w->nsent; i++)
        w->done[i].confirm_seq = 0;
    w->nsent = 0;
    const worker_opts_t *o = w->opts;
    size_t nlabels = o->labels ? o->labels->n : 0;
    pb_kv_t *labels = calloc(nlabels + 1, sizeof *labels);
    pb_str_t *roles = calloc(o->nroles + 1, sizeof *roles);
    uint32_t nheld = 0;
    pb_lease_ref_t *held = s_held_leases(w, &nheld);
    w->hello_sent = false;
    w->hello_retry_at = now + S_HELLO_RETRY_MS;
    if (labels && roles && held) {
        for (size_t i = 0; i < o->nroles; i++)
            roles[i] = pb_s(o->roles[i]);
        pb_hello_t h = {
            .worker_id = pb_s(o->id), .name = pb_s(o->name),
            .roles = { roles, (uint32_t) o->nroles }, .slots = o->slots,
            .labels = o->labels ? kv_to_wire(o->labels, labels) : (pb_kvs_t) { NULL, 0 },
            .version = pb_s(POPEBOT_VERSION), .heartbeat_ms = o->heartbeat_ms,
            .liveness = o->liveness, .running = held, .n_running = nheld,
            .draining = w->draining,
        };
        pb_buf_reset(&w->out);
        pb_enc_hello(&w->out, &h);
        w->hello_sent = s_send(w, now) == 0;
    }
    free(labels);
    free(roles);
    free(held);
}

/* (Re)register on the current socket; wait for WELCOME again. */
static void
s_send_hello(s_worker_t *w, int64_t now)
{
    w->conn = S_HELLO;
    w->hello_at = now;
    s_try_hello(w, now);
}

static int
s_send_log(s_worker_t *w, task_t *t, int stream, const char *data, size_t len,
           int64_t now)
{
    pb_log_t m = { pb_s(task_job_id(t)), task_attempt(t), (uint32_t) stream,
                   { data, (uint32_t) len } };
    pb_buf_reset(&w->out);
    pb_enc_log(&w->out, &m);
    return s_send(w, now);
}

/* ---- connection ---------------------------------------------------------- */

static int64_t
s_hello_wait_ms(const s_worker_t *w)
{
    return (int64_t) w->opts->heartbeat_ms * w->opts->liveness;
}

static int64_t
s_peer_dead_ms(const s_worker_t *w)
{
    return (int64_t) w->peer_hb_ms * w->peer_liveness;
}

/* Close the socket (dropping what it queued) and plan the next attempt. */
static void
s_disconnect(s_worker_t *w, int64_t now, const char *why)
{
    if (w->sock)
        zmq_close(w->sock);
    w->sock = NULL;
    w->conn = S_WAITING;
    uint32_t delay = backoff_next(&w->backoff);
    w->reconnect_at = now + delay;
    log_msg(LL_WARN, "worker", "coordinator %s: %s; reconnecting in %u ms "
            "(%zu job(s) keep running)", w->opts->coordinator, why, delay, w->ntasks);
}

static bool
s_endpoint_error(int e)
{
    return e == EINVAL || e == EPROTONOSUPPORT || e == ENOCOMPATPROTO;
}

/* A new DEALER, connected, with HELLO sent. */
static void
s_connect(s_worker_t *w, int64_t now)
{
    char why[160];
    void *s = zmq_socket(w->zctx, ZMQ_DEALER);
    int linger = 0, immediate = 1;
    int64_t maxmsg = w->opts->max_message ? (int64_t) w->opts->max_message : -1;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) < 0
        || zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof immediate) < 0
        || zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0
        || curve_client_apply(s, w->opts->curve) < 0
        || zmq_connect(s, w->opts->coordinator) < 0) {
        int e = errno;
        if (s)
            zmq_close(s);
        if (s_endpoint_error(e)) {
            log_msg(LL_ERROR, "worker", "coordinator endpoint %s: %s",
                    w->opts->coordinator, zmq_strerror(e));
            w->exit_code = 1;
            w->stop = true;
            return;
        }
        snprintf(why, sizeof why, "cannot connect: %s", zmq_strerror(e));
        s_disconnect(w, now, why);
        return;
    }
    w->sock = s;
    w->last_send = w->last_recv = w->last_ping = now;
    log_msg(LL_DEBUG, "worker", "connecting to %s", w->opts->coordinator);
    s_send_hello(w, now);
}

static void
s_conn_timers(s_worker_t *w, int64_t now)
{
    char why[120];
    if (w->conn == S_WAITING && now >= w->reconnect_at) {
        s_connect(w, now);
    } else if (w->conn == S_HELLO && now >= w->hello_at + s_hello_wait_ms(w)) {
        snprintf(why, sizeof why, "no WELCOME within %lld ms",
                 (long long) s_hello_wait_ms(w));
        s_disconnect(w, now, why);
    } else if (w->conn == S_HELLO && !w->hello_sent && now >= w->hello_retry_at) {
        s_try_hello(w, now);
    } else if (w->conn == S_READY && now >= w->last_recv + s_peer_dead_ms(w)) {
        snprintf(why, sizeof why, "silent for %lld ms", (long long) (now - w->last_recv));
        s_disconnect(w, now, why);
    }
}

/* How often to make sure the coordinator hears from us and we from it:
   the shorter of the two intervals, so that neither side's liveness
   judgement can expire between two PING/PONG exchanges, whatever each was
   configured with. */
static int64_t
s_ping_ms(const s_worker_t *w)
{
    int64_t own = w->opts->heartbeat_ms;
    return w->peer_hb_ms && w->peer_hb_ms < own ? w->peer_hb_ms : own;
}

/* When the connection next needs attention. */
static int64_t
s_conn_next(const s_worker_t *w)
{
    int64_t hb = s_ping_ms(w);
    switch (w->conn) {
    case S_WAITING:
        return w->reconnect_at;
    case S_HELLO:
        return s_min(w->hello_at + s_hello_wait_ms(w),
                     w->hello_sent ? S_NEVER : w->hello_retry_at);
    default: {
        int64_t ping = s_min(w->last_send + hb,
                             (w->last_recv > w->last_ping ? w->last_recv : w->last_ping) + hb);
        return s_min(ping, w->last_recv + s_peer_dead_ms(w));
    }
    }
}

/* ---- tasks and outcomes -------------------------------------------------- */

static size_t
s_running(const s_worker_t *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->ntasks; i++)
        n += !task_finished(w->tasks[i]);
    return n;
}

/* The unfinished task of that job (any attempt), or NULL. */
static task_t *
s_find(const s_worker_t *w, pb_str_t job_id)
{
    for (size_t i = 0; i < w->ntasks; i++) {
        task_t *t = w->tasks[i];
        if (!task_finished(t) && s_eq(task_job_id(t), job_id))
            return t;
    }
    return NULL;
}

static bool
s_serves(const s_worker_t *w, pb_str_t role)
{
    for (size_t i = 0; i < w->opts->nroles; i++)
        if (s_eq(w->opts->roles[i], role))
            return true;
    return false;
}

static int
s_done_reserve(s_worker_t *w)
{
    if (w->ndone < w->done_cap)
        return 0;
    size_t cap = w->done_cap ? w->done_cap * 2 : 16;
    task_done_t *d = realloc(w->done, cap * sizeof *d);
    if (!d)
        return -1;
    w->done = d;
    w->done_cap = cap;
    return 0;
}

static int
s_tasks_push(s_worker_t *w, task_t *t)
{
    if (w->ntasks == w->task_cap) {
        size_t cap = w->task_cap ? w->task_cap * 2 : 8;
        task_t **v = realloc(w->tasks, cap * sizeof *v);
        if (!v)
            return -1;
        w->tasks = v;
        w->task_cap = cap;
    }
    w->tasks[w->ntasks++] = t;
    return 0;
}

static void
s_reject(s_worker_t *w, const pb_lease_t *l, const char *why)
{
    char jid[130];
    log_job(LL_INFO, "worker", s_logid(l->job_id, jid), w->opts->id,
            "job %.*s attempt %u: rejected: %s",
            s_plen(l->job_id), s_p(l->job_id), l->attempt, why);
    if (s_done_reserve(w) < 0 || task_done_reject(&w->done[w->ndone], l->job_id,
                                                  l->attempt, why) < 0) {
        log_job(LL_ERROR, "worker", jid, w->opts->id, "job %.*s attempt %u: out of memory: "
                "the rejection is not reported", s_plen(l->job_id), s_p(l->job_id),
                l->attempt);
        return;
    }
    w->ndone++;
}

/* Why a lease cannot run here, or NULL. */
static const char *
s_reject_reason(const s_worker_t *w, const pb_lease_t *l, char *buf, size_t len)
{
    if (w->draining)
        return "worker is draining";
    if (l->job_id.len == 0 || l->job_id.len > 128)
        return "invalid job id";
    if (!s_serves(w, l->role)) {
        snprintf(buf, len, "role '%.*s' is not served by this worker",
                 (int) (l->role.len > 64 ? 64 : l->role.len), s_p(l->role));
        return buf;
    }
    const task_t *t = s_find(w, l->job_id);
    if (t) {
        snprintf(buf, len, "job is already running here (attempt %u)", task_attempt(t));
        return buf;
    }
    if (s_running(w) >= w->opts->slots) {
        snprintf(buf, len, "no free slot (%u in use)", w->opts->slots);
        return buf;
    }
    return NULL;
}

static void
s_assign_one(s_worker_t *w, const pb_lease_t *l, int64_t now)
{
    char buf[160];
    const char *why = s_reject_reason(w, l, buf, sizeof buf);
    if (why) {
        s_reject(w, l, why);
        return;
    }
    task_t *t = task_new(l, &w->tctx);
    if (!t || s_tasks_push(w, t) < 0) {
        task_destroy(&t);
        s_reject(w, l, "worker out of memory");
        return;
    }
    task_start(t, now);
    if (task_pid(t) > 0)
        log_job(LL_DEBUG, "worker", task_job_id(t), w->opts->id,
                "job %s attempt %u: started (role %s, pid %d)",
                task_job_id(t), task_attempt(t), task_role(t), task_pid(t));
    else if (!task_finished(t))
        log_job(LL_DEBUG, "worker", task_job_id(t), w->opts->id,
                "job %s attempt %u: started (role %s, built-in)",
                task_job_id(t), task_attempt(t), task_role(t));
}

static void
s_log_outcome(const task_done_t *d, const char *worker_id)
{
    bool ok = strcmp(d->state, "succeeded") == 0;
    if (d->error)
        log_job(ok ? LL_DEBUG : LL_INFO, "worker", d->job_id, worker_id,
                "job %s attempt %u: %s: %s",
                d->job_id, d->attempt, d->state, d->error);
    else
        log_job(ok ? LL_DEBUG : LL_INFO, "worker", d->job_id, worker_id,
                "job %s attempt %u: %s",
                d->job_id, d->attempt, d->state);
}

/* A result too large for one frame would be refused by the coordinator
   (and cost the connection): drop it and report the job failed instead. */
static void
s_fit_result(const s_worker_t *w, task_done_t *d)
{
    size_t max = w->opts->max_message;
    size_t len = d->result ? strlen(d->result) : 0;
    if (max == 0 || len + S_FRAME_SLACK <= max)
        return;
    char *error = NULL;
    if (asprintf(&error, "result too large (%zu bytes; messages are limited to %zu)",
                 len, max) < 0)
        error = NULL;
    log_job(LL_WARN, "worker", d->job_id, w->opts->id, "job %s attempt %u: %s", d->job_id,
            d->attempt,
            error ? error : "result too large");
    free(d->result);
    free(d->error);
    d->result = NULL;
    d->error = error;
    d->state = "failed";
}

/* Send (or drop, when not READY) the output of t that is due now. */
static void
s_flush_task_logs(s_worker_t *w, task_t *t, int64_t now, bool force)
{
    for (int stream = 1; stream <= 2; stream++) {
        const char *data = NULL;
        size_t len = task_log_due(t, stream, now, force, &data);
        if (len == 0)
            continue;
        if (w->conn != S_READY || s_send_log(w, t, stream, data, len, now) < 0)
            w->logs_dropped += len;
        task_log_consumed(t, stream);
    }
}

/* Finished tasks leave: last output out, outcome into the DONE queue. */
static void
s_collect(s_worker_t *w, int64_t now)
{
    for (size_t i = 0; i < w->ntasks; ) {
        task_t *t = w->tasks[i];
        if (!task_finished(t) || s_done_reserve(w) < 0) {
            i++;
            continue;
        }
        s_flush_task_logs(w, t, now, true);
        task_done_t *d = &w->done[w->ndone++];
        task_outcome(t, d);
        s_log_outcome(d, w->opts->id);
        s_fit_result(w, d);
        task_destroy(&t);
        memmove(&w->tasks[i], &w->tasks[i + 1], (w->ntasks - i - 1) * sizeof *w->tasks);
        w->ntasks--;
    }
}

/* How many pending items from `from` fit one DONE message. */
static uint32_t
s_done_batch(const s_worker_t *w, size_t from)
{
    size_t budget = w->opts->max_message ? w->opts->max_message : SIZE_MAX;
    size_t used = 64, n = 0;
    for (size_t i = from; i < w->ndone && n < S_DONE_BATCH; i++, n++) {
        const task_done_t *d = &w->done[i];
        size_t size = strlen(d->job_id) + 64 + (d->result ? strlen(d->result) : 0)
                    + (d->error ? strlen(d->error) : 0);
        if (n > 0 && used + size > budget)
            break;
        used += size;
    }
    return (uint32_t) n;
}

/* The pending DONE items, in as few messages as the size limit allows. */
static void
s_send_done(s_worker_t *w, int64_t now)
{
    size_t before = w->nsent;
    while (w->conn == S_READY && w->nsent < w->ndone) {
        pb_done_item_t items[S_DONE_BATCH];
        uint32_t n = s_done_batch(w, w->nsent);
        for (uint32_t i = 0; i < n; i++) {
            task_done_t *d = &w->done[w->nsent + i];
            d->confirm_seq = w->ping_seq + 1;    /* the PING sent below */
            items[i] = (pb_done_item_t) {
                pb_s(d->job_id), d->attempt, pb_s(d->state), d->has_exit_code,
                d->exit_code, pb_s(d->result), pb_s(d->error) };
        }
        pb_buf_reset(&w->out);
        pb_enc_done(&w->out, items, n);
        if (s_send(w, now) < 0) {
            for (uint32_t i = 0; i < n; i++)
                w->done[w->nsent + i].confirm_seq = 0;
            break;            /* kept; tried again next turn */
        }
        w->nsent += n;
    }
    if (w->nsent > before)
        s_ping(w, now);       /* its PONG says they are durable */
}

/* ---- coordinator messages ------------------------------------------------ */

static void
s_on_welcome(s_worker_t *w, const pb_welcome_t *m, int64_t now)
{
    if (w->conn == S_READY)
        return;
    w->conn = S_READY;
    w->peer_hb_ms = m->heartbeat_ms ? m->heartbeat_ms : w->opts->heartbeat_ms;
    w->peer_liveness = m->liveness ? m->liveness : w->opts->liveness;
    backoff_reset(&w->backoff);
    log_msg(LL_INFO, "worker", "registered with coordinator %s (version %.*s, "
            "heartbeat %u ms x %u), %zu job(s) running, %zu result(s) to report",
            w->opts->coordinator, (int) (m->version.len > 40 ? 40 : m->version.len),
            s_p(m->version), w->peer_hb_ms, w->peer_liveness,
            w->ntasks, w->ndone);
    if (w->logs_dropped > w->logs_reported) {
        log_msg(LL_WARN, "worker", "%llu byte(s) of job output were dropped while "
                "disconnected", (unsigned long long) (w->logs_dropped - w->logs_reported));
        w->logs_reported = w->logs_dropped;
    }
    if (w->draining)
        s_send_simple(w, PB_DRAIN, now);
}

static void
s_on_assign(s_worker_t *w, const pb_assign_t *a, int64_t now)
{
    for (uint32_t i = 0; i < a->n; i++)
        s_assign_one(w, &a->items[i], now);
}

static void
s_on_revoke(s_worker_t *w, const pb_lease_ref_t *r, int64_t now)
{
    task_t *t = s_find(w, r->job_id);
    if (!t || task_attempt(t) != r->attempt) {
        char jid[130];
        log_job(LL_DEBUG, "worker", s_logid(r->job_id, jid), w->opts->id,
                "job %.*s attempt %u: revoke ignored (not running here)",
                s_plen(r->job_id), s_p(r->job_id), r->attempt);
        return;
    }
    log_job(LL_INFO, "worker", task_job_id(t), w->opts->id, "job %s attempt %u: revoked, cancelling",
            task_job_id(t), task_attempt(t));
    task_cancel(t, now);
}

static void
s_on_error(s_worker_t *w, const pb_error_t *e, int64_t now)
{
    int clen = (int) (e->code.len > 40 ? 40 : e->code.len);
    int mlen = (int) (e->message.len > 200 ? 200 : e->message.len);
    const char *code = s_p(e->code);
    const char *msg = s_p(e->message);
    if (pb_str_eq(e->code, "not-registered")) {
        if (w->conn == S_HELLO && w->hello_sent)
            return; /* answers to messages sent before our HELLO: it is on its way */
        log_msg(LL_INFO, "worker", "coordinator %s does not know this worker (%.*s); "
                "registering again", w->opts->coordinator, mlen, msg);
        s_send_hello(w, now);
        return;
    }
    char why[300];
    snprintf(why, sizeof why, "error %.*s: %.*s", clen, code, mlen, msg);
    s_disconnect(w, now, why);
}

static void
s_on_frame(s_worker_t *w, const void *data, size_t size, int64_t now)
{
    pb_err_t err;
    pb_msg_t *msg = pb_decode(data, size, &err);
    if (!msg) {
        w->bad_frames++;
        log_msg(LL_WARN, "worker", "coordinator %s: dropped a bad message: %s",
                w->opts->coordinator, err.reason);
        return;
    }
    switch (msg->cmd) {
    case PB_WELCOME: s_on_welcome(w, &msg->u.welcome, now); break;
    case PB_PONG:    s_on_pong(w, msg->u.ping.seq); break;
    case PB_ASSIGN:  s_on_assign(w, &msg->u.assign, now); break;
    case PB_REVOKE:  s_on_revoke(w, &msg->u.revoke, now); break;
    case PB_ERROR:   s_on_error(w, &msg->u.error, now); break;
    default:
        w->bad_frames++;
        log_msg(LL_WARN, "worker", "coordinator %s: unexpected %s, dropped",
                w->opts->coordinator, pb_cmd_name(msg->cmd));
        break;
    }
    pb_msg_destroy(&msg);
}

/* Read what the coordinator sent (a bounded batch per turn). */
static void
s_handle_socket(s_worker_t *w, int64_t now)
{
    if (w->sock_item < 0 || !(w->items[w->sock_item].revents & ZMQ_POLLIN))
        return;
    void *sock = w->sock;
    for (int k = 0; k < S_RECV_BATCH && w->sock == sock; k++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        w->last_recv = now;
        if (zmq_msg_more(&m)) {  /* one frame per message: drop them all */
            w->bad_frames++;
            while (zmq_msg_more(&m) && zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0)
                ;
            zmq_msg_close(&m);
            continue;
        }
        s_on_frame(w, zmq_msg_data(&m), zmq_msg_size(&m), now);
        zmq_msg_close(&m);
    }
}

/* ---- signals and draining ------------------------------------------------ */

static void
s_start_drain(s_worker_t *w, int signo, int64_t now)
{
    w->draining = true;
    w->drain_until = now + w->opts->drain_timeout_ms;
    log_msg(LL_INFO, "worker", "%s: draining, waiting up to %u ms for %zu job(s)",
            signo == SIGINT ? "SIGINT" : "SIGTERM", w->opts->drain_timeout_ms,
            s_running(w));
    if (w->conn == S_READY)
        s_send_simple(w, PB_DRAIN, now);
}

static void
s_handle_signals(s_worker_t *w, int64_t now)
{
    if (w->sig_item < 0 || !w->items[w->sig_item].revents)
        return;
    struct signalfd_siginfo si;
    if (read(w->sigfd, &si, sizeof si) != (ssize_t) sizeof si)
        return;
    if (si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT)
        return;
    if (!w->draining) {
        s_start_drain(w, (int) si.ssi_signo, now);
    } else {
        log_msg(LL_WARN, "worker", "second signal: stopping now");
        w->abort = true;
    }
}

/* Say goodbye and end the loop; the socket lingers so the last words leave. */
static void
s_bye(s_worker_t *w, int64_t now)
{
    if (w->conn == S_READY)
        s_send_simple(w, PB_BYE, now);
    if (w->sock) {
        int linger = S_FINAL_LINGER;
        zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(w->sock);
        w->sock = NULL;
    }
    w->stop = true;
}

/* SIGKILL every job still running; they are not reported (BYE requeues). */
static void
s_kill_all(s_worker_t *w)
{
    for (size_t i = 0; i < w->ntasks; i++) {
        log_job(LL_WARN, "worker", task_job_id(w->tasks[i]), w->opts->id,
                "job %s attempt %u: killed, the worker is stopping",
                task_job_id(w->tasks[i]), task_attempt(w->tasks[i]));
        task_kill(w->tasks[i]);
    }
    for (size_t i = 0; i < w->ntasks; i++)
        task_destroy(&w->tasks[i]);
    w->ntasks = 0;
}

static void
s_check_drain(s_worker_t *w, int64_t now)
{
    if (!w->draining || w->stop)
        return;
    if (w->ntasks == 0 && w->ndone == 0) {
        log_msg(LL_INFO, "worker", "drained: every job has ended and been reported");
        s_bye(w, now);
        return;
    }
    if (!w->abort && now < w->drain_until)
        return;
    if (!w->abort)
        log_msg(LL_WARN, "worker", "drain timeout after %u ms: %zu job(s) still running, "
                "%zu result(s) unsent", w->opts->drain_timeout_ms, w->ntasks, w->ndone);
    s_kill_all(w);
    s_send_done(w, now);
    if (w->ndone > 0)
        log_msg(LL_WARN, "worker", "%zu result(s) could not be reported", w->ndone);
    s_bye(w, now);
}

/* ---- one turn ------------------------------------------------------------ */

static int
s_poll_reserve(s_worker_t *w)
{
    size_t want = 2 + TASK_MAX_FDS * w->ntasks;
    if (want > w->item_cap) {
        zmq_pollitem_t *v = realloc(w->items, want * sizeof *v);
        if (!v)
            return -1;
        w->items = v;
        w->item_cap = want;
    }
    if (w->ntasks > w->span_cap) {
        s_span_t *v = realloc(w->spans, w->ntasks * sizeof *v);
        if (!v)
            return -1;
        w->spans = v;
        w->span_cap = w->ntasks;
    }
    return 0;
}

/* How long this turn may wait. */
static long
s_timeout(const s_worker_t *w, int64_t now)
{
    int64_t at = s_conn_next(w);
    bool logs = false;
    for (size_t i = 0; i < w->ntasks; i++) {
        at = s_min(at, task_next_timer(w->tasks[i]));
        logs = logs || task_log_pending(w->tasks[i]);
    }
    if (w->draining)
        at = s_min(at, w->drain_until);
    int64_t cap = logs ? S_POLL_LOGS_MS : S_POLL_MS;
    int64_t wait = at == S_NEVER ? cap : at - now;
    return (long) (wait < 0 ? 0 : wait > cap ? cap : wait);
}

static void
s_poll(s_worker_t *w)
{
    size_t n = 0;
    w->sock_item = w->sig_item = -1;
    w->npolled = 0;
    if (s_poll_reserve(w) < 0) {
        log_msg(LL_ERROR, "worker", "out of memory for poll items");
        usleep(10 * 1000);
        return;
    }
    if (w->sock) {
        w->sock_item = (int) n;
        w->items[n++] = (zmq_pollitem_t) { w->sock, 0, ZMQ_POLLIN, 0 };
    }
    if (w->sigfd >= 0) {
        w->sig_item = (int) n;
        w->items[n++] = (zmq_pollitem_t) { NULL, w->sigfd, ZMQ_POLLIN, 0 };
    }
    for (size_t i = 0; i < w->ntasks; i++) {
        w->spans[i].first = n;
        w->spans[i].n = task_poll_items(w->tasks[i], &w->items[n]);
        n += w->spans[i].n;
    }
    w->npolled = w->ntasks;
    if (zmq_poll(w->items, (int) n, s_timeout(w, clock_mono_ms())) < 0)
        for (size_t i = 0; i < n; i++)
            w->items[i].revents = 0;   /* EINTR: nothing is ready */
}

static void
s_handle_task_fds(s_worker_t *w, int64_t now)
{
    for (size_t i = 0; i < w->npolled; i++)
        if (w->spans[i].n > 0)
            task_on_poll(w->tasks[i], &w->items[w->spans[i].first], w->spans[i].n, now);
}

static void
s_handle_timers(s_worker_t *w, int64_t now)
{
    for (size_t i = 0; i < w->ntasks; i++)
        if (task_next_timer(w->tasks[i]) <= now)
            task_on_timers(w->tasks[i], now);
    s_conn_timers(w, now);
}

static void
s_heartbeat(s_worker_t *w, int64_t now)
{
    int64_t hb = s_ping_ms(w);
    if (w->conn != S_READY)
        return;
    bool quiet_out = now - w->last_send >= hb;
    bool quiet_in = now - w->last_recv >= hb && now - w->last_ping >= hb;
    if (quiet_out || quiet_in)
        s_ping(w, now);
}

static void
s_flush(s_worker_t *w, int64_t now)
{
    for (size_t i = 0; i < w->ntasks; i++)
        s_flush_task_logs(w, w->tasks[i], now, false);
    s_send_done(w, now);
    s_heartbeat(w, now);
}

static void
s_turn(s_worker_t *w)
{
    s_poll(w);
    int64_t now = clock_mono_ms();
    s_handle_signals(w, now);
    s_handle_task_fds(w, now);
    s_handle_socket(w, now);
    s_handle_timers(w, now);
    s_collect(w, now);
    s_flush(w, now);
    s_check_drain(w, now);
}

/* ---- life ---------------------------------------------------------------- */

/* mkdir -p, each missing level 0700. 0, or -1 (errno). */
static int
s_mkdirs(char *p)
{
    for (char *c = strchr(p + 1, '/'); c; c = strchr(c + 1, '/')) {
        *c = '\0';
        int rc = mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
        *c = '/';
        if (rc < 0)
            return -1;
    }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Make the work root if missing; it must be a directory of ours, and it is
   made private (0700) if it was not: jobs' payloads and results live there.
   *was gets its mode before (0700 when nothing changed). */
static int
s_make_work_root(const char *path, mode_t *was, char *err, size_t errlen)
{
    char *p = *path ? strdup(path) : NULL;
    struct stat st;
    int rc = -1;
    if (!p)
        snprintf(err, errlen, "%s", *path ? "out of memory" : "empty path");
    else if (s_mkdirs(p) < 0 || stat(p, &st) < 0)
        snprintf(err, errlen, "%s", strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        snprintf(err, errlen, "not a directory");
    else if (st.st_uid != geteuid())
        snprintf(err, errlen, "owned by another user");
    else if ((st.st_mode & 07777) != 0700 && chmod(p, 0700) < 0)
        snprintf(err, errlen, "chmod 0700: %s", strerror(errno));
    else
        rc = 0;
    *was = rc == 0 ? st.st_mode & 07777 : 0700;
    free(p);
    return rc;
}

/* Jobs must not read the worker's CURVE keys: cover the key directory in
   each job's mount namespace when this machine allows it (probed once). */
static const hide_t *
s_hide_keys(s_worker_t *w, const worker_opts_t *opts)
{
    char err[200];
    if (!opts->key_dir)
        return NULL;
    if (hide_prepare(&w->hide, opts->key_dir) != 0 ||
        hide_probe(&w->hide, err, sizeof err) != 0) {
        log_msg(LL_WARN, "worker", "jobs can read this worker's keys in %s: hiding them failed "
                "(%s)", opts->key_dir, w->hide.dir[0] ? err : "path too long");
        return NULL;
    }
    if (w->hide.root)
        log_msg(LL_WARN, "worker", "running as root: jobs run as root too and could uncover "
                "%s; run workers as a dedicated user", opts->key_dir);
    else
        log_msg(LL_INFO, "worker", "keys in %s are hidden from jobs", opts->key_dir);
    return &w->hide;
}

static int
s_init(s_worker_t *w, const worker_opts_t *opts, int sigfd)
{
    char err[160];
    memset(w, 0, sizeof *w);
    w->opts = opts;
    w->sigfd = sigfd;
    w->sock_item = w->sig_item = -1;
    w->tctx = (task_ctx_t) { opts->id, opts->name, opts->work_dir, opts->kill_grace_ms,
                             opts->allow, s_hide_keys(w, opts) };
    backoff_init(&w->backoff, opts->reconnect_min_ms, opts->reconnect_max_ms);
    pb_buf_init(&w->out);
    mode_t was = 0700;
    if (s_make_work_root(opts->work_dir, &was, err, sizeof err) < 0) {
        log_msg(LL_ERROR, "worker", "work dir %s: %s", opts->work_dir, err);
        return -1;
    }
    if (was != 0700)
        log_msg(LL_INFO, "worker", "work dir %s: mode %04o changed to 0700",
                opts->work_dir, (unsigned) was);
    w->zctx = zmq_ctx_new();
    if (!w->zctx) {
        log_msg(LL_ERROR, "worker", "zmq_ctx_new: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static void
s_fini(s_worker_t *w)
{
    s_kill_all(w);            /* only non-empty when the loop stopped early */
    for (size_t i = 0; i < w->ndone; i++)
        task_done_free(&w->done[i]);
    free(w->done);
    free(w->tasks);
    free(w->items);
    free(w->spans);
    pb_buf_free(&w->out);
    if (w->sock)
        zmq_close(w->sock);
    if (w->zctx)
        zmq_ctx_term(w->zctx);
}

/* The --allow-command list, as it resolves now. */
static void
s_log_allowed(const worker_opts_t *opts)
{
    char *text = allowcmd_describe(opts->allow);
    log_msg(LL_INFO, "worker", "allowed commands: %s", text ? text : "(out of memory)");
    free(text);
}

int
worker_run(const worker_opts_t *opts, int sigfd)
{
    s_worker_t w;
    if (s_init(&w, opts, sigfd) < 0) {
        s_fini(&w);
        return 1;
    }
    log_job(LL_INFO, "worker", NULL, opts->id, "worker %s (%s) started: %zu role(s), %u slot(s), "
            "coordinator %s, work dir %s", opts->id, opts->name, opts->nroles,
            opts->slots, opts->coordinator, opts->work_dir);
    s_log_allowed(opts);
    s_connect(&w, clock_mono_ms());
    while (!w.stop)
        s_turn(&w);
    log_job(LL_INFO, "worker", NULL, opts->id, "worker %s stopped (%llu bad message(s) and %llu byte(s) "
            "of job output dropped)", opts->id, (unsigned long long) w.bad_frames,
            (unsigned long long) w.logs_dropped);
    int rc = w.exit_code;
    s_fini(&w);
    return rc;
}
