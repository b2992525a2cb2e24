/*  web/sse.c — Server-Sent Events on one connection (web/sse.h).
    Rules: JSON data is one line (compact), so a "data:" line never needs
    splitting; a failed write marks the stream gone and ends all writing.
*/
#include "web/sse.h"
#include "mesh/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sse_start(sse_t *s, web_req_t *r)
{
    s->r = r;
    s->gone = s->revoked = false;
    s->checked = clock_mono_ms();
    web_stream_start(r, 200, "text/event-stream; charset=utf-8");
    sse_write(s, "retry: 1000\n\n", 13);
}

void sse_write(sse_t *s, const char *text, size_t len)
{
    if (!s->gone && web_stream_write(s->r, text, len) != 0)
        s->gone = true;
    s->last_write = clock_mono_ms();
}

void sse_event_text(sse_t *s, const char *name, long long id, const char *json)
{
    size_t n = strlen(json) + strlen(name) + 64;
    char *ev = malloc(n);
    if (!ev)
        return;
    int len = id >= 0 ? snprintf(ev, n, "id: %lld\nevent: %s\ndata: %s\n\n", id, name, json)
                      : snprintf(ev, n, "event: %s\ndata: %s\n\n", name, json);
    if (len > 0 && (size_t) len < n)
        sse_write(s, ev, (size_t) len);
    free(ev);
}

void sse_event(sse_t *s, const char *name, long long id, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    sse_event_text(s, name, id, text ? text : "{}");
    free(text);
}

void sse_keepalive(sse_t *s)
{
    if (clock_mono_ms() - s->last_write >= SSE_KEEPALIVE_MS)
        sse_write(s, ": keep-alive\n\n", 14);
}

bool sse_live(sse_t *s)
{
    if (s->gone || s->revoked)
        return false;
    int64_t now = clock_mono_ms();
    if (now - s->checked >= SSE_RECHECK_MS) {
        s->checked = now;
        s->revoked = !web_credential_valid(s->r);
    }
    return !s->revoked;
}

void sse_end(sse_t *s)
{
    if (!s->gone)
        web_stream_end(s->r);
}
