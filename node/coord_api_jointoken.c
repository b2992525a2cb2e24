/*  node/coord_api_jointoken.c — the "jointoken.create" API operation behind
    POST /api/join-tokens: a join token for a new ZeroMQ worker, made on the
    loop because the loop knows the coordinator's key and endpoint.

    Body {ttl_s?: 60..2592000 (default 86400), uses?: 0..100000 (default 1;
    0 = any number), host?: the HTTP request's host name, set by the web
    layer}. The token names the --bind endpoint; when that binds every
    interface (tcp: "*", 0.0.0.0 or [::]) the host the browser used stands in
    for the address. Answer {id, token, expires (ms, null = never), uses,
    coordinator}.
    Rules: refused (conflict) with --insecure, where workers need none;
    the token text is wiped after it is encoded into the answer.
*/
#include "node/coord_int.h"
#include "node/coord_api.h"
#include "node/jointoken_issue.h"
#include "node/log.h"
#include "store/auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define TTL_DEFAULT_S 86400
#define TTL_MAX_S (30 * 86400)
#define USES_MAX 100000

/* An int field in [lo, hi] or its default; false (after answering) when bad. */
static bool s_int(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body, const char *key,
                  json_int_t lo, json_int_t hi, json_int_t *out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        coord_api_error(c, rid, req_id, "invalid", "%s: must be a whole number from %lld to %lld",
                        key, (long long) lo, (long long) hi);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/* A host name, an IPv4 address, or an IPv6 address in brackets. */
static bool s_host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 200)
        return false;
    if (h[0] == '[')
        return n > 2 && h[n - 1] == ']' &&
               strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
    return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n;
}

/* The endpoint a worker dials: --bind, with host standing in for a
   wildcard address; false when the bind is a wildcard and host is no
   usable name. */
static bool s_endpoint(const coord_t *c, const char *host, char *out, size_t len)
{
    const char *bind = c->opts->bind;
    const char *addr = strstr(bind, "://");
    const char *port = strrchr(bind, ':');
    addr = addr ? addr + 3 : bind;
    size_t alen = port && port > addr ? (size_t) (port - addr) : 0;
    bool wild = (alen == 1 && addr[0] == '*') || (alen == 7 && !memcmp(addr, "0.0.0.0", 7)) ||
                (alen == 4 && !memcmp(addr, "[::]", 4));
    if (wild && !(host && s_host_ok(host)))
        return false;
    if (wild)
        snprintf(out, len, "tcp://%s%s", host, port);
    else
        snprintf(out, len, "%s", bind);
    return true;
}

static bool s_known(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "ttl_s") && strcmp(key, "uses") && strcmp(key, "host")) {
            coord_api_error(c, rid, req_id, "invalid", "%.64s: unknown field", key);
            return false;
        }
    }
    return true;
}

void coord_api_jointoken_create(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    json_int_t ttl = TTL_DEFAULT_S, uses = 1;
    char endpoint[JTOKEN_ENDPOINT_MAX + 1], text[JTOKEN_TEXT_MAX], err[256];
    auth_jt_t rec;
    if (!c->secure) {
        coord_api_error(c, rid, req_id, "conflict", "this mesh runs --insecure: a worker joins "
                        "with --insecure and needs no token");
        return;
    }
    if (!s_known(c, rid, req_id, body) ||
        !s_int(c, rid, req_id, body, "ttl_s", 60, TTL_MAX_S, &ttl) ||
        !s_int(c, rid, req_id, body, "uses", 0, USES_MAX, &uses))
        return;
    if (!s_endpoint(c, json_string_value(json_object_get(body, "host")), endpoint,
                    sizeof endpoint)) {
        coord_api_error(c, rid, req_id, "invalid", "--bind %.100s listens on every interface and "
                        "the request's Host header names no usable host to put in the token; "
                        "use `join-token --coordinator=EP`", c->opts->bind);
        return;
    }
    if (jointoken_issue(c->auth, c->server_pub, endpoint, (int64_t) ttl * 1000, (uint32_t) uses,
                        &rec, text, err, sizeof err) != 0) {
        log_msg(LL_WARN, "coordinator", "join token: %s", err);
        coord_api_error(c, rid, req_id, "unavailable", "a join token cannot be made now");
        return;
    }
    json_t *out = json_pack("{s:s,s:s,s:o,s:I,s:s}", "id", rec.id, "token", text, "expires",
                            rec.expires_ms ? json_integer(rec.expires_ms) : json_null(), "uses",
                            (json_int_t) rec.uses_max, "coordinator", endpoint);
    sodium_memzero(text, sizeof text);
    log_msg(LL_INFO, "coordinator", "join token %s made over the API (%lld s, %lld use(s))",
            rec.id, (long long) ttl, (long long) uses);
    coord_api_reply(c, rid, req_id, out);
}
