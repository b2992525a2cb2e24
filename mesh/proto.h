/*  mesh/proto.h — the popebot wire protocol, version 1 (docs/PROTOCOL.md).

    Every message is one ZeroMQ frame (after the ROUTER identity frame) that
    holds one msgpack array:  ["PB", version, command, field...].

    Rules this codec keeps:
    - Decoding never trusts the peer: every type, length and count is checked
      before use; a frame that fails any check is rejected with a reason and
      nothing of it is returned.
    - A decoded message owns one msgpack zone; every string and array in it
      points into that zone and lives until pb_msg_destroy(). Strings are
      (ptr, len) pairs and are NOT NUL-terminated.
    - Encoding writes into a pb_buf_t (a growing byte buffer); the caller
      sends buf->data / buf->size and may reuse the buffer after pb_buf_reset.
*/
#ifndef POPEBOT_MESH_PROTO_H
#define POPEBOT_MESH_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define PB_SIGNATURE "PB"
#define PB_VERSION   1

typedef enum {
    PB_INVALID = 0,
    /* worker -> coordinator */
    PB_HELLO, PB_PING, PB_LOG, PB_DONE, PB_DRAIN, PB_BYE,
    /* coordinator -> worker */
    PB_WELCOME, PB_PONG, PB_ASSIGN, PB_REVOKE,
    /* client -> coordinator */
    PB_SUBMIT, PB_JOB, PB_JOBS, PB_WORKERS, PB_CANCEL, PB_RETRY,
    PB_LOGS, PB_DRAIN_WORKER, PB_ROLES,
    PB_API,                    /* the HTTP layer's requests, on the in-process socket only */
    /* coordinator -> client */
    PB_SUBMITTED, PB_REPLY, PB_RESULT,
    /* either direction */
    PB_ERROR,
    /* enrollment (a joining node -> coordinator, and its answer) */
    PB_ENROLL, PB_ENROLLED,
    PB_CMD_COUNT
} pb_cmd_t;

/* A string inside a decoded message (or given to an encoder). */
typedef struct {
    const char *ptr;
    uint32_t len;
} pb_str_t;

typedef struct {
    pb_str_t key;
    pb_str_t val;
} pb_kv_t;

typedef struct {
    pb_kv_t *items;
    uint32_t n;
} pb_kvs_t;

typedef struct {
    pb_str_t *items;
    uint32_t n;
} pb_strs_t;

/* (job id, attempt): one lease. */
typedef struct {
    pb_str_t job_id;
    uint32_t attempt;
} pb_lease_ref_t;

/* HELLO: a worker (re)registers. Sent on every (re)connect. */
typedef struct {
    pb_str_t worker_id;
    pb_str_t name;
    pb_strs_t roles;
    uint32_t slots;
    pb_kvs_t labels;
    pb_str_t version;          /* software version of the worker */
    uint32_t heartbeat_ms;     /* the worker's heartbeat interval */
    uint32_t liveness;         /* missed heartbeats before the peer is dead */
    pb_lease_ref_t *running;   /* leases the worker still runs */
    uint32_t n_running;
    bool draining;
} pb_hello_t;

/* LOG: a batch of output of one job attempt. */
typedef struct {
    pb_str_t job_id;
    uint32_t attempt;
    uint32_t stream;           /* 1 = stdout, 2 = stderr */
    pb_str_t data;             /* raw bytes (msgpack bin) */
} pb_log_t;

/* One finished attempt inside DONE. */
typedef struct {
    pb_str_t job_id;
    uint32_t attempt;
    pb_str_t state;            /* succeeded failed timed_out cancelled */
    bool has_exit_code;
    int32_t exit_code;
    pb_str_t result;           /* JSON text; len 0 and ptr NULL when nil */
    pb_str_t error;            /* human-readable; ptr NULL when nil */
} pb_done_item_t;

typedef struct {
    pb_done_item_t *items;
    uint32_t n;
} pb_done_t;

/* PING and PONG: an optional sequence number; a PONG echoes its PING's.
   The coordinator answers a PING only after everything the worker sent
   before it is durable, so the number tells the worker which of its DONE
   items are safe (0 when absent). */
typedef struct {
    uint64_t seq;
} pb_ping_t;

/* WELCOME: the coordinator accepted a HELLO. */
typedef struct {
    uint32_t heartbeat_ms;     /* the coordinator's heartbeat interval */
    uint32_t liveness;
    pb_str_t version;
} pb_welcome_t;

/* One lease inside ASSIGN: everything the worker needs to run the job. */
typedef struct {
    pb_str_t job_id;
    uint32_t attempt;
    pb_str_t role;
    pb_str_t payload;          /* JSON text */
    pb_strs_t command;         /* argv template; empty for built-in roles */
    bool shell;
    pb_kvs_t env;
    uint32_t timeout_ms;       /* 0 = none */
} pb_lease_t;

typedef struct {
    pb_lease_t *items;
    uint32_t n;
} pb_assign_t;

/* One job inside SUBMIT. */
typedef struct {
    pb_str_t role;
    pb_str_t payload;          /* JSON text */
    int32_t priority;          /* higher runs first */
    pb_kvs_t where;            /* labels the worker must carry */
    uint32_t delay_ms;         /* run no sooner than this after submit; optional, 0 */
    pb_str_t idem_key;         /* idempotency key; optional, ptr NULL when none */
} pb_submit_item_t;

typedef struct {
    uint64_t req_id;
    pb_submit_item_t *items;
    uint32_t n;
    bool wait;                 /* push a RESULT for each job when it ends */
} pb_submit_t;

/* JOB, CANCEL, RETRY, LOGS (job_id set), JOBS (filter fields), WORKERS,
   ROLES (req_id only), DRAIN_WORKER (worker_id, drain): client queries. */
typedef struct {
    uint64_t req_id;
    pb_str_t job_id;           /* JOB, CANCEL, RETRY, LOGS */
    pb_str_t state;            /* JOBS filter; ptr NULL when absent */
    pb_str_t role;             /* JOBS filter; ptr NULL when absent */
    uint32_t limit;            /* JOBS; 0 when absent. LOGS: bytes at most */
    uint64_t offset;           /* LOGS: the first byte wanted */
    pb_str_t worker_id;        /* DRAIN_WORKER */
    bool drain;                /* DRAIN_WORKER: true drains, false resumes */
} pb_query_t;

/* One entry of SUBMITTED: a job id, or the reason it was refused. */
typedef struct {
    pb_str_t job_id;           /* ptr NULL when refused */
    pb_str_t error;            /* ptr NULL when accepted */
} pb_submitted_item_t;

typedef struct {
    uint64_t req_id;
    pb_submitted_item_t *items;
    uint32_t n;
} pb_submitted_t;

/* REPLY (req_id + body) and RESULT (body only): body is a msgpack value
   described in docs/PROTOCOL.md (job and worker objects). For RESULT it is
   an array of job maps (checked by the decoder). */
typedef struct {
    uint64_t req_id;
    const msgpack_object *body;
} pb_reply_t;

typedef struct {
    uint64_t req_id;           /* 0 when not an answer to a request */
    pb_str_t code;
    pb_str_t message;
} pb_error_t;

/* API: an operation of the HTTP layer, body JSON text; answered by REPLY
   with a str body (JSON text) or ERROR. Accepted on the coordinator's
   in-process socket only (docs/PROTOCOL.md). */
typedef struct {
    uint64_t req_id;
    pb_str_t op;
    pb_str_t body;
} pb_api_t;

/* ENROLL: a node that holds a join token asks to have its own CURVE public
   key admitted as a worker or a client (docs/PROTOCOL.md). ENROLLED names
   the identity the key now has ("w:ID" or "c:ID"). */
typedef struct {
    pb_str_t kind;             /* "worker" or "client" */
    pb_str_t public_key;       /* Z85, 40 characters */
    pb_str_t id;               /* worker id, or the client's name */
    pb_str_t name;             /* a name for people */
} pb_enroll_t;

typedef struct {
    pb_str_t user_id;
} pb_enrolled_t;

typedef struct {
    pb_cmd_t cmd;
    union {
        pb_hello_t hello;
        pb_ping_t ping;        /* PING, PONG */
        pb_log_t log;
        pb_done_t done;
        pb_welcome_t welcome;
        pb_assign_t assign;
        pb_lease_ref_t revoke;
        pb_submit_t submit;
        pb_query_t query;      /* JOB JOBS WORKERS CANCEL RETRY LOGS DRAIN_WORKER ROLES */
        pb_submitted_t submitted;
        pb_reply_t reply;      /* REPLY, RESULT */
        pb_error_t error;
        pb_api_t api;
        pb_enroll_t enroll;
        pb_enrolled_t enrolled;
    } u;
    msgpack_unpacked unpacked; /* owns every pointer above */
} pb_msg_t;

/* Why a frame was rejected. */
typedef enum {
    PB_OK = 0,
    PB_E_MALFORMED,            /* not msgpack, wrong types, bad counts */
    PB_E_SIGNATURE,            /* first element is not "PB" */
    PB_E_VERSION,              /* a version this build does not speak */
    PB_E_COMMAND               /* unknown command name */
} pb_status_t;

typedef struct {
    pb_status_t status;
    uint32_t peer_version;     /* set with PB_E_VERSION */
    char reason[128];          /* one line, for logs and ERROR replies */
} pb_err_t;

/* Decode one frame. Returns a new message, or NULL with err filled in. */
pb_msg_t *pb_decode(const void *data, size_t size, pb_err_t *err);
void pb_msg_destroy(pb_msg_t **self_p);

const char *pb_cmd_name(pb_cmd_t cmd);
/* The req_id an answer (REPLY, SUBMITTED, ERROR) carries; 0 for others. */
uint64_t pb_req_id(const pb_msg_t *m);

/* ---- encoding ---------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} pb_buf_t;

void pb_buf_init(pb_buf_t *b);
void pb_buf_reset(pb_buf_t *b);   /* empty it, keep the memory */
void pb_buf_free(pb_buf_t *b);
static inline const void *pb_buf_data(const pb_buf_t *b) { return b->sbuf.data; }
static inline size_t pb_buf_size(const pb_buf_t *b) { return b->sbuf.size; }

/* Low-level writers, for REPLY/RESULT bodies built by the coordinator.
   pb_w_begin writes the array header and ["PB", 1, cmd]; nfields counts
   only the fields after the command. */
void pb_w_begin(pb_buf_t *b, pb_cmd_t cmd, uint32_t nfields);
void pb_w_str(pb_buf_t *b, const char *s, size_t len);
void pb_w_cstr(pb_buf_t *b, const char *s);      /* NULL writes nil */
void pb_w_pstr(pb_buf_t *b, pb_str_t s);         /* ptr NULL writes nil */
void pb_w_bin(pb_buf_t *b, const void *p, size_t len);
void pb_w_uint(pb_buf_t *b, uint64_t v);
void pb_w_int(pb_buf_t *b, int64_t v);
void pb_w_bool(pb_buf_t *b, bool v);
void pb_w_nil(pb_buf_t *b);
void pb_w_array(pb_buf_t *b, uint32_t n);
void pb_w_map(pb_buf_t *b, uint32_t n);
void pb_w_kvs(pb_buf_t *b, const pb_kvs_t *kvs); /* {str: str} */
void pb_w_strs(pb_buf_t *b, const pb_strs_t *s); /* [str] */

/* Whole-message encoders: each resets nothing; call pb_buf_reset first. */
void pb_enc_hello(pb_buf_t *b, const pb_hello_t *m);
void pb_enc_ping(pb_buf_t *b, uint64_t seq);
void pb_enc_pong(pb_buf_t *b, uint64_t seq);
void pb_enc_drain(pb_buf_t *b);
void pb_enc_bye(pb_buf_t *b);
void pb_enc_log(pb_buf_t *b, const pb_log_t *m);
void pb_enc_done(pb_buf_t *b, const pb_done_item_t *items, uint32_t n);
void pb_enc_welcome(pb_buf_t *b, const pb_welcome_t *m);
void pb_enc_assign(pb_buf_t *b, const pb_lease_t *items, uint32_t n);
void pb_enc_revoke(pb_buf_t *b, const pb_lease_ref_t *m);
void pb_enc_submit(pb_buf_t *b, uint64_t req_id, const pb_submit_item_t *items,
                   uint32_t n, bool wait);
/* JOB JOBS WORKERS CANCEL RETRY LOGS DRAIN_WORKER ROLES */
void pb_enc_query(pb_buf_t *b, pb_cmd_t cmd, const pb_query_t *q);
void pb_enc_submitted(pb_buf_t *b, uint64_t req_id,
                      const pb_submitted_item_t *items, uint32_t n);
void pb_enc_api(pb_buf_t *b, uint64_t req_id, const char *op, const char *body, size_t len);
void pb_enc_error(pb_buf_t *b, uint64_t req_id, const char *code, const char *message);
void pb_enc_enroll(pb_buf_t *b, const pb_enroll_t *m);
void pb_enc_enrolled(pb_buf_t *b, const char *user_id);
/* REPLY: write the header, then the caller writes one body value.
   RESULT: write the header, then the caller writes njobs job maps. */
void pb_enc_reply_begin(pb_buf_t *b, uint64_t req_id);
void pb_enc_result_begin(pb_buf_t *b, uint32_t njobs);
/* Append bytes that already are msgpack-encoded values. */
void pb_w_raw(pb_buf_t *b, const void *p, size_t len);

/* Helpers for pb_str_t. */
static inline pb_str_t pb_s(const char *cstr);   /* NULL -> {NULL, 0} */
bool pb_str_eq(pb_str_t a, const char *cstr);
char *pb_str_dup(pb_str_t s);                    /* malloc'd, NUL-terminated; NULL ptr -> NULL */

#include <string.h>
static inline pb_str_t pb_s(const char *cstr)
{
    pb_str_t s = { cstr, cstr ? (uint32_t) strlen(cstr) : 0 };
    return s;
}

#endif
