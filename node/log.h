/*  node/log.h — the node's log lines.

    One line per event on stderr: "2026-11-30T07:46:41.123Z LEVEL component: text".
    Only node/ code logs; mesh/ returns errors and lets its caller decide.
    The level threshold is set once at start-up, before any thread starts.
*/
#ifndef POPEBOT_NODE_LOG_H
#define POPEBOT_NODE_LOG_H

typedef enum { LL_DEBUG, LL_INFO, LL_WARN, LL_ERROR } log_level_t;

void log_set_level(log_level_t level);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int log_level_parse(const char *name, log_level_t *out);
void log_msg(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
