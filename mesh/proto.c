/*  mesh/proto.c — the popebot wire protocol, version 1: codec.

    mesh/proto.h is the contract and docs/PROTOCOL.md the spec. This file
    turns frames into pb_msg_t and structs into frames; it never prints and
    keeps no state between calls.

    Decoding takes three steps, and nothing of a frame is used before the
    step that checks it:
    1. s_prescan walks the raw bytes. It rejects a container that declares
       more elements than bytes remain (an element takes at least one byte,
       a map entry two), a str/bin/ext length past the end, nesting deeper
       than S_MAX_DEPTH, the reserved byte 0xc1, truncation, and trailing
       bytes after the one object. This has to come first: msgpack-c
       allocates count * sizeof(msgpack_object) for a container before it
       reads any element, so a 5-byte frame could otherwise ask for
       gigabytes.
    2. msgpack_unpack_next parses a private copy of the frame. msgpack-c's
       str, bin and ext objects point into the bytes they were parsed from,
       so the copy is handed to the message's zone (a zone finalizer frees
       it): every pointer in a pb_msg_t lives exactly as long as the message,
       whatever the caller does with its frame.
    3. The envelope ["PB", version, command] is checked, then the command's
       row in s_cmds gives its field count and its decode function. Decoders
       read fields with the s_* readers, which check type and range and on
       failure write a reason such as "HELLO: field 4 (slots) must be
       uint32". Lists of items are allocated in the message's zone.

    Forward compatibility: fields after the listed ones, in a message or in
    an item tuple, are ignored; fewer is malformed. Unknown keys of the JOBS
    filter are ignored. Values are not checked beyond their type and range
    (a LOG stream of 3 or a DONE state of "odd" decodes; the loops judge).

    A reason is built only from this file's literals and numbers, never from
    the peer's bytes, except the unknown command name of PB_E_COMMAND, which
    is cut to S_NAME_SHOWN characters with non-printable bytes shown as '?'.
    An allocation failure while decoding is reported as PB_E_MALFORMED with
    the reason "out of memory": the frame is dropped either way.

    Encoding writes into a pb_buf_t, whose packer points at its own sbuffer:
    a pb_buf_t must not be copied or moved after pb_buf_init. The writers
    return nothing; if the sbuffer cannot grow (out of memory) the bytes of
    that write are lost and the frame is incomplete, which the peer's
    decoder rejects as malformed. Strings longer than 2^32 - 1 bytes cannot
    be represented and must not be given.
*/
#include "mesh/proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH  32     /* containers inside containers, the message's own array counts */
#define S_NAME_SHOWN 24     /* characters of an unknown command name put in a reason */
#define S_NOT_ARRAY  "not an array of signature, version, command"

/* ---- reasons ------------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static void s_set(pb_err_t *err, pb_status_t status, const char *fmt, ...)
{
    va_list ap;
    err->status = status;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
}

/* ---- step 1: prescan of the raw bytes ----------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t size;
    size_t off;             /* next byte to read */
    const char *why;        /* set when the scan fails */
} s_scan_t;

/* What follows a msgpack type byte. */
typedef enum { S_FIXED, S_BLOB, S_EXT, S_ARRAY, S_MAP, S_BAD } s_kind_t;

typedef struct {
    uint8_t kind;           /* s_kind_t */
    uint8_t width;          /* S_FIXED: bytes of value; others: bytes of length */
} s_fmt_t;

/* Type bytes 0xc0..0xdf. */
static const s_fmt_t s_fmts[32] = {
    { S_FIXED, 0 }, { S_BAD, 0 }, { S_FIXED, 0 }, { S_FIXED, 0 },   /* nil, (never used), false, true */
    { S_BLOB, 1 }, { S_BLOB, 2 }, { S_BLOB, 4 },                    /* bin 8/16/32 */
    { S_EXT, 1 }, { S_EXT, 2 }, { S_EXT, 4 },                       /* ext 8/16/32 */
    { S_FIXED, 4 }, { S_FIXED, 8 },                                 /* float 32/64 */
    { S_FIXED, 1 }, { S_FIXED, 2 }, { S_FIXED, 4 }, { S_FIXED, 8 }, /* uint 8..64 */
    { S_FIXED, 1 }, { S_FIXED, 2 }, { S_FIXED, 4 }, { S_FIXED, 8 }, /* int 8..64 */
    { S_FIXED, 2 }, { S_FIXED, 3 }, { S_FIXED, 5 }, { S_FIXED, 9 },
    { S_FIXED, 17 },                                                /* fixext 1..16: type + data */
    { S_BLOB, 1 }, { S_BLOB, 2 }, { S_BLOB, 4 },                    /* str 8/16/32 */
    { S_ARRAY, 2 }, { S_ARRAY, 4 }, { S_MAP, 2 }, { S_MAP, 4 }      /* array 16/32, map 16/32 */
};

/* The format of type byte b; *n gets a length or count held in b itself. */
static s_fmt_t s_format(uint8_t b, uint32_t *n)
{
    s_fmt_t f = { S_FIXED, 0 };
    *n = 0;
    if (b <= 0x7f || b >= 0xe0)
        return f;                               /* fixint */
    if (b >= 0xc0)
        return s_fmts[b - 0xc0];
    f.kind = b < 0x90 ? S_MAP : b < 0xa0 ? S_ARRAY : S_BLOB;
    *n = b < 0xa0 ? (b & 0x0fu) : (b & 0x1fu);
    return f;
}

static bool s_need(s_scan_t *s, uint64_t n, const char *why)
{
    if (n <= s->size - s->off)
        return true;
    s->why = why;
    return false;
}

static bool s_skip(s_scan_t *s, uint64_t n, const char *why)
{
    if (!s_need(s, n, why))
        return false;
    s->off += (size_t) n;
    return true;
}

static bool s_read_len(s_scan_t *s, unsigned width, uint32_t *n)
{
    if (!s_need(s, width, "truncated"))
        return false;
    uint32_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v = v << 8 | s->p[s->off++];
    *n = v;
    return true;
}

static bool s_scan_value(s_scan_t *s, unsigned depth);

/* The elements of a container at nesting level depth (1 = outermost). */
static bool s_scan_items(s_scan_t *s, uint64_t items, unsigned depth)
{
    if (depth > S_MAX_DEPTH) {
        s->why = "nested deeper than 32";
        return false;
    }
    if (!s_need(s, items, "container count exceeds the frame"))
        return false;
    for (uint64_t i = 0; i < items; i++)
        if (!s_scan_value(s, depth))
            return false;
    return true;
}

/* One value inside depth containers. Recursion is bounded by S_MAX_DEPTH. */
static bool s_scan_value(s_scan_t *s, unsigned depth)
{
    if (!s_need(s, 1, "truncated"))
        return false;
    uint32_t n;
    s_fmt_t f = s_format(s->p[s->off++], &n);
    if (f.kind == S_BAD) {
        s->why = "reserved byte 0xc1";
        return false;
    }
    if (f.kind != S_FIXED && f.width > 0 && !s_read_len(s, f.width, &n))
        return false;
    switch (f.kind) {
    case S_FIXED: return s_skip(s, f.width, "truncated");
    case S_BLOB:  return s_skip(s, n, "length exceeds the frame");
    case S_EXT:   return s_skip(s, (uint64_t) n + 1, "length exceeds the frame");
    case S_ARRAY: return s_scan_items(s, n, depth + 1);
    default:      return s_scan_items(s, (uint64_t) n * 2, depth + 1);
    }
}

/* NULL when data holds exactly one sane msgpack object, else why not. */
static const char *s_prescan(const void *data, size_t size)
{
    s_scan_t s = { data, size, 0, NULL };
    if (!s_scan_value(&s, 0))
        return s.why;
    return s.off == size ? NULL : "trailing bytes after the message";
}

/* ---- step 2: unpack a private copy -------------------------------------- */

static bool s_unpack(pb_msg_t *msg, const void *data, size_t size, pb_err_t *err)
{
    char *copy = malloc(size);
    if (!copy) {
        s_set(err, PB_E_MALFORMED, "out of memory");
        return false;
    }
    memcpy(copy, data, size);
    size_t off = 0;
    msgpack_unpacked_init(&msg->unpacked);
    msgpack_unpack_return rc = msgpack_unpack_next(&msg->unpacked, copy, size, &off);
    const char *why = NULL;
    if (rc != MSGPACK_UNPACK_SUCCESS || off != size)
        why = "msgpack-c could not unpack the frame (out of memory?)";
    else if (msg->unpacked.data.type != MSGPACK_OBJECT_ARRAY)
        why = S_NOT_ARRAY;          /* and msgpack-c made no zone for a scalar */
    else if (!msg->unpacked.zone
             || !msgpack_zone_push_finalizer(msg->unpacked.zone, free, copy))
        why = "out of memory";
    if (why) {
        free(copy);
        s_set(err, PB_E_MALFORMED, "%s", why);
    }
    return why == NULL;
}

/* ---- step 3: field readers ---------------------------------------------- */

typedef struct {
    msgpack_zone *zone;     /* the message's zone: lists are allocated here */
    const char *cmd;        /* command name, for reasons */
    pb_err_t *err;
    uint32_t field;         /* 1-based field of the list being read */
    int64_t item;           /* index in that list; -1 when reading top-level fields */
    uint32_t tuple_size;    /* elements in the tuple being read (optional fields) */
    uint32_t nfields;       /* fields after the command (optional top-level fields) */
} s_ctx_t;

/* Field i (0-based) named name is not a what. Always false. */
static bool s_bad(s_ctx_t *c, uint32_t i, const char *name, const char *what)
{
    if (c->item < 0)
        s_set(c->err, PB_E_MALFORMED, "%s: field %u (%s) must be %s",
              c->cmd, (unsigned) i + 1, name, what);
    else
        s_set(c->err, PB_E_MALFORMED, "%s: field %u item %lld (%s) must be %s",
              c->cmd, (unsigned) c->field, (long long) c->item, name, what);
    return false;
}

static bool s_alloc(s_ctx_t *c, uint32_t n, size_t size, void **out)
{
    *out = NULL;
    if (n == 0)
        return true;
    *out = msgpack_zone_malloc(c->zone, (size_t) n * size);
    if (*out)
        return true;
    s_set(c->err, PB_E_MALFORMED, "%s: out of memory", c->cmd);
    return false;
}

static pb_str_t s_str_of(const msgpack_object *o)
{
    pb_str_t s = { o->via.str.ptr, o->via.str.size };
    return s;
}

/* An integer of either msgpack kind, when it is >= 0. */
static bool s_as_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *v = o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= 0)
        *v = (uint64_t) o->via.i64;
    else
        return false;
    return true;
}

/* An integer of either msgpack kind, when it fits int64_t. */
static bool s_as_i64(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = o->via.i64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t) o->via.u64;
    else
        return false;
    return true;
}

static bool s_str(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                  pb_str_t *out)
{
    if (o[i].type != MSGPACK_OBJECT_STR)
        return s_bad(c, i, name, "str");
    *out = s_str_of(&o[i]);
    return true;
}

/* str or nil; nil gives { NULL, 0 }. */
static bool s_nstr(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                   pb_str_t *out)
{
    pb_str_t none = { NULL, 0 };
    if (o[i].type == MSGPACK_OBJECT_NIL)
        *out = none;
    else if (o[i].type == MSGPACK_OBJECT_STR)
        *out = s_str_of(&o[i]);
    else
        return s_bad(c, i, name, "str or nil");
    return true;
}

/* bin, or str from peers that send text. */
static bool s_bytes(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                    pb_str_t *out)
{
    if (o[i].type == MSGPACK_OBJECT_BIN) {
        out->ptr = o[i].via.bin.ptr;
        out->len = o[i].via.bin.size;
    } else if (o[i].type == MSGPACK_OBJECT_STR)
        *out = s_str_of(&o[i]);
    else
        return s_bad(c, i, name, "bin or str");
    return true;
}

static bool s_u32(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                  uint32_t *out)
{
    uint64_t v;
    if (!s_as_u64(&o[i], &v) || v > UINT32_MAX)
        return s_bad(c, i, name, "uint32");
    *out = (uint32_t) v;
    return true;
}

static bool s_u64(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                  uint64_t *out)
{
    if (!s_as_u64(&o[i], out))
        return s_bad(c, i, name, "uint64");
    return true;
}

static bool s_i32(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                  int32_t *out)
{
    int64_t v;
    if (!s_as_i64(&o[i], &v) || v < INT32_MIN || v > INT32_MAX)
        return s_bad(c, i, name, "int32");
    *out = (int32_t) v;
    return true;
}

/* int32 or nil; *has tells which. */
static bool s_ni32(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                   bool *has, int32_t *out)
{
    *has = o[i].type != MSGPACK_OBJECT_NIL;
    *out = 0;
    if (!*has)
        return true;
    int64_t v;
    if (!s_as_i64(&o[i], &v) || v < INT32_MIN || v > INT32_MAX)
        return s_bad(c, i, name, "int32 or nil");
    *out = (int32_t) v;
    return true;
}

static bool s_bool(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                   bool *out)
{
    if (o[i].type != MSGPACK_OBJECT_BOOLEAN)
        return s_bad(c, i, name, "bool");
    *out = o[i].via.boolean;
    return true;
}

/* [str] */
static bool s_strs(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                   pb_strs_t *out)
{
    if (o[i].type != MSGPACK_OBJECT_ARRAY)
        return s_bad(c, i, name, "array of str");
    const msgpack_object_array *a = &o[i].via.array;
    void *mem;
    if (!s_alloc(c, a->size, sizeof(pb_str_t), &mem))
        return false;
    pb_str_t *v = mem;
    for (uint32_t k = 0; k < a->size; k++) {
        if (a->ptr[k].type != MSGPACK_OBJECT_STR)
            return s_bad(c, i, name, "array of str");
        v[k] = s_str_of(&a->ptr[k]);
    }
    out->items = v;
    out->n = a->size;
    return true;
}

/* {str: str} */
static bool s_kvs(s_ctx_t *c, const msgpack_object *o, uint32_t i, const char *name,
                  pb_kvs_t *out)
{
    if (o[i].type != MSGPACK_OBJECT_MAP)
        return s_bad(c, i, name, "map of str to str");
    const msgpack_object_map *m = &o[i].via.map;
    void *mem;
    if (!s_alloc(c, m->size, sizeof(pb_kv_t), &mem))
        return false;
    pb_kv_t *v = mem;
    for (uint32_t k = 0; k < m->size; k++) {
        if (m->ptr[k].key.type != MSGPACK_OBJECT_STR || m->ptr[k].val.type != MSGPACK_OBJECT_STR)
            return s_bad(c, i, name, "map of str to str");
        v[k].key = s_str_of(&m->ptr[k].key);
        v[k].val = s_str_of(&m->ptr[k].val);
    }
    out->items = v;
    out->n = m->size;
    return true;
}

/* Reads one item of a list from its tuple e (at least the listed elements). */
typedef bool (*s_item_fn)(s_ctx_t *c, const msgpack_object *e, void *out);

typedef struct {
    const char *name;       /* the list field, for reasons */
    uint32_t need;          /* elements each item tuple must have */
    size_t size;            /* bytes of one decoded item */
    s_item_fn read;
} s_list_t;

/* [[tuple]...] at field i: allocates *items in the zone, sets *n. */
static bool s_list(s_ctx_t *c, const msgpack_object *o, uint32_t i, const s_list_t *l,
                   void **items, uint32_t *n)
{
    *items = NULL;
    *n = 0;
    if (o[i].type != MSGPACK_OBJECT_ARRAY)
        return s_bad(c, i, l->name, "array");
    const msgpack_object_array *a = &o[i].via.array;
    if (!s_alloc(c, a->size, l->size, items))
        return false;
    c->field = i + 1;
    for (uint32_t k = 0; k < a->size; k++) {
        const msgpack_object *e = &a->ptr[k];
        c->item = k;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < l->need) {
            s_set(c->err, PB_E_MALFORMED, "%s: field %u item %u (%s) must be an array of %u",
                  c->cmd, (unsigned) i + 1, (unsigned) k, l->name, (unsigned) l->need);
            return false;
        }
        c->tuple_size = e->via.array.size;
        if (!l->read(c, e->via.array.ptr, (char *) *items + (size_t) k * l->size))
            return false;
    }
    c->item = -1;
    *n = a->size;
    return true;
}

/* ---- step 3: one decoder per command ------------------------------------ */

static bool s_item_lease_ref(s_ctx_t *c, const msgpack_object *e, void *out)
{
    pb_lease_ref_t *r = out;
    return s_str(c, e, 0, "job_id", &r->job_id)
        && s_u32(c, e, 1, "attempt", &r->attempt);
}

static bool s_item_done(s_ctx_t *c, const msgpack_object *e, void *out)
{
    pb_done_item_t *d = out;
    return s_str(c, e, 0, "job_id", &d->job_id)
        && s_u32(c, e, 1, "attempt", &d->attempt)
        && s_str(c, e, 2, "state", &d->state)
        && s_ni32(c, e, 3, "exit_code", &d->has_exit_code, &d->exit_code)
        && s_nstr(c, e, 4, "result", &d->result)
        && s_nstr(c, e, 5, "error", &d->error);
}

static bool s_item_lease(s_ctx_t *c, const msgpack_object *e, void *out)
{
    pb_lease_t *l = out;
    return s_str(c, e, 0, "job_id", &l->job_id)
        && s_u32(c, e, 1, "attempt", &l->attempt)
        && s_str(c, e, 2, "role", &l->role)
        && s_str(c, e, 3, "payload", &l->payload)
        && s_strs(c, e, 4, "command", &l->command)
        && s_bool(c, e, 5, "shell", &l->shell)
        && s_kvs(c, e, 6, "env", &l->env)
        && s_u32(c, e, 7, "timeout_ms", &l->timeout_ms);
}

static bool s_item_submit(s_ctx_t *c, const msgpack_object *e, void *out)
{
    pb_submit_item_t *s = out;
    s->delay_ms = 0;
    s->idem_key = (pb_str_t) { NULL, 0 };
    return s_str(c, e, 0, "role", &s->role)
        && s_str(c, e, 1, "payload", &s->payload)
        && s_i32(c, e, 2, "priority", &s->priority)
        && s_kvs(c, e, 3, "where", &s->where)
        && (c->tuple_size < 5 || s_u32(c, e, 4, "delay_ms", &s->delay_ms))
        && (c->tuple_size < 6 || s_nstr(c, e, 5, "idempotency_key", &s->idem_key));
}

static bool s_item_submitted(s_ctx_t *c, const msgpack_object *e, void *out)
{
    pb_submitted_item_t *s = out;
    return s_nstr(c, e, 0, "job_id", &s->job_id)
        && s_nstr(c, e, 1, "error", &s->error);
}

static const s_list_t s_running_list   = { "running", 2, sizeof(pb_lease_ref_t), s_item_lease_ref };
static const s_list_t s_done_list      = { "items", 6, sizeof(pb_done_item_t), s_item_done };
static const s_list_t s_assign_list    = { "items", 8, sizeof(pb_lease_t), s_item_lease };
static const s_list_t s_submit_list    = { "items", 4, sizeof(pb_submit_item_t), s_item_submit };
static const s_list_t s_submitted_list = { "items", 2, sizeof(pb_submitted_item_t), s_item_submitted };

/* f points at field 1; the table guarantees the listed count is there. */
typedef bool (*s_dec_fn)(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m);

static bool s_dec_hello(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    pb_hello_t *h = &m->u.hello;
    void *running = NULL;
    bool ok = s_str(c, f, 0, "worker_id", &h->worker_id)
           && s_str(c, f, 1, "name", &h->name)
           && s_strs(c, f, 2, "roles", &h->roles)
           && s_u32(c, f, 3, "slots", &h->slots)
           && s_kvs(c, f, 4, "labels", &h->labels)
           && s_str(c, f, 5, "version", &h->version)
           && s_u32(c, f, 6, "heartbeat_ms", &h->heartbeat_ms)
           && s_u32(c, f, 7, "liveness", &h->liveness)
           && s_list(c, f, 8, &s_running_list, &running, &h->n_running)
           && s_bool(c, f, 9, "draining", &h->draining);
    h->running = running;
    return ok;
}

static bool s_dec_log(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    pb_log_t *l = &m->u.log;
    return s_str(c, f, 0, "job_id", &l->job_id)
        && s_u32(c, f, 1, "attempt", &l->attempt)
        && s_u32(c, f, 2, "stream", &l->stream)
        && s_bytes(c, f, 3, "data", &l->data);
}

static bool s_dec_done(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    void *items = NULL;
    bool ok = s_list(c, f, 0, &s_done_list, &items, &m->u.done.n);
    m->u.done.items = items;
    return ok;
}

static bool s_dec_welcome(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    pb_welcome_t *w = &m->u.welcome;
    return s_u32(c, f, 0, "heartbeat_ms", &w->heartbeat_ms)
        && s_u32(c, f, 1, "liveness", &w->liveness)
        && s_str(c, f, 2, "version", &w->version);
}

static bool s_dec_assign(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    void *items = NULL;
    bool ok = s_list(c, f, 0, &s_assign_list, &items, &m->u.assign.n);
    m->u.assign.items = items;
    return ok;
}

static bool s_dec_revoke(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    return s_item_lease_ref(c, f, &m->u.revoke);
}

static bool s_dec_submit(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    pb_submit_t *s = &m->u.submit;
    void *items = NULL;
    bool ok = s_u64(c, f, 0, "req_id", &s->req_id)
           && s_list(c, f, 1, &s_submit_list, &items, &s->n)
           && s_bool(c, f, 2, "wait", &s->wait);
    s->items = items;
    return ok;
}

/* JOB and CANCEL */
static bool s_dec_job(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    return s_u64(c, f, 0, "req_id", &m->u.query.req_id)
        && s_str(c, f, 1, "job_id", &m->u.query.job_id);
}

static bool s_key_is(const msgpack_object *k, const char *name)
{
    size_t len = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
        && memcmp(k->via.str.ptr, name, len) == 0;
}

/* One entry of the JOBS filter; unknown keys are skipped. */
static bool s_filter_entry(s_ctx_t *c, const msgpack_object_kv *kv, pb_query_t *q)
{
    uint64_t v;
    const char *bad = NULL;
    if (s_key_is(&kv->key, "state")) {
        if (kv->val.type == MSGPACK_OBJECT_STR) q->state = s_str_of(&kv->val);
        else bad = "state must be str";
    } else if (s_key_is(&kv->key, "role")) {
        if (kv->val.type == MSGPACK_OBJECT_STR) q->role = s_str_of(&kv->val);
        else bad = "role must be str";
    } else if (s_key_is(&kv->key, "limit")) {
        if (s_as_u64(&kv->val, &v) && v <= UINT32_MAX) q->limit = (uint32_t) v;
        else bad = "limit must be uint32";
    }
    if (bad)
        s_set(c->err, PB_E_MALFORMED, "%s: field 2 (filter) key %s", c->cmd, bad);
    return bad == NULL;
}

static bool s_dec_jobs(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    if (!s_u64(c, f, 0, "req_id", &m->u.query.req_id))
        return false;
    if (f[1].type != MSGPACK_OBJECT_MAP)
        return s_bad(c, 1, "filter", "map");
    const msgpack_object_map *map = &f[1].via.map;
    for (uint32_t k = 0; k < map->size; k++)
        if (!s_filter_entry(c, &map->ptr[k], &m->u.query))
            return false;
    return true;
}

static bool s_dec_workers(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    return s_u64(c, f, 0, "req_id", &m->u.query.req_id);
}

static bool s_dec_logs(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    return s_u64(c, f, 0, "req_id", &m->u.query.req_id)
        && s_str(c, f, 1, "job_id", &m->u.query.job_id)
        && s_u64(c, f, 2, "offset", &m->u.query.offset)
        && s_u32(c, f, 3, "limit", &m->u.query.limit);
}

static bool s_dec_drain_worker(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    return s_u64(c, f, 0, "req_id", &m->u.query.req_id)
        && s_str(c, f, 1, "worker_id", &m->u.query.worker_id)
        && s_bool(c, f, 2, "drain", &m->u.query.drain);
}

static bool s_dec_submitted(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    pb_submitted_t *s = &m->u.submitted;
    void *items = NULL;
    bool ok = s_u64(c, f, 0, "req_id", &s->req_id)
           && s_list(c, f, 1, &s_submitted_list, &items, &s->n);
    s->items = items;
    return ok;
}

static bool s_dec_reply(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    m->u.reply.body = &f[1];
    return s_u64(c, f, 0, "req_id", &m->u.reply.req_id);
}

static bool s_dec_result(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    if (f[0].type != MSGPACK_OBJECT_ARRAY)
        return s_bad(c, 0, "jobs", "[map]");
    for (uint32_t i = 0; i < f[0].via.array.size; i++)
        if (f[0].via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
            return s_bad(c, 0, "jobs", "[map]");
    m->u.reply.req_id = 0;
    m->u.reply.body = &f[0];
    return true;
}

/* PING, PONG: the sequence number is optional (version-1 peers may send none). */
static bool s_dec_ping(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    m->u.ping.seq = 0;
    return c->nfields < 1 || s_u64(c, f, 0, "seq", &m->u.ping.seq);
}

static bool s_dec_error(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    pb_error_t *e = &m->u.error;
    return s_u64(c, f, 0, "req_id", &e->req_id)
        && s_str(c, f, 1, "code", &e->code)
        && s_str(c, f, 2, "message", &e->message);
}

static bool s_dec_api(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    pb_api_t *a = &m->u.api;
    return s_u64(c, f, 0, "req_id", &a->req_id)
        && s_str(c, f, 1, "op", &a->op)
        && s_str(c, f, 2, "body", &a->body);
}

static bool s_dec_enroll(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    pb_enroll_t *e = &m->u.enroll;
    return s_str(c, f, 0, "kind", &e->kind)
        && s_str(c, f, 1, "public_key", &e->public_key)
        && s_str(c, f, 2, "id", &e->id)
        && s_str(c, f, 3, "name", &e->name);
}

static bool s_dec_enrolled(s_ctx_t *c, const msgpack_object *f, pb_msg_t *m)
{
    return s_str(c, f, 0, "user_id", &m->u.enrolled.user_id);
}

/* ---- the command table -------------------------------------------------- */

typedef struct {
    const char *name;       /* on the wire */
    uint32_t nfields;       /* fields after the command, at least */
    s_dec_fn decode;        /* NULL: no fields */
} s_cmd_info_t;

static const s_cmd_info_t s_cmds[PB_CMD_COUNT] = {
    [PB_INVALID]   = { "INVALID", 0, NULL },
    [PB_HELLO]     = { "HELLO", 10, s_dec_hello },
    [PB_PING]      = { "PING", 0, s_dec_ping },
    [PB_LOG]       = { "LOG", 4, s_dec_log },
    [PB_DONE]      = { "DONE", 1, s_dec_done },
    [PB_DRAIN]     = { "DRAIN", 0, NULL },
    [PB_BYE]       = { "BYE", 0, NULL },
    [PB_WELCOME]   = { "WELCOME", 3, s_dec_welcome },
    [PB_PONG]      = { "PONG", 0, s_dec_ping },
    [PB_ASSIGN]    = { "ASSIGN", 1, s_dec_assign },
    [PB_REVOKE]    = { "REVOKE", 2, s_dec_revoke },
    [PB_SUBMIT]    = { "SUBMIT", 3, s_dec_submit },
    [PB_JOB]       = { "JOB", 2, s_dec_job },
    [PB_JOBS]      = { "JOBS", 2, s_dec_jobs },
    [PB_WORKERS]   = { "WORKERS", 1, s_dec_workers },
    [PB_CANCEL]    = { "CANCEL", 2, s_dec_job },
    [PB_RETRY]     = { "RETRY", 2, s_dec_job },
    [PB_LOGS]      = { "LOGS", 4, s_dec_logs },
    [PB_DRAIN_WORKER] = { "DRAIN_WORKER", 3, s_dec_drain_worker },
    [PB_ROLES]     = { "ROLES", 1, s_dec_workers },
    [PB_API]       = { "API", 3, s_dec_api },
    [PB_SUBMITTED] = { "SUBMITTED", 2, s_dec_submitted },
    [PB_REPLY]     = { "REPLY", 2, s_dec_reply },
    [PB_RESULT]    = { "RESULT", 1, s_dec_result },
    [PB_ERROR]     = { "ERROR", 3, s_dec_error },
    [PB_ENROLL]    = { "ENROLL", 4, s_dec_enroll },
    [PB_ENROLLED]  = { "ENROLLED", 1, s_dec_enrolled },
};

uint64_t pb_req_id(const pb_msg_t *m)
{
    switch (m->cmd) {
    case PB_REPLY:
        return m->u.reply.req_id;
    case PB_SUBMITTED:
        return m->u.submitted.req_id;
    case PB_ERROR:
        return m->u.error.req_id;
    default:
        return 0;
    }
}

const char *pb_cmd_name(pb_cmd_t cmd)
{
    if ((unsigned) cmd >= PB_CMD_COUNT)
        return s_cmds[PB_INVALID].name;
    return s_cmds[cmd].name;
}

/* The command named by o, or PB_INVALID. */
static pb_cmd_t s_cmd_find(const msgpack_object *o)
{
    for (int c = PB_INVALID + 1; c < PB_CMD_COUNT; c++)
        if (s_key_is(o, s_cmds[c].name))
            return (pb_cmd_t) c;
    return PB_INVALID;
}

/* A peer's string made safe for a reason: printable ASCII, cut short. */
static void s_printable(char *dst, size_t cap, const char *src, uint32_t len)
{
    size_t n = 0;
    for (; n < len && n < S_NAME_SHOWN && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char) src[n];
        dst[n] = ch >= 0x20 && ch < 0x7f ? (char) ch : '?';
    }
    dst[n] = '\0';
}

/* ---- step 3: envelope, then dispatch ------------------------------------ */

/* ["PB", version, command, ...]: finds the command or explains why not. */
static pb_cmd_t s_envelope(const msgpack_object *top, pb_err_t *err)
{
    if (top->type != MSGPACK_OBJECT_ARRAY || top->via.array.size == 0) {
        s_set(err, PB_E_MALFORMED, "%s", S_NOT_ARRAY);
        return PB_INVALID;
    }
    const msgpack_object *h = top->via.array.ptr;
    uint64_t version;
    if (!s_key_is(&h[0], PB_SIGNATURE)) {
        s_set(err, PB_E_SIGNATURE, "signature is not \"%s\"", PB_SIGNATURE);
        return PB_INVALID;
    }
    if (top->via.array.size < 2 || !s_as_u64(&h[1], &version)) {
        s_set(err, PB_E_MALFORMED, "version must be uint");
        return PB_INVALID;
    }
    if (version != PB_VERSION) {
        err->peer_version = version > UINT32_MAX ? UINT32_MAX : (uint32_t) version;
        s_set(err, PB_E_VERSION, "peer speaks version %llu, this node speaks %d",
              (unsigned long long) version, PB_VERSION);
        return PB_INVALID;
    }
    if (top->via.array.size < 3 || h[2].type != MSGPACK_OBJECT_STR) {
        s_set(err, PB_E_MALFORMED, "command must be str");
        return PB_INVALID;
    }
    pb_cmd_t cmd = s_cmd_find(&h[2]);
    if (cmd == PB_INVALID) {
        char shown[S_NAME_SHOWN + 1];
        s_printable(shown, sizeof shown, h[2].via.str.ptr, h[2].via.str.size);
        s_set(err, PB_E_COMMAND, "unknown command \"%s%s\"", shown,
              h[2].via.str.size > S_NAME_SHOWN ? "..." : "");
    }
    return cmd;
}

static bool s_decode_fields(pb_msg_t *msg, pb_err_t *err)
{
    const msgpack_object *top = &msg->unpacked.data;
    pb_cmd_t cmd = s_envelope(top, err);
    if (cmd == PB_INVALID)
        return false;
    const s_cmd_info_t *info = &s_cmds[cmd];
    uint32_t have = top->via.array.size - 3;
    if (have < info->nfields) {
        s_set(err, PB_E_MALFORMED, "%s: %u fields, needs %u",
              info->name, (unsigned) have, (unsigned) info->nfields);
        return false;
    }
    msg->cmd = cmd;
    s_ctx_t c = { msg->unpacked.zone, info->name, err, 0, -1, 0, top->via.array.size - 3 };
    return info->decode == NULL || info->decode(&c, top->via.array.ptr + 3, msg);
}

pb_msg_t *pb_decode(const void *data, size_t size, pb_err_t *err)
{
    pb_err_t spare;
    if (!err)
        err = &spare;
    memset(err, 0, sizeof *err);
    if (!data || size == 0) {
        s_set(err, PB_E_MALFORMED, "empty frame");
        return NULL;
    }
    const char *why = s_prescan(data, size);
    if (why) {
        s_set(err, PB_E_MALFORMED, "bad msgpack: %s", why);
        return NULL;
    }
    pb_msg_t *msg = calloc(1, sizeof *msg);
    if (!msg) {
        s_set(err, PB_E_MALFORMED, "out of memory");
        return NULL;
    }
    if (!s_unpack(msg, data, size, err) || !s_decode_fields(msg, err)) {
        pb_msg_destroy(&msg);
        return NULL;
    }
    return msg;
}

void pb_msg_destroy(pb_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    msgpack_unpacked_destroy(&(*self_p)->unpacked);
    free(*self_p);
    *self_p = NULL;
}

/* ---- encoding: buffer and single values --------------------------------- */

void pb_buf_init(pb_buf_t *b)
{
    msgpack_sbuffer_init(&b->sbuf);
    msgpack_packer_init(&b->pk, &b->sbuf, msgpack_sbuffer_write);
}

void pb_buf_reset(pb_buf_t *b)
{
    msgpack_sbuffer_clear(&b->sbuf);
}

/* Leaves b empty and usable, so a second free is harmless. */
void pb_buf_free(pb_buf_t *b)
{
    msgpack_sbuffer_destroy(&b->sbuf);
    pb_buf_init(b);
}

void pb_w_begin(pb_buf_t *b, pb_cmd_t cmd, uint32_t nfields)
{
    msgpack_pack_array(&b->pk, 3 + (size_t) nfields);
    pb_w_cstr(b, PB_SIGNATURE);
    pb_w_uint(b, PB_VERSION);
    pb_w_cstr(b, pb_cmd_name(cmd));
}

void pb_w_str(pb_buf_t *b, const char *s, size_t len)
{
    msgpack_pack_str(&b->pk, len);
    if (len > 0)
        msgpack_pack_str_body(&b->pk, s, len);
}

void pb_w_cstr(pb_buf_t *b, const char *s)
{
    if (s)
        pb_w_str(b, s, strlen(s));
    else
        pb_w_nil(b);
}

void pb_w_pstr(pb_buf_t *b, pb_str_t s)
{
    if (s.ptr)
        pb_w_str(b, s.ptr, s.len);
    else
        pb_w_nil(b);
}

void pb_w_bin(pb_buf_t *b, const void *p, size_t len)
{
    msgpack_pack_bin(&b->pk, len);
    if (len > 0)
        msgpack_pack_bin_body(&b->pk, p, len);
}

void pb_w_uint(pb_buf_t *b, uint64_t v) { msgpack_pack_uint64(&b->pk, v); }
void pb_w_int(pb_buf_t *b, int64_t v)   { msgpack_pack_int64(&b->pk, v); }
void pb_w_nil(pb_buf_t *b)              { msgpack_pack_nil(&b->pk); }
void pb_w_array(pb_buf_t *b, uint32_t n) { msgpack_pack_array(&b->pk, n); }
void pb_w_map(pb_buf_t *b, uint32_t n)   { msgpack_pack_map(&b->pk, n); }

void pb_w_bool(pb_buf_t *b, bool v)
{
    if (v)
        msgpack_pack_true(&b->pk);
    else
        msgpack_pack_false(&b->pk);
}

/* A non-nullable string: ptr NULL writes "". */
static void s_w_s(pb_buf_t *b, pb_str_t s)
{
    pb_w_str(b, s.ptr, s.len);
}

void pb_w_kvs(pb_buf_t *b, const pb_kvs_t *kvs)
{
    uint32_t n = kvs ? kvs->n : 0;
    pb_w_map(b, n);
    for (uint32_t i = 0; i < n; i++) {
        s_w_s(b, kvs->items[i].key);
        s_w_s(b, kvs->items[i].val);
    }
}

void pb_w_strs(pb_buf_t *b, const pb_strs_t *s)
{
    uint32_t n = s ? s->n : 0;
    pb_w_array(b, n);
    for (uint32_t i = 0; i < n; i++)
        s_w_s(b, s->items[i]);
}

/* ---- encoding: whole messages ------------------------------------------- */

static void s_w_lease_ref(pb_buf_t *b, const pb_lease_ref_t *r)
{
    pb_w_array(b, 2);
    s_w_s(b, r->job_id);
    pb_w_uint(b, r->attempt);
}

void pb_enc_hello(pb_buf_t *b, const pb_hello_t *m)
{
    pb_w_begin(b, PB_HELLO, 10);
    s_w_s(b, m->worker_id);
    s_w_s(b, m->name);
    pb_w_strs(b, &m->roles);
    pb_w_uint(b, m->slots);
    pb_w_kvs(b, &m->labels);
    s_w_s(b, m->version);
    pb_w_uint(b, m->heartbeat_ms);
    pb_w_uint(b, m->liveness);
    pb_w_array(b, m->n_running);
    for (uint32_t i = 0; i < m->n_running; i++)
        s_w_lease_ref(b, &m->running[i]);
    pb_w_bool(b, m->draining);
}

void pb_enc_ping(pb_buf_t *b, uint64_t seq)
{
    pb_w_begin(b, PB_PING, 1);
    pb_w_uint(b, seq);
}

void pb_enc_pong(pb_buf_t *b, uint64_t seq)
{
    pb_w_begin(b, PB_PONG, 1);
    pb_w_uint(b, seq);
}

void pb_enc_drain(pb_buf_t *b) { pb_w_begin(b, PB_DRAIN, 0); }
void pb_enc_bye(pb_buf_t *b)   { pb_w_begin(b, PB_BYE, 0); }

void pb_enc_log(pb_buf_t *b, const pb_log_t *m)
{
    pb_w_begin(b, PB_LOG, 4);
    s_w_s(b, m->job_id);
    pb_w_uint(b, m->attempt);
    pb_w_uint(b, m->stream);
    pb_w_bin(b, m->data.ptr, m->data.len);
}

void pb_enc_done(pb_buf_t *b, const pb_done_item_t *items, uint32_t n)
{
    pb_w_begin(b, PB_DONE, 1);
    pb_w_array(b, n);
    for (uint32_t i = 0; i < n; i++) {
        const pb_done_item_t *d = &items[i];
        pb_w_array(b, 6);
        s_w_s(b, d->job_id);
        pb_w_uint(b, d->attempt);
        s_w_s(b, d->state);
        if (d->has_exit_code)
            pb_w_int(b, d->exit_code);
        else
            pb_w_nil(b);
        pb_w_pstr(b, d->result);
        pb_w_pstr(b, d->error);
    }
}

void pb_enc_welcome(pb_buf_t *b, const pb_welcome_t *m)
{
    pb_w_begin(b, PB_WELCOME, 3);
    pb_w_uint(b, m->heartbeat_ms);
    pb_w_uint(b, m->liveness);
    s_w_s(b, m->version);
}

void pb_enc_assign(pb_buf_t *b, const pb_lease_t *items, uint32_t n)
{
    pb_w_begin(b, PB_ASSIGN, 1);
    pb_w_array(b, n);
    for (uint32_t i = 0; i < n; i++) {
        const pb_lease_t *l = &items[i];
        pb_w_array(b, 8);
        s_w_s(b, l->job_id);
        pb_w_uint(b, l->attempt);
        s_w_s(b, l->role);
        s_w_s(b, l->payload);
        pb_w_strs(b, &l->command);
        pb_w_bool(b, l->shell);
        pb_w_kvs(b, &l->env);
        pb_w_uint(b, l->timeout_ms);
    }
}

void pb_enc_revoke(pb_buf_t *b, const pb_lease_ref_t *m)
{
    pb_w_begin(b, PB_REVOKE, 2);
    s_w_s(b, m->job_id);
    pb_w_uint(b, m->attempt);
}

void pb_enc_submit(pb_buf_t *b, uint64_t req_id, const pb_submit_item_t *items,
                   uint32_t n, bool wait)
{
    pb_w_begin(b, PB_SUBMIT, 3);
    pb_w_uint(b, req_id);
    pb_w_array(b, n);
    for (uint32_t i = 0; i < n; i++) {
        pb_w_array(b, 6);
        s_w_s(b, items[i].role);
        s_w_s(b, items[i].payload);
        pb_w_int(b, items[i].priority);
        pb_w_kvs(b, &items[i].where);
        pb_w_uint(b, items[i].delay_ms);
        pb_w_pstr(b, items[i].idem_key);
    }
    pb_w_bool(b, wait);
}

static void s_w_filter(pb_buf_t *b, const pb_query_t *q)
{
    uint32_t n = (q->state.ptr ? 1u : 0u) + (q->role.ptr ? 1u : 0u) + (q->limit ? 1u : 0u);
    pb_w_map(b, n);
    if (q->state.ptr) {
        pb_w_cstr(b, "state");
        s_w_s(b, q->state);
    }
    if (q->role.ptr) {
        pb_w_cstr(b, "role");
        s_w_s(b, q->role);
    }
    if (q->limit > 0) {
        pb_w_cstr(b, "limit");
        pb_w_uint(b, q->limit);
    }
}

/* Any other cmd writes nothing: it is not a query. */
void pb_enc_query(pb_buf_t *b, pb_cmd_t cmd, const pb_query_t *q)
{
    switch (cmd) {
    case PB_JOB:
    case PB_CANCEL:
    case PB_RETRY:
        pb_w_begin(b, cmd, 2);
        pb_w_uint(b, q->req_id);
        s_w_s(b, q->job_id);
        break;
    case PB_JOBS:
        pb_w_begin(b, cmd, 2);
        pb_w_uint(b, q->req_id);
        s_w_filter(b, q);
        break;
    case PB_WORKERS:
    case PB_ROLES:
        pb_w_begin(b, cmd, 1);
        pb_w_uint(b, q->req_id);
        break;
    case PB_LOGS:
        pb_w_begin(b, cmd, 4);
        pb_w_uint(b, q->req_id);
        s_w_s(b, q->job_id);
        pb_w_uint(b, q->offset);
        pb_w_uint(b, q->limit);
        break;
    case PB_DRAIN_WORKER:
        pb_w_begin(b, cmd, 3);
        pb_w_uint(b, q->req_id);
        s_w_s(b, q->worker_id);
        pb_w_bool(b, q->drain);
        break;
    default:
        break;
    }
}

void pb_enc_submitted(pb_buf_t *b, uint64_t req_id,
                      const pb_submitted_item_t *items, uint32_t n)
{
    pb_w_begin(b, PB_SUBMITTED, 2);
    pb_w_uint(b, req_id);
    pb_w_array(b, n);
    for (uint32_t i = 0; i < n; i++) {
        pb_w_array(b, 2);
        pb_w_pstr(b, items[i].job_id);
        pb_w_pstr(b, items[i].error);
    }
}

void pb_enc_api(pb_buf_t *b, uint64_t req_id, const char *op, const char *body, size_t len)
{
    pb_w_begin(b, PB_API, 3);
    pb_w_uint(b, req_id);
    pb_w_cstr(b, op);
    pb_w_str(b, body, len);
}

/* code and message are str on the wire: NULL writes "". */
void pb_enc_error(pb_buf_t *b, uint64_t req_id, const char *code, const char *message)
{
    pb_w_begin(b, PB_ERROR, 3);
    pb_w_uint(b, req_id);
    pb_w_cstr(b, code ? code : "");
    pb_w_cstr(b, message ? message : "");
}

void pb_enc_reply_begin(pb_buf_t *b, uint64_t req_id)
{
    pb_w_begin(b, PB_REPLY, 2);
    pb_w_uint(b, req_id);
}

void pb_enc_result_begin(pb_buf_t *b, uint32_t njobs)
{
    pb_w_begin(b, PB_RESULT, 1);
    pb_w_array(b, njobs);
}

void pb_w_raw(pb_buf_t *b, const void *p, size_t len)
{
    msgpack_sbuffer_write(&b->sbuf, p, len);
}

/* ---- pb_str_t helpers --------------------------------------------------- */

bool pb_str_eq(pb_str_t a, const char *cstr)
{
    if (!a.ptr || !cstr)
        return !a.ptr && !cstr;
    size_t len = strlen(cstr);
    return a.len == len && memcmp(a.ptr, cstr, len) == 0;
}

/* A NUL byte inside s ends the copy early for str* functions; the bytes
   after it are still copied. */
char *pb_str_dup(pb_str_t s)
{
    if (!s.ptr)
        return NULL;
    char *d = malloc((size_t) s.len + 1);
    if (!d)
        return NULL;
    memcpy(d, s.ptr, s.len);
    d[s.len] = '\0';
    return d;
}

void pb_enc_enroll(pb_buf_t *b, const pb_enroll_t *m)
{
    pb_w_begin(b, PB_ENROLL, 4);
    pb_w_pstr(b, m->kind);
    pb_w_pstr(b, m->public_key);
    pb_w_pstr(b, m->id);
    pb_w_pstr(b, m->name);
}

void pb_enc_enrolled(pb_buf_t *b, const char *user_id)
{
    pb_w_begin(b, PB_ENROLLED, 1);
    pb_w_cstr(b, user_id);
}
