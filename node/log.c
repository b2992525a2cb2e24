/*  node/log.c — timestamped log lines on stderr, text or JSON (log.h).

    Each line is written with one fprintf call on an unbuffered stream, so
    lines from different threads do not interleave mid-line. JSON lines are
    built with jansson, so any message is escaped; a message that is not
    valid UTF-8 (or was cut inside a character) has its non-ASCII bytes
    replaced by '?' rather than being lost.
*/
#include "node/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static log_level_t s_level = LL_INFO;
static int s_json;
static const char *s_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const char *s_lower[] = { "debug", "info", "warn", "error" };

void log_set_level(log_level_t level)
{
    s_level = level;
}

void log_set_json(int json)
{
    s_json = json;
}

int log_level_parse(const char *name, log_level_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, s_lower[i]) == 0) {
            *out = (log_level_t) i;
            return 0;
        }
    return -1;
}

/* text as a JSON string, its non-ASCII bytes replaced if it is not UTF-8. */
static json_t *s_string(char *text)
{
    json_t *s = json_string(text);
    if (s)
        return s;
    for (char *p = text; *p; p++)
        if ((unsigned char) *p >= 0x80)
            *p = '?';
    return json_string(text);
}

static void s_json_line(const char *stamp, log_level_t level, const char *component,
                        const char *job_id, const char *worker_id, char *text)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "time", stamp, "level", s_lower[level],
                          "component", component, "message", s_string(text));
    if (o && job_id) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", job_id);
        json_object_set_new(o, "job_id", s_string(buf));
    }
    if (o && worker_id) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", worker_id);
        json_object_set_new(o, "worker_id", s_string(buf));
    }
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (line)
        fprintf(stderr, "%s\n", line);
    else
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"error\",\"component\":\"log\","
                        "\"message\":\"out of memory for a log line\"}\n", stamp);
    free(line);
}

static void s_emit(log_level_t level, const char *component, const char *job_id,
                   const char *worker_id, const char *fmt, va_list ap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[40], text[1024];
    strftime(stamp, 24, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + strlen(stamp), 16, ".%03dZ", (int) (tv.tv_usec / 1000));
    vsnprintf(text, sizeof text, fmt, ap);
    if (s_json)
        s_json_line(stamp, level, component, job_id, worker_id, text);
    else
        fprintf(stderr, "%s %-5s %s: %s\n", stamp, s_names[level], component, text);
}

void log_msg(log_level_t level, const char *component, const char *fmt, ...)
{
    if (level < s_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    s_emit(level, component, NULL, NULL, fmt, ap);
    va_end(ap);
}

void log_job(log_level_t level, const char *component, const char *job_id,
             const char *worker_id, const char *fmt, ...)
{
    if (level < s_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    s_emit(level, component, job_id, worker_id, fmt, ap);
    va_end(ap);
}
