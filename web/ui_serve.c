/*  web/ui_serve.c — serves the web UI compiled into the binary
    (web/ui_assets.h): its files at /ui/..., and index.html at every page
    path the browser may open or reload (/, /login, /clusters/{id}, ...),
    where the UI's own router picks the page.

    Every answer carries a Content-Security-Policy that lets the page load
    and talk to this origin only (no inline script or style, no frames), an
    ETag, and Cache-Control: no-cache, so a browser revalidates (304) and
    never runs a stale UI after an upgrade.
    Rules: only files of the table are served (a path is a key, never a
    file name); the pages need no credential — they hold no data, and the
    API they call checks the session.
*/
#include "web/web_int.h"
#include "web/ui_assets.h"

#include <stdio.h>
#include <string.h>

#define UI_CSP "Content-Security-Policy: default-src 'self'; script-src 'self'; " \
               "style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const ui_asset_t *ui_asset_find(const char *path)
{
    for (size_t i = 0; i < ui_nassets; i++)
        if (strcmp(ui_assets[i].path, path) == 0)
            return &ui_assets[i];
    return NULL;
}

/* True when If-None-Match names etag (a list, or "*"). */
static bool s_fresh(const web_req_t *r, const char *etag)
{
    const char *inm = mg_get_header(r->conn, "If-None-Match");
    return inm && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0);
}

static void s_serve(web_req_t *r, const ui_asset_t *a)
{
    web_header(r, "%s", UI_CSP);
    web_header(r, "ETag: %s", a->etag);
    web_header(r, "Referrer-Policy: same-origin");
    web_header(r, "X-Frame-Options: DENY");
    if (s_fresh(r, a->etag))
        web_send_cached(r, 304, a->type, NULL, 0);
    else
        web_send_cached(r, 200, a->type, (const char *) a->data, a->size);
}

void web_ui_page(web_req_t *r)
{
    const ui_asset_t *a = ui_asset_find("/ui/index.html");
    if (!a) {
        web_error(r, 404, "not-found", "this binary was built without a web UI (web/ui/)");
        return;
    }
    s_serve(r, a);
}

void web_ui_asset(web_req_t *r)
{
    char path[256];
    int n = r->param[1] ? snprintf(path, sizeof path, "/ui/%s/%s", r->param[0], r->param[1])
                        : snprintf(path, sizeof path, "/ui/%s", r->param[0]);
    const ui_asset_t *a = n > 0 && (size_t) n < sizeof path ? ui_asset_find(path) : NULL;
    if (!a) {
        web_error(r, 404, "not-found", "no UI file %.200s", r->ri->local_uri);
        return;
    }
    s_serve(r, a);
}
