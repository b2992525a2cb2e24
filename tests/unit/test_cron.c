/*  tests/unit/test_cron.c — cron parsing and next fire times (mesh/cron.h).

    Known answers in UTC and across the DST changes of 2026 in Berlin, New
    York and Lord Howe (30-minute DST) check the rules of cron.h one by one.
    A brute-force cross-check then compares cron_next, for random schedules,
    zones and start times, with a slow reference written here that walks
    real time minute by minute with tz_local and applies the DST rules its
    own way: a local time at or before the latest local time already seen is
    a second pass, and a forward jump of the local clock is a gap whose
    matching minutes fire at the first minute after it.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mesh/cron.h"

static uint64_t s_rng = 0x2545f4914f6cdd1dULL;

static uint64_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* "YYYY-MM-DD HH:MM[:SS]" in UTC as Unix ms. */
static int64_t
s_ms(const char *s)
{
    int y, mo, d, h, mi, sec = 0;
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &sec) < 5)
        fail_msg("bad date %s", s);
    return ((tz_days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + sec) * 1000;
}

#define S_FMT 96

static void
s_fmt(int64_t ms, char buf[S_FMT])
{
    size_t n = S_FMT;
    if (ms == INT64_MAX) {
        snprintf(buf, n, "none");
        return;
    }
    struct tm tm;
    tz_local(NULL, ms / 1000, &tm);
    snprintf(buf, n, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min);
}

static tz_t *
s_zone(const char *name)
{
    if (!name)
        return NULL;
    char err[256];
    tz_t *z = tz_load(name, err, sizeof err);
    if (!z)
        fail_msg("tz_load(%s): %s", name, err);
    return z;
}

/* The fires of expr in zone after `after` (UTC) are want[0], want[1], ...
   (UTC "YYYY-MM-DD HH:MM", or "none"). */
static void
s_fires(const char *expr, const char *zone, const char *after, const char *const *want,
        size_t n)
{
    cron_t c;
    char err[256];
    if (cron_parse(&c, expr, err, sizeof err) != 0)
        fail_msg("cron_parse(%s): %s", expr, err);
    tz_t *z = s_zone(zone);
    int64_t t = s_ms(after);
    for (size_t i = 0; i < n; i++) {
        int64_t next = cron_next(&c, z, t);
        char got[S_FMT];
        s_fmt(next, got);
        if (strcmp(got, want[i]) != 0)
            fail_msg("'%s' in %s after %s, fire %zu: got %s, want %s", expr, zone ? zone : "UTC",
                     after, i + 1, got, want[i]);
        if (next == INT64_MAX)
            break;
        assert_true(next > t && next % 60000 == 0);
        t = next;
    }
    tz_destroy(&z);
}

#define FIRES(expr, zone, after, ...)                                              \
    do {                                                                           \
        static const char *const w_[] = { __VA_ARGS__ };                           \
        s_fires(expr, zone, after, w_, sizeof w_ / sizeof w_[0]);                  \
    } while (0)

/* ---- parsing ---------------------------------------------------------- */

static void
s_parse_err(const char *expr, const char *want)
{
    cron_t c;
    char err[256] = "";
    if (cron_parse(&c, expr, err, sizeof err) == 0)
        fail_msg("cron_parse('%s') should fail with %s", expr, want);
    if (strcmp(err, want) != 0)
        fail_msg("cron_parse('%s'): got '%s', want '%s'", expr, err, want);
}

static void
test_parse_errors(void **state)
{
    (void) state;
    s_parse_err("0 24 * * *", "cron: hour field: 24 is out of range 0-23");
    s_parse_err("60 * * * *", "cron: minute field: 60 is out of range 0-59");
    s_parse_err("* * 0 * *", "cron: day-of-month field: 0 is out of range 1-31");
    s_parse_err("* * 32 * *", "cron: day-of-month field: 32 is out of range 1-31");
    s_parse_err("* * * 13 *", "cron: month field: 13 is out of range 1-12");
    s_parse_err("* * * 0 *", "cron: month field: 0 is out of range 1-12");
    s_parse_err("* * * * 8", "cron: day-of-week field: 8 is out of range 0-7");
    s_parse_err("* * * * 99999999999999999999",
                "cron: day-of-week field: 99999999999999999999 is out of range 0-7");
    s_parse_err("*/0 * * * *", "cron: minute field: step 0");
    s_parse_err("* 1-5/0 * * *", "cron: hour field: step 0");
    s_parse_err("5-3 * * * *", "cron: minute field: range 5-3 is reversed");
    s_parse_err("* * * dec-jan *", "cron: month field: range 12-1 is reversed");
    s_parse_err("* * * foo *", "cron: month field: unknown name 'foo'");
    s_parse_err("* * * * sunday", "cron: day-of-week field: unknown name 'sunday'");
    s_parse_err("mon * * * *", "cron: minute field: unknown name 'mon'");
    s_parse_err("* * * * * *",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 6");
    s_parse_err("* * * *",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4");
    s_parse_err("", "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 0");
    s_parse_err("1x * * * *", "cron: minute field: unexpected 'x'");
    s_parse_err("* * * * 1;", "cron: day-of-week field: unexpected ';'");
    s_parse_err("1,,2 * * * *", "cron: minute field: a value is missing");
    s_parse_err("1- * * * *", "cron: minute field: a value is missing");
    s_parse_err("*5 * * * *", "cron: minute field: unexpected '5'");
    s_parse_err("5/15 * * * *", "cron: minute field: a step needs '*' or a range");
    s_parse_err("*/ * * * *", "cron: minute field: a step is missing");
    s_parse_err("*/x * * * *", "cron: minute field: a step is missing");
    s_parse_err("@foo", "cron: unknown macro '@foo'");
    s_parse_err("@daily x", "cron: unexpected text after @daily");
    s_parse_err("@", "cron: unknown macro '@'");
}

static void
test_parse_fields(void **state)
{
    (void) state;
    cron_t c;
    char err[256];
    assert_int_equal(cron_parse(&c, " \t*/15 9-17/2 1,15,31 JAN-Mar,dec Mon-FRI\t ", err,
                                sizeof err), 0);
    assert_true(c.minutes == (1ULL | 1ULL << 15 | 1ULL << 30 | 1ULL << 45));
    assert_int_equal(c.hours, 1u << 9 | 1u << 11 | 1u << 13 | 1u << 15 | 1u << 17);
    assert_int_equal(c.mdays, 1u << 1 | 1u << 15 | 1u << 31);
    assert_int_equal(c.months, 1 << 1 | 1 << 2 | 1 << 3 | 1 << 12);
    assert_int_equal(c.wdays, 0x3e);
    assert_int_equal(c.flags, 0);
    assert_int_equal(cron_parse(&c, "0 * * * 5-7", err, sizeof err), 0);
    assert_int_equal(c.wdays, 1 | 1 << 5 | 1 << 6);
    assert_int_equal(c.flags, CRON_HOUR_STAR | CRON_DOM_STAR);
}

/* ---- known answers in UTC --------------------------------------------- */

static void
test_next_utc(void **state)
{
    (void) state;
    const char *at = "2026-03-15 10:07:30";     /* a Sunday */
    FIRES("* * * * *", NULL, at, "2026-03-15 10:08", "2026-03-15 10:09");
    FIRES("* * * * *", NULL, "2026-03-15 10:08", "2026-03-15 10:09");
    FIRES("* * * * *", NULL, "1969-12-31 23:59:59", "1970-01-01 00:00");
    FIRES("*/15 * * * *", NULL, at, "2026-03-15 10:15", "2026-03-15 10:30", "2026-03-15 10:45",
          "2026-03-15 11:00");
    FIRES("0 9-17 * * 1-5", NULL, at, "2026-03-16 09:00", "2026-03-16 10:00");
    FIRES("0 9-17 * * mon-fri", NULL, "2026-03-20 17:30", "2026-03-23 09:00");
    FIRES("30 8,20 * * *", NULL, at, "2026-03-15 20:30", "2026-03-16 08:30");
    FIRES("0-10/5 0 * * *", NULL, at, "2026-03-16 00:00", "2026-03-16 00:05", "2026-03-16 00:10",
          "2026-03-17 00:00");
    FIRES("0 0 1 jan,JUL *", NULL, at, "2026-07-01 00:00", "2027-01-01 00:00");
    FIRES("0 12 * * SAT", NULL, at, "2026-03-21 12:00");
    FIRES("0 12 * * 7", NULL, at, "2026-03-15 12:00", "2026-03-22 12:00");
    FIRES("0 12 * * 0", NULL, at, "2026-03-15 12:00", "2026-03-22 12:00");
    FIRES("0 12 * * sun", NULL, at, "2026-03-15 12:00");
    /* both day fields restricted: either matches */
    FIRES("0 0 13 * 5", NULL, at, "2026-03-20 00:00", "2026-03-27 00:00", "2026-04-03 00:00",
          "2026-04-10 00:00", "2026-04-13 00:00");
    FIRES("0 0 13 * *", NULL, at, "2026-04-13 00:00");
    /* a day field starting with '*': both must match */
    FIRES("0 0 */10 * fri", NULL, at, "2026-05-01 00:00");
    FIRES("0 0 * * fri", NULL, at, "2026-03-20 00:00");
    FIRES("0 0 29 2 *", NULL, at, "2028-02-29 00:00", "2032-02-29 00:00");
    FIRES("0 0 29 2 *", NULL, "2099-03-01 00:00", "2104-02-29 00:00");   /* 2100 is no leap year */
    FIRES("0 0 31 * *", NULL, at, "2026-03-31 00:00", "2026-05-31 00:00", "2026-07-31 00:00",
          "2026-08-31 00:00", "2026-10-31 00:00");
    FIRES("59 23 31 12 *", NULL, at, "2026-12-31 23:59", "2027-12-31 23:59");
    FIRES("@yearly", NULL, at, "2027-01-01 00:00");
    FIRES("@annually", NULL, at, "2027-01-01 00:00");
    FIRES("@monthly", NULL, at, "2026-04-01 00:00");
    FIRES("@weekly", NULL, at, "2026-03-22 00:00");
    FIRES("@daily", NULL, at, "2026-03-16 00:00");
    FIRES("@MIDNIGHT", NULL, at, "2026-03-16 00:00");
    FIRES("  @hourly ", NULL, at, "2026-03-15 11:00");
    FIRES("0 0 30 2 *", NULL, at, "none");
    FIRES("0 0 31 4,6,9,11 *", NULL, at, "none");
    /* the longest real wait, 8 years over 2100, is within the horizon */
    FIRES("0 0 29 2 *", NULL, "2096-02-29 00:00", "2104-02-29 00:00");
    FIRES("0 0 */28 2 mon", NULL, "2026-03-01 00:00", "2027-02-01 00:00");
}

/* ---- known answers across DST ----------------------------------------- */

static void
test_next_berlin_dst(void **state)
{
    (void) state;
    const char *b = "Europe/Berlin";
    /* 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC) */
    FIRES("30 2 * * *", b, "2026-03-28 12:00", "2026-03-29 01:00", "2026-03-30 00:30");
    FIRES("0,30 2 * * *", b, "2026-03-28 12:00", "2026-03-29 01:00", "2026-03-30 00:00");
    FIRES("* 2 * * *", b, "2026-03-28 23:58", "2026-03-29 01:00", "2026-03-30 00:00");
    FIRES("0,30 2,3 * * *", b, "2026-03-29 00:00", "2026-03-29 01:00", "2026-03-29 01:30",
          "2026-03-30 00:00");
    FIRES("*/30 * * * *", b, "2026-03-29 00:00", "2026-03-29 00:30", "2026-03-29 01:00",
          "2026-03-29 01:30");
    FIRES("0 * * * *", b, "2026-03-28 23:30", "2026-03-29 00:00", "2026-03-29 01:00",
          "2026-03-29 02:00");
    /* 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC): 02:xx happens twice */
    FIRES("30 2 * * *", b, "2026-10-24 12:00", "2026-10-25 00:30", "2026-10-26 01:30");
    FIRES("*/30 * * * *", b, "2026-10-24 23:50", "2026-10-25 00:00", "2026-10-25 00:30",
          "2026-10-25 01:00", "2026-10-25 01:30", "2026-10-25 02:00");
    FIRES("*/20 2 * * *", b, "2026-10-24 23:50", "2026-10-25 00:00", "2026-10-25 00:20",
          "2026-10-25 00:40", "2026-10-26 01:00");
    FIRES("0 0 * * *", b, "2026-03-28 12:00", "2026-03-28 23:00", "2026-03-29 22:00");
}

static void
test_next_new_york_dst(void **state)
{
    (void) state;
    const char *ny = "America/New_York";
    /* 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC) */
    FIRES("30 2 * * *", ny, "2026-03-07 12:00", "2026-03-08 07:00", "2026-03-09 06:30");
    FIRES("30 2 * * 0", ny, "2026-03-07 12:00", "2026-03-08 07:00", "2026-03-15 06:30");
    FIRES("*/30 * * * *", ny, "2026-03-08 06:15", "2026-03-08 06:30", "2026-03-08 07:00");
    /* 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC): 01:xx happens twice */
    FIRES("30 1 * * *", ny, "2026-10-31 12:00", "2026-11-01 05:30", "2026-11-02 06:30");
    FIRES("*/30 * * * *", ny, "2026-11-01 04:45", "2026-11-01 05:00", "2026-11-01 05:30",
          "2026-11-01 06:00", "2026-11-01 06:30", "2026-11-01 07:00");
    FIRES("0 * * * *", ny, "2026-11-01 03:30", "2026-11-01 04:00", "2026-11-01 05:00",
          "2026-11-01 06:00", "2026-11-01 07:00");
    FIRES("0 1,2 * * *", ny, "2026-11-01 00:00", "2026-11-01 05:00", "2026-11-01 07:00",
          "2026-11-02 06:00");
    /* after the first pass, the second pass of a fixed-hour job is skipped */
    FIRES("45 1 * * *", ny, "2026-11-01 05:50", "2026-11-02 06:45");
}

static void
test_next_lord_howe_dst(void **state)
{
    (void) state;
    const char *lh = "Australia/Lord_Howe";
    /* 2026-10-04 02:00 +1030 -> 02:30 +11 (15:30 UTC on the 3rd) */
    FIRES("15 2 * * *", lh, "2026-10-03 00:00", "2026-10-03 15:30", "2026-10-04 15:15");
    FIRES("*/15 * * * *", lh, "2026-10-03 15:10", "2026-10-03 15:15", "2026-10-03 15:30",
          "2026-10-03 15:45");
    /* 2026-04-05 02:00 +11 -> 01:30 +1030 (15:00 UTC on the 4th) */
    FIRES("45 1 * * *", lh, "2026-04-04 12:00", "2026-04-04 14:45", "2026-04-05 15:15");
    FIRES("*/15 * * * *", lh, "2026-04-04 14:20", "2026-04-04 14:30", "2026-04-04 14:45",
          "2026-04-04 15:00", "2026-04-04 15:15");
}

/* A zone that skipped a whole day: Samoa went from 2011-12-29 to 12-31. */
static void
test_next_apia_skipped_day(void **state)
{
    (void) state;
    FIRES("30 9 * * *", "Pacific/Apia", "2011-12-29 20:00", "2011-12-30 10:00",
          "2011-12-30 19:30");
    FIRES("30 9 * * *", "Pacific/Apia", "2011-12-28 12:00", "2011-12-28 19:30",
          "2011-12-29 19:30", "2011-12-30 10:00", "2011-12-30 19:30");
    FIRES("30 9 30 12 *", "Pacific/Apia", "2011-12-28 12:00", "2011-12-30 10:00",
          "2012-12-29 19:30");
}

/* ---- properties ------------------------------------------------------- */

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_increasing_and_fast(void **state)
{
    (void) state;
    static const char *const exprs[] = {
        "* * * * *", "*/7 * * * *", "30 2 * * *", "30 1 * * *", "0 */3 * * 1-5",
        "0 0 29 2 *", "5 4 * * sun", "0 22 * * 1-5", "23 0-20/2 * * *", "0 0,12 1 */2 *",
    };
    tz_t *z = s_zone("America/New_York");
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
        cron_t c;
        char err[256];
        assert_int_equal(cron_parse(&c, exprs[i], err, sizeof err), 0);
        int64_t t = s_ms("2025-12-20 00:00");
        for (int k = 0; k < 3000 && t < s_ms("2027-01-10 00:00"); k++) {
            int64_t next = cron_next(&c, z, t);
            assert_true(next > t && next % 60000 == 0);
            t = next;
        }
    }
    /* typical schedules: well under a millisecond per call */
    cron_t c;
    char err[256];
    assert_int_equal(cron_parse(&c, "30 2 * * 1-5", err, sizeof err), 0);
    double t0 = s_now();
    int64_t t = s_ms("2026-01-01 00:00");
    for (int k = 0; k < 10000; k++)
        t = cron_next(&c, z, t);
    double per = (s_now() - t0) / 10000;
    assert_true(per < 1e-3);
    /* no fire within 8 years: quickly */
    assert_int_equal(cron_parse(&c, "0 0 30 2 *", err, sizeof err), 0);
    double best = 1;
    for (int k = 0; k < 5; k++) {
        t0 = s_now();
        assert_true(cron_next(&c, z, s_ms("2026-01-01 00:00")) == INT64_MAX);
        double d = s_now() - t0;
        best = d < best ? d : best;
    }
    assert_true(best < 0.010);
    tz_destroy(&z);
}

/* ---- brute force against a slow reference ----------------------------- */

static bool
s_matches(const cron_t *c, const struct tm *tm)
{
    bool dom = c->mdays >> tm->tm_mday & 1, dow = c->wdays >> tm->tm_wday & 1;
    bool day = (c->flags & (CRON_DOM_STAR | CRON_DOW_STAR)) ? dom && dow : dom || dow;
    return (c->minutes >> tm->tm_min & 1) && (c->hours >> tm->tm_hour & 1)
           && (c->months >> (tm->tm_mon + 1) & 1) && day;
}

/* The first fire after after_ms found by walking real time minute by
   minute for `minutes`, INT64_MAX when none. The walk starts 30 hours
   early to learn which local times were already seen. */
static int64_t
s_reference(const cron_t *c, const tz_t *z, int64_t after_ms, int minutes)
{
    bool fixed = !(c->flags & CRON_HOUR_STAR);
    int64_t first = after_ms / 60000 * 60 + 60;     /* after_ms >= 0 here */
    int64_t u = first - 30 * 3600, seen = INT64_MIN;
    for (; u < first + (int64_t) minutes * 60; u += 60) {
        struct tm tm;
        tz_local(z, u, &tm);
        int64_t local = u + tm.tm_gmtoff;
        bool fire = s_matches(c, &tm) && (!fixed || local > seen);
        if (fixed && seen != INT64_MIN && local > seen + 60) {
            /* a gap: local minutes seen+60 .. local-60 never show */
            for (int64_t g = seen + 60; g < local && !fire; g += 60) {
                struct tm gt;
                tz_local(NULL, g, &gt);
                fire = s_matches(c, &gt);
            }
        }
        if (local > seen)
            seen = local;
        if (fire && u >= first)
            return u * 1000;
    }
    return INT64_MAX;
}

static void
s_random_field(char *out, size_t n, int lo, int hi, int star_pct)
{
    int a = lo + (int) (s_rand() % (uint64_t) (hi - lo + 1));
    int b = a + (int) (s_rand() % (uint64_t) (hi - a + 1));
    int step = 1 + (int) (s_rand() % 7);
    if ((int) (s_rand() % 100) < star_pct) {
        if (s_rand() % 3 == 0)
            snprintf(out, n, "*/%d", step);
        else
            snprintf(out, n, "*");
        return;
    }
    switch (s_rand() % 4) {
    case 0: snprintf(out, n, "%d", a); break;
    case 1: snprintf(out, n, "%d-%d", a, b); break;
    case 2: snprintf(out, n, "%d-%d/%d", a, b, step); break;
    default: snprintf(out, n, "%d,%d", a, b); break;
    }
}

static void
test_brute_force(void **state)
{
    (void) state;
    static const char *const zones[] = {
        NULL, "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
    };
    /* instants near the 2026 changes of those zones */
    static const char *const edges[] = {
        "2026-03-29 01:00", "2026-10-25 01:00", "2026-03-08 07:00", "2026-11-01 06:00",
        "2026-10-03 15:30", "2026-04-04 15:00",
    };
    tz_t *tz[5];
    for (int i = 0; i < 5; i++)
        tz[i] = s_zone(zones[i]);
    int hits = 0;
    for (int n = 0; n < 1500; n++) {
        char f[5][32], expr[200];
        s_random_field(f[0], sizeof f[0], 0, 59, 40);
        s_random_field(f[1], sizeof f[1], 0, 23, 50);
        s_random_field(f[2], sizeof f[2], 1, 31, 80);
        s_random_field(f[3], sizeof f[3], 1, 12, 85);
        s_random_field(f[4], sizeof f[4], 0, 7, 70);
        snprintf(expr, sizeof expr, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
        cron_t c;
        char err[256];
        if (cron_parse(&c, expr, err, sizeof err) != 0)
            fail_msg("cron_parse(%s): %s", expr, err);
        int zi = (int) (s_rand() % 5);
        int64_t after;
        if (s_rand() % 2)
            after = s_ms(edges[s_rand() % 6]) + (int64_t) (s_rand() % (2 * 86400000ULL))
                    - 36 * 3600000LL;
        else
            after = s_ms("2026-01-01 00:00") + (int64_t) (s_rand() % (2 * 365 * 86400000ULL));
        const int window = 4 * 24 * 60;
        int64_t want = s_reference(&c, tz[zi], after, window);
        int64_t got = cron_next(&c, tz[zi], after);
        hits += want != INT64_MAX;
        if (want != INT64_MAX ? got != want : got <= after + (int64_t) window * 60000) {
            char a[S_FMT], g[S_FMT], w[S_FMT];
            s_fmt(after, a);
            s_fmt(got, g);
            s_fmt(want, w);
            fail_msg("'%s' in %s after %s (%lld): got %s, reference %s", expr,
                     zones[zi] ? zones[zi] : "UTC", a, (long long) after, g, w);
        }
    }
    for (int i = 0; i < 5; i++)
        tz_destroy(&tz[i]);
    printf("brute force: %d of 1500 fired within the window\n", hits);
    assert_true(hits > 600);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_next_utc),
        cmocka_unit_test(test_next_berlin_dst),
        cmocka_unit_test(test_next_new_york_dst),
        cmocka_unit_test(test_next_lord_howe_dst),
        cmocka_unit_test(test_next_apia_skipped_day),
        cmocka_unit_test(test_increasing_and_fast),
        cmocka_unit_test(test_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
