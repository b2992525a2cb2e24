/*  mesh/peer.h — a worker registration as the coordinator holds it.

    A peer is created by the first HELLO carrying its worker id and is kept
    after it goes offline (so `workers` still lists it). While online it has
    the ROUTER routing id of its current connection and the leases (running
    jobs) it holds. Owned by the coordinator's loop only.

    Invariant: nleases <= slots, except transiently after a HELLO that reports
    more running leases than its new slot count (credit then stays at zero
    until enough of them end).
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

typedef struct peer {
    char *id;                 /* worker id, chosen by the worker */
    char *name;               /* human name */
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
} peer_t;

peer_t *peer_new(const char *id);
void peer_destroy(peer_t **self_p);

/* Replace the registration fields from a HELLO. 0, or -1 (ENOMEM / bad data). */
int peer_update(peer_t *p, const pb_hello_t *hello);

bool peer_serves(const peer_t *p, const char *role);
/* How many more leases it may take now (0 unless online). */
uint32_t peer_credit(const peer_t *p);

int peer_lease_add(peer_t *p, job_t *job);
/* Returns 0, or -1 when the job is not leased to p. */
int peer_lease_remove(peer_t *p, job_t *job);

/* Whether p has been silent longer than its heartbeat × liveness. */
bool peer_expired(const peer_t *p, int64_t now_ms);

#endif
