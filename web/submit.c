/*  web/submit.c — JSON job objects into one SUBMIT to the loop.

    Shared by POST /api/jobs and the role trigger webhook. A job object is
    {"role": str, "payload": any JSON (default {}), "priority": int,
     "delay_ms": int >= 0, "idempotency_key": str, "where": {label: str}}.
    Validation rule (docs/openapi.yaml): a body that is not JSON is 400;
    JSON of the wrong shape (missing role, wrong types, unknown fields) is
    422 and names the job's index and the field. Each job's role must be
    covered by the caller's scopes (submit:ROLE, submit:* or admin), else 403.
*/
#include "web/web_int.h"
#include "web/submit.h"
#include "mesh/refusal.h"

#include <stdlib.h>
#include <string.h>

#define SUBMIT_HTTP_MAX 10000   /* jobs in one POST /api/jobs */

static const char *const s_fields[] = { "role", "payload", "priority", "delay_ms",
                                        "idempotency_key", "where", NULL };

static bool s_known_field(const char *k)
{
    for (size_t i = 0; s_fields[i]; i++)
        if (strcmp(k, s_fields[i]) == 0)
            return true;
    return false;
}

const char *web_submit_check(json_t *o)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return "a job must be a JSON object";
    json_object_foreach(o, k, v)
        if (!s_known_field(k))
            return "unknown field (allowed: role, payload, priority, delay_ms, idempotency_key, where)";
    json_t *role = json_object_get(o, "role"), *pr = json_object_get(o, "priority");
    json_t *delay = json_object_get(o, "delay_ms"), *key = json_object_get(o, "idempotency_key");
    json_t *where = json_object_get(o, "where");
    if (!json_is_string(role) || json_string_length(role) == 0)
        return "role: a non-empty string is required";
    if (pr && (!json_is_integer(pr) || json_integer_value(pr) < -1000000 ||
               json_integer_value(pr) > 1000000))
        return "priority: an integer from -1000000 to 1000000";
    if (delay && (!json_is_integer(delay) || json_integer_value(delay) < 0 ||
                  json_integer_value(delay) > 4294967295LL))
        return "delay_ms: a non-negative integer of milliseconds (at most 2^32-1)";
    if (key && !json_is_string(key))
        return "idempotency_key: a string";
    if (where && !json_is_object(where))
        return "where: an object of label: string";
    json_object_foreach(where, k, v)
        if (!json_is_string(v))
            return "where: every label value must be a string";
    return NULL;
}

static void s_item_free(pb_submit_item_t *it)
{
    free((void *) it->payload.ptr);
    free(it->where.items);
}

static int s_item(json_t *o, pb_submit_item_t *it)
{
    memset(it, 0, sizeof *it);
    json_t *payload = json_object_get(o, "payload"), *role = json_object_get(o, "role");
    json_t *key = json_object_get(o, "idempotency_key"), *where = json_object_get(o, "where");
    json_t *empty = payload ? NULL : json_object();
    char *text = json_dumps(payload ? payload : empty, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(empty);
    if (!text)
        return -1;
    it->role = (pb_str_t) { json_string_value(role), (uint32_t) json_string_length(role) };
    it->payload = (pb_str_t) { text, (uint32_t) strlen(text) };
    it->priority = (int32_t) json_integer_value(json_object_get(o, "priority"));
    it->delay_ms = (uint32_t) json_integer_value(json_object_get(o, "delay_ms"));
    if (key)
        it->idem_key = (pb_str_t) { json_string_value(key), (uint32_t) json_string_length(key) };
    size_t n = json_object_size(where), i = 0;
    const char *k;
    json_t *v;
    it->where.items = n ? calloc(n, sizeof *it->where.items) : NULL;
    if (n && !it->where.items)
        return -1;
    json_object_foreach(where, k, v) {
        it->where.items[i].key = (pb_str_t) { k, (uint32_t) strlen(k) };
        it->where.items[i].val = (pb_str_t) { json_string_value(v), (uint32_t) json_string_length(v) };
        i++;
    }
    it->where.n = (uint32_t) n;
    return 0;
}

const char *web_submit_code(const json_t *entry)
{
    return json_string_value(json_object_get(json_object_get(entry, "error"), "code"));
}

static json_t *s_results(const pb_submitted_t *s)
{
    json_t *out = json_array();
    for (uint32_t i = 0; out && i < s->n; i++) {
        const pb_submitted_item_t *it = &s->items[i];
        json_t *e = it->error.ptr
            ? json_pack("{s:{s:s,s:s%}}", "error", "code", refusal_code(it->error.ptr, it->error.len), "message",
                        it->error.ptr, (size_t) it->error.len)
            : json_pack("{s:s%}", "id", it->job_id.ptr, (size_t) it->job_id.len);
        if (e && it->error.ptr && it->job_id.ptr)   /* accepted, with a remark */
            json_object_set_new(e, "id", json_stringn(it->job_id.ptr, it->job_id.len));
        json_array_append_new(out, e ? e : json_null());
    }
    return out;
}

/* Check every job (shape, then scope). 0, or -1 after answering. */
static int s_validate(web_req_t *r, json_t *jobs)
{
    size_t i;
    json_t *o;
    if (json_array_size(jobs) == 0 || json_array_size(jobs) > SUBMIT_HTTP_MAX) {
        web_error(r, 422, "invalid", "send 1 to %d jobs", SUBMIT_HTTP_MAX);
        return -1;
    }
    json_array_foreach(jobs, i, o) {
        const char *why = web_submit_check(o);
        if (why) {
            web_error(r, 422, "invalid", "job %zu: %s", i, why);
            return -1;
        }
        char need[160];
        snprintf(need, sizeof need, "submit:%.100s", json_string_value(json_object_get(o, "role")));
        if (!web_require(r, need))
            return -1;
    }
    return 0;
}

json_t *web_submit(web_req_t *r, json_t *jobs)
{
    if (s_validate(r, jobs) != 0)
        return NULL;
    size_t n = json_array_size(jobs);
    pb_submit_item_t *items = calloc(n, sizeof *items);
    int bad = !items;
    for (size_t i = 0; !bad && i < n; i++)
        bad = s_item(json_array_get(jobs, i), &items[i]);
    json_t *out = NULL;
    if (bad) {
        web_error(r, 503, "unavailable", "out of memory");
    } else {
        pb_buf_t req;
        pb_buf_init(&req);
        uint64_t id = bridge_next_id(r->bridge);
        pb_enc_submit(&req, id, items, (uint32_t) n, false);
        pb_msg_t *m = web_call(r, &req, id);
        pb_buf_free(&req);
        if (m && m->cmd == PB_SUBMITTED)
            out = s_results(&m->u.submitted);
        else if (m)
            web_error(r, 500, "internal", "unexpected answer from the loop");
        pb_msg_destroy(&m);
    }
    for (size_t i = 0; items && i < n; i++)
        s_item_free(&items[i]);
    free(items);
    return out;
}
