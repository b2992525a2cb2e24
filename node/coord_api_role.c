/*  node/coord_api_role.c — the HTTP layer's role operations, on the loop.

    role.list {}                      -> {"roles": [role...]}
    role.get {"name"}                 -> role
    role.create {"role": {...}}       -> role
    role.update {"name", "patch"}     -> role   (the patch is merged into the
                                                 role, then parsed whole)
    role.delete {"name"}              -> {}
    role.trigger {"role", "scopes", "payload": JSON text}
                                      -> {"ok": true, "job_id": ..}

    A role object is the roles file's (mesh/role.c parses and writes it,
    strictly, in one place) plus "builtin" and "webhook_path".

    Rules it keeps:
    - Roles are never freed while the loop runs: jobs and the scheduler
      borrow role_t pointers. An edit replaces the definition in place
      (role_take_def), so the next lease of a queued job carries it; a
      delete clears it to a vanished role (no command, refused like an
      unknown name) and a later create of the same name revives that
      object.
    - Built-ins (echo, sleep) are read-only: conflict. A role with an
      unfinished job (queued, scheduled or running) cannot be deleted:
      conflict.
    - Every change is written into the turn's transaction (coord_save_role,
      coord_delete_role); the answer leaves after the durable commit.
    - Bad input answers invalid (422) naming the field and changes nothing.
    - The trigger is one operation: permission, enabled, then the same
      coord_submit_one as SUBMIT (queue limit, store room). Its payload
      arrives as text already checked as a JSON object by the web layer.
*/
#include "node/coord_int.h"
#include "node/coord_api.h"
#include "mesh/refusal.h"
#include "store/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The role as the API shows it: the file's fields, builtin, webhook_path. */
static json_t *s_role_json(coord_t *c, const role_t *r)
{
    json_t *o = role_to_json(r);
    char path[200];
    snprintf(path, sizeof path, "/api/cluster/%s/role/%s/webhook", store_cluster_id(c->store),
             r->name);
    if (o && (json_object_set_new(o, "builtin", json_boolean(r->builtin)) != 0 ||
              json_object_set_new(o, "webhook_path", json_string(path)) != 0 ||
              json_object_set_new(o, "trigger_status", coord_trig_status(c, r)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The defined role named by body[key], or NULL after answering not-found. */
static role_t *s_find(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body,
                      const char *key)
{
    const char *name = json_string_value(json_object_get(body, key));
    role_t *r = name ? roleset_find(&c->roles, name) : NULL;
    if (r && role_defined(r))
        return r;
    coord_api_error(c, rid, req_id, "not-found", "no role '%.64s'", name ? name : "");
    return NULL;
}

static bool s_builtin(coord_t *c, const rid_t *rid, uint64_t req_id, const role_t *r)
{
    if (r->builtin)
        coord_api_error(c, rid, req_id, "conflict",
                        "role '%s' is built in and cannot be changed or deleted", r->name);
    return r->builtin;
}

json_t *coord_roles_json(coord_t *c)
{
    json_t *all = json_array();
    for (size_t i = 0; all && i < c->roles.n; i++) {
        const role_t *r = c->roles.items[i];
        if (role_defined(r) && json_array_append_new(all, s_role_json(c, r)) != 0) {
            json_decref(all);
            all = NULL;
        }
    }
    return all;
}

void coord_role_list(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    (void) body;
    json_t *all = coord_roles_json(c);
    coord_api_reply(c, rid, req_id, all ? json_pack("{s:o}", "roles", all) : NULL);
}

void coord_role_get(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    role_t *r = s_find(c, rid, req_id, body, "name");
    if (r)
        coord_api_reply(c, rid, req_id, s_role_json(c, r));
}

/* Fields the API shows but nobody may set. */
static bool s_read_only(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *o)
{
    const char *bad = json_object_get(o, "builtin") ? "builtin"
                      : json_object_get(o, "webhook_path") ? "webhook_path"
                      : json_object_get(o, "trigger_status") ? "trigger_status" : NULL;
    if (bad)
        coord_api_error(c, rid, req_id, "invalid", "%s is read-only", bad);
    return bad != NULL;
}

/* Parse a role object; NULL after answering invalid. */
static role_t *s_parse(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *o)
{
    char err[300];
    if (!json_is_object(o)) {
        coord_api_error(c, rid, req_id, "invalid", "a role must be a JSON object");
        return NULL;
    }
    if (s_read_only(c, rid, req_id, o))
        return NULL;
    role_t *r = role_from_json(o, err, sizeof err);
    if (!r)
        coord_api_error(c, rid, req_id, "invalid", "%s", err);
    return r;
}

/* The role changed: durable with the turn; queued jobs may match anew. */
static void s_changed(coord_t *c, const rid_t *rid, uint64_t req_id, const role_t *r)
{
    coord_save_role(c, r);
    c->dispatch_needed = true;
    coord_api_reply(c, rid, req_id, s_role_json(c, r));
}

void coord_role_create(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    role_t *r = s_parse(c, rid, req_id, json_object_get(body, "role"));
    if (!r)
        return;
    role_t *old = roleset_find(&c->roles, r->name);
    if (old && role_defined(old)) {
        coord_api_error(c, rid, req_id, "conflict", "role '%s' already exists%s", r->name,
                        old->builtin ? " (built in)" : "");
        role_destroy(&r);
        return;
    }
    if (old) {                       /* a vanished role of that name comes back */
        role_take_def(old, &r);
        r = old;
    } else if (roleset_add(&c->roles, r) != 0) {
        role_destroy(&r);
        coord_api_error(c, rid, req_id, "unavailable", "coordinator out of memory");
        return;
    }
    coord_trig_arm(c, r);
    s_changed(c, rid, req_id, r);
}

/* def takes r's triggers as they are (by the store's rule: an idle
   trigger whose zone is gone stays so). 0, or -1 after answering. */
static int s_keep_triggers(coord_t *c, const rid_t *rid, uint64_t req_id, const role_t *r,
                           role_t *def)
{
    char err[300];
    json_t *t = role_triggers_json(r);
    int rc = t ? role_set_triggers(def, t, err, sizeof err) : -1;
    json_decref(t);
    if (rc != 0)
        coord_api_error(c, rid, req_id, "unavailable", "%s", t ? err : "coordinator out of memory");
    return rc;
}

/* Merge the patch into the role's object and parse the result whole, so a
   patch is checked by the same rules as a new role (its triggers, unless
   the patch names them, are kept as they are). */
void coord_role_update(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    role_t *r = s_find(c, rid, req_id, body, "name");
    json_t *patch = json_object_get(body, "patch"), *name = json_object_get(patch, "name");
    if (!r || s_builtin(c, rid, req_id, r))
        return;
    if (!json_is_object(patch) ||
        (name && !(json_is_string(name) && strcmp(json_string_value(name), r->name) == 0))) {
        coord_api_error(c, rid, req_id, "invalid", json_is_object(patch)
                        ? "name cannot be changed (create a new role)"
                        : "the patch must be a JSON object");
        return;
    }
    json_t *merged = role_to_json(r);
    if (!merged || json_object_update(merged, patch) != 0) {
        json_decref(merged);
        coord_api_error(c, rid, req_id, "unavailable", "coordinator out of memory");
        return;
    }
    bool same_triggers = !json_object_get(patch, "triggers");
    if (same_triggers)              /* kept as stored: a zone gone since must not refuse the patch */
        json_object_del(merged, "triggers");
    role_t *def = s_parse(c, rid, req_id, merged);
    json_decref(merged);
    if (!def || (same_triggers && s_keep_triggers(c, rid, req_id, r, def) != 0)) {
        role_destroy(&def);
        return;
    }
    coord_trig_disarm(c, r, true);   /* before its triggers are freed */
    role_take_def(r, &def);
    coord_trig_arm(c, r);
    s_changed(c, rid, req_id, r);
}

/* Jobs of the role not yet finished: queued, running, or waiting for a
   time (delayed, or a retry's backoff). */
static size_t s_unfinished(const coord_t *c, const role_t *r)
{
    size_t n = sched_depth(c->sched, r->name) + sched_running(c->sched, r->name);
    for (size_t i = 0; i < c->later.n; i++)
        n += c->later.heap[i]->role == r;
    return n;
}

void coord_role_delete(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    role_t *r = s_find(c, rid, req_id, body, "name");
    if (!r || s_builtin(c, rid, req_id, r))
        return;
    size_t n = s_unfinished(c, r);
    if (n > 0) {
        coord_api_error(c, rid, req_id, "conflict", "role '%s' has %zu unfinished job(s); "
                        "cancel them or let them finish first", r->name, n);
        return;
    }
    coord_trig_disarm(c, r, false);
    role_clear(r);                   /* finished jobs still name it */
    coord_delete_role(c, r->name);
    coord_api_reply(c, rid, req_id, json_object());
}

/* ---- the trigger ----------------------------------------------------------- */

/* Whether a key with these scopes may trigger r: admin always; else one of
   the role's permissions (as auth_allows reads a scope), or by default
   submit:NAME or submit:*. */
static bool s_may_trigger(const role_t *r, const char *scopes)
{
    char need[96];
    if (r->npermissions == 0) {
        snprintf(need, sizeof need, "submit:%s", r->name);
        return auth_allows(scopes, need);
    }
    for (size_t i = 0; i < r->npermissions; i++)
        if (auth_allows(scopes, r->permissions[i]))
            return true;
    return auth_allows(scopes, "admin");
}

void coord_role_trigger(coord_t *c, const rid_t *rid, uint64_t req_id, json_t *body)
{
    json_t *payload = json_object_get(body, "payload");
    const char *scopes = json_string_value(json_object_get(body, "scopes"));
    role_t *r = s_find(c, rid, req_id, body, "role");
    if (!r)
        return;
    if (!json_is_string(payload) || !scopes) {
        coord_api_error(c, rid, req_id, "bad-request", "role.trigger needs scopes and payload");
        return;
    }
    if (!s_may_trigger(r, scopes)) {
        coord_api_error(c, rid, req_id, "forbidden", "this key may not trigger role '%s' "
                        "(its permissions)", r->name);
        return;
    }
    pb_submit_item_t it = { .role = pb_s(r->name) };
    it.payload = (pb_str_t) { json_string_value(payload), (uint32_t) json_string_length(payload) };
    char id[JOBID_LEN + 1], whybuf[96], text[64];
    const char *why = NULL;
    if (!coord_submit_one(c, &it, true, id, &why, whybuf, sizeof whybuf)) {
        coord_api_error(c, rid, req_id, refusal_code(why, strlen(why)), "%s", why);
        return;
    }
    c->dispatch_needed = true;
    int n = snprintf(text, sizeof text, "{\"ok\":true,\"job_id\":\"%s\"}", id);
    pb_buf_reset(&c->out);              /* JSON text written directly: the hot path */
    pb_enc_reply_begin(&c->out, req_id);
    pb_w_str(&c->out, text, (size_t) n);
    coord_reply_on(c, c->api, rid->data, rid->size);
}
