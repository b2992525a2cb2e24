/*  web/api_logs.c — GET /api/jobs/{id}/logs: a byte range of a job's
    output as JSON, or (follow=true) its live output as Server-Sent Events.

    Range: ?offset=N (default 0) &limit=M (1..1 MiB, default 65536) ->
    {"job_id","offset","next_offset","end","dropped","data","state",
    "complete"}. Offsets count from the first byte the job ever wrote;
    output below "dropped" went over the per-job cap and is gone (an offset
    below it starts at it). Read on the loop: job.logs.

    Follow: text/event-stream with events
      log    {"offset","data"} with "id: <offset after it>"
      state  {"state"} first, then whenever the state changes
      end    the job (as GET /api/jobs/{id}, without "log"), when it is
             terminal and every byte was sent; then the stream closes.
    It starts at Last-Event-ID (an EventSource resuming) or ?offset. The
    thread polls the loop every FOLLOW_POLL_MS from the last offset (at
    once while output is backed up), writes a comment every
    SSE_KEEPALIVE_MS so proxies keep the connection, and stops when a
    write fails (the client left), when its credential ends (web/sse.h),
    after --http-follow-max, or when the server stops: civetweb holds this
    thread for the stream's life.
*/
#include "web/web_int.h"
#include "web/sse.h"
#include "mesh/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_LIMIT_DEFAULT 65536
#define LOG_LIMIT_MAX (1 << 20)
#define FOLLOW_POLL_MS 200
#define FOLLOW_LOOP_WAIT_MS 3000      /* one poll's wait for the loop */

/* A whole number >= 0 (at most max) from text; false when it is not one. */
static bool s_uint(const char *text, long long max, long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(text, &end, 10);
    return text[0] >= '0' && text[0] <= '9' && !*end && !errno && *out <= max;
}

/* offset, limit and follow from the query (and Last-Event-ID); false
   after answering 422. */
static bool s_args(web_req_t *r, long long *offset, long long *limit, bool *follow)
{
    static const char *const known[] = { "offset", "limit", "follow", NULL };
    char buf[32];
    int has;
    *offset = 0;
    *limit = LOG_LIMIT_DEFAULT;
    *follow = false;
    if (web_params_known(r, known) != 0)
        return false;
    if ((has = web_param(r, "offset", buf, sizeof buf)) < 0)
        return false;
    if (has && !s_uint(buf, 1LL << 62, offset)) {
        web_error(r, 422, "invalid", "offset: '%.20s' is not a whole number >= 0", buf);
        return false;
    }
    if ((has = web_param(r, "limit", buf, sizeof buf)) < 0)
        return false;
    if (has && (!s_uint(buf, LOG_LIMIT_MAX, limit) || *limit < 1)) {
        web_error(r, 422, "invalid", "limit: '%.20s' is not a whole number 1..1048576", buf);
        return false;
    }
    if ((has = web_param(r, "follow", buf, sizeof buf)) < 0)
        return false;
    if (has && strcmp(buf, "true") && strcmp(buf, "1") && strcmp(buf, "false") && strcmp(buf, "0")) {
        web_error(r, 422, "invalid", "follow: '%.20s' is not true or false", buf);
        return false;
    }
    *follow = has && (!strcmp(buf, "true") || !strcmp(buf, "1"));
    const char *last = *follow ? mg_get_header(r->conn, "Last-Event-ID") : NULL;
    if (last && !s_uint(last, 1LL << 62, offset)) {
        web_error(r, 422, "invalid", "Last-Event-ID: '%.20s' is not an offset", last);
        return false;
    }
    return true;
}

static json_t *s_query(const char *id, long long offset, long long limit)
{
    return json_pack("{s:s,s:I,s:I}", "id", id, "offset", (json_int_t) offset, "limit",
                     (json_int_t) limit);
}

/* ---- the event stream ------------------------------------------------------- */

/* The job for "end", without the log tail this stream already sent. */
static json_t *s_end_job(web_req_t *r, const char *id, const char *state)
{
    json_t *job = web_job_fetch(r, id, true);
    if (!job)
        return json_pack("{s:s,s:s}", "id", id, "state", state);
    json_object_del(job, "log");
    return job;
}

static void s_pause(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Send what one answer of job.logs holds; true when the stream is done. */
static bool s_deliver(sse_t *s, const char *id, json_t *got, char *state, size_t slen,
                      long long *offset)
{
    const char *data = json_string_value(json_object_get(got, "data"));
    const char *now = json_string_value(json_object_get(got, "state"));
    json_int_t from = json_integer_value(json_object_get(got, "offset"));
    json_int_t next = json_integer_value(json_object_get(got, "next_offset"));
    if (now && !state[0]) {             /* the state it is in, before anything else */
        snprintf(state, slen, "%s", now);
        sse_event(s, "state", -1, json_pack("{s:s}", "state", now));
    }
    if (next > from)
        sse_event(s, "log", next, json_pack("{s:I,s:s}", "offset", from, "data", data ? data : ""));
    *offset = next;
    if (now && strcmp(now, state) != 0) {
        snprintf(state, slen, "%s", now);
        sse_event(s, "state", -1, json_pack("{s:s}", "state", now));
    }
    if (json_is_true(json_object_get(got, "complete"))) {
        sse_event(s, "end", -1, s_end_job(s->r, id, state));
        return true;
    }
    return false;
}

static void s_follow(web_req_t *r, const char *id, long long offset, json_t *got)
{
    sse_t s;
    int64_t deadline = clock_mono_ms() + r->web->opts.follow_max_ms;
    char state[32] = "";
    sse_start(&s, r);
    while (got && sse_live(&s) && !atomic_load(&r->web->stopping)) {
        json_int_t from = json_integer_value(json_object_get(got, "offset"));
        json_int_t next = json_integer_value(json_object_get(got, "next_offset"));
        json_int_t end = json_integer_value(json_object_get(got, "end"));
        if (s_deliver(&s, id, got, state, sizeof state, &offset))
            break;
        json_decref(got);
        got = NULL;
        int64_t now = clock_mono_ms();
        if (now >= deadline)
            break;
        sse_keepalive(&s);
        if (next == from || next >= end)    /* caught up: wait for more */
            s_pause(FOLLOW_POLL_MS);
        json_t *q = s_query(id, offset, LOG_LIMIT_DEFAULT);
        got = web_api_quiet(r, "job.logs", q, FOLLOW_LOOP_WAIT_MS);
        json_decref(q);
    }
    json_decref(got);
    sse_end(&s);
}

void web_job_logs(web_req_t *r)
{
    long long offset, limit;
    bool follow;
    if (!s_args(r, &offset, &limit, &follow))
        return;
    /* each follow holds a thread: a quarter of them at most, so follows
       cannot shut out submits, health checks and workers */
    atomic_int *held = follow ? &r->web->follows : NULL;
    if (held && !web_hold(r, held, (int) r->web->opts.threads / 4, "live log follows"))
        return;
    const char *id = r->param[0];
    json_t *q = s_query(id, offset, follow ? LOG_LIMIT_DEFAULT : limit), *got = NULL;
    int rc = web_api(r, "job.logs", q, &got, 0);
    json_decref(q);
    if (rc == 0 && follow)
        s_follow(r, id, offset, got);
    else if (rc == 0)
        web_json(r, 200, got);
    if (held)
        web_let_go(held);
}
