/*  mesh/refusal.c — the error code of a refused job (refusal.h). */
#include "mesh/refusal.h"

#include <string.h>

const char *refusal_code(const char *why, size_t len)
{
    static const struct { const char *prefix; const char *code; } map[] = {
        { "store full", "store-full" }, { "queue full", "queue-full" },
        { "unknown role", "not-found" }, { "role disabled", "forbidden" },
        { "coordinator out of memory", "unavailable" }, { "the store cannot", "unavailable" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].prefix);
        if (len >= n && memcmp(why, map[i].prefix, n) == 0)
            return map[i].code;
    }
    return "invalid";
}
