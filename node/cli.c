/*  node/cli.c — client subcommands (cli.h).

    Rules: stdout carries only the command's answer (an id, a result, a table
    or JSON), so scripts can use it; every complaint goes to stderr as one
    line starting with "popebot-node: ". Every wait is bounded by --timeout.
*/
#include "node/cli.h"
#include "node/cli_int.h"
#include "mesh/clock.h"
#include "mesh/kv.h"
#include "node/client.h"
#include "node/enroll.h"
#include "node/mpjson.h"

#include <jansson.h>
#include <sodium.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_PROBE_MS 1000    /* submit --wait asks for the job this often */

static int s_fail(int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "popebot-node: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return code;
}

int cli_no_answer(const config_t *cfg)
{
    return s_fail(CLI_TIMEOUT, "no answer from coordinator at %s (is it running? see --timeout)",
                  cfg->coordinator);
}

/* Check a reply: ERROR is printed and mapped to an exit code. */
int cli_check_reply(const config_t *cfg, const pb_msg_t *m)
{
    if (!m)
        return cli_no_answer(cfg);
    if (m->cmd == PB_ERROR) {
        fprintf(stderr, "popebot-node: %.*s: %.*s\n", (int) m->u.error.code.len, m->u.error.code.ptr,
                (int) m->u.error.message.len, m->u.error.message.ptr);
        return CLI_REFUSED;
    }
    return CLI_OK;
}

static json_t *s_job_json(const msgpack_object *body)
{
    json_t *j = mpjson_from(body);
    mpjson_expand(j, "result");
    mpjson_expand(j, "payload");
    return j;
}

void cli_print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text)
        puts(text);
    free(text);
}

/* ---- submit ------------------------------------------------------------------ */

static char *s_payload(const char *spec)
{
    json_error_t jerr;
    json_t *v = spec[0] == '@' ? json_load_file(spec + 1, JSON_DECODE_ANY, &jerr)
                               : json_loads(spec, JSON_DECODE_ANY, &jerr);
    if (!v) {
        fprintf(stderr, "popebot-node: --payload: not valid JSON: %s (line %d)\n", jerr.text, jerr.line);
        return NULL;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return text;
}

static int s_finish(const config_t *cfg, const msgpack_object *body)
{
    json_t *j = s_job_json(body);
    const char *state = json_string_value(json_object_get(j, "state"));
    if (cfg->json)
        cli_print_json(j);
    else
        cli_print_json(json_object_get(j, "result") ? json_object_get(j, "result") : json_null());
    int rc = CLI_OK;
    if (!state || strcmp(state, "succeeded") != 0) {
        const char *err = json_string_value(json_object_get(j, "error"));
        fprintf(stderr, "popebot-node: job %s %s%s%s\n",
                json_string_value(json_object_get(j, "id")), state ? state : "?",
                err ? ": " : "", err ? err : "");
        rc = CLI_JOB_FAILED;
    }
    json_decref(j);
    return rc;
}

static bool s_terminal(const msgpack_object *body)
{
    static const char *states[] = { "succeeded", "failed", "timed_out", "cancelled", "dead" };
    json_t *j = mpjson_from(body);
    const char *state = json_string_value(json_object_get(j, "state"));
    bool done = false;
    for (size_t i = 0; state && i < 5; i++)
        done = done || strcmp(state, states[i]) == 0;
    json_decref(j);
    return done;
}

/* On a terminal, a one-line progress bar on stderr from a JOB answer that
   carries progress (an HTTP worker's reports); true when it drew one. */
static bool s_progress(const msgpack_object *body)
{
    json_t *j = mpjson_from(body), *p = json_object_get(j, "progress");
    json_int_t done = json_integer_value(json_object_get(p, "done"));
    json_int_t total = json_integer_value(json_object_get(p, "total"));
    const char *msg = json_string_value(json_object_get(p, "message"));
    bool drawn = json_is_object(p) && isatty(STDERR_FILENO);
    if (drawn) {
        char bar[31];
        int fill = total > 0 ? (int) (30 * (done > total ? total : done < 0 ? 0 : done) / total) : 0;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %lld/%lld %.40s\033[K", bar, (long long) done, (long long) total,
                msg ? msg : "");
        fflush(stderr);
    }
    json_decref(j);
    return drawn;
}

/* The job with this id in a RESULT's list, or NULL. */
static const msgpack_object *s_job_in(const msgpack_object *jobs, const char *id)
{
    for (uint32_t i = 0; i < jobs->via.array.size; i++) {
        const msgpack_object_map *m = &jobs->via.array.ptr[i].via.map;
        for (uint32_t k = 0; k < m->size; k++) {
            const msgpack_object *key = &m->ptr[k].key, *v = &m->ptr[k].val;
            if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == 2 &&
                memcmp(key->via.str.ptr, "id", 2) == 0 && v->type == MSGPACK_OBJECT_STR &&
                v->via.str.size == strlen(id) && memcmp(v->via.str.ptr, id, v->via.str.size) == 0)
                return &jobs->via.array.ptr[i];
        }
    }
    return NULL;
}

/* Wait for the job's end: the RESULT push, or a JOB probe that finds it
   ended. Probes go out once a second; they double as a heartbeat: a probe
   left unanswered for --timeout means the coordinator is gone. */
static int s_wait(const config_t *cfg, client_t *cl, const char *id, pb_buf_t *b)
{
    uint64_t req = 100;
    bool bar = false;             /* a progress bar is on stderr's last line */
    int64_t probe_sent = 0;       /* oldest unanswered probe; 0 = none */
    int64_t next_probe = clock_mono_ms() + WAIT_PROBE_MS;
    for (;;) {
        int64_t now = clock_mono_ms();
        int64_t wake = next_probe;
        if (probe_sent && probe_sent + cfg->timeout_ms < wake)
            wake = probe_sent + cfg->timeout_ms;
        bool timed_out;
        char why[160];
        pb_msg_t *m = client_recv(cl, (int) (wake > now ? wake - now : 0), &timed_out, why, sizeof why);
        now = clock_mono_ms();
        if (m)
            probe_sent = 0;
        else if (probe_sent && now - probe_sent >= cfg->timeout_ms)
            return cli_no_answer(cfg);
        int rc = -1;
        const msgpack_object *mine = m && m->cmd == PB_RESULT ? s_job_in(m->u.reply.body, id) : NULL;
        bool ends = mine || (m && m->cmd == PB_REPLY && s_terminal(m->u.reply.body));
        if (ends && bar)
            fputc('\n', stderr);     /* the bar's line stays; the end goes below it */
        if (mine)
            rc = s_finish(cfg, mine);
        else if (ends)
            rc = s_finish(cfg, m->u.reply.body);
        else if (m && m->cmd == PB_ERROR)
            rc = cli_check_reply(cfg, m);
        else if (m && m->cmd == PB_REPLY)
            bar = s_progress(m->u.reply.body) || bar;
        pb_msg_destroy(&m);
        if (rc >= 0)
            return rc;
        if (now >= next_probe) {
            pb_query_t q = { .req_id = ++req, .job_id = pb_s(id) };
            pb_buf_reset(b);
            pb_enc_query(b, PB_JOB, &q);
            client_send(cl, b);
            probe_sent = probe_sent ? probe_sent : now;
            next_probe = now + WAIT_PROBE_MS;
        }
    }
}

static int s_submit(const config_t *cfg, client_t *cl, pb_buf_t *b)
{
    char err[160];
    kvlist_t where = { 0 };
    if (kv_parse(&where, cfg->where, err, sizeof err) != 0)
        return s_fail(CLI_USAGE, "--where: %s", err);
    char *payload = s_payload(cfg->payload);
    if (!payload) {
        kv_free(&where);
        return CLI_USAGE;
    }
    pb_kv_t kvs[where.n + 1];
    pb_submit_item_t item = { pb_s(cfg->arg), pb_s(payload), cfg->priority, kv_to_wire(&where, kvs),
                              cfg->delay_ms, pb_s(cfg->idem_key) };
    pb_enc_submit(b, 1, &item, 1, cfg->wait);
    pb_msg_t *m = client_call(cl, b, 1, (int) cfg->timeout_ms);
    free(payload);
    kv_free(&where);
    int rc = cli_check_reply(cfg, m);
    if (rc == CLI_OK && (m->cmd != PB_SUBMITTED || m->u.submitted.n != 1))
        rc = s_fail(CLI_REFUSED, "%s", "unexpected answer from coordinator");
    if (rc == CLI_OK && !m->u.submitted.items[0].job_id.ptr) {
        pb_str_t e = m->u.submitted.items[0].error;
        fprintf(stderr, "popebot-node: refused: %.*s\n", (int) e.len, e.ptr);
        rc = CLI_REFUSED;
    }
    char id[64] = "";
    if (rc == CLI_OK) {
        pb_str_t s = m->u.submitted.items[0].job_id;
        snprintf(id, sizeof id, "%.*s", (int) s.len, s.ptr);
        fprintf(cfg->wait || cfg->follow ? stderr : stdout, "%s\n", id);
        fflush(NULL);
    }
    pb_msg_destroy(&m);
    if (rc == CLI_OK && cfg->follow) {  /* its output as it comes, then how it ended */
        config_t logs = *cfg;
        logs.arg = id;
        logs.json = false;
        return cli_logs(&logs, cl, b);
    }
    return rc == CLI_OK && cfg->wait ? s_wait(cfg, cl, id, b) : rc;
}

/* ---- queries ------------------------------------------------------------------- */

static const char *s_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static void s_job_text(json_t *j)
{
    const char *keys[] = { "id", "role", "state", "attempts", "max_attempts", "priority", "worker",
                           "exit_code", "error", "created_ms", "started_ms", "finished_ms" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(j, keys[i]);
        if (json_is_string(v))
            printf("%-13s %s\n", keys[i], json_string_value(v));
        else if (json_is_integer(v))
            printf("%-13s %lld\n", keys[i], (long long) json_integer_value(v));
        else
            printf("%-13s -\n", keys[i]);
    }
    char *payload = json_dumps(json_object_get(j, "payload"), JSON_COMPACT | JSON_ENCODE_ANY);
    char *result = json_dumps(json_object_get(j, "result"), JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%-13s %s\n%-13s %s\n", "payload", payload ? payload : "-", "result", result ? result : "-");
    free(payload);
    free(result);
    const char *log = json_string_value(json_object_get(j, "log"));
    if (log && *log)
        printf("--- output (tail) ---\n%s%s", log, log[strlen(log) - 1] == '\n' ? "" : "\n");
}

static void s_jobs_text(json_t *arr)
{
    printf("%-16s  %-16s  %-9s  %8s  %s\n", "ID", "ROLE", "STATE", "ATTEMPTS", "WORKER");
    size_t i;
    json_t *j;
    json_array_foreach(arr, i, j)
        printf("%-16s  %-16s  %-9s  %8lld  %s\n", s_str(j, "id"), s_str(j, "role"), s_str(j, "state"),
               (long long) json_integer_value(json_object_get(j, "attempts")), s_str(j, "worker"));
}

static char *s_join(json_t *v)
{
    char buf[512] = "";
    size_t n = 0, i;
    const char *k;
    json_t *e;
    if (json_is_array(v))
        json_array_foreach(v, i, e)
            n += (size_t) snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, "%s%s", i ? "," : "",
                                   json_string_value(e) ? json_string_value(e) : "");
    else if (json_is_object(v)) {
        i = 0;
        json_object_foreach(v, k, e)
            n += (size_t) snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, "%s%s=%s",
                                   i++ ? "," : "", k, json_string_value(e) ? json_string_value(e) : "");
    }
    return strdup(*buf ? buf : "-");
}

void cli_workers_text(json_t *arr)
{
    printf("%-20s  %-16s  %-8s  %-7s  %-20s  %s\n", "ID", "NAME", "STATE", "RUNNING", "ROLES", "LABELS");
    size_t i;
    json_t *w;
    json_array_foreach(arr, i, w) {
        char *roles = s_join(json_object_get(w, "roles"));
        char *labels = s_join(json_object_get(w, "labels"));
        char used[32];
        snprintf(used, sizeof used, "%lld/%lld", (long long) json_integer_value(json_object_get(w, "running")),
                 (long long) json_integer_value(json_object_get(w, "slots")));
        printf("%-20s  %-16s  %-8s  %-7s  %-20s  %s\n", s_str(w, "id"), s_str(w, "name"), s_str(w, "state"),
               used, roles, labels);
        free(roles);
        free(labels);
    }
}

static int s_query(const config_t *cfg, client_t *cl, pb_buf_t *b)
{
    static const pb_cmd_t cmds[MODE_COUNT] = { [MODE_JOB] = PB_JOB, [MODE_JOBS] = PB_JOBS,
                                               [MODE_WORKERS] = PB_WORKERS, [MODE_CANCEL] = PB_CANCEL,
                                               [MODE_RETRY] = PB_RETRY };
    pb_query_t q = { .req_id = 1, .job_id = pb_s(cfg->arg), .state = pb_s(cfg->state),
                     .role = pb_s(cfg->job_role), .limit = cfg->limit };
    pb_enc_query(b, cmds[cfg->mode], &q);
    pb_msg_t *m = client_call(cl, b, 1, (int) cfg->timeout_ms);
    int rc = cli_check_reply(cfg, m);
    if (rc != CLI_OK) {
        pb_msg_destroy(&m);
        return rc;
    }
    json_t *j = mpjson_from(m->u.reply.body);
    if (json_is_array(j)) {
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e) {
            mpjson_expand(e, "result");
            mpjson_expand(e, "payload");
        }
    } else {
        mpjson_expand(j, "result");
        mpjson_expand(j, "payload");
    }
    if (cfg->json)
        cli_print_json(j);
    else if (cfg->mode == MODE_JOB)
        s_job_text(j);
    else if (cfg->mode == MODE_JOBS)
        s_jobs_text(j);
    else if (cfg->mode == MODE_WORKERS)
        cli_workers_text(j);
    else if (cfg->mode == MODE_RETRY)
        printf("job %s: queued again (attempt %lld next)\n", s_str(j, "id"),
               (long long) json_integer_value(json_object_get(j, "attempts")) + 1);
    else
        printf("job %s: %s\n", s_str(j, "id"),
               strcmp(s_str(j, "state"), "cancelled") == 0 ? "cancelled" : "cancel requested");
    json_decref(j);
    pb_msg_destroy(&m);
    return CLI_OK;
}

/* The CLI's key directory: --key-dir, else $HOME/.config/popebot. */
static const char *s_key_dir(const config_t *cfg, char *buf, size_t cap)
{
    const char *home = getenv("HOME");
    if (cfg->key_dir)
        return cfg->key_dir;
    if (!home || !*home)
        return NULL;
    snprintf(buf, cap, "%s/.config", home);
    mkdir(buf, 0700);
    snprintf(buf, cap, "%s/.config/popebot", home);
    return buf;
}

/* The CURVE identity and the endpoint to use (enrolling with --join once). */
static int s_identity(config_t *cfg, curve_client_t *curve, char *endpoint, size_t cap)
{
    char dir[4096], name[32], err[400];
    unsigned char raw[4];
    randombytes_buf(raw, sizeof raw);
    snprintf(name, sizeof name, "cli-%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
    enroll_req_t r = {
        .kind = "client", .id = name, .name = name, .token = cfg->join,
        .key_dir = s_key_dir(cfg, dir, sizeof dir), .data_dir = cfg->data_dir,
        .insecure = cfg->insecure, .timeout_ms = cfg->timeout_ms,
    };
    endpoint[0] = '\0';
    if (enroll_resolve(&r, curve, endpoint, cap, err, sizeof err) != 0)
        return s_fail(CLI_USAGE, "%s", err);
    if (!cfg->coordinator)
        cfg->coordinator = endpoint[0] ? endpoint : CLI_DEFAULT_COORDINATOR;
    return CLI_OK;
}

int cli_run(const config_t *cfg_in)
{
    config_t c = *cfg_in, *cfg = &c;
    curve_client_t curve;
    char endpoint[512];
    int id = s_identity(cfg, &curve, endpoint, sizeof endpoint);
    if (id != CLI_OK)
        return id;
    client_t *cl = client_new(cfg->coordinator, cfg->max_message ? cfg->max_message : 16 << 20,
                              &curve);
    sodium_memzero(&curve, sizeof curve);
    if (!cl)
        return s_fail(CLI_USAGE, "cannot use coordinator endpoint '%s'", cfg->coordinator);
    pb_buf_t b;
    pb_buf_init(&b);
    int rc = cfg->mode == MODE_SUBMIT ? s_submit(cfg, cl, &b)
             : cfg->mode == MODE_LOGS ? cli_logs(cfg, cl, &b)
             : cfg->mode == MODE_DRAIN ? cli_drain(cfg, cl, &b)
             : cfg->mode == MODE_ROLES ? cli_roles(cfg, cl, &b) : s_query(cfg, cl, &b);
    pb_buf_free(&b);
    client_destroy(&cl);
    return rc;
}
