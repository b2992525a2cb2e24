/*  mesh/cron.c — parse five-field cron schedules, find their next fire.

    Parsing fills one bitset per field; nothing is allocated.

    cron_next works on "local seconds" (the wall clock read as if it were
    UTC) and walks the zone's constant-offset segments in real time order:
    within a segment [start, end) with offset off, local time is u + off and
    increases with u, so the first fire in it is the first matching local
    minute L in [u + off, end + off) at u = L - off. At a segment start where
    the offset grew (a gap) or shrank (a repeat), the DST rules of cron.h
    are applied to the local times concerned. The first segment with a fire
    has the answer, so results are strictly after after_ms and increasing.

    Finding the first matching local minute skips whole months, days and
    hours that cannot match, so a search over years takes a few hundred
    steps. Every search is bounded by the 8-year horizon.
*/
#include "mesh/cron.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define S_HORIZON ((int64_t) (8 * 366 + 2) * 86400)   /* seconds searched */

/* ---- parsing ---------------------------------------------------------- */

typedef struct {
    const char *name;           /* for messages: "hour" */
    int min, max;               /* accepted values */
    const char *const *names;   /* 3-letter names of min.., or NULL */
} s_field_t;

static const char *const s_month_names[] = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL,
};
static const char *const s_day_names[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL,
};

static const s_field_t s_fields[5] = {
    { "minute", 0, 59, NULL },
    { "hour", 0, 23, NULL },
    { "day-of-month", 1, 31, NULL },
    { "month", 1, 12, s_month_names },
    { "day-of-week", 0, 7, s_day_names },
};

static const struct {
    const char *name;
    const char *expr;
} s_macros[] = {
    { "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
    { "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

static bool
s_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Read a number or a name of field f at *p. */
static bool
s_value(const s_field_t *f, const char **p, int *out, char *err, size_t errlen)
{
    const char *s = *p;
    if (isdigit((unsigned char) *s)) {
        long v = 0;
        while (isdigit((unsigned char) *s)) {
            if (v < 100000)
                v = v * 10 + (*s - '0');
            s++;
        }
        if (v < f->min || v > f->max) {
            snprintf(err, errlen, "cron: %s field: %.*s is out of range %d-%d", f->name,
                     (int) (s - *p > 24 ? 24 : s - *p), *p, f->min, f->max);
            return false;
        }
        *out = (int) v;
        *p = s;
        return true;
    }
    size_t n = 0;
    while (isalpha((unsigned char) s[n]))
        n++;
    for (int i = 0; f->names && n == 3 && f->names[i]; i++)
        if (strncasecmp(s, f->names[i], 3) == 0) {
            *out = f->min + i;
            *p = s + 3;
            return true;
        }
    if (n > 0)
        snprintf(err, errlen, "cron: %s field: unknown name '%.*s'", f->name,
                 (int) (n > 16 ? 16 : n), s);
    else if (*s && !s_blank(*s) && !strchr(",-/", *s))
        snprintf(err, errlen, "cron: %s field: unexpected '%c'", f->name, *s);
    else
        snprintf(err, errlen, "cron: %s field: a value is missing", f->name);
    return false;
}

/* One item of a list: "*", "a", "a-b", with "/n" after "*" or a range. */
static bool
s_item(const s_field_t *f, const char **p, uint64_t *bits, char *err, size_t errlen)
{
    int lo = f->min, hi = f->max, step = 1;
    bool range = true;
    if (**p == '*') {
        (*p)++;
    } else {
        if (!s_value(f, p, &lo, err, errlen))
            return false;
        hi = lo;
        range = **p == '-';
        if (range) {
            (*p)++;
            if (!s_value(f, p, &hi, err, errlen))
                return false;
            if (hi < lo) {
                snprintf(err, errlen, "cron: %s field: range %d-%d is reversed", f->name, lo, hi);
                return false;
            }
        }
    }
    if (**p == '/') {
        (*p)++;
        if (!range) {
            snprintf(err, errlen, "cron: %s field: a step needs '*' or a range", f->name);
            return false;
        }
        if (!isdigit((unsigned char) **p)) {
            snprintf(err, errlen, "cron: %s field: a step is missing", f->name);
            return false;
        }
        long v = 0;
        while (isdigit((unsigned char) **p)) {
            if (v < 100000)
                v = v * 10 + (**p - '0');
            (*p)++;
        }
        if (v == 0) {
            snprintf(err, errlen, "cron: %s field: step 0", f->name);
            return false;
        }
        step = v > f->max + 1 ? f->max + 1 : (int) v;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= (uint64_t) 1 << v;
    return true;
}

/* Field f at *p, up to the next blank or the end. */
static bool
s_field(const s_field_t *f, const char **p, uint64_t *bits, char *err, size_t errlen)
{
    *bits = 0;
    for (;;) {
        if (!s_item(f, p, bits, err, errlen))
            return false;
        if (**p != ',')
            break;
        (*p)++;
    }
    if (**p && !s_blank(**p)) {
        snprintf(err, errlen, "cron: %s field: unexpected '%c'", f->name, **p);
        return false;
    }
    return true;
}

static int
s_count_fields(const char *s)
{
    int n = 0;
    while (*s) {
        while (s_blank(*s))
            s++;
        if (!*s)
            break;
        n++;
        while (*s && !s_blank(*s))
            s++;
    }
    return n;
}

static int
s_parse_macro(cron_t *c, const char *s, char *err, size_t errlen)
{
    size_t n = 0;
    while (s[n] && !s_blank(s[n]))
        n++;
    const char *rest = s + n;
    while (s_blank(*rest))
        rest++;
    for (size_t i = 0; i < sizeof s_macros / sizeof s_macros[0]; i++)
        if (strlen(s_macros[i].name) == n && strncasecmp(s, s_macros[i].name, n) == 0) {
            if (*rest) {
                snprintf(err, errlen, "cron: unexpected text after %s", s_macros[i].name);
                return -1;
            }
            return cron_parse(c, s_macros[i].expr, err, errlen);
        }
    snprintf(err, errlen, "cron: unknown macro '%.*s'", (int) (n > 16 ? 16 : n), s);
    return -1;
}

int
cron_parse(cron_t *c, const char *expr, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const char *s = expr;
    while (s_blank(*s))
        s++;
    if (*s == '@')
        return s_parse_macro(c, s, err, errlen);
    int n = s_count_fields(s);
    if (n != 5) {
        snprintf(err, errlen,
                 "cron: expected 5 fields (minute hour day-of-month month day-of-week), got %d", n);
        return -1;
    }
    uint64_t bits[5];
    for (int i = 0; i < 5; i++) {
        while (s_blank(*s))
            s++;
        bool star = *s == '*';
        if (!s_field(&s_fields[i], &s, &bits[i], err, errlen))
            return -1;
        if (star)
            c->flags |= i == 1 ? CRON_HOUR_STAR : i == 2 ? CRON_DOM_STAR : i == 4 ? CRON_DOW_STAR : 0;
    }
    c->minutes = bits[0];
    c->hours = (uint32_t) bits[1];
    c->mdays = (uint32_t) bits[2];
    c->months = (uint16_t) bits[3];
    c->wdays = (uint8_t) ((bits[4] | bits[4] >> 7) & 0x7f);   /* 7 is Sunday */
    return 0;
}

/* ---- searching -------------------------------------------------------- */

static int64_t
s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
s_ceil_min(int64_t t)
{
    return -s_floor_div(-t, 60) * 60;
}

static bool
s_day_ok(const cron_t *c, int64_t days, int mday)
{
    bool dom = c->mdays >> mday & 1;
    bool dow = c->wdays >> (((days + 4) % 7 + 7) % 7) & 1;
    if (c->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
        return dom && dow;
    return dom || dow;
}

/* The first minute of day `days` at or after minute-of-day from that
   matches, as a minute of day, or -1. */
static int
s_time_in_day(const cron_t *c, int from)
{
    for (int h = from / 60; h < 24; h++) {
        if (!(c->hours >> h & 1))
            continue;
        int m0 = h == from / 60 ? from % 60 : 0;
        uint64_t mins = c->minutes >> m0;
        if (mins)
            return h * 60 + m0 + __builtin_ctzll(mins);
    }
    return -1;
}

/* The first matching local minute in [lo, hi] (local seconds, lo a whole
   minute), INT64_MAX when none. */
static int64_t
s_match_from(const cron_t *c, int64_t lo, int64_t hi)
{
    int64_t days = s_floor_div(lo, 86400), y;
    int from = (int) ((lo - days * 86400) / 60), mon, mday;
    tz_civil_from_days(days, &y, &mon, &mday);
    while (days * 86400 <= hi) {
        if (!(c->months >> mon & 1)) {
            y += mon == 12;
            mon = mon == 12 ? 1 : mon + 1;
            mday = 1;
            days = tz_days_from_civil(y, mon, 1);
            from = 0;
            continue;
        }
        int m = s_day_ok(c, days, mday) ? s_time_in_day(c, from) : -1;
        if (m >= 0) {
            int64_t at = days * 86400 + (int64_t) m * 60;
            return at <= hi ? at : INT64_MAX;
        }
        days++;
        from = 0;
        tz_civil_from_days(days, &y, &mon, &mday);
    }
    return INT64_MAX;
}

/* The first fire in the segment [seg, end) of offset off, at or after u
   (seg <= u < end); prev_off is the offset before seg. */
static int64_t
s_segment(const cron_t *c, int64_t seg, int64_t u, int64_t end, int32_t off,
          int32_t prev_off, int64_t limit)
{
    bool fixed = !(c->flags & CRON_HOUR_STAR);
    int64_t lo = s_ceil_min(u + off);
    if (fixed && prev_off < off && s_ceil_min(seg) >= u) {
        /* a gap: local [seg + prev_off, seg + off) never shows */
        if (s_match_from(c, s_ceil_min(seg + prev_off), seg + off - 1) != INT64_MAX)
            return s_ceil_min(seg);
    }
    if (fixed && prev_off > off && lo < s_ceil_min(seg + prev_off))
        lo = s_ceil_min(seg + prev_off);   /* a repeat: fire in the first pass */
    int64_t hi = (end < limit ? end : limit) - 1 + off;
    int64_t at = s_match_from(c, lo, hi);
    return at == INT64_MAX ? INT64_MAX : s_ceil_min(at - off);
}

int64_t
cron_next(const cron_t *c, const tz_t *z, int64_t after_ms)
{
    int64_t u = s_floor_div(after_ms, 1000) + 1;   /* a fire at u is > after_ms */
    int64_t limit = u + S_HORIZON;
    int64_t seg = tz_prev_transition(z, u);
    while (u < limit) {
        int32_t off = tz_offset(z, u);
        int32_t prev_off = seg == INT64_MIN ? off : tz_offset(z, seg - 1);
        int64_t end = tz_next_transition(z, u);
        int64_t at = s_segment(c, seg == INT64_MIN ? u : seg, u, end, off, prev_off, limit);
        if (at != INT64_MAX)
            return at > INT64_MAX / 1000 - 1 ? INT64_MAX : at * 1000;
        if (end == INT64_MAX)
            break;
        u = seg = end;
    }
    return INT64_MAX;
}
