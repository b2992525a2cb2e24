/*  node/config.c — the flag table and its parser (config.h).

    One table lists every flag: its name, which modes take it, its type, its
    default and its help line. Usage text, environment lookup and parsing are
    all driven by that table, so --help cannot drift from what is parsed.
    A config file's values go through the same parser as flags (s_apply);
    every value records where it came from.
*/
#include "node/config.h"

#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { M_CO = 1 << MODE_COORDINATOR, M_WO = 1 << MODE_WORKER,
       M_SUB = 1 << MODE_SUBMIT, M_JOB = 1 << MODE_JOB, M_JOBS = 1 << MODE_JOBS,
       M_WKS = 1 << MODE_WORKERS, M_CAN = 1 << MODE_CANCEL, M_RET = 1 << MODE_RETRY,
       M_KEYS = 1 << MODE_KEYS, M_PW = 1 << MODE_PASSWD, M_JT = 1 << MODE_JOINTOKEN,
       M_LOGS = 1 << MODE_LOGS, M_DRN = 1 << MODE_DRAIN, M_ROL = 1 << MODE_ROLES,
       M_CLI = M_SUB | M_JOB | M_JOBS | M_WKS | M_CAN | M_RET | M_LOGS | M_DRN | M_ROL,
       M_NODE = M_CO | M_WO, M_ALL = 0x7fff,
       M_ARGV_ONLY = 1 << 15 };   /* never from the environment: a destructive switch */

_Static_assert(MODE_COUNT <= 15, "mode bits would reach M_ARGV_ONLY");

typedef enum { T_STR, T_UINT, T_INT, T_BOOL, T_DUR, T_SIZE } ftype_t;

typedef struct {
    const char *name;         /* flag name without the dashes */
    unsigned modes;           /* M_* bits of the modes that take it */
    ftype_t type;
    size_t offset;            /* where in config_t the value goes */
    const char *def;          /* default as text, NULL = unset */
    const char *help;
} flag_t;

#define O(f) offsetof(config_t, f)

static const flag_t s_flags[] = {
    { "bind", M_CO, T_STR, O(bind), "tcp://127.0.0.1:5555", "ROUTER endpoint for workers and clients" },
    { "data-dir", M_CO | M_KEYS | M_PW | M_JT | M_CLI, T_STR, O(data_dir), "./popebot-data", "the LMDB store (created 0700); CLI: beside the coordinator, its local CURVE key is used from here" },
    { "insecure", M_NODE | M_CLI, T_BOOL, O(insecure), "false", "no CURVE: plaintext, unauthenticated mesh socket (both sides must say so; logs a warning)" },
    { "join", M_WO | M_CLI, T_STR, O(join), NULL, "join token (from `join-token`): enroll this node's own key, once; later starts reuse it" },
    { "key-dir", M_WO | M_CLI, T_STR, O(key_dir), NULL, "this node's CURVE keys (0700; default worker: popebot-keys-ID beside --work-dir, CLI: $HOME/.config/popebot)" },
    { "ttl", M_JT, T_DUR, O(ttl_ms), "24h", "join-token: valid this long (0: until revoked)" },
    { "uses", M_JT, T_UINT, O(uses), "0", "join-token: enrollments it allows (0: any number)" },
    { "revoke", M_JT | M_ARGV_ONLY, T_STR, O(revoke), NULL, "join-token: revoke the token with this ID" },
    { "list", M_JT, T_BOOL, O(list), "false", "join-token: list tokens (never their secrets)" },
    { "durability", M_CO, T_STR, O(durability), "sync", "sync: fsync before acknowledging; none: no fsync, an OS crash can lose recent jobs" },
    { "roles-file", M_CO, T_STR, O(roles_file), NULL, "JSON role definitions {\"roles\":[...]}" },
    { "http", M_CO, T_STR, O(http), "127.0.0.1:8080", "HTTP API ADDR:PORT, or off" },
    { "http-max-body", M_CO, T_SIZE, O(http_max_body), "1M", "largest HTTP request body (413 over it)" },
    { "http-threads", M_CO, T_UINT, O(http_threads), "64", "HTTP worker threads (each long poll or log follow holds one)" },
    { "http-follow-max", M_CO, T_DUR, O(http_follow_max_ms), "1h", "longest live log follow (SSE); each holds an HTTP thread" },
    { "tls-cert", M_CO, T_STR, O(tls_cert), NULL, "PEM certificate (chain after it): the HTTP port then speaks HTTPS only" },
    { "tls-key", M_CO, T_STR, O(tls_key), NULL, "PEM private key of --tls-cert" },
    { "session-lifetime", M_CO, T_DUR, O(session_lifetime_ms), "12h", "a UI login ends this long after it began (sessions outlive restarts)" },
    { "session-idle", M_CO, T_DUR, O(session_idle_ms), "1h", "a UI login unused this long ends" },
    { "http-worker-timeout", M_CO, T_DUR, O(http_worker_timeout_ms), "60s", "an HTTP-only worker silent this long goes offline; its jobs are requeued" },
    { "queue-limit", M_CO, T_UINT, O(queue_limit), "1000000", "queued jobs at most; more are refused (HTTP 429)" },
    { "keep-finished", M_CO, T_UINT, O(keep_finished), "10000", "finished jobs also cached in memory" },
    { "retention", M_CO, T_DUR, O(retention_ms), "168h", "finished jobs (and their output) are deleted after this" },
    { "retention-jobs", M_CO, T_UINT, O(retention_jobs), "1000000", "and the oldest finished jobs beyond this many" },
    { "retention-bytes", M_CO, T_SIZE, O(retention_bytes), "16G", "and the oldest finished jobs while the store uses more" },
    { "store-map-size", M_CO, T_SIZE, O(store_map_size), "64G", "address space for the LMDB map (the file grows as used)" },
    { "store-reserve", M_CO, T_SIZE, O(store_reserve), "256M", "refuse new jobs when the disk has less free than this" },
    { "job-log-max", M_CO, T_SIZE, O(job_log_max), "10M", "output kept per job (the tail; older output is dropped)" },
    { "coordinator", M_WO | M_CLI | M_JT, T_STR, O(coordinator), NULL, "coordinator endpoint (default: the one enrolled with, else tcp://127.0.0.1:5555); join-token: as workers will reach it" },
    { "roles", M_WO, T_STR, O(roles), "echo,sleep", "roles this worker serves, comma-separated" },
    { "slots", M_WO, T_UINT, O(slots), "4", "jobs run at once" },
    { "name", M_WO | M_KEYS, T_STR, O(name), NULL, "worker name (default: host name); keys: a note on the key" },
    { "scope", M_KEYS, T_STR, O(scope), "read", "keys create: admin, read, submit:ROLE, submit:*, comma-separated" },
    { "user", M_PW, T_STR, O(user), NULL, "passwd: the UI user (1-64 of A-Z a-z 0-9 . _ @ -); the password is read from stdin" },
    { "delete", M_PW | M_ARGV_ONLY, T_BOOL, O(delete_user), "false", "passwd: delete the user instead" },
    { "id", M_WO, T_STR, O(id), NULL, "worker id, the registration key (default: the name)" },
    { "labels", M_WO, T_STR, O(labels), "", "labels k=v,k2=v2 that jobs can require with --where" },
    { "allow-command", M_WO, T_STR, O(allow_command), "", "only these executables may run, absolute paths PATH,... (a shell role needs /bin/sh; echo and sleep always run; empty: any)" },
    { "work-dir", M_WO, T_STR, O(work_dir), NULL, "parent of per-job work dirs (default: $TMPDIR/popebot-ID)" },
    { "reconnect-min", M_WO, T_DUR, O(reconnect_min_ms), "1s", "first reconnect delay (doubles, with jitter)" },
    { "reconnect-max", M_WO, T_DUR, O(reconnect_max_ms), "30s", "largest reconnect delay" },
    { "drain-timeout", M_WO, T_DUR, O(drain_timeout_ms), "30s", "on SIGTERM, how long running jobs may finish" },
    { "kill-grace", M_WO, T_DUR, O(kill_grace_ms), "5s", "SIGTERM to SIGKILL delay on timeout or cancel" },
    { "heartbeat", M_NODE, T_DUR, O(heartbeat_ms), "1s", "heartbeat interval" },
    { "liveness", M_NODE, T_UINT, O(liveness), "3", "missed heartbeats before a peer is dead" },
    { "max-message", M_NODE, T_UINT, O(max_message), "16777216", "largest message accepted, bytes" },
    { "timeout", M_CLI, T_DUR, O(timeout_ms), "10s", "give up when the coordinator does not answer" },
    { "json", M_CLI | M_KEYS | M_JT, T_BOOL, O(json), "false", "print JSON instead of text" },
    { "payload", M_SUB, T_STR, O(payload), "{}", "job payload: JSON text, or @FILE" },
    { "where", M_SUB, T_STR, O(where), "", "labels the worker must have, k=v,k2=v2" },
    { "priority", M_SUB, T_INT, O(priority), "0", "higher runs first" },
    { "wait", M_SUB, T_BOOL, O(wait), "false", "wait for the result; exit 0 only if it succeeded" },
    { "delay", M_SUB, T_DUR, O(delay_ms), "0", "run no sooner than this from now (the job is scheduled until then)" },
    { "idempotency-key", M_SUB, T_STR, O(idem_key), NULL, "a second submit with the same key (within 7 days) returns the first job's id" },
    { "state", M_JOBS, T_STR, O(state), NULL, "only jobs in this state" },
    { "job-role", M_JOBS | M_ARGV_ONLY, T_STR, O(job_role), NULL, "only jobs of this role" },  /* POPEBOT_JOB_ROLE is a job's own */
    { "limit", M_JOBS, T_UINT, O(limit), "100", "at most this many jobs, newest first" },
    { "follow", M_LOGS | M_SUB | M_ARGV_ONLY, T_BOOL, O(follow), "false", "-f: print output as it comes until the job ends; exit 0 only if it succeeded (submit: instead of the result)" },
    { "resume", M_DRN | M_ARGV_ONLY, T_BOOL, O(resume), "false", "let the drained worker take jobs again" },
    { "log-level", M_NODE, T_STR, O(log_level), "info", "debug, info, warn or error" },
    /* config file and log format (issue 7) */
    { "config", M_NODE, T_STR, O(config_file), NULL, "JSON file of flag names and values {\"slots\": 8, ...}; the environment and the command line override it" },
    { "log-format", M_NODE, T_STR, O(log_format), "text", "text, or json: one JSON object a line (time, level, component, message, job_id, worker_id)" },
};
#define NFLAGS (sizeof s_flags / sizeof s_flags[0])
_Static_assert(NFLAGS <= CONFIG_MAX_FLAGS, "raise CONFIG_MAX_FLAGS");

/* Flags whose values `config` masks: secrets, not paths to them. */
static const char *s_secret[] = { "join" };

static const char *s_mode_names[MODE_COUNT] = {
    "", "coordinator", "worker", "submit", "job", "jobs", "workers", "cancel", "retry",
    "logs", "drain", "roles", "keys",
    "passwd", "join-token"
};

const char *config_mode_name(node_mode_t mode)
{
    return mode < MODE_COUNT ? s_mode_names[mode] : "";
}

/* ---- values ---------------------------------------------------------------- */

static int s_duration(const char *text, uint32_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || v < 0)
        return -1;
    double mult = strcmp(end, "ms") == 0 ? 1 : strcmp(end, "s") == 0 ? 1000
                : strcmp(end, "m") == 0 ? 60000 : strcmp(end, "h") == 0 ? 3600000
                : (*end == '\0' && v == 0) ? 1 : -1;
    if (mult < 0 || v * mult > 4294967295.0)
        return -1;
    *out = (uint32_t) (v * mult);
    return 0;
}

/* "65536", "512K", "16M", "64G", "1T" (powers of 1024). */
static int s_size(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*text == '-')
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : *end == 'T' ? 40 : 0;
    if (end == text || errno || (shift && end[1]) || (!shift && *end) ||
        (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t) v << shift;
    return 0;
}

static int s_integer(const char *text, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int s_set(config_t *cfg, const flag_t *f, const char *text, char *err, size_t errlen)
{
    void *dst = (char *) cfg + f->offset;
    long long v;
    switch (f->type) {
    case T_STR:
        *(const char **) dst = text;
        return 0;
    case T_BOOL:
        if (strcmp(text, "true") && strcmp(text, "1") && strcmp(text, "false") && strcmp(text, "0"))
            break;
        *(bool *) dst = strcmp(text, "true") == 0 || strcmp(text, "1") == 0;
        return 0;
    case T_UINT:
        if (s_integer(text, 0, UINT32_MAX, &v) != 0)
            break;
        *(uint32_t *) dst = (uint32_t) v;
        return 0;
    case T_INT:
        if (s_integer(text, INT32_MIN, INT32_MAX, &v) != 0)
            break;
        *(int32_t *) dst = (int32_t) v;
        return 0;
    case T_SIZE:
        if (s_size(text, (uint64_t *) dst) != 0)
            break;
        return 0;
    case T_DUR:
        if (s_duration(text, (uint32_t *) dst) != 0) {
            snprintf(err, errlen, "--%s: bad duration '%.40s' (use a unit: 500ms, 10s, 2m, 1h)",
                     f->name, text);
            return -1;
        }
        return 0;
    }
    static const char *kinds[] = { "text", "a whole number >= 0", "a whole number",
                                   "true or false", "a duration",
                                   "a size in bytes, or with K, M, G or T" };
    snprintf(err, errlen, "--%s: bad value '%.40s' (expected %s)", f->name, text, kinds[f->type]);
    return -1;
}

/* s_set, and remember the text and where it came from. */
static int s_apply(config_t *cfg, const flag_t *f, const char *text, config_src_t src,
                   char *err, size_t errlen)
{
    if (s_set(cfg, f, text, err, errlen) != 0)
        return -1;
    cfg->text[f - s_flags] = text;
    cfg->source[f - s_flags] = (unsigned char) src;
    return 0;
}

static void s_env_name(const flag_t *f, char *out, size_t len)
{
    size_t i = (size_t) snprintf(out, len, "POPEBOT_");
    for (const char *p = f->name; *p && i + 1 < len; p++)
        out[i++] = *p == '-' ? '_' : (char) toupper((unsigned char) *p);
    out[i] = '\0';
}

/* Whether argv sets f (then its environment variable is not even read). */
static bool s_on_command_line(const flag_t *f, int argc, char **argv)
{
    size_t len = strlen(f->name);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, f->name, len) == 0 &&
            (argv[i][2 + len] == '=' || argv[i][2 + len] == '\0'))
            return true;
    return false;
}

static const flag_t *s_find(node_mode_t mode, const char *name, size_t len);

/* ---- config file ------------------------------------------------------------- */

/* The --config argument, else POPEBOT_CONFIG, else NULL. */
static const char *s_config_path(int argc, char **argv)
{
    const char *path = getenv("POPEBOT_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
    }
    return path && *path ? path : NULL;
}

/* One file value as the text a flag would carry: strings as they are,
   numbers in decimal, true/false; anything else is refused. */
static json_t *s_file_text(const json_t *v)
{
    char buf[64];
    if (json_is_string(v))
        return json_string(json_string_value(v));
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return json_string(buf);
}

/* Check every key of the loaded object and keep its value as text. */
static int s_file_keys(config_t *cfg, json_t *doc, json_t *out, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        const flag_t *f = s_find(cfg->mode, key, strlen(key));
        const char *why = !f ? (cfg->mode == MODE_WORKER ? "unknown key (not a worker flag)"
                                                         : "unknown key (not a coordinator flag)")
                        : (f->modes & M_ARGV_ONLY) ? "command line only"
                        : strcmp(key, "config") == 0 ? "a config file cannot name another"
                        : strcmp(key, "join") == 0 ? "a join token is a secret the worker "
                          "forgets once enrolled: give it in POPEBOT_JOIN or --join, not in a file"
                        : NULL;
        json_t *text = why ? NULL : s_file_text(v);
        if (!why && !text)
            why = "expected a string, number or true/false";
        if (why || json_object_set_new(out, key, text) != 0) {
            snprintf(err, errlen, "config file %.200s: key '%.40s': %s", cfg->config_file, key,
                     why ? why : "out of memory");
            return -1;
        }
    }
    return 0;
}

static int s_load_file(config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if (cfg->mode != MODE_COORDINATOR && cfg->mode != MODE_WORKER)
        return 0;
    cfg->config_file = s_config_path(argc, argv);
    if (!cfg->config_file)
        return 0;
    json_error_t jerr;
    json_t *doc = json_load_file(cfg->config_file, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(err, errlen, "config file %.200s: line %d: %.100s", cfg->config_file,
                 jerr.line, jerr.text);
        return -1;
    }
    json_t *out = json_object();
    int rc = -1;
    if (!json_is_object(doc))
        snprintf(err, errlen, "config file %.200s: expected a JSON object of flag names and values",
                 cfg->config_file);
    else if (!out)
        snprintf(err, errlen, "out of memory");
    else
        rc = s_file_keys(cfg, doc, out, err, errlen);
    json_decref(doc);
    if (rc != 0)
        json_decref(out);
    else
        cfg->file_values = out;
    return rc;
}

void config_free(config_t *cfg)
{
    json_decref(cfg->file_values);
    cfg->file_values = NULL;
}

/* ---- defaults and environment ------------------------------------------------ */

static int s_defaults_and_env(config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        const flag_t *f = &s_flags[i];
        if (!(f->modes & (1u << cfg->mode)))
            continue;
        char env[64];
        s_env_name(f, env, sizeof env);
        const char *v = s_on_command_line(f, argc, argv) || (f->modes & M_ARGV_ONLY)
                            ? NULL : getenv(env);
        json_t *fv = cfg->file_values ? json_object_get(cfg->file_values, f->name) : NULL;
        if (f->def && s_apply(cfg, f, f->def, SRC_DEFAULT, err, errlen) != 0)
            return -1;
        if (fv && s_apply(cfg, f, json_string_value(fv), SRC_FILE, err, errlen) != 0) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " (from config file %s)", cfg->config_file);
            return -1;
        }
        if (v && s_apply(cfg, f, v, SRC_ENV, err, errlen) != 0) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " (from %s)", env);
            return -1;
        }
    }
    return 0;
}

static const flag_t *s_find(node_mode_t mode, const char *name, size_t len)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if ((s_flags[i].modes & (1u << mode)) && strlen(s_flags[i].name) == len &&
            strncmp(s_flags[i].name, name, len) == 0)
            return &s_flags[i];
    return NULL;
}

/* ---- argv ------------------------------------------------------------------ */

static node_mode_t s_subcommand(const char *word)
{
    for (int m = MODE_SUBMIT; m < MODE_COUNT; m++)
        if (strcmp(word, s_mode_names[m]) == 0)
            return (node_mode_t) m;
    return MODE_NONE;
}

/* Find the mode first: a subcommand word, else --role (flag or env). */
static int s_mode(config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    const char *role = getenv("POPEBOT_ROLE");
    if (argc > 1 && strcmp(argv[1], "config") == 0) {
        cfg->show_config = true;     /* then the role's flags, coordinator by default */
        role = role ? role : "coordinator";
    } else if (argc > 1 && argv[1][0] != '-') {
        cfg->mode = s_subcommand(argv[1]);
        if (cfg->mode == MODE_NONE) {
            snprintf(err, errlen, "unknown command '%.40s'", argv[1]);
            return -1;
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--role=", 7) == 0)
            role = argv[i] + 7;
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
    }
    if (role && strcmp(role, "coordinator") == 0)
        cfg->mode = MODE_COORDINATOR;
    else if (role && strcmp(role, "worker") == 0)
        cfg->mode = MODE_WORKER;
    else if (role) {
        snprintf(err, errlen, "--role: bad value '%.40s' (expected coordinator or worker)", role);
        return -1;
    }
    return 0;
}

static int s_flag(config_t *cfg, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t) (eq - arg) : strlen(arg);
    if ((len == 4 && strncmp(arg, "help", 4) == 0) || (len == 7 && strncmp(arg, "version", 7) == 0)) {
        *(len == 4 ? &cfg->help : &cfg->version) = true;
        return 0;
    }
    if (cfg->show_config && len == 4 && strncmp(arg, "json", 4) == 0) {
        cfg->json = !eq || strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "1") == 0;
        return 0;
    }
    if (len == 4 && strncmp(arg, "role", 4) == 0 && cfg->mode <= MODE_WORKER) {
        *i += eq ? 0 : 1; /* taken by s_mode */
        return 0;
    }
    const flag_t *f = s_find(cfg->mode, arg, len);
    if (!f) {
        snprintf(err, errlen, "unknown flag --%.*s%s%s", (int) (len > 40 ? 40 : len), arg,
                 cfg->mode ? " for " : "", config_mode_name(cfg->mode));
        return -1;
    }
    const char *val = eq ? eq + 1 : NULL;
    if (!val && f->type == T_BOOL)
        val = "true";
    if (!val && *i + 1 < argc)
        val = argv[++*i];
    if (!val) {
        snprintf(err, errlen, "--%s needs a value", f->name);
        return -1;
    }
    return s_apply(cfg, f, val, SRC_FLAG, err, errlen);
}

static int s_positional(config_t *cfg, const char *word, char *err, size_t errlen)
{
    bool takes = cfg->mode == MODE_SUBMIT || cfg->mode == MODE_JOB || cfg->mode == MODE_CANCEL ||
                 cfg->mode == MODE_RETRY || cfg->mode == MODE_KEYS || cfg->mode == MODE_LOGS ||
                 cfg->mode == MODE_DRAIN;
    if (cfg->mode == MODE_LOGS && strcmp(word, "-f") == 0) {
        cfg->follow = true;
        return 0;
    }
    if (cfg->mode == MODE_KEYS && cfg->arg && !cfg->arg2) {
        cfg->arg2 = word;
        return 0;
    }
    if (!takes || cfg->arg) {
        snprintf(err, errlen, "unexpected argument '%.40s'", word);
        return -1;
    }
    cfg->arg = word;
    return 0;
}

static int s_check(const config_t *cfg, char *err, size_t errlen)
{
    if (cfg->help || cfg->version)
        return 0;
    if (cfg->mode == MODE_NONE)
        snprintf(err, errlen, "say what to run: --role=coordinator, --role=worker or a command");
    else if (!cfg->arg && (cfg->mode == MODE_SUBMIT || cfg->mode == MODE_JOB ||
                           cfg->mode == MODE_CANCEL || cfg->mode == MODE_RETRY ||
                           cfg->mode == MODE_LOGS || cfg->mode == MODE_DRAIN))
        snprintf(err, errlen, "%s needs %s", config_mode_name(cfg->mode),
                 cfg->mode == MODE_SUBMIT ? "a ROLE" : cfg->mode == MODE_DRAIN ? "a worker ID"
                                                                               : "a job ID");
    else if (cfg->mode == MODE_KEYS && (!cfg->arg || (strcmp(cfg->arg, "create") != 0 &&
             strcmp(cfg->arg, "list") != 0 && strcmp(cfg->arg, "revoke") != 0)))
        snprintf(err, errlen, "keys needs create, list or revoke");
    else if (cfg->mode == MODE_KEYS && (strcmp(cfg->arg, "revoke") == 0) != (cfg->arg2 != NULL))
        snprintf(err, errlen, "%s", cfg->arg2 ? "unexpected argument after keys create/list"
                                              : "keys revoke needs a key ID (see keys list)");
    else if (cfg->mode == MODE_PASSWD && !cfg->user)
        snprintf(err, errlen, "passwd needs --user=NAME");
    else if (cfg->mode == MODE_COORDINATOR && (cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
    else if (cfg->mode == MODE_COORDINATOR && cfg->http_threads < 4)
        snprintf(err, errlen, "--http-threads: at least 4");
    else if (cfg->mode == MODE_COORDINATOR && cfg->http_worker_timeout_ms < 100)
        snprintf(err, errlen, "--http-worker-timeout: at least 100ms");
    else if (cfg->mode == MODE_COORDINATOR &&
             (cfg->session_lifetime_ms < 1000 || cfg->session_idle_ms < 1000))
        snprintf(err, errlen, "--session-lifetime and --session-idle: at least 1s");
    else if (cfg->mode == MODE_COORDINATOR && strcmp(cfg->durability, "sync") != 0 &&
             strcmp(cfg->durability, "none") != 0)
        snprintf(err, errlen, "--durability: bad value '%.40s' (expected sync or none)", cfg->durability);
    else if (cfg->mode <= MODE_WORKER && strcmp(cfg->log_format, "text") != 0 &&
             strcmp(cfg->log_format, "json") != 0)
        snprintf(err, errlen, "--log-format: bad value '%.40s' (expected text or json)", cfg->log_format);
    else if (cfg->mode <= MODE_WORKER && cfg->max_message < 65536)
        snprintf(err, errlen, "--max-message: must be at least 65536 bytes");
    else if (cfg->mode == MODE_WORKER && (cfg->slots < 1 || cfg->slots > 100000))
        snprintf(err, errlen, "--slots: must be between 1 and 100000");
    else if ((cfg->mode == MODE_WORKER || cfg->mode == MODE_COORDINATOR) &&
             (cfg->heartbeat_ms < 10 || cfg->liveness < 1 || cfg->liveness > 100))
        snprintf(err, errlen, "--heartbeat must be at least 10ms and --liveness 1-100");
    else
        return 0;
    return -1;
}

int config_parse(config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (s_mode(cfg, argc, argv, err, errlen) != 0 || s_load_file(cfg, argc, argv, err, errlen) != 0 ||
        s_defaults_and_env(cfg, argc, argv, err, errlen) != 0)
        return -1;
    int first = cfg->mode >= MODE_SUBMIT || cfg->show_config ? 2 : 1;
    for (int i = first; i < argc; i++) {
        int rc = strncmp(argv[i], "--", 2) == 0 && argv[i][2]
                     ? s_flag(cfg, argc, argv, &i, err, errlen)
                     : s_positional(cfg, argv[i], err, errlen);
        if (rc != 0)
            return -1;
    }
    return s_check(cfg, err, errlen);
}

bool config_entry(const config_t *cfg, size_t *pos, config_entry_t *out)
{
    static const char *names[] = { "default", "file", "env", "flag" };
    for (; *pos < NFLAGS; ++*pos) {
        const flag_t *f = &s_flags[*pos];
        if (!(f->modes & (1u << cfg->mode)))
            continue;
        out->name = f->name;
        out->value = cfg->text[*pos];
        out->source = names[cfg->source[*pos] < 4 ? cfg->source[*pos] : 0];
        out->secret = false;
        for (size_t k = 0; k < sizeof s_secret / sizeof s_secret[0]; k++)
            out->secret |= strcmp(f->name, s_secret[k]) == 0;
        ++*pos;
        return true;
    }
    return false;
}

/* ---- usage ------------------------------------------------------------------ */

static const char *s_synopsis[MODE_COUNT] = {
    "",
    "popebot-node --role=coordinator [--bind=EP] [--data-dir=DIR] [--roles-file=FILE] [flags]",
    "popebot-node --role=worker --coordinator=EP [--roles=R1,R2] [--slots=N] [--name=NAME] [--labels=k=v,...] [flags]",
    "popebot-node submit ROLE [--payload=JSON|@FILE] [--where=k=v,...] [--priority=N] [--delay=DUR]\n"
    "                          [--idempotency-key=K] [--wait] [--follow] [flags]\n"
    "                          (--wait: the result, with a progress bar on a terminal when the job\n"
    "                          reports progress; --follow: its output as it comes instead)",
    "popebot-node job ID [--json] [flags]",
    "popebot-node jobs [--state=STATE] [--job-role=ROLE] [--limit=N] [--json] [flags]",
    "popebot-node workers [--json] [flags]",
    "popebot-node cancel ID [flags]",
    "popebot-node retry ID [flags]      (a failed, timed_out, cancelled or dead job, with fresh attempts)",
    "popebot-node logs ID [-f|--follow] [--json] [flags]   (the job's output; -f until it ends)",
    "popebot-node drain WORKER [--resume] [--json] [flags]   (the worker takes no new jobs; --resume undoes it; only with the coordinator's --data-dir, on its machine)",
    "popebot-node roles [--json] [flags]",
    "popebot-node keys create --data-dir=DIR [--scope=SCOPES] [--name=NOTE]   (prints the key once)\n"
    "  popebot-node keys list --data-dir=DIR [--json]\n"
    "  popebot-node keys revoke ID --data-dir=DIR",
    "popebot-node passwd --data-dir=DIR --user=NAME < password   (sets a UI login; one line, 12+ bytes)\n"
    "  popebot-node passwd --data-dir=DIR --user=NAME --delete",
    "popebot-node join-token --data-dir=DIR [--ttl=24h] [--uses=N] [--coordinator=EP]   (prints a token)\n"
    "  popebot-node join-token --list --data-dir=DIR [--json]\n"
    "  popebot-node join-token --revoke=ID --data-dir=DIR",
};

static void s_flag_help(FILE *out, const flag_t *f)
{
    char env[64], left[48];
    s_env_name(f, env, sizeof env);
    snprintf(left, sizeof left, "--%s%s", f->name, f->type == T_BOOL ? "" : "=V");
    fprintf(out, "  %-22s %s", left, f->help);
    if (f->def && *f->def && f->type != T_BOOL)
        fprintf(out, " [%s]", f->def);
    fprintf(out, " (%s)\n", (f->modes & M_ARGV_ONLY) ? "command line only" : env);
}

void config_usage(FILE *out, node_mode_t mode)
{
    fprintf(out, "usage:\n");
    for (int m = 1; m < MODE_COUNT; m++)
        if (mode == MODE_NONE || mode == (node_mode_t) m)
            fprintf(out, "  %s\n", s_synopsis[m]);
    if (mode == MODE_NONE) {
        fprintf(out, "\nRun `popebot-node --role=coordinator --help`, `--role=worker --help` or\n"
                     "`popebot-node COMMAND --help` for the flags of each. Every flag can also be\n"
                     "set as POPEBOT_<NAME>, and the node roles read a JSON config file\n"
                     "(--config=FILE); the command line wins over the environment, which\n"
                     "wins over the file. `popebot-node config [--role=R] [--config=FILE] [--json]`\n"
                     "prints a role's effective flags and where each came from.\n"
                     "  --help                 show this text\n"
                     "  --version              print the version\n");
        return;
    }
    fprintf(out, "\nflags (environment variable in parentheses, default in brackets):\n");
    for (size_t i = 0; i < NFLAGS; i++)
        if (s_flags[i].modes & (1u << mode))
            s_flag_help(out, &s_flags[i]);
    if (mode == MODE_PASSWD)
        fprintf(out, "\nexit codes: 0 ok; 2 usage (a bad name, or an empty, short or long password);\n"
                     "4 no such user (--delete); 5 the store cannot be used.\n");
    if (mode >= MODE_SUBMIT && mode != MODE_KEYS && mode != MODE_PASSWD &&
        mode != MODE_JOINTOKEN)
        fprintf(out, "\nexit codes: 0 ok; 1 the job did not succeed (submit --wait, logs -f); 2 usage;\n"
                     "3 the coordinator did not answer in time; 4 refused by the coordinator\n"
                     "(also: no such job or worker).\n");
}
