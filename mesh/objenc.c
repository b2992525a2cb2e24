/*  mesh/objenc.c — job and worker maps for REPLY/RESULT (objenc.h).

    The key count written in each map header must equal the pairs written
    after it; each function counts its keys in one place (the K_ constants).
*/
#include "mesh/objenc.h"

#include <string.h>

static void s_key(pb_buf_t *b, const char *k)
{
    pb_w_str(b, k, strlen(k));
}

static void s_kvs(pb_buf_t *b, const kvlist_t *l)
{
    pb_w_map(b, (uint32_t) l->n);
    for (size_t i = 0; i < l->n; i++) {
        pb_w_cstr(b, l->items[i].key);
        pb_w_cstr(b, l->items[i].val);
    }
}

static void s_time(pb_buf_t *b, int64_t ms)
{
    if (ms)
        pb_w_int(b, ms);
    else
        pb_w_nil(b);
}

enum { K_JOB = 17 };

void objenc_job(pb_buf_t *b, const job_t *job, const char *log, size_t log_len)
{
    pb_w_map(b, K_JOB + (log ? 1 : 0));
    s_key(b, "id");           pb_w_cstr(b, job->idstr);
    s_key(b, "role");         pb_w_cstr(b, job->role->name);
    s_key(b, "state");        pb_w_cstr(b, job_state_name(job->state));
    s_key(b, "attempts");     pb_w_uint(b, job->attempts);
    s_key(b, "max_attempts"); pb_w_uint(b, job->role->max_attempts);
    s_key(b, "priority");     pb_w_int(b, job->priority);
    s_key(b, "worker");       pb_w_cstr(b, job->worker ? job->worker->id : job->last_worker);
    s_key(b, "exit_code");
    if (job->has_exit_code)
        pb_w_int(b, job->exit_code);
    else
        pb_w_nil(b);
    s_key(b, "result");       pb_w_cstr(b, job->result);
    s_key(b, "error");        pb_w_cstr(b, job->error);
    s_key(b, "payload");      pb_w_cstr(b, job->payload);
    s_key(b, "where");        s_kvs(b, &job->where);
    s_key(b, "created_ms");   s_time(b, job->created_ms);
    s_key(b, "started_ms");   s_time(b, job->started_ms);
    s_key(b, "finished_ms");  s_time(b, job->finished_ms);
    s_key(b, "run_at_ms");    s_time(b, job->run_at_ms);
    s_key(b, "progress");
    if (job->progress.has) {
        pb_w_map(b, 3);
        s_key(b, "done");     pb_w_int(b, job->progress.done);
        s_key(b, "total");    pb_w_int(b, job->progress.total);
        s_key(b, "message");  pb_w_cstr(b, job->progress.message);
    } else {
        pb_w_nil(b);
    }
    if (log) {
        s_key(b, "log");
        pb_w_str(b, log, log_len);
    }
}

enum { K_PEER = 11 };

void objenc_peer(pb_buf_t *b, const peer_t *p)
{
    pb_w_map(b, K_PEER);
    s_key(b, "id");           pb_w_cstr(b, p->id);
    s_key(b, "name");         pb_w_cstr(b, p->name);
    s_key(b, "state");        pb_w_cstr(b, peer_state_name(p->state));
    s_key(b, "roles");
    pb_w_array(b, (uint32_t) p->nroles);
    for (size_t i = 0; i < p->nroles; i++)
        pb_w_cstr(b, p->roles[i]);
    s_key(b, "slots");        pb_w_uint(b, p->slots);
    s_key(b, "running");      pb_w_uint(b, p->nleases);
    s_key(b, "labels");       s_kvs(b, &p->labels);
    s_key(b, "version");      pb_w_cstr(b, p->version);
    s_key(b, "address");      pb_w_cstr(b, p->address);
    s_key(b, "heartbeat_ms"); pb_w_uint(b, p->heartbeat_ms);
    s_key(b, "last_seen_ms"); s_time(b, p->seen_wall_ms);
}
