/*  mesh/trigger.h — what starts a role's jobs by itself: cron schedules and
    file watches.

    A role may hold up to TRIGGER_MAX triggers (its "triggers" array, in the
    roles file, the HTTP API and the store alike):

      {"type": "cron", "schedule": "*\/5 * * * *", "timezone": "Europe/Berlin",
       "missed": "skip" | "once", "payload": {...}}
      {"type": "watch", "paths": ["/srv/inbox", ...], "debounce_ms": 1000,
       "payload": {...}}

    This file is the definition only: parsing (strict, like roles: an unknown
    field, a wrong type, a bad schedule or an unknown time zone is an error
    naming the field) and writing back with every default filled in. Running
    them — timers, inotify, the jobs they start — is the coordinator's
    (node/coord_trig.c, node/coord_watch.c).

    Rules: a trigger owns everything in it (its zone, its payload object).
    Zones are read when a trigger is parsed (mesh/tz.c), never later.
    Watched paths are absolute, normalised (no "." or ".." segments, no
    repeated or trailing '/'), at most PATH_MAX bytes.
*/
#ifndef POPEBOT_MESH_TRIGGER_H
#define POPEBOT_MESH_TRIGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mesh/cron.h"
#include "mesh/tz.h"

#define TRIGGER_MAX 16              /* triggers of one role */
#define TRIGGER_PATHS_MAX 16        /* paths of one watch */
#define TRIGGER_DEBOUNCE_DEFAULT 1000
#define TRIGGER_DEBOUNCE_MAX 3600000
#define TRIGGER_PAYLOAD_MAX 65536   /* bytes of a trigger's payload object as JSON */

struct json_t;

typedef enum { TRIGGER_CRON, TRIGGER_WATCH } trigger_type_t;
/* Runs of a schedule that fell due while the coordinator was down. */
typedef enum { TRIGGER_MISSED_SKIP, TRIGGER_MISSED_ONCE } trigger_missed_t;

typedef struct trigger {
    trigger_type_t type;
    struct json_t *payload;   /* an object, owned: merged into each job's payload */
    uint64_t key;             /* a hash of the definition: names its runs' idempotency keys */
    /* cron */
    char *schedule;           /* as written */
    cron_t cron;              /* parsed */
    char *timezone;           /* the zone's name, owned */
    tz_t *zone;               /* owned; NULL only in a stored trigger whose zone
                                 can no longer be read (zone_error says why) */
    char *zone_error;         /* owned, NULL when the zone was read */
    trigger_missed_t missed;
    /* watch */
    char **paths;             /* owned, npaths of them */
    size_t npaths;
    uint32_t debounce_ms;     /* quiet time before the job starts */
} trigger_t;

/* One trigger object. NULL with err naming the field ("schedule: cron:
   hour field: 24 is out of range 0-23"). stored: the object comes from the
   store, where it was valid once: a time zone that cannot be read now (its
   file gone with a tzdata change) is kept by name with zone NULL and
   zone_error set, so that one trigger idles instead of the role, or the
   coordinator's start, failing. */
trigger_t *trigger_from_json(const struct json_t *o, bool stored, char *err, size_t errlen);
/* The trigger with every field (defaults included); a new reference, NULL
   when out of memory. */
struct json_t *trigger_to_json(const trigger_t *t);
void trigger_destroy(trigger_t **self_p);

const char *trigger_missed_name(trigger_missed_t m);

#endif
