/*  web/api_metrics.c — GET /metrics: Prometheus text format 0.0.4.

    The loop's numbers come from the "metrics" API operation
    (node/coord_api_metrics.c); HTTP responses by status are this layer's
    own (web_t.by_status). Every family has HELP and TYPE lines; names are
    prefixed popebot_; label values are escaped as the format says (\\, \"
    and \n); histogram buckets are written cumulative, ending with +Inf,
    followed by _sum and _count.
*/
#include "web/web_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;                      /* out of memory: the text is incomplete */
} s_text_t;

static void s_add(s_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_add(s_text_t *t, const char *fmt, ...)
{
    for (int pass = 0; pass < 2 && !t->failed; pass++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            t->failed = true;
        else if (t->buf && (size_t) n < t->cap - t->len) {
            t->len += (size_t) n;
            return;
        } else {
            size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t) n;
            char *b = realloc(t->buf, cap);
            if (!b)
                t->failed = true;
            t->buf = b ? b : t->buf;
            t->cap = b ? cap : t->cap;
        }
    }
}

/* A label value, escaped, between the quotes the caller writes. */
static void s_label(s_text_t *t, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\')
            s_add(t, "\\\\");
        else if (*v == '"')
            s_add(t, "\\\"");
        else if (*v == '\n')
            s_add(t, "\\n");
        else
            s_add(t, "%c", *v);
    }
}

static void s_family(s_text_t *t, const char *name, const char *type, const char *help)
{
    s_add(t, "# HELP popebot_%s %s\n# TYPE popebot_%s %s\n", name, help, name, type);
}

static void s_scalar(s_text_t *t, const char *name, const char *type, const char *help,
                     json_t *v)
{
    s_family(t, name, type, help);
    s_add(t, "popebot_%s %lld\n", name, (long long) json_integer_value(v));
}

/* A family with one label: {"value of label": n, ...}. */
static void s_by_label(s_text_t *t, const char *name, const char *type, const char *help,
                       const char *label, json_t *obj)
{
    const char *k;
    json_t *v;
    s_family(t, name, type, help);
    json_object_foreach(obj, k, v) {
        s_add(t, "popebot_%s{%s=\"", name, label);
        s_label(t, k);
        s_add(t, "\"} %lld\n", (long long) json_integer_value(v));
    }
}

static void s_finished(s_text_t *t, json_t *arr)
{
    size_t i;
    json_t *e;
    s_family(t, "jobs_finished_total", "counter",
             "Jobs that reached a terminal state, by role and state.");
    json_array_foreach(arr, i, e) {
        s_add(t, "popebot_jobs_finished_total{role=\"");
        s_label(t, json_string_value(json_object_get(e, "role")));
        s_add(t, "\",state=\"");
        s_label(t, json_string_value(json_object_get(e, "state")));
        s_add(t, "\"} %lld\n", (long long) json_integer_value(json_object_get(e, "count")));
    }
}

static void s_histogram(s_text_t *t, const char *name, const char *help, json_t *h)
{
    json_t *bounds = json_object_get(h, "bounds"), *counts = json_object_get(h, "counts");
    unsigned long long cum = 0;
    s_family(t, name, "histogram", help);
    for (size_t i = 0; i < json_array_size(counts); i++) {
        cum += (unsigned long long) json_integer_value(json_array_get(counts, i));
        json_t *b = json_array_get(bounds, i);
        if (b)
            s_add(t, "popebot_%s_bucket{le=\"%g\"} %llu\n", name, json_number_value(b), cum);
        else
            s_add(t, "popebot_%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
    }
    s_add(t, "popebot_%s_sum %.6f\n", name, json_number_value(json_object_get(h, "sum")));
    s_add(t, "popebot_%s_count %lld\n", name,
          (long long) json_integer_value(json_object_get(h, "count")));
}

static void s_http(s_text_t *t, const web_t *w)
{
    s_family(t, "http_requests_total", "counter", "HTTP responses sent, by status code.");
    for (int code = 100; code < WEB_STATUS_SLOTS; code++) {
        unsigned long long n = atomic_load(&w->by_status[code]);
        if (n)
            s_add(t, "popebot_http_requests_total{code=\"%d\"} %llu\n", code, n);
    }
}

static void s_render(s_text_t *t, json_t *m, const web_t *w)
{
    json_t *h = json_object_get(m, "histograms");
    s_scalar(t, "jobs_submitted_total", "counter", "Jobs accepted.",
             json_object_get(m, "submitted"));
    s_finished(t, json_object_get(m, "finished"));
    s_by_label(t, "jobs_queued", "gauge", "Jobs waiting in a ready queue, by role.", "role",
               json_object_get(m, "queued"));
    s_by_label(t, "jobs_running", "gauge", "Jobs running on a worker, by role.", "role",
               json_object_get(m, "running"));
    s_by_label(t, "workers", "gauge", "Registered workers, by state.", "state",
               json_object_get(m, "workers"));
    s_histogram(t, "dispatch_latency_seconds",
                "From a job becoming ready to its assignment to a worker.",
                json_object_get(h, "dispatch_latency_seconds"));
    s_histogram(t, "job_latency_seconds", "From a job's creation to its end.",
                json_object_get(h, "job_latency_seconds"));
    s_http(t, w);
    s_scalar(t, "malformed_frames_total", "counter", "Frames dropped as undecodable.",
             json_object_get(m, "malformed"));
    s_scalar(t, "store_used_bytes", "gauge", "Bytes of the store's map in use.",
             json_object_get(m, "store_used_bytes"));
}

void web_metrics(web_req_t *r)
{
    json_t *none = json_object(), *m = NULL;
    int rc = web_api(r, "metrics", none, &m, 0);
    json_decref(none);
    if (rc != 0)
        return;
    s_text_t t = { 0 };
    s_render(&t, m, r->web);
    json_decref(m);
    if (t.failed)
        web_error(r, 503, "unavailable", "out of memory");
    else
        web_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", t.buf, t.len);
    free(t.buf);
}
