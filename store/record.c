/*  store/record.c — msgpack records of jobs, workers and roles (record.h).

    Encoding uses msgpack-c's packer on a rec_buf_t whose write callback
    remembers an out-of-memory failure, so a record is either whole or not
    written at all.

    Decoding does not use msgpack-c's unpacker: records are read in one pass
    by a small reader (s_rd_t) that keeps an offset into the bytes. Each
    value's header is checked against the bytes left before anything is
    read or allocated: a container may not declare more elements than bytes
    remain (every element takes at least one byte), a string may not run past
    the end. Allocations are therefore bounded by the record's size, and a
    corrupt record gives a reason, never a crash. Trailing fields are skipped
    with nesting bounded by S_MAX_DEPTH.

    A reason names the record kind and the field, never quotes more than a
    short printable word from the record (a state name).
*/
#include "store/record.h"
#include "mesh/trigger.h"

#include <jansson.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH 32

/* ---- the buffer --------------------------------------------------------- */

static int s_write(void *data, const char *buf, size_t len)
{
    rec_buf_t *b = data;
    if (!b->failed && msgpack_sbuffer_write(&b->sbuf, buf, len) != 0)
        b->failed = true;
    return b->failed ? -1 : 0;
}

void rec_buf_init(rec_buf_t *b)
{
    msgpack_sbuffer_init(&b->sbuf);
    msgpack_packer_init(&b->pk, b, s_write);
    b->failed = false;
}

void rec_buf_reset(rec_buf_t *b)
{
    msgpack_sbuffer_clear(&b->sbuf);
    b->failed = false;
}

/* Leaves b empty and usable, so a second free is harmless. */
void rec_buf_free(rec_buf_t *b)
{
    msgpack_sbuffer_destroy(&b->sbuf);
    rec_buf_init(b);
}

/* ---- encoding ----------------------------------------------------------- */

static void s_w_str(rec_buf_t *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) {
        b->failed = true;           /* msgpack cannot hold it */
        return;
    }
    msgpack_pack_str(&b->pk, n);
    if (n > 0)
        msgpack_pack_str_body(&b->pk, s, n);
}

/* A string or nil. */
static void s_w_nstr(rec_buf_t *b, const char *s)
{
    if (s)
        s_w_str(b, s);
    else
        msgpack_pack_nil(&b->pk);
}

static void s_w_strs(rec_buf_t *b, char *const *v, size_t n)
{
    msgpack_pack_array(&b->pk, n);
    for (size_t i = 0; i < n; i++)
        s_w_str(b, v[i]);
}

static void s_w_kvs(rec_buf_t *b, const kvlist_t *l)
{
    msgpack_pack_map(&b->pk, l->n);
    for (size_t i = 0; i < l->n; i++) {
        s_w_str(b, l->items[i].key);
        s_w_str(b, l->items[i].val);
    }
}

static void s_w_bool(rec_buf_t *b, bool v)
{
    if (v)
        msgpack_pack_true(&b->pk);
    else
        msgpack_pack_false(&b->pk);
}

static bool s_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= REC_NAME_MAX;
}

static int s_enc_end(rec_buf_t *b, const char *kind, char *err, size_t errlen)
{
    if (!b->failed)
        return 0;
    snprintf(err, errlen, "%s record: out of memory", kind);
    return -1;
}

static int s_enc_check_job(const job_t *job, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!job->role || !s_name_ok(job->role->name))
        why = "has no role, or a role name of 0 or more than 255 bytes";
    else if (job->last_worker && !s_name_ok(job->last_worker))
        why = "has a worker id of 0 or more than 255 bytes";
    else if (job->state >= JOB_STATE_COUNT)
        why = "has no valid state";
    if (why)
        snprintf(err, errlen, "job %s %s", job->idstr, why);
    return why ? -1 : 0;
}

int rec_enc_job(rec_buf_t *b, const job_t *job, char *err, size_t errlen)
{
    if (s_enc_check_job(job, err, errlen) != 0)
        return -1;
    rec_buf_reset(b);
    msgpack_packer *pk = &b->pk;
    msgpack_pack_array(pk, 21);
    msgpack_pack_uint32(pk, REC_VERSION);
    msgpack_pack_uint64(pk, job->id);
    s_w_str(b, job->role->name);
    s_w_str(b, job->payload);
    msgpack_pack_int32(pk, job->priority);
    s_w_kvs(b, &job->where);
    s_w_str(b, job_state_name(job->state));
    msgpack_pack_uint32(pk, job->attempts);
    s_w_nstr(b, job->last_worker);
    if (job->has_exit_code)
        msgpack_pack_int32(pk, job->exit_code);
    else
        msgpack_pack_nil(pk);
    s_w_nstr(b, job->result);
    s_w_nstr(b, job->error);
    msgpack_pack_int64(pk, job->created_ms);
    msgpack_pack_int64(pk, job->started_ms);
    msgpack_pack_int64(pk, job->finished_ms);
    msgpack_pack_int64(pk, job->run_at_ms);
    if (job->revoking)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    msgpack_pack_uint32(pk, job->attempt_base);
    msgpack_pack_uint32(pk, job->log_seq);
    msgpack_pack_uint64(pk, job->log_stored);
    msgpack_pack_uint64(pk, job->log_dropped);
    return s_enc_end(b, "job", err, errlen);
}

int rec_enc_peer(rec_buf_t *b, const peer_t *p, char *err, size_t errlen)
{
    if (!s_name_ok(p->id) || p->state >= PEER_STATE_COUNT) {
        snprintf(err, errlen, "worker record: bad worker id or state");
        return -1;
    }
    rec_buf_reset(b);
    msgpack_packer *pk = &b->pk;
    msgpack_pack_array(pk, 23);
    msgpack_pack_uint32(pk, REC_VERSION);
    s_w_str(b, p->id);
    s_w_str(b, p->name);
    s_w_strs(b, p->roles, p->nroles);
    msgpack_pack_uint32(pk, p->slots);
    s_w_kvs(b, &p->labels);
    s_w_str(b, p->version);
    s_w_str(b, p->address);
    msgpack_pack_uint32(pk, p->heartbeat_ms);
    msgpack_pack_uint32(pk, p->liveness);
    msgpack_pack_int64(pk, p->first_seen_ms);
    msgpack_pack_int64(pk, p->seen_wall_ms);
    s_w_str(b, peer_state_name(p->state));
    s_w_nstr(b, p->offer.name);
    s_w_strs(b, p->offer.roles, p->offer.nroles);
    msgpack_pack_uint32(pk, p->offer.slots);
    s_w_kvs(b, &p->offer.labels);
    s_w_nstr(b, p->admin.name);
    if (p->admin.has_roles)
        s_w_strs(b, p->admin.roles, p->admin.nroles);
    else
        msgpack_pack_nil(pk);
    msgpack_pack_uint32(pk, p->admin.slots);
    if (p->admin.has_labels)
        s_w_kvs(b, &p->admin.labels);
    else
        msgpack_pack_nil(pk);
    s_w_bool(b, p->admin.drain);
    s_w_bool(b, p->deleted);
    return s_enc_end(b, "worker", err, errlen);
}

static int s_oom_enc(char *err, size_t errlen)
{
    snprintf(err, errlen, "role record: out of memory");
    return -1;
}

/* The role's triggers as JSON text (their one definition, mesh/trigger.c),
   or nil when it has none. */
static int s_w_triggers(rec_buf_t *b, const role_t *r)
{
    if (r->ntriggers == 0) {
        msgpack_pack_nil(&b->pk);
        return 0;
    }
    json_t *a = role_triggers_json(r);
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (!text)
        return -1;
    s_w_str(b, text);
    free(text);
    return 0;
}

int rec_enc_role(rec_buf_t *b, const role_t *r, char *err, size_t errlen)
{
    if (!s_name_ok(r->name)) {
        snprintf(err, errlen, "role record: role name of 0 or more than 255 bytes");
        return -1;
    }
    rec_buf_reset(b);
    msgpack_packer *pk = &b->pk;
    msgpack_pack_array(pk, 14);
    msgpack_pack_uint32(pk, REC_VERSION);
    s_w_str(b, r->name);
    s_w_strs(b, r->command, r->ncommand);
    if (r->shell)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    msgpack_pack_uint32(pk, r->timeout_ms);
    msgpack_pack_uint32(pk, r->max_attempts);
    msgpack_pack_uint32(pk, r->max_concurrency);
    s_w_kvs(b, &r->env);
    msgpack_pack_uint32(pk, r->backoff_base_ms);
    msgpack_pack_uint32(pk, r->backoff_max_ms);
    if (r->enabled)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    s_w_strs(b, r->permissions, r->npermissions);
    s_w_kvs(b, &r->where);
    return s_w_triggers(b, r) != 0 ? s_oom_enc(err, errlen) : s_enc_end(b, "role", err, errlen);
}

/* ---- the reader: one msgpack value at a time ----------------------------- */

typedef struct {
    const uint8_t *p;       /* the record */
    size_t size;            /* its length */
    size_t off;             /* bytes read so far */
    const char *kind;       /* "job", "worker", "role": names the record in reasons */
    uint32_t field;         /* index of the last top-level element read */
    char *err;
    size_t errlen;
} s_rd_t;

typedef enum { S_NIL, S_BOOL, S_UINT, S_NEG, S_STR, S_ARRAY, S_MAP, S_OTHER } s_type_t;

typedef struct {
    s_type_t type;
    bool b;                 /* S_BOOL */
    uint64_t u;             /* S_UINT */
    int64_t i;              /* S_NEG: always < 0 */
    const char *s;          /* S_STR: points into the record, not NUL-terminated */
    uint32_t n;             /* S_STR: length; S_ARRAY, S_MAP: count */
} s_val_t;

__attribute__((format(printf, 2, 3)))
static int s_fail(s_rd_t *r, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s record: %s", r->kind, why);
    return -1;
}

/* Element r->field, called name, is not a what. Always -1. */
static int s_bad(s_rd_t *r, const char *name, const char *what)
{
    return s_fail(r, "element %u (%s) must be %s", (unsigned) r->field, name, what);
}

static int s_oom(s_rd_t *r)
{
    return s_fail(r, "out of memory");
}

static bool s_has(const s_rd_t *r, uint64_t n)
{
    return n <= r->size - r->off;
}

/* Big-endian unsigned of width bytes; the caller checked they are there. */
static uint64_t s_be(s_rd_t *r, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v = v << 8 | r->p[r->off++];
    return v;
}

/* A length or count of width bytes, or a value held in the type byte (width 0). */
static int s_len(s_rd_t *r, unsigned width, uint32_t inline_n, uint32_t *n)
{
    if (!s_has(r, width))
        return s_fail(r, "truncated");
    *n = width ? (uint32_t) s_be(r, width) : inline_n;
    return 0;
}

/* A container of n elements (map entries count twice). */
static int s_container(s_rd_t *r, s_val_t *v, s_type_t type, unsigned width, uint32_t inline_n)
{
    if (s_len(r, width, inline_n, &v->n) != 0)
        return -1;
    if (!s_has(r, (uint64_t) v->n * (type == S_MAP ? 2 : 1)))
        return s_fail(r, "a container declares more elements than bytes remain");
    v->type = type;
    return 0;
}

/* A string (S_STR) or bin/ext (S_OTHER): a length, `extra` bytes, the body. */
static int s_blob(s_rd_t *r, s_val_t *v, s_type_t type, unsigned width, uint32_t inline_n,
                  unsigned extra)
{
    uint32_t n = 0;
    if (s_len(r, width, inline_n, &n) != 0)
        return -1;
    if (!s_has(r, (uint64_t) n + extra))
        return s_fail(r, "a string runs past the end");
    r->off += extra;
    v->type = type;
    v->s = (const char *) r->p + r->off;
    v->n = n;
    r->off += n;
    return 0;
}

/* An integer of width bytes, signed or not. */
static int s_int(s_rd_t *r, s_val_t *v, unsigned width, bool is_signed)
{
    if (!s_has(r, width))
        return s_fail(r, "truncated");
    uint64_t u = s_be(r, width);
    int64_t i = 0;
    if (is_signed) {
        unsigned shift = 64 - 8 * width;
        i = (int64_t) (u << shift) >> shift;    /* sign-extend */
        is_signed = i < 0;
    }
    v->type = is_signed ? S_NEG : S_UINT;
    v->u = u;
    v->i = i;
    return 0;
}

static int s_skip_bytes(s_rd_t *r, s_val_t *v, size_t n)
{
    if (!s_has(r, n))
        return s_fail(r, "truncated");
    r->off += n;
    v->type = S_OTHER;
    return 0;
}

/* Type bytes 0xc0..0xdf. */
static int s_next_c0(s_rd_t *r, s_val_t *v, uint8_t b)
{
    if (b >= 0xc4 && b <= 0xc6)
        return s_blob(r, v, S_OTHER, 1u << (b - 0xc4), 0, 0);      /* bin 8/16/32 */
    if (b >= 0xc7 && b <= 0xc9)
        return s_blob(r, v, S_OTHER, 1u << (b - 0xc7), 0, 1);      /* ext 8/16/32 */
    if (b == 0xca || b == 0xcb)
        return s_skip_bytes(r, v, b == 0xca ? 4 : 8);              /* float */
    if (b >= 0xcc && b <= 0xcf)
        return s_int(r, v, 1u << (b - 0xcc), false);
    if (b >= 0xd0 && b <= 0xd3)
        return s_int(r, v, 1u << (b - 0xd0), true);
    if (b >= 0xd4 && b <= 0xd8)
        return s_skip_bytes(r, v, 1 + (1u << (b - 0xd4)));         /* fixext */
    if (b >= 0xd9 && b <= 0xdb)
        return s_blob(r, v, S_STR, 1u << (b - 0xd9), 0, 0);
    if (b == 0xdc || b == 0xdd)
        return s_container(r, v, S_ARRAY, b == 0xdc ? 2 : 4, 0);
    if (b == 0xde || b == 0xdf)
        return s_container(r, v, S_MAP, b == 0xde ? 2 : 4, 0);
    v->type = b == 0xc0 ? S_NIL : S_BOOL;
    v->b = b == 0xc3;
    return b == 0xc1 ? s_fail(r, "reserved byte 0xc1") : 0;
}

/* Read one value's header (and a string's body). Containers' elements follow. */
static int s_next(s_rd_t *r, s_val_t *v)
{
    memset(v, 0, sizeof *v);
    if (!s_has(r, 1))
        return s_fail(r, "truncated");
    uint8_t b = r->p[r->off++];
    if (b <= 0x7f) {
        v->type = S_UINT;
        v->u = b;
        return 0;
    }
    if (b >= 0xe0) {
        v->type = S_NEG;
        v->i = (int8_t) b;
        return 0;
    }
    if (b <= 0x8f)
        return s_container(r, v, S_MAP, 0, b & 0x0fu);
    if (b <= 0x9f)
        return s_container(r, v, S_ARRAY, 0, b & 0x0fu);
    if (b <= 0xbf)
        return s_blob(r, v, S_STR, 0, b & 0x1fu, 0);
    return s_next_c0(r, v, b);
}

/* Skip one whole value nested in depth containers. */
static int s_skip(s_rd_t *r, unsigned depth)
{
    s_val_t v;
    if (depth > S_MAX_DEPTH)
        return s_fail(r, "nested deeper than %d", S_MAX_DEPTH);
    if (s_next(r, &v) != 0)
        return -1;
    uint64_t items = v.type == S_ARRAY ? v.n : v.type == S_MAP ? (uint64_t) v.n * 2 : 0;
    for (uint64_t i = 0; i < items; i++)
        if (s_skip(r, depth + 1) != 0)
            return -1;
    return 0;
}

/* ---- field readers -------------------------------------------------------- */

/* The next top-level element. */
static int s_get(s_rd_t *r, s_val_t *v)
{
    r->field++;
    return s_next(r, v);
}

/* The array header and the record version; *n gets the element count. */
static int s_open(s_rd_t *r, uint32_t nfields, uint32_t *n)
{
    s_val_t v;
    if (s_next(r, &v) != 0)
        return -1;
    if (v.type != S_ARRAY || v.n == 0)
        return s_fail(r, "not a msgpack array");
    *n = v.n;
    r->field = 0;
    if (s_next(r, &v) != 0)
        return -1;
    if (v.type != S_UINT)
        return s_bad(r, "record version", "uint");
    if (v.u != REC_VERSION)
        return s_fail(r, "record version %llu not supported (this build reads %d)",
                      (unsigned long long) v.u, REC_VERSION);
    if (*n < nfields)
        return s_fail(r, "has %u elements, needs %u", (unsigned) *n, (unsigned) nfields);
    return 0;
}

/* Skip the fields a newer writer appended; nothing may follow the array. */
static int s_close(s_rd_t *r, uint32_t n)
{
    for (uint32_t i = r->field + 1; i < n; i++)
        if (s_skip(r, 1) != 0)
            return -1;
    if (r->off != r->size)
        return s_fail(r, "trailing bytes after the record");
    return 0;
}

static int s_u64(s_rd_t *r, const char *name, uint64_t *out)
{
    s_val_t v;
    if (s_get(r, &v) != 0)
        return -1;
    if (v.type != S_UINT)
        return s_bad(r, name, "uint");
    *out = v.u;
    return 0;
}

static int s_u32(s_rd_t *r, const char *name, uint32_t *out)
{
    s_val_t v;
    if (s_get(r, &v) != 0)
        return -1;
    if (v.type != S_UINT || v.u > UINT32_MAX)
        return s_bad(r, name, "uint32");
    *out = (uint32_t) v.u;
    return 0;
}

/* An integer of either kind that fits int64. */
static bool s_as_i64(const s_val_t *v, int64_t *out)
{
    if (v->type == S_NEG)
        *out = v->i;
    else if (v->type == S_UINT && v->u <= INT64_MAX)
        *out = (int64_t) v->u;
    else
        return false;
    return true;
}

static int s_i64(s_rd_t *r, const char *name, int64_t *out)
{
    s_val_t v;
    if (s_get(r, &v) != 0)
        return -1;
    if (!s_as_i64(&v, out))
        return s_bad(r, name, "int64");
    return 0;
}

/* int32, or nil when has is given (then *has tells which). */
static int s_i32(s_rd_t *r, const char *name, bool *has, int32_t *out)
{
    s_val_t v;
    int64_t i;
    if (s_get(r, &v) != 0)
        return -1;
    if (has && v.type == S_NIL) {
        *has = false;
        return 0;
    }
    if (!s_as_i64(&v, &i) || i < INT32_MIN || i > INT32_MAX)
        return s_bad(r, name, has ? "int32 or nil" : "int32");
    if (has)
        *has = true;
    *out = (int32_t) i;
    return 0;
}

static int s_bool(s_rd_t *r, const char *name, bool *out)
{
    s_val_t v;
    if (s_get(r, &v) != 0)
        return -1;
    if (v.type != S_BOOL)
        return s_bad(r, name, "bool");
    *out = v.b;
    return 0;
}

/* v (already read) is a str without NUL bytes, or nil when nullable. */
static int s_as_str(s_rd_t *r, const char *name, const s_val_t *v, bool nullable)
{
    if (nullable && v->type == S_NIL)
        return 0;
    if (v->type != S_STR)
        return s_bad(r, name, nullable ? "str or nil" : "str");
    if (memchr(v->s, 0, v->n))
        return s_bad(r, name, "a str without NUL bytes");
    return 0;
}

static int s_str(s_rd_t *r, const char *name, bool nullable, s_val_t *v)
{
    if (s_get(r, v) != 0)
        return -1;
    return s_as_str(r, name, v, nullable);
}

/* Replace *out with a copy of v (NULL for nil). */
static int s_set(s_rd_t *r, const s_val_t *v, char **out)
{
    char *s = NULL;
    if (v->type == S_STR && !(s = strndup(v->s, v->n)))
        return s_oom(r);
    free(*out);
    *out = s;
    return 0;
}

static int s_dup(s_rd_t *r, const char *name, bool nullable, char **out)
{
    s_val_t v;
    if (s_str(r, name, nullable, &v) != 0)
        return -1;
    return s_set(r, &v, out);
}

/* A name: 1 to REC_NAME_MAX bytes, copied into buf. */
static int s_name(s_rd_t *r, const char *name, char buf[REC_NAME_MAX + 1])
{
    s_val_t v;
    if (s_str(r, name, false, &v) != 0)
        return -1;
    if (v.n == 0 || v.n > REC_NAME_MAX)
        return s_bad(r, name, "a name of 1 to 255 bytes");
    memcpy(buf, v.s, v.n);
    buf[v.n] = '\0';
    return 0;
}

/* A short printable word (a state name) copied into buf. */
static int s_word(s_rd_t *r, const char *name, char *buf, size_t cap)
{
    s_val_t v;
    if (s_str(r, name, false, &v) != 0)
        return -1;
    bool ok = v.n > 0 && v.n < cap;
    for (uint32_t i = 0; ok && i < v.n; i++)
        ok = v.s[i] > ' ' && v.s[i] < 0x7f;
    if (!ok)
        return s_bad(r, name, "a state name");
    memcpy(buf, v.s, v.n);
    buf[v.n] = '\0';
    return 0;
}

static int s_kv(s_rd_t *r, const char *name, kvlist_t *l)
{
    s_val_t k, v;
    if (s_next(r, &k) != 0 || s_as_str(r, name, &k, false) != 0 ||
        s_next(r, &v) != 0 || s_as_str(r, name, &v, false) != 0)
        return -1;
    if (k.n == 0)
        return s_bad(r, name, "a map without empty keys");
    char *key = strndup(k.s, k.n), *val = strndup(v.s, v.n);
    int rc;
    if (!key || !val)
        rc = s_oom(r);
    else if (kv_get(l, key))
        rc = s_bad(r, name, "a map without duplicate keys");
    else
        rc = kv_set(l, key, val) == 0 ? 0 : s_oom(r);
    free(key);
    free(val);
    return rc;
}

/* {str: str} added to l, or nil when has is given (*has then says which). */
static int s_nkvs(s_rd_t *r, const char *name, bool *has, kvlist_t *l)
{
    s_val_t v;
    if (s_get(r, &v) != 0)
        return -1;
    if (has)
        *has = v.type != S_NIL;
    if (has && v.type == S_NIL)
        return 0;
    if (v.type != S_MAP)
        return s_bad(r, name, "a map of str to str");
    for (uint32_t i = 0; i < v.n; i++)
        if (s_kv(r, name, l) != 0)
            return -1;
    return 0;
}

/* {str: str} added to l (which the caller owns and frees on failure). */
static int s_kvs(s_rd_t *r, const char *name, kvlist_t *l)
{
    return s_nkvs(r, name, NULL, l);
}

static void s_free_strs(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* [str] into a fresh array, or nil when has is given (*has then says
   which); *out and *nout are set only on success. */
static int s_nstrs(s_rd_t *r, const char *name, bool *has, char ***out, size_t *nout)
{
    s_val_t v;
    if (s_get(r, &v) != 0)
        return -1;
    if (has)
        *has = v.type != S_NIL;
    if (has && v.type == S_NIL)
        return 0;
    if (v.type != S_ARRAY)
        return s_bad(r, name, "an array of str");
    char **items = calloc(v.n ? v.n : 1, sizeof *items);
    if (!items)
        return s_oom(r);
    for (uint32_t i = 0; i < v.n; i++) {
        s_val_t e;
        if (s_next(r, &e) != 0 || s_as_str(r, name, &e, false) != 0 ||
            s_set(r, &e, &items[i]) != 0) {
            s_free_strs(items, v.n);
            return -1;
        }
    }
    *out = items;
    *nout = v.n;
    return 0;
}

static int s_strs(s_rd_t *r, const char *name, char ***out, size_t *nout)
{
    return s_nstrs(r, name, NULL, out, nout);
}

/* ---- jobs ------------------------------------------------------------------ */

static int s_job_state(s_rd_t *r, job_t *job)
{
    char name[32];
    if (s_word(r, "state", name, sizeof name) != 0)
        return -1;
    if (job_state_parse(name, &job->state) != 0)
        return s_fail(r, "state '%s' is not a job state", name);
    return 0;
}

/* Everything after the priority. */
static int s_job_fields(s_rd_t *r, job_t *job)
{
    if (s_kvs(r, "where", &job->where) != 0 || s_job_state(r, job) != 0 ||
        s_u32(r, "attempts", &job->attempts) != 0)
        return -1;
    s_val_t w;
    if (s_str(r, "worker", true, &w) != 0)
        return -1;
    if (w.type == S_STR && (w.n == 0 || w.n > REC_NAME_MAX))
        return s_bad(r, "worker", "nil or a name of 1 to 255 bytes");
    if (s_set(r, &w, &job->last_worker) != 0 ||
        s_i32(r, "exit_code", &job->has_exit_code, &job->exit_code) != 0 ||
        s_dup(r, "result", true, &job->result) != 0 ||
        s_dup(r, "error", true, &job->error) != 0 ||
        s_i64(r, "created_ms", &job->created_ms) != 0 ||
        s_i64(r, "started_ms", &job->started_ms) != 0 ||
        s_i64(r, "finished_ms", &job->finished_ms) != 0)
        return -1;
    return 0;
}

int rec_dec_job(const void *data, size_t size, rec_job_t *out, char *err, size_t errlen)
{
    s_rd_t r = { data, size, 0, "job", 0, err, errlen };
    uint32_t n = 0;
    uint64_t id = 0;
    s_val_t payload = { 0 };
    int32_t priority = 0;
    out->job = NULL;
    if (s_open(&r, 15, &n) != 0 || s_u64(&r, "id", &id) != 0 ||
        s_name(&r, "role", out->role) != 0 || s_str(&r, "payload", false, &payload) != 0 ||
        s_i32(&r, "priority", NULL, &priority) != 0)
        return -1;
    job_t *job = job_new(id, NULL, payload.s, payload.n, priority, NULL, 0);
    if (!job)
        return s_oom(&r);
    /* run_at_ms (field 15) and revoking (16) came after the first records
       were written: optional */
    if (s_job_fields(&r, job) != 0 || (n > 15 && s_i64(&r, "run_at_ms", &job->run_at_ms) != 0) ||
        (n > 16 && s_bool(&r, "revoking", &job->revoking) != 0) ||
        (n > 17 && s_u32(&r, "attempt_base", &job->attempt_base) != 0) ||
        (n > 18 && s_u32(&r, "log_seq", &job->log_seq) != 0) ||
        (n > 19 && s_u64(&r, "log_stored", &job->log_stored) != 0) ||
        (n > 20 && s_u64(&r, "log_dropped", &job->log_dropped) != 0) || s_close(&r, n) != 0) {
        job_destroy(&job);
        return -1;
    }
    job->stored_state = job->state;   /* as the store holds it */
    out->job = job;
    return 0;
}

/* ---- workers ------------------------------------------------------------------ */

static int s_peer_state(s_rd_t *r)
{
    char name[32];
    if (s_word(r, "state", name, sizeof name) != 0)
        return -1;
    for (int i = 0; i < PEER_STATE_COUNT; i++)
        if (strcmp(name, peer_state_name((peer_state_t) i)) == 0)
            return 0;
    return s_fail(r, "state '%s' is not a worker state", name);
}

/* Everything after the id. */
static int s_peer_fields(s_rd_t *r, peer_t *p)
{
    if (s_dup(r, "name", false, &p->name) != 0 ||
        s_strs(r, "roles", &p->roles, &p->nroles) != 0 ||
        s_u32(r, "slots", &p->slots) != 0 ||
        s_kvs(r, "labels", &p->labels) != 0 ||
        s_dup(r, "version", false, &p->version) != 0 ||
        s_dup(r, "address", false, &p->address) != 0 ||
        s_u32(r, "heartbeat_ms", &p->heartbeat_ms) != 0 ||
        s_u32(r, "liveness", &p->liveness) != 0 ||
        s_i64(r, "first_seen_ms", &p->first_seen_ms) != 0 ||
        s_i64(r, "seen_wall_ms", &p->seen_wall_ms) != 0 ||
        s_peer_state(r) != 0)
        return -1;
    p->state = PEER_OFFLINE;
    return 0;
}

/* Records before these fields came from HELLO alone: what they hold is
   what the worker offered. */
static int s_offer_from_fields(s_rd_t *r, peer_t *p)
{
    peer_offer_t *o = &p->offer;
    if (!(o->name = strdup(p->name)) || peer_strs_copy(p->roles, p->nroles, &o->roles) != 0 ||
        kv_copy(&o->labels, &p->labels) != 0)
        return s_oom(r);
    o->nroles = p->nroles;
    o->slots = p->slots;
    return 0;
}

/* The offer and the admin's settings (fields 13..22). */
static int s_peer_sources(s_rd_t *r, peer_t *p)
{
    peer_offer_t *o = &p->offer;
    peer_admin_t *a = &p->admin;
    if (s_dup(r, "offer_name", true, &o->name) != 0 ||
        s_strs(r, "offer_roles", &o->roles, &o->nroles) != 0 ||
        s_u32(r, "offer_slots", &o->slots) != 0 ||
        s_kvs(r, "offer_labels", &o->labels) != 0 ||
        s_dup(r, "admin_name", true, &a->name) != 0 ||
        s_nstrs(r, "admin_roles", &a->has_roles, &a->roles, &a->nroles) != 0 ||
        s_u32(r, "admin_slots", &a->slots) != 0 ||
        s_nkvs(r, "admin_labels", &a->has_labels, &a->labels) != 0 ||
        s_bool(r, "admin_drain", &a->drain) != 0 ||
        s_bool(r, "deleted", &p->deleted) != 0)
        return -1;
    return 0;
}

peer_t *rec_dec_peer(const void *data, size_t size, char *err, size_t errlen)
{
    s_rd_t r = { data, size, 0, "worker", 0, err, errlen };
    uint32_t n;
    char id[REC_NAME_MAX + 1];
    if (s_open(&r, 13, &n) != 0 || s_name(&r, "id", id) != 0)
        return NULL;
    peer_t *p = peer_new(id);
    if (!p) {
        s_oom(&r);
        return NULL;
    }
    if (n > 13 && n < 23) {
        s_fail(&r, "has %u elements, needs 13 or at least 23", (unsigned) n);
        peer_destroy(&p);
        return NULL;
    }
    if (s_peer_fields(&r, p) != 0 ||
        (n > 13 ? s_peer_sources(&r, p) : s_offer_from_fields(&r, p)) != 0 ||
        s_close(&r, n) != 0)
        peer_destroy(&p);
    return p;
}

/* ---- roles ---------------------------------------------------------------------- */

/* The rules mesh/role.c keeps: built-ins (echo, sleep) have no command,
   every other role has one; a shell role's command is one line. */
static int s_role_check(s_rd_t *r, role_t *role)
{
    bool builtin_name = strcmp(role->name, "echo") == 0 || strcmp(role->name, "sleep") == 0;
    if (role->max_attempts < 1)
        return s_fail(r, "max_attempts must be >= 1");
    if (role->ncommand == 0 && !builtin_name)
        return s_fail(r, "role '%s' has no command", role->name);
    if (role->shell && role->ncommand != 1)
        return s_fail(r, "shell role '%s' must have one command line", role->name);
    if (role->npermissions > ROLE_PERMISSIONS_MAX)
        return s_fail(r, "role '%s' has more than %d permissions", role->name,
                      ROLE_PERMISSIONS_MAX);
    for (size_t i = 0; i < role->npermissions; i++)
        if (!role_scope_valid(role->permissions[i], strlen(role->permissions[i])))
            return s_fail(r, "role '%s': permission '%.80s' is not a scope", role->name,
                          role->permissions[i]);
    role->builtin = role->ncommand == 0;
    return 0;
}

/* Field 14: the triggers' JSON text (or nil), parsed by the role rules. */
static int s_triggers(s_rd_t *r, role_t *role)
{
    s_val_t v;
    if (s_str(r, "triggers", true, &v) != 0)
        return -1;
    if (v.type == S_NIL)
        return 0;
    json_error_t jerr;
    json_t *a = json_loadb(v.s, v.n, JSON_REJECT_DUPLICATES, &jerr);
    char why[300];
    int rc = 0;
    if (!a)
        rc = s_fail(r, "field triggers: %s", jerr.text);
    else if (role_set_triggers(role, a, why, sizeof why) != 0)
        rc = s_fail(r, "field triggers: %s", why);
    json_decref(a);
    return rc;
}

role_t *rec_dec_role(const void *data, size_t size, char *err, size_t errlen)
{
    s_rd_t r = { data, size, 0, "role", 0, err, errlen };
    uint32_t n;
    char name[REC_NAME_MAX + 1];
    if (s_open(&r, 8, &n) != 0 || s_name(&r, "name", name) != 0)
        return NULL;
    role_t *role = calloc(1, sizeof *role);
    if (role) {
        role->backoff_base_ms = ROLE_DEFAULT_BACKOFF_BASE_MS;  /* records before these fields */
        role->backoff_max_ms = ROLE_DEFAULT_BACKOFF_MAX_MS;
        role->enabled = true;                                  /* and before these */
    }
    if (!role || !(role->name = strdup(name))) {
        free(role);
        s_oom(&r);
        return NULL;
    }
    if (s_strs(&r, "command", &role->command, &role->ncommand) != 0 ||
        s_bool(&r, "shell", &role->shell) != 0 ||
        s_u32(&r, "timeout_ms", &role->timeout_ms) != 0 ||
        s_u32(&r, "max_attempts", &role->max_attempts) != 0 ||
        s_u32(&r, "max_concurrency", &role->max_concurrency) != 0 ||
        s_kvs(&r, "env", &role->env) != 0 ||
        (n > 8 && s_u32(&r, "backoff_base_ms", &role->backoff_base_ms) != 0) ||
        (n > 9 && s_u32(&r, "backoff_max_ms", &role->backoff_max_ms) != 0) ||
        (n > 10 && s_bool(&r, "enabled", &role->enabled) != 0) ||
        (n > 11 && s_strs(&r, "permissions", &role->permissions, &role->npermissions) != 0) ||
        (n > 12 && s_kvs(&r, "where", &role->where) != 0) ||
        (n > 13 && s_triggers(&r, role) != 0) ||
        s_close(&r, n) != 0 ||
        s_role_check(&r, role) != 0)
        role_destroy(&role);
    return role;
}
