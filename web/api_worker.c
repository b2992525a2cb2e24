/*  web/api_worker.c — what a worker does over HTTP: POST
    /api/cluster/{worker_id}/webhook (reports: log, progress, result,
    status) and GET /api/cluster/{worker_id}/jobs/next?wait=SECONDS (the
    long poll of an HTTP-only worker).

    Both need the worker's own token (scope worker:ID) or an admin key
    (the router checks). Each is one loop operation (node/coord_api_worker.c):
    worker.report answers 200 {"ok":true,..}; worker.next holds the request
    in the loop until a job is leased to it (200, the job) or the wait runs
    out (204). The HTTP thread waits for the loop that much longer than for
    any other operation, so the loop's answer always finds it waiting.
*/
#include "web/web_int.h"

#include <stdlib.h>
#include <string.h>

#define WAIT_DEFAULT_S 30
#define WAIT_MAX_S 60

void web_worker_webhook(web_req_t *r)
{
    json_t *body = web_body_json(r), *out = NULL;
    if (!body)
        return;
    if (!json_is_object(body)) {
        web_error(r, 422, "invalid", "a report is a JSON object with a \"type\"");
    } else {
        json_t *req = json_pack("{s:s,s:O}", "worker", r->param[0], "report", body);
        if (req && web_api(r, "worker.report", req, &out, 0) == 0)
            web_json(r, 200, out);
        else if (!req)
            web_error(r, 503, "unavailable", "out of memory");
        json_decref(req);
    }
    json_decref(body);
}

/* ?wait= as seconds: 0..60 (default 30); -1 after answering 422. */
static int s_wait(web_req_t *r)
{
    static const char *const known[] = { "wait", NULL };
    char buf[16];
    int found = web_params_known(r, known) == 0 ? web_param(r, "wait", buf, sizeof buf) : -1;
    if (found <= 0)
        return found == 0 ? WAIT_DEFAULT_S : -1;
    size_t n = strlen(buf);
    int s = n >= 1 && n <= 2 && strspn(buf, "0123456789") == n ? atoi(buf) : -1;
    if (s < 0 || s > WAIT_MAX_S)
        web_error(r, 422, "invalid", "wait: whole seconds from 0 to %d", WAIT_MAX_S);
    return s <= WAIT_MAX_S ? s : -1;
}

void web_worker_next(web_req_t *r)
{
    int wait = s_wait(r);
    if (wait < 0 || !web_hold(r, &r->web->polls, (int) r->web->opts.threads / 2, "job polls"))
        return;
    json_t *req = json_pack("{s:s,s:i}", "worker", r->param[0], "wait_ms", wait * 1000);
    json_t *out = NULL;
    if (!req)
        web_error(r, 503, "unavailable", "out of memory");
    else if (web_api(r, "worker.next", req, &out, (uint32_t) wait * 1000) == 0) {
        if (json_is_null(json_object_get(out, "job")))
            web_send(r, 204, "application/json", "", 0);
        else
            web_json(r, 200, json_incref(out));
    }
    json_decref(out);
    json_decref(req);
    web_let_go(&r->web->polls);
}
