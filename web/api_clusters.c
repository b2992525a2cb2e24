/*  web/api_clusters.c — worker registrations: GET/POST /api/clusters and
    GET/PATCH/DELETE /api/clusters/{id} (thepopebot's listClusters,
    createCluster, getCluster, updateCluster, deleteCluster), and
    POST /api/clusters/{id}/disconnect (end the worker's session).

    Each route is one loop operation (node/coord_api_cluster.c), which
    checks the body and answers with the registration's live state. The
    web layer's part: the body must be a JSON object (else 422, or 400 when
    it is not JSON at all), and create's answer gets the webhook_url, built
    from the request's Host header (the address the caller reached us by).
    The token in create's answer is the only time it is ever shown.
*/
#include "web/web_int.h"

#include <string.h>

/* The request body, which must be a JSON object; NULL after answering. */
static json_t *s_object(web_req_t *r)
{
    json_t *body = web_body_json(r);
    if (body && !json_is_object(body)) {
        json_decref(body);
        web_error(r, 422, "invalid", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

/* One operation on the registration named by the path; the answer or NULL. */
static json_t *s_op(web_req_t *r, const char *op, json_t *set)
{
    json_t *req = json_pack("{s:s,s:O?}", "id", r->param[0], "set", set), *out = NULL;
    if (!req) {
        web_error(r, 503, "unavailable", "out of memory");
        return NULL;
    }
    web_api(r, op, req, &out, 0);
    json_decref(req);
    return out;
}

/* Whether a Host header is safe to echo into a URL. */
static bool s_host_ok(const char *h)
{
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_", h[i]))
            return false;
    return true;
}

static json_t *s_webhook_url(web_req_t *r, const char *id)
{
    const char *host = mg_get_header(r->conn, "Host");
    char url[512];
    snprintf(url, sizeof url, "%s://%s/api/cluster/%s/webhook", r->ri->is_ssl ? "https" : "http",
             s_host_ok(host) ? host : r->web->listen, id);
    return json_string(url);
}

void web_clusters_list(web_req_t *r)
{
    json_t *none = json_object(), *out = NULL;
    if (web_api(r, "cluster.list", none, &out, 0) == 0)
        web_json(r, 200, out);
    json_decref(none);
}

void web_clusters_post(web_req_t *r)
{
    json_t *body = s_object(r), *out = NULL;
    if (!body)
        return;
    if (web_api(r, "cluster.create", body, &out, 0) == 0) {
        const char *id = json_string_value(json_object_get(out, "id"));
        json_object_set_new(out, "webhook_url", s_webhook_url(r, id ? id : ""));
        web_json(r, 201, out);
    }
    json_decref(body);
}

void web_cluster_get(web_req_t *r)
{
    json_t *out = s_op(r, "cluster.get", NULL);
    if (out)
        web_json(r, 200, out);
}

void web_cluster_patch(web_req_t *r)
{
    json_t *body = s_object(r);
    if (!body)
        return;
    json_t *out = s_op(r, "cluster.patch", body);
    if (out)
        web_json(r, 200, out);
    json_decref(body);
}

void web_cluster_delete(web_req_t *r)
{
    json_t *out = s_op(r, "cluster.delete", NULL);
    if (out)
        web_send(r, 204, "application/json", "", 0);
    json_decref(out);
}

void web_cluster_disconnect(web_req_t *r)
{
    json_t *out = s_op(r, "cluster.disconnect", NULL);
    if (out)
        web_send(r, 204, "application/json", "", 0);
    json_decref(out);
}
