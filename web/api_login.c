/*  web/api_login.c — UI logins: POST /api/login, POST /api/logout,
    GET /api/session, and the session check the router uses
    (web_session_auth, web_int.h).

    A login is refused with 429 (and Retry-After) while its client address
    or its user name has failed WEB_LOGIN_FAILS times within the current
    window, before any password is hashed. A wrong user and a wrong
    password get the same 401 after the same work (store/users.h verifies
    against a decoy hash for unknown names). At most WEB_HASHING
    verifications run at once (each takes tens of MiB); more get 503 busy.

    The session cookie is HttpOnly, SameSite=Strict, Path=/, Secure when the
    request came over TLS, and lives as long as the session's absolute
    lifetime. A state change made with the cookie must carry the session's
    CSRF token in X-CSRF-Token (compared in constant time), else 403 csrf.
    Sessions are kept in the credentials store (web/sessions.h), so they
    outlive a restart; when that store cannot be read or written the answer
    is 503 unavailable, never a session taken on trust.

    Rules: no password, session id or CSRF token is ever logged or put in
    an error message; the password is wiped from memory after use.
*/
#include "web/web_int.h"
#include "mesh/clock.h"
#include "node/log.h"

#include <sodium.h>
#include <string.h>

#define WEB_COOKIE "popebot_session"
#define WEB_HASHING 4                        /* password verifications at once */

/* The session id from the Cookie header into id (SESSION_TEXT+1 bytes):
   true when there is one of the right length. */
static bool s_cookie(const web_req_t *r, char *id)
{
    const char *c = mg_get_header(r->conn, "Cookie");
    return c && mg_get_cookie(c, WEB_COOKIE, id, SESSION_TEXT + 1) == SESSION_TEXT;
}

static void s_set_cookie(web_req_t *r, const char *id, long long max_age)
{
    web_header(r, "Set-Cookie: " WEB_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; "
               "SameSite=Strict%s", id, max_age, r->ri->is_ssl ? "; Secure" : "");
}

static void s_unavailable(web_req_t *r, const char *err)
{
    log_msg(LL_WARN, "http", "%s", err);       /* a store error names no secret */
    web_error(r, 503, "unavailable", "sessions cannot be checked now; try again");
}

static bool s_changes_state(const web_req_t *r)
{
    const char *m = r->ri->request_method;
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

/* The live session id names into s: 1, 0 none, -1 after answering 503. */
static int s_find(web_req_t *r, const char *id, session_t *s)
{
    char err[256];
    int rc = sessions_find(r->web->sessions, id, clock_wall_ms(), s, err, sizeof err);
    if (rc < 0)
        s_unavailable(r, err);
    return rc;
}

/* Authenticate r as the admin-scoped user of session s. */
static void s_as_user(web_req_t *r, const session_t *s)
{
    memset(&r->key, 0, sizeof r->key);
    r->key.kind = 's';
    snprintf(r->key.scopes, sizeof r->key.scopes, "admin");
    snprintf(r->key.name, sizeof r->key.name, "%s", s->user);
    r->authed = r->by_session = true;
}

int web_session_auth(web_req_t *r)
{
    const char *c = mg_get_header(r->conn, "Cookie");
    char id[SESSION_TEXT + 2];
    session_t s;
    int n = c ? mg_get_cookie(c, WEB_COOKIE, id, sizeof id) : -1;
    if (n == -1)
        return 0;                            /* no session cookie at all */
    int ok = n == SESSION_TEXT ? s_find(r, id, &s) : 0;
    sodium_memzero(id, sizeof id);
    if (ok < 0)
        return -1;
    if (!ok) {
        web_error(r, 401, "unauthorized", "the session has ended or is not valid; log in again");
        return -1;
    }
    if (s_changes_state(r) && !sessions_csrf_ok(&s, mg_get_header(r->conn, "X-CSRF-Token"))) {
        web_error(r, 403, "csrf", "a change made with a session needs the session's "
                  "X-CSRF-Token header (from POST /api/login or GET /api/session)");
        return -1;
    }
    s_as_user(r, &s);
    return 1;
}

bool web_session_valid(web_req_t *r)
{
    const char *c = mg_get_header(r->conn, "Cookie");
    char id[SESSION_TEXT + 2], err[256];
    session_t s;
    int n = c ? mg_get_cookie(c, WEB_COOKIE, id, sizeof id) : -1;
    bool ok = n == SESSION_TEXT &&
              sessions_find(r->web->sessions, id, clock_wall_ms(), &s, err, sizeof err) == 1;
    sodium_memzero(id, sizeof id);
    return ok;
}

/* ---- POST /api/login ---------------------------------------------------- */

/* The user and password of the body, or false after answering 422. */
static bool s_login_fields(web_req_t *r, json_t *body, const char **user, json_t **pw)
{
    json_t *u = json_object_get(body, "user");
    *pw = json_object_get(body, "password");
    if (!json_is_object(body) || !json_is_string(u) || !json_is_string(*pw) ||
        json_object_size(body) != 2) {
        web_error(r, 422, "invalid", "the body must be {\"user\": string, \"password\": string}");
        return false;
    }
    *user = json_string_value(u);
    return true;
}

/* 429 with Retry-After when addr or user must wait; false then. */
static bool s_not_throttled(web_req_t *r, const char *user, int64_t now)
{
    int64_t a = throttle_wait(r->web->fail_addr, r->ri->remote_addr, now);
    int64_t u = users_name_valid(user) ? throttle_wait(r->web->fail_user, user, now) : 0;
    int64_t wait = a > u ? a : u;
    if (wait <= 0)
        return true;
    long long secs = (wait + 999) / 1000;
    web_header(r, "Retry-After: %lld", secs);
    web_error(r, 429, "too-many-logins", "too many failed logins; try again in %lld s", secs);
    return false;
}

static void s_failed(web_req_t *r, const char *user, int64_t now)
{
    throttle_fail(r->web->fail_addr, r->ri->remote_addr, now);
    if (users_name_valid(user))
        throttle_fail(r->web->fail_user, user, now);
    log_msg(LL_INFO, "http", "a login from %s failed", r->ri->remote_addr);
    web_error(r, 401, "unauthorized", "wrong user or password");
}

/* The password was right: start the session the login began at began
   (wall ms). Its user may have been deleted, or its password changed,
   while the password was checked: then it is a failed login. */
static void s_succeeded(web_req_t *r, const char *user, int64_t began, int64_t now)
{
    char id[SESSION_TEXT + 1], err[256];
    session_t s;
    int rc = sessions_start(r->web->sessions, user, began, id, &s, err, sizeof err);
    if (rc <= 0) {
        if (rc < 0)
            s_unavailable(r, err);
        else
            s_failed(r, user, now);
        return;
    }
    throttle_clear(r->web->fail_user, user);
    s_set_cookie(r, id, (long long) ((s.expires_ms - began) / 1000));
    sodium_memzero(id, sizeof id);
    log_msg(LL_INFO, "http", "user %s logged in from %s", user, r->ri->remote_addr);
    web_json(r, 200, json_pack("{s:s,s:s}", "user", s.user, "csrf_token", s.csrf));
    sodium_memzero(&s, sizeof s);
}

/* Check the password (at most WEB_HASHING at once) and answer; now is
   monotonic (the throttle's clock), began the wall time the login began. */
static void s_verify(web_req_t *r, const char *user, const char *pw, size_t len, int64_t now,
                     int64_t began)
{
    char err[256];
    if (atomic_fetch_add(&r->web->hashing, 1) >= WEB_HASHING) {
        atomic_fetch_sub(&r->web->hashing, 1);
        web_header(r, "Retry-After: 1");
        web_error(r, 503, "busy", "too many logins are being checked at once; try again");
        return;
    }
    int ok = users_verify(r->web->opts.auth, user, pw, len, err, sizeof err);
    atomic_fetch_sub(&r->web->hashing, 1);
    if (ok < 0) {
        log_msg(LL_WARN, "http", "%s", err);
        web_error(r, 503, "unavailable", "logins cannot be checked now");
    } else if (ok) {
        s_succeeded(r, user, began, now);
    } else {
        s_failed(r, user, now);
    }
}

void web_login(web_req_t *r)
{
    json_t *body = web_body_json(r), *pw;
    const char *user;
    if (!body)
        return;
    if (s_login_fields(r, body, &user, &pw)) {
        int64_t now = clock_mono_ms(), began = clock_wall_ms();
        if (s_not_throttled(r, user, now))
            s_verify(r, user, json_string_value(pw), json_string_length(pw), now, began);
        sodium_memzero((char *) json_string_value(pw), json_string_length(pw));
    }
    sodium_memzero(r->body, r->body_len);
    json_decref(body);
}

/* ---- POST /api/logout, GET /api/session ---------------------------------- */

/* End the live session s that id names, for a logout that carries its
   CSRF token: true, or false after answering 403 or 503. */
static bool s_end(web_req_t *r, const char *id, const session_t *s)
{
    char err[256];
    if (!sessions_csrf_ok(s, mg_get_header(r->conn, "X-CSRF-Token"))) {
        web_error(r, 403, "csrf", "logout needs the session's X-CSRF-Token header");
        return false;
    }
    if (sessions_end(r->web->sessions, id, err, sizeof err) < 0) {
        s_unavailable(r, err);
        return false;
    }
    log_msg(LL_INFO, "http", "user %s logged out", s->user);
    return true;
}

void web_logout(web_req_t *r)
{
    char id[SESSION_TEXT + 1];
    session_t s;
    int found = s_cookie(r, id) ? s_find(r, id, &s) : 0;
    bool ok = found == 0 || (found == 1 && s_end(r, id, &s));
    sodium_memzero(id, sizeof id);
    if (!ok)
        return;                              /* answered */
    s_set_cookie(r, "", 0);                  /* the browser forgets it either way */
    web_send(r, 204, "application/json", NULL, 0);
}

void web_session_get(web_req_t *r)
{
    char id[SESSION_TEXT + 1];
    session_t s;
    int ok = s_cookie(r, id) ? s_find(r, id, &s) : 0;
    sodium_memzero(id, sizeof id);
    if (ok < 0)
        return;
    if (!ok) {
        web_error(r, 401, "unauthorized", "not logged in (POST /api/login)");
        return;
    }
    int64_t left = s.expires_ms - clock_wall_ms();
    web_json(r, 200, json_pack("{s:s,s:s,s:I}", "user", s.user, "csrf_token", s.csrf,
                               "expires_in_s", (json_int_t) (left / 1000)));
}
