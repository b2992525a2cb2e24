/*  web/routes.c — the route table, path matching and authentication.

    The table is the one list of every route: the router matches it, and
    tests/unit/test_routes.c checks each entry against docs/openapi.yaml, so
    a route cannot exist without being described there.

    Rules: a path that matches no route is 404; one that matches only with
    another method is 405. Every route but /healthz, /readyz, the three
    login routes and the UI's pages and files needs a credential: an API
    key (x-api-key or Authorization: Bearer), or else a UI session cookie
    (web/api_login.c), which counts as an admin key but must bring its CSRF
    token on a state change. 401
    without a valid one, 403 when its scopes do not cover the route (or a
    session's change lacks the token). A key, when sent, wins over a cookie.
*/
#include "web/web_int.h"
#include "node/log.h"
#include "mesh/utf8.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const web_route_t s_routes[] = {
    { "GET", "/healthz", NEED_NONE, web_healthz },
    { "GET", "/readyz", NEED_NONE, web_readyz },
    { "POST", "/api/login", NEED_NONE, web_login },
    { "POST", "/api/logout", NEED_NONE, web_logout },
    { "GET", "/api/session", NEED_NONE, web_session_get },
    { "GET", "/", NEED_NONE, web_ui_page },
    { "GET", "/login", NEED_NONE, web_ui_page },
    { "GET", "/clusters", NEED_NONE, web_ui_page },
    { "GET", "/clusters/{id}", NEED_NONE, web_ui_page },
    { "GET", "/roles", NEED_NONE, web_ui_page },
    { "GET", "/roles/{name}", NEED_NONE, web_ui_page },
    { "GET", "/jobs", NEED_NONE, web_ui_page },
    { "GET", "/jobs/{id}", NEED_NONE, web_ui_page },
    { "GET", "/ui/{file}", NEED_NONE, web_ui_asset },
    { "GET", "/ui/{dir}/{file}", NEED_NONE, web_ui_asset },
    { "GET", "/metrics", NEED_READ, web_metrics },
    { "GET", "/api/info", NEED_READ, web_info },
    { "GET", "/api/events", NEED_READ, web_events },
    { "GET", "/api/stats", NEED_READ, web_stats },
    { "GET", "/api/clusters", NEED_READ, web_clusters_list },
    { "POST", "/api/clusters", NEED_ADMIN, web_clusters_post },
    { "GET", "/api/clusters/{id}", NEED_READ, web_cluster_get },
    { "PATCH", "/api/clusters/{id}", NEED_ADMIN, web_cluster_patch },
    { "DELETE", "/api/clusters/{id}", NEED_ADMIN, web_cluster_delete },
    { "POST", "/api/clusters/{id}/disconnect", NEED_ADMIN, web_cluster_disconnect },
    { "POST", "/api/join-tokens", NEED_ADMIN, web_jointokens_post },
    { "GET", "/api/roles", NEED_READ, web_roles_list },
    { "POST", "/api/roles", NEED_ADMIN, web_roles_post },
    { "GET", "/api/roles/{name}", NEED_READ, web_role_get },
    { "PATCH", "/api/roles/{name}", NEED_ADMIN, web_role_patch },
    { "DELETE", "/api/roles/{name}", NEED_ADMIN, web_role_delete },
    { "POST", "/api/jobs", NEED_ANY, web_jobs_post },
    { "GET", "/api/jobs", NEED_READ, web_jobs_list },
    { "GET", "/api/jobs/{id}", NEED_READ, web_job_get },
    { "POST", "/api/jobs/{id}/cancel", NEED_ANY, web_job_cancel },
    { "POST", "/api/jobs/{id}/retry", NEED_ANY, web_job_retry },
    { "GET", "/api/jobs/{id}/logs", NEED_READ, web_job_logs },
    { "POST", "/api/cluster/{worker_id}/webhook", NEED_WORKER, web_worker_webhook },
    { "GET", "/api/cluster/{worker_id}/jobs/next", NEED_WORKER, web_worker_next },
    { "POST", "/api/cluster/{cluster_id}/role/{role}/webhook", NEED_ANY, web_role_trigger },
};
#define NROUTES (sizeof s_routes / sizeof s_routes[0])

const web_route_t *web_routes(size_t *n)
{
    *n = NROUTES;
    return s_routes;
}

/* Match path against pattern, collecting {..} segments into r->param. */
static bool s_match(const char *pattern, const char *path, web_req_t *r)
{
    size_t np = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++, path++;
        const char *pe = strchr(pattern, '/'), *se = strchr(path, '/');
        size_t pl = pe ? (size_t) (pe - pattern) : strlen(pattern);
        size_t sl = se ? (size_t) (se - path) : strlen(path);
        if (pattern[0] == '{') {
            if (sl == 0 || np == WEB_PARAMS)
                return false;
            if (r) {
                free(r->param[np]);
                r->param[np] = strndup(path, sl);
            }
            np++;
        } else if (pl != sl || memcmp(pattern, path, pl) != 0) {
            return false;
        }
        pattern += pl;
        path += sl;
    }
    return *pattern == '\0' && *path == '\0';
}

/* The credential from x-api-key or Authorization: Bearer, or NULL. */
static const char *s_credential(const web_req_t *r)
{
    const char *k = mg_get_header(r->conn, "x-api-key");
    if (k)
        return k;
    const char *a = mg_get_header(r->conn, "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0)
        return a + 7;
    return NULL;
}

static bool s_authenticate(web_req_t *r)
{
    const char *token = s_credential(r);
    int by_session = token ? 0 : web_session_auth(r);  /* a key wins over a cookie */
    if (by_session != 0)
        return by_session > 0;
    char err[200];
    int ok = token ? auth_check(r->web->opts.auth, token, strlen(token), &r->key, err, sizeof err)
                   : 0;
    if (ok < 0) {
        log_msg(LL_WARN, "http", "%s", err);
        web_error(r, 503, "unavailable", "credentials cannot be checked now");
        return false;
    }
    if (!ok) {
        web_error(r, 401, "unauthorized", token ? "the API key is not valid"
                                                : "an API key is required (x-api-key or "
                                                  "Authorization: Bearer)");
        return false;
    }
    r->authed = true;
    return true;
}

bool web_credential_valid(web_req_t *r)
{
    if (r->by_session)
        return web_session_valid(r);
    const char *token = s_credential(r);
    auth_key_t k;
    char err[200];
    return token && auth_check(r->web->opts.auth, token, strlen(token), &k, err, sizeof err) == 1;
}

static bool s_allowed(web_req_t *r, web_need_t need)
{
    char scope[96];
    switch (need) {
    case NEED_NONE:
        return true;
    case NEED_ANY:
        return s_authenticate(r);
    case NEED_READ:
        return s_authenticate(r) && web_require(r, "read");
    case NEED_ADMIN:
        return s_authenticate(r) && web_require(r, "admin");
    default: /* NEED_WORKER */
        snprintf(scope, sizeof scope, "worker:%.80s", r->param[0]);
        return s_authenticate(r) && web_require(r, scope);
    }
}

static bool s_params_valid(const web_req_t *r)
{
    for (size_t i = 0; i < WEB_PARAMS; i++)
        if (r->param[i] && !utf8_valid(r->param[i], strlen(r->param[i])))
            return false;
    return true;
}

/* HEAD is GET without the body, for the GET routes that change nothing
   (a job poll leases a job, so it has no HEAD). */
static bool s_head_of(const char *method, const web_route_t *route)
{
    return strcmp(method, "HEAD") == 0 && strcmp(route->method, "GET") == 0 &&
           route->handler != web_worker_next;
}

/* The methods the path allows, for the Allow header of a 405. */
static void s_allow(const char *path, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NROUTES && n < len; i++)
        if (s_match(s_routes[i].pattern, path, NULL))
            n += (size_t) snprintf(out + n, len - n, "%s%s", n ? ", " : "", s_routes[i].method);
}

void web_route(web_req_t *r)
{
    const char *path = r->ri->local_uri ? r->ri->local_uri : "";
    const char *method = r->ri->request_method;
    bool path_known = false;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!s_match(s_routes[i].pattern, path, NULL))
            continue;
        path_known = true;
        if (strcmp(method, s_routes[i].method) != 0 && !s_head_of(method, &s_routes[i]))
            continue;
        s_match(s_routes[i].pattern, path, r);
        if (!s_params_valid(r))   /* no id or name is anything but UTF-8 */
            web_error(r, 404, "not-found", "no such resource (the path is not valid UTF-8)");
        else if (s_allowed(r, s_routes[i].need))
            s_routes[i].handler(r);
        return;
    }
    if (path_known) {
        s_allow(path, r->allow, sizeof r->allow);
        web_error(r, 405, "method-not-allowed", "%s is not allowed on %.200s (allowed: %s)", method,
                  path, r->allow);
    }
    else
        web_error(r, 404, "not-found", "no route %.200s", path);
}
