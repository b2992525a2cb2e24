/*  store/record.h — the store's records: jobs, workers and roles as msgpack.

    Every record is one msgpack array whose first element is the record
    version (REC_VERSION). Field order:

      job    [1, id u64, role str, payload str, priority int, where {str:str},
              state str, attempts uint, worker str|nil, exit_code int|nil,
              result str|nil, error str|nil, created_ms, started_ms, finished_ms]
      worker [1, id str, name str, roles [str], slots uint, labels {str:str},
              version str, address str, heartbeat_ms uint, liveness uint,
              first_seen_ms int, seen_wall_ms int, state str,
              offer_name str|nil, offer_roles [str], offer_slots uint,
              offer_labels {str:str}, admin_name str|nil, admin_roles [str]|nil,
              admin_slots uint (0 = unset), admin_labels {str:str}|nil,
              admin_drain bool, deleted bool]
             (name..labels are the effective values; a record of 13 fields,
              written before registrations had admin settings, reads as a
              worker that offered exactly those)
      role   [1, name str, command [str], shell bool, timeout_ms uint,
              max_attempts uint, max_concurrency uint, env {str:str},
              backoff_base_ms uint, backoff_max_ms uint, enabled bool,
              permissions [str], where {str:str},
              triggers str|nil]   (older records end before any of the
              last six: their defaults apply; triggers is the JSON array
              the API shows, parsed by mesh/trigger.c's strict rules)

    Rules this codec keeps:
    - Decoding trusts nothing: it reads the bytes itself (no msgpack-c
      unpacker, so no allocation sized by a count it has not checked), checks
      every type, range and count, and on failure returns -1 with a reason
      such as "job record: field 7 (state) 'bogus' is not a job state" and
      nothing allocated. Strings must not hold NUL bytes; map keys must be
      non-empty and unique; names (role names, worker ids) are 1 to
      REC_NAME_MAX bytes. Fields after the listed ones are skipped (a newer
      writer may append); fewer fields, another record version, or bytes
      after the array are errors.
    - Encoding never writes a partial record: a rec_buf_t notices a failed
      write (out of memory) and the encoder then returns -1.
    - A decoded object is fresh and owned by the caller. Decoded jobs have
      role NULL (the caller resolves the role name it gets beside the job);
      decoded workers are PEER_OFFLINE with no routing id, no leases and
      last_seen_ms 0 (the stored state is checked but not restored).
*/
#ifndef POPEBOT_STORE_RECORD_H
#define POPEBOT_STORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <msgpack.h>
#include "mesh/job.h"
#include "mesh/peer.h"
#include "mesh/role.h"

#define REC_VERSION  1
#define REC_NAME_MAX 255         /* longest role name or worker id (LMDB keys allow 511) */

/* A growing byte buffer that remembers a failed write. Must not be copied
   or moved after rec_buf_init (its packer points at it). */
typedef struct {
    msgpack_sbuffer sbuf;        /* the bytes */
    msgpack_packer pk;           /* writes into sbuf through rec_buf_t */
    bool failed;                 /* a write ran out of memory since the reset */
} rec_buf_t;

void rec_buf_init(rec_buf_t *b);
void rec_buf_reset(rec_buf_t *b);   /* empty it, keep the memory */
void rec_buf_free(rec_buf_t *b);

/* Encoders reset b, then write one record. 0, or -1 with err (the job has
   no role, a name is empty or too long, out of memory). */
int rec_enc_job(rec_buf_t *b, const job_t *job, char *err, size_t errlen);
int rec_enc_peer(rec_buf_t *b, const peer_t *p, char *err, size_t errlen);
int rec_enc_role(rec_buf_t *b, const role_t *r, char *err, size_t errlen);

/* A decoded job and the name of its role. */
typedef struct {
    job_t *job;                      /* fresh, owned by the caller; role NULL */
    char role[REC_NAME_MAX + 1];     /* the role's name */
} rec_job_t;

/* Decoders: 0 and a fresh object, or -1 with err and nothing allocated. */
int rec_dec_job(const void *data, size_t size, rec_job_t *out, char *err, size_t errlen);
peer_t *rec_dec_peer(const void *data, size_t size, char *err, size_t errlen);
role_t *rec_dec_role(const void *data, size_t size, char *err, size_t errlen);

#endif
