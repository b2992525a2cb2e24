/*  web/api_jobs.c — POST /api/jobs, GET /api/jobs/{id}, and its cancel and
    retry.

    Submitting answers 202 after the loop's durable commit: one job object
    gives {"id": ..} (or the error's status when it was refused), an array
    gives {"jobs": [{"id"}|{"error"}...]} with 202 even when some entries
    were refused, so a batch never hides which jobs exist. Cancel and retry
    need admin or submit:ROLE for the job's role.
*/
#include "web/web_int.h"
#include "web/submit.h"
#include "node/mpjson.h"

#include <string.h>

void web_jobs_post(web_req_t *r)
{
    json_t *body = web_body_json(r);
    if (!body)
        return;
    bool one = json_is_object(body);
    json_t *jobs = one ? json_pack("[O]", body) : json_incref(body);
    json_t *res = web_submit(r, jobs);
    if (res && one) {
        json_t *e = json_array_get(res, 0);
        const char *code = web_submit_code(e);
        if (code)
            web_json(r, web_status_for(code, strlen(code)), json_incref(e));
        else
            web_json(r, 202, json_incref(e));
    } else if (res) {
        web_json(r, 202, json_pack("{s:O}", "jobs", res));
    }
    json_decref(res);
    json_decref(jobs);
    json_decref(body);
}

void web_job_expand(json_t *job)
{
    mpjson_expand(job, "payload");
    mpjson_expand(job, "result");
}

/* The job as JSON from a JOB query (with its output's tail under "log"). */
json_t *web_job_fetch(web_req_t *r, const char *id, bool quiet)
{
    pb_buf_t req;
    pb_buf_init(&req);
    pb_query_t q = { .req_id = bridge_next_id(r->bridge), .job_id = { id, (uint32_t) strlen(id) } };
    pb_enc_query(&req, PB_JOB, &q);
    pb_msg_t *m = quiet ? bridge_call(r->bridge, &req, q.req_id, r->web->opts.timeout_ms)
                        : web_call(r, &req, q.req_id);
    pb_buf_free(&req);
    if (m && m->cmd != PB_REPLY)
        pb_msg_destroy(&m);           /* quiet: an ERROR is just "none" */
    json_t *j = m ? mpjson_from(m->u.reply.body) : NULL;
    web_job_expand(j);
    if (m && !j && !quiet)
        web_error(r, 500, "internal", "the job could not be read");
    pb_msg_destroy(&m);
    return j;
}

void web_job_get(web_req_t *r)
{
    json_t *j = web_job_fetch(r, r->param[0], false);
    if (j)
        web_json(r, 200, j);
}

/* CANCEL or RETRY, after checking the caller may submit the job's role. */
static void s_act(web_req_t *r, pb_cmd_t cmd)
{
    json_t *j = web_job_fetch(r, r->param[0], false);
    if (!j)
        return;
    char need[160];
    snprintf(need, sizeof need, "submit:%.100s", json_string_value(json_object_get(j, "role")));
    json_decref(j);
    if (!web_require(r, need))
        return;
    pb_buf_t req;
    pb_buf_init(&req);
    pb_query_t q = { .req_id = bridge_next_id(r->bridge),
                     .job_id = { r->param[0], (uint32_t) strlen(r->param[0]) } };
    pb_enc_query(&req, cmd, &q);
    pb_msg_t *m = web_call(r, &req, q.req_id);
    pb_buf_free(&req);
    json_t *out = m && m->cmd == PB_REPLY ? mpjson_from(m->u.reply.body) : NULL;
    web_job_expand(out);
    if (out)
        web_json(r, 200, out);
    else if (m)
        web_error(r, 500, "internal", "the loop's answer could not be read");
    pb_msg_destroy(&m);
}

void web_job_cancel(web_req_t *r)
{
    s_act(r, PB_CANCEL);
}

void web_job_retry(web_req_t *r)
{
    s_act(r, PB_RETRY);
}
