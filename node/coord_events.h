/*  node/coord_events.h — the loop's event stream and its stats history.

    Every state change the UI shows — a job's state or progress, a
    registration's state, a role created, changed or deleted — is published on an in-process XPUB
    socket (COORD_EVENTS_ENDPOINT) after the turn's commit, so a browser never
    sees a change that a crash could take back. Once a second the loop takes
    a stats sample (workers, slots, queue, throughput), keeps the last
    COORD_STATS_KEEP of them for GET /api/stats and publishes it.

    Each message is three frames: the event's name ("job", "progress",
    "worker", "role", "stats", "overflow"), its JSON object
    (docs/openapi.yaml, /api/events) and a sequence number (8 bytes, little
    endian) one higher than the last message's, so a subscriber that lost
    messages to a full queue can tell, and say so.
    Rules: nothing is built while no one subscribes (the XPUB reports each
    subscription and its end); at most COORD_EVENTS_PER_S events leave per
    second — past that they are counted and one "overflow" says how many
    were dropped; a slow subscriber loses messages (PUB never blocks the loop).
*/
#ifndef POPEBOT_NODE_COORD_EVENTS_H
#define POPEBOT_NODE_COORD_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define COORD_EVENTS_ENDPOINT "inproc://popebot-events"
#define COORD_STATS_KEEP 600          /* one sample a second: ten minutes */
#define COORD_EVENTS_PER_S 2000

struct coord;
struct job;
struct peer;

typedef struct {
    int64_t time_ms;                  /* wall clock */
    uint32_t workers_online, workers_total;
    uint64_t slots_used, slots_total;
    uint64_t queued, running;
    double submitted_per_s, finished_per_s;
} coord_sample_t;

typedef struct {
    void *xpub;                       /* the socket, bound to COORD_EVENTS_ENDPOINT */
    int subscribers;                  /* subscriptions now open */
    char **pending;                   /* "name\0json" strings of this turn, owned */
    size_t npending, cap;
    uint32_t sent_this_s;             /* events queued in the current second */
    uint64_t dropped;                 /* events dropped over the rate, not yet reported */
    uint64_t seq;                     /* sequence number of the last message sent */
    coord_sample_t ring[COORD_STATS_KEEP]; /* samples, oldest at head once full */
    size_t head, nsamples;
    int64_t last_tick;                /* monotonic ms of the last sample */
    uint64_t last_submitted, last_finished; /* counters at the last sample */
} coord_events_t;

/* Bind the socket (before the HTTP layer starts). 0, or -1 (logged). */
int coord_events_open(struct coord *c);
void coord_events_close(struct coord *c);
/* Read subscription changes (the socket polled readable). */
void coord_events_read(struct coord *c);
/* Note a change; it leaves at coord_events_flush. */
void coord_event_job(struct coord *c, const struct job *job);
void coord_event_worker(struct coord *c, const struct peer *p);
void coord_event_role(struct coord *c, const char *name, bool deleted);
/* A running job reported progress (kept in memory only, so sent at once). */
void coord_event_progress(struct coord *c, const struct job *job);
/* After the commit: publish what this turn noted. */
void coord_events_flush(struct coord *c);
/* Once a second: a stats sample into the history, published. */
void coord_events_tick(struct coord *c, int64_t now_mono);

#endif
