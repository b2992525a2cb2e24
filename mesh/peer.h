/*  mesh/peer.h — a worker registration as the coordinator holds it.

    A peer is created by the first HELLO carrying its worker id and is kept
    after it goes offline (so `workers` still lists it). While online it has
    the ROUTER routing id of its current connection and the leases (running
    jobs) it holds. Owned by the coordinator's loop only.

    Invariant: nleases <= slots, except transiently after a HELLO that reports
    more running leases than its new slot count (credit then stays at zero
    until enough of them end).

    Three sources make up what dispatch uses (name, roles, slots, labels):
    what the worker's last HELLO offered (offer), what an admin set over the
    HTTP API (admin), and the result of peer_apply() — roles the
    intersection of both, slots the smaller, labels the offered ones with
    the admin's on top, the admin's name before the worker's. A
    registration that never said HELLO (an HTTP-only worker) has no offer:
    the admin's settings are all there is.
*/
#ifndef POPEBOT_MESH_PEER_H
#define POPEBOT_MESH_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include "mesh/job.h"
#include "mesh/kv.h"
#include "mesh/proto.h"

typedef enum { PEER_ONLINE, PEER_OFFLINE, PEER_DRAINING, PEER_STATE_COUNT } peer_state_t;

const char *peer_state_name(peer_state_t s);

/* What the worker's last HELLO offered. */
typedef struct {
    char *name;               /* NULL until the first HELLO */
    char **roles;             /* none until the first HELLO */
    size_t nroles;
    uint32_t slots;
    kvlist_t labels;
} peer_offer_t;

/* What an admin set over the HTTP API; unset fields leave the offer alone. */
typedef struct {
    char *name;               /* NULL = not set */
    bool has_roles;           /* roles set (possibly to none) */
    char **roles;
    size_t nroles;
    uint32_t slots;           /* 0 = not set */
    bool has_labels;
    kvlist_t labels;
    bool drain;               /* an admin drain: it holds until resumed */
} peer_admin_t;

typedef struct peer {
    char *id;                 /* worker id, chosen by the worker */
    char *name;               /* human name (effective: peer_apply) */
    char *version;            /* the worker's software version */
    char *address;            /* peer address of its connection, or "" */
    char **roles;             /* roles it serves */
    size_t nroles;
    uint32_t slots;           /* how many jobs it runs at once */
    kvlist_t labels;
    uint32_t heartbeat_ms;    /* its heartbeat interval */
    uint32_t liveness;        /* missed intervals before it is dead */
    peer_state_t state;
    void *routing_id;         /* zframe_t* of the connection; NULL if offline */
    int64_t first_seen_ms;
    int64_t last_seen_ms;     /* monotonic ms of its last message (any counts) */
    int64_t seen_wall_ms;     /* the same moment in wall-clock ms, for display */
    job_t **leases;           /* running jobs, unordered */
    size_t nleases;
    size_t lease_cap;
    peer_offer_t offer;       /* the last HELLO's registration fields */
    peer_admin_t admin;       /* the HTTP API's settings (persisted) */
    bool self_drain;          /* the worker itself said it drains */
    bool deleted;             /* a tombstone: its id is refused until created again */
    bool http_live;           /* served over HTTP (webhook, long poll) now */
    uint32_t polls;           /* HTTP long polls waiting for a job */
} peer_t;

peer_t *peer_new(const char *id);
void peer_destroy(peer_t **self_p);

/* Replace the offered fields from a HELLO and apply. 0, or -1 (ENOMEM / bad data). */
int peer_update(peer_t *p, const pb_hello_t *hello);
/* Recompute name, roles, slots and labels from offer and admin. 0 or -1 (ENOMEM). */
int peer_apply(peer_t *p);
/* "zmq" once it said HELLO, else "http". */
const char *peer_kind(const peer_t *p);
/* Connected (or served over HTTP): draining when it or an admin says so, else online. */
void peer_set_live(peer_t *p);
/* Copy an array of strings (n may be 0). 0 or -1 (ENOMEM); *out untouched then. */
int peer_strs_copy(char *const *src, size_t n, char ***out);
void peer_strs_free(char **v, size_t n);

bool peer_serves(const peer_t *p, const char *role);
/* How many more leases it may take now (0 unless online). */
uint32_t peer_credit(const peer_t *p);

int peer_lease_add(peer_t *p, job_t *job);
/* Returns 0, or -1 when the job is not leased to p. */
int peer_lease_remove(peer_t *p, job_t *job);

/* Whether p has been silent longer than its heartbeat × liveness. */
bool peer_expired(const peer_t *p, int64_t now_ms);

#endif
