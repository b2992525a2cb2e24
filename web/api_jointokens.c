/*  web/api_jointokens.c — POST /api/join-tokens (admin): a join token for a
    new ZeroMQ worker, so the UI's "Register worker" dialog can show a ready
    join command. Made on the loop (node/coord_api_jointoken.c); this file
    checks the body's shape and adds the host name the client used (from
    Host), which stands in for a wildcard --bind address in the token.
    Answer 201 {id, token, expires, uses, coordinator}; the token is shown
    only in this answer (Cache-Control: no-store, as every API answer).
*/
#include "web/web_int.h"

#include <string.h>

/* The host part of the Host header ("h:8080" -> "h", "[::1]:80" -> "[::1]"). */
static void s_host(web_req_t *r, char *out, size_t len)
{
    const char *h = mg_get_header(r->conn, "Host");
    out[0] = '\0';
    if (!h)
        return;
    size_t n = h[0] == '[' ? strcspn(h, "]") + (strchr(h, ']') ? 1 : 0) : strcspn(h, ":");
    if (n < len) {
        memcpy(out, h, n);
        out[n] = '\0';
    }
}

void web_jointokens_post(web_req_t *r)
{
    char host[256];
    if (!r->body && web_read_body(r) != 0)
        return;
    json_t *body = r->body_len == 0 ? json_object() : web_body_json(r);   /* none: defaults */
    if (!body)
        return;
    if (!json_is_object(body)) {
        json_decref(body);
        web_error(r, 422, "invalid", "the body must be an object: {\"ttl_s\", \"uses\"}");
        return;
    }
    if (json_object_get(body, "host")) {
        json_decref(body);
        web_error(r, 422, "invalid", "host: unknown field");
        return;
    }
    s_host(r, host, sizeof host);
    if (host[0])
        json_object_set_new(body, "host", json_string(host));
    json_t *out = NULL;
    if (web_api(r, "jointoken.create", body, &out, 0) == 0)
        web_json(r, 201, out);
    json_decref(body);
}
