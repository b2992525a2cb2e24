/*  node/coord_api_metrics.c — the "metrics" API operation: the loop's
    numbers for /metrics, as JSON the web layer renders (web/api_metrics.c).

    {submitted, finished_total, malformed, store_used_bytes,
     finished: [{role, state, count}], queued: {role: n}, running: {role: n},
     workers: {state: n},
     histograms: {dispatch_latency_seconds | job_latency_seconds:
                  {bounds: [s...], counts: [n... (+Inf last), not cumulative],
                   sum: s, count: n}}}

    Rule: it only reads loop state (roles, peers, queues, metrics_t); the
    answer is built per request, so nothing here costs on the hot path.
*/
#include "node/coord_int.h"
#include "node/coord_api.h"

static json_t *s_histo(const histo_t *h)
{
    json_t *bounds = json_array(), *counts = json_array();
    for (size_t i = 0; i < HISTO_BUCKETS; i++)
        json_array_append_new(bounds, json_real((double) histo_bounds_us[i] / 1e6));
    for (size_t i = 0; i <= HISTO_BUCKETS; i++)
        json_array_append_new(counts, json_integer((json_int_t) h->counts[i]));
    return json_pack("{s:o,s:o,s:f,s:I}", "bounds", bounds, "counts", counts, "sum",
                     (double) h->sum_us / 1e6, "count", (json_int_t) h->count);
}

/* finished [{role, state, count}], queued {role: n}, running {role: n} */
static void s_by_role(coord_t *c, json_t *out)
{
    json_t *fin = json_array(), *queued = json_object(), *running = json_object();
    for (size_t i = 0; i < c->roles.n; i++) {
        const char *name = c->roles.items[i]->name;
        if (!role_defined(c->roles.items[i]))   /* deleted: no jobs can wait or run */
            continue;
        json_object_set_new(queued, name, json_integer((json_int_t) sched_depth(c->sched, name)));
        json_object_set_new(running, name, json_integer(sched_running(c->sched, name)));
    }
    /* every role that ever finished a job, also those deleted since */
    for (const uint64_t *n = zhashx_first(c->metrics.finished); n;
         n = zhashx_next(c->metrics.finished)) {
        const char *role = zhashx_cursor(c->metrics.finished);
        for (int s = 0; s < JOB_STATE_COUNT; s++)
            if (job_state_terminal((job_state_t) s))
                json_array_append_new(fin, json_pack("{s:s,s:s,s:I}", "role", role, "state",
                                                     job_state_name((job_state_t) s), "count",
                                                     (json_int_t) n[s]));
    }
    json_object_set_new(out, "finished", fin);
    json_object_set_new(out, "queued", queued);
    json_object_set_new(out, "running", running);
}

static json_t *s_workers(coord_t *c)
{
    json_int_t n[PEER_STATE_COUNT] = { 0 };
    for (peer_t *p = zhashx_first(c->peers); p; p = zhashx_next(c->peers))
        n[p->state]++;
    json_t *o = json_object();
    for (int s = 0; s < PEER_STATE_COUNT; s++)
        json_object_set_new(o, peer_state_name((peer_state_t) s), json_integer(n[s]));
    return o;
}

void coord_api_metrics(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    (void) body;
    json_t *out = json_pack("{s:I,s:I,s:I,s:I,s:o,s:{s:o,s:o}}",
                            "submitted", (json_int_t) c->stats.submitted,
                            "finished_total", (json_int_t) c->stats.finished,
                            "malformed", (json_int_t) c->stats.malformed,
                            "store_used_bytes", (json_int_t) c->store_used,
                            "workers", s_workers(c),
                            "histograms",
                            "dispatch_latency_seconds", s_histo(&c->metrics.dispatch),
                            "job_latency_seconds", s_histo(&c->metrics.job));
    if (out)
        s_by_role(c, out);
    coord_api_reply(c, rid, req_id, out);
}
