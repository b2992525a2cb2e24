/*  web/api_jobs_list.c — GET /api/jobs: jobs filtered by state, role,
    worker and creation time, newest first, a page at a time.

    Query: state, role, worker, q (a search: jobs whose id, role, worker,
    payload or error contains it, in any case), since, until (RFC 3339 UTC
    such as 2026-11-30T10:00:00Z, with optional fraction or numeric offset,
    or integer milliseconds since the epoch; since inclusive, until exclusive),
    limit (1..1000, default 100), cursor (the next_cursor of the previous
    page). Answer: {"jobs":[job...],"next_cursor":str|null,"truncated":bool}.

    Rules: a bad value, or a parameter this route does not know, is 422
    naming it; nothing is asked of the loop until the query is valid. The
    listing itself runs on the loop (jobs.list, node/coord_api_jobs.c).
*/
#include "web/web_int.h"
#include "mesh/job.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MS (1LL << 47)      /* job ids carry 48 bits of milliseconds */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t s_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n digits at *p as a number, advancing p; -1 if they are not digits. */
static int s_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char) **p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static bool s_sep(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* The offset part: Z, or +hh:mm / -hh:mm, into seconds east of UTC. */
static bool s_offset(const char *p, int64_t *sec)
{
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *sec = 0;
        return true;
    }
    int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0;
    if (!sign)
        return false;
    p++;
    int hh = s_digits(&p, 2);
    bool colon = s_sep(&p, ':');
    int mm = s_digits(&p, 2);
    *sec = sign * (hh * 3600 + mm * 60);
    return colon && hh >= 0 && hh < 24 && mm >= 0 && mm < 60 && *p == '\0';
}

/* RFC 3339 date-time -> ms since the epoch. */
static bool s_rfc3339(const char *p, int64_t *ms)
{
    int y = s_digits(&p, 4);
    bool ok = s_sep(&p, '-');
    int mo = s_digits(&p, 2);
    ok = ok && s_sep(&p, '-');
    int d = s_digits(&p, 2);
    ok = ok && (s_sep(&p, 'T') || s_sep(&p, 't') || s_sep(&p, ' '));
    int h = s_digits(&p, 2);
    ok = ok && s_sep(&p, ':');
    int mi = s_digits(&p, 2);
    ok = ok && s_sep(&p, ':');
    int s = s_digits(&p, 2);
    int frac = 0, scale = 1000;
    if (ok && s_sep(&p, '.')) {
        ok = isdigit((unsigned char) *p);
        for (; isdigit((unsigned char) *p); p++)
            if (scale > 1)
                frac = frac * 10 + (*p - '0'), scale /= 10;
        frac *= scale;
    }
    int64_t off;
    if (!ok || y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || s < 0 || s > 60 || !s_offset(p, &off))
        return false;
    *ms = ((s_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) - off) * 1000 + frac;
    return true;
}

/* since/until: RFC 3339 or integer ms; -1 after answering 422. */
static int s_time(web_req_t *r, const char *name, json_t *body, const char *key)
{
    char buf[64], *end;
    int has = web_param(r, name, buf, sizeof buf);
    if (has <= 0)
        return has;
    errno = 0;
    int64_t ms = strtoll(buf, &end, 10);
    bool ok = buf[0] && *end == '\0' && errno == 0 ? true : s_rfc3339(buf, &ms);
    if (!ok || ms < 0 || ms >= MAX_MS) {
        web_error(r, 422, "invalid", "%s: '%.40s' is not an RFC 3339 UTC time "
                  "(2026-11-30T10:00:00Z) or milliseconds since 1970", name, buf);
        return -1;
    }
    json_object_set_new(body, key, json_integer(ms));
    return 1;
}

static int s_limit(web_req_t *r, json_t *body)
{
    char buf[32], *end;
    int has = web_param(r, "limit", buf, sizeof buf);
    if (has <= 0)
        return has;
    errno = 0;
    long long n = strtoll(buf, &end, 10);
    if (!buf[0] || *end || errno || n < 1 || n > 1000) {
        web_error(r, 422, "invalid", "limit: '%.20s' is not a whole number 1..1000", buf);
        return -1;
    }
    json_object_set_new(body, "limit", json_integer(n));
    return 1;
}

/* state, role, worker, cursor, q: non-empty strings, the state a known one. */
static int s_words(web_req_t *r, json_t *body)
{
    static const char *const names[] = { "state", "role", "worker", "cursor", "q" };
    char buf[160];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int has = web_param(r, names[i], buf, sizeof buf);
        if (has < 0)
            return -1;
        job_state_t st;
        if (has && (!buf[0] || (i == 0 && job_state_parse(buf, &st) != 0))) {
            web_error(r, 422, "invalid", "%s: '%.40s' is not valid%s", names[i], buf,
                      i == 0 ? " (queued, scheduled, running, succeeded, failed, timed_out, "
                               "cancelled, dead)" : "");
            return -1;
        }
        if (has)
            json_object_set_new(body, names[i], json_string(buf));
    }
    return 0;
}

void web_jobs_list(web_req_t *r)
{
    static const char *const known[] = { "state", "role", "worker", "since", "until",
                                         "limit", "cursor", "q", NULL };
    json_t *body = json_object(), *out = NULL;
    if (web_params_known(r, known) == 0 && s_words(r, body) == 0 &&
        s_time(r, "since", body, "since_ms") >= 0 && s_time(r, "until", body, "until_ms") >= 0 &&
        s_limit(r, body) >= 0) {
        json_int_t since = json_integer_value(json_object_get(body, "since_ms"));
        json_t *until = json_object_get(body, "until_ms");
        if (until && json_integer_value(until) <= since)
            web_error(r, 422, "invalid", "until: must be later than since");
        else if (web_api(r, "jobs.list", body, &out, 0) == 0) {
            size_t i;
            json_t *job;
            json_array_foreach(json_object_get(out, "jobs"), i, job)
                web_job_expand(job);
            web_json(r, 200, out);
        }
    }
    json_decref(body);
}
