/*  mesh/tz.h — IANA time zones read from the system's TZif files.

    glibc has only one time zone per process (localtime() follows the global
    TZ), and the coordinator evaluates cron schedules in many zones at once,
    so we read the zone files (tzfile(5), RFC 8536) ourselves. A tz_t is
    immutable once loaded: any number of threads may query it.

    Rules it keeps:
    - A name is checked before any file is opened: 1-64 bytes, segments of
      [A-Za-z0-9_+-] separated by single '/', no leading or trailing '/', so
      a name can never leave the zone directory ($TZDIR, else
      /usr/share/zoneinfo). "UTC" and "Etc/UTC" work without any file.
    - A file is read whole (at most 256 KiB) and every read is bounded by its
      size. TZif v1 is read with 32-bit times; v2 and later with the 64-bit
      block and the footer's POSIX TZ rule. A file that is truncated, has
      counts or indices out of range, unsorted transitions, or a footer we
      cannot parse is refused. Leap-second ("right/") files are refused: Unix
      time has no leap seconds.
    - Before the first transition the first local time type (type 0) holds
      (RFC 8536); after the last one the footer rule does, or the last type
      when there is no rule. A file without transitions follows its rule.
    - Times are Unix seconds; instants beyond +-2^50 s are clamped.
*/
#ifndef POPEBOT_MESH_TZ_H
#define POPEBOT_MESH_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct tz tz_t;

/* Load zone name. NULL with a one-line reason in err ("unknown time zone
   'Mars/Base'", "time zone file ... is not a TZif file"). */
tz_t *tz_load(const char *name, char *err, size_t errlen);
void tz_destroy(tz_t **self_p);
const char *tz_name(const tz_t *z);

/* Offset from UTC in seconds in effect at Unix time t. z NULL is UTC. */
int32_t tz_offset(const tz_t *z, int64_t t);

/* Local broken-down time at t: every field, tm_isdst, tm_gmtoff and tm_zone
   (which points into z and lives as long as it) set as glibc does. */
void tz_local(const tz_t *z, int64_t t, struct tm *out);

/* The first transition strictly after t (an instant where the offset, the
   DST flag or the abbreviation may change), INT64_MAX when there is none.
   The offset is constant from tz_prev_transition(t) up to this instant. */
int64_t tz_next_transition(const tz_t *z, int64_t t);
/* The last transition at or before t, INT64_MIN when there is none. */
int64_t tz_prev_transition(const tz_t *z, int64_t t);

/* Proleptic Gregorian calendar helpers: days since 1970-01-01 of a date
   (month 1-12, day 1-31), and back. */
int64_t tz_days_from_civil(int64_t year, int month, int day);
void tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

#endif
