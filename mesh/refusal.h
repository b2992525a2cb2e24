/*  mesh/refusal.h — the error code of a refused job.

    A refused job's reason travels as text (SUBMITTED carries no code, so
    ZeroMQ clients read the same words people do). The reasons start with
    fixed words; this maps them to the error codes of docs/PROTOCOL.md and
    the HTTP statuses of docs/openapi.yaml, in one place for the loop and
    the web layer.
*/
#ifndef POPEBOT_MESH_REFUSAL_H
#define POPEBOT_MESH_REFUSAL_H

#include <stddef.h>

/* "store-full", "queue-full", "not-found", "forbidden", "unavailable", or
   "invalid" for every other reason. */
const char *refusal_code(const char *why, size_t len);

#endif
