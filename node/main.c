/*  node/main.c — popebot-node: one binary for coordinator, worker and CLI.

    Parses flags and POPEBOT_* variables (config.c), then runs one mode.
    Signals: before any thread exists, SIGTERM, SIGINT and SIGCHLD are
    blocked and SIGTERM/SIGINT are read from a signalfd by the node's loop,
    so a node drains or stops at a well-defined point of its loop, never in a
    handler. Exit codes: 0 ok, 1 runtime failure, 2 usage (see cli.h for the
    client commands).
*/
#include "mesh/kv.h"
#include "node/allowcmd.h"
#include "node/cli.h"
#include "node/config.h"
#include "node/config_show.h"
#include "node/coordinator.h"
#include "node/enroll.h"
#include "node/jointoken_cli.h"
#include "node/keys_cli.h"
#include "node/log.h"
#include "node/passwd_cli.h"
#include "node/worker.h"

#include <libgen.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int s_usage_error(const config_t *cfg, const char *err)
{
    fprintf(stderr, "popebot-node: %s\n", err);
    config_usage(stderr, cfg->mode);
    return 2;
}

static int s_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigdelset(&set, SIGCHLD);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int s_coordinator(const config_t *cfg, int sigfd)
{
    coord_opts_t o = {
        .bind = cfg->bind, .roles_file = cfg->roles_file, .data_dir = cfg->data_dir,
        .durable = strcmp(cfg->durability, "sync") == 0,
        .heartbeat_ms = cfg->heartbeat_ms, .liveness = cfg->liveness,
        .max_message = cfg->max_message, .keep_finished = cfg->keep_finished,
        .job_log_max = cfg->job_log_max, .retention_ms = cfg->retention_ms,
        .retention_jobs = cfg->retention_jobs, .retention_bytes = cfg->retention_bytes,
        .store_map_size = cfg->store_map_size,
        .store_reserve = cfg->store_reserve,
        .http = strcmp(cfg->http, "off") == 0 ? NULL : cfg->http,
        .http_max_body = cfg->http_max_body, .http_threads = cfg->http_threads,
        .queue_limit = cfg->queue_limit, .http_follow_max_ms = cfg->http_follow_max_ms,
        .http_worker_timeout_ms = cfg->http_worker_timeout_ms,
        .session_lifetime_ms = cfg->session_lifetime_ms, .session_idle_ms = cfg->session_idle_ms,
        .tls_cert = cfg->tls_cert, .tls_key = cfg->tls_key, .insecure = cfg->insecure,
    };
    return coordinator_run(&o, sigfd);
}

/* Split "a,b,c" into a NULL-terminated array of owned strings. */
static char **s_split(const char *list, size_t *n)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    char **out = calloc(cap + 1, sizeof(char *));
    char *copy = strdup(list);
    *n = 0;
    for (char *save = NULL, *tok = copy && out ? strtok_r(copy, ",", &save) : NULL; tok;
         tok = strtok_r(NULL, ",", &save))
        out[(*n)++] = strdup(tok);
    free(copy);
    return out;
}

/* The worker's CURVE identity, enrolling with --join the first time; the
   endpoint it names fills in a missing --coordinator. 0 or 1 (printed). */
static int s_worker_identity(const config_t *cfg, worker_opts_t *o, curve_client_t *curve,
                             char *endpoint, size_t cap, char *keys, size_t keys_cap)
{
    char parent[4096], err[400];
    snprintf(parent, sizeof parent, "%s", o->work_dir);
    if (cfg->key_dir)
        snprintf(keys, keys_cap, "%s", cfg->key_dir);
    else
        snprintf(keys, keys_cap, "%s/popebot-keys-%s", dirname(parent), o->id);
    enroll_req_t r = {
        .kind = "worker", .id = o->id, .name = o->name, .token = cfg->join, .key_dir = keys,
        .insecure = cfg->insecure, .timeout_ms = 30000,
    };
    endpoint[0] = '\0';
    if (enroll_resolve(&r, curve, endpoint, cap, err, sizeof err) != 0) {
        log_msg(LL_ERROR, "worker", "%s", err);
        return 1;
    }
    if (cfg->insecure)
        log_msg(LL_WARN, "worker", "--insecure: PLAINTEXT mesh connection; the coordinator is "
                "not authenticated and anyone on the path can read and send jobs");
    else
        log_msg(LL_INFO, "worker", "CURVE on (keys in %s), coordinator key %s", keys,
                curve->server_pub);
    o->coordinator = cfg->coordinator ? cfg->coordinator
                   : endpoint[0] ? endpoint : CLI_DEFAULT_COORDINATOR;
    o->curve = curve;
    o->key_dir = cfg->insecure ? NULL : keys;   /* jobs must not see it */
    return 0;
}

/* Once the identity is resolved the join token is not needed: take it out
   of the environment and blank its text in argv and in the environment
   block, so /proc/PID/cmdline and /proc/PID/environ no longer show it. */
static void s_forget_join(int argc, char **argv)
{
    char *env = getenv("POPEBOT_JOIN");
    if (env)
        sodium_memzero(env, strlen(env));
    unsetenv("POPEBOT_JOIN");
    for (int i = 1; i < argc; i++) {
        char *val = strncmp(argv[i], "--join=", 7) == 0 ? argv[i] + 7
                  : strcmp(argv[i], "--join") == 0 && i + 1 < argc ? argv[i + 1] : NULL;
        if (val)
            sodium_memzero(val, strlen(val));
    }
}

static int s_worker(const config_t *cfg, int sigfd, int argc, char **argv)
{
    char host[256] = "worker", err[200], dir[512];
    gethostname(host, sizeof host - 1);
    kvlist_t labels = { 0 };
    allowcmd_t allow = { 0 };
    if (kv_parse(&labels, cfg->labels, err, sizeof err) != 0)
        return fprintf(stderr, "popebot-node: --labels: %s\n", err), 2;
    if (allowcmd_parse(&allow, cfg->allow_command, err, sizeof err) != 0) {
        kv_free(&labels);
        return fprintf(stderr, "popebot-node: %s\n", err), 2;
    }
    worker_opts_t o = {
        .coordinator = cfg->coordinator, .name = cfg->name ? cfg->name : host,
        .slots = cfg->slots, .labels = &labels, .heartbeat_ms = cfg->heartbeat_ms,
        .liveness = cfg->liveness, .reconnect_min_ms = cfg->reconnect_min_ms,
        .reconnect_max_ms = cfg->reconnect_max_ms, .drain_timeout_ms = cfg->drain_timeout_ms,
        .kill_grace_ms = cfg->kill_grace_ms, .max_message = cfg->max_message,
        .allow = &allow,
    };
    o.id = cfg->id ? cfg->id : o.name;
    o.roles = s_split(cfg->roles, &o.nroles);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/popebot-%s", tmp && *tmp ? tmp : "/tmp", o.id);
    o.work_dir = cfg->work_dir ? cfg->work_dir : dir;
    curve_client_t curve;
    char endpoint[512], keys[4096];
    int rc = 2;
    if (!o.roles || o.nroles == 0)
        fprintf(stderr, "popebot-node: --roles: name at least one role\n");
    else if ((rc = s_worker_identity(cfg, &o, &curve, endpoint, sizeof endpoint, keys,
                                             sizeof keys)) == 0) {
        s_forget_join(argc, argv);
        rc = worker_run(&o, sigfd);
    }
    sodium_memzero(&curve, sizeof curve);
    for (size_t i = 0; o.roles && i < o.nroles; i++)
        free(o.roles[i]);
    free(o.roles);
    kv_free(&labels);
    allowcmd_free(&allow);
    return rc;
}

static int s_run_mode(const config_t *cfg, int argc, char **argv)
{
    if (cfg->mode == MODE_KEYS)
        return keys_cli_run(cfg);
    if (cfg->mode == MODE_PASSWD)
        return passwd_cli_run(cfg);
    if (cfg->mode == MODE_JOINTOKEN)
        return jointoken_cli_run(cfg);
    if (cfg->mode >= MODE_SUBMIT)
        return cli_run(cfg);
    int sigfd = s_signalfd();
    if (sigfd < 0) {
        perror("popebot-node: signalfd");
        return 1;
    }
    int rc = cfg->mode == MODE_COORDINATOR ? s_coordinator(cfg, sigfd) : s_worker(cfg, sigfd, argc, argv);
    close(sigfd);
    return rc;
}

/* Runs the parsed configuration; main owns cfg and frees it after. */
static int s_run(const config_t *cfg, int argc, char **argv)
{
    if (cfg->version) {
        printf("popebot-node %s (protocol 1)\n", POPEBOT_VERSION);
        return 0;
    }
    if (cfg->help) {
        if (cfg->show_config)
            config_show_usage(stdout);
        else
            config_usage(stdout, cfg->mode);
        return 0;
    }
    if (cfg->show_config)
        return config_show(cfg, stdout);
    log_level_t level = LL_INFO;
    if (cfg->log_level && log_level_parse(cfg->log_level, &level) != 0)
        return s_usage_error(cfg, "--log-level: expected debug, info, warn or error");
    log_set_level(level);
    log_set_json(cfg->log_format && strcmp(cfg->log_format, "json") == 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    return s_run_mode(cfg, argc, argv);
}

int main(int argc, char **argv)
{
    config_t cfg;
    char err[256];
    int rc = config_parse(&cfg, argc, argv, err, sizeof err) != 0 ? s_usage_error(&cfg, err)
                                                                  : s_run(&cfg, argc, argv);
    config_free(&cfg);
    return rc;
}
