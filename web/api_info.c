/*  web/api_info.c — /healthz, /readyz and GET /api/info.

    /healthz answers while the process serves HTTP at all (liveness);
    /readyz only when the mesh loop answers within a second and the store
    takes new jobs (readiness: route traffic here). Neither needs a key
    and neither says more than its status and a word.
*/
#include "web/web_int.h"
#include "mesh/clock.h"

void web_healthz(web_req_t *r)
{
    web_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* info from the loop with a short wait; NULL if it did not answer. */
static json_t *s_info(web_req_t *r, uint32_t timeout_ms)
{
    pb_buf_t req;
    pb_buf_init(&req);
    uint64_t id = bridge_next_id(r->bridge);
    pb_enc_api(&req, id, "info", "{}", 2);
    pb_msg_t *m = bridge_call(r->bridge, &req, id, timeout_ms);
    pb_buf_free(&req);
    json_t *j = NULL;
    if (m && m->cmd == PB_REPLY && m->u.reply.body->type == MSGPACK_OBJECT_STR)
        j = json_loadb(m->u.reply.body->via.str.ptr, m->u.reply.body->via.str.size, 0, NULL);
    pb_msg_destroy(&m);
    return j;
}

void web_readyz(web_req_t *r)
{
    json_t *info = s_info(r, 1000);
    const char *full = json_string_value(json_object_get(info, "store_full"));
    if (!info)
        web_json(r, 503, json_pack("{s:s,s:s}", "status", "unavailable", "reason",
                                   "the mesh loop does not answer"));
    else if (full)
        web_json(r, 503, json_pack("{s:s,s:s}", "status", "unavailable", "reason", "store full"));
    else
        web_json(r, 200, json_pack("{s:s}", "status", "ready"));
    json_decref(info);
}

void web_info(web_req_t *r)
{
    json_t *info = NULL, *none = json_object();
    if (web_api(r, "info", none, &info, 0) == 0)
        web_json(r, 200, info);
    json_decref(none);
}
