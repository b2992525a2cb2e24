/*  mesh/cron.h — five-field cron schedules and their next fire time.

    Syntax (Vixie cron, crontab(5)): "minute hour day-of-month month
    day-of-week", fields separated by spaces or tabs. A field is a list
    "a,b,..." of items; an item is "*", a value "a" or a range "a-b", and
    "*" or a range may be followed by a step "/n" (every n-th value from the
    start of the range; a lone value takes no step). Ranges: minute 0-59, hour 0-23, day-of-month
    1-31, month 1-12 or jan-dec, day-of-week 0-7 or sun-sat (0 and 7 are
    Sunday); names in any case. Macros: @yearly and @annually (0 0 1 1 *),
    @monthly (0 0 1 * *), @weekly (0 0 * * 0), @daily and @midnight
    (0 0 * * *), @hourly (0 * * * *).

    A day matches when day-of-month and day-of-week both match, except that
    when both fields are restricted (neither starts with '*') either one
    matching is enough: "0 0 1,15 * mon" runs on the 1st, the 15th and every
    Monday.

    Schedules run in the wall-clock time of a zone (tz.h). Daylight saving:
    - Spring forward (local times that do not exist): a schedule whose hour
      field is restricted (does not start with '*') and whose time falls in
      the gap fires once, at the first minute after the gap: a daily 02:30
      job still runs that day, at 03:00 local time. A schedule whose hour
      field starts with '*' simply has no minutes in the gap.
    - Fall back (local times that occur twice): a schedule with a restricted
      hour field fires in the first pass only; a schedule whose hour field
      starts with '*' fires in both passes (it follows real time, so a
      job every 30 minutes still fires every 30 minutes).
    - Never two fires at the same instant: cron_next is strictly increasing.
    A field "starts with '*'" also when it is '*' with a step, as in Vixie
    cron. The same rules hold for any change of a zone's offset, not only
    DST (Samoa's skipped 2011-12-30 is a 24-hour gap).
*/
#ifndef POPEBOT_MESH_CRON_H
#define POPEBOT_MESH_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/tz.h"

#define CRON_DOM_STAR  0x01     /* day-of-month field starts with '*' */
#define CRON_DOW_STAR  0x02     /* day-of-week field starts with '*' */
#define CRON_HOUR_STAR 0x04     /* hour field starts with '*' */

typedef struct {
    uint64_t minutes;           /* bit m set: minute m (0-59) matches */
    uint32_t hours;             /* bit h: hour h (0-23) */
    uint32_t mdays;             /* bit d: day of month d (1-31) */
    uint16_t months;            /* bit m: month m (1-12) */
    uint8_t wdays;              /* bit d: weekday d (0-6, Sunday 0) */
    uint8_t flags;              /* CRON_*_STAR */
} cron_t;

/* Parse expr into c. 0 on success; -1 with a one-line reason naming the
   field in err ("cron: hour field: 24 is out of range 0-23"). */
int cron_parse(cron_t *c, const char *expr, char *err, size_t errlen);

/* The first fire time strictly after after_ms (Unix ms) in zone z (NULL =
   UTC), as Unix ms, always a whole minute. INT64_MAX when there is none
   within 8 years (e.g. "0 0 30 2 *"). */
int64_t cron_next(const cron_t *c, const tz_t *z, int64_t after_ms);

#endif
