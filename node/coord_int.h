/*  node/coord_int.h — state shared by the coordinator's files.

    coordinator.c runs the loop and owns this struct; coord_worker.c handles
    the worker commands and lease bookkeeping; coord_client.c handles the
    client commands. All of it runs on the loop thread only.
*/
#ifndef POPEBOT_NODE_COORD_INT_H
#define POPEBOT_NODE_COORD_INT_H

#include <czmq.h>
#include "mesh/clock.h"
#include "mesh/backoff.h"
#include "mesh/jobtab.h"
#include "mesh/later.h"
#include "mesh/peer.h"
#include "mesh/proto.h"
#include "mesh/role.h"
#include "mesh/sched.h"
#include "store/store.h"
#include "node/coordinator.h"
#include "node/metrics.h"
#include "node/coord_events.h"
#include "node/coord_trig.h"

/* The routing id of the message being handled. */
typedef struct {
    const void *data;
    size_t size;
    zmq_msg_t *msg;           /* the body frame, for its Peer-Address */
    void *sock;               /* the socket it came in on: router or api */
} rid_t;

typedef struct {
    uint64_t malformed;       /* frames dropped as undecodable */
    uint64_t stale_reports;   /* DONE/LOG for leases no longer current */
    uint64_t unroutable;      /* sends to peers that had gone */
    uint64_t submitted;       /* jobs accepted */
    uint64_t finished;        /* jobs that reached a terminal state */
} coord_stats_t;

/* A message for a client, held until the turn's commit is durable. */
typedef struct {
    zframe_t *rid;            /* the client's routing id */
    zframe_t *body;           /* the encoded message */
    void *sock;               /* the socket to send it on */
} coord_held_t;

/* An HTTP worker's GET .../jobs/next held until a job or its deadline. */
typedef struct {
    char *worker;             /* the registration's id, owned */
    zframe_t *rid;            /* the HTTP thread's routing id on the api socket */
    uint64_t req_id;
    int64_t deadline;         /* monotonic ms: answer "no job" then */
} coord_poll_t;

typedef struct coord {
    const coord_opts_t *opts;
    store_t *store;           /* the LMDB store: jobs, workers, roles */
    bool store_error;         /* a write failed this turn: do not commit it */
    coord_held_t *outbox;     /* client messages of this turn */
    size_t nout, out_cap;
    void *zctx;               /* libzmq context */
    void *router;             /* the ROUTER socket for workers and clients */
    void *api;                /* the in-process ROUTER for the HTTP layer (API allowed) */
    void *cur_sock;           /* socket of the message being handled; router otherwise */
    struct auth *auth;        /* credentials (DIR/auth): worker tokens of registrations */
    void *zap;                /* REP answering libzmq's ZAP requests; NULL with --insecure */
    bool secure;              /* CURVE on the router (no --insecure) */
    char server_pub[41];      /* the coordinator's public key (Z85) when secure */
    char local_user[56];      /* "c:local@Z85": the identity of the local client key */
    struct web *web;          /* the HTTP server, or NULL with --http=off */
    roleset_t roles;          /* role definitions */
    sched_t *sched;           /* ready queues */
    later_t later;            /* scheduled jobs, by the time they are due */
    backoff_t retry_rng;      /* jitter for retry delays (only its generator is used) */
    jobtab_t *jobs;           /* every job, owns them */
    zhashx_t *peers;          /* worker id -> peer_t, owns them */
    zhashx_t *tombstones;     /* worker id -> peer_t of deleted registrations, owns them */
    zhashx_t *revoked;        /* Z85 keys of deleted workers (DIR/auth revoked), refused forever */
    zlistx_t *polls;          /* coord_poll_t: HTTP workers' long polls, oldest first */
    zhashx_t *by_rid;         /* routing id (hex) -> peer_t, borrowed */
    zhashx_t *refused;        /* routing ids (hex) ignored after a version error */
    zhashx_t *results;        /* routing id (hex) -> coord_pending_t: RESULTs of this turn */
    jobid_gen_t ids;          /* job id generator */
    pb_buf_t out;             /* the message being encoded */
    pb_buf_t scratch;         /* parts assembled before a message (lists) */
    bool dispatch_needed;     /* something changed that may free a match */
    size_t rotate;            /* where the next dispatch round starts */
    int64_t last_expire_check; /* monotonic ms of the last liveness sweep */
    int64_t last_prune;       /* monotonic ms of the last retention pass */
    int64_t last_lease_sweep; /* monotonic ms of the last HTTP lease check */
    char store_full[200];     /* why new jobs are refused; "" while there is room */
    int64_t store_budget;     /* bytes new jobs may still take before the next check */
    bool store_recheck;       /* check the store's room next turn, not in a second */
    bool store_over_size;     /* in-use bytes exceed --retention-bytes */
    int64_t last_log_malformed; /* rate limit for malformed-frame warnings */
    int64_t last_log_refused; /* rate limit for refused-handshake warnings */
    uint64_t refused_unlogged; /* handshakes refused since the last such warning */
    coord_stats_t stats;
    metrics_t metrics;        /* finished counts and latency histograms for /metrics */
    uint64_t store_used;      /* bytes of the store in use, at the last room check */
    coord_events_t events;    /* the UI's event stream and stats history */
    coord_trig_t trig;        /* armed cron schedules and file watches */
} coord_t;


/* coord_curve.c: CURVE keys, the ZAP handler, identity rules, ENROLL. */
int coord_curve_open(coord_t *c);            /* before the router binds */
void coord_zap_serve(coord_t *c);            /* answer pending ZAP requests */
/* Whether the message may be handled; if not, the peer has its ERROR. */
bool coord_curve_admit(coord_t *c, const rid_t *rid, const pb_msg_t *msg);
void coord_enroll(coord_t *c, const rid_t *rid, const pb_msg_t *msg);
int coord_curve_forget_worker(coord_t *c, const char *id);   /* 0 or -1 */

/* Send out->data to one routing id; counts unroutable peers. */
int coord_send(coord_t *c, const void *rid, size_t rid_size);
void coord_send_error(coord_t *c, const rid_t *rid, uint64_t req_id,
                      const char *code, const char *message);
/* Hex key for a routing id (buffer of 2*size+1, size <= 255). */
void coord_rid_key(const void *rid, size_t size, char *out);

/* coord_store.c: recovery, write-through, and the outbox of client
   messages that leave only after the turn's commit. */
int coord_store_open(coord_t *c);
void coord_save_job(coord_t *c, job_t *job);
void coord_save_peer(coord_t *c, const peer_t *p);
void coord_save_idem(coord_t *c, pb_str_t key, uint64_t id, int64_t created_ms);
void coord_save_role(coord_t *c, const role_t *r);
void coord_delete_role(coord_t *c, const char *name);
/* Append a chunk of the job's output (capped per job, oldest dropped). */
void coord_save_log(coord_t *c, job_t *job, const char *data, size_t len);
/* Retention: at most every PRUNE_EVERY_MS, delete up to PRUNE_BATCH
   finished jobs older than --retention or beyond --retention-jobs. */
#define PRUNE_EVERY_MS 1000
#define PRUNE_BATCH 10000
#define PRUNE_BATCH_OVER_SIZE 1000
#define IDEM_WINDOW_MS (7LL * 24 * 3600 * 1000) /* an idempotency key counts this long */
void coord_prune(coord_t *c, int64_t now_mono);
/* Whether a new job with this payload fits; false (and store_full says
   why) when the store is (nearly) full. */
bool coord_store_room(coord_t *c, size_t payload_len);
/* Encode the job with the tail of its output under "log" (JOB replies). */
void coord_encode_with_log(coord_t *c, pb_buf_t *out, const job_t *job);
/* Commit (and sync) the turn. -1 when the turn's changes could not be made
   durable: the coordinator must not acknowledge them, and stops. */
int coord_commit(coord_t *c);
/* Hold c->out for rid until coord_outbox_flush, to go out on the socket of
   the message being handled (coord_reply) or on sock. */
void coord_reply(coord_t *c, const void *rid, size_t rid_size);
void coord_reply_on(coord_t *c, void *sock, const void *rid, size_t rid_size);
void coord_outbox_flush(coord_t *c);
void coord_outbox_free(coord_t *c);

/* Queries answered from the store, for jobs older than the memory cache. */
#define COORD_SCAN_MAX 50000  /* stored records one JOBS query may read (through
                                 the state or role index when it filters) */
typedef struct {
    bool by_state;
    job_state_t state;
    const char *role;         /* NULL = any */
    size_t limit;
    const char *worker;       /* NULL = any; else the worker running it or that ran it last */
    uint64_t before;          /* only ids below this (where a page stopped); 0 = any */
    uint64_t from;            /* only ids at or above this (a creation-time floor); 0 = any */
    const char *text;         /* NULL = any; else a substring (any case) of the id, role,
                                 worker, payload or error */
} coord_filter_t;
/* What a listing wrote and where it stopped, for the next page's cursor. */
typedef struct {
    size_t n;                 /* jobs written */
    bool more;                /* a further match exists below the last written job */
    bool truncated;           /* stopped after COORD_SCAN_MAX records: there may be more */
    uint64_t last_id;         /* the last job written (0 = none) */
    uint64_t scanned_id;      /* the last record read (0 = none) */
} coord_page_t;
/* Whether the job passes the filter's state, role, worker and text tests. */
bool coord_job_matches(const coord_filter_t *f, const job_t *job);
/* Encode the stored job (with log) into out if out is given, and/or copy its
   state name. 1 found, 0 not found, -1 store error. */
int coord_stored_job(coord_t *c, uint64_t id, pb_buf_t *out, char *state, size_t state_len);
/* Bring a finished job that is only in the store back into memory (to be
   retried). NULL when there is none, or its role is gone. */
job_t *coord_load_job(coord_t *c, uint64_t id);
/* Encode matching jobs, newest first, into out; returns how many. The page
   (may be NULL) hears where the walk stopped. */
size_t coord_stored_jobs(coord_t *c, const coord_filter_t *f, pb_buf_t *out, coord_page_t *page);
/* coord_list.c: a listing from memory (unfinished states: every such job is
   there) or from the store (anything else). Returns how many it wrote. */
size_t coord_list_jobs(coord_t *c, const coord_filter_t *f, pb_buf_t *out, coord_page_t *page);

/* coord_result.c: RESULT pushes are gathered per client during a turn and
   sent as one message per client at its end (or when one grows large). */
void coord_result_add(coord_t *c, zframe_t *rid, const job_t *job);
void coord_results_flush(coord_t *c);
void coord_results_free(void **item);

/* coord_worker.c */
void coord_worker_msg(coord_t *c, const rid_t *rid, pb_msg_t *msg);
/* Reports about a lease, from a ZeroMQ worker or the HTTP webhook alike:
   they count only for the job's current lease on p (else stale, ignored). */
void coord_worker_log(coord_t *c, peer_t *p, const pb_log_t *m);
void coord_worker_done(coord_t *c, peer_t *p, const pb_done_item_t *d);
/* p is gone (silent, BYE, unreachable): offline, leases released. */
void coord_peer_down(coord_t *c, peer_t *p, const char *why);
/* An admin deleted (code "deleted") or disconnected ("disconnected") p:
   leases requeued without counting the attempt, a connected worker sent
   REVOKEs and ERROR code/message, unbound, offline. */
void coord_peer_evict(coord_t *c, peer_t *p, const char *code, const char *message);
/* Detach a running job from its worker (the caller decides what next). */
void coord_unlease(coord_t *c, job_t *job);
/* The lease ended without a result: the attempt counts, the job is retried
   or dead as its role allows (as when its worker is lost). */
void coord_lease_lost(coord_t *c, job_t *job, const char *why);
/* A lease made this turn could not be handed over: it never started. */
void coord_lease_undo(coord_t *c, job_t *job);
void coord_expire_peers(coord_t *c, int64_t now);
void coord_dispatch(coord_t *c);
/* Whether the job may have another attempt under its role's max_attempts
   (counted since its last manual retry). */
bool coord_attempts_left(const job_t *job);
/* A job reached a terminal state: account and notify waiters. */
void coord_job_ended(coord_t *c, job_t *job);

/* coord_client.c */
void coord_client_msg(coord_t *c, const rid_t *rid, pb_msg_t *msg);
/* Create one job (or find the one its idempotency key made): every way in
   (SUBMIT, the role trigger) goes through here. Returns the job or, for a
   key whose job is no longer in memory, NULL with idout (JOBID_LEN+1
   bytes) still set; NULL with *why set when refused (a fixed prefix says
   why: "unknown role", "role disabled", "queue full", the store's
   "store full", ...). json_checked: the payload is known to be JSON text.
   The caller sets dispatch_needed. */
job_t *coord_submit_one(coord_t *c, const pb_submit_item_t *it, bool json_checked, char *idout,
                        const char **why, char *whybuf, size_t whylen);

/* coord_api.c: the HTTP layer's operations (API messages, api socket only). */
void coord_api_msg(coord_t *c, const rid_t *rid, const pb_api_t *m);
/* Called each turn: long polls whose wait ran out get their empty answer. */
void coord_api_tick(coord_t *c, int64_t now_mono);

/* coord_api_worker.c: HTTP workers' long polls. */
void coord_poll_free(void **item);
/* Answer n of p's waiting polls with the jobs just leased to it. */
void coord_polls_hand(coord_t *c, peer_t *p, job_t **jobs, size_t n);
/* Answer p's waiting polls with an error (its registration went away). */
void coord_polls_drop(coord_t *c, const peer_t *p, const char *code, const char *message);
/* At shutdown: every waiting poll gets "unavailable" at once. */
void coord_polls_close(coord_t *c);

#endif
