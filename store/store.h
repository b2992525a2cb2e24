/*  store/store.h — the coordinator's durable state in one LMDB environment.

    Named databases (docs/DECISIONS.md, "Store"):
      meta     "schema" -> u32 big-endian schema version; "cluster_id" -> 32 hex chars;
               "cron_horizon" -> u64 big-endian ms (node/coord_trig.c)
      jobs     job id (u64 big-endian, so keys sort by creation time) -> job record
      active   job id -> empty: every job not in a terminal state (recovery
               reads only this, so start-up time does not grow with history)
      workers  worker id -> worker record
      roles    role name -> role record
      idem     idempotency key -> job id and creation time (16 bytes)
      logs     job id + sequence (12 bytes) -> a chunk of the job's output
      by_state state (1 byte) + job id -> empty, finished jobs only (schema 2)
      by_role  role name + NUL + job id -> empty  (since schema 2)
    Records are msgpack arrays whose first element is the record version.

    Rules it keeps:
    - One writer: only the coordinator's loop thread calls the write
      functions, inside store_begin()/store_commit(). All changes of one loop
      turn share one transaction (group commit).
    - Nothing is acknowledged before it is durable: store_commit() returns
      after the commit and, with durability "sync", after mdb_env_sync has
      flushed it to the disk.
    - Reads for queries use their own short read transactions and never
      block the writer (LMDB MVCC).
    - Errors are returned with a one-line reason; the store never prints.
*/
#ifndef POPEBOT_STORE_STORE_H
#define POPEBOT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mesh/job.h"
#include "mesh/peer.h"
#include "mesh/role.h"

#define STORE_SCHEMA_VERSION 2

typedef struct store store_t;

typedef struct {
    const char *dir;           /* created 0700 if missing */
    bool sync;                 /* fsync before store_commit returns */
    uint64_t map_size;         /* bytes of address space for the map */
} store_opts_t;

/* Open (creating if new). Refuses a store whose schema is newer than
   STORE_SCHEMA_VERSION, naming both versions. NULL with err on failure. */
store_t *store_open(const store_opts_t *opts, char *err, size_t errlen);
void store_close(store_t **self_p);
const char *store_cluster_id(const store_t *s);

/* ---- writes: only between store_begin and store_commit/store_abort ---- */

/* Start the turn's write transaction if none is open. 0 or -1 (err). */
int store_begin(store_t *s, char *err, size_t errlen);
bool store_in_txn(const store_t *s);
/* Commit (and sync) the open transaction; no-op without one. 0 or -1. */
int store_commit(store_t *s, char *err, size_t errlen);
void store_abort(store_t *s);

/* Put the job's current record; maintains the active index by state. */
/* Also keeps the state and role indexes, using job->stored_state (the
   state last written) to drop the old state entry; updates it. */
int store_put_job(store_t *s, job_t *job, char *err, size_t errlen);
int store_put_worker(store_t *s, const peer_t *p, char *err, size_t errlen);
int store_put_role(store_t *s, const role_t *r, char *err, size_t errlen);
/* Delete a role's record (none is not an error). */
int store_del_role(store_t *s, const char *name, char *err, size_t errlen);

/* Idempotency keys (key bytes, 1-255) -> the job they created and when.
   store_idem_get reads through the open write transaction when there is
   one, so keys put earlier in the same turn are found. 1 found, 0 not, -1 error. */
int store_idem_put(store_t *s, const char *key, size_t len, uint64_t id, int64_t created_ms,
                   char *err, size_t errlen);
int store_idem_get(store_t *s, const char *key, size_t len, uint64_t *id, int64_t *created_ms,
                   char *err, size_t errlen);

/* A u64 (8 bytes big-endian) in meta under key (not "schema" or
   "cluster_id"). get reads through the open write transaction if any:
   1 found, 0 not, -1 error. */
int store_put_meta_u64(store_t *s, const char *key, uint64_t val, char *err, size_t errlen);
int store_get_meta_u64(store_t *s, const char *key, uint64_t *val, char *err, size_t errlen);

/* Job output, in chunks (job id, seq) -> bytes, seq growing per job. */
int store_put_log(store_t *s, uint64_t id, uint32_t seq, const void *data, size_t len,
                  char *err, size_t errlen);
/* Delete the job's oldest chunks until at least `need` bytes are gone. */
int store_trim_log(store_t *s, uint64_t id, size_t need, size_t *freed, char *err, size_t errlen);
/* The last chunks of the job's output that fit in max bytes (whole chunks),
   malloc'd and NUL-terminated, through the write transaction if one is open. */
int store_read_log(store_t *s, uint64_t id, size_t max, char **out, size_t *len,
                   char *err, size_t errlen);
/* The bytes [skip, skip + max) of the job's output as the store holds it
   now, skip counted from the first byte of its oldest stored chunk (the
   caller knows how many bytes were dropped before it). malloc'd and
   NUL-terminated; *len may be short of max at the end of the output. */
int store_read_log_range(store_t *s, uint64_t id, uint64_t skip, size_t max, char **out,
                         size_t *len, char *err, size_t errlen);

/* How full the store is: the map's size, the bytes in pages in use (the
   file's high-water mark less LMDB's freelist, which later writes reuse),
   and the free space of the disk under it. Call outside a write txn. */
typedef struct {
    uint64_t map_bytes;
    uint64_t used_bytes;
    uint64_t disk_free_bytes;
} store_usage_t;
int store_usage(store_t *s, store_usage_t *u, char *err, size_t errlen);

/* Retention: delete finished jobs (records and output), oldest first, that
   finished before cutoff_ms, or any while more than max_finished finished
   jobs are stored; at most batch of them per call. Unfinished jobs are
   never touched. fn (may be NULL) hears each deleted id. */
typedef void (store_pruned_fn)(uint64_t id, void *arg);
int store_prune(store_t *s, int64_t cutoff_ms, uint64_t max_finished, size_t batch,
                store_pruned_fn *fn, void *arg, size_t *pruned, char *err, size_t errlen);

/* Delete idempotency keys made before cutoff_ms, looking at up to batch
   keys per call and resuming where the last call stopped. */
int store_prune_idem(store_t *s, int64_t cutoff_ms, size_t batch, size_t *pruned,
                     char *err, size_t errlen);

/* ---- reads (own read transaction; any time) ------------------------------ */

/* Called once per stored record. The job/peer/role passed is a fresh object
   the callback takes over (it must destroy it or keep it). Return 0 to go
   on, non-zero to stop (that value is returned). */
typedef int (store_job_fn)(job_t *job, const char *role_name, const char *worker_id, void *arg);
typedef int (store_worker_fn)(peer_t *p, void *arg);
typedef int (store_role_fn)(role_t *r, void *arg);

/* Every job in the active index (queued, scheduled, running), oldest first.
   job->role is NULL: the callback resolves role_name. */
int store_each_active_job(store_t *s, store_job_fn *fn, void *arg, char *err, size_t errlen);
/* Jobs newest first, starting before `before` (0 = from the newest). */
int store_each_job_desc(store_t *s, uint64_t before, store_job_fn *fn, void *arg,
                        char *err, size_t errlen);
/* Jobs in one finished state (state < JOB_STATE_COUNT; the state index has
   no unfinished jobs) and/or of one role (role not NULL), newest first,
   through the indexes: only matching jobs are read. */
int store_each_job_where(store_t *s, job_state_t state, const char *role, store_job_fn *fn,
                         void *arg, char *err, size_t errlen);
/* The same, only jobs with ids below `before` (0 = no bound): where a
   previous page of a listing stopped. */
int store_each_job_below(store_t *s, job_state_t state, const char *role, uint64_t before,
                         store_job_fn *fn, void *arg, char *err, size_t errlen);
int store_each_worker(store_t *s, store_worker_fn *fn, void *arg, char *err, size_t errlen);
int store_each_role(store_t *s, store_role_fn *fn, void *arg, char *err, size_t errlen);
/* One job by id: 1 found (*out set, job->role NULL, names copied into the
   buffers), 0 not found, -1 error. */
int store_get_job(store_t *s, uint64_t id, job_t **out, char *role_name, size_t role_len,
                  char *worker_id, size_t worker_len, char *err, size_t errlen);

#endif
