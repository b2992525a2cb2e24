/*  node/coordinator.c — the coordinator's mesh loop.

    One thread, one ROUTER socket. Each turn of the loop:
      1. waits (zmq_poll) for the socket or the signalfd, at most 100 ms;
      2. reads every message already queued (up to a batch bound) and hands
         each to the worker or client handlers;
      3. expires silent workers (their leases go back to the queue),
         moves scheduled jobs whose time has come to their ready queues and
         starts the jobs of due cron schedules and settled file watches
         (node/coord_trig.h);
      4. dispatches queued jobs to workers with free credit (an HTTP
         worker's credit is its waiting long polls), then answers the long
         polls whose wait ran out;
      5. commits everything the turn changed in one LMDB transaction and,
         with --durability=sync, waits for it to reach the disk (group commit);
      6. only then sends what the turn owes clients (SUBMITTED, REPLY, and
         the RESULTs, one message per client), so no acknowledged job can be
         lost by a crash, and publishes the turn's events for the UI
         (node/coord_events.h; a stats sample once a second).
    Rules: only this thread touches jobs, peers and queues; a frame that does
    not decode is counted and dropped, never fatal; ROUTER_MANDATORY is on,
    so a send to a vanished peer fails here instead of vanishing silently.
*/
#include "node/coord_int.h"
#include "node/log.h"
#include "store/auth.h"
#include "web/web.h"
#include "node/tls_pem.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define BATCH_MAX 4096        /* messages handled per turn before dispatching */
#define POLL_MS 100
#define REFUSED_MAX 10000     /* wrong-version peers remembered */

void coord_rid_key(const void *rid, size_t size, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = rid;
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * size] = '\0';
}

int coord_send(coord_t *c, const void *rid, size_t rid_size)
{
    if (zmq_send(c->router, rid, rid_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(c->router, pb_buf_data(&c->out), pb_buf_size(&c->out), ZMQ_DONTWAIT) < 0) {
        c->stats.unroutable++;
        return -1;
    }
    return 0;
}

void coord_send_error(coord_t *c, const rid_t *rid, uint64_t req_id,
                      const char *code, const char *message)
{
    pb_buf_reset(&c->out);
    pb_enc_error(&c->out, req_id, code, message);
    if (zmq_send(rid->sock, rid->data, rid->size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(rid->sock, pb_buf_data(&c->out), pb_buf_size(&c->out), ZMQ_DONTWAIT) < 0)
        c->stats.unroutable++;
}

/* ---- set-up and tear-down ---------------------------------------------- */

/* A ROUTER with the options both of the loop's sockets share. */
static void *s_router(coord_t *c)
{
    int on = 1, hwm = 1000000, linger = 0;
    void *s = zmq_socket(c->zctx, ZMQ_ROUTER);
    if (!s)
        return NULL;
    zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    return s;
}

static int s_open_socket(coord_t *c)
{
    int64_t maxsize = c->opts->max_message;
    c->zctx = zmq_ctx_new();
    c->router = c->zctx ? s_router(c) : NULL;
    if (!c->router)
        return -1;
    zmq_setsockopt(c->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    if (coord_curve_open(c) != 0)
        return -1;
    if (zmq_bind(c->router, c->opts->bind) != 0) {
        log_msg(LL_ERROR, "coordinator", "cannot bind %s: %s", c->opts->bind,
                zmq_strerror(errno));
        return -1;
    }
    /* the HTTP layer's socket: in-process only, so API messages come from
       this process's authenticated HTTP handlers and nowhere else */
    c->api = s_router(c);
    if (!c->api || zmq_bind(c->api, COORD_API_ENDPOINT) != 0)
        return -1;
    return coord_events_open(c);     /* before the HTTP layer subscribes */
}

static int s_start_web(coord_t *c)
{
    if (!c->opts->http)
        return 0;
    char err[256], pem[4096];
    if (c->opts->tls_cert && tls_pem_prepare(c->opts->data_dir, c->opts->tls_cert,
                                             c->opts->tls_key, pem, sizeof pem, err,
                                             sizeof err) != 0) {
        log_msg(LL_ERROR, "coordinator", "%s", err);
        return -1;
    }
    web_opts_t w = {
        .listen = c->opts->http, .max_body = (size_t) c->opts->http_max_body,
        .threads = c->opts->http_threads, .zctx = c->zctx, .api_endpoint = COORD_API_ENDPOINT,
        .events_endpoint = COORD_EVENTS_ENDPOINT,
        .auth = c->auth, .cluster_id = store_cluster_id(c->store), .version = POPEBOT_VERSION,
        .timeout_ms = 10000, .follow_max_ms = c->opts->http_follow_max_ms,
        .session_lifetime_ms = c->opts->session_lifetime_ms,
        .session_idle_ms = c->opts->session_idle_ms,
        .tls_pem = c->opts->tls_cert ? pem : NULL,
    };
    if (!(c->web = web_start(&w, err, sizeof err))) {
        log_msg(LL_ERROR, "coordinator", "%s", err);
        return -1;
    }
    log_msg(LL_INFO, "coordinator", "HTTP API on http%s://%s", c->opts->tls_cert ? "s" : "",
            c->opts->http);
    return 0;
}

static void s_peer_free(void **item)
{
    peer_destroy((peer_t **) item);
}

static int s_init(coord_t *c, const coord_opts_t *opts)
{
    memset(c, 0, sizeof *c);
    c->opts = opts;
    c->trig.inotify_fd = -1;
    pb_buf_init(&c->out);
    pb_buf_init(&c->scratch);
    later_init(&c->later);
    c->sched = sched_new();
    c->jobs = jobtab_new(opts->keep_finished);
    c->peers = zhashx_new();
    c->tombstones = zhashx_new();
    c->revoked = zhashx_new();
    c->polls = zlistx_new();
    c->by_rid = zhashx_new();
    c->refused = zhashx_new();
    c->results = zhashx_new();
    if (!c->sched || !c->jobs || !c->peers || !c->by_rid || !c->refused || !c->results ||
        metrics_init(&c->metrics) != 0 || !c->tombstones || !c->polls ||
        !c->revoked)
        return -1;
    zhashx_set_destructor(c->peers, s_peer_free);
    zhashx_set_destructor(c->tombstones, s_peer_free);
    zlistx_set_destructor(c->polls, coord_poll_free);
    zhashx_set_destructor(c->results, coord_results_free);
    if (coord_store_open(c) != 0 || coord_trig_open(c) != 0)
        return -1;
    char err[256];
    if (!(c->auth = auth_open(opts->data_dir, err, sizeof err))) {
        log_msg(LL_ERROR, "coordinator", "%s", err);
        return -1;
    }
    if (s_open_socket(c) != 0)
        return -1;
    return s_start_web(c);
}

static void s_fini(coord_t *c)
{
    web_stop(&c->web);        /* first: its threads close their sockets to the loop */
    if (c->router)
        zmq_close(c->router);
    if (c->api)
        zmq_close(c->api);
    if (c->zap)
        zmq_close(c->zap);
    coord_events_close(c);
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    zhashx_destroy(&c->by_rid);
    zhashx_destroy(&c->refused);
    zhashx_destroy(&c->results);
    zlistx_destroy(&c->polls);
    zhashx_destroy(&c->tombstones);
    zhashx_destroy(&c->revoked);
    zhashx_destroy(&c->peers);   /* before jobs: peers borrow them */
    coord_outbox_free(c);
    coord_trig_close(c);
    store_close(&c->store);
    auth_close(&c->auth);
    jobtab_destroy(&c->jobs);
    sched_destroy(&c->sched);
    later_free(&c->later);
    roleset_free(&c->roles);
    metrics_free(&c->metrics);
    pb_buf_free(&c->out);
    pb_buf_free(&c->scratch);
}

/* ---- one message --------------------------------------------------------- */

static void s_malformed(coord_t *c, const rid_t *rid, const pb_err_t *err)
{
    c->stats.malformed++;
    int64_t now = clock_mono_ms();
    if (now - c->last_log_malformed >= 1000) {
        c->last_log_malformed = now;
        log_msg(LL_WARN, "coordinator", "dropped malformed frame (%llu so far): %s",
                (unsigned long long) c->stats.malformed, err->reason);
    }
    (void) rid;
}

static void s_version_mismatch(coord_t *c, const rid_t *rid, const pb_err_t *err)
{
    char key[511], text[160];
    coord_rid_key(rid->data, rid->size, key);
    log_msg(LL_WARN, "coordinator",
            "peer %s speaks protocol version %u, this coordinator speaks %u: refusing it",
            key, err->peer_version, PB_VERSION);
    snprintf(text, sizeof text, "protocol version %u is not supported; this coordinator speaks %u",
             err->peer_version, PB_VERSION);
    coord_send_error(c, rid, 0, "version", text);
    if (zhashx_size(c->refused) >= REFUSED_MAX) /* bounded: forget the oldest set */
        zhashx_purge(c->refused);
    zhashx_insert(c->refused, key, (void *) 1);
}

static bool s_is_client_cmd(pb_cmd_t cmd)
{
    return cmd == PB_SUBMIT || cmd == PB_JOB || cmd == PB_JOBS ||
           cmd == PB_WORKERS || cmd == PB_CANCEL || cmd == PB_RETRY || cmd == PB_LOGS ||
           cmd == PB_ROLES || cmd == PB_DRAIN_WORKER;
}

static void s_handle(coord_t *c, const rid_t *rid, zmq_msg_t *body)
{
    pb_err_t err;
    pb_msg_t *msg = pb_decode(zmq_msg_data(body), zmq_msg_size(body), &err);
    if (!msg) {
        if (err.status == PB_E_VERSION)
            s_version_mismatch(c, rid, &err);
        else
            s_malformed(c, rid, &err);
        return;
    }
    if (!coord_curve_admit(c, rid, msg))
        ;                       /* refused: the peer has its ERROR */
    else if (msg->cmd == PB_ENROLL)
        coord_enroll(c, rid, msg);
    else if (msg->cmd == PB_API && rid->sock == c->api)
        coord_api_msg(c, rid, &msg->u.api);
    else if (msg->cmd == PB_API)
        coord_send_error(c, rid, msg->u.api.req_id, "forbidden",
                         "API messages are accepted from this process's HTTP layer only");
    else if (s_is_client_cmd(msg->cmd))
        coord_client_msg(c, rid, msg);
    else
        coord_worker_msg(c, rid, msg);
    pb_msg_destroy(&msg);
}

static bool s_refused(coord_t *c, const rid_t *rid)
{
    char key[511];
    if (zhashx_size(c->refused) == 0)
        return false;
    coord_rid_key(rid->data, rid->size, key);
    return zhashx_lookup(c->refused, key) != NULL;
}

/* Read one [identity, body] message from sock. Returns 1 handled, 0 none
   waiting, -1 error. */
static int s_recv_one(coord_t *c, void *sock)
{
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    int rc = zmq_msg_recv(&id, sock, ZMQ_DONTWAIT);
    if (rc < 0) {
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        return errno == EAGAIN ? 0 : -1;
    }
    int parts = 1;
    bool more = zmq_msg_more(&id);
    if (more && zmq_msg_recv(&body, sock, 0) >= 0) {
        parts++;
        more = zmq_msg_more(&body);
    }
    while (more) { /* extra frames: drain them, the message is malformed */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        zmq_msg_recv(&extra, sock, 0);
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
        parts++;
    }
    rid_t rid = { zmq_msg_data(&id), zmq_msg_size(&id), &body, sock };
    if (parts != 2) {
        pb_err_t err = { PB_E_MALFORMED, 0, "message must be exactly one frame" };
        s_malformed(c, &rid, &err);
    } else if (!s_refused(c, &rid)) {
        c->cur_sock = sock;
        s_handle(c, &rid, &body);
        c->cur_sock = c->router;
    }
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    return 1;
}

/* ---- the loop ------------------------------------------------------------ */

static bool s_signalled(int sigfd)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof si) == (ssize_t) sizeof si)
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            return true;
    return false;
}

/* Scheduled jobs whose time has come join their ready queues. */
static void s_release_due(coord_t *c)
{
    int64_t now = clock_wall_ms();
    for (job_t *job; (job = later_pop_due(&c->later, now));) {
        job->state = JOB_QUEUED;
        if (sched_push(c->sched, job) != 0) {
            job_finish(job, JOB_FAILED, false, 0, NULL, 0, "could not be queued", now);
            coord_job_ended(c, job);
            continue;
        }
        coord_save_job(c, job);
        c->dispatch_needed = true;
    }
}

/* How long the loop may sleep: until the next scheduled job, at most POLL_MS. */
static long s_poll_ms(const coord_t *c)
{
    int64_t next = later_next(&c->later);
    if (next == INT64_MAX)
        return POLL_MS;
    int64_t wait = next - clock_wall_ms();
    return wait < 0 ? 0 : wait > POLL_MS ? POLL_MS : (long) wait;
}

static int s_loop(coord_t *c, int sigfd)
{
    zmq_pollitem_t items[6] = {
        { c->router, 0, ZMQ_POLLIN, 0 },
        { NULL, sigfd, ZMQ_POLLIN, 0 },
        { c->api, 0, ZMQ_POLLIN, 0 },
        { c->events.xpub, 0, ZMQ_POLLIN, 0 },
    };
    int nitems = 4, watch = -1;          /* the optional ones: inotify, ZAP */
    if (c->trig.inotify_fd >= 0)
        items[watch = nitems++] = (zmq_pollitem_t) { NULL, c->trig.inotify_fd, ZMQ_POLLIN, 0 };
    if (c->zap)
        items[nitems++] = (zmq_pollitem_t) { c->zap, 0, ZMQ_POLLIN, 0 };
    for (;;) {
        if (zmq_poll(items, nitems, s_poll_ms(c)) < 0 && errno != EINTR) {
            log_msg(LL_ERROR, "coordinator", "poll: %s", zmq_strerror(errno));
            return 1;
        }
        if ((items[1].revents & ZMQ_POLLIN) && s_signalled(sigfd))
            return 0;
        coord_zap_serve(c);
        coord_events_read(c);
        if (watch >= 0 && (items[watch].revents & ZMQ_POLLIN))
            coord_watch_read(c);
        for (int n = 0; n < BATCH_MAX && s_recv_one(c, c->router) == 1; n++)
            ;
        for (int n = 0; n < BATCH_MAX && s_recv_one(c, c->api) == 1; n++)
            ;
        coord_expire_peers(c, clock_mono_ms());
        s_release_due(c);
        coord_trig_tick(c);
        coord_dispatch(c);
        coord_api_tick(c, clock_mono_ms());  /* after dispatch: a due poll may still get a job */
        coord_prune(c, clock_mono_ms());
        coord_events_tick(c, clock_mono_ms());
        coord_results_flush(c);
        if (coord_commit(c) != 0)
            return 2; /* nothing of this turn was acknowledged */
        coord_outbox_flush(c);
        coord_events_flush(c);
    }
}

int coordinator_run(const coord_opts_t *opts, int sigfd)
{
    coord_t c;
    int rc = 1;
    if (s_init(&c, opts) == 0) {
        log_msg(LL_INFO, "coordinator", "listening on %s, %zu roles, durability %s",
                opts->bind, c.roles.n, opts->durable ? "sync" : "none");
        int why = s_loop(&c, sigfd);
        if (why == 0)
            coord_polls_close(&c);   /* their HTTP threads must not wait for a stopped loop */
        rc = why == 0 ? 0 : 1;
        if (why == 2)
            log_msg(LL_ERROR, "coordinator", "stopping: the store cannot make changes durable; "
                    "nothing unsaved was acknowledged, restart to recover from the last commit");
        log_msg(LL_INFO, "coordinator", "stopping: %llu jobs submitted, %llu finished, "
                "%llu malformed frames dropped",
                (unsigned long long) c.stats.submitted, (unsigned long long) c.stats.finished,
                (unsigned long long) c.stats.malformed);
    }
    s_fini(&c);
    return rc;
}
