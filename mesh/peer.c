/*  mesh/peer.c — worker registrations held by the coordinator (peer.h).

    A peer owns its strings, labels, routing id frame and lease array; it
    borrows the jobs in that array (the job table owns them). Its offer and
    admin settings are owned too; the effective fields are rebuilt from
    them by peer_apply() whenever either changes, never edited by hand.
*/
#include "mesh/peer.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

static const char *s_state_names[PEER_STATE_COUNT] = { "online", "offline", "draining" };

const char *peer_state_name(peer_state_t s)
{
    return s < PEER_STATE_COUNT ? s_state_names[s] : "unknown";
}

peer_t *peer_new(const char *id)
{
    peer_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->id = strdup(id);
    p->name = strdup(id);
    p->version = strdup("");
    p->address = strdup("");
    p->state = PEER_OFFLINE;
    if (!p->id || !p->name || !p->version || !p->address)
        peer_destroy(&p);
    return p;
}

void peer_strs_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int peer_strs_copy(char *const *src, size_t n, char ***out)
{
    char **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        if (!(v[i] = strdup(src[i]))) {
            peer_strs_free(v, i);
            return -1;
        }
    if (!v)
        return -1;
    *out = v;
    return 0;
}

static void s_free_roles(peer_t *p)
{
    peer_strs_free(p->roles, p->nroles);
    p->roles = NULL;
    p->nroles = 0;
}

static void s_free_offer(peer_offer_t *o)
{
    free(o->name);
    peer_strs_free(o->roles, o->nroles);
    kv_free(&o->labels);
    memset(o, 0, sizeof *o);
}

static void s_free_admin(peer_admin_t *a)
{
    free(a->name);
    peer_strs_free(a->roles, a->nroles);
    kv_free(&a->labels);
    memset(a, 0, sizeof *a);
}

void peer_destroy(peer_t **self_p)
{
    peer_t *p = *self_p;
    if (!p)
        return;
    zframe_t *rid = p->routing_id;
    zframe_destroy(&rid);
    s_free_roles(p);
    kv_free(&p->labels);
    s_free_offer(&p->offer);
    s_free_admin(&p->admin);
    free(p->leases);
    free(p->id);
    free(p->name);
    free(p->version);
    free(p->address);
    free(p);
    *self_p = NULL;
}

static int s_set(char **field, pb_str_t v)
{
    char *s = pb_str_dup(v);
    if (!s)
        return -1;
    free(*field);
    *field = s;
    return 0;
}

int peer_update(peer_t *p, const pb_hello_t *h)
{
    peer_offer_t o = { 0 };
    int rc = -1;
    if (!(o.roles = calloc(h->roles.n ? h->roles.n : 1, sizeof(char *))) ||
        kv_from_wire(&o.labels, &h->labels) != 0 || !(o.name = pb_str_dup(h->name)))
        goto out;
    for (; o.nroles < h->roles.n; o.nroles++)
        if (!(o.roles[o.nroles] = pb_str_dup(h->roles.items[o.nroles])))
            goto out;
    o.slots = h->slots;
    if (s_set(&p->version, h->version) != 0)
        goto out;
    s_free_offer(&p->offer);
    p->offer = o;
    memset(&o, 0, sizeof o);
    p->heartbeat_ms = h->heartbeat_ms;
    p->liveness = h->liveness;
    rc = peer_apply(p);
out:
    s_free_offer(&o);
    return rc;
}

static bool s_listed(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* The effective roles: the offered ones the admin allows, or the admin's. */
static int s_apply_roles(peer_t *p)
{
    const peer_offer_t *o = &p->offer;
    const peer_admin_t *a = &p->admin;
    bool offered = o->nroles > 0;
    size_t cap = offered ? o->nroles : a->nroles, n = 0;
    char **roles = calloc(cap ? cap : 1, sizeof *roles);
    if (!roles)
        return -1;
    for (size_t i = 0; i < cap; i++) {
        const char *r = offered ? o->roles[i] : a->roles[i];
        if (offered && a->has_roles && !s_listed(a->roles, a->nroles, r))
            continue;
        if (!(roles[n] = strdup(r))) {
            peer_strs_free(roles, n);
            return -1;
        }
        n++;
    }
    s_free_roles(p);
    p->roles = roles;
    p->nroles = n;
    return 0;
}

static int s_apply_labels(peer_t *p)
{
    kvlist_t l = { 0 };
    int rc = kv_copy(&l, &p->offer.labels);
    for (size_t i = 0; rc == 0 && p->admin.has_labels && i < p->admin.labels.n; i++)
        rc = kv_set(&l, p->admin.labels.items[i].key, p->admin.labels.items[i].val);
    if (rc != 0) {
        kv_free(&l);
        return -1;
    }
    kv_free(&p->labels);
    p->labels = l;
    return 0;
}

int peer_apply(peer_t *p)
{
    const peer_offer_t *o = &p->offer;
    const peer_admin_t *a = &p->admin;
    bool offered = o->nroles > 0;
    const char *name = a->name ? a->name : o->name ? o->name : p->id;
    char *n = strdup(name);
    if (!n || s_apply_roles(p) != 0 || s_apply_labels(p) != 0) {
        free(n);
        return -1;
    }
    free(p->name);
    p->name = n;
    p->slots = offered ? o->slots : a->slots ? a->slots : 1;
    if (offered && a->slots && a->slots < p->slots)
        p->slots = a->slots;
    return 0;
}

const char *peer_kind(const peer_t *p)
{
    return p->offer.nroles > 0 ? "zmq" : "http";
}

void peer_set_live(peer_t *p)
{
    p->state = p->admin.drain || p->self_drain ? PEER_DRAINING : PEER_ONLINE;
}

bool peer_serves(const peer_t *p, const char *role)
{
    for (size_t i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i], role) == 0)
            return true;
    return false;
}

uint32_t peer_credit(const peer_t *p)
{
    if (p->state != PEER_ONLINE || p->nleases >= p->slots)
        return 0;
    return p->slots - (uint32_t) p->nleases;
}

int peer_lease_add(peer_t *p, job_t *job)
{
    if (p->nleases == p->lease_cap) {
        size_t cap = p->lease_cap ? p->lease_cap * 2 : 8;
        job_t **l = realloc(p->leases, cap * sizeof(job_t *));
        if (!l)
            return -1;
        p->leases = l;
        p->lease_cap = cap;
    }
    p->leases[p->nleases++] = job;
    return 0;
}

int peer_lease_remove(peer_t *p, job_t *job)
{
    for (size_t i = 0; i < p->nleases; i++)
        if (p->leases[i] == job) {
            p->leases[i] = p->leases[--p->nleases];
            return 0;
        }
    return -1;
}

bool peer_expired(const peer_t *p, int64_t now_ms)
{
    int64_t limit = (int64_t) p->heartbeat_ms * (p->liveness ? p->liveness : 1);
    return now_ms - p->last_seen_ms > limit;
}
