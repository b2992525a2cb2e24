/*  web/api_trigger.c — thepopebot's role trigger webhook:
    POST /api/cluster/{cluster_id}/role/{role}/webhook.

    Any valid key reaches the handler (NEED_ANY); the loop decides whether
    its scopes may trigger the role (the role's permissions; by default
    submit:ROLE or submit:*; admin always). The body is a JSON object; it
    becomes the job's payload as sent ("prompt", a string when present, and
    every other field). Answers 202 {"ok":true,"job_id":..} after the
    durable commit; 404 for another cluster's id or an unknown role; 403
    for a key without permission or a disabled role; 429 when
    --queue-limit jobs wait; 400 for a body that is not JSON, 422 for one
    that is not an object or whose prompt is not a string.

    It is the benchmark's hot path: one round trip to the loop (role.trigger),
    the body parsed once here to check it and passed on as text, and the
    loop's small answer forwarded as it is.
*/
#include "web/web_int.h"
#include "mesh/role.h"

#include <stdlib.h>
#include <string.h>

/* Why the body cannot be a trigger's payload, or NULL (also NULL after
   answering 400 for a body that is not JSON, with *answered set). */
static const char *s_check(web_req_t *r, bool *answered)
{
    json_t *body = web_body_json(r);
    const char *why = NULL;
    *answered = !body;
    if (body && !json_is_object(body))
        why = "the body must be a JSON object";
    else if (body && json_object_get(body, "prompt") && !json_is_string(json_object_get(body, "prompt")))
        why = "prompt must be a string";
    json_decref(body);
    return why;
}

/* role.trigger on the loop; its REPLY text goes out as it is. */
static void s_trigger(web_req_t *r)
{
    json_t *req = json_pack("{s:s,s:s,s:s%}", "role", r->param[1], "scopes", r->key.scopes,
                            "payload", r->body, r->body_len);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text) {
        web_error(r, 503, "unavailable", "out of memory");
        return;
    }
    pb_buf_t msg;
    pb_buf_init(&msg);
    uint64_t id = bridge_next_id(r->bridge);
    pb_enc_api(&msg, id, "role.trigger", text, strlen(text));
    free(text);
    pb_msg_t *m = web_call(r, &msg, id);
    pb_buf_free(&msg);
    if (m && m->cmd == PB_REPLY && m->u.reply.body->type == MSGPACK_OBJECT_STR)
        web_send(r, 202, "application/json", m->u.reply.body->via.str.ptr,
                 m->u.reply.body->via.str.size);
    else if (m)
        web_error(r, 500, "internal", "unexpected answer from the loop");
    pb_msg_destroy(&m);
}

void web_role_trigger(web_req_t *r)
{
    if (strcmp(r->param[0], r->web->cluster_id) != 0) {
        web_error(r, 404, "not-found", "no cluster %.64s here", r->param[0]);
        return;
    }
    if (!role_name_valid(r->param[1])) {
        web_error(r, 404, "not-found", "unknown role '%.64s'", r->param[1]);
        return;
    }
    bool answered;
    const char *why = s_check(r, &answered);
    if (why)
        web_error(r, 422, "invalid", "%s", why);
    else if (!answered)
        s_trigger(r);
}
