/*  node/coord_trig.c — armed triggers: the table, cron runs, the horizon,
    the jobs triggers start and their status (coord_trig.h).

    Rules: an entry exists only for a trigger of an enabled, defined role
    and is dropped before that role's definition changes (kept aside while
    the role is edited, and freed unless an unchanged trigger takes it
    back). A cron run's job has the idempotency key
    "cron:ROLE:KEY:SCHEDULED_MS", so whatever the horizon says after a
    crash, no run starts twice (within the keys' 7-day window). A run whose
    job is refused (store or queue full) is not retried: its status says so.
    Cron work is arithmetic on zones read at parse time: nothing here waits.
*/
#include "node/coord_int.h"
#include "node/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define S_MISSED_COUNT_MAX 100000   /* missed runs counted at start, beyond: "or more" */

/* Free an entry that is no longer in the table (its shared watches stay). */
static void s_arm_free(trig_arm_t **a_p, coord_t *c)
{
    trig_arm_t *a = *a_p;
    if (!a)
        return;
    coord_watch_unset(c, a);
    for (size_t i = 0; i < a->nchanged; i++)
        free(a->changed[i]);
    free(a->changed);
    free(a);
    *a_p = NULL;
}

/* ---- cron ------------------------------------------------------------------ */

/* The latest run in (from, now], or 0: searched in growing windows back
   from now, so an every-minute schedule down for months costs an hour's
   runs, not months of them. */
static int64_t s_last_run(const trigger_t *t, int64_t from, int64_t now)
{
    static const int64_t windows[] = { 3600000LL, 86400000LL, 32 * 86400000LL,
                                       400 * 86400000LL, 8 * 366 * 86400000LL };
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        int64_t start = now - windows[w] > from ? now - windows[w] : from, last = 0;
        for (int64_t n = cron_next(&t->cron, t->zone, start); n <= now;
             n = cron_next(&t->cron, t->zone, n))
            last = n;
        if (last || start == from)
            return last;
    }
    return 0;
}

/* How many runs fell in (from, now], counting up to S_MISSED_COUNT_MAX. */
static size_t s_count_runs(const trigger_t *t, int64_t from, int64_t now)
{
    size_t n = 0;
    for (int64_t at = cron_next(&t->cron, t->zone, from); at <= now && n < S_MISSED_COUNT_MAX;
         at = cron_next(&t->cron, t->zone, at))
        n++;
    return n;
}

/* The first run after from_ms. At start, runs due up to now were missed
   while the coordinator was down; later (a role created or changed) a run
   due since the last turn is simply due. */
static void s_cron_plan(trig_arm_t *a, int64_t from_ms, int64_t now, bool starting)
{
    const trigger_t *t = a->t;
    if (!t->zone) {                        /* stored, and its zone is gone since */
        snprintf(a->error, sizeof a->error, "time zone '%s' cannot be read: %s",
                 t->timezone, t->zone_error ? t->zone_error : "?");
        a->next_ms = INT64_MAX;
        return;
    }
    a->next_ms = cron_next(&t->cron, t->zone, from_ms);
    if (!starting || a->next_ms > now)
        return;
    size_t missed = s_count_runs(t, from_ms, now);
    a->next_ms = cron_next(&t->cron, t->zone, now);
    int64_t last = t->missed == TRIGGER_MISSED_ONCE ? s_last_run(t, from_ms, now) : 0;
    if (last) {                            /* 0: none found within 8 years back */
        a->next_ms = last;
        a->catch_up = true;
    }
    log_msg(LL_WARN, "trigger", "role %s, trigger %zu (cron '%s' %s): %zu%s run(s) missed "
            "while the coordinator was down: %s", a->role->name, a->index, t->schedule,
            t->timezone, missed, missed >= S_MISSED_COUNT_MAX ? " or more" : "",
            t->missed == TRIGGER_MISSED_ONCE ? "starting one catch-up run" : "skipped (missed: skip)");
}

char *coord_trig_payload(const trigger_t *t, json_t *what)
{
    json_t *p = json_copy(t->payload);
    char *text = NULL;
    if (p && what && json_object_set(p, "trigger", what) == 0)
        text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    json_decref(what);
    return text;
}

static void s_cron_fire(coord_t *c, trig_arm_t *a, int64_t now)
{
    const trigger_t *t = a->t;
    int64_t when = a->next_ms;
    char idem[160];                 /* role names are 64 bytes at most */
    snprintf(idem, sizeof idem, "cron:%s:%016llx:%lld", a->role->name,
             (unsigned long long) t->key, (long long) when);
    char *payload = coord_trig_payload(t, json_pack("{s:s,s:s,s:s,s:I,s:b}", "type", "cron",
                                           "schedule", t->schedule, "timezone", t->timezone,
                                           "scheduled_ms", (json_int_t) when,
                                           "catch_up", a->catch_up));
    if (payload)
        coord_trig_fire(c, a, payload, idem);
    else
        snprintf(a->error, sizeof a->error, "coordinator out of memory at the last run");
    free(payload);
    c->trig.fired = true;
    a->catch_up = false;
    a->next_ms = cron_next(&t->cron, t->zone, now > when ? now : when);
}

/* ---- the table ------------------------------------------------------------- */

static int s_push(trig_arm_t ***items, size_t *n, trig_arm_t *a)
{
    trig_arm_t **v = realloc(*items, (*n + 1) * sizeof *v);
    if (!v)
        return -1;
    *items = v;
    v[(*n)++] = a;
    return 0;
}

static trig_arm_t *s_take(trig_arm_t **items, size_t *n, size_t i)
{
    trig_arm_t *a = items[i];
    memmove(&items[i], &items[i + 1], (*n - i - 1) * sizeof *items);
    (*n)--;
    return a;
}

/* A kept entry of r for a trigger with this key (taken out), or NULL. */
static trig_arm_t *s_adopt(coord_trig_t *T, const role_t *r, uint64_t key)
{
    for (size_t i = 0; i < T->nkept; i++)
        if (T->kept[i]->role == r && T->kept[i]->key == key)
            return s_take(T->kept, &T->nkept, i);
    return NULL;
}

/* Free r's kept entries that no trigger took back. */
static void s_drop_kept(coord_t *c, const role_t *r)
{
    coord_trig_t *T = &c->trig;
    for (size_t i = 0; i < T->nkept;) {
        if (T->kept[i]->role != r) {
            i++;
            continue;
        }
        trig_arm_t *a = s_take(T->kept, &T->nkept, i);
        s_arm_free(&a, c);
    }
}

void coord_trig_arm(coord_t *c, role_t *r)
{
    coord_trig_t *T = &c->trig;
    int64_t now = clock_wall_ms();
    int64_t from = T->horizon_ms < now ? T->horizon_ms : now;
    for (size_t i = 0; role_defined(r) && r->enabled && i < r->ntriggers; i++) {
        const trigger_t *t = r->triggers[i];
        trig_arm_t *a = s_adopt(T, r, t->key);
        if (!a && !(a = calloc(1, sizeof *a))) {
            log_msg(LL_ERROR, "trigger", "role %s: out of memory arming its triggers", r->name);
            break;
        }
        a->role = r;                /* a kept entry keeps its last run and pending changes */
        a->index = i;
        a->t = t;
        a->key = t->key;
        a->next_ms = INT64_MAX;
        a->catch_up = false;
        a->retry_mono = 0;
        a->error[0] = '\0';
        if (s_push(&T->items, &T->n, a) != 0) {
            s_arm_free(&a, c);
            log_msg(LL_ERROR, "trigger", "role %s: out of memory arming its triggers", r->name);
            break;
        }
        if (t->type == TRIGGER_CRON)
            s_cron_plan(a, from, now, T->starting);
        else
            coord_watch_set(c, a);
    }
    s_drop_kept(c, r);
}

void coord_trig_disarm(coord_t *c, const role_t *r, bool keep)
{
    coord_trig_t *T = &c->trig;
    for (size_t i = 0; i < T->n;) {
        if (T->items[i]->role != r) {
            i++;
            continue;
        }
        trig_arm_t *a = s_take(T->items, &T->n, i);   /* out of the table before its watches go */
        coord_watch_unset(c, a);
        a->t = NULL;                                  /* the definition may be freed next */
        if (!keep || s_push(&T->kept, &T->nkept, a) != 0)
            s_arm_free(&a, c);
    }
}

int coord_trig_open(coord_t *c)
{
    coord_trig_t *T = &c->trig;
    char err[200];
    uint64_t h = 0;
    T->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (T->inotify_fd < 0)
        log_msg(LL_WARN, "trigger", "inotify: %s: file watches will not work", strerror(errno));
    int found = store_get_meta_u64(c->store, "cron_horizon", &h, err, sizeof err);
    if (found < 0) {
        log_msg(LL_ERROR, "trigger", "store: %s", err);
        return -1;
    }
    int64_t now = clock_wall_ms();
    T->horizon_ms = found ? (int64_t) h : now;     /* a new store missed nothing */
    T->starting = true;
    for (size_t i = 0; i < c->roles.n; i++)
        coord_trig_arm(c, c->roles.items[i]);
    T->starting = false;
    T->horizon_ms = now;
    T->fired = true;                               /* store it with the first turn */
    return 0;
}

void coord_trig_close(coord_t *c)
{
    coord_trig_t *T = &c->trig;
    while (T->n > 0) {
        trig_arm_t *a = T->items[--T->n];
        s_arm_free(&a, c);
    }
    while (T->nkept > 0) {
        trig_arm_t *a = T->kept[--T->nkept];
        s_arm_free(&a, c);
    }
    free(T->items);
    free(T->kept);
    T->items = T->kept = NULL;
    if (T->inotify_fd >= 0)
        close(T->inotify_fd);
    T->inotify_fd = -1;
}

/* ---- each turn ----------------------------------------------------------------- */

static void s_save_horizon(coord_t *c, int64_t mono)
{
    coord_trig_t *T = &c->trig;
    char err[200];
    if (c->store_error)
        return;
    if (store_begin(c->store, err, sizeof err) != 0 ||
        store_put_meta_u64(c->store, "cron_horizon", (uint64_t) T->horizon_ms, err, sizeof err) != 0) {
        log_msg(LL_ERROR, "coordinator", "store: saving the cron horizon: %s", err);
        c->store_error = true;
        return;
    }
    T->horizon_saved_mono = mono;
    T->fired = false;
}

void coord_trig_tick(coord_t *c)
{
    coord_trig_t *T = &c->trig;
    int64_t now = clock_wall_ms(), mono = clock_mono_ms();
    for (size_t i = 0; i < T->n; i++) {
        trig_arm_t *a = T->items[i];
        if (a->t->type == TRIGGER_CRON) {
            if (a->next_ms <= now)
                s_cron_fire(c, a, now);
            continue;
        }
        if (a->due_mono && mono >= a->due_mono)
            coord_watch_fire(c, a);
        if (a->retry_mono && mono >= a->retry_mono)
            coord_watch_set(c, a);
    }
    /* stored also while no schedule is armed: one armed after a restart must
       not take the time the coordinator ran without schedules for missed */
    T->horizon_ms = now;
    if (T->fired || mono - T->horizon_saved_mono >= TRIG_HORIZON_EVERY_MS)
        s_save_horizon(c, mono);
}

/* ---- jobs and status ------------------------------------------------------------- */

void coord_trig_fire(coord_t *c, trig_arm_t *a, const char *payload, const char *idem)
{
    pb_submit_item_t it = { .role = pb_s(a->role->name), .payload = pb_s(payload) };
    if (idem)
        it.idem_key = pb_s(idem);
    char id[JOBID_LEN + 1] = "", whybuf[96];
    const char *why = NULL;
    job_t *job = coord_submit_one(c, &it, true, id, &why, whybuf, sizeof whybuf);
    if (!job && why) {
        snprintf(a->error, sizeof a->error, "the last run was refused: %s", why);
        log_msg(LL_WARN, "trigger", "role %s, trigger %zu: job refused: %s", a->role->name,
                a->index, why);
        return;
    }
    c->dispatch_needed = true;
    a->last_run_ms = clock_wall_ms();
    memcpy(a->last_job, id, sizeof a->last_job);
    if (a->t->type == TRIGGER_CRON)
        a->error[0] = '\0';
    log_job(LL_INFO, "trigger", id, NULL, "role %s, trigger %zu (%s): job %s", a->role->name,
            a->index, a->t->type == TRIGGER_CRON ? "cron" : "watch", id);
}

static const trig_arm_t *s_find(const coord_t *c, const role_t *r, size_t index)
{
    for (size_t i = 0; i < c->trig.n; i++)
        if (c->trig.items[i]->role == r && c->trig.items[i]->index == index)
            return c->trig.items[i];
    return NULL;
}

static bool s_watching(const trig_arm_t *a)
{
    if (a->t->type != TRIGGER_WATCH || !a->paths)
        return false;
    for (size_t i = 0; i < a->t->npaths; i++)
        if (a->paths[i].wd < 0)
            return false;
    return true;
}

static json_t *s_status(const trig_arm_t *a, const role_t *r)
{
    const char *off = !r->enabled ? "the role is disabled" : "not armed";
    if (!a)
        return json_pack("{s:n,s:n,s:n,s:s,s:b}", "next_run_ms", "last_run_ms", "last_job",
                         "error", off, "watching", 0);
    json_t *o = json_pack("{s:n,s:n,s:n,s:n,s:b}", "next_run_ms", "last_run_ms", "last_job",
                          "error", "watching", s_watching(a));
    if (o && a->t->type == TRIGGER_CRON && a->next_ms != INT64_MAX)
        json_object_set_new(o, "next_run_ms", json_integer(a->next_ms));
    if (o && a->last_run_ms) {
        json_object_set_new(o, "last_run_ms", json_integer(a->last_run_ms));
        json_object_set_new(o, "last_job", json_string(a->last_job));
    }
    if (o && a->error[0])
        json_object_set_new(o, "error", json_string(a->error));
    return o;
}

json_t *coord_trig_status(const coord_t *c, const role_t *r)
{
    json_t *all = json_array();
    for (size_t i = 0; all && i < r->ntriggers; i++)
        if (json_array_append_new(all, s_status(s_find(c, r, i), r)) != 0) {
            json_decref(all);
            return NULL;
        }
    return all;
}
