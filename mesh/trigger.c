/*  mesh/trigger.c — parsing and writing role triggers (trigger.h).

    Rules: parsing is strict and all-or-nothing (a failed parse frees what
    it made); every error names the field. A trigger's key is a hash of its
    definition as written back (sorted keys, defaults filled in), so the same
    schedule keeps its key across restarts and edits of other triggers.
*/
#include "mesh/trigger.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_fail(char *err, size_t errlen, const char *field, const char *what)
{
    snprintf(err, errlen, "%s %s", field, what);
    return -1;
}

void trigger_destroy(trigger_t **self_p)
{
    trigger_t *t = *self_p;
    if (!t)
        return;
    json_decref(t->payload);
    free(t->schedule);
    free(t->timezone);
    free(t->zone_error);
    tz_destroy(&t->zone);
    for (size_t i = 0; i < t->npaths; i++)
        free(t->paths[i]);
    free(t->paths);
    free(t);
    *self_p = NULL;
}

const char *trigger_missed_name(trigger_missed_t m)
{
    return m == TRIGGER_MISSED_ONCE ? "once" : "skip";
}

/* ---- fields -------------------------------------------------------------- */

static int s_payload(trigger_t *t, json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v))
        return s_fail(err, errlen, "payload", "must be a JSON object");
    char *text = json_dumps(v, JSON_COMPACT);
    size_t len = text ? strlen(text) : SIZE_MAX;
    free(text);
    if (len > TRIGGER_PAYLOAD_MAX)
        return s_fail(err, errlen, "payload", "is too large (64 KiB of JSON at most)");
    json_decref(t->payload);
    t->payload = json_deep_copy(v);
    return t->payload ? 0 : s_fail(err, errlen, "payload", "out of memory");
}

static int s_schedule(trigger_t *t, json_t *v, char *err, size_t errlen)
{
    char why[200];
    if (!json_is_string(v))
        return s_fail(err, errlen, "schedule", "must be a string (five-field cron)");
    if (cron_parse(&t->cron, json_string_value(v), why, sizeof why) != 0)
        return s_fail(err, errlen, "schedule:", why);
    free(t->schedule);
    t->schedule = strdup(json_string_value(v));
    return t->schedule ? 0 : s_fail(err, errlen, "schedule", "out of memory");
}

static int s_timezone(trigger_t *t, json_t *v, bool stored, char *err, size_t errlen)
{
    char why[200];
    if (!json_is_string(v))
        return s_fail(err, errlen, "timezone", "must be a string (an IANA name such as "
                      "Europe/Berlin)");
    tz_t *z = tz_load(json_string_value(v), why, sizeof why);
    if (!z && !stored)
        return s_fail(err, errlen, "timezone:", why);
    free(t->timezone);
    free(t->zone_error);
    tz_destroy(&t->zone);
    t->zone = z;
    t->zone_error = z ? NULL : strdup(why);
    t->timezone = strdup(json_string_value(v));
    return t->timezone && (z || t->zone_error) ? 0 : s_fail(err, errlen, "timezone", "out of memory");
}

static int s_missed(trigger_t *t, json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    if (s && strcmp(s, "skip") == 0)
        t->missed = TRIGGER_MISSED_SKIP;
    else if (s && strcmp(s, "once") == 0)
        t->missed = TRIGGER_MISSED_ONCE;
    else
        return s_fail(err, errlen, "missed", "must be \"skip\" or \"once\"");
    return 0;
}

/* A copy of an absolute path without trailing '/', refusing empty, '.'
   and '..' segments and "//"; NULL when it is not one (or no memory). */
static char *s_path(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/' || len >= PATH_MAX || memchr(p, '\0', len))
        return NULL;
    while (len > 1 && p[len - 1] == '/')
        len--;
    for (size_t i = 1; len > 1 && i <= len;) {
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        size_t seg = j - i;
        if (seg == 0 || (seg == 1 && p[i] == '.') || (seg == 2 && p[i] == '.' && p[i + 1] == '.'))
            return NULL;
        i = j + 1;
    }
    return strndup(p, len);
}

static int s_paths(trigger_t *t, json_t *v, char *err, size_t errlen)
{
    const char *what = "must be an array of 1-16 absolute paths (no '.' or '..' segments)";
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > TRIGGER_PATHS_MAX ||
        t->npaths > 0)
        return s_fail(err, errlen, "paths", what);
    t->paths = calloc(json_array_size(v), sizeof(char *));
    if (!t->paths)
        return s_fail(err, errlen, "paths", "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char *p = json_is_string(e) ? s_path(json_string_value(e), json_string_length(e)) : NULL;
        if (!p)
            return s_fail(err, errlen, "paths", what);
        t->paths[t->npaths++] = p;
    }
    return 0;
}

static int s_debounce(trigger_t *t, json_t *v, char *err, size_t errlen)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > TRIGGER_DEBOUNCE_MAX)
        return s_fail(err, errlen, "debounce_ms", "must be an integer from 0 to 3600000");
    t->debounce_ms = (uint32_t) json_integer_value(v);
    return 0;
}

/* One field of a trigger of the given type. */
static int s_field(trigger_t *t, const char *key, json_t *v, bool stored, char *err,
                   size_t errlen)
{
    bool cron = t->type == TRIGGER_CRON;
    if (strcmp(key, "type") == 0)
        return 0;
    if (strcmp(key, "payload") == 0)
        return s_payload(t, v, err, errlen);
    if (cron && strcmp(key, "schedule") == 0)
        return s_schedule(t, v, err, errlen);
    if (cron && strcmp(key, "timezone") == 0)
        return s_timezone(t, v, stored, err, errlen);
    if (cron && strcmp(key, "missed") == 0)
        return s_missed(t, v, err, errlen);
    if (!cron && strcmp(key, "paths") == 0)
        return s_paths(t, v, err, errlen);
    if (!cron && strcmp(key, "debounce_ms") == 0)
        return s_debounce(t, v, err, errlen);
    return s_fail(err, errlen, key, cron
                  ? "is not a field of a cron trigger (known: type, schedule, timezone, missed, payload)"
                  : "is not a field of a watch trigger (known: type, paths, debounce_ms, payload)");
}

/* ---- the whole trigger ------------------------------------------------------ */

static uint64_t s_fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

/* Defaults, required fields, and the key. */
static int s_finish(trigger_t *t, char *err, size_t errlen)
{
    if (t->type == TRIGGER_CRON && !t->schedule)
        return s_fail(err, errlen, "schedule", "is missing");
    if (t->type == TRIGGER_WATCH && t->npaths == 0)
        return s_fail(err, errlen, "paths", "is missing");
    if (t->type == TRIGGER_CRON && !t->timezone &&
        (!(t->zone = tz_load("UTC", err, errlen)) || !(t->timezone = strdup("UTC"))))
        return s_fail(err, errlen, "timezone", "UTC cannot be had (out of memory)");
    if (!t->payload && !(t->payload = json_object()))
        return s_fail(err, errlen, "payload", "out of memory");
    json_t *o = trigger_to_json(t);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!text)
        return s_fail(err, errlen, "trigger", "out of memory");
    t->key = s_fnv(text);
    free(text);
    return 0;
}

trigger_t *trigger_from_json(const json_t *o, bool stored, char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!json_is_object(o) || !type || (strcmp(type, "cron") != 0 && strcmp(type, "watch") != 0)) {
        s_fail(err, errlen, "type", json_is_object(o) ? "must be \"cron\" or \"watch\""
                                                      : "(the trigger) must be an object");
        return NULL;
    }
    trigger_t *t = calloc(1, sizeof *t);
    if (!t) {
        s_fail(err, errlen, "trigger", "out of memory");
        return NULL;
    }
    t->type = strcmp(type, "cron") == 0 ? TRIGGER_CRON : TRIGGER_WATCH;
    t->debounce_ms = TRIGGER_DEBOUNCE_DEFAULT;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *) o, key, v) {
        if (s_field(t, key, v, stored, err, errlen) != 0) {
            trigger_destroy(&t);
            return NULL;
        }
    }
    if (s_finish(t, err, errlen) != 0)
        trigger_destroy(&t);
    return t;
}

static json_t *s_paths_json(const trigger_t *t)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->npaths; i++)
        if (json_array_append_new(a, json_string(t->paths[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *trigger_to_json(const trigger_t *t)
{
    json_t *payload = t->payload ? json_incref(t->payload) : json_object();
    if (t->type == TRIGGER_CRON)
        return json_pack("{s:s,s:s,s:s,s:s,s:o}", "type", "cron", "schedule", t->schedule,
                         "timezone", t->timezone, "missed", trigger_missed_name(t->missed),
                         "payload", payload);
    return json_pack("{s:s,s:o,s:I,s:o}", "type", "watch", "paths", s_paths_json(t),
                     "debounce_ms", (json_int_t) t->debounce_ms, "payload", payload);
}
