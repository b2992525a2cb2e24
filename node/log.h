/*  node/log.h — the node's log lines.

    One line per event on stderr. Text format (the default):
    "2026-11-30T07:46:41.123Z LEVEL component: text". JSON format
    (--log-format=json): one object a line, {"time","level","component",
    "message"} plus "job_id" and "worker_id" when the line concerns a job or
    a worker — call sites say so explicitly with log_job, never by parsing
    the text. Only node/ code logs; mesh/ returns errors and lets its caller
    decide. The level and format are set once at start-up, before any thread
    starts.
*/
#ifndef POPEBOT_NODE_LOG_H
#define POPEBOT_NODE_LOG_H

typedef enum { LL_DEBUG, LL_INFO, LL_WARN, LL_ERROR } log_level_t;

void log_set_level(log_level_t level);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int log_level_parse(const char *name, log_level_t *out);
/* json true: JSON lines; false: text (the default). */
void log_set_json(int json);
void log_msg(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line about a job and/or a worker: job_id and worker_id (either may be
   NULL) become fields of a JSON line; the text format shows only the text,
   which should name them too. */
void log_job(log_level_t level, const char *component, const char *job_id,
             const char *worker_id, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
