/*  node/keys_cli.c — `popebot-node keys` (keys_cli.h).

    create prints the new key alone on the last line of stdout (the only
    time it is ever shown); list prints id, scopes, name and creation time,
    never a secret; revoke deletes by id.
*/
#include "node/keys_cli.h"
#include "store/auth.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { KEYS_OK = 0, KEYS_USAGE = 2, KEYS_NOT_FOUND = 4, KEYS_STORE = 5 };

static void s_time(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int s_create(auth_t *a, const config_t *cfg)
{
    char token[AUTH_TOKEN_LEN + 1], err[256];
    auth_key_t k;
    if (!auth_scopes_valid(cfg->scope)) {
        fprintf(stderr, "popebot-node: --scope: bad scopes '%.80s' (admin, read, submit:ROLE, "
                "submit:*, comma-separated)\n", cfg->scope);
        return KEYS_USAGE;
    }
    if (auth_create(a, 'k', cfg->scope, cfg->name, token, &k, err, sizeof err) != 0) {
        fprintf(stderr, "popebot-node: %s\n", err);
        return KEYS_STORE;
    }
    if (cfg->json) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:s}", "id", k.id, "scopes", k.scopes, "name",
                              k.name, "created_ms", (json_int_t) k.created_ms, "key", token);
        char *text = json_dumps(j, JSON_COMPACT);
        puts(text ? text : "{}");
        free(text);
        json_decref(j);
    } else {
        printf("created key %s with scopes %s; it is shown only now:\n%s\n", k.id, k.scopes, token);
    }
    return KEYS_OK;
}

static int s_print_key(const auth_key_t *k, void *arg)
{
    json_t *list = arg;
    if (k->kind != 'k')       /* worker tokens belong to their registrations */
        return 0;
    if (list) {
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:I}", "id", k->id, "scopes",
                                              k->scopes, "name", k->name, "created_ms",
                                              (json_int_t) k->created_ms));
        return 0;
    }
    char when[32];
    s_time(k->created_ms, when, sizeof when);
    printf("%-12s  %-20s  %-24s  %s\n", k->id, when, k->scopes, k->name);
    return 0;
}

static int s_list(auth_t *a, const config_t *cfg)
{
    char err[256];
    json_t *list = cfg->json ? json_array() : NULL;
    if (!cfg->json)
        printf("%-12s  %-20s  %-24s  %s\n", "ID", "CREATED", "SCOPES", "NAME");
    int rc = auth_each(a, s_print_key, list, err, sizeof err);
    if (list) {
        char *text = json_dumps(list, JSON_COMPACT);
        puts(text ? text : "[]");
        free(text);
        json_decref(list);
    }
    if (rc != 0)
        fprintf(stderr, "popebot-node: %s\n", err);
    return rc ? KEYS_STORE : KEYS_OK;
}

static int s_revoke(auth_t *a, const config_t *cfg)
{
    char err[256];
    int n = auth_revoke(a, cfg->arg2, err, sizeof err);
    if (n < 0)
        fprintf(stderr, "popebot-node: %s\n", err);
    else if (n == 0)
        fprintf(stderr, "popebot-node: no key %.40s (see keys list)\n", cfg->arg2);
    else
        printf("revoked %s\n", cfg->arg2);
    return n < 0 ? KEYS_STORE : n == 0 ? KEYS_NOT_FOUND : KEYS_OK;
}

int keys_cli_run(const config_t *cfg)
{
    char err[256];
    auth_t *a = auth_open(cfg->data_dir, err, sizeof err);
    if (!a) {
        fprintf(stderr, "popebot-node: %s\n", err);
        return KEYS_STORE;
    }
    int rc = strcmp(cfg->arg, "create") == 0 ? s_create(a, cfg)
           : strcmp(cfg->arg, "list") == 0 ? s_list(a, cfg) : s_revoke(a, cfg);
    auth_close(&a);
    return rc;
}
