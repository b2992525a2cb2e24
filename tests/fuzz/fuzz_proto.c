/*  tests/fuzz/fuzz_proto.c — libFuzzer target: the wire-protocol decoder
    (mesh/proto.h pb_decode) on arbitrary bytes.

    What it asserts, beyond "no crash, no leak, no sanitizer report":
    - a refused frame comes with a status other than PB_OK and a reason that
      is one line of printable ASCII (proto.c promises reasons never carry
      the peer's raw bytes);
    - a decoded frame re-encodes with the real encoders (every command has
      one; REPLY and RESULT bodies are written back as msgpack values), the
      re-encoded frame decodes again to the same command and req_id, and
      encoding that second message gives exactly the same bytes: decode and
      encode agree on every field they carry.
    Rules: C11, no state between inputs, everything allocated is freed.
*/
#include "mesh/proto.h"
#include "tests/fuzz/fuzz_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Encode m into b with the encoder of its command. */
static void s_encode(pb_buf_t *b, const pb_msg_t *m)
{
    char *s1, *s2;
    switch (m->cmd) {
    case PB_HELLO:   pb_enc_hello(b, &m->u.hello); break;
    case PB_PING:    pb_enc_ping(b, m->u.ping.seq); break;
    case PB_PONG:    pb_enc_pong(b, m->u.ping.seq); break;
    case PB_LOG:     pb_enc_log(b, &m->u.log); break;
    case PB_DONE:    pb_enc_done(b, m->u.done.items, m->u.done.n); break;
    case PB_DRAIN:   pb_enc_drain(b); break;
    case PB_BYE:     pb_enc_bye(b); break;
    case PB_WELCOME: pb_enc_welcome(b, &m->u.welcome); break;
    case PB_ASSIGN:  pb_enc_assign(b, m->u.assign.items, m->u.assign.n); break;
    case PB_REVOKE:  pb_enc_revoke(b, &m->u.revoke); break;
    case PB_SUBMIT:
        pb_enc_submit(b, m->u.submit.req_id, m->u.submit.items, m->u.submit.n, m->u.submit.wait);
        break;
    case PB_JOB: case PB_JOBS: case PB_WORKERS: case PB_CANCEL: case PB_RETRY:
    case PB_LOGS: case PB_DRAIN_WORKER: case PB_ROLES:
        pb_enc_query(b, m->cmd, &m->u.query);
        break;
    case PB_SUBMITTED:
        pb_enc_submitted(b, m->u.submitted.req_id, m->u.submitted.items, m->u.submitted.n);
        break;
    case PB_REPLY:
        pb_enc_reply_begin(b, m->u.reply.req_id);
        msgpack_pack_object(&b->pk, *m->u.reply.body);
        break;
    case PB_RESULT:
        pb_enc_result_begin(b, m->u.reply.body->via.array.size);
        for (uint32_t i = 0; i < m->u.reply.body->via.array.size; i++)
            msgpack_pack_object(&b->pk, m->u.reply.body->via.array.ptr[i]);
        break;
    case PB_API:     /* the op is a C string to the encoder */
        s1 = pb_str_dup(m->u.api.op);
        FUZZ_CHECK(s1, "out of memory");
        pb_enc_api(b, m->u.api.req_id, s1, m->u.api.body.ptr, m->u.api.body.len);
        free(s1);
        break;
    case PB_ERROR:   /* code and message are C strings to the encoder */
        s1 = pb_str_dup(m->u.error.code);
        s2 = pb_str_dup(m->u.error.message);
        FUZZ_CHECK(s1 && s2, "out of memory");
        pb_enc_error(b, m->u.error.req_id, s1, s2);
        free(s1);
        free(s2);
        break;
    case PB_ENROLL:
        pb_enc_enroll(b, &m->u.enroll);
        break;
    case PB_ENROLLED:
        s1 = pb_str_dup(m->u.enrolled.user_id);
        FUZZ_CHECK(s1, "out of memory");
        pb_enc_enrolled(b, s1);
        free(s1);
        break;
    default:
        FUZZ_CHECK(0, "pb_decode returned a message with no command");
    }
}

static void s_check_refusal(const pb_err_t *err)
{
    FUZZ_CHECK(err->status != PB_OK, "a refused frame has a status");
    size_t n = strnlen(err->reason, sizeof err->reason);
    FUZZ_CHECK(n > 0 && n < sizeof err->reason, "the reason is a terminated, non-empty string");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(err->reason[i] >= 0x20 && err->reason[i] < 0x7f,
                   "the reason is printable ASCII");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_err_t err;
    pb_msg_t *m = pb_decode(data, size, &err);
    if (!m) {
        s_check_refusal(&err);
        return 0;
    }
    FUZZ_CHECK(err.status == PB_OK, "a decoded frame has status PB_OK");
    FUZZ_CHECK(m->cmd > PB_INVALID && m->cmd < PB_CMD_COUNT, "a known command");

    pb_buf_t b1, b2;
    pb_buf_init(&b1);
    pb_buf_init(&b2);
    s_encode(&b1, m);
    pb_msg_t *m2 = pb_decode(pb_buf_data(&b1), pb_buf_size(&b1), &err);
    if (!m2)
        fprintf(stderr, "re-encoded %s does not decode: %s\n", pb_cmd_name(m->cmd), err.reason);
    FUZZ_CHECK(m2, "what the encoders write decodes");
    FUZZ_CHECK(m2->cmd == m->cmd, "the command survives a round trip");
    FUZZ_CHECK(pb_req_id(m2) == pb_req_id(m), "the req_id survives a round trip");
    s_encode(&b2, m2);
    FUZZ_CHECK(pb_buf_size(&b1) == pb_buf_size(&b2) &&
               memcmp(pb_buf_data(&b1), pb_buf_data(&b2), pb_buf_size(&b1)) == 0,
               "encode(decode(encode(m))) == encode(m)");
    pb_msg_destroy(&m2);
    pb_msg_destroy(&m);
    pb_buf_free(&b1);
    pb_buf_free(&b2);
    return 0;
}
