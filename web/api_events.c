/*  web/api_events.c — GET /api/events, the mesh's live event stream for the
    UI (Server-Sent Events), and GET /api/stats, the stats history behind
    its chart.

    Each stream owns a SUB socket on the loop's event XPUB
    (node/coord_events.h) and forwards what arrives as SSE events named as
    published: job, worker, role, stats, overflow. It first waits (at most
    HELLO_WAIT_MS) until its subscription carries a message — a stats
    sample arrives every second — and then sends "hello": whatever the page
    fetches after hello, no later change is missed. Each time it wakes it
    forwards at most EVENTS_BATCH job events; past that it drops job events
    and says so with one "overflow" (the page then refetches its lists), as
    it does when the sequence numbers show messages lost because this client
    read too slowly and the queues filled.

    Rules: a stream holds a civetweb thread, so streams share the quarter
    of --http-threads that log follows use (503 busy beyond); every wait is
    bounded; it ends when the client leaves, when its credential ends
    (logout, a new password, a revoked key: web/sse.h), after
    --http-follow-max (the browser reconnects), or when the server stops.
*/
#include "web/web_int.h"
#include "web/sse.h"
#include "mesh/clock.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define EVENTS_POLL_MS 250
#define EVENTS_BATCH 200              /* job events forwarded per turn */
#define HELLO_WAIT_MS 1500
#define EVENT_NAME_MAX 32

typedef struct {
    sse_t sse;
    void *sub;
    uint64_t dropped;                  /* events dropped since the last overflow */
    uint64_t last_seq;                 /* sequence number of the last message read */
} s_stream_t;

static void *s_subscribe(web_req_t *r)
{
    int hwm = 10000, linger = 0;
    void *sub = zmq_socket(r->web->opts.zctx, ZMQ_SUB);
    if (!sub)
        return NULL;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        zmq_connect(sub, r->web->opts.events_endpoint) != 0) {
        zmq_close(sub);
        return NULL;
    }
    return sub;
}

static bool s_more(void *sub)
{
    int more = 0;
    size_t len = sizeof more;
    return zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &len) == 0 && more;
}

/* One event without waiting: 1 with its name, its JSON text (*json, the
   caller frees it) and its sequence number (*seq, 0 if it had none), or 0
   when none is queued. */
static int s_recv(void *sub, char name[EVENT_NAME_MAX], char **json, uint64_t *seq)
{
    zmq_msg_t part;
    int n = zmq_recv(sub, name, EVENT_NAME_MAX - 1, ZMQ_DONTWAIT);
    if (n < 0)
        return 0;
    name[n < EVENT_NAME_MAX - 1 ? n : EVENT_NAME_MAX - 1] = '\0';
    *json = NULL;
    *seq = 0;
    for (int i = 0; s_more(sub); i++) {
        zmq_msg_init(&part);
        size_t size = zmq_msg_recv(&part, sub, 0) >= 0 ? zmq_msg_size(&part) : 0;
        const uint8_t *data = zmq_msg_data(&part);
        if (i == 0 && size && (*json = malloc(size + 1))) {
            memcpy(*json, data, size);
            (*json)[size] = '\0';
        } else if (i == 1 && size == 8) {
            for (int b = 7; b >= 0; b--)
                *seq = *seq << 8 | data[b];
        }
        zmq_msg_close(&part);
    }
    return 1;
}

/* Forward what is queued, up to the batch bound for job events; a gap in
   the sequence (messages lost while this client read too slowly) counts as
   dropped too. */
static void s_forward(s_stream_t *s)
{
    char name[EVENT_NAME_MAX], *json;
    uint64_t seq;
    int jobs = 0;
    for (int n = 0; n < 4 * EVENTS_BATCH && s_recv(s->sub, name, &json, &seq); n++) {
        if (seq && s->last_seq && seq > s->last_seq + 1)
            s->dropped += seq - s->last_seq - 1;
        if (seq)
            s->last_seq = seq;
        bool is_job = strcmp(name, "job") == 0;
        if (is_job && jobs >= EVENTS_BATCH)
            s->dropped++;
        else if (json)
            sse_event_text(&s->sse, name, -1, json);
        jobs += is_job;
        free(json);
    }
    if (s->dropped) {
        sse_event(&s->sse, "overflow", -1, json_pack("{s:I}", "dropped", (json_int_t) s->dropped));
        s->dropped = 0;
    }
}

static int s_wait(void *sub, long ms)
{
    zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
    return zmq_poll(&item, 1, ms);
}

static void s_stream(s_stream_t *s, web_req_t *r)
{
    int64_t start = clock_mono_ms(), deadline = start + r->web->opts.follow_max_ms;
    sse_start(&s->sse, r);
    /* hello once the subscription is live (or the loop is slow: send anyway) */
    while (clock_mono_ms() - start < HELLO_WAIT_MS && !atomic_load(&r->web->stopping) &&
           s_wait(s->sub, 100) == 0)
        ;
    sse_event(&s->sse, "hello", -1, json_pack("{s:I}", "time", (json_int_t) clock_wall_ms()));
    while (sse_live(&s->sse) && !atomic_load(&r->web->stopping) && clock_mono_ms() < deadline) {
        if (s_wait(s->sub, EVENTS_POLL_MS) > 0)
            s_forward(s);
        sse_keepalive(&s->sse);
    }
    sse_end(&s->sse);
}

void web_events(web_req_t *r)
{
    if (web_params_known(r, (const char *const[]) { NULL }) != 0)
        return;
    if (!web_hold(r, &r->web->follows, (int) r->web->opts.threads / 4,
                  "event streams and log follows"))
        return;
    s_stream_t s = { .sub = s_subscribe(r) };
    if (!s.sub)
        web_error(r, 503, "unavailable", "the event stream cannot be opened now");
    else
        s_stream(&s, r);
    if (s.sub)
        zmq_close(s.sub);
    web_let_go(&r->web->follows);
}

void web_stats(web_req_t *r)
{
    json_t *out;
    if (web_params_known(r, (const char *const[]) { NULL }) == 0 &&
        web_api(r, "stats", NULL, &out, 0) == 0)
        web_json(r, 200, out);
}
