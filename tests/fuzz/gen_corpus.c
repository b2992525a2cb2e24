/*  tests/fuzz/gen_corpus.c — writes the seed frames of corpus/fuzz_proto with
    the real encoders of mesh/proto.h: one valid frame per command, and a
    few refused ones (wrong signature, other version, unknown command, cut
    short, a type mismatch).

        gen_corpus DIR     writes DIR/NAME.bin (DIR must exist)

    Rerun it and commit the result when the protocol changes. Rules: C11,
    deterministic output (no clocks, no randomness), exits non-zero on any
    write error.
*/
#include "mesh/proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_dir;
static int s_failed;

static void s_write(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.bin", s_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        s_failed = 1;
    }
}

/* Write b's frame, then reset b for the next one. */
static void s_emit(pb_buf_t *b, const char *name)
{
    s_write(name, pb_buf_data(b), pb_buf_size(b));
    pb_buf_reset(b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    s_dir = argv[1];
    pb_buf_t b;
    pb_buf_init(&b);

    pb_str_t roles[] = { pb_s("echo"), pb_s("build.linux") };
    pb_kv_t labels[] = { { pb_s("zone"), pb_s("eu-1") }, { pb_s("gpu"), pb_s("yes") } };
    pb_lease_ref_t running[] = { { pb_s("0000000000000001"), 2 } };
    pb_hello_t hello = {
        .worker_id = pb_s("w1"), .name = pb_s("box one"), .roles = { roles, 2 }, .slots = 4,
        .labels = { labels, 2 }, .version = pb_s("0.1.0"), .heartbeat_ms = 1000,
        .liveness = 3, .running = running, .n_running = 1, .draining = false,
    };
    pb_enc_hello(&b, &hello);
    s_emit(&b, "hello");
    pb_enc_ping(&b, 42);
    s_emit(&b, "ping");
    pb_enc_pong(&b, 42);
    s_emit(&b, "pong");
    pb_w_begin(&b, PB_PING, 0);            /* a version-1 PING without a sequence */
    s_emit(&b, "ping_bare");
    pb_log_t log = { pb_s("0000000000000001"), 1, 2, { "line one\nline \xff two\n", 19 } };
    pb_enc_log(&b, &log);
    s_emit(&b, "log");
    pb_done_item_t done[] = {
        { pb_s("0000000000000001"), 1, pb_s("succeeded"), true, 0, pb_s("{\"ok\":true}"), { NULL, 0 } },
        { pb_s("0000000000000002"), 3, pb_s("failed"), false, 0, { NULL, 0 }, pb_s("exit 1") },
    };
    pb_enc_done(&b, done, 2);
    s_emit(&b, "done");
    pb_enc_drain(&b);
    s_emit(&b, "drain");
    pb_enc_bye(&b);
    s_emit(&b, "bye");
    pb_welcome_t welcome = { 1000, 3, pb_s("0.1.0") };
    pb_enc_welcome(&b, &welcome);
    s_emit(&b, "welcome");
    pb_str_t cmd[] = { pb_s("/bin/echo"), pb_s("{{JOB_ID}}"), pb_s("{{PAYLOAD}}") };
    pb_kv_t env[] = { { pb_s("MODE"), pb_s("fast") } };
    pb_lease_t lease = { pb_s("0000000000000001"), 1, pb_s("build"), pb_s("{\"a\":1}"),
                         { cmd, 3 }, false, { env, 1 }, 30000 };
    pb_enc_assign(&b, &lease, 1);
    s_emit(&b, "assign");
    pb_enc_revoke(&b, &running[0]);
    s_emit(&b, "revoke");
    pb_submit_item_t sub[] = {
        { pb_s("echo"), pb_s("{\"x\":1}"), 5, { labels, 1 }, 0, { NULL, 0 } },
        { pb_s("sleep"), pb_s("{\"ms\":10}"), -3, { NULL, 0 }, 1500, pb_s("key-1") },
    };
    pb_enc_submit(&b, 9, sub, 2, true);
    s_emit(&b, "submit");
    pb_query_t q = { .req_id = 3, .job_id = pb_s("0000000000000001") };
    pb_enc_query(&b, PB_JOB, &q);
    s_emit(&b, "job");
    pb_enc_query(&b, PB_CANCEL, &q);
    s_emit(&b, "cancel");
    pb_enc_query(&b, PB_RETRY, &q);
    s_emit(&b, "retry");
    pb_query_t jobs = { .req_id = 4, .state = pb_s("queued"), .role = pb_s("echo"), .limit = 50 };
    pb_enc_query(&b, PB_JOBS, &jobs);
    s_emit(&b, "jobs");
    pb_enc_query(&b, PB_WORKERS, &q);
    s_emit(&b, "workers");
    pb_query_t lq = { .req_id = 5, .job_id = pb_s("0000000000000001"), .offset = 10, .limit = 4096 };
    pb_enc_query(&b, PB_LOGS, &lq);
    s_emit(&b, "logs");
    pb_query_t dq = { .req_id = 6, .worker_id = pb_s("w1"), .drain = true };
    pb_enc_query(&b, PB_DRAIN_WORKER, &dq);
    s_emit(&b, "drain_worker");
    pb_enc_query(&b, PB_ROLES, &q);
    s_emit(&b, "roles");
    pb_submitted_item_t sd[] = { { pb_s("0000000000000003"), { NULL, 0 } },
                                 { { NULL, 0 }, pb_s("unknown role 'nope'") } };
    pb_enc_submitted(&b, 9, sd, 2);
    s_emit(&b, "submitted");
    const char *body = "{\"id\":\"w1\",\"set\":{\"slots\":2}}";
    pb_enc_api(&b, 11, "cluster.patch", body, strlen(body));
    s_emit(&b, "api");
    pb_enc_error(&b, 11, "not-found", "no worker registration 'w9'");
    s_emit(&b, "error");
    pb_enc_reply_begin(&b, 12);
    pb_w_map(&b, 2);
    pb_w_cstr(&b, "id");
    pb_w_cstr(&b, "0000000000000001");
    pb_w_cstr(&b, "attempts");
    pb_w_array(&b, 1);
    pb_w_int(&b, -1);
    s_emit(&b, "reply");
    pb_enc_result_begin(&b, 1);
    pb_w_map(&b, 2);
    pb_w_cstr(&b, "id");
    pb_w_cstr(&b, "0000000000000001");
    pb_w_cstr(&b, "state");
    pb_w_cstr(&b, "succeeded");
    s_emit(&b, "result");

    /* refused frames */
    pb_w_array(&b, 3);
    pb_w_cstr(&b, "XX");
    pb_w_uint(&b, 1);
    pb_w_cstr(&b, "PING");
    s_emit(&b, "bad_signature");
    pb_w_array(&b, 3);
    pb_w_cstr(&b, "PB");
    pb_w_uint(&b, 2);
    pb_w_cstr(&b, "PING");
    s_emit(&b, "bad_version");
    pb_w_array(&b, 3);
    pb_w_cstr(&b, "PB");
    pb_w_uint(&b, 1);
    pb_w_cstr(&b, "PIN\x01G");
    s_emit(&b, "bad_command");
    pb_enc_hello(&b, &hello);
    s_write("bad_truncated", pb_buf_data(&b), pb_buf_size(&b) / 2);
    pb_buf_reset(&b);
    pb_w_begin(&b, PB_WELCOME, 3);
    pb_w_cstr(&b, "1000");                 /* heartbeat_ms must be uint32 */
    pb_w_uint(&b, 3);
    pb_w_cstr(&b, "0.1.0");
    s_emit(&b, "bad_type");
    const unsigned char huge[] = { 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0 };  /* array32 of 2^31 - 1 */
    s_write("bad_count", huge, sizeof huge);

    pb_buf_free(&b);
    return s_failed;
}
