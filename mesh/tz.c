/*  mesh/tz.c — IANA time zones read from TZif files (tz.h).

    A loaded zone is three things: the transition table of the file (sorted
    Unix times, each naming a local time type), the types (offset, DST flag,
    abbreviation), and the footer's POSIX TZ rule for times after the table.
    A rule is "std offset [dst [offset] [,start[/time],end[/time]]]"; its two
    transitions are computed per calendar year, and a lookup looks at the
    transitions of the years around t, so rules whose transitions fall in a
    neighbouring year (times of -167..167 h, RFC 8536) and southern-hemisphere
    rules (end before start) need no special case.

    Parsing goes through a reader that checks every read against the file's
    size; a failed read marks the reader bad and the load fails. Everything a
    tz_t points to is owned by it and freed by tz_destroy.
*/
#include "mesh/tz.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NAME_MAX 64                 /* longest zone name */
#define S_FILE_MAX (256 * 1024)       /* largest zone file we read */
#define S_MAX_TYPES 256               /* local time types in one file */
#define S_ABBR_MAX 16                 /* longest rule abbreviation + NUL */
#define S_FOOTER_MAX 256              /* longest footer rule */
#define S_CLAMP ((int64_t) 1 << 50)   /* |t| beyond this is clamped */

typedef struct {
    int32_t off;                /* seconds east of UTC */
    int isdst;                  /* 0 or 1 */
    const char *abbr;           /* into tz->chars or the rule's names */
} s_type_t;

typedef struct {
    char kind;                  /* 'J' (1-365, no Feb 29), 'D' (0-365), 'M' */
    int m, w, d;                /* J/D: the day in m; M: month, week, weekday */
    int32_t secs;               /* local time of day, -167 h .. 167 h */
} s_date_t;

typedef struct {
    bool present;               /* the file has a non-empty footer */
    bool has_dst;               /* the rule has a DST part */
    s_type_t std, dst;          /* the two local time types */
    char names[2][S_ABBR_MAX];  /* their abbreviations */
    s_date_t start, end;        /* DST starts (in std time), ends (in DST) */
} s_rule_t;

struct tz {
    char name[S_NAME_MAX + 1];  /* as given to tz_load */
    size_t count;               /* transitions */
    int64_t *times;             /* count strictly increasing Unix times */
    uint8_t *idx;               /* count type indices, each < ntypes */
    size_t ntypes;              /* 1 .. S_MAX_TYPES */
    s_type_t *types;            /* ntypes types */
    char *chars;                /* abbreviation bytes, NUL-terminated */
    s_rule_t rule;              /* the footer, for times after the table */
};

static const s_type_t s_utc_type = { 0, 0, "UTC" };

/* ---- calendar -------------------------------------------------------- */

static int64_t
s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Years start in March here, so the leap day is the last day of a year. */
int64_t
tz_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = s_floor_div(y, 400);
    int64_t yoe = y - era * 400;                              /* 0..399 */
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;      /* 0..146096 */
    return era * 146097 + doe - 719468;
}

void
tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = s_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int) (doy - (153 * mp + 2) / 5 + 1);
    *month = (int) (mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static bool
s_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t
s_clamp(int64_t t)
{
    return t > S_CLAMP ? S_CLAMP : t < -S_CLAMP ? -S_CLAMP : t;
}

/* ---- the footer rule ------------------------------------------------- */

/* Days since the epoch of rule date d in year y. */
static int64_t
s_date_days(const s_date_t *d, int64_t y)
{
    int64_t jan1 = tz_days_from_civil(y, 1, 1);
    if (d->kind == 'J')
        return jan1 + d->m - 1 + (s_leap(y) && d->m >= 60);
    if (d->kind == 'D')
        return jan1 + d->m;
    int64_t first = tz_days_from_civil(y, d->m, 1);
    int64_t next = d->m == 12 ? tz_days_from_civil(y + 1, 1, 1)
                              : tz_days_from_civil(y, d->m + 1, 1);
    int wd = (int) ((first + 4) % 7 + 7) % 7;                 /* 0 = Sunday */
    int64_t day = first + (d->d - wd + 7) % 7 + (int64_t) (d->w - 1) * 7;
    while (day >= next)
        day -= 7;
    return day;
}

/* The Unix times DST starts and ends in year y. */
static void
s_rule_year(const s_rule_t *r, int64_t y, int64_t *start, int64_t *end)
{
    *start = s_date_days(&r->start, y) * 86400 + r->start.secs - r->std.off;
    *end = s_date_days(&r->end, y) * 86400 + r->end.secs - r->dst.off;
}

static int64_t
s_year_of(int64_t t)
{
    int64_t y;
    int m, d;
    tz_civil_from_days(s_floor_div(t, 86400), &y, &m, &d);
    return y;
}

/* The latest rule transition at or before t (*found false when none among
   the years around t) and whether it starts DST. */
static int64_t
s_rule_prev(const s_rule_t *r, int64_t t, bool *found, bool *is_start)
{
    int64_t y0 = s_year_of(t), best = INT64_MIN;
    *found = false;
    for (int64_t y = y0 - 2; y <= y0 + 1; y++) {
        int64_t tr[2];
        s_rule_year(r, y, &tr[0], &tr[1]);
        for (int k = 0; k < 2; k++)
            if (tr[k] <= t && (!*found || tr[k] >= best)) {
                best = tr[k];
                *is_start = k == 0;
                *found = true;
            }
    }
    return best;
}

static int64_t
s_rule_next(const s_rule_t *r, int64_t t)
{
    int64_t y0 = s_year_of(t), best = INT64_MAX;
    for (int64_t y = y0 - 1; y <= y0 + 2; y++) {
        int64_t tr[2];
        s_rule_year(r, y, &tr[0], &tr[1]);
        for (int k = 0; k < 2; k++)
            if (tr[k] > t && tr[k] < best)
                best = tr[k];
    }
    return best;
}

static const s_type_t *
s_rule_type(const s_rule_t *r, int64_t t)
{
    if (!r->has_dst)
        return &r->std;
    bool found, is_start = false;
    s_rule_prev(r, t, &found, &is_start);
    return found && is_start ? &r->dst : &r->std;
}

/* ---- parsing the footer (POSIX TZ, RFC 8536 section 3.3) -------------- */

static bool
s_parse_abbr(const char **p, char out[S_ABBR_MAX])
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '<') {
        s++;
        while (isalnum((unsigned char) s[n]) || s[n] == '+' || s[n] == '-')
            n++;
        if (s[n] != '>')
            return false;
    } else {
        while (isalpha((unsigned char) s[n]))
            n++;
    }
    if (n < 3 || n >= S_ABBR_MAX)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n + (**p == '<');
    return true;
}

static bool
s_parse_uint(const char **p, int maxdigits, int max, int *out)
{
    int v = 0, n = 0;
    while (isdigit((unsigned char) **p) && n < maxdigits) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0 || isdigit((unsigned char) **p) || v > max)
        return false;
    *out = v;
    return true;
}

/* [+-]h[h[h]][:mm[:ss]] as signed seconds, hours at most maxh. */
static bool
s_parse_hms(const char **p, int maxh, int32_t *secs)
{
    int sign = 1, h, m = 0, s = 0;
    if (**p == '+' || **p == '-')
        sign = *(*p)++ == '-' ? -1 : 1;
    if (!s_parse_uint(p, 3, maxh, &h))
        return false;
    if (**p == ':') {
        (*p)++;
        if (!s_parse_uint(p, 2, 59, &m))
            return false;
        if (**p == ':') {
            (*p)++;
            if (!s_parse_uint(p, 2, 59, &s))
                return false;
        }
    }
    *secs = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool
s_parse_date(const char **p, s_date_t *d)
{
    d->secs = 7200;
    if (**p == 'J') {
        (*p)++;
        d->kind = 'J';
        if (!s_parse_uint(p, 3, 365, &d->m) || d->m < 1)
            return false;
    } else if (**p == 'M') {
        (*p)++;
        d->kind = 'M';
        if (!s_parse_uint(p, 2, 12, &d->m) || d->m < 1 || *(*p)++ != '.'
            || !s_parse_uint(p, 1, 5, &d->w) || d->w < 1 || *(*p)++ != '.'
            || !s_parse_uint(p, 1, 6, &d->d))
            return false;
    } else {
        d->kind = 'D';
        if (!s_parse_uint(p, 3, 365, &d->m))
            return false;
    }
    if (**p == '/') {
        (*p)++;
        return s_parse_hms(p, 167, &d->secs);
    }
    return true;
}

static bool
s_parse_rule(const char *s, s_rule_t *r)
{
    int32_t v;
    memset(r, 0, sizeof *r);
    r->present = true;
    r->std.abbr = r->names[0];
    r->dst.abbr = r->names[1];
    r->dst.isdst = 1;
    if (!s_parse_abbr(&s, r->names[0]) || !s_parse_hms(&s, 24, &v))
        return false;
    r->std.off = -v;
    if (!*s)
        return true;
    r->has_dst = true;
    if (!s_parse_abbr(&s, r->names[1]))
        return false;
    r->dst.off = r->std.off + 3600;
    if (*s && *s != ',') {
        if (!s_parse_hms(&s, 24, &v))
            return false;
        r->dst.off = -v;
    }
    if (!*s) {      /* POSIX leaves the default to the system; glibc's */
        r->start = (s_date_t) { 'M', 3, 2, 0, 7200 };
        r->end = (s_date_t) { 'M', 11, 1, 0, 7200 };
        return true;
    }
    if (*s++ != ',' || !s_parse_date(&s, &r->start) || *s++ != ','
        || !s_parse_date(&s, &r->end))
        return false;
    return *s == '\0';
}

/* ---- reading the file ------------------------------------------------- */

typedef struct {
    const uint8_t *p;           /* the file */
    size_t n;                   /* its size */
    size_t off;                 /* next byte to read */
    bool bad;                   /* a read went past the end */
} s_rd_t;

static const uint8_t *
s_take(s_rd_t *r, size_t k)
{
    if (r->bad || r->n - r->off < k) {
        r->bad = true;
        return NULL;
    }
    r->off += k;
    return r->p + r->off - k;
}

static uint32_t
s_u32(s_rd_t *r)
{
    const uint8_t *b = s_take(r, 4);
    return b ? (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3] : 0;
}

static int64_t
s_time(s_rd_t *r, size_t size)
{
    if (size == 4)
        return (int32_t) s_u32(r);
    uint64_t hi = s_u32(r);
    return (int64_t) (hi << 32 | s_u32(r));
}

typedef struct {
    char version;               /* 0, '2', '3' or '4' */
    uint32_t isut, isstd, leap, time, type, chars;
} s_hdr_t;

/* Set err to "time zone file PATH WHY" and return false. */
static bool
s_bad(char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen, "time zone file %s %s", path, why);
    return false;
}

static bool
s_header(s_rd_t *r, s_hdr_t *h, const char *path, char *err, size_t errlen)
{
    const uint8_t *b = s_take(r, 20);
    if (!b)
        return s_bad(err, errlen, path, "is truncated");
    if (memcmp(b, "TZif", 4) != 0 || (b[4] != 0 && (b[4] < '2' || b[4] > '4')))
        return s_bad(err, errlen, path, "is not a TZif file");
    h->version = (char) b[4];
    h->isut = s_u32(r);
    h->isstd = s_u32(r);
    h->leap = s_u32(r);
    h->time = s_u32(r);
    h->type = s_u32(r);
    h->chars = s_u32(r);
    if (r->bad)
        return s_bad(err, errlen, path, "is truncated");
    if (h->type < 1 || h->type > S_MAX_TYPES || h->chars < 1
        || (h->isut != 0 && h->isut != h->type) || (h->isstd != 0 && h->isstd != h->type))
        return s_bad(err, errlen, path, "is corrupt (counts out of range)");
    if (h->leap != 0)
        return s_bad(err, errlen, path, "has leap seconds, which Unix time does not");
    return true;
}

static uint64_t
s_block_size(const s_hdr_t *h, size_t tsize)
{
    return (uint64_t) h->time * (tsize + 1) + (uint64_t) h->type * 6 + h->chars
           + (uint64_t) h->leap * (tsize + 4) + h->isstd + h->isut;
}

/* Read the data block described by h (times of tsize bytes) into z. */
static bool
s_block(s_rd_t *r, const s_hdr_t *h, size_t tsize, tz_t *z, const char *path,
        char *err, size_t errlen)
{
    if (s_block_size(h, tsize) > r->n - r->off)
        return s_bad(err, errlen, path, "is truncated");
    z->count = h->time;
    z->ntypes = h->type;
    z->times = malloc((z->count ? z->count : 1) * sizeof *z->times);
    z->idx = malloc(z->count ? z->count : 1);
    z->types = malloc(z->ntypes * sizeof *z->types);
    z->chars = malloc((size_t) h->chars + 1);
    if (!z->times || !z->idx || !z->types || !z->chars)
        return s_bad(err, errlen, path, "cannot be loaded: out of memory");
    for (size_t i = 0; i < z->count; i++) {
        z->times[i] = s_time(r, tsize);
        if (i > 0 && z->times[i] <= z->times[i - 1])
            return s_bad(err, errlen, path, "is corrupt (transitions out of order)");
    }
    for (size_t i = 0; i < z->count; i++) {
        z->idx[i] = *s_take(r, 1);
        if (z->idx[i] >= z->ntypes)
            return s_bad(err, errlen, path, "is corrupt (type index out of range)");
    }
    uint8_t desig[S_MAX_TYPES];
    for (size_t i = 0; i < z->ntypes; i++) {
        int32_t off = (int32_t) s_u32(r);
        const uint8_t *b = s_take(r, 2);
        if (off < -89999 || off > 93599 || b[0] > 1 || b[1] >= h->chars)
            return s_bad(err, errlen, path, "is corrupt (bad local time type)");
        z->types[i] = (s_type_t) { off, b[0], NULL };
        desig[i] = b[1];
    }
    memcpy(z->chars, s_take(r, h->chars), h->chars);
    z->chars[h->chars] = '\0';
    for (size_t i = 0; i < z->ntypes; i++)
        z->types[i].abbr = z->chars + desig[i];
    s_take(r, (size_t) h->isstd + h->isut);
    return true;
}

/* The v2+ footer: "\n" rule "\n". */
static bool
s_footer(s_rd_t *r, tz_t *z, const char *path, char *err, size_t errlen)
{
    const uint8_t *nl = s_take(r, 1);
    if (!nl || *nl != '\n')
        return s_bad(err, errlen, path, "is truncated (no footer)");
    const uint8_t *start = r->p + r->off;
    const uint8_t *end = memchr(start, '\n', r->n - r->off);
    if (!end || end - start >= S_FOOTER_MAX)
        return s_bad(err, errlen, path, "is corrupt (footer)");
    char rule[S_FOOTER_MAX];
    memcpy(rule, start, (size_t) (end - start));
    rule[end - start] = '\0';
    if (!rule[0])
        return true;
    if (memchr(rule, '\0', (size_t) (end - start)) || !s_parse_rule(rule, &z->rule))
        return s_bad(err, errlen, path, "is corrupt (footer rule)");
    return true;
}

static bool
s_parse_file(const uint8_t *buf, size_t n, tz_t *z, const char *path, char *err,
             size_t errlen)
{
    s_rd_t r = { buf, n, 0, false };
    s_hdr_t h;
    if (!s_header(&r, &h, path, err, errlen))
        return false;
    if (h.version == 0)
        return s_block(&r, &h, 4, z, path, err, errlen);
    if (s_block_size(&h, 4) > n - r.off)
        return s_bad(err, errlen, path, "is truncated");
    r.off += (size_t) s_block_size(&h, 4);
    if (!s_header(&r, &h, path, err, errlen) || !s_block(&r, &h, 8, z, path, err, errlen))
        return false;
    return s_footer(&r, z, path, err, errlen);
}

/* ---- loading ---------------------------------------------------------- */

static bool
s_name_ok(const char *name)
{
    size_t n = strlen(name), seg = 0;
    if (n < 1 || n > S_NAME_MAX)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        if (c == '/' || c == '\0') {
            if (seg == 0 || (seg == 1 && name[i - 1] == '.')
                || (seg == 2 && name[i - 1] == '.' && name[i - 2] == '.'))
                return false;
            seg = 0;
        } else if (isalnum((unsigned char) c) || c == '_' || c == '+' || c == '-') {
            seg++;
        } else {
            return false;
        }
    }
    return true;
}

/* Read path whole into a malloc'd buffer. 1 ok, 0 no such file, -1 error. */
static int
s_read_file(const char *path, uint8_t **buf, size_t *n, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        snprintf(err, errlen, "cannot read time zone file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    if (st.st_size > S_FILE_MAX) {
        close(fd);
        snprintf(err, errlen, "time zone file %s is too large", path);
        return -1;
    }
    *buf = malloc(st.st_size ? (size_t) st.st_size : 1);
    size_t got = 0;
    while (*buf && got < (size_t) st.st_size) {
        ssize_t k = read(fd, *buf + got, (size_t) st.st_size - got);
        if (k <= 0)
            break;
        got += (size_t) k;
    }
    close(fd);
    if (!*buf) {
        snprintf(err, errlen, "cannot read time zone file %s: out of memory", path);
        return -1;
    }
    *n = got;                   /* a file that shrank is judged as read */
    return 1;
}

static tz_t *
s_new_utc(const char *name)
{
    tz_t *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    snprintf(z->name, sizeof z->name, "%s", name);
    z->ntypes = 1;
    z->types = malloc(sizeof *z->types);
    if (!z->types) {
        free(z);
        return NULL;
    }
    z->types[0] = s_utc_type;
    return z;
}

tz_t *
tz_load(const char *name, char *err, size_t errlen)
{
    if (!name || !s_name_ok(name)) {
        snprintf(err, errlen, "invalid time zone name '%.*s'", S_NAME_MAX, name ? name : "");
        return NULL;
    }
    const char *dir = getenv("TZDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = s_read_file(path, &buf, &n, err, errlen);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
            return s_new_utc(name);
        snprintf(err, errlen, "unknown time zone '%s'", name);
        return NULL;
    }
    tz_t *z = calloc(1, sizeof *z);
    if (!z) {
        free(buf);
        snprintf(err, errlen, "cannot load time zone '%s': out of memory", name);
        return NULL;
    }
    snprintf(z->name, sizeof z->name, "%s", name);
    bool ok = s_parse_file(buf, n, z, path, err, errlen);
    free(buf);
    if (!ok)
        tz_destroy(&z);
    return z;
}

void
tz_destroy(tz_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tz_t *z = *self_p;
    free(z->times);
    free(z->idx);
    free(z->types);
    free(z->chars);
    free(z);
    *self_p = NULL;
}

const char *
tz_name(const tz_t *z)
{
    return z ? z->name : "UTC";
}

/* ---- lookups ---------------------------------------------------------- */

/* The number of transitions at or before t. */
static size_t
s_upper(const tz_t *z, int64_t t)
{
    size_t lo = 0, hi = z->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const s_type_t *
s_lookup(const tz_t *z, int64_t t)
{
    if (!z)
        return &s_utc_type;
    t = s_clamp(t);
    size_t i = s_upper(z, t);
    if (i == z->count && z->rule.present)
        return s_rule_type(&z->rule, t);
    return i == 0 ? &z->types[0] : &z->types[z->idx[i - 1]];
}

int32_t
tz_offset(const tz_t *z, int64_t t)
{
    return s_lookup(z, t)->off;
}

void
tz_local(const tz_t *z, int64_t t, struct tm *out)
{
    const s_type_t *ty = s_lookup(z, t);
    int64_t s = s_clamp(t) + ty->off;
    int64_t days = s_floor_div(s, 86400), rem = s - days * 86400, y;
    int mon, mday;
    tz_civil_from_days(days, &y, &mon, &mday);
    memset(out, 0, sizeof *out);
    out->tm_year = (int) (y - 1900);
    out->tm_mon = mon - 1;
    out->tm_mday = mday;
    out->tm_hour = (int) (rem / 3600);
    out->tm_min = (int) (rem / 60 % 60);
    out->tm_sec = (int) (rem % 60);
    out->tm_wday = (int) (((days + 4) % 7 + 7) % 7);
    out->tm_yday = (int) (days - tz_days_from_civil(y, 1, 1));
    out->tm_isdst = ty->isdst;
    out->tm_gmtoff = ty->off;
    out->tm_zone = ty->abbr;
}

int64_t
tz_next_transition(const tz_t *z, int64_t t)
{
    if (!z)
        return INT64_MAX;
    int64_t c = s_clamp(t);
    size_t i = s_upper(z, c);
    int64_t next = INT64_MAX;
    if (i < z->count)
        next = z->times[i];
    else if (z->rule.present && z->rule.has_dst)
        next = s_rule_next(&z->rule, c);
    return next > t ? next : INT64_MAX;
}

int64_t
tz_prev_transition(const tz_t *z, int64_t t)
{
    if (!z)
        return INT64_MIN;
    int64_t c = s_clamp(t);
    size_t i = s_upper(z, c);
    int64_t prev = i ? z->times[i - 1] : INT64_MIN;
    if (i == z->count && z->rule.present && z->rule.has_dst) {
        bool found, is_start;
        int64_t rp = s_rule_prev(&z->rule, c, &found, &is_start);
        if (found && rp > prev)
            prev = rp;
    }
    return prev <= t ? prev : INT64_MIN;
}
