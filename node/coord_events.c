/*  node/coord_events.c — the loop's event stream and stats history
    (node/coord_events.h).

    Events are built into c->events.pending during a turn and sent by
    coord_events_flush after the commit. The XPUB runs in verbose mode, so
    each SUB that connects or leaves shows up as a subscribe (first byte 1)
    or unsubscribe (0) message; while the count is zero nothing is built.
    Rules: loop thread only; sends never block (ZMQ_DONTWAIT, a bounded
    send queue); a message that cannot be built or sent is dropped, never
    retried — the stream is a view, the store is the record.
*/
#include "node/coord_int.h"
#include "node/coord_api.h"
#include "node/log.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_HWM 10000              /* messages queued per subscriber */

int coord_events_open(coord_t *c)
{
    int on = 1, hwm = EVENTS_HWM, linger = 0;
    coord_events_t *e = &c->events;
    e->xpub = zmq_socket(c->zctx, ZMQ_XPUB);
    if (!e->xpub)
        return -1;
    zmq_setsockopt(e->xpub, ZMQ_XPUB_VERBOSER, &on, sizeof on);
    zmq_setsockopt(e->xpub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(e->xpub, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(e->xpub, COORD_EVENTS_ENDPOINT) != 0) {
        log_msg(LL_ERROR, "coordinator", "cannot bind %s: %s", COORD_EVENTS_ENDPOINT,
                zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static void s_drop_pending(coord_events_t *e)
{
    for (size_t i = 0; i < e->npending; i++)
        free(e->pending[i]);
    e->npending = 0;
}

void coord_events_close(coord_t *c)
{
    coord_events_t *e = &c->events;
    s_drop_pending(e);
    free(e->pending);
    e->pending = NULL;
    e->cap = 0;
    if (e->xpub)
        zmq_close(e->xpub);
    e->xpub = NULL;
}

static void s_send(coord_events_t *e, const char *msg);
static json_t *s_sample_json(const coord_sample_t *s);

/* A new subscriber gets the latest stats sample at once (the others see it
   again, which is harmless): its first message proves the subscription
   live, so its stream can say hello now rather than at the next sample. */
static void s_greet(coord_events_t *e)
{
    if (e->nsamples == 0)
        return;                       /* the first sample comes within a second */
    json_t *o = s_sample_json(&e->ring[(e->head + e->nsamples - 1) % COORD_STATS_KEEP]);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    size_t tl = text ? strlen(text) : 0;
    char *msg = text ? malloc(sizeof "stats" + tl + 1) : NULL;
    if (msg) {
        memcpy(msg, "stats", sizeof "stats");
        memcpy(msg + sizeof "stats", text, tl + 1);
        s_send(e, msg);
    }
    free(msg);
    free(text);
}

void coord_events_read(coord_t *c)
{
    coord_events_t *e = &c->events;
    unsigned char buf[256];
    int n;
    bool joined = false;
    while (e->xpub && (n = zmq_recv(e->xpub, buf, sizeof buf, ZMQ_DONTWAIT)) >= 1) {
        if (buf[0] == 1)
            e->subscribers++;
        else if (buf[0] == 0 && e->subscribers > 0)
            e->subscribers--;
        joined |= buf[0] == 1;
        log_msg(LL_DEBUG, "coordinator", "event stream: %d subscriber(s)", e->subscribers);
    }
    if (joined)
        s_greet(e);
}

/* Whether an event may be built now: someone listens and the second's
   budget is not spent (else it counts as dropped, and costs nothing). */
static bool s_room(coord_events_t *e)
{
    if (e->subscribers <= 0)
        return false;
    if (e->sent_this_s < COORD_EVENTS_PER_S)
        return true;
    e->dropped++;
    return false;
}

/* Queue "name\0json" (steals obj). */
static void s_note(coord_events_t *e, const char *name, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    size_t nl = strlen(name), tl = text ? strlen(text) : 0;
    char *msg = text ? malloc(nl + 1 + tl + 1) : NULL;
    if (msg && e->npending == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **p = realloc(e->pending, cap * sizeof *p);
        if (p) {
            e->pending = p;
            e->cap = cap;
        }
    }
    if (!msg || e->npending == e->cap) {
        free(msg);
        free(text);
        return;
    }
    memcpy(msg, name, nl + 1);
    memcpy(msg + nl + 1, text, tl + 1);
    free(text);
    e->pending[e->npending++] = msg;
    e->sent_this_s++;
}

void coord_event_job(coord_t *c, const job_t *job)
{
    if (!s_room(&c->events))
        return;
    const char *worker = job->worker ? ((const peer_t *) job->worker)->id : job->last_worker;
    s_note(&c->events, "job",
           json_pack("{s:s,s:s,s:s,s:s?,s:I}", "id", job->idstr, "role",
                     job->role ? job->role->name : "", "state", job_state_name(job->state),
                     "worker", worker, "attempt", (json_int_t) job->attempts));
}

void coord_event_progress(coord_t *c, const job_t *job)
{
    if (!s_room(&c->events))
        return;
    s_note(&c->events, "progress",
           json_pack("{s:s,s:I,s:I,s:s*}", "id", job->idstr, "done",
                     (json_int_t) job->progress.done, "total", (json_int_t) job->progress.total,
                     "message", job->progress.message));
}

void coord_event_worker(coord_t *c, const peer_t *p)
{
    if (!s_room(&c->events))
        return;
    s_note(&c->events, "worker", json_pack("{s:s,s:s}", "id", p->id, "state",
                                           p->deleted ? "deleted" : peer_state_name(p->state)));
}

void coord_event_role(coord_t *c, const char *name, bool deleted)
{
    if (!s_room(&c->events))
        return;
    s_note(&c->events, "role", json_pack("{s:s,s:b}", "name", name, "deleted", deleted));
}

static void s_send(coord_events_t *e, const char *msg)
{
    size_t nl = strlen(msg);
    const char *json = msg + nl + 1;
    uint8_t seq[8];
    e->seq++;
    for (int i = 0; i < 8; i++)
        seq[i] = (uint8_t) (e->seq >> (8 * i));
    if (zmq_send(e->xpub, msg, nl, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
        zmq_send(e->xpub, json, strlen(json), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send(e->xpub, seq, sizeof seq, ZMQ_DONTWAIT);
}

void coord_events_flush(coord_t *c)
{
    coord_events_t *e = &c->events;
    if (e->xpub && e->subscribers > 0)
        for (size_t i = 0; i < e->npending; i++)
            s_send(e, e->pending[i]);
    s_drop_pending(e);
}

/* ---- stats ------------------------------------------------------------------ */

static void s_sample(coord_t *c, coord_sample_t *s, double secs)
{
    coord_events_t *e = &c->events;
    memset(s, 0, sizeof *s);
    s->time_ms = clock_wall_ms();
    for (peer_t *p = zhashx_first(c->peers); p; p = zhashx_next(c->peers)) {
        s->workers_total++;
        s->running += p->nleases;
        if (p->state == PEER_OFFLINE)
            continue;
        s->workers_online++;
        s->slots_used += p->nleases;
        s->slots_total += p->slots;
    }
    s->queued = sched_total(c->sched);
    /* two decimals are plenty for a chart, and keep the JSON short */
    s->submitted_per_s = round((double) (c->stats.submitted - e->last_submitted) / secs * 100) / 100;
    s->finished_per_s = round((double) (c->stats.finished - e->last_finished) / secs * 100) / 100;
    e->last_submitted = c->stats.submitted;
    e->last_finished = c->stats.finished;
}

static json_t *s_sample_json(const coord_sample_t *s)
{
    return json_pack("{s:I,s:i,s:i,s:I,s:I,s:I,s:I,s:f,s:f}", "time", (json_int_t) s->time_ms,
                     "workers_online", (int) s->workers_online, "workers_total",
                     (int) s->workers_total, "slots_used", (json_int_t) s->slots_used,
                     "slots_total", (json_int_t) s->slots_total, "queued",
                     (json_int_t) s->queued, "running", (json_int_t) s->running,
                     "submitted_per_s", s->submitted_per_s, "finished_per_s",
                     s->finished_per_s);
}

void coord_events_tick(coord_t *c, int64_t now_mono)
{
    coord_events_t *e = &c->events;
    if (e->last_tick == 0) {          /* the first turn: counters start here */
        e->last_tick = now_mono;
        e->last_submitted = c->stats.submitted;
        e->last_finished = c->stats.finished;
        return;
    }
    if (now_mono - e->last_tick < 1000)
        return;
    double secs = (double) (now_mono - e->last_tick) / 1000.0;
    e->last_tick = now_mono;
    coord_sample_t *s = &e->ring[(e->head + e->nsamples) % COORD_STATS_KEEP];
    if (e->nsamples == COORD_STATS_KEEP)
        e->head = (e->head + 1) % COORD_STATS_KEEP;
    else
        e->nsamples++;
    s_sample(c, s, secs);
    e->sent_this_s = 0;
    if (e->subscribers <= 0) {
        e->dropped = 0;
        return;
    }
    if (e->dropped)
        s_note(e, "overflow", json_pack("{s:I}", "dropped", (json_int_t) e->dropped));
    e->dropped = 0;
    s_note(e, "stats", s_sample_json(s));
}

/* The "stats" API operation: the history, oldest first. */
void coord_api_stats(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    (void) body;
    coord_events_t *e = &c->events;
    json_t *list = json_array();
    for (size_t i = 0; list && i < e->nsamples; i++)
        json_array_append_new(list, s_sample_json(&e->ring[(e->head + i) % COORD_STATS_KEEP]));
    coord_api_reply(c, rid, req_id,
                    list ? json_pack("{s:i,s:o}", "interval_ms", 1000, "samples", list) : NULL);
}
