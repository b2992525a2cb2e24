/*  web/http.c — responses, request bodies and query strings (web_int.h).

    Every response goes through s_respond(), which counts it by status for
    /metrics and sets the headers all JSON answers share. Errors are always
    {"error":{"code":..,"message":..}}: code is a short machine word, message
    one line for people. Bodies are read up to --http-max-body: a declared
    length over it is refused before a byte is read, an undeclared
    (chunked) body as soon as it passes the limit.
*/
#include "web/web_int.h"
#include "mesh/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reason phrases of the statuses this server sends (RFC 9110 spelling). */
static const char *s_reason(int status)
{
    static const struct { int status; const char *text; } known[] = {
        { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
        { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
        { 404, "Not Found" }, { 405, "Method Not Allowed" }, { 409, "Conflict" },
        { 413, "Content Too Large" }, { 422, "Unprocessable Content" },
        { 429, "Too Many Requests" }, { 500, "Internal Server Error" },
        { 503, "Service Unavailable" }, { 507, "Insufficient Storage" },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].status == status)
            return known[i].text;
    const char *r = mg_get_response_code_text(NULL, status);
    return r ? r : "";
}

/* Under TLS, browsers are told to use nothing else for a year. */
static const char *s_hsts(const web_req_t *r)
{
    return r->ri->is_ssl ? "Strict-Transport-Security: max-age=31536000\r\n" : "";
}

/* status, headers and body; cache is the Cache-Control value. */
static void s_respond_as(web_req_t *r, int status, const char *type, const char *data, size_t len,
                         const char *cache)
{
    if (status == 204 || status == 304) { /* no body, so no Content-Type or Content-Length */
        mg_printf(r->conn, "HTTP/1.1 %d %s\r\nCache-Control: %s\r\n%s%s\r\n", status,
                  s_reason(status), cache, s_hsts(r), r->hdr);
        len = 0;
    } else {
        mg_printf(r->conn,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: %s\r\n"
                  "Content-Length: %zu\r\n"
                  "Cache-Control: %s\r\n"
                  "X-Content-Type-Options: nosniff\r\n"
                  "%s%s%s%s%s"
                  "\r\n",
                  status, s_reason(status), type, len, cache, s_hsts(r), r->hdr,
                  status == 405 ? "Allow: " : "", status == 405 ? r->allow : "",
                  status == 405 ? "\r\n" : "");
    }
    if (len && strcmp(r->ri->request_method, "HEAD") != 0)
        mg_write(r->conn, data, len);
    r->status = status;
    if (status > 0 && status < WEB_STATUS_SLOTS)
        atomic_fetch_add(&r->web->by_status[status], 1);
}

static void s_respond(web_req_t *r, int status, const char *type, const char *data, size_t len)
{
    s_respond_as(r, status, type, data, len, "no-store");
}

void web_header(web_req_t *r, const char *fmt, ...)
{
    char line[sizeof r->hdr];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t used = strlen(r->hdr);
    if (n > 0 && (size_t) n < sizeof line && used + (size_t) n + 3 <= sizeof r->hdr) {
        memcpy(r->hdr + used, line, (size_t) n);
        memcpy(r->hdr + used + (size_t) n, "\r\n", 3);
    }
}

void web_send(web_req_t *r, int status, const char *type, const char *data, size_t len)
{
    s_respond(r, status, type, data, len);
}

void web_send_cached(web_req_t *r, int status, const char *type, const char *data, size_t len)
{
    s_respond_as(r, status, type, data, len, "no-cache");
}

void web_stream_start(web_req_t *r, int status, const char *type)
{
    mg_printf(r->conn,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: %s\r\n"
              "Transfer-Encoding: chunked\r\n"
              "Cache-Control: no-store\r\n"
              "X-Accel-Buffering: no\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "%s"
              "\r\n",
              status, s_reason(status), type, s_hsts(r));
    r->status = status;
    if (status > 0 && status < WEB_STATUS_SLOTS)
        atomic_fetch_add(&r->web->by_status[status], 1);
}

int web_stream_write(web_req_t *r, const char *data, size_t len)
{
    if (len == 0)
        return 0;               /* an empty chunk would end the stream */
    return mg_send_chunk(r->conn, data, (unsigned) len) < 0 ? -1 : 0;
}

void web_stream_end(web_req_t *r)
{
    mg_send_chunk(r->conn, "", 0);
}

void web_json(web_req_t *r, int status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(obj);
    if (!text) {
        static const char oom[] = "{\"error\":{\"code\":\"unavailable\",\"message\":\"out of memory\"}}";
        s_respond(r, 503, "application/json", oom, sizeof oom - 1);
        return;
    }
    s_respond(r, status, "application/json", text, strlen(text));
    free(text);
}

void web_error(web_req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n;
    char *clean = utf8_repair(msg, strlen(msg), &n);  /* it may quote the caller's bytes */
    web_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
                                  clean ? clean : code));
    free(clean);
}

/* Grow buf to hold more; NULL (buf freed) when out of memory. */
static char *s_grow(char *buf, size_t *cap, size_t max)
{
    size_t ncap = *cap * 2 > max + 2 ? max + 2 : *cap * 2;
    char *b = realloc(buf, ncap);
    if (!b)
        free(buf);
    *cap = ncap;
    return b;
}

int web_read_body(web_req_t *r)
{
    size_t max = r->web->opts.max_body, len = 0;
    long long declared = r->ri->content_length;  /* -1 when chunked */
    if (declared > (long long) max) {
        web_error(r, 413, "too-large", "request body of %lld bytes is over the limit of %zu",
                  declared, max);
        return -1;
    }
    size_t cap = declared >= 0 ? (size_t) declared + 1 : 4096;
    char *buf = malloc(cap);
    while (buf && len <= max && (declared < 0 || len < (size_t) declared)) {
        if (len + 1 == cap && !(buf = s_grow(buf, &cap, max)))
            break;
        int n = mg_read(r->conn, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t) n;
    }
    if (!buf) {
        web_error(r, 503, "unavailable", "out of memory");
        return -1;
    }
    if (len > max) {
        free(buf);
        web_error(r, 413, "too-large", "request body is over the limit of %zu bytes", max);
        return -1;
    }
    buf[len] = '\0';
    r->body = buf;
    r->body_len = len;
    return 0;
}

json_t *web_body_json(web_req_t *r)
{
    if (!r->body && web_read_body(r) != 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        web_error(r, 400, "bad-json", "the body is not JSON: %s (line %d, column %d)", je.text,
                  je.line, je.column);
        return NULL;
    }
    if (!json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        web_error(r, 400, "bad-json", "the body must be a JSON object or array");
        return NULL;
    }
    return j;
}

int web_query(const web_req_t *r, const char *name, char *buf, size_t len)
{
    const char *qs = r->ri->query_string;
    if (!qs)
        return 0;
    return mg_get_var(qs, strlen(qs), name, buf, len) >= 0;
}

int web_param(web_req_t *r, const char *name, char *buf, size_t len)
{
    const char *qs = r->ri->query_string;
    int n = qs ? mg_get_var(qs, strlen(qs), name, buf, len) : -1;
    if (n >= 0 && utf8_valid(buf, (size_t) n))
        return 1;
    if (n == -1)
        return 0;
    web_error(r, 422, "invalid", "%s: the value is %s", name,
              n >= 0 ? "not valid UTF-8" : "too long");
    return -1;
}

int web_params_known(web_req_t *r, const char *const *known)
{
    const char *p = r->ri->query_string;
    while (p && *p) {
        size_t n = strcspn(p, "=&");
        bool ok = n == 0;
        for (size_t i = 0; !ok && known[i]; i++)
            ok = strlen(known[i]) == n && memcmp(known[i], p, n) == 0;
        if (!ok) {
            web_error(r, 422, "invalid", "unknown query parameter '%.*s'", (int) (n > 40 ? 40 : n), p);
            return -1;
        }
        p += strcspn(p, "&");
        p += *p == '&';
    }
    return 0;
}

int web_status_for(const char *code, size_t len)
{
    static const struct { const char *code; int status; } map[] = {
        { "not-found", 404 }, { "conflict", 409 }, { "bad-request", 400 },
        { "invalid", 422 }, { "forbidden", 403 }, { "too-large", 413 },
        { "queue-full", 429 }, { "store-full", 507 }, { "unavailable", 503 },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].code) == len && memcmp(map[i].code, code, len) == 0)
            return map[i].status;
    return 500;
}

bool web_hold(web_req_t *r, atomic_int *held, int max, const char *what)
{
    if (atomic_fetch_add(held, 1) < max)
        return true;
    atomic_fetch_sub(held, 1);
    web_error(r, 503, "busy", "%d %s are open already, the most this server holds at once "
              "(a quarter of --http-threads for event streams and log follows, half for job polls)", max, what);
    return false;
}

void web_let_go(atomic_int *held)
{
    atomic_fetch_sub(held, 1);
}

bool web_require(web_req_t *r, const char *need)
{
    if (r->authed && auth_allows(r->key.scopes, need))
        return true;
    web_error(r, 403, "forbidden", "this key may not do that (needs scope %s)", need);
    return false;
}
