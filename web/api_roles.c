/*  web/api_roles.c — GET/POST /api/roles, GET/PATCH/DELETE /api/roles/{name}.

    Roles live on the mesh loop (node/coord_api_role.c), so every handler is
    one API operation there; this file only shapes bodies and statuses:
    list and get 200, create 201, patch 200, delete 204 (no body). The
    loop parses a role by the roles file's strict rules; its refusals come
    back as invalid 422 (naming the field), not-found 404 or conflict 409
    (a duplicate name, a built-in role, a role with unfinished jobs).
    A body that is not JSON is 400; one that is not an object is 422.
*/
#include "web/web_int.h"
#include "mesh/role.h"

/* The body as a JSON object, or NULL after answering 400 or 422. */
static json_t *s_object(web_req_t *r)
{
    json_t *body = web_body_json(r);
    if (body && !json_is_object(body)) {
        json_decref(body);
        web_error(r, 422, "invalid", "the body must be a role object");
        return NULL;
    }
    return body;
}

/* Run op with req (stolen) and answer status with its result. */
static void s_call(web_req_t *r, const char *op, json_t *req, int status)
{
    json_t *out = NULL;
    if (!req)
        web_error(r, 503, "unavailable", "out of memory");
    else if (web_api(r, op, req, &out, 0) == 0 && status == 204)
        web_send(r, 204, "application/json", "", 0);
    else if (out)
        web_json(r, status, json_incref(out));
    json_decref(out);
    json_decref(req);
}

void web_roles_list(web_req_t *r)
{
    s_call(r, "role.list", json_object(), 200);
}

/* Whether the path names a possible role; answers 404 when not (a name
   that is no role name, bad UTF-8 included, names no role). */
static bool s_named(web_req_t *r)
{
    if (role_name_valid(r->param[0]))
        return true;
    web_error(r, 404, "not-found", "no role '%.64s'", r->param[0]);
    return false;
}

void web_role_get(web_req_t *r)
{
    if (s_named(r))
        s_call(r, "role.get", json_pack("{s:s}", "name", r->param[0]), 200);
}

void web_roles_post(web_req_t *r)
{
    json_t *body = s_object(r);
    if (body)
        s_call(r, "role.create", json_pack("{s:o}", "role", body), 201);
}

void web_role_patch(web_req_t *r)
{
    json_t *body = s_named(r) ? s_object(r) : NULL;
    if (body)
        s_call(r, "role.update", json_pack("{s:s,s:o}", "name", r->param[0], "patch", body), 200);
}

void web_role_delete(web_req_t *r)
{
    if (s_named(r))
        s_call(r, "role.delete", json_pack("{s:s}", "name", r->param[0]), 204);
}
