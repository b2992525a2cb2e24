/*  node/coord_api_cluster.c — worker registrations over the HTTP API, on
    the loop: cluster.list, .get, .create, .patch, .delete and .disconnect.

    A registration is a peer_t (mesh/peer.h). The API sets its admin
    fields — name, roles, labels, slots, drain — which restrict what a
    ZeroMQ worker offers in its HELLO (peer_apply) and are all an HTTP-only
    worker has; they are stored in the worker record, so they survive the
    worker's reconnects and the coordinator's restarts. Create also makes
    the worker's token (store/auth.h, scope worker:ID), shown once in the
    answer. Delete revokes the worker's tokens, requeues its jobs, tells a
    connected worker to go, and leaves a tombstone (a stored record marked
    deleted) so its HELLO is refused until the id is created again.

    Rules: a body is checked whole before anything changes (bad input
    changes nothing: "invalid" names the field); unknown fields are
    invalid; ids are names (1-64 of letters, digits, _ . -).
*/
#include "node/coord_int.h"
#include "node/coord_api.h"
#include "node/log.h"
#include "store/auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ROLES_MAX 256             /* roles of one registration */
#define LABELS_MAX 256            /* labels of one registration */
#define SLOTS_MAX 100000

/* ---- the registration object ------------------------------------------------ */

static json_t *s_strs(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *s_labels(const kvlist_t *l)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < l->n; i++)
        json_object_set_new(o, l->items[i].key, json_string(l->items[i].val));
    return o;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The ids of the jobs p runs, sorted. */
static json_t *s_running(const peer_t *p)
{
    const char **ids = calloc(p->nleases ? p->nleases : 1, sizeof *ids);
    if (!ids)
        return NULL;
    for (size_t i = 0; i < p->nleases; i++)
        ids[i] = p->leases[i]->idstr;
    qsort(ids, p->nleases, sizeof *ids, s_cmp_str);
    json_t *a = s_strs((char *const *) ids, p->nleases);
    free(ids);
    return a;
}

static json_t *s_time(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

static json_t *s_text(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *s_reg_json(const peer_t *p)
{
    json_t *offered = p->offer.nroles == 0 ? json_null()
        : json_pack("{s:o,s:o,s:I}", "roles", s_strs(p->offer.roles, p->offer.nroles),
                    "labels", s_labels(&p->offer.labels), "slots", (json_int_t) p->offer.slots);
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}",
                     "id", p->id, "name", p->name, "kind", peer_kind(p),
                     "state", peer_state_name(p->state),
                     "roles", s_strs(p->roles, p->nroles), "labels", s_labels(&p->labels),
                     "slots", (json_int_t) p->slots, "slots_used", (json_int_t) p->nleases,
                     "running", s_running(p), "last_heartbeat", s_time(p->seen_wall_ms),
                     "first_seen", s_time(p->first_seen_ms), "version", s_text(p->version),
                     "address", s_text(p->address), "offered", offered);
}

/* ---- checking a body ----------------------------------------------------------- */

/* What a create or patch body asks for; strings borrowed from the body. */
typedef struct {
    const char *id, *name;
    bool has_roles;
    char **roles;             /* owned */
    size_t nroles;
    bool has_labels;
    kvlist_t labels;          /* owned */
    uint32_t slots;           /* 0 = not given */
    int drain;                /* -1 not given, 0 online, 1 draining */
} s_ask_t;

static void s_ask_free(s_ask_t *a)
{
    peer_strs_free(a->roles, a->nroles);
    kv_free(&a->labels);
}

static bool s_text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static const char *s_roles(json_t *v, s_ask_t *a)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) > ROLES_MAX)
        return "roles: an array of at most 256 role names";
    if (!(a->roles = calloc(json_array_size(v) + 1, sizeof(char *))))
        return "coordinator out of memory";
    a->has_roles = true;
    json_array_foreach(v, i, e) {
        const char *r = json_string_value(e);
        if (!r || !role_name_valid(r))
            return "roles: each a name of 1-64 letters, digits, _ . -";
        for (size_t k = 0; k < a->nroles; k++)
            if (strcmp(a->roles[k], r) == 0)
                return "roles: a role is listed twice";
        if (!(a->roles[a->nroles] = strdup(r)))
            return "coordinator out of memory";
        a->nroles++;
    }
    return NULL;
}

static const char *s_labels_of(json_t *v, s_ask_t *a)
{
    const char *k;
    json_t *e;
    if (!json_is_object(v) || json_object_size(v) > LABELS_MAX)
        return "labels: an object of at most 256 label: string";
    a->has_labels = true;
    json_object_foreach(v, k, e) {
        const char *val = json_string_value(e);
        if (!kv_name_valid(k, strlen(k)))
            return "labels: keys of 1-64 letters, digits, _ . -";
        if (!val || strchr(val, ',') || strlen(val) > 255)
            return "labels: each value a string of at most 255 bytes without ','";
        if (kv_set(&a->labels, k, val) != 0)
            return "coordinator out of memory";
    }
    return NULL;
}

static const char *s_field(const char *k, json_t *v, bool create, s_ask_t *a)
{
    if (create && strcmp(k, "id") == 0) {
        a->id = json_string_value(v);
        return a->id && kv_name_valid(a->id, strlen(a->id)) ? NULL
               : "id: 1-64 letters, digits, _ . -";
    }
    if (strcmp(k, "name") == 0) {
        a->name = json_string_value(v);
        return a->name && s_text_ok(a->name, AUTH_NAME_MAX - 1) ? NULL
               : "name: a string of 1-127 bytes without control characters";
    }
    if (strcmp(k, "roles") == 0)
        return s_roles(v, a);
    if (strcmp(k, "labels") == 0)
        return s_labels_of(v, a);
    if (strcmp(k, "slots") == 0) {
        json_int_t n = json_integer_value(v);
        a->slots = json_is_integer(v) && n >= 1 && n <= SLOTS_MAX ? (uint32_t) n : 0;
        return a->slots ? NULL : "slots: an integer from 1 to 100000";
    }
    if (!create && strcmp(k, "state") == 0) {
        const char *s = json_string_value(v);
        a->drain = s && strcmp(s, "draining") == 0 ? 1 : s && strcmp(s, "online") == 0 ? 0 : -1;
        return a->drain >= 0 ? NULL : "state: \"online\" or \"draining\"";
    }
    return NULL;              /* not reached: s_check lets known fields through only */
}

static bool s_known(const char *k, bool create)
{
    static const char *const keys[] = { "name", "roles", "labels", "slots", NULL };
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return strcmp(k, create ? "id" : "state") == 0;
}

/* Check body into a; NULL, or why it is invalid (a is freed by the caller). */
static const char *s_check(json_t *body, bool create, s_ask_t *a, char *why, size_t len)
{
    const char *k;
    json_t *v;
    memset(a, 0, sizeof *a);
    a->drain = -1;
    if (!json_is_object(body))
        return "the body must be a JSON object";
    json_object_foreach(body, k, v) {
        if (!s_known(k, create)) {
            snprintf(why, len, "unknown field '%.40s' (allowed: %s)", k,
                     create ? "id, name, roles, labels, slots" : "name, roles, labels, slots, state");
            return why;
        }
        const char *problem = s_field(k, v, create, a);
        if (problem)
            return problem;
    }
    if (create && (!a->name || !a->has_roles || !a->slots))
        return "name, roles and slots are required";
    return NULL;
}

const char *coord_api_cluster_check(json_t *body, bool create, char *why, size_t len)
{
    s_ask_t a;
    const char *problem = s_check(body, create, &a, why, len);
    s_ask_free(&a);
    return problem;
}

/* Move what a asks for into p's admin settings. */
static void s_adopt(peer_t *p, s_ask_t *a, char *name)
{
    if (name) {
        free(p->admin.name);
        p->admin.name = name;
    }
    if (a->has_roles) {
        peer_strs_free(p->admin.roles, p->admin.nroles);
        p->admin.roles = a->roles;
        p->admin.nroles = a->nroles;
        p->admin.has_roles = true;
        a->roles = NULL;
        a->nroles = 0;
    }
    if (a->has_labels) {
        kv_free(&p->admin.labels);
        p->admin.labels = a->labels;
        p->admin.has_labels = true;
        memset(&a->labels, 0, sizeof a->labels);
    }
    if (a->slots)
        p->admin.slots = a->slots;
    if (a->drain >= 0)
        p->admin.drain = a->drain == 1;
}

/* ---- operations ---------------------------------------------------------------- */

static int s_by_id(const void *a, const void *b)
{
    return strcmp((*(peer_t *const *) a)->id, (*(peer_t *const *) b)->id);
}

void coord_api_cluster_list(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    (void) body;
    size_t n = 0, cap = zhashx_size(c->peers);
    peer_t **all = calloc(cap ? cap : 1, sizeof *all);
    json_t *list = json_array();
    for (peer_t *p = zhashx_first(c->peers); all && p; p = zhashx_next(c->peers))
        all[n++] = p;
    if (all)
        qsort(all, n, sizeof *all, s_by_id);
    for (size_t i = 0; all && list && i < n; i++)
        json_array_append_new(list, s_reg_json(all[i]));
    if (!all) {
        json_decref(list);
        list = NULL;
    }
    free(all);
    coord_api_reply(c, rid, req_id, list ? json_pack("{s:o}", "clusters", list) : NULL);
}

void coord_api_cluster_get(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    peer_t *p = coord_api_peer(c, rid, req_id, body, "id");
    if (p)
        coord_api_reply(c, rid, req_id, s_reg_json(p));
}

/* A fresh id: "w-" and 12 lowercase hex digits. */
static void s_new_id(coord_t *c, char out[16])
{
    do {
        unsigned char raw[6];
        randombytes_buf(raw, sizeof raw);
        memcpy(out, "w-", 2);
        sodium_bin2hex(out + 2, 13, raw, sizeof raw);
    } while (zhashx_lookup(c->peers, out) || zhashx_lookup(c->tombstones, out));
}

/* The new registration, in c->peers, or NULL (out of memory). */
static peer_t *s_register(coord_t *c, const char *id, s_ask_t *a)
{
    peer_t *p = peer_new(id);
    char *name = strdup(a->name);
    if (!p || !name) {
        free(name);
        peer_destroy(&p);
        return NULL;
    }
    s_adopt(p, a, name);
    if (peer_apply(p) != 0) {
        peer_destroy(&p);
        return NULL;
    }
    zhashx_delete(c->tombstones, id);          /* created again: no longer refused */
    zhashx_update(c->peers, id, p);
    coord_save_peer(c, p);
    return p;
}

void coord_api_cluster_create(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    s_ask_t a;
    char why[160], id[16], scope[96], token[AUTH_TOKEN_LEN + 1], err[200];
    const char *problem = s_check(body, true, &a, why, sizeof why);
    if (problem || (a.id && zhashx_lookup(c->peers, a.id))) {
        if (problem)
            coord_api_error(c, rid, req_id, "invalid", "%s", problem);
        else
            coord_api_error(c, rid, req_id, "conflict", "worker '%s' is already registered", a.id);
        s_ask_free(&a);
        return;
    }
    id[0] = '\0';
    if (!a.id)
        s_new_id(c, id);
    const char *wid = a.id ? a.id : id;
    snprintf(scope, sizeof scope, "worker:%s", wid);
    auth_key_t k;
    peer_t *p = NULL;
    if (auth_create(c->auth, 'w', scope, a.name, token, &k, err, sizeof err) != 0)
        log_msg(LL_WARN, "coordinator", "worker token for %s: %s", wid, err);
    else if (!(p = s_register(c, wid, &a)))
        auth_revoke(c->auth, k.id, err, sizeof err);
    s_ask_free(&a);
    if (!p) {
        coord_api_error(c, rid, req_id, "unavailable", "the worker's token cannot be made now");
        return;
    }
    log_job(LL_INFO, "coordinator", NULL, p->id, "worker %s (%s) registered over the API", p->id, p->name);
    json_t *o = s_reg_json(p);
    json_object_set_new(o, "token", json_string(token));
    sodium_memzero(token, sizeof token);
    coord_api_reply(c, rid, req_id, o);
}

void coord_api_cluster_patch(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    s_ask_t a;
    char why[160];
    peer_t *p = coord_api_peer(c, rid, req_id, body, "id");
    if (!p)
        return;
    const char *problem = s_check(json_object_get(body, "set"), false, &a, why, sizeof why);
    char *name = !problem && a.name ? strdup(a.name) : NULL;
    if (problem || (a.name && !name)) {
        coord_api_error(c, rid, req_id, problem ? "invalid" : "unavailable", "%s",
                        problem ? problem : "coordinator out of memory");
        s_ask_free(&a);
        return;
    }
    s_adopt(p, &a, name);
    s_ask_free(&a);
    if (coord_peer_changed(c, p, "the API") != 0) {
        coord_api_error(c, rid, req_id, "unavailable", "coordinator out of memory");
        return;
    }
    coord_api_reply(c, rid, req_id, s_reg_json(p));
}

int coord_peer_changed(coord_t *c, peer_t *p, const char *how)
{
    if (peer_apply(p) != 0)
        return -1;
    if (p->state != PEER_OFFLINE)
        peer_set_live(p);
    coord_save_peer(c, p);
    c->dispatch_needed = true;
    log_job(LL_INFO, "coordinator", NULL, p->id, "worker %s (%s) changed over %s: %s, %zu "
            "role(s), %u slot(s)", p->id, p->name, how, peer_state_name(p->state), p->nroles,
            p->slots);
    return 0;
}

void coord_api_cluster_delete(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    char scope[96], err[200];
    peer_t *p = coord_api_peer(c, rid, req_id, body, "id");
    if (!p)
        return;
    snprintf(scope, sizeof scope, "worker:%s", p->id);
    peer_t *tomb = peer_new(p->id);
    if (!tomb || auth_revoke_scopes(c->auth, scope, err, sizeof err) < 0) {
        if (tomb)
            log_msg(LL_WARN, "coordinator", "revoking the tokens of %s: %s", p->id, err);
        peer_destroy(&tomb);
        coord_api_error(c, rid, req_id, "unavailable", "the worker's tokens cannot be revoked now");
        return;
    }
    if (coord_curve_forget_worker(c, p->id) != 0) {  /* its key is refused from now on */
        peer_destroy(&tomb);
        coord_api_error(c, rid, req_id, "unavailable",
                        "the worker's CURVE key cannot be revoked now");
        return;
    }
    coord_polls_drop(c, p, "not-found", "this worker's registration was deleted");
    coord_peer_evict(c, p, "deleted", "this worker's registration was deleted");
    tomb->deleted = true;
    coord_save_peer(c, tomb);
    zhashx_update(c->tombstones, tomb->id, tomb);
    zhashx_delete(c->peers, tomb->id);          /* destroys p */
    c->dispatch_needed = true;
    coord_api_reply(c, rid, req_id, json_object());
}

/* End a worker's session without touching its registration: it comes back
   after its reconnect backoff (drain it first to keep it idle, or delete it
   to keep it out). */
void coord_api_cluster_disconnect(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    peer_t *p = coord_api_peer(c, rid, req_id, body, "id");
    if (!p)
        return;
    if (p->state == PEER_OFFLINE) {
        coord_api_error(c, rid, req_id, "conflict", "worker %s is not connected", p->id);
        return;
    }
    coord_polls_drop(c, p, "disconnected", "an admin disconnected this worker");
    coord_peer_evict(c, p, "disconnected", "an admin disconnected this worker; reconnect to go on");
    coord_save_peer(c, p);
    c->dispatch_needed = true;
    coord_api_reply(c, rid, req_id, json_object());
}
