/*  node/config.h — command line and POPEBOT_* environment, parsed once.

    Every flag --some-name=V (or --some-name V) can also be given as the
    environment variable POPEBOT_SOME_NAME; a flag on the command line wins
    over the environment, which wins over the default. Flags belong to modes
    (coordinator, worker, client subcommands); a flag outside its mode is an
    unknown flag. Durations take a unit (500ms, 10s, 2m, 1h).

    The node roles also read an optional config file (--config=FILE or
    POPEBOT_CONFIG): a JSON object of flag names and values. Precedence:
    command line > environment > config file > default. Each flag's source
    and text are kept for `popebot-node config` (config_show.c).
*/
#ifndef POPEBOT_NODE_CONFIG_H
#define POPEBOT_NODE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    MODE_NONE,
    MODE_COORDINATOR, MODE_WORKER,
    MODE_SUBMIT, MODE_JOB, MODE_JOBS, MODE_WORKERS, MODE_CANCEL, MODE_RETRY,
    MODE_LOGS, MODE_DRAIN, MODE_ROLES,   /* ops commands: logs ID, drain WORKER, roles */
    MODE_KEYS,                /* local: works on DIR/auth, no coordinator needed */
    MODE_PASSWD,              /* local too: UI users' passwords in DIR/auth */
    MODE_JOINTOKEN,           /* local too: join tokens in DIR/auth */
    MODE_COUNT
} node_mode_t;

#define CONFIG_MAX_FLAGS 96   /* entries of the flag table, at most */

typedef enum { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG } config_src_t;

typedef struct {
    node_mode_t mode;
    bool help, version;
    const char *log_level;
    /* coordinator */
    const char *bind, *data_dir, *roles_file, *durability;
    uint32_t keep_finished, retention_ms, retention_jobs;
    uint64_t store_map_size, store_reserve, job_log_max, retention_bytes;
    const char *http;         /* ADDR:PORT or "off" */
    const char *tls_cert, *tls_key;
    uint64_t http_max_body;
    uint32_t http_threads, queue_limit;
    uint32_t http_follow_max_ms;
    uint32_t http_worker_timeout_ms;
    uint32_t session_lifetime_ms, session_idle_ms;
    /* keys */
    const char *scope;
    /* passwd */
    const char *user;
    bool delete_user;
    /* join-token */
    uint32_t ttl_ms, uses;
    const char *revoke;
    bool list;
    /* CURVE (coordinator, worker, CLI) */
    bool insecure;
    const char *join, *key_dir;
    /* worker */
    const char *coordinator, *id, *name, *roles, *labels, *work_dir;
    const char *allow_command;  /* PATH,... or "" (any) */
    uint32_t slots, reconnect_min_ms, reconnect_max_ms, drain_timeout_ms, kill_grace_ms;
    /* both nodes */
    uint32_t heartbeat_ms, liveness, max_message;
    /* client subcommands */
    uint32_t timeout_ms, limit;
    bool json, wait;
    const char *payload, *where, *state, *job_role, *idem_key;
    uint32_t delay_ms;
    int32_t priority;
    const char *arg;          /* the positional argument (ROLE, job ID, keys action) */
    const char *arg2;         /* a second one (keys revoke ID) */
    bool follow;              /* logs -f: until the job ends */
    bool resume;              /* drain --resume: take jobs again */
    /* config file, log format and `popebot-node config` */
    const char *config_file;  /* --config / POPEBOT_CONFIG, or NULL */
    const char *log_format;   /* text or json */
    bool show_config;         /* `config`: print the role's effective flags, do not run */
    void *file_values;        /* owned (config_free): the file's values as text */
    unsigned char source[CONFIG_MAX_FLAGS];   /* config_src_t of each flag */
    const char *text[CONFIG_MAX_FLAGS];       /* the text each flag was set from */
} config_t;

/* One flag of a mode as `config` shows it. value is NULL when unset. */
typedef struct {
    const char *name, *value, *source;
    bool secret;              /* value must be masked when printed */
} config_entry_t;

/* Parse argv and the environment. Returns 0, or -1 with a one-line reason
   in err (the caller prints it with the usage and exits 2). */
int config_parse(config_t *cfg, int argc, char **argv, char *err, size_t errlen);
/* Frees what config_parse allocated (the config file's values); safe twice. */
void config_free(config_t *cfg);
/* The next flag of cfg's mode from *pos (start at 0); false past the last. */
bool config_entry(const config_t *cfg, size_t *pos, config_entry_t *out);
void config_usage(FILE *out, node_mode_t mode);
const char *config_mode_name(node_mode_t mode);

#endif
