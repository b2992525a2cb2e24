/*  tests/unit/test_tz.c — time zones read from TZif files (mesh/tz.h).

    The reference is glibc itself: for each zone, TZ is set to the same
    file and localtime_r must agree with tz_local on every field (date,
    time, weekday, day of year, DST flag, offset, abbreviation) at thousands
    of times over 1900-2200 and around every transition. A "slim" file (no
    transitions, only the footer rule) is written byte by byte into a
    temporary TZDIR and compared with glibc on the fat file of that zone.
    Broken names and truncated or corrupt files must be refused; under ASan
    a read past the file's bytes would fail the test. Single-threaded: it
    changes TZ and TZDIR.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mesh/tz.h"

#define S_1900 (-2208988800LL)
#define S_2200 (7258118400LL)
/* glibc evaluates TZ-string rules as if every year before 1971 were 1970 */
#define S_1972 (63072000LL + 8 * 86400)

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* Make glibc use zone file or TZ string spec. */
static void
s_glibc_tz(const char *spec)
{
    setenv("TZ", spec, 1);
    tzset();
}

static tz_t *
s_load(const char *name)
{
    char err[256] = "";
    tz_t *z = tz_load(name, err, sizeof err);
    if (!z)
        fail_msg("tz_load(%s): %s", name, err);
    return z;
}

/* tz_local(z, t) must equal glibc's localtime_r(t) under the current TZ. */
static void
s_same(const tz_t *z, int64_t t)
{
    struct tm a, b;
    time_t tt = (time_t) t;
    tz_local(z, t, &a);
    assert_non_null(localtime_r(&tt, &b));
    if (a.tm_year != b.tm_year || a.tm_mon != b.tm_mon || a.tm_mday != b.tm_mday
        || a.tm_hour != b.tm_hour || a.tm_min != b.tm_min || a.tm_sec != b.tm_sec
        || a.tm_wday != b.tm_wday || a.tm_yday != b.tm_yday || a.tm_isdst != b.tm_isdst
        || a.tm_gmtoff != b.tm_gmtoff || strcmp(a.tm_zone, b.tm_zone) != 0)
        fail_msg("%s at %lld: ours %04d-%02d-%02d %02d:%02d:%02d wd%d yd%d %s %+ld dst%d, "
                 "glibc %04d-%02d-%02d %02d:%02d:%02d wd%d yd%d %s %+ld dst%d",
                 tz_name(z), (long long) t, a.tm_year + 1900, a.tm_mon + 1, a.tm_mday,
                 a.tm_hour, a.tm_min, a.tm_sec, a.tm_wday, a.tm_yday, a.tm_zone, a.tm_gmtoff,
                 a.tm_isdst, b.tm_year + 1900, b.tm_mon + 1, b.tm_mday, b.tm_hour, b.tm_min,
                 b.tm_sec, b.tm_wday, b.tm_yday, b.tm_zone, b.tm_gmtoff, b.tm_isdst);
    assert_int_equal(tz_offset(z, t), a.tm_gmtoff);
}

/* Compare z with glibc over [from, to): random times, and around every
   transition tz_next_transition reports. Returns the transitions seen. */
static int
s_compare(const tz_t *z, int64_t from, int64_t to)
{
    for (int i = 0; i < 4000; i++)
        s_same(z, from + (int64_t) (s_rand() % (uint64_t) (to - from)));
    int n = 0;
    for (int64_t t = tz_next_transition(z, from); t < to; t = tz_next_transition(z, t)) {
        static const int64_t d[] = { -86400, -3601, -3600, -1801, -60, -1, 0, 1, 59, 1800, 3600 };
        for (size_t k = 0; k < sizeof d / sizeof d[0]; k++)
            s_same(z, t + d[k]);
        assert_int_equal(tz_prev_transition(z, t), t);
        assert_int_equal(tz_prev_transition(z, t + 1), t);
        assert_true(tz_prev_transition(z, t - 1) < t);
        n++;
    }
    return n;
}

static void
test_zones_match_glibc(void **state)
{
    (void) state;
    static const char *const zones[] = {
        "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
        "Australia/Sydney", "America/Sao_Paulo", "Pacific/Apia", "Africa/Casablanca",
    };
    unsetenv("TZDIR");
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        tz_t *z = s_load(zones[i]);
        assert_string_equal(tz_name(z), zones[i]);
        char spec[128];
        snprintf(spec, sizeof spec, ":%s", zones[i]);
        s_glibc_tz(spec);
        int n = s_compare(z, S_1900, S_2200);
        if (strcmp(zones[i], "UTC") != 0 && strcmp(zones[i], "Asia/Kathmandu") != 0)
            assert_true(n > 20);
        tz_destroy(&z);
        assert_null(z);
    }
}

static void
test_null_zone_is_utc(void **state)
{
    (void) state;
    struct tm tm;
    tz_local(NULL, 86400 * 365 + 3661, &tm);
    assert_int_equal(tm.tm_year, 71);
    assert_int_equal(tm.tm_yday, 0);
    assert_int_equal(tm.tm_hour, 1);
    assert_int_equal(tm.tm_min, 1);
    assert_int_equal(tm.tm_sec, 1);
    assert_int_equal(tz_offset(NULL, 12345), 0);
    assert_true(tz_next_transition(NULL, 0) == INT64_MAX);
    assert_string_equal(tz_name(NULL), "UTC");
}

static void
test_civil(void **state)
{
    (void) state;
    for (int64_t d = -800000; d < 800000; d += 7) {
        int64_t y;
        int m, dd;
        tz_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(tz_days_from_civil(y, m, dd), d);
    }
    assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(tz_days_from_civil(1900, 1, 1), -25567);
}

/* ---- files written by the test ---------------------------------------- */

static char s_dir[64];

static void
s_mktmp(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/test_tz.XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    setenv("TZDIR", s_dir, 1);
}

static void
s_rmtmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    assert_int_equal(system(cmd), 0);
    unsetenv("TZDIR");
}

static void
s_write(const char *name, const void *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

typedef struct {
    unsigned char b[8192];
    size_t n;
} s_bytes_t;

static void
s_put(s_bytes_t *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void
s_put32(s_bytes_t *o, uint32_t v)
{
    unsigned char b[4] = { v >> 24, v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff };
    s_put(o, b, 4);
}

/* A TZif v2 file with no transitions, one type (off, abbr) and footer. */
static void
s_slim(s_bytes_t *o, int32_t off, const char *abbr, const char *footer)
{
    o->n = 0;
    size_t nc = strlen(abbr) + 1;
    for (int pass = 0; pass < 2; pass++) {
        s_put(o, "TZif2", 5);
        s_put(o, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15);
        s_put32(o, 0);                  /* isutcnt */
        s_put32(o, 0);                  /* isstdcnt */
        s_put32(o, 0);                  /* leapcnt */
        s_put32(o, 0);                  /* timecnt */
        s_put32(o, 1);                  /* typecnt */
        s_put32(o, (uint32_t) nc);      /* charcnt */
        s_put32(o, (uint32_t) off);
        s_put(o, "\0\0", 2);            /* isdst 0, abbreviation at 0 */
        s_put(o, abbr, nc);
    }
    s_put(o, "\n", 1);
    s_put(o, footer, strlen(footer));
    s_put(o, "\n", 1);
}

static void
test_slim_file_follows_footer(void **state)
{
    (void) state;
    s_mktmp();
    s_bytes_t o;
    s_slim(&o, 3600, "CET", "CET-1CEST,M3.5.0,M10.5.0/3");
    s_write("Slim/Berlin", o.b, o.n);
    s_slim(&o, -18000, "EST", "EST5EDT,M3.2.0,M11.1.0");
    s_write("Slim/New_York", o.b, o.n);
    s_slim(&o, 37800, "+1030", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    s_write("Slim/Lord_Howe", o.b, o.n);
    tz_t *berlin = s_load("Slim/Berlin");
    tz_t *ny = s_load("Slim/New_York");
    tz_t *lh = s_load("Slim/Lord_Howe");
    /* glibc reads the fat files, which follow the same rules since 2007 */
    s_glibc_tz(":/usr/share/zoneinfo/Europe/Berlin");
    assert_true(s_compare(berlin, 1199145600LL, S_2200) > 300);
    s_glibc_tz(":/usr/share/zoneinfo/America/New_York");
    assert_true(s_compare(ny, 1199145600LL, S_2200) > 300);
    s_glibc_tz(":/usr/share/zoneinfo/Australia/Lord_Howe");
    assert_true(s_compare(lh, 1199145600LL, S_2200) > 300);
    tz_destroy(&berlin);
    tz_destroy(&ny);
    tz_destroy(&lh);
    s_rmtmp();
}

/* Footers with every form of the POSIX TZ rule, against glibc parsing the
   same string as TZ (it supports the RFC 8536 extensions too), from 1972:
   glibc computes rule transitions of years before 1971 wrongly. */
static void
test_footer_forms_match_glibc(void **state)
{
    (void) state;
    static const char *const rules[] = {
        "<+0545>-5:45",
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",     /* negative times (America/Nuuk) */
        "AAA3:30BBB2:30:15,J60/26,100/-1:30",   /* Jn, n, offsets with seconds */
        "ZZZ-12:45YYY-13:45,M9.5.0/2:45,M4.1.0/3:45",
        "IST-2IDT,M3.4.4/26,M10.5.0",
        "<+13>-13<+14>,M9.5.0/3,M4.1.0/4",
        "XXX-1YYY",                             /* the default rule */
        "<-00>0<+01>,M3.5.0/167,M10.5.0/-167",
    };
    s_mktmp();
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        s_bytes_t o;
        s_slim(&o, 0, "LMT", rules[i]);
        s_write("Rule/Z", o.b, o.n);
        tz_t *z = s_load("Rule/Z");
        s_glibc_tz(rules[i]);
        s_compare(z, S_1972, S_2200);
        tz_destroy(&z);
    }
    /* DST all year (RFC 8536 3.3.1); glibc looks only at the transitions of
       t's UTC year, so it shows standard time in the hours between this
       year's start of DST and the end of last year's; compare by hand */
    s_bytes_t o;
    s_slim(&o, 0, "LMT", "AAA5BBB,0/0,J365/25");
    s_write("Rule/Z", o.b, o.n);
    tz_t *z = s_load("Rule/Z");
    for (int i = 0; i < 20000; i++) {
        struct tm tm;
        tz_local(z, S_1900 + (int64_t) (s_rand() % (uint64_t) (S_2200 - S_1900)), &tm);
        assert_int_equal(tm.tm_isdst, 1);
        assert_int_equal(tm.tm_gmtoff, -4 * 3600);
        assert_string_equal(tm.tm_zone, "BBB");
    }
    tz_destroy(&z);
    s_rmtmp();
}

/* ---- refusals --------------------------------------------------------- */

static void
s_refused(const char *name, const char *want)
{
    char err[256] = "";
    tz_t *z = tz_load(name, err, sizeof err);
    if (z)
        fail_msg("tz_load(%s) should fail (wanted %s)", name, want);
    if (strstr(err, want) == NULL)
        fail_msg("tz_load(%s): '%s' does not say '%s'", name, err, want);
}

static void
test_bad_names_refused(void **state)
{
    (void) state;
    unsetenv("TZDIR");
    char long_name[70];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    s_refused("../etc/passwd", "invalid time zone name");
    s_refused("/etc/localtime", "invalid time zone name");
    s_refused("a//b", "invalid time zone name");
    s_refused("", "invalid time zone name");
    s_refused(long_name, "invalid time zone name");
    s_refused("Europe/", "invalid time zone name");
    s_refused("Europe/./Berlin", "invalid time zone name");
    s_refused("Europe/Ber lin", "invalid time zone name");
    s_refused("Europe/Nope", "unknown time zone 'Europe/Nope'");
    s_refused("Mars/Base", "unknown time zone 'Mars/Base'");
    s_refused("Europe", "unknown time zone 'Europe'");
    long_name[64] = '\0';
    s_refused(long_name, "unknown time zone");    /* leap-second files count TAI-like seconds, not Unix time */
    if (access("/usr/share/zoneinfo/right/UTC", R_OK) == 0)
        s_refused("right/UTC", "has leap seconds");
}

static void
test_utc_without_files(void **state)
{
    (void) state;
    s_mktmp();
    tz_t *z = s_load("UTC");
    assert_int_equal(tz_offset(z, 1700000000), 0);
    struct tm tm;
    tz_local(z, 0, &tm);
    assert_string_equal(tm.tm_zone, "UTC");
    tz_destroy(&z);
    z = s_load("Etc/UTC");
    assert_string_equal(tz_name(z), "Etc/UTC");
    tz_destroy(&z);
    s_refused("Europe/Berlin", "unknown time zone 'Europe/Berlin'");
    s_rmtmp();
}

static void
s_read(const char *path, s_bytes_t *o)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    o->n = fread(o->b, 1, sizeof o->b, f);
    assert_true(o->n > 0 && o->n < sizeof o->b);
    fclose(f);
}

static void
test_corrupt_files_refused(void **state)
{
    (void) state;
    s_mktmp();
    s_bytes_t o, m;
    s_slim(&o, 3600, "CET", "CET-1CEST,M3.5.0,M10.5.0/3");
    /* every strict prefix of a valid file is refused */
    for (size_t n = 0; n < o.n; n++) {
        s_write("Bad/Z", o.b, n);
        s_refused("Bad/Z", "time zone file");
    }
    /* a real fat file, truncated anywhere */
    s_bytes_t fat;
    s_read("/usr/share/zoneinfo/America/Sao_Paulo", &fat);
    for (size_t n = 0; n < fat.n; n += 7) {
        s_write("Bad/Z", fat.b, n);
        s_refused("Bad/Z", "time zone file");
    }
    m = o;
    memcpy(m.b, "TZig", 4);
    s_write("Bad/Z", m.b, m.n);
    s_refused("Bad/Z", "is not a TZif file");
    m = o;
    m.b[4] = '9';
    s_write("Bad/Z", m.b, m.n);
    s_refused("Bad/Z", "is not a TZif file");
    m = o;
    memset(m.b + 32, 0xff, 4);            /* timecnt 2^32-1 */
    s_write("Bad/Z", m.b, m.n);
    s_refused("Bad/Z", "truncated");
    m = o;
    memset(m.b + 36, 0, 4);               /* typecnt 0 */
    s_write("Bad/Z", m.b, m.n);
    s_refused("Bad/Z", "counts out of range");
    m = o;
    m.b[28 + 3] = 1;                      /* a leap second */
    s_write("Bad/Z", m.b, m.n);
    s_refused("Bad/Z", "leap seconds");
    m = o;
    m.n -= 6;                             /* a footer rule cut short */
    s_put(&m, "\n", 1);
    s_write("Bad/Z", m.b, m.n);
    s_refused("Bad/Z", "footer");
    /* random byte flips: loaded or refused, never a crash or a bad read */
    for (int i = 0; i < 3000; i++) {
        m = fat;
        for (int k = 0; k < 3; k++)
            m.b[s_rand() % m.n] = (unsigned char) s_rand();
        s_write("Bad/Z", m.b, m.n);
        char err[256];
        tz_t *z = tz_load("Bad/Z", err, sizeof err);
        if (z) {
            struct tm tm;
            for (int64_t t = S_1900; t < S_2200; t += 86400 * 997)
                tz_local(z, t, &tm);
            tz_destroy(&z);
        }
    }
    /* a file larger than any zone file */
    static unsigned char big[300 * 1024];
    memcpy(big, o.b, o.n);
    s_write("Bad/Z", big, sizeof big);
    s_refused("Bad/Z", "too large");
    s_rmtmp();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_null_zone_is_utc),
        cmocka_unit_test(test_zones_match_glibc),
        cmocka_unit_test(test_slim_file_follows_footer),
        cmocka_unit_test(test_footer_forms_match_glibc),
        cmocka_unit_test(test_bad_names_refused),
        cmocka_unit_test(test_utc_without_files),
        cmocka_unit_test(test_corrupt_files_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
