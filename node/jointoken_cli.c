/*  node/jointoken_cli.c — `popebot-node join-token` (jointoken_cli.h).

    Making a token: the coordinator's public key is read from (or, before
    its first start, made in) DIR/curve; the token gets a fresh CURVE pair
    of its own, of which only the public half is stored; the token text
    (which holds the secret half) is printed alone on the last line of
    stdout, the only time it is shown. list never shows a secret.
*/
#include "node/jointoken_cli.h"
#include "mesh/clock.h"
#include "mesh/curve.h"
#include "mesh/jointoken.h"
#include "node/jointoken_issue.h"
#include "node/cli.h"
#include "store/authcurve.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { JT_OK = 0, JT_USAGE = 2, JT_NOT_FOUND = 4, JT_STORE = 5 };

static int s_err(int code, const char *text)
{
    fprintf(stderr, "popebot-node: %s\n", text);
    return code;
}

static void s_time(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    if (ms == 0) {
        snprintf(out, len, "never");
        return;
    }
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int s_create(auth_t *a, const config_t *cfg)
{
    char dir[4096], err[400], text[JTOKEN_TEXT_MAX], when[32];
    curve_pair_t server;
    auth_jt_t rec;
    snprintf(dir, sizeof dir, "%s/curve", cfg->data_dir);
    if (curve_pair_ensure(dir, "server", &server, err, sizeof err) != 0)
        return s_err(JT_STORE, err);
    int rc = jointoken_issue(a, server.pub,
                             cfg->coordinator ? cfg->coordinator : CLI_DEFAULT_COORDINATOR,
                             cfg->ttl_ms, cfg->uses, &rec, text, err, sizeof err);
    sodium_memzero(&server, sizeof server);
    if (rc != 0)
        return s_err(rc == -1 ? JT_USAGE : JT_STORE, err);
    s_time(rec.expires_ms, when, sizeof when);
    if (cfg->json)
        printf("{\"id\":\"%s\",\"expires_ms\":%lld,\"uses\":%u,\"token\":\"%s\"}\n", rec.id,
               (long long) rec.expires_ms, rec.uses_max, text);
    else
        printf("join token %s (expires %s, %s%u enrollment(s)); it is shown only now:\n%s\n",
               rec.id, when, rec.uses_max ? "" : "any number of ", rec.uses_max, text);
    sodium_memzero(text, sizeof text);
    return JT_OK;
}

static int s_print(const auth_jt_t *t, void *arg)
{
    json_t *list = arg;
    char created[32], expires[32];
    bool usable = auth_jt_usable(t, clock_wall_ms());
    if (list) {
        json_array_append_new(list, json_pack("{s:s,s:I,s:I,s:i,s:i,s:b}", "id", t->id,
                              "created_ms", (json_int_t) t->created_ms, "expires_ms",
                              (json_int_t) t->expires_ms, "uses", (int) t->uses_max, "used",
                              (int) t->used, "usable", usable));
        return 0;
    }
    s_time(t->created_ms, created, sizeof created);
    s_time(t->expires_ms, expires, sizeof expires);
    printf("%-12s  %-20s  %-20s  %4u/%-4u  %s\n", t->id, created, expires, t->used, t->uses_max,
           usable ? "usable" : "spent");
    return 0;
}

static int s_list(auth_t *a, const config_t *cfg)
{
    char err[256];
    json_t *list = cfg->json ? json_array() : NULL;
    if (!list)
        printf("%-12s  %-20s  %-20s  %-9s  %s\n", "ID", "CREATED", "EXPIRES", "USED/MAX", "STATE");
    int rc = auth_jt_each(a, s_print, list, err, sizeof err);
    if (list) {
        char *text = json_dumps(list, JSON_COMPACT);
        puts(text ? text : "[]");
        free(text);
        json_decref(list);
    }
    return rc ? s_err(JT_STORE, err) : JT_OK;
}

static int s_revoke(auth_t *a, const char *id)
{
    char err[256];
    int n = auth_jt_revoke(a, id, err, sizeof err);
    if (n < 0)
        return s_err(JT_STORE, err);
    if (n == 0)
        return s_err(JT_NOT_FOUND, "no such join token (see join-token --list)");
    printf("revoked join token %s\n", id);
    return JT_OK;
}

int jointoken_cli_run(const config_t *cfg)
{
    char err[256];
    if (sodium_init() < 0)
        return s_err(JT_STORE, "libsodium cannot start");
    auth_t *a = auth_open(cfg->data_dir, err, sizeof err);
    if (!a)
        return s_err(JT_STORE, err);
    int rc = cfg->revoke ? s_revoke(a, cfg->revoke) : cfg->list ? s_list(a, cfg) : s_create(a, cfg);
    auth_close(&a);
    return rc;
}
