/*  node/worker.h — the worker node: connect, register, run jobs, report.

    worker_run() is the whole life of a `popebot-node --role=worker` process:
    it connects a DEALER socket to the coordinator, sends HELLO on every
    (re)connect, runs what it is assigned within its slots, streams output,
    reports how each job ended, and on SIGTERM/SIGINT drains and exits.
*/
#ifndef POPEBOT_NODE_WORKER_H
#define POPEBOT_NODE_WORKER_H

#include <stdint.h>
#include "mesh/kv.h"
#include "node/allowcmd.h"
#include "mesh/curve.h"

typedef struct {
    const char *coordinator;   /* endpoint, e.g. tcp://127.0.0.1:5555 */
    const char *id;            /* worker id (registration key) */
    const char *name;          /* human name */
    char **roles;              /* roles it serves */
    size_t nroles;
    uint32_t slots;            /* jobs it runs at once */
    const kvlist_t *labels;
    uint32_t heartbeat_ms;     /* its heartbeat interval */
    uint32_t liveness;         /* missed intervals before the coordinator is dead */
    uint32_t reconnect_min_ms; /* backoff start */
    uint32_t reconnect_max_ms; /* backoff cap */
    uint32_t drain_timeout_ms; /* how long SIGTERM waits for running jobs */
    uint32_t kill_grace_ms;    /* SIGTERM -> SIGKILL delay on timeout/cancel */
    const char *work_dir;      /* parent of the per-job work directories (made or
                                  set 0700) */
    const allowcmd_t *allow;   /* --allow-command; NULL or empty = any */
    uint32_t max_message;      /* largest frame accepted, bytes */
    const char *key_dir;       /* its CURVE keys, hidden from jobs; NULL = none */
    const curve_client_t *curve; /* CURVE identity and pinned coordinator key; off = plaintext */
} worker_opts_t;

/* Runs until drained. sigfd is a signalfd for SIGTERM and SIGINT (and
   SIGCHLD may be blocked too). Returns the process exit code. */
int worker_run(const worker_opts_t *opts, int sigfd);

#endif
