/*  tests/unit/test_proto.c — tests of mesh/proto.c, the wire codec.

    Three kinds of test:
    - round trips: every command is encoded with its pb_enc_* function,
      decoded, and every field compared, including nil, empty and binary
      values. Frames are decoded from a heap copy that is freed before the
      fields are read, so under ASan a decoded string that pointed into the
      caller's frame would be a use-after-free.
    - hostile input: a table (t_specs) describes the fields of every command
      and which msgpack kinds each accepts; the tests write every wrong kind
      into every field and item position, drop and add fields, and feed
      truncated, oversized, deep and garbled frames.
    - a deterministic mutation loop over valid frames that only asks for a
      clean answer (a message whose every byte can be read, or NULL with a
      reason); run it under -fsanitize=address,undefined.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/proto.h"

/* A pb_str_t from a string literal, usable in initializers. */
#define S(lit) { (lit), sizeof(lit) - 1 }
/* A literal's bytes and length as two arguments; the literal may hold NULs. */
#define B(lit) (lit), sizeof(lit) - 1

/* ---- helpers ------------------------------------------------------------ */

/* Decodes b from a heap copy that is gone before the caller reads fields. */
static pb_msg_t *t_decode(const pb_buf_t *b, pb_err_t *err)
{
    size_t n = pb_buf_size(b);
    void *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, pb_buf_data(b), n);
    pb_msg_t *m = pb_decode(copy, n, err);
    memset(copy, 0xee, n);
    free(copy);
    return m;
}

static pb_msg_t *t_ok(const pb_buf_t *b, pb_cmd_t cmd)
{
    pb_err_t err;
    pb_msg_t *m = t_decode(b, &err);
    if (!m)
        fail_msg("decode failed: %s", err.reason);
    assert_int_equal(err.status, PB_OK);
    assert_int_equal(m->cmd, cmd);
    return m;
}

/* The reason is one NUL-terminated line of printable ASCII. */
static void t_reason_sane(const pb_err_t *err)
{
    assert_non_null(memchr(err->reason, '\0', sizeof err->reason));
    assert_true(err->reason[0] != '\0');
    for (const char *p = err->reason; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
}

/* Decoding fails with status; the reason holds needle when not NULL. */
static void t_bad_bytes(const void *data, size_t size, pb_status_t status, const char *needle)
{
    pb_err_t err;
    pb_msg_t *m = pb_decode(data, size, &err);
    if (m) {
        pb_msg_destroy(&m);
        fail_msg("decode accepted a frame it should reject (%s)", needle ? needle : "");
    }
    assert_int_equal(err.status, status);
    t_reason_sane(&err);
    if (needle && !strstr(err.reason, needle))
        fail_msg("reason \"%s\" lacks \"%s\"", err.reason, needle);
}

static void t_bad(const pb_buf_t *b, pb_status_t status, const char *needle)
{
    t_bad_bytes(pb_buf_data(b), pb_buf_size(b), status, needle);
}

/* got equals want; want NULL means nil. */
static void t_str(pb_str_t got, const char *want)
{
    if (!want) {
        assert_null(got.ptr);
        assert_int_equal(got.len, 0);
        return;
    }
    assert_non_null(got.ptr);
    assert_int_equal(got.len, strlen(want));
    if (got.len)
        assert_memory_equal(got.ptr, want, got.len);
}

static void t_kv(const pb_kvs_t *kvs, uint32_t i, const char *key, const char *val)
{
    assert_true(i < kvs->n);
    t_str(kvs->items[i].key, key);
    t_str(kvs->items[i].val, val);
}

/* Raw bytes appended to b, for encodings the writers do not produce. */
static void t_raw(pb_buf_t *b, const char *bytes, size_t n)
{
    assert_int_equal(msgpack_sbuffer_write(&b->sbuf, bytes, n), 0);
}

/* ---- fixtures: one full frame per command ------------------------------- */

static void t_enc_hello(pb_buf_t *b)
{
    pb_str_t roles[] = { S("build"), S("test") };
    pb_kv_t labels[] = { { S("os"), S("linux") }, { S("gpu"), S("") } };
    pb_lease_ref_t running[] = { { S("j1"), 1 }, { S("j2"), 4000000000u } };
    pb_hello_t h = {
        S("w-1"), S("alpha"), { roles, 2 }, 8, { labels, 2 }, S("0.1.0"),
        1000, 3, running, 2, true
    };
    pb_enc_hello(b, &h);
}

static void t_check_hello(const pb_hello_t *h)
{
    t_str(h->worker_id, "w-1");
    t_str(h->name, "alpha");
    assert_int_equal(h->roles.n, 2);
    t_str(h->roles.items[0], "build");
    t_str(h->roles.items[1], "test");
    assert_int_equal(h->slots, 8);
    assert_int_equal(h->labels.n, 2);
    t_kv(&h->labels, 0, "os", "linux");
    t_kv(&h->labels, 1, "gpu", "");
    t_str(h->version, "0.1.0");
    assert_int_equal(h->heartbeat_ms, 1000);
    assert_int_equal(h->liveness, 3);
    assert_int_equal(h->n_running, 2);
    t_str(h->running[0].job_id, "j1");
    assert_int_equal(h->running[0].attempt, 1);
    t_str(h->running[1].job_id, "j2");
    assert_int_equal(h->running[1].attempt, 4000000000u);
    assert_true(h->draining);
}

static const char t_log_bytes[] = { 'a', '\0', 'b', '\0', (char) 0xff, '\n' };

static void t_enc_log(pb_buf_t *b)
{
    pb_log_t l = { S("j1"), 2, 2, { t_log_bytes, sizeof t_log_bytes } };
    pb_enc_log(b, &l);
}

static void t_enc_done(pb_buf_t *b)
{
    pb_done_item_t d[] = {
        { S("j1"), 1, S("succeeded"), true, 0, S("{\"ok\":1}"), { NULL, 0 } },
        { S("j2"), 3, S("cancelled"), false, 0, { NULL, 0 }, S("killed") },
        { S("j3"), 2, S("failed"), true, INT32_MIN, S(""), S("") },
    };
    pb_enc_done(b, d, 3);
}

static void t_check_done(const pb_done_t *d)
{
    assert_int_equal(d->n, 3);
    t_str(d->items[0].job_id, "j1");
    assert_int_equal(d->items[0].attempt, 1);
    t_str(d->items[0].state, "succeeded");
    assert_true(d->items[0].has_exit_code);
    assert_int_equal(d->items[0].exit_code, 0);
    t_str(d->items[0].result, "{\"ok\":1}");
    t_str(d->items[0].error, NULL);
    t_str(d->items[1].job_id, "j2");
    assert_int_equal(d->items[1].attempt, 3);
    t_str(d->items[1].state, "cancelled");
    assert_false(d->items[1].has_exit_code);
    t_str(d->items[1].result, NULL);
    t_str(d->items[1].error, "killed");
    t_str(d->items[2].state, "failed");
    assert_true(d->items[2].has_exit_code);
    assert_int_equal(d->items[2].exit_code, INT32_MIN);
    t_str(d->items[2].result, "");
    t_str(d->items[2].error, "");
}

static void t_enc_assign(pb_buf_t *b)
{
    pb_str_t argv[] = { S("sh"), S("-c"), S("echo {{PAYLOAD}}") };
    pb_kv_t env[] = { { S("A"), S("1") }, { S("B"), S("two words") } };
    pb_lease_t l[] = {
        { S("j1"), 1, S("build"), S("{\"x\":1}"), { argv, 3 }, true, { env, 2 }, 30000 },
        { S("j2"), 7, S("echo"), S("null"), { NULL, 0 }, false, { NULL, 0 }, 0 },
    };
    pb_enc_assign(b, l, 2);
}

static void t_check_assign(const pb_assign_t *a)
{
    assert_int_equal(a->n, 2);
    const pb_lease_t *l = &a->items[0];
    t_str(l->job_id, "j1");
    assert_int_equal(l->attempt, 1);
    t_str(l->role, "build");
    t_str(l->payload, "{\"x\":1}");
    assert_int_equal(l->command.n, 3);
    t_str(l->command.items[0], "sh");
    t_str(l->command.items[1], "-c");
    t_str(l->command.items[2], "echo {{PAYLOAD}}");
    assert_true(l->shell);
    assert_int_equal(l->env.n, 2);
    t_kv(&l->env, 0, "A", "1");
    t_kv(&l->env, 1, "B", "two words");
    assert_int_equal(l->timeout_ms, 30000);
    l = &a->items[1];
    t_str(l->job_id, "j2");
    assert_int_equal(l->attempt, 7);
    t_str(l->role, "echo");
    t_str(l->payload, "null");
    assert_int_equal(l->command.n, 0);
    assert_false(l->shell);
    assert_int_equal(l->env.n, 0);
    assert_int_equal(l->timeout_ms, 0);
}

static void t_enc_submit(pb_buf_t *b)
{
    pb_kv_t where[] = { { S("os"), S("linux") } };
    pb_submit_item_t s[] = {
        { S("build"), S("{}"), INT32_MIN, { where, 1 }, 0, { NULL, 0 } },
        { S("echo"), S("[1]"), INT32_MAX, { NULL, 0 }, UINT32_MAX, S("key-1") },
        { S("sleep"), S("5"), -5, { NULL, 0 }, 1500, { NULL, 0 } },
    };
    pb_enc_submit(b, UINT64_MAX, s, 3, true);
}

static void t_check_submit(const pb_submit_t *s)
{
    assert_true(s->req_id == UINT64_MAX);
    assert_true(s->wait);
    assert_int_equal(s->n, 3);
    t_str(s->items[0].role, "build");
    t_str(s->items[0].payload, "{}");
    assert_int_equal(s->items[0].priority, INT32_MIN);
    assert_int_equal(s->items[0].where.n, 1);
    t_kv(&s->items[0].where, 0, "os", "linux");
    t_str(s->items[1].role, "echo");
    t_str(s->items[1].payload, "[1]");
    assert_int_equal(s->items[1].priority, INT32_MAX);
    assert_int_equal(s->items[1].where.n, 0);
    t_str(s->items[2].role, "sleep");
    assert_int_equal(s->items[2].priority, -5);
    assert_int_equal(s->items[0].delay_ms, 0);
    assert_null(s->items[0].idem_key.ptr);
    assert_true(s->items[1].delay_ms == UINT32_MAX);
    t_str(s->items[1].idem_key, "key-1");
    assert_int_equal(s->items[2].delay_ms, 1500);
    assert_null(s->items[2].idem_key.ptr);
}

/* A version-1 SUBMIT item of only the first four fields is still valid. */
static void test_submit_short_items(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_w_begin(&b, PB_SUBMIT, 3);
    pb_w_uint(&b, 1);
    pb_w_array(&b, 1);
    pb_w_array(&b, 4);
    pb_w_cstr(&b, "echo");
    pb_w_cstr(&b, "{}");
    pb_w_int(&b, 0);
    pb_w_map(&b, 0);
    pb_w_bool(&b, false);
    pb_err_t err;
    pb_msg_t *m = pb_decode(pb_buf_data(&b), pb_buf_size(&b), &err);
    assert_non_null(m);
    assert_int_equal(m->u.submit.items[0].delay_ms, 0);
    assert_null(m->u.submit.items[0].idem_key.ptr);
    pb_msg_destroy(&m);
    /* the optional fields are checked when present */
    for (int bad = 0; bad < 2; bad++) {
        pb_buf_reset(&b);
        pb_w_begin(&b, PB_SUBMIT, 3);
        pb_w_uint(&b, 1);
        pb_w_array(&b, 1);
        pb_w_array(&b, 6);
        pb_w_cstr(&b, "echo");
        pb_w_cstr(&b, "{}");
        pb_w_int(&b, 0);
        pb_w_map(&b, 0);
        if (bad == 0)
            pb_w_int(&b, -1);          /* delay_ms must be uint32 */
        else
            pb_w_uint(&b, 5);
        if (bad == 1)
            pb_w_uint(&b, 7);          /* idempotency_key must be str or nil */
        else
            pb_w_nil(&b);
        pb_w_bool(&b, false);
        assert_null(pb_decode(pb_buf_data(&b), pb_buf_size(&b), &err));
        assert_non_null(strstr(err.reason, bad == 0 ? "delay_ms" : "idempotency_key"));
    }
    pb_buf_free(&b);
}

static void t_enc_submitted(pb_buf_t *b)
{
    pb_submitted_item_t s[] = {
        { S("01J0000000000001"), { NULL, 0 } },
        { { NULL, 0 }, S("unknown role \"nope\"") },
    };
    pb_enc_submitted(b, 42, s, 2);
}

static void t_enc_jobs(pb_buf_t *b)
{
    pb_query_t q = { .req_id = 9, .state = S("running"), .role = S("build"), .limit = 50 };
    pb_enc_query(b, PB_JOBS, &q);
}

static void t_enc_reply(pb_buf_t *b)
{
    pb_enc_reply_begin(b, 77);
    pb_w_map(b, 3);
    pb_w_cstr(b, "id");
    pb_w_cstr(b, "j1");
    pb_w_cstr(b, "n");
    pb_w_array(b, 2);
    pb_w_int(b, -1);
    pb_w_uint(b, 2);
    pb_w_cstr(b, "x");
    pb_w_nil(b);
}

static void t_enc_result(pb_buf_t *b)
{
    pb_enc_result_begin(b, 1);
    pb_w_map(b, 2);
    pb_w_cstr(b, "id");
    pb_w_cstr(b, "j9");
    pb_w_cstr(b, "exit_code");
    pb_w_int(b, 3);
}

/* Every kind of valid frame, for the truncation and mutation tests. */
static void t_enc_any(pb_buf_t *b, unsigned which)
{
    pb_welcome_t w = { 1000, 3, S("0.1.0") };
    pb_lease_ref_t r = { S("j1"), 2 };
    pb_query_t q = { .req_id = 5, .job_id = S("j1") };
    switch (which % 13) {
    case 0:  t_enc_hello(b); break;
    case 1:  t_enc_log(b); break;
    case 2:  t_enc_done(b); break;
    case 3:  pb_enc_welcome(b, &w); break;
    case 4:  t_enc_assign(b); break;
    case 5:  pb_enc_revoke(b, &r); break;
    case 6:  t_enc_submit(b); break;
    case 7:  pb_enc_query(b, PB_CANCEL, &q); break;
    case 8:  t_enc_jobs(b); break;
    case 9:  t_enc_submitted(b); break;
    case 10: t_enc_reply(b); break;
    case 11: t_enc_result(b); break;
    default: pb_enc_error(b, 3, "version", "peer speaks 2"); break;
    }
}

/* ---- round trips -------------------------------------------------------- */

static void test_hello_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    t_enc_hello(&b);
    pb_msg_t *m = t_ok(&b, PB_HELLO);
    t_check_hello(&m->u.hello);
    pb_msg_destroy(&m);
    assert_null(m);
    pb_buf_free(&b);
}

static void test_hello_empty(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_hello_t h = { S(""), S(""), { NULL, 0 }, 0, { NULL, 0 }, S(""), 0, 0, NULL, 0, false };
    pb_enc_hello(&b, &h);
    pb_msg_t *m = t_ok(&b, PB_HELLO);
    t_str(m->u.hello.worker_id, "");
    t_str(m->u.hello.name, "");
    assert_int_equal(m->u.hello.roles.n, 0);
    assert_int_equal(m->u.hello.slots, 0);
    assert_int_equal(m->u.hello.labels.n, 0);
    t_str(m->u.hello.version, "");
    assert_int_equal(m->u.hello.n_running, 0);
    assert_false(m->u.hello.draining);
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

static void test_fieldless_commands(void **state)
{
    (void) state;
    static const unsigned char ping[] = { 0x94, 0xa2, 'P', 'B', 0x01, 0xa4, 'P', 'I', 'N', 'G', 0x07 };
    static const unsigned char bare[] = { 0x93, 0xa2, 'P', 'B', 0x01, 0xa4, 'P', 'O', 'N', 'G' };
    void (*enc[])(pb_buf_t *) = { pb_enc_drain, pb_enc_bye };
    pb_cmd_t cmd[] = { PB_DRAIN, PB_BYE };
    pb_buf_t b;
    pb_buf_init(&b);
    for (unsigned i = 0; i < 2; i++) {
        pb_buf_reset(&b);
        enc[i](&b);
        pb_msg_t *m = t_ok(&b, cmd[i]);
        pb_msg_destroy(&m);
    }
    pb_buf_reset(&b);
    pb_enc_ping(&b, 7);
    assert_int_equal(pb_buf_size(&b), sizeof ping);
    assert_memory_equal(pb_buf_data(&b), ping, sizeof ping);
    pb_msg_t *m = t_ok(&b, PB_PING);
    assert_true(m->u.ping.seq == 7);
    pb_msg_destroy(&m);
    pb_buf_reset(&b);
    pb_enc_pong(&b, UINT64_MAX);
    m = t_ok(&b, PB_PONG);
    assert_true(m->u.ping.seq == UINT64_MAX);
    pb_msg_destroy(&m);
    /* a PONG without its number (an older peer) is still valid: seq 0 */
    pb_buf_reset(&b);
    t_raw(&b, (const char *) bare, sizeof bare);
    m = t_ok(&b, PB_PONG);
    assert_true(m->u.ping.seq == 0);
    pb_msg_destroy(&m);
    pb_buf_reset(&b);                  /* a number that is not a uint is not */
    pb_w_begin(&b, PB_PING, 1);
    pb_w_cstr(&b, "7");
    t_bad(&b, PB_E_MALFORMED, "seq");
    pb_buf_free(&b);
}

static void test_log_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    t_enc_log(&b);
    /* data is the last value, written as bin 8: c4 06 ... */
    const unsigned char *raw = pb_buf_data(&b);
    assert_int_equal(raw[pb_buf_size(&b) - sizeof t_log_bytes - 2], 0xc4);
    pb_msg_t *m = t_ok(&b, PB_LOG);
    t_str(m->u.log.job_id, "j1");
    assert_int_equal(m->u.log.attempt, 2);
    assert_int_equal(m->u.log.stream, 2);
    assert_int_equal(m->u.log.data.len, sizeof t_log_bytes);
    assert_memory_equal(m->u.log.data.ptr, t_log_bytes, sizeof t_log_bytes);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);                       /* empty data */
    pb_log_t l = { S("j1"), 1, 1, { NULL, 0 } };
    pb_enc_log(&b, &l);
    m = t_ok(&b, PB_LOG);
    assert_int_equal(m->u.log.stream, 1);
    assert_int_equal(m->u.log.data.len, 0);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);                       /* data as str is accepted */
    pb_w_begin(&b, PB_LOG, 4);
    pb_w_cstr(&b, "j1");
    pb_w_uint(&b, 1);
    pb_w_uint(&b, 1);
    pb_w_cstr(&b, "text\n");
    m = t_ok(&b, PB_LOG);
    t_str(m->u.log.data, "text\n");
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

static void test_done_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    t_enc_done(&b);
    pb_msg_t *m = t_ok(&b, PB_DONE);
    t_check_done(&m->u.done);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);
    pb_enc_done(&b, NULL, 0);
    m = t_ok(&b, PB_DONE);
    assert_int_equal(m->u.done.n, 0);
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

static void test_welcome_revoke_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_welcome_t w = { 250, 5, S("1.2.3") };
    pb_enc_welcome(&b, &w);
    pb_msg_t *m = t_ok(&b, PB_WELCOME);
    assert_int_equal(m->u.welcome.heartbeat_ms, 250);
    assert_int_equal(m->u.welcome.liveness, 5);
    t_str(m->u.welcome.version, "1.2.3");
    pb_msg_destroy(&m);

    pb_buf_reset(&b);
    pb_lease_ref_t r = { S("01J0000000000001"), UINT32_MAX };
    pb_enc_revoke(&b, &r);
    m = t_ok(&b, PB_REVOKE);
    t_str(m->u.revoke.job_id, "01J0000000000001");
    assert_int_equal(m->u.revoke.attempt, UINT32_MAX);
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

static void test_assign_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    t_enc_assign(&b);
    pb_msg_t *m = t_ok(&b, PB_ASSIGN);
    t_check_assign(&m->u.assign);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);
    pb_enc_assign(&b, NULL, 0);
    m = t_ok(&b, PB_ASSIGN);
    assert_int_equal(m->u.assign.n, 0);
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

static void test_submit_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    t_enc_submit(&b);
    pb_msg_t *m = t_ok(&b, PB_SUBMIT);
    t_check_submit(&m->u.submit);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);
    pb_enc_submit(&b, 0, NULL, 0, false);
    m = t_ok(&b, PB_SUBMIT);
    assert_true(m->u.submit.req_id == 0);
    assert_int_equal(m->u.submit.n, 0);
    assert_false(m->u.submit.wait);
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

static void test_query_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_cmd_t cmds[] = { PB_JOB, PB_CANCEL, PB_RETRY };
    for (unsigned i = 0; i < 3; i++) {
        pb_query_t q = { .req_id = 1000 + i, .job_id = S("j7") };
        pb_buf_reset(&b);
        pb_enc_query(&b, cmds[i], &q);
        pb_msg_t *m = t_ok(&b, cmds[i]);
        assert_true(m->u.query.req_id == 1000 + i);
        t_str(m->u.query.job_id, "j7");
        pb_msg_destroy(&m);
    }

    pb_query_t w = { .req_id = 12 };
    pb_buf_reset(&b);
    pb_enc_query(&b, PB_WORKERS, &w);
    pb_msg_t *m = t_ok(&b, PB_WORKERS);
    assert_true(m->u.query.req_id == 12);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);
    pb_enc_query(&b, PB_PING, &w);          /* not a query: nothing written */
    assert_int_equal(pb_buf_size(&b), 0);
    pb_buf_free(&b);
}

/* LOGS, DRAIN_WORKER and ROLES: the CLI's logs, drain and roles commands. */
static void test_ops_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_query_t q = { .req_id = 77, .job_id = S("0000000000000abc"),
                     .offset = (1ULL << 40) + 5, .limit = 65536 };
    pb_enc_query(&b, PB_LOGS, &q);
    pb_msg_t *m = t_ok(&b, PB_LOGS);
    assert_true(m->u.query.req_id == 77);
    t_str(m->u.query.job_id, "0000000000000abc");
    assert_true(m->u.query.offset == (1ULL << 40) + 5);
    assert_int_equal(m->u.query.limit, 65536);
    pb_msg_destroy(&m);

    for (int drain = 0; drain <= 1; drain++) {
        pb_query_t d = { .req_id = 78, .worker_id = S("w-1.a_b"), .drain = drain };
        pb_buf_reset(&b);
        pb_enc_query(&b, PB_DRAIN_WORKER, &d);
        m = t_ok(&b, PB_DRAIN_WORKER);
        assert_true(m->u.query.req_id == 78);
        t_str(m->u.query.worker_id, "w-1.a_b");
        assert_int_equal(m->u.query.drain, drain);
        pb_msg_destroy(&m);
    }

    pb_query_t r = { .req_id = 79 };
    pb_buf_reset(&b);
    pb_enc_query(&b, PB_ROLES, &r);
    m = t_ok(&b, PB_ROLES);
    assert_true(m->u.query.req_id == 79);
    pb_msg_destroy(&m);

    /* LOGS without its limit, and with a negative offset: malformed */
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_LOGS, 3);
    pb_w_uint(&b, 1);
    pb_w_cstr(&b, "j");
    pb_w_uint(&b, 0);
    t_bad(&b, PB_E_MALFORMED, NULL);
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_LOGS, 4);
    pb_w_uint(&b, 1);
    pb_w_cstr(&b, "j");
    pb_w_int(&b, -1);
    pb_w_uint(&b, 10);
    t_bad(&b, PB_E_MALFORMED, "offset");
    /* DRAIN_WORKER whose drain is not a bool */
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_DRAIN_WORKER, 3);
    pb_w_uint(&b, 1);
    pb_w_cstr(&b, "w");
    pb_w_uint(&b, 1);
    t_bad(&b, PB_E_MALFORMED, "drain");
    pb_buf_free(&b);
}

static void test_jobs_filter(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    t_enc_jobs(&b);
    pb_msg_t *m = t_ok(&b, PB_JOBS);
    assert_true(m->u.query.req_id == 9);
    t_str(m->u.query.state, "running");
    t_str(m->u.query.role, "build");
    assert_int_equal(m->u.query.limit, 50);
    pb_msg_destroy(&m);

    /* no filter: the map is empty and every filter reads as absent */
    pb_query_t none = { .req_id = 10 };
    pb_buf_reset(&b);
    pb_enc_query(&b, PB_JOBS, &none);
    m = t_ok(&b, PB_JOBS);
    assert_int_equal(m->unpacked.data.via.array.ptr[4].type, MSGPACK_OBJECT_MAP);
    assert_int_equal(m->unpacked.data.via.array.ptr[4].via.map.size, 0);
    t_str(m->u.query.state, NULL);
    t_str(m->u.query.role, NULL);
    assert_int_equal(m->u.query.limit, 0);
    pb_msg_destroy(&m);

    /* unknown keys, of any type, are ignored */
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_JOBS, 2);
    pb_w_uint(&b, 1);
    pb_w_map(&b, 3);
    pb_w_cstr(&b, "colour");
    pb_w_array(&b, 0);
    pb_w_uint(&b, 5);
    pb_w_cstr(&b, "x");
    pb_w_cstr(&b, "limit");
    pb_w_uint(&b, 3);
    m = t_ok(&b, PB_JOBS);
    assert_int_equal(m->u.query.limit, 3);
    t_str(m->u.query.state, NULL);
    pb_msg_destroy(&m);

    /* a known key of the wrong type is malformed */
    const char *keys[] = { "state", "role", "limit", "limit" };
    for (unsigned i = 0; i < 4; i++) {
        pb_buf_reset(&b);
        pb_w_begin(&b, PB_JOBS, 2);
        pb_w_uint(&b, 1);
        pb_w_map(&b, 1);
        pb_w_cstr(&b, keys[i]);
        if (i < 2)
            pb_w_uint(&b, 1);
        else if (i == 2)
            pb_w_int(&b, -1);
        else
            pb_w_uint(&b, 1ull << 32);
        t_bad(&b, PB_E_MALFORMED, keys[i]);
    }
    pb_buf_free(&b);
}

static void test_submitted_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    t_enc_submitted(&b);
    pb_msg_t *m = t_ok(&b, PB_SUBMITTED);
    assert_true(m->u.submitted.req_id == 42);
    assert_int_equal(m->u.submitted.n, 2);
    t_str(m->u.submitted.items[0].job_id, "01J0000000000001");
    t_str(m->u.submitted.items[0].error, NULL);
    t_str(m->u.submitted.items[1].job_id, NULL);
    t_str(m->u.submitted.items[1].error, "unknown role \"nope\"");
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

static void test_reply_result_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    t_enc_reply(&b);
    pb_msg_t *m = t_ok(&b, PB_REPLY);
    assert_true(m->u.reply.req_id == 77);
    const msgpack_object *body = m->u.reply.body;
    assert_int_equal(body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(body->via.map.size, 3);
    const msgpack_object_kv *kv = body->via.map.ptr;
    assert_int_equal(kv[0].val.type, MSGPACK_OBJECT_STR);
    assert_memory_equal(kv[0].val.via.str.ptr, "j1", 2);
    assert_int_equal(kv[1].val.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(kv[1].val.via.array.ptr[0].via.i64, -1);
    assert_int_equal(kv[2].val.type, MSGPACK_OBJECT_NIL);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);                       /* any body is fine in REPLY */
    pb_enc_reply_begin(&b, 1);
    pb_w_nil(&b);
    m = t_ok(&b, PB_REPLY);
    assert_int_equal(m->u.reply.body->type, MSGPACK_OBJECT_NIL);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);
    t_enc_result(&b);
    m = t_ok(&b, PB_RESULT);
    assert_true(m->u.reply.req_id == 0);
    assert_int_equal(m->u.reply.body->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(m->u.reply.body->via.array.size, 1);
    const msgpack_object *job = &m->u.reply.body->via.array.ptr[0];
    assert_int_equal(job->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(job->via.map.size, 2);
    assert_int_equal(job->via.map.ptr[1].val.via.u64, 3);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);                       /* several jobs, raw-appended */
    pb_buf_t one;
    pb_buf_init(&one);
    pb_w_map(&one, 1);
    pb_w_cstr(&one, "id");
    pb_w_cstr(&one, "j1");
    pb_enc_result_begin(&b, 3);
    for (int i = 0; i < 3; i++)
        pb_w_raw(&b, pb_buf_data(&one), pb_buf_size(&one));
    pb_buf_free(&one);
    m = t_ok(&b, PB_RESULT);
    assert_int_equal(m->u.reply.body->via.array.size, 3);
    pb_msg_destroy(&m);

    pb_buf_reset(&b);                       /* RESULT needs an array of maps */
    pb_enc_result_begin(&b, 1);
    pb_w_array(&b, 0);
    t_bad(&b, PB_E_MALFORMED, "RESULT: field 1 (jobs) must be [map]");
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_RESULT, 1);
    pb_w_map(&b, 0);
    t_bad(&b, PB_E_MALFORMED, "RESULT: field 1 (jobs) must be [map]");
    pb_buf_free(&b);
}

static void test_error_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_enc_error(&b, 0, "version", "peer speaks 2, this node speaks 1");
    pb_msg_t *m = t_ok(&b, PB_ERROR);
    assert_true(m->u.error.req_id == 0);
    t_str(m->u.error.code, "version");
    t_str(m->u.error.message, "peer speaks 2, this node speaks 1");
    pb_msg_destroy(&m);

    pb_buf_reset(&b);
    pb_enc_error(&b, 8, NULL, NULL);        /* NULL is written as "" */
    m = t_ok(&b, PB_ERROR);
    assert_true(m->u.error.req_id == 8);
    t_str(m->u.error.code, "");
    t_str(m->u.error.message, "");
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

/* ---- the field table ---------------------------------------------------- */

/* Sample values of each msgpack kind. */
enum { K_NIL, K_TRUE, K_NEG, K_UINT, K_BIG, K_FLOAT, K_STR, K_BIN, K_ARR, K_MAP, K_COUNT };

#define M(k)   (1u << (k))
#define T_STR  M(K_STR)
#define T_NSTR (M(K_STR) | M(K_NIL))
#define T_U32  M(K_UINT)
#define T_U64  (M(K_UINT) | M(K_BIG))
#define T_I32  (M(K_UINT) | M(K_NEG))
#define T_NI32 (M(K_UINT) | M(K_NEG) | M(K_NIL))
#define T_BOOL M(K_TRUE)
#define T_DATA (M(K_STR) | M(K_BIN))
#define T_ARR  M(K_ARR)         /* [str] or a list: the sample [] is valid */
#define T_MAP  M(K_MAP)         /* {str:str} or a filter: {} is valid */
#define T_MAPS (M(K_ARR) | (1u << 30)) /* [map]: the sample [] is valid */
#define T_ANY  (M(K_COUNT) - 1)

static void t_w_kind(pb_buf_t *b, unsigned k)
{
    switch (k) {
    case K_NIL:   pb_w_nil(b); break;
    case K_TRUE:  pb_w_bool(b, true); break;
    case K_NEG:   pb_w_int(b, -1); break;
    case K_UINT:  pb_w_uint(b, 7); break;
    case K_BIG:   pb_w_uint(b, 1ull << 32); break;
    case K_FLOAT: msgpack_pack_double(&b->pk, 1.5); break;
    case K_STR:   pb_w_cstr(b, "s"); break;
    case K_BIN:   pb_w_bin(b, "b", 1); break;
    case K_ARR:   pb_w_array(b, 0); break;
    default:      pb_w_map(b, 0); break;
    }
}

/* A valid value for a field that accepts mask ok. */
static void t_w_good(pb_buf_t *b, unsigned ok)
{
    if (ok == T_ARR) {
        pb_w_array(b, 1);
        pb_w_cstr(b, "a");
    } else if (ok == T_MAP) {
        pb_w_map(b, 1);
        pb_w_cstr(b, "k");
        pb_w_cstr(b, "v");
    } else {
        for (unsigned k = 0; k < K_COUNT; k++)
            if (ok & M(k)) {
                t_w_kind(b, k);
                return;
            }
    }
}

typedef struct {
    const char *name;
    unsigned ok;            /* M(kind) of every kind the field accepts */
} t_field_t;

typedef struct {
    pb_cmd_t cmd;
    const t_field_t *top;
    unsigned ntop;
    int list;               /* field index of the list of item tuples, -1 none */
    const t_field_t *item;
    unsigned nitem;
} t_spec_t;

static const t_field_t t_hello[] = {
    { "worker_id", T_STR }, { "name", T_STR }, { "roles", T_ARR }, { "slots", T_U32 },
    { "labels", T_MAP }, { "version", T_STR }, { "heartbeat_ms", T_U32 },
    { "liveness", T_U32 }, { "running", T_ARR }, { "draining", T_BOOL },
};
static const t_field_t t_lease_ref[] = { { "job_id", T_STR }, { "attempt", T_U32 } };
static const t_field_t t_log[] = {
    { "job_id", T_STR }, { "attempt", T_U32 }, { "stream", T_U32 }, { "data", T_DATA },
};
static const t_field_t t_items[] = { { "items", T_ARR } };
static const t_field_t t_done_item[] = {
    { "job_id", T_STR }, { "attempt", T_U32 }, { "state", T_STR },
    { "exit_code", T_NI32 }, { "result", T_NSTR }, { "error", T_NSTR },
};
static const t_field_t t_welcome[] = {
    { "heartbeat_ms", T_U32 }, { "liveness", T_U32 }, { "version", T_STR },
};
static const t_field_t t_lease[] = {
    { "job_id", T_STR }, { "attempt", T_U32 }, { "role", T_STR }, { "payload", T_STR },
    { "command", T_ARR }, { "shell", T_BOOL }, { "env", T_MAP }, { "timeout_ms", T_U32 },
};
static const t_field_t t_submit[] = { { "req_id", T_U64 }, { "items", T_ARR }, { "wait", T_BOOL } };
static const t_field_t t_submit_item[] = {
    { "role", T_STR }, { "payload", T_STR }, { "priority", T_I32 }, { "where", T_MAP },
};  /* the optional delay_ms and idempotency_key: test_submit_short_items */
static const t_field_t t_job[] = { { "req_id", T_U64 }, { "job_id", T_STR } };
static const t_field_t t_jobs[] = { { "req_id", T_U64 }, { "filter", T_MAP } };
static const t_field_t t_workers[] = { { "req_id", T_U64 } };
static const t_field_t t_logs[] = {
    { "req_id", T_U64 }, { "job_id", T_STR }, { "offset", T_U64 }, { "limit", T_U32 },
};
static const t_field_t t_drain_worker[] = {
    { "req_id", T_U64 }, { "worker_id", T_STR }, { "drain", T_BOOL },
};
static const t_field_t t_submitted[] = { { "req_id", T_U64 }, { "items", T_ARR } };
static const t_field_t t_submitted_item[] = { { "job_id", T_NSTR }, { "error", T_NSTR } };
static const t_field_t t_reply[] = { { "req_id", T_U64 }, { "body", T_ANY } };
static const t_field_t t_result[] = { { "jobs", T_MAPS } };
static const t_field_t t_error[] = { { "req_id", T_U64 }, { "code", T_STR }, { "message", T_STR } };

#define T_N(a) (sizeof(a) / sizeof((a)[0]))
static const t_spec_t t_specs[] = {
    { PB_HELLO, t_hello, T_N(t_hello), 8, t_lease_ref, T_N(t_lease_ref) },
    { PB_LOG, t_log, T_N(t_log), -1, NULL, 0 },
    { PB_DONE, t_items, 1, 0, t_done_item, T_N(t_done_item) },
    { PB_WELCOME, t_welcome, T_N(t_welcome), -1, NULL, 0 },
    { PB_ASSIGN, t_items, 1, 0, t_lease, T_N(t_lease) },
    { PB_REVOKE, t_lease_ref, T_N(t_lease_ref), -1, NULL, 0 },
    { PB_SUBMIT, t_submit, T_N(t_submit), 1, t_submit_item, T_N(t_submit_item) },
    { PB_JOB, t_job, T_N(t_job), -1, NULL, 0 },
    { PB_JOBS, t_jobs, T_N(t_jobs), -1, NULL, 0 },
    { PB_WORKERS, t_workers, T_N(t_workers), -1, NULL, 0 },
    { PB_CANCEL, t_job, T_N(t_job), -1, NULL, 0 },
    { PB_RETRY, t_job, T_N(t_job), -1, NULL, 0 },
    { PB_LOGS, t_logs, T_N(t_logs), -1, NULL, 0 },
    { PB_DRAIN_WORKER, t_drain_worker, T_N(t_drain_worker), -1, NULL, 0 },
    { PB_ROLES, t_workers, T_N(t_workers), -1, NULL, 0 },
    { PB_SUBMITTED, t_submitted, T_N(t_submitted), 1, t_submitted_item, T_N(t_submitted_item) },
    { PB_REPLY, t_reply, T_N(t_reply), -1, NULL, 0 },
    { PB_RESULT, t_result, T_N(t_result), -1, NULL, 0 },
    { PB_ERROR, t_error, T_N(t_error), -1, NULL, 0 },
};

/* How to write a frame from a spec: how many fields and item elements, and
   which one (if any) gets the sample of kind instead of a good value. */
typedef struct {
    unsigned ntop, nitem;
    int bad_top, bad_item;
    unsigned kind;
} t_shape_t;

static void t_w_field(pb_buf_t *b, const t_field_t *f, bool bad, unsigned kind)
{
    if (bad)
        t_w_kind(b, kind);
    else if (f->ok == T_ANY || f->ok == T_MAP)
        t_w_good(b, T_MAP);
    else
        t_w_good(b, f->ok);
}

static void t_w_items(pb_buf_t *b, const t_spec_t *s, const t_shape_t *sh)
{
    pb_w_array(b, 1);
    pb_w_array(b, sh->nitem);
    for (unsigned j = 0; j < sh->nitem; j++) {
        const t_field_t *f = j < s->nitem ? &s->item[j] : &t_items[0];
        t_w_field(b, f, (int) j == sh->bad_item, sh->kind);
    }
}

static void t_build(pb_buf_t *b, const t_spec_t *s, const t_shape_t *sh)
{
    pb_buf_reset(b);
    pb_w_begin(b, s->cmd, sh->ntop);
    for (unsigned i = 0; i < sh->ntop; i++) {
        bool bad = (int) i == sh->bad_top;
        if (i >= s->ntop)
            pb_w_cstr(b, "extra");
        else if ((int) i == s->list && !bad)
            t_w_items(b, s, sh);
        else
            t_w_field(b, &s->top[i], bad, sh->kind);
    }
}

static t_shape_t t_good_shape(const t_spec_t *s)
{
    t_shape_t sh = { s->ntop, s->nitem, -1, -1, 0 };
    return sh;
}

static void t_expect(const pb_buf_t *b, const t_spec_t *s, bool ok, const char *needle)
{
    if (ok) {
        pb_msg_t *m = t_ok(b, s->cmd);
        pb_msg_destroy(&m);
    } else
        t_bad(b, PB_E_MALFORMED, needle);
}

static void test_table_baseline(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    for (unsigned i = 0; i < T_N(t_specs); i++) {
        t_shape_t sh = t_good_shape(&t_specs[i]);
        t_build(&b, &t_specs[i], &sh);
        t_expect(&b, &t_specs[i], true, NULL);
    }
    pb_buf_free(&b);
}

static void test_wrong_types_top(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    char needle[96];
    for (unsigned i = 0; i < T_N(t_specs); i++) {
        const t_spec_t *s = &t_specs[i];
        for (unsigned f = 0; f < s->ntop; f++)
            for (unsigned k = 0; k < K_COUNT; k++) {
                t_shape_t sh = t_good_shape(s);
                sh.bad_top = (int) f;
                sh.kind = k;
                t_build(&b, s, &sh);
                snprintf(needle, sizeof needle, "%s: field %u (%s) must be",
                         pb_cmd_name(s->cmd), f + 1, s->top[f].name);
                t_expect(&b, s, (s->top[f].ok & M(k)) != 0, needle);
            }
    }
    pb_buf_free(&b);
}

static void test_wrong_types_items(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    char needle[96];
    for (unsigned i = 0; i < T_N(t_specs); i++) {
        const t_spec_t *s = &t_specs[i];
        for (unsigned f = 0; f < s->nitem; f++)
            for (unsigned k = 0; k < K_COUNT; k++) {
                t_shape_t sh = t_good_shape(s);
                sh.bad_item = (int) f;
                sh.kind = k;
                t_build(&b, s, &sh);
                snprintf(needle, sizeof needle, "%s: field %d item 0 (%s) must be",
                         pb_cmd_name(s->cmd), s->list + 1, s->item[f].name);
                t_expect(&b, s, (s->item[f].ok & M(k)) != 0, needle);
            }
    }
    pb_buf_free(&b);
}

static void test_field_counts(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    for (unsigned i = 0; i < T_N(t_specs); i++) {
        const t_spec_t *s = &t_specs[i];
        t_shape_t sh = t_good_shape(s);
        sh.ntop = s->ntop - 1;                      /* one field short */
        t_build(&b, s, &sh);
        t_expect(&b, s, false, "fields, needs");
        sh.ntop = s->ntop + 2;                      /* two extra fields */
        t_build(&b, s, &sh);
        t_expect(&b, s, true, NULL);
        if (s->list < 0)
            continue;
        sh = t_good_shape(s);
        sh.nitem = s->nitem - 1;                    /* item tuple one short */
        t_build(&b, s, &sh);
        t_expect(&b, s, false, "item 0 (");
        if (s->cmd == PB_SUBMIT)
            continue; /* its 5th and 6th are optional fields: test_submit_short_items */
        sh.nitem = s->nitem + 1;                    /* item tuple one longer */
        t_build(&b, s, &sh);
        t_expect(&b, s, true, NULL);
    }
    /* a list item that is not a tuple */
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_DONE, 1);
    pb_w_array(&b, 1);
    pb_w_cstr(&b, "j1");
    t_bad(&b, PB_E_MALFORMED, "DONE: field 1 item 0 (items) must be an array of 6");
    pb_buf_free(&b);
}

/* ---- integer ranges ------------------------------------------------------ */

/* HELLO with slots written as the given raw msgpack bytes. */
static void t_hello_slots(pb_buf_t *b, const char *raw, size_t n)
{
    pb_buf_reset(b);
    pb_w_begin(b, PB_HELLO, 10);
    pb_w_cstr(b, "w");
    pb_w_cstr(b, "n");
    pb_w_array(b, 0);
    t_raw(b, raw, n);
    pb_w_map(b, 0);
    pb_w_cstr(b, "v");
    pb_w_uint(b, 1000);
    pb_w_uint(b, 3);
    pb_w_array(b, 0);
    pb_w_bool(b, false);
}

static void test_uint_ranges(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    struct { const char *raw; size_t n; bool ok; uint32_t v; } cases[] = {
        { "\xce\xff\xff\xff\xff", 5, true, UINT32_MAX },             /* uint32 max */
        { "\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9, false, 0 },     /* 2^32 */
        { "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, false, 0 },     /* 2^64 - 1 */
        { "\xff", 1, false, 0 },                                     /* -1 */
        { "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, false, 0 },     /* INT64_MIN */
        { "\xd0\x05", 2, true, 5 },                                  /* int8 5 */
        { "\xd3\x00\x00\x00\x00\x00\x00\x00\x09", 9, true, 9 },      /* int64 9 */
        { "\xcc\x00", 2, true, 0 },                                  /* uint8 0 */
        { "\xca\x3f\x80\x00\x00", 5, false, 0 },                     /* float 1.0 */
    };
    for (unsigned i = 0; i < T_N(cases); i++) {
        t_hello_slots(&b, cases[i].raw, cases[i].n);
        if (!cases[i].ok) {
            t_bad(&b, PB_E_MALFORMED, "HELLO: field 4 (slots) must be uint");
            continue;
        }
        pb_msg_t *m = t_ok(&b, PB_HELLO);
        assert_int_equal(m->u.hello.slots, cases[i].v);
        pb_msg_destroy(&m);
    }
    pb_buf_free(&b);
}

/* SUBMIT with one item whose priority is v. */
static void t_submit_priority(pb_buf_t *b, int64_t v)
{
    pb_buf_reset(b);
    pb_w_begin(b, PB_SUBMIT, 3);
    pb_w_uint(b, 1);
    pb_w_array(b, 1);
    pb_w_array(b, 4);
    pb_w_cstr(b, "r");
    pb_w_cstr(b, "{}");
    pb_w_int(b, v);
    pb_w_map(b, 0);
    pb_w_bool(b, false);
}

static void test_int_ranges(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    int64_t good[] = { INT32_MIN, -1, 0, 1, INT32_MAX };
    int64_t bad[] = { (int64_t) INT32_MIN - 1, (int64_t) INT32_MAX + 1, INT64_MIN, INT64_MAX };
    for (unsigned i = 0; i < T_N(good); i++) {
        t_submit_priority(&b, good[i]);
        pb_msg_t *m = t_ok(&b, PB_SUBMIT);
        assert_int_equal(m->u.submit.items[0].priority, good[i]);
        pb_msg_destroy(&m);
    }
    for (unsigned i = 0; i < T_N(bad); i++) {
        t_submit_priority(&b, bad[i]);
        t_bad(&b, PB_E_MALFORMED, "SUBMIT: field 2 item 0 (priority) must be int32");
    }
    /* req_id is uint64: its whole range decodes, negatives do not */
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_WORKERS, 1);
    pb_w_int(&b, -5);
    t_bad(&b, PB_E_MALFORMED, "WORKERS: field 1 (req_id) must be uint64");
    pb_buf_free(&b);
}

/* ---- hostile frames ------------------------------------------------------ */

static void test_empty_and_not_msgpack(void **state)
{
    (void) state;
    t_bad_bytes(NULL, 0, PB_E_MALFORMED, "empty");
    t_bad_bytes(B(""), PB_E_MALFORMED, "empty");
    assert_null(pb_decode(B(""), NULL));                 /* err may be NULL */
    assert_null(pb_decode(B("\xc1"), NULL));
    t_bad_bytes(B("\xc1"), PB_E_MALFORMED, "0xc1");
    t_bad_bytes(B("{\"cmd\":\"PING\"}"), PB_E_MALFORMED, "trailing");
    t_bad_bytes(B("\x05"), PB_E_MALFORMED, "not an array");
    t_bad_bytes(B("\x81\xa1k\xa1v"), PB_E_MALFORMED, "not an array");
    t_bad_bytes(B("\x90"), PB_E_MALFORMED, "not an array");
    t_bad_bytes(B("\xa2PB"), PB_E_MALFORMED, "not an array");
}

static void t_prefixes(void (*enc)(pb_buf_t *), pb_cmd_t cmd)
{
    pb_buf_t b;
    pb_buf_init(&b);
    enc(&b);
    const unsigned char *full = pb_buf_data(&b);
    size_t size = pb_buf_size(&b);
    assert_true(size > 20);
    for (size_t n = 0; n < size; n++) {
        unsigned char *p = malloc(n ? n : 1);     /* exact size: ASan sees overreads */
        assert_non_null(p);
        memcpy(p, full, n);
        t_bad_bytes(p, n, PB_E_MALFORMED, NULL);
        free(p);
    }
    pb_msg_t *m = t_ok(&b, cmd);
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

static void test_truncated_hello(void **state)
{
    (void) state;
    t_prefixes(t_enc_hello, PB_HELLO);
}

static void test_truncated_assign(void **state)
{
    (void) state;
    t_prefixes(t_enc_assign, PB_ASSIGN);
}

/* Frames of a few bytes that declare huge counts or lengths. The reason
   must come from the prescan ("bad msgpack"), i.e. before msgpack-c could
   allocate anything for them. */
static void test_huge_declared_sizes(void **state)
{
    (void) state;
    static const struct { const char *raw; size_t n; } frames[] = {
        { B("\xdd\x7f\xff\xff\xff") },              /* array32 of 2^31 - 1 */
        { B("\xdd\xff\xff\xff\xff") },              /* array32 of 2^32 - 1 */
        { B("\xdf\xff\xff\xff\xff") },              /* map32 */
        { B("\xdc\xff\xff") },                      /* array16 of 65535 */
        { B("\xde\x00\x03\xc0\xc0\xc0\xc0") },      /* map of 3 needs 6 values, has 4 */
        { B("\xdb\xff\xff\xff\xff" "abc") },        /* str32 */
        { B("\xc6\xff\xff\xff\xff") },              /* bin32 */
        { B("\xc9\xff\xff\xff\xff\x01") },          /* ext32 */
        { B("\xd8\x01") },                          /* fixext16 with no data */
        { B("\x9d\xa2PB\x01\xa5HELLO\xdd\xff\xff\xff\xff") }, /* inside a HELLO */
        { B("\x94\xa2PB\x01\xa5HELLO\xdf\x7f\xff\xff\xff") },
        { B("\x95\xa2PB\x01\xa5REPLY\x01\xdb\x7f\xff\xff\xff") },
    };
    for (unsigned i = 0; i < T_N(frames); i++)
        t_bad_bytes(frames[i].raw, frames[i].n, PB_E_MALFORMED, "bad msgpack");
}

static void test_nesting(void **state)
{
    (void) state;
    unsigned char deep[1001];
    memset(deep, 0x91, 1000);                       /* 1000 arrays of one */
    deep[1000] = 0xc0;
    t_bad_bytes(deep, sizeof deep, PB_E_MALFORMED, "nested");

    /* REPLY's own array is level 1; a body of 31 arrays reaches 32: fine. */
    pb_buf_t b;
    pb_buf_init(&b);
    for (unsigned levels = 31; levels <= 32; levels++) {
        pb_buf_reset(&b);
        pb_enc_reply_begin(&b, 1);
        for (unsigned i = 0; i < levels; i++)
            pb_w_array(&b, 1);
        pb_w_nil(&b);
        if (levels == 31) {
            pb_msg_t *m = t_ok(&b, PB_REPLY);
            pb_msg_destroy(&m);
        } else
            t_bad(&b, PB_E_MALFORMED, "nested");
    }
    pb_buf_free(&b);
}

static void test_trailing_bytes(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_enc_ping(&b, 1);
    t_raw(&b, "\x00", 1);
    t_bad(&b, PB_E_MALFORMED, "trailing");
    pb_buf_reset(&b);
    pb_enc_ping(&b, 1);
    pb_enc_pong(&b, 1);                             /* two messages in one frame */
    t_bad(&b, PB_E_MALFORMED, "trailing");
    pb_buf_free(&b);
}

static void test_signature(void **state)
{
    (void) state;
    t_bad_bytes(B("\x93\xa2PX\x01\xa4PING"), PB_E_SIGNATURE, "signature");
    t_bad_bytes(B("\x93\xc4\x02PB\x01\xa4PING"), PB_E_SIGNATURE, NULL);  /* bin "PB" */
    t_bad_bytes(B("\x93\xa3PBX\x01\xa4PING"), PB_E_SIGNATURE, NULL);
    t_bad_bytes(B("\x93\x01\x01\xa4PING"), PB_E_SIGNATURE, NULL);
    t_bad_bytes(B("\x91\xa2PB"), PB_E_MALFORMED, NULL);                   /* no version */
}

static void test_version(void **state)
{
    (void) state;
    pb_err_t err;
    assert_null(pb_decode(B("\x93\xa2PB\x02\xa4PING"), &err));
    assert_int_equal(err.status, PB_E_VERSION);
    assert_int_equal(err.peer_version, 2);
    t_reason_sane(&err);
    assert_non_null(strstr(err.reason, "2"));
    /* only the signature and version are needed to tell a version apart */
    assert_null(pb_decode(B("\x92\xa2PB\x02"), &err));
    assert_int_equal(err.status, PB_E_VERSION);
    assert_int_equal(err.peer_version, 2);
    assert_null(pb_decode(B("\x93\xa2PB\x00\xa4PING"), &err));
    assert_int_equal(err.status, PB_E_VERSION);
    assert_int_equal(err.peer_version, 0);
    t_bad_bytes(B("\x93\xa2PB\xff\xa4PING"), PB_E_MALFORMED, "version");  /* -1 */
    t_bad_bytes(B("\x93\xa2PB\xa1" "1\xa4PING"), PB_E_MALFORMED, "version");
}

static void test_unknown_command(void **state)
{
    (void) state;
    t_bad_bytes(B("\x93\xa2PB\x01\xa4" "FROB"), PB_E_COMMAND, "\"FROB\"");
    t_bad_bytes(B("\x93\xa2PB\x01\xa4ping"), PB_E_COMMAND, NULL);
    t_bad_bytes(B("\x93\xa2PB\x01\xa7INVALID"), PB_E_COMMAND, NULL);
    t_bad_bytes(B("\x93\xa2PB\x01\xa0"), PB_E_COMMAND, NULL);
    t_bad_bytes(B("\x93\xa2PB\x01\x03"), PB_E_MALFORMED, "command");
    t_bad_bytes(B("\x92\xa2PB\x01"), PB_E_MALFORMED, "command");

    /* a long name full of control bytes: the reason stays short and clean */
    pb_buf_t b;
    pb_buf_init(&b);
    char name[300];
    for (unsigned i = 0; i < sizeof name; i++)
        name[i] = (char) (i % 3 == 0 ? '\n' : i % 3 == 1 ? 0x1b : 0xff);
    msgpack_pack_array(&b.pk, 3);
    pb_w_cstr(&b, "PB");
    pb_w_uint(&b, 1);
    pb_w_str(&b, name, sizeof name);
    t_bad(&b, PB_E_COMMAND, "unknown command");
    pb_buf_free(&b);
}

/* API: the HTTP layer's operation round-trips; a missing body is malformed. */
static void test_api_roundtrip(void **state)
{
    (void) state;
    pb_buf_t b;
    pb_buf_init(&b);
    pb_enc_api(&b, 77, "cluster.get", "{\"id\":\"w1\"}", 11);
    pb_err_t err;
    pb_msg_t *m = pb_decode(pb_buf_data(&b), pb_buf_size(&b), &err);
    assert_non_null(m);
    assert_int_equal(m->cmd, PB_API);
    assert_int_equal(m->u.api.req_id, 77);
    assert_int_equal(m->u.api.op.len, 11);
    assert_memory_equal(m->u.api.op.ptr, "cluster.get", 11);
    assert_memory_equal(m->u.api.body.ptr, "{\"id\":\"w1\"}", 11);
    pb_msg_destroy(&m);
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_API, 2);
    pb_w_uint(&b, 1);
    pb_w_cstr(&b, "info");
    assert_null(pb_decode(pb_buf_data(&b), pb_buf_size(&b), &err));
    assert_int_equal(err.status, PB_E_MALFORMED);
    pb_buf_free(&b);
}

/* ---- helpers of proto.h -------------------------------------------------- */

static void test_cmd_names(void **state)
{
    (void) state;
    static const char *names[] = {
        "HELLO", "PING", "LOG", "DONE", "DRAIN", "BYE", "WELCOME", "PONG", "ASSIGN",
        "REVOKE", "SUBMIT", "JOB", "JOBS", "WORKERS", "CANCEL", "RETRY", "LOGS", "DRAIN_WORKER",
        "ROLES", "API", "SUBMITTED", "REPLY",
        "RESULT", "ERROR", "ENROLL", "ENROLLED",
    };
    assert_int_equal(T_N(names), PB_CMD_COUNT - 1);
    for (int c = PB_HELLO; c < PB_CMD_COUNT; c++)
        assert_string_equal(pb_cmd_name((pb_cmd_t) c), names[c - 1]);
    assert_string_equal(pb_cmd_name(PB_INVALID), "INVALID");
    assert_string_equal(pb_cmd_name(PB_CMD_COUNT), "INVALID");
    assert_string_equal(pb_cmd_name((pb_cmd_t) -1), "INVALID");
}

static void test_str_helpers(void **state)
{
    (void) state;
    pb_str_t nil = { NULL, 0 };
    pb_str_t ab = S("ab");
    pb_str_t a_nul_b = { "a\0b", 3 };
    assert_true(pb_str_eq(ab, "ab"));
    assert_false(pb_str_eq(ab, "abc"));
    assert_false(pb_str_eq(ab, "a"));
    assert_false(pb_str_eq(ab, NULL));
    assert_false(pb_str_eq(nil, ""));
    assert_true(pb_str_eq(nil, NULL));
    assert_true(pb_str_eq(pb_s(""), ""));
    assert_false(pb_str_eq(a_nul_b, "a"));
    t_str(pb_s(NULL), NULL);

    assert_null(pb_str_dup(nil));
    char *d = pb_str_dup(ab);
    assert_string_equal(d, "ab");
    free(d);
    d = pb_str_dup(a_nul_b);
    assert_memory_equal(d, "a\0b\0", 4);
    free(d);
    d = pb_str_dup(pb_s(""));
    assert_string_equal(d, "");
    free(d);
}

static void test_destroy_and_buffers(void **state)
{
    (void) state;
    pb_msg_destroy(NULL);
    pb_msg_t *m = NULL;
    pb_msg_destroy(&m);
    assert_null(m);

    pb_buf_t b;
    pb_buf_init(&b);
    assert_int_equal(pb_buf_size(&b), 0);
    t_enc_hello(&b);
    size_t size = pb_buf_size(&b);
    pb_buf_reset(&b);
    assert_int_equal(pb_buf_size(&b), 0);
    t_enc_hello(&b);                                /* reuse gives the same bytes */
    assert_int_equal(pb_buf_size(&b), size);
    m = t_ok(&b, PB_HELLO);
    pb_msg_destroy(&m);
    assert_null(m);
    pb_buf_free(&b);
    pb_buf_free(&b);                                /* twice is harmless */
    pb_enc_pong(&b, 2);                             /* and b is usable again */
    m = t_ok(&b, PB_PONG);
    pb_msg_destroy(&m);
    pb_buf_free(&b);
}

/* ---- mutation loop ------------------------------------------------------- */

static uint32_t t_rand(uint32_t *s)
{
    uint32_t x = *s;                                /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static unsigned t_sum(pb_str_t s)
{
    unsigned sum = 0;
    for (uint32_t i = 0; i < s.len; i++)
        sum += (unsigned char) s.ptr[i];
    return sum;
}

static unsigned t_sum_kvs(const pb_kvs_t *k)
{
    unsigned sum = 0;
    for (uint32_t i = 0; i < k->n; i++)
        sum += t_sum(k->items[i].key) + t_sum(k->items[i].val);
    return sum;
}

static unsigned t_sum_strs(const pb_strs_t *s)
{
    unsigned sum = 0;
    for (uint32_t i = 0; i < s->n; i++)
        sum += t_sum(s->items[i]);
    return sum;
}

static unsigned t_sum_obj(const msgpack_object *o)
{
    unsigned sum = o->type;
    if (o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN) {
        pb_str_t s = { o->via.str.ptr, o->via.str.size };
        sum += t_sum(s);
    } else if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++)
            sum += t_sum_obj(&o->via.array.ptr[i]);
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++)
            sum += t_sum_obj(&o->via.map.ptr[i].key) + t_sum_obj(&o->via.map.ptr[i].val);
    }
    return sum;
}

static unsigned t_sum_hello(const pb_hello_t *h)
{
    unsigned sum = t_sum(h->worker_id) + t_sum(h->name) + t_sum_strs(&h->roles)
                 + t_sum_kvs(&h->labels) + t_sum(h->version);
    for (uint32_t i = 0; i < h->n_running; i++)
        sum += t_sum(h->running[i].job_id);
    return sum;
}

static unsigned t_sum_lists(const pb_msg_t *m)
{
    unsigned sum = 0;
    if (m->cmd == PB_DONE)
        for (uint32_t i = 0; i < m->u.done.n; i++) {
            const pb_done_item_t *d = &m->u.done.items[i];
            sum += t_sum(d->job_id) + t_sum(d->state) + t_sum(d->result) + t_sum(d->error);
        }
    if (m->cmd == PB_ASSIGN)
        for (uint32_t i = 0; i < m->u.assign.n; i++) {
            const pb_lease_t *l = &m->u.assign.items[i];
            sum += t_sum(l->job_id) + t_sum(l->role) + t_sum(l->payload)
                 + t_sum_strs(&l->command) + t_sum_kvs(&l->env);
        }
    if (m->cmd == PB_SUBMIT)
        for (uint32_t i = 0; i < m->u.submit.n; i++)
            sum += t_sum(m->u.submit.items[i].role) + t_sum(m->u.submit.items[i].payload)
                 + t_sum_kvs(&m->u.submit.items[i].where);
    if (m->cmd == PB_SUBMITTED)
        for (uint32_t i = 0; i < m->u.submitted.n; i++)
            sum += t_sum(m->u.submitted.items[i].job_id) + t_sum(m->u.submitted.items[i].error);
    return sum;
}

/* Reads every byte a decoded message points at; ASan checks each read. */
static unsigned t_touch(const pb_msg_t *m)
{
    switch (m->cmd) {
    case PB_HELLO:   return t_sum_hello(&m->u.hello);
    case PB_LOG:     return t_sum(m->u.log.job_id) + t_sum(m->u.log.data);
    case PB_WELCOME: return t_sum(m->u.welcome.version);
    case PB_REVOKE:  return t_sum(m->u.revoke.job_id);
    case PB_JOB: case PB_CANCEL: case PB_RETRY: case PB_JOBS: case PB_LOGS: case PB_DRAIN_WORKER:
        return t_sum(m->u.query.job_id) + t_sum(m->u.query.state) + t_sum(m->u.query.role) +
               t_sum(m->u.query.worker_id);
    case PB_REPLY: case PB_RESULT: return t_sum_obj(m->u.reply.body);
    case PB_ERROR:   return t_sum(m->u.error.code) + t_sum(m->u.error.message);
    case PB_ENROLL:  return t_sum(m->u.enroll.kind) + t_sum(m->u.enroll.public_key) +
                            t_sum(m->u.enroll.id) + t_sum(m->u.enroll.name);
    case PB_ENROLLED: return t_sum(m->u.enrolled.user_id);
    default:         return t_sum_lists(m);
    }
}

/* One random change to the n bytes at p (room for n + 1); returns the new n. */
static size_t t_mutate(unsigned char *p, size_t n, uint32_t *seed)
{
    static const unsigned char edge[] = {
        0x00, 0x7f, 0x80, 0x8f, 0x9f, 0xbf, 0xc0, 0xc1, 0xc3, 0xcf, 0xd3, 0xd8,
        0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff,
    };
    size_t at = n ? t_rand(seed) % n : 0;
    switch (t_rand(seed) % 6) {
    case 0: if (n) p[at] = (unsigned char) t_rand(seed); return n;
    case 1: if (n) p[at] ^= (unsigned char) (1u << (t_rand(seed) % 8)); return n;
    case 2: if (n) p[at] = edge[t_rand(seed) % sizeof edge]; return n;
    case 3: return n ? t_rand(seed) % n : 0;               /* truncate */
    case 4:                                                 /* delete one byte */
        if (!n)
            return 0;
        memmove(p + at, p + at + 1, n - at - 1);
        return n - 1;
    default:                                                /* insert one byte */
        memmove(p + at + 1, p + at, n - at);
        p[at] = edge[t_rand(seed) % sizeof edge];
        return n + 1;
    }
}

static void test_mutations(void **state)
{
    (void) state;
    uint32_t seed = 0x5eed1234u;
    unsigned accepted = 0, rejected = 0;
    volatile unsigned sink = 0;
    pb_buf_t b;
    pb_buf_init(&b);
    for (unsigned iter = 0; iter < 20000; iter++) {
        pb_buf_reset(&b);
        t_enc_any(&b, iter);
        size_t n = pb_buf_size(&b);
        unsigned char *p = malloc(n + 8);
        assert_non_null(p);
        memcpy(p, pb_buf_data(&b), n);
        unsigned rounds = 1 + t_rand(&seed) % 3;
        for (unsigned r = 0; r < rounds; r++)
            n = t_mutate(p, n, &seed);
        unsigned char *exact = malloc(n ? n : 1);   /* exact size: ASan sees overreads */
        assert_non_null(exact);
        memcpy(exact, p, n);
        free(p);
        pb_err_t err;
        pb_msg_t *m = pb_decode(exact, n, &err);
        free(exact);
        if (m) {
            assert_int_equal(err.status, PB_OK);
            sink += t_touch(m);
            pb_msg_destroy(&m);
            accepted++;
        } else {
            assert_int_not_equal(err.status, PB_OK);
            t_reason_sane(&err);
            rejected++;
        }
    }
    (void) sink;
    pb_buf_free(&b);
    /* both outcomes must occur, or the loop tested nothing */
    assert_true(accepted > 100);
    assert_true(rejected > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_short_items),
        cmocka_unit_test(test_hello_roundtrip),
        cmocka_unit_test(test_hello_empty),
        cmocka_unit_test(test_fieldless_commands),
        cmocka_unit_test(test_log_roundtrip),
        cmocka_unit_test(test_done_roundtrip),
        cmocka_unit_test(test_welcome_revoke_roundtrip),
        cmocka_unit_test(test_assign_roundtrip),
        cmocka_unit_test(test_submit_roundtrip),
        cmocka_unit_test(test_query_roundtrip),
        cmocka_unit_test(test_ops_roundtrip),
        cmocka_unit_test(test_jobs_filter),
        cmocka_unit_test(test_submitted_roundtrip),
        cmocka_unit_test(test_reply_result_roundtrip),
        cmocka_unit_test(test_error_roundtrip),
        cmocka_unit_test(test_table_baseline),
        cmocka_unit_test(test_wrong_types_top),
        cmocka_unit_test(test_wrong_types_items),
        cmocka_unit_test(test_field_counts),
        cmocka_unit_test(test_uint_ranges),
        cmocka_unit_test(test_int_ranges),
        cmocka_unit_test(test_empty_and_not_msgpack),
        cmocka_unit_test(test_truncated_hello),
        cmocka_unit_test(test_truncated_assign),
        cmocka_unit_test(test_huge_declared_sizes),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_cmd_names),
        cmocka_unit_test(test_api_roundtrip),
        cmocka_unit_test(test_str_helpers),
        cmocka_unit_test(test_destroy_and_buffers),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
