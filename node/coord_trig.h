/*  node/coord_trig.h — the coordinator's running triggers: cron schedules
    and file watches of its roles (definitions: mesh/trigger.h).

    Each trigger of an enabled, defined role is "armed": an entry here with
    its runtime state. A role's entries are dropped (coord_trig_disarm)
    before its definition changes and made again after (coord_trig_arm), so
    an entry never points at a freed trigger; an unchanged trigger (same
    key) gets its entry back, with its last run and pending changes. Roles
    themselves are never freed while the loop runs, so the role pointer
    stays good.

    Cron: the next fire time of each schedule is computed in its zone. The
    "horizon" is the wall time up to which every due run has been handled;
    it is stored (meta "cron_horizon") in the same commit as the jobs a turn
    fires, and at least once a minute (also with no schedule armed). At start, runs due between the
    stored horizon and now were missed while the coordinator was down: a
    trigger's "missed" policy skips them (logged) or starts one catch-up job
    (payload trigger.catch_up true). Each run's job carries an idempotency
    key of (role, trigger key, scheduled time), so a run is never started
    twice, also across a crash between a commit and the horizon's.

    Watch: node/coord_watch.c (inotify). A change starts the debounce clock;
    the job starts once no change came for debounce_ms (or 60 s after the
    first change at the latest), with the changed paths in its payload.

    All of it runs on the loop thread. inotify reads are non-blocking and
    zone files were read when the role was parsed; setting a watch stats
    its path and adds an inotify watch, which local file systems answer at
    once (a hung network mount under a watched path would stall the loop:
    docs/OPERATIONS.md says to watch local paths).
*/
#ifndef POPEBOT_NODE_COORD_TRIG_H
#define POPEBOT_NODE_COORD_TRIG_H

#include <stdbool.h>
#include <stdint.h>
#include "mesh/job.h"
#include "mesh/role.h"
#include "mesh/trigger.h"

struct coord;
struct json_t;

#define TRIG_WATCH_PATHS_MAX 1000      /* changed paths one job's payload lists */
#define TRIG_WATCH_BYTES_MAX 65536     /* bytes of those paths */
#define TRIG_WATCH_MAX_WAIT_MS 60000   /* a job starts this long after the first change at the latest */
#define TRIG_RETRY_MS 10000            /* a watch that could not be set is retried this often */
#define TRIG_HORIZON_EVERY_MS 60000    /* the cron horizon is stored at least this often */

/* One path of a watch: the directory inotify watches and, for a file path,
   the name inside it that counts. */
typedef struct {
    int wd;                   /* inotify watch descriptor, -1 while not set */
    char *dir;                /* the watched directory, owned */
    char *name;               /* NULL: any entry of dir; else only this one, owned */
} trig_path_t;

typedef struct {
    role_t *role;             /* borrowed (roles outlive the loop's entries) */
    size_t index;             /* which of role->triggers */
    const trigger_t *t;       /* role->triggers[index]; NULL while kept */
    uint64_t key;             /* t->key: finds the entry again after an edit */
    int64_t next_ms;          /* cron: next fire (wall ms), INT64_MAX none */
    bool catch_up;            /* cron: next_ms is a run missed while down */
    int64_t last_run_ms;      /* wall ms of the last job started, 0 none */
    char last_job[JOBID_LEN + 1];
    char error[256];          /* why it is not working, "" when it is */
    /* watch */
    trig_path_t *paths;       /* t->npaths of them, owned */
    char **changed;           /* distinct changed paths since the last job, owned */
    size_t nchanged, changed_bytes;
    bool truncated;           /* more changed than fit */
    int64_t first_mono;       /* monotonic ms of the first pending change, 0 none */
    int64_t due_mono;         /* monotonic ms the pending job starts */
    int64_t retry_mono;       /* monotonic ms to set missing watches again, 0 none */
} trig_arm_t;

typedef struct {
    trig_arm_t **items;       /* owned: the armed entries */
    size_t n;
    trig_arm_t **kept;        /* owned: entries of a role being edited (no watches, t NULL) */
    size_t nkept;
    int inotify_fd;           /* -1 when inotify could not be had */
    int64_t horizon_ms;       /* wall ms: every cron run due up to here is handled */
    int64_t horizon_saved_mono; /* when the horizon was last stored */
    bool fired;               /* a cron job was started this turn: store the horizon */
    bool starting;            /* arming at start: runs before now were missed */
} coord_trig_t;

/* At start, after the roles are loaded: inotify, the stored horizon, every
   role's triggers armed (with the missed-run policy). 0, or -1 logged. */
int coord_trig_open(struct coord *c);
void coord_trig_close(struct coord *c);
/* Drop r's entries from the table (before its definition changes); keep:
   hold them aside so that coord_trig_arm gives a trigger whose definition
   did not change its last run and its pending (debounced) changes back. */
void coord_trig_disarm(struct coord *c, const role_t *r, bool keep);
/* Arm the triggers of r if it is enabled and defined; frees r's kept
   entries that no trigger took back. */
void coord_trig_arm(struct coord *c, role_t *r);
/* Each turn: start due cron runs and settled watches, retry failed watches,
   store the horizon when due. */
void coord_trig_tick(struct coord *c);
/* Start one job of the arm's role with payload (a JSON object text); an
   idempotency key when idem is not NULL. Records last run or error. */
void coord_trig_fire(struct coord *c, trig_arm_t *a, const char *payload, const char *idem);
/* A job's payload: the trigger's object with "trigger" set to what (taken,
   may be NULL after a failed pack); malloc'd compact JSON, NULL: no memory. */
char *coord_trig_payload(const trigger_t *t, struct json_t *what);
/* The status of r's triggers, parallel to role->triggers. NULL: no memory. */
struct json_t *coord_trig_status(const struct coord *c, const role_t *r);

/* node/coord_watch.c */
/* Set the arm's inotify watches (those not set yet); error says which failed. */
void coord_watch_set(struct coord *c, trig_arm_t *a);
/* Remove the arm's watches (keeping any another arm shares) and free its paths. */
void coord_watch_unset(struct coord *c, trig_arm_t *a);
/* Read every pending inotify event and note the changes on their arms. */
void coord_watch_read(struct coord *c);
/* Start the job of a watch whose changes have settled (due_mono passed). */
void coord_watch_fire(struct coord *c, trig_arm_t *a);

#endif
