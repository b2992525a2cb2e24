/*  node/coord_api.h — the operation table of the HTTP layer's API messages.

    Each operation is a function on the loop thread that gets the request's
    JSON body (an object, borrowed) and answers exactly once with
    coord_api_reply() or coord_api_error(). The files that implement them:
      coord_api.c          info
      coord_api_cluster.c  cluster.* (worker registrations)
      coord_api_role.c     role.*
      coord_api_jobs.c     jobs.list, job.logs
      coord_api_metrics.c  metrics
      coord_api_worker.c   worker.report (the webhook), worker.next (long poll)
      coord_events.c       stats (the UI's history of stats samples)
      coord_api_jointoken.c jointoken.create
*/
#ifndef POPEBOT_NODE_COORD_API_H
#define POPEBOT_NODE_COORD_API_H

#include <jansson.h>
#include "node/coord_int.h"

typedef void (coord_api_fn)(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body);

/* Answer with obj as JSON text (steals the reference; NULL = out of memory). */
void coord_api_reply(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *obj);
/* Answer with ERROR: code is one of the words listed in coord_api.c. */
void coord_api_error(coord_t *c, const rid_t *rid, uint64_t req_id, const char *code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Why a shared operation (below) failed: an ERROR code and one line. */
typedef struct {
    const char *code;
    char message[200];
} coord_fail_t;

/* Operations the HTTP layer and the client protocol (coord_client.c) share:
   each builds the answer's object, which the caller sends as JSON text
   (API) or as msgpack (REPLY). NULL with fail set when it cannot.
   coord_job_logs: job.logs / LOGS, up to limit (1..COORD_LOGS_MAX) bytes
   of the job's output from offset. coord_roles_json: the defined roles, as
   role.list lists them. coord_peer_changed: after a registration's admin
   settings changed (cluster.patch / DRAIN_WORKER): apply, store, dispatch;
   -1 when out of memory. */
#define COORD_LOGS_MAX (1 << 20)
json_t *coord_job_logs(coord_t *c, const char *id, uint64_t offset, size_t limit,
                       coord_fail_t *fail);
json_t *coord_roles_json(coord_t *c);
int coord_peer_changed(coord_t *c, peer_t *p, const char *how);

/* coord_api_role.c */
coord_api_fn coord_role_list, coord_role_get, coord_role_create, coord_role_update,
    coord_role_delete, coord_role_trigger;
/* coord_api_jobs.c, coord_api_metrics.c */
coord_api_fn coord_api_jobs_list, coord_api_job_logs, coord_api_metrics;
/* coord_api_cluster.c */
coord_api_fn coord_api_cluster_list, coord_api_cluster_get, coord_api_cluster_create,
    coord_api_cluster_patch, coord_api_cluster_delete, coord_api_cluster_disconnect;
/* The check cluster.create (create true) and cluster.patch's "set" (create
   false) run on a body before anything changes: NULL when it is good, else
   a one-line reason naming the field (it may be written into why). Pure:
   touches no registration; the tests/fuzz target calls it directly. */
const char *coord_api_cluster_check(json_t *body, bool create, char *why, size_t len);
/* coord_api_worker.c */
coord_api_fn coord_api_worker_report, coord_api_worker_next;
/* coord_events.c, coord_api_jointoken.c */
coord_api_fn coord_api_stats, coord_api_jointoken_create;

/* The registration whose id is the body's string field `key`; NULL after
   answering not-found. */
peer_t *coord_api_peer(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body,
                       const char *key);

#define COORD_API_OPS \
    { "role.list", coord_role_list }, \
    { "role.get", coord_role_get }, \
    { "role.create", coord_role_create }, \
    { "role.update", coord_role_update }, \
    { "role.delete", coord_role_delete }, \
    { "role.trigger", coord_role_trigger }, \
    { "jobs.list", coord_api_jobs_list }, \
    { "job.logs", coord_api_job_logs }, \
    { "metrics", coord_api_metrics }, \
    { "cluster.list", coord_api_cluster_list }, \
    { "cluster.get", coord_api_cluster_get }, \
    { "cluster.create", coord_api_cluster_create }, \
    { "cluster.patch", coord_api_cluster_patch }, \
    { "cluster.delete", coord_api_cluster_delete }, \
    { "cluster.disconnect", coord_api_cluster_disconnect }, \
    { "worker.report", coord_api_worker_report }, \
    { "worker.next", coord_api_worker_next }, \
    { "stats", coord_api_stats }, \
    { "jointoken.create", coord_api_jointoken_create },

#endif
