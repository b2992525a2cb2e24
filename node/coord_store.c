/*  node/coord_store.c — the coordinator's use of the LMDB store.

    - Recovery at start: roles (the store's, then the roles file's on top),
      worker registrations (offline until they say HELLO; deleted ones back
      to the tombstones), and every job not
      yet finished: queued jobs go back to their queues, scheduled ones to
      the later heap, running jobs stay leased to their worker, which has
      one liveness period to come back and report them before they are
      requeued.
    - Write-through: every change of a job, a registration, an idempotency
      key or a job's output is put into the turn's write transaction as it
      happens (coord_save_*). After one failed write nothing more is written
      that turn, and the commit refuses: half a turn is never committed.
    - Acknowledge after durability: every message for a client is held in
      the outbox and leaves only after the turn's commit (and fsync)
      returned (coord_commit, then coord_outbox_flush).
    - Housekeeping once a second: retention (coord_prune) and how much room
      is left (coord_store_room refuses new jobs near the end of it).
    - Queries that reach past the memory cache: JOB, JOBS, RETRY of jobs
      that only the store still holds.
*/
#include "node/coord_int.h"
#include "mesh/objenc.h"
#include "node/log.h"

#include <stdlib.h>
#include <string.h>

#define ROLE_NAME_BUF 256     /* a stored role name (at most 255 bytes) and its NUL */

/* ---- write-through ------------------------------------------------------- */

static void s_failed(coord_t *c, const char *what, const char *err)
{
    if (!c->store_error)
        log_msg(LL_ERROR, "coordinator", "store: %s: %s", what, err);
    c->store_error = true;
}

/* After a failed write the store has aborted the turn's transaction: write
   nothing more this turn (a new transaction would commit half a turn). */
void coord_save_job(coord_t *c, job_t *job)
{
    char err[200];
    if (c->store_error)
        return;
    bool changed = job->stored_state != job->state;   /* store_put_job updates it */
    if (store_begin(c->store, err, sizeof err) != 0 ||
        store_put_job(c->store, job, err, sizeof err) != 0)
        s_failed(c, "saving a job", err);
    else if (changed)
        coord_event_job(c, job);
}

void coord_save_idem(coord_t *c, pb_str_t key, uint64_t id, int64_t created_ms)
{
    char err[200];
    if (c->store_error)
        return;
    if (store_begin(c->store, err, sizeof err) != 0 ||
        store_idem_put(c->store, key.ptr, key.len, id, created_ms, err, sizeof err) != 0)
        s_failed(c, "saving an idempotency key", err);
}

void coord_save_peer(coord_t *c, const peer_t *p)
{
    char err[200];
    if (c->store_error)
        return;
    if (store_begin(c->store, err, sizeof err) != 0 ||
        store_put_worker(c->store, p, err, sizeof err) != 0)
        s_failed(c, "saving a worker", err);
    else
        coord_event_worker(c, p);
}

void coord_save_role(coord_t *c, const role_t *r)
{
    char err[200];
    if (c->store_error)
        return;
    if (store_begin(c->store, err, sizeof err) != 0 || store_put_role(c->store, r, err, sizeof err) != 0)
        s_failed(c, "saving a role", err);
    else
        coord_event_role(c, r->name, false);
}

void coord_delete_role(coord_t *c, const char *name)
{
    char err[200];
    if (c->store_error)
        return;
    if (store_begin(c->store, err, sizeof err) != 0 ||
        store_del_role(c->store, name, err, sizeof err) != 0)
        s_failed(c, "deleting a role", err);
    else
        coord_event_role(c, name, true);
}

int coord_commit(coord_t *c)
{
    char err[200];
    if (!c->store_error && store_commit(c->store, err, sizeof err) == 0)
        return 0;
    if (!c->store_error)
        s_failed(c, "commit", err);
    store_abort(c->store);
    return -1;
}

/* A job's output goes to the store chunk by chunk; past the per-job cap
   the oldest chunks are dropped, so the store keeps the tail and counts
   what it dropped. The counters live in the job record. */
void coord_save_log(coord_t *c, job_t *job, const char *data, size_t len)
{
    char err[200];
    size_t freed = 0;
    if (c->store_error || len == 0)
        return;
    if (len > c->opts->job_log_max) {   /* one chunk over the cap: keep its tail */
        job->log_dropped += len - c->opts->job_log_max;
        data += len - c->opts->job_log_max;
        len = c->opts->job_log_max;
    }
    if (store_begin(c->store, err, sizeof err) != 0 ||
        store_put_log(c->store, job->id, job->log_seq, data, len, err, sizeof err) != 0) {
        s_failed(c, "saving job output", err);
        return;
    }
    job->log_seq++;
    job->log_stored += len;
    if (job->log_stored > c->opts->job_log_max) {
        if (store_trim_log(c->store, job->id, job->log_stored - c->opts->job_log_max, &freed,
                           err, sizeof err) != 0) {
            s_failed(c, "trimming job output", err);
            return;
        }
        job->log_stored -= freed;
        job->log_dropped += freed;
    }
    coord_save_job(c, job);
}

void coord_encode_with_log(coord_t *c, pb_buf_t *out, const job_t *job)
{
    char err[200], *tail = NULL, marker[96] = "";
    size_t len = 0;
    if (job->log_seq > 0 && store_read_log(c->store, job->id, JOB_LOG_SHOWN, &tail, &len,
                                            err, sizeof err) != 0)
        log_job(LL_WARN, "coordinator", job->idstr, NULL, "store: job %s: %s", job->idstr, err);
    uint64_t hidden = job->log_dropped + (job->log_stored > len ? job->log_stored - len : 0);
    if (hidden)
        snprintf(marker, sizeof marker, "[popebot: %llu earlier bytes of output not shown]\n",
                 (unsigned long long) hidden);
    size_t mlen = strlen(marker);
    char *text = malloc(mlen + len + 1);
    if (text) {
        memcpy(text, marker, mlen);
        memcpy(text + mlen, tail ? tail : "", len);
    }
    objenc_job(out, job, text ? text : "", text ? mlen + len : 0);
    free(text);
    free(tail);
}

/* ---- retention -------------------------------------------------------------- */

static void s_forget(uint64_t id, void *arg)
{
    coord_t *c = arg;
    char idstr[JOBID_LEN + 1];
    jobid_format(id, idstr);
    job_t *job = jobtab_find(c->jobs, idstr, JOBID_LEN);
    if (job)
        jobtab_forget(c->jobs, job);
}

/* Whether the store can take new jobs: below 90% of its map, and the disk
   above --store-reserve. Past either, submissions are refused (finishing
   what runs still has the rest), never a crash. Between two checks each
   accepted job spends an estimate of its bytes from the budget, so a burst
   cannot overrun the map before the next check. */
static void s_check_full(coord_t *c)
{
    char err[200];
    store_usage_t u;
    if (store_usage(c->store, &u, err, sizeof err) != 0)
        return;
    c->store_over_size = u.used_bytes > c->opts->retention_bytes;
    c->store_used = u.used_bytes;
    bool was = c->store_full[0] != '\0';
    int64_t room = (int64_t) (u.map_bytes / 10 * 9) - (int64_t) u.used_bytes;
    int64_t disk = u.disk_free_bytes == UINT64_MAX ? INT64_MAX
                       : (int64_t) u.disk_free_bytes - (int64_t) c->opts->store_reserve;
    c->store_budget = room < disk ? room : disk;
    c->store_recheck = false;
    if (u.used_bytes > u.map_bytes / 10 * 9)
        snprintf(c->store_full, sizeof c->store_full, "store full: %llu of its %llu-byte map in "
                 "use (raise --store-map-size, or shorten retention)",
                 (unsigned long long) u.used_bytes, (unsigned long long) u.map_bytes);
    else if (u.disk_free_bytes < c->opts->store_reserve)
        snprintf(c->store_full, sizeof c->store_full, "store full: %llu bytes free on its disk, "
                 "below --store-reserve", (unsigned long long) u.disk_free_bytes);
    else
        c->store_full[0] = '\0';
    bool is = c->store_full[0] != '\0';
    if (is != was)
        log_msg(is ? LL_WARN : LL_INFO, "coordinator", "%s",
                is ? c->store_full : "store has room again: taking new jobs");
}

bool coord_store_room(coord_t *c, size_t payload_len)
{
    /* pessimistic: LMDB copies whole pages on write, and a job's record is
       written about three times (accepted, leased, finished), each copy a
       page until the old ones can be reused */
    int64_t cost = ((int64_t) payload_len + 4096) * 4;
    if (c->store_full[0])
        return false;
    if (c->store_budget < cost) {
        snprintf(c->store_full, sizeof c->store_full, "store full: waiting for room in its "
                 "map or disk (raise --store-map-size, or shorten retention)");
        c->store_recheck = true;
        return false;
    }
    c->store_budget -= cost;
    return true;
}

/* Once a second, delete a bounded batch of finished jobs past retention. */
void coord_prune(coord_t *c, int64_t now_mono)
{
    char err[200];
    size_t pruned = 0;
    if (c->store_error || (now_mono - c->last_prune < PRUNE_EVERY_MS && !c->store_recheck))
        return;
    c->last_prune = now_mono;
    s_check_full(c);
    int64_t cutoff = clock_wall_ms() - (int64_t) c->opts->retention_ms;
    /* over --retention-bytes: the oldest finished jobs go, a batch a second,
       whatever their age, until the store is back under it */
    uint64_t keep = c->store_over_size ? 0 : c->opts->retention_jobs;
    size_t batch = c->store_over_size ? PRUNE_BATCH_OVER_SIZE : PRUNE_BATCH;
    size_t keys = 0;
    if (store_begin(c->store, err, sizeof err) != 0 ||
        store_prune(c->store, cutoff, keep, batch, s_forget, c, &pruned, err, sizeof err) != 0 ||
        store_prune_idem(c->store, clock_wall_ms() - IDEM_WINDOW_MS, PRUNE_BATCH, &keys, err,
                         sizeof err) != 0) {
        s_failed(c, "pruning finished jobs", err);
        return;
    }
    if (pruned)
        log_msg(LL_DEBUG, "coordinator", "retention: pruned %zu finished job(s)", pruned);
}

/* ---- the outbox ------------------------------------------------------------ */

void coord_reply(coord_t *c, const void *rid, size_t rid_size)
{
    coord_reply_on(c, c->cur_sock ? c->cur_sock : c->router, rid, rid_size);
}

void coord_reply_on(coord_t *c, void *sock, const void *rid, size_t rid_size)
{
    if (c->nout == c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 64;
        coord_held_t *o = realloc(c->outbox, cap * sizeof *o);
        if (!o)
            return; /* the client's --timeout covers a reply we could not hold */
        c->outbox = o;
        c->out_cap = cap;
    }
    coord_held_t *h = &c->outbox[c->nout];
    h->rid = zframe_new(rid, rid_size);
    h->body = zframe_new(pb_buf_data(&c->out), pb_buf_size(&c->out));
    h->sock = sock;
    if (h->rid && h->body)
        c->nout++;
    else {
        zframe_destroy(&h->rid);
        zframe_destroy(&h->body);
    }
}

void coord_outbox_flush(coord_t *c)
{
    for (size_t i = 0; i < c->nout; i++) {
        coord_held_t *h = &c->outbox[i];
        if (zmq_send(h->sock, zframe_data(h->rid), zframe_size(h->rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(h->sock, zframe_data(h->body), zframe_size(h->body), ZMQ_DONTWAIT) < 0)
            c->stats.unroutable++;
        zframe_destroy(&h->rid);
        zframe_destroy(&h->body);
    }
    c->nout = 0;
}

void coord_outbox_free(coord_t *c)
{
    for (size_t i = 0; i < c->nout; i++) {
        zframe_destroy(&c->outbox[i].rid);
        zframe_destroy(&c->outbox[i].body);
    }
    free(c->outbox);
    c->outbox = NULL;
    c->nout = c->out_cap = 0;
}

/* ---- recovery ---------------------------------------------------------------- */

static int s_role_loaded(role_t *r, void *arg)
{
    roleset_t *set = arg;
    if (roleset_find(set, r->name)) {   /* a stored role named like a built-in */
        role_destroy(&r);
        return 0;
    }
    role_t **items = realloc(set->items, (set->n + 1) * sizeof *items);
    if (!items) {
        role_destroy(&r);
        return -1;
    }
    set->items = items;
    items[set->n++] = r;
    return 0;
}

/* Put r into set, replacing a role of the same name. Takes r. */
static int s_role_replace(roleset_t *set, role_t *r)
{
    for (size_t k = 0; k < set->n; k++)
        if (strcmp(set->items[k]->name, r->name) == 0) {
            role_destroy(&set->items[k]);
            set->items[k] = r;
            return 0;
        }
    return s_role_loaded(r, set);
}

/* Roles: the store's, then the roles file's, which replace same-named ones
   and are written back: the file seeds or updates, the store is authoritative. */
static int s_recover_roles(coord_t *c, char *err, size_t errlen)
{
    if (roleset_init(&c->roles) != 0 ||
        store_each_role(c->store, s_role_loaded, &c->roles, err, errlen) != 0)
        return -1;
    if (!c->opts->roles_file)
        return 0;
    roleset_t file;
    if (roleset_init(&file) != 0)
        return -1;
    int rc = roleset_load_file(&file, c->opts->roles_file, err, errlen);
    for (size_t i = 0; rc == 0 && i < file.n; i++) {
        role_t *r = file.items[i];
        if (r->builtin)
            continue;
        file.items[i] = NULL;
        if (s_role_replace(&c->roles, r) != 0 || store_begin(c->store, err, errlen) != 0 ||
            store_put_role(c->store, r, err, errlen) != 0)
            rc = -1;
    }
    roleset_free(&file);
    return rc;
}

static int s_worker_loaded(peer_t *p, void *arg)
{
    coord_t *c = arg;
    p->state = PEER_OFFLINE;
    zhashx_update(p->deleted ? c->tombstones : c->peers, p->id, p);  /* a tombstone stays one */
    return 0;
}

typedef struct {
    coord_t *c;
    size_t queued, scheduled, running, orphaned;
} s_recovery_t;

/* A running job whose worker is known waits for it like any lease. One
   whose registration is gone lost its lease: it is requeued, or dead once
   its attempts are spent (or cancelled, if a cancel was pending). */
static void s_recover_running(s_recovery_t *r, job_t *job, const char *worker_id)
{
    coord_t *c = r->c;
    peer_t *p = worker_id ? zhashx_lookup(c->peers, worker_id) : NULL;
    if (p && peer_lease_add(p, job) == 0) {
        job->worker = p;
        p->last_seen_ms = clock_mono_ms(); /* its liveness period starts now */
        sched_started(c->sched, job);
        r->running++;
        return;
    }
    r->orphaned++;
    char error[200];
    if (job->revoking || !coord_attempts_left(job)) {
        snprintf(error, sizeof error, "its worker %s is no longer registered%s", worker_id ? worker_id : "?",
                 job->revoking ? "" : "; all attempts spent");
        job_finish(job, job->revoking ? JOB_CANCELLED : JOB_DEAD, false, 0, NULL, 0, error,
                   clock_wall_ms());
        coord_save_job(c, job);
        jobtab_finished(c->jobs, job);
        return;
    }
    job->state = JOB_QUEUED; /* saved by the caller's requeue */
}

/* A role that no longer exists keeps its name for the jobs that had it; it
   has no command, and no worker is ever given such a job. */
static role_t *s_vanished_role(coord_t *c, const char *name)
{
    role_t *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name))) {
        free(r);
        return NULL;
    }
    r->max_attempts = 1;
    if (s_role_loaded(r, &c->roles) != 0)
        return NULL;
    return r;
}

static int s_job_loaded(job_t *job, const char *role_name, const char *worker_id, void *arg)
{
    s_recovery_t *r = arg;
    coord_t *c = r->c;
    job->role = roleset_find(&c->roles, role_name);
    if (c->ids.last < job->id)
        c->ids.last = job->id;
    bool vanished = !job->role;
    if (vanished && !(job->role = s_vanished_role(c, role_name))) {
        job_destroy(&job);
        return -1;
    }
    if (jobtab_add(c->jobs, job) != 0)
        return -1;
    if (vanished) {
        char error[120];
        snprintf(error, sizeof error, "role '%.64s' no longer exists", role_name);
        job_finish(job, JOB_FAILED, false, 0, NULL, 0, error, clock_wall_ms());
        coord_save_job(c, job);
        jobtab_finished(c->jobs, job);
        return 0;
    }
    bool was_running = job->state == JOB_RUNNING;
    if (was_running)
        s_recover_running(r, job, worker_id);
    if (job_state_terminal(job->state))
        return 0;
    if (job->state == JOB_SCHEDULED) {
        if (later_push(&c->later, job) != 0)
            return -1;
        r->scheduled++;
    } else if (job->state != JOB_RUNNING) {
        job->state = JOB_QUEUED;
        if (sched_push(c->sched, job) != 0)
            return -1;
        if (was_running)
            coord_save_job(c, job);
        r->queued++;
    }
    return 0;
}

static int s_newest(job_t *job, const char *role, const char *worker, void *arg)
{
    (void) role;
    (void) worker;
    *(uint64_t *) arg = job->id;
    job_destroy(&job);
    return 1; /* one is enough */
}

int coord_store_open(coord_t *c)
{
    char err[256] = "";
    store_opts_t o = { c->opts->data_dir, c->opts->durable, c->opts->store_map_size };
    c->store = store_open(&o, err, sizeof err);
    if (!c->store) {
        log_msg(LL_ERROR, "coordinator", "store %s: %s", c->opts->data_dir, err);
        return -1;
    }
    s_recovery_t r = { c, 0, 0, 0, 0 };
    uint64_t newest = 0;
    if (s_recover_roles(c, err, sizeof err) != 0 ||
        store_each_worker(c->store, s_worker_loaded, c, err, sizeof err) != 0 ||
        store_each_job_desc(c->store, 0, s_newest, &newest, err, sizeof err) < 0 ||
        store_each_active_job(c->store, s_job_loaded, &r, err, sizeof err) != 0 ||
        coord_commit(c) != 0) {
        log_msg(LL_ERROR, "coordinator", "store %s: recovery failed: %s", c->opts->data_dir, err);
        return -1;
    }
    if (c->ids.last < newest)
        c->ids.last = newest;
    c->dispatch_needed = true;
    s_check_full(c);            /* the first turn may take jobs (a cron catch-up, a client) */
    log_msg(LL_INFO, "coordinator", "store %s (cluster %s): recovered %zu queued, %zu scheduled "
            "and %zu running job(s), %zu requeued from unknown workers, %zu worker registration(s)",
            c->opts->data_dir, store_cluster_id(c->store), r.queued, r.scheduled, r.running, r.orphaned,
            zhashx_size(c->peers));
    return 0;
}

/* ---- queries that reach past the memory cache ------------------------------ */

/* The job's role for printing it: the live one, or a stand-in with its name. */
static void s_role_of(coord_t *c, job_t *job, const char *name, role_t *stand_in)
{
    job->role = roleset_find(&c->roles, name);
    if (job->role)
        return;
    memset(stand_in, 0, sizeof *stand_in);
    stand_in->name = (char *) name;
    job->role = stand_in;
}

/* One job from the store and its role's name: 1 found, 0 not, -1 error
   (logged). */
static int s_read_stored(coord_t *c, uint64_t id, job_t **job, char role[ROLE_NAME_BUF])
{
    char err[200];
    int rc = store_get_job(c->store, id, job, role, ROLE_NAME_BUF, NULL, 0, err, sizeof err);
    if (rc < 0)
        log_msg(LL_WARN, "coordinator", "store: reading a job: %s", err);
    return rc;
}

job_t *coord_load_job(coord_t *c, uint64_t id)
{
    char role[ROLE_NAME_BUF];
    job_t *job = NULL;
    if (s_read_stored(c, id, &job, role) != 1)
        return NULL;
    job->role = roleset_find(&c->roles, role);
    if (!job->role || !job_state_terminal(job->state)) {
        job_destroy(&job);
        return NULL;
    }
    if (jobtab_add(c->jobs, job) != 0) /* it destroyed the job */
        return NULL;
    jobtab_finished(c->jobs, job);
    return job;
}

int coord_stored_job(coord_t *c, uint64_t id, pb_buf_t *out, char *state, size_t state_len)
{
    char role[ROLE_NAME_BUF];
    job_t *job = NULL;
    int rc = s_read_stored(c, id, &job, role);
    if (rc != 1)
        return rc;
    role_t stand_in;
    s_role_of(c, job, role, &stand_in);
    if (out)
        coord_encode_with_log(c, out, job);
    if (state)
        snprintf(state, state_len, "%s", job_state_name(job->state));
    job_destroy(&job);
    return 1;
}

typedef struct {
    coord_t *c;
    const coord_filter_t *f;
    pb_buf_t *out;
    coord_page_t page;
    size_t scanned;           /* records read */
} s_listing_t;

/* One stored record: 0 go on, 1 stop (page full, floor passed, or bound). */
static int s_list_one(job_t *stored, const char *role_name, const char *worker, void *arg)
{
    (void) worker;
    s_listing_t *l = arg;
    coord_page_t *pg = &l->page;
    if (stored->id < l->f->from) {          /* older than the floor: nothing below matches */
        job_destroy(&stored);
        return 1;
    }
    role_t stand_in;
    s_role_of(l->c, stored, role_name, &stand_in);
    const job_t *live = jobtab_find(l->c->jobs, stored->idstr, JOBID_LEN);
    const job_t *job = live ? live : stored; /* memory is newer within a turn */
    int stop = 0;
    if (coord_job_matches(l->f, job)) {
        if (pg->n == l->f->limit) {
            pg->more = true;
            stop = 1;
        } else {
            objenc_job(l->out, job, NULL, 0);
            pg->n++;
            pg->last_id = job->id;
        }
    }
    pg->scanned_id = stored->id;
    job_destroy(&stored);
    if (!stop && ++l->scanned >= COORD_SCAN_MAX) {
        pg->truncated = true;
        stop = 1;
    }
    return stop;
}

size_t coord_stored_jobs(coord_t *c, const coord_filter_t *f, pb_buf_t *out, coord_page_t *page)
{
    char err[200];
    s_listing_t l = { c, f, out, { 0 }, 0 };
    job_state_t state = f->by_state ? f->state : JOB_STATE_COUNT;
    if (store_each_job_below(c->store, state, f->role, f->before, s_list_one, &l, err,
                             sizeof err) < 0)
        log_msg(LL_WARN, "coordinator", "store: listing jobs: %s", err);
    if (page)
        *page = l.page;
    return l.page.n;
}
