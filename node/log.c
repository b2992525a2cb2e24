/*  node/log.c — timestamped log lines on stderr (log.h).

    Each line is written with one fprintf call on an unbuffered stream, so
    lines from different threads do not interleave mid-line.
*/
#include "node/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static log_level_t s_level = LL_INFO;
static const char *s_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

void log_set_level(log_level_t level)
{
    s_level = level;
}

int log_level_parse(const char *name, log_level_t *out)
{
    const char *lower[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (strcmp(name, lower[i]) == 0) {
            *out = (log_level_t) i;
            return 0;
        }
    return -1;
}

void log_msg(log_level_t level, const char *component, const char *fmt, ...)
{
    if (level < s_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03dZ %-5s %s: %s\n", stamp, (int) (tv.tv_usec / 1000),
            s_names[level], component, text);
}
