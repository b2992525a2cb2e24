/*  node/coordinator.h — the coordinator node (the mesh's event handler).

    coordinator_run() is the whole life of `popebot-node --role=coordinator`:
    it binds one ROUTER socket for workers and clients, runs the mesh loop
    (the only thread that touches scheduling state), and returns when a
    SIGTERM or SIGINT arrives on sigfd.
*/
#ifndef POPEBOT_NODE_COORDINATOR_H
#define POPEBOT_NODE_COORDINATOR_H

#define COORD_API_ENDPOINT "inproc://popebot-api"   /* the HTTP layer's socket to the loop */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *bind;          /* endpoint, e.g. tcp://127.0.0.1:5555 */
    const char *roles_file;    /* JSON role definitions, or NULL */
    const char *data_dir;      /* the LMDB store; created 0700 if missing */
    bool insecure;             /* plaintext mesh socket: no CURVE, no ZAP */
    bool durable;              /* fsync each turn's commit before acknowledging */
    uint32_t heartbeat_ms;     /* the coordinator's heartbeat interval */
    uint32_t liveness;         /* announced to workers in WELCOME */
    uint32_t max_message;      /* largest frame accepted, bytes */
    size_t keep_finished;      /* finished jobs cached in memory (all are in the store) */
    uint64_t job_log_max;      /* bytes of output the store keeps per job (the tail) */
    uint32_t retention_ms;     /* finished jobs older than this are deleted */
    uint64_t store_map_size;   /* LMDB map size, bytes */
    uint64_t store_reserve;    /* disk bytes kept free: below it, new jobs are refused */
    uint64_t retention_jobs;   /* and the oldest beyond this many finished ones */
    uint64_t retention_bytes;  /* and the oldest while the store uses more than this */
    const char *http;          /* HTTP API ADDR:PORT, or NULL for none */
    uint64_t http_max_body;    /* largest request body */
    uint32_t http_threads;     /* civetweb worker threads */
    uint32_t http_follow_max_ms; /* longest live log follow */
    uint32_t queue_limit;      /* queued jobs at most; more are refused */
    uint32_t http_worker_timeout_ms; /* an HTTP worker silent this long goes offline */
    uint32_t session_lifetime_ms; /* a UI session's absolute lifetime */
    uint32_t session_idle_ms;  /* a UI session unused this long ends */
    const char *tls_cert, *tls_key; /* HTTPS: PEM files, or NULL for plain HTTP */
} coord_opts_t;

/* Returns the process exit code: 0 after a clean stop, 1 when it could not
   start (the reason is logged). */
int coordinator_run(const coord_opts_t *opts, int sigfd);

#endif
