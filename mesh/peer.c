/*  mesh/peer.c — worker registrations held by the coordinator (peer.h).

    A peer owns its strings, labels, routing id frame and lease array; it
    borrows the jobs in that array (the job table owns them).
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

static void s_free_roles(peer_t *p)
{
    for (size_t i = 0; i < p->nroles; i++)
        free(p->roles[i]);
    free(p->roles);
    p->roles = NULL;
    p->nroles = 0;
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
    kvlist_t labels = { 0 };
    char **roles = calloc(h->roles.n ? h->roles.n : 1, sizeof(char *));
    if (!roles || kv_from_wire(&labels, &h->labels) != 0) {
        free(roles);
        kv_free(&labels);
        return -1;
    }
    s_free_roles(p);
    p->roles = roles;
    for (uint32_t i = 0; i < h->roles.n; i++) {
        if (!(roles[i] = pb_str_dup(h->roles.items[i])))
            return -1;
        p->nroles = i + 1;
    }
    kv_free(&p->labels);
    p->labels = labels;
    p->slots = h->slots;
    p->heartbeat_ms = h->heartbeat_ms;
    p->liveness = h->liveness;
    if (s_set(&p->name, h->name) != 0 || s_set(&p->version, h->version) != 0)
        return -1;
    return 0;
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
