/*  node/cli_ops.c — the operators' client subcommands: logs, drain, roles.

    logs ID [-f]  reads the job's output with LOGS, range by range from the
                  first byte the coordinator still holds, and writes it to
                  stdout as it is; -f keeps asking until the output is
                  complete (the job ended and all of it was read), then
                  exits 0 if the job succeeded, 1 if not (as submit --wait).
                  --json prints each answer with data (and the last one) as
                  one JSON object a line, the object GET /api/jobs/{id}/logs
                  gives.
    drain WORKER  DRAIN_WORKER: the worker takes no new jobs (--resume: it
                  takes them again); prints its row of `workers`.
    roles         ROLES: name, command, enabled, concurrency, where, triggers.

    Rules: cli.c's (cli_int.h). Each request waits at most --timeout; -f
    itself has no end but the job's.
*/
#include "node/cli.h"
#include "node/cli_int.h"
#include "node/mpjson.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOGS_CHUNK (256 * 1024)   /* bytes asked for at once */
#define FOLLOW_MIN_MS 200         /* -f: ask again this soon after new output */
#define FOLLOW_MAX_MS 1000        /* and at most this late when there was none */

static void s_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* One request and its answer as JSON; NULL after printing why (*rc set). */
static json_t *s_call(const config_t *cfg, client_t *cl, pb_buf_t *b, pb_cmd_t cmd,
                      const pb_query_t *q, int *rc)
{
    pb_buf_reset(b);
    pb_enc_query(b, cmd, q);
    pb_msg_t *m = client_call(cl, b, q->req_id, (int) cfg->timeout_ms);
    *rc = cli_check_reply(cfg, m);
    json_t *j = *rc == CLI_OK ? mpjson_from(m->u.reply.body) : NULL;
    if (*rc == CLI_OK && !j) {
        fprintf(stderr, "popebot-node: unexpected answer from coordinator\n");
        *rc = CLI_REFUSED;
    }
    pb_msg_destroy(&m);
    return j;
}

static json_int_t s_int(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* How a followed job ended: 0 succeeded, else 1 with its error on stderr. */
static int s_ended(const config_t *cfg, client_t *cl, pb_buf_t *b, uint64_t req, const char *state)
{
    if (strcmp(state, "succeeded") == 0)
        return CLI_OK;
    pb_query_t q = { .req_id = req, .job_id = pb_s(cfg->arg) };
    int rc;
    json_t *job = s_call(cfg, cl, b, PB_JOB, &q, &rc);
    const char *err = json_string_value(json_object_get(job, "error"));
    fprintf(stderr, "popebot-node: job %s %s%s%s\n", cfg->arg, state, err ? ": " : "",
            err ? err : "");
    json_decref(job);
    return CLI_JOB_FAILED;
}

int cli_logs(const config_t *cfg, client_t *cl, pb_buf_t *b)
{
    uint64_t req = 1, offset = 0;
    long pause = FOLLOW_MIN_MS;
    bool first = true;
    for (;;) {
        pb_query_t q = { .req_id = req++, .job_id = pb_s(cfg->arg), .offset = offset,
                         .limit = LOGS_CHUNK };
        int rc;
        json_t *r = s_call(cfg, cl, b, PB_LOGS, &q, &rc);
        if (!r)
            return rc;
        json_t *data = json_object_get(r, "data");
        size_t len = json_string_length(data);
        uint64_t next = (uint64_t) s_int(r, "next_offset"), end = (uint64_t) s_int(r, "end");
        bool complete = json_is_true(json_object_get(r, "complete"));
        bool caught_up = next >= end;
        if (first && s_int(r, "offset") > 0 && !cfg->json)
            fprintf(stderr, "popebot-node: [%lld earlier bytes of output are no longer kept]\n",
                    (long long) s_int(r, "offset"));
        first = false;
        if (cfg->json && (len > 0 || complete || (caught_up && !cfg->follow)))
            cli_print_json(r);
        else if (!cfg->json)
            fwrite(json_string_value(data), 1, len, stdout);
        fflush(stdout);
        offset = next;
        char state[32];
        snprintf(state, sizeof state, "%s", json_string_value(json_object_get(r, "state")) ?
                 json_string_value(json_object_get(r, "state")) : "?");
        json_decref(r);
        if (complete && cfg->follow)
            return s_ended(cfg, cl, b, req, state);
        if (caught_up && !cfg->follow)
            return CLI_OK;
        if (!caught_up)
            continue;                 /* more is there already: ask at once */
        pause = len > 0 ? FOLLOW_MIN_MS : pause * 2 > FOLLOW_MAX_MS ? FOLLOW_MAX_MS : pause * 2;
        s_sleep_ms(pause);
    }
}

int cli_drain(const config_t *cfg, client_t *cl, pb_buf_t *b)
{
    pb_query_t q = { .req_id = 1, .worker_id = pb_s(cfg->arg), .drain = !cfg->resume };
    int rc;
    json_t *w = s_call(cfg, cl, b, PB_DRAIN_WORKER, &q, &rc);
    if (!w)
        return rc;
    if (cfg->json) {
        cli_print_json(w);
    } else {
        json_t *one = json_pack("[O]", w);
        if (one)
            cli_workers_text(one);
        json_decref(one);
    }
    json_decref(w);
    return CLI_OK;
}

/* A role's command as one line: the shell text, or argv joined by spaces. */
static void s_command(json_t *cmd, char *out, size_t cap)
{
    size_t n = 0, i;
    json_t *e;
    out[0] = '\0';
    if (json_is_string(cmd))
        snprintf(out, cap, "%s", json_string_value(cmd));
    else
        json_array_foreach(cmd, i, e) {
            if (n >= cap)
                break;                /* truncated: a table cell */
            n += (size_t) snprintf(out + n, cap - n, "%s%s", i ? " " : "",
                                   json_string_value(e) ? json_string_value(e) : "");
        }
    if (!out[0])
        snprintf(out, cap, "(built in)");
}

static void s_where(json_t *where, char *out, size_t cap)
{
    size_t n = 0, i = 0;
    const char *k;
    json_t *v;
    out[0] = '\0';
    json_object_foreach(where, k, v) {
        if (n >= cap)
            break;                    /* truncated: a table cell */
        n += (size_t) snprintf(out + n, cap - n, "%s%s=%s", i++ ? "," : "", k,
                               json_string_value(v) ? json_string_value(v) : "");
    }
    if (!out[0])
        snprintf(out, cap, "-");
}

/* "2 cron, 1 watch", or "-" for none. */
static void s_triggers(json_t *triggers, char *out, size_t cap)
{
    size_t i, cron = 0, watch = 0;
    json_t *t;
    json_array_foreach(triggers, i, t) {
        const char *type = json_string_value(json_object_get(t, "type"));
        cron += type && strcmp(type, "cron") == 0;
        watch += type && strcmp(type, "watch") == 0;
    }
    if (cron && watch)
        snprintf(out, cap, "%zu cron, %zu watch", cron, watch);
    else if (cron || watch)
        snprintf(out, cap, "%zu %s", cron + watch, cron ? "cron" : "watch");
    else
        snprintf(out, cap, "-");
}

static void s_roles_text(json_t *arr)
{
    printf("%-16s  %-7s  %-11s  %-20s  %-15s  %s\n", "NAME", "ENABLED", "CONCURRENCY", "WHERE",
           "TRIGGERS", "COMMAND");
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        char cmd[512], where[256], conc[24], trig[64];
        s_command(json_object_get(r, "command"), cmd, sizeof cmd);
        s_triggers(json_object_get(r, "triggers"), trig, sizeof trig);
        s_where(json_object_get(r, "where"), where, sizeof where);
        json_int_t mc = s_int(r, "max_concurrency");
        if (mc > 0)
            snprintf(conc, sizeof conc, "%lld", (long long) mc);
        else
            snprintf(conc, sizeof conc, "any");
        const char *name = json_string_value(json_object_get(r, "name"));
        printf("%-16s  %-7s  %-11s  %-20s  %-15s  %s\n", name ? name : "-",
               json_is_true(json_object_get(r, "enabled")) ? "yes" : "no", conc, where, trig, cmd);
    }
}

int cli_roles(const config_t *cfg, client_t *cl, pb_buf_t *b)
{
    pb_query_t q = { .req_id = 1 };
    int rc;
    json_t *roles = s_call(cfg, cl, b, PB_ROLES, &q, &rc);
    if (!roles)
        return rc;
    if (cfg->json)
        cli_print_json(roles);
    else
        s_roles_text(roles);
    json_decref(roles);
    return CLI_OK;
}
