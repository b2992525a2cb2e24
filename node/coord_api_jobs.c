/*  node/coord_api_jobs.c — the API operations behind GET /api/jobs and
    GET /api/jobs/{id}/logs, on the loop thread.

    jobs.list  {state?, role?, worker?, q?, since_ms?, until_ms?, limit, cursor?}
               -> {jobs: [job...], next_cursor: str|null, truncated: bool}
    job.logs   {id, offset, limit} -> {job_id, offset, next_offset, end,
               dropped, data, state, complete}
               (coord_job_logs builds that object; the client protocol's LOGS
               sends the same one, node/coord_client.c)

    Cursors are "c" and the 16 hex digits of the id below which the next
    page starts: ids grow with creation time, so a cursor stays right
    however many jobs arrive meanwhile. since/until bound the id range
    ([since, until) in the millisecond clock the id carries), so the walk
    stops at the floor instead of reading older jobs.

    Output offsets count from the first byte the job ever wrote: the store
    holds [dropped, dropped + stored) of it (coord_save_log keeps that
    true), and a range read never splits a UTF-8 sequence at its end
    unless that is where the output ends for good.
*/
#include "node/coord_int.h"
#include "node/coord_api.h"
#include "node/mpjson.h"
#include "mesh/utf8.h"
#include "node/log.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_LEN (1 + JOBID_LEN)

/* ---- jobs.list --------------------------------------------------------------- */

/* A string member (NULL when absent); false when present but not a string. */
static bool s_opt_str(json_t *body, const char *key, const char **out)
{
    json_t *v = json_object_get(body, key);
    *out = json_string_value(v);
    return !v || *out;
}

static bool s_opt_int(json_t *body, const char *key, json_int_t min, json_int_t *out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return true;
    *out = json_integer_value(v);
    return json_is_integer(v) && *out >= min;
}

/* The filter from the body; the name of the bad member, or NULL. */
static const char *s_filter(json_t *body, coord_filter_t *f)
{
    const char *state, *cursor;
    json_int_t since = 0, until = 0, limit = 100;
    if (!s_opt_str(body, "state", &state) ||
        (state && job_state_parse(state, &f->state) != 0))
        return "state";
    f->by_state = state != NULL;
    if (!s_opt_str(body, "role", &f->role))
        return "role";
    if (!s_opt_str(body, "worker", &f->worker))
        return "worker";
    if (!s_opt_str(body, "q", &f->text) || (f->text && !f->text[0]))
        return "q";
    if (!s_opt_int(body, "since_ms", 0, &since) || since >= (1LL << 47))
        return "since";
    if (!s_opt_int(body, "until_ms", 1, &until) || until >= (1LL << 47))
        return "until";
    if (!s_opt_int(body, "limit", 1, &limit) || limit > 1000)
        return "limit";
    f->limit = (size_t) limit;
    f->from = (uint64_t) since << 16;
    f->before = until ? (uint64_t) until << 16 : 0;
    if (!s_opt_str(body, "cursor", &cursor))
        return "cursor";
    uint64_t below;
    if (cursor && (strlen(cursor) != CURSOR_LEN || cursor[0] != 'c' ||
                   jobid_parse(cursor + 1, JOBID_LEN, &below) != 0 || below == 0))
        return "cursor";
    if (cursor && (!f->before || below < f->before))
        f->before = below;
    return NULL;
}

/* The n msgpack job maps in buf as a JSON array. */
static json_t *s_jobs_json(const pb_buf_t *buf, size_t n)
{
    json_t *arr = json_array();
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    for (size_t i = 0; arr && i < n; i++) {
        if (msgpack_unpack_next(&u, pb_buf_data(buf), pb_buf_size(buf), &off) !=
            MSGPACK_UNPACK_SUCCESS) {
            json_decref(arr);
            arr = NULL;
            break;
        }
        json_array_append_new(arr, mpjson_from(&u.data));
    }
    msgpack_unpacked_destroy(&u);
    return arr;
}

static json_t *s_cursor(uint64_t below)
{
    char text[CURSOR_LEN + 1] = "c";
    jobid_format(below, text + 1);
    return json_string(text);
}

void coord_api_jobs_list(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    coord_filter_t f = { 0 };
    const char *bad = s_filter(body, &f);
    if (bad) {
        coord_api_error(c, rid, req_id, "invalid", "%s: not a valid value", bad);
        return;
    }
    coord_page_t pg;
    pb_buf_reset(&c->scratch);
    size_t n = coord_list_jobs(c, &f, &c->scratch, &pg);
    json_t *jobs = s_jobs_json(&c->scratch, n);
    if (!jobs) {
        coord_api_reply(c, rid, req_id, NULL);
        return;
    }
    json_t *next = pg.more ? s_cursor(pg.last_id)
                   : pg.truncated && pg.scanned_id ? s_cursor(pg.scanned_id) : json_null();
    coord_api_reply(c, rid, req_id, json_pack("{s:o,s:o,s:b}", "jobs", jobs, "next_cursor", next,
                                              "truncated", pg.truncated && !pg.more));
}

/* ---- job.logs ------------------------------------------------------------------ */

typedef struct {
    uint64_t id;
    job_state_t state;
    uint64_t dropped, stored;
} s_logged_t;

/* The job's output counters, from memory or the store: 1, 0 none, -1 error. */
static int s_logged(coord_t *c, const char *idstr, s_logged_t *out)
{
    const job_t *live = jobtab_find(c->jobs, idstr, strlen(idstr));
    job_t *stored = NULL;
    char err[200];
    int rc = 1;
    if (!live) {
        uint64_t id;
        if (jobid_parse(idstr, strlen(idstr), &id) != 0)
            return 0;
        rc = store_get_job(c->store, id, &stored, NULL, 0, NULL, 0, err, sizeof err);
        if (rc < 0)
            log_msg(LL_WARN, "coordinator", "store: reading a job: %s", err);
        if (rc != 1)
            return rc;
    }
    const job_t *j = live ? live : stored;
    *out = (s_logged_t) { j->id, j->state, j->log_dropped, j->log_stored };
    job_destroy(&stored);
    return 1;
}

/* len less an incomplete UTF-8 sequence at the end (kept when that would
   leave nothing). */
static size_t s_utf8_cut(const char *p, size_t len)
{
    for (size_t i = 1; i <= 3 && i <= len; i++) {
        unsigned char b = (unsigned char) p[len - i];
        if ((b & 0xC0) == 0x80)
            continue;                 /* a continuation byte: look further back */
        size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        return need > i && len > i ? len - i : len;
    }
    return len;
}

json_t *coord_job_logs(coord_t *c, const char *id, uint64_t offset, size_t limit,
                       coord_fail_t *fail)
{
    s_logged_t lg;
    int found = s_logged(c, id, &lg);
    if (found != 1) {
        fail->code = found < 0 ? "unavailable" : "not-found";
        snprintf(fail->message, sizeof fail->message, "no job %.40s", id);
        return NULL;
    }
    uint64_t end = lg.dropped + lg.stored, from = offset;
    from = from < lg.dropped ? lg.dropped : from > end ? end : from;
    char err[200], *data = NULL;
    size_t len = 0;
    if (from < end && store_read_log_range(c->store, lg.id, from - lg.dropped, limit,
                                           &data, &len, err, sizeof err) != 0) {
        log_job(LL_WARN, "coordinator", id, NULL, "store: job %s: %s", id, err);
        fail->code = "unavailable";
        snprintf(fail->message, sizeof fail->message, "the job's output cannot be read now");
        return NULL;
    }
    if (!(job_state_terminal(lg.state) && from + len == end))
        len = s_utf8_cut(data, len);  /* the rest of the sequence comes with the next read */
    size_t fixed_len = 0;
    char *fixed = utf8_repair(data ? data : "", len, &fixed_len);
    free(data);
    json_t *text = fixed ? json_stringn(fixed, fixed_len) : NULL;
    free(fixed);
    json_t *o = !text ? NULL : json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:o,s:s,s:b}", "job_id", id, "offset", (json_int_t) from,
        "next_offset", (json_int_t) (from + len), "end", (json_int_t) end,
        "dropped", (json_int_t) lg.dropped, "data", text, "state", job_state_name(lg.state),
        "complete", job_state_terminal(lg.state) && from + len == end);
    if (!o) {
        fail->code = "unavailable";
        snprintf(fail->message, sizeof fail->message, "coordinator out of memory");
    }
    return o;
}

void coord_api_job_logs(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    const char *id = json_string_value(json_object_get(body, "id"));
    json_int_t offset = 0, limit = 65536;
    if (!id || !s_opt_int(body, "offset", 0, &offset) || !s_opt_int(body, "limit", 1, &limit) ||
        limit > COORD_LOGS_MAX) {
        coord_api_error(c, rid, req_id, "invalid", "job.logs needs id, offset >= 0, limit 1..1 MiB");
        return;
    }
    coord_fail_t fail;
    json_t *o = coord_job_logs(c, id, (uint64_t) offset, (size_t) limit, &fail);
    if (o)
        coord_api_reply(c, rid, req_id, o);
    else
        coord_api_error(c, rid, req_id, fail.code, "%s", fail.message);
}
