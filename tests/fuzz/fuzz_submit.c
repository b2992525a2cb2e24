/*  tests/fuzz/fuzz_submit.c — libFuzzer target: the job objects of
    POST /api/jobs (and of the role trigger webhook), checked by
    web/submit.h web_submit_check.

    Input: a request body. It is parsed as the web layer parses bodies
    (web_body_json: duplicate keys refused, an object or an array), a lone
    object stands for a one-job array (web_jobs_post), and every job goes
    through web_submit_check.

    What it asserts: a refusal is a non-empty reason; an accepted job has
    what the loop needs — a non-empty role string, and priority, delay_ms,
    idempotency_key and where values that fit the SUBMIT fields they are
    copied into (int32, uint32, str, {str: str}) without wrapping — and
    the SUBMIT frame built from it the way web/submit.c builds one (the
    real encoder) decodes again with the same role, payload, priority,
    delay, key and labels.
    Rules: C11, no state between inputs, everything allocated is freed.
*/
#include "web/submit.h"
#include "mesh/proto.h"
#include "tests/fuzz/fuzz_check.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool s_same(pb_str_t a, const char *p, size_t len)
{
    return a.len == len && (len == 0 || memcmp(a.ptr, p, len) == 0);
}

/* One accepted job: encode a SUBMIT of it and decode it back. */
static void s_accepted(json_t *o)
{
    json_t *role = json_object_get(o, "role"), *pr = json_object_get(o, "priority");
    json_t *delay = json_object_get(o, "delay_ms"), *key = json_object_get(o, "idempotency_key");
    json_t *where = json_object_get(o, "where"), *payload = json_object_get(o, "payload");
    FUZZ_CHECK(json_is_string(role) && json_string_length(role) > 0, "a role string");
    json_int_t p = json_integer_value(pr), d = json_integer_value(delay);
    FUZZ_CHECK(!pr || (json_is_integer(pr) && p == (int32_t) p), "priority fits int32");
    FUZZ_CHECK(!delay || (json_is_integer(delay) && d >= 0 && d == (json_int_t) (uint32_t) d),
               "delay_ms fits uint32");
    FUZZ_CHECK(!key || json_is_string(key), "idempotency_key is a string");
    FUZZ_CHECK(!where || json_is_object(where), "where is an object");

    json_t *empty = payload ? NULL : json_object();
    char *text = json_dumps(payload ? payload : empty, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(empty);
    FUZZ_CHECK(text, "the payload serialises");
    size_t n = json_object_size(where), i = 0;
    pb_kv_t *labels = calloc(n ? n : 1, sizeof *labels);
    FUZZ_CHECK(labels, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(where, k, v) {
        FUZZ_CHECK(json_is_string(v), "a label value is a string");
        labels[i].key = (pb_str_t) { k, (uint32_t) strlen(k) };
        labels[i].val = (pb_str_t) { json_string_value(v), (uint32_t) json_string_length(v) };
        i++;
    }
    pb_submit_item_t it = {
        .role = { json_string_value(role), (uint32_t) json_string_length(role) },
        .payload = { text, (uint32_t) strlen(text) },
        .priority = (int32_t) p, .where = { labels, (uint32_t) n }, .delay_ms = (uint32_t) d,
        .idem_key = key ? (pb_str_t) { json_string_value(key), (uint32_t) json_string_length(key) }
                        : (pb_str_t) { NULL, 0 },
    };
    pb_buf_t b;
    pb_buf_init(&b);
    pb_enc_submit(&b, 7, &it, 1, false);
    pb_err_t err;
    pb_msg_t *m = pb_decode(pb_buf_data(&b), pb_buf_size(&b), &err);
    FUZZ_CHECK(m && m->cmd == PB_SUBMIT && m->u.submit.n == 1, "the SUBMIT decodes");
    const pb_submit_item_t *got = &m->u.submit.items[0];
    FUZZ_CHECK(s_same(got->role, it.role.ptr, it.role.len), "role survives");
    FUZZ_CHECK(s_same(got->payload, text, strlen(text)), "payload survives");
    FUZZ_CHECK(got->priority == it.priority && got->delay_ms == it.delay_ms, "numbers survive");
    FUZZ_CHECK((got->idem_key.ptr != NULL) == (key != NULL) &&
               (!key || s_same(got->idem_key, it.idem_key.ptr, it.idem_key.len)), "key survives");
    FUZZ_CHECK(got->where.n == n, "labels survive");
    for (i = 0; i < n; i++)
        FUZZ_CHECK(s_same(got->where.items[i].key, labels[i].key.ptr, labels[i].key.len) &&
                   s_same(got->where.items[i].val, labels[i].val.ptr, labels[i].val.len),
                   "each label survives");
    pb_msg_destroy(&m);
    pb_buf_free(&b);
    free(labels);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body) && !json_is_array(body)) {
        json_decref(body);
        return 0;
    }
    json_t *jobs = json_is_object(body) ? json_pack("[O]", body) : json_incref(body);
    FUZZ_CHECK(jobs, "out of memory");
    size_t i;
    json_t *o;
    json_array_foreach(jobs, i, o) {
        const char *why = web_submit_check(o);
        if (why)
            FUZZ_CHECK(why[0] != '\0', "a refusal says why");
        else
            s_accepted(o);
    }
    json_decref(jobs);
    json_decref(body);
    return 0;
}
