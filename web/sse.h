/*  web/sse.h — writing a Server-Sent Events stream on one civetweb
    connection: the live log follow (web/api_logs.c) and the mesh's event
    stream (web/api_events.c).

    A stream starts with "retry: 1000" (browsers reconnect after a second),
    sends events as "id:" (optional) "event:" "data:" lines, and a comment
    when it has been quiet for SSE_KEEPALIVE_MS so proxies keep it open.
    Rules: after a write fails the client is gone: nothing more is written;
    a stream lives no longer than the credential that opened it (checked
    every SSE_RECHECK_MS, so a logout, a new password or a revoked key ends
    it within seconds).
*/
#ifndef POPEBOT_WEB_SSE_H
#define POPEBOT_WEB_SSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "web/web_int.h"

#define SSE_KEEPALIVE_MS 15000
#define SSE_RECHECK_MS 2000

typedef struct {
    web_req_t *r;
    int64_t last_write;                /* monotonic ms of the last write */
    bool gone;                         /* a write failed */
    bool revoked;                      /* its credential no longer holds */
    int64_t checked;                   /* monotonic ms the credential was last checked */
} sse_t;

/* Answer 200 text/event-stream and send the retry hint. */
void sse_start(sse_t *s, web_req_t *r);
void sse_write(sse_t *s, const char *text, size_t len);
/* One event; id < 0 sends no id line. sse_event steals data. */
void sse_event(sse_t *s, const char *name, long long id, json_t *data);
void sse_event_text(sse_t *s, const char *name, long long id, const char *json);
/* A comment line when nothing was written for SSE_KEEPALIVE_MS. */
void sse_keepalive(sse_t *s);
/* Whether the stream may go on: the client is there and, checked at most
   every SSE_RECHECK_MS, its credential still holds. */
bool sse_live(sse_t *s);
/* End the chunked response (unless the client is gone). */
void sse_end(sse_t *s);

#endif
