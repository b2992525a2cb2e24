/*  mesh/kv.h — a small owned list of key=value strings.

    Used for worker labels, a job's where-constraints and a role's env.
    Keys are unique and kept sorted, so two lists compare and print the same
    way whatever order they were given in. Every string is owned by the list.
*/
#ifndef POPEBOT_MESH_KV_H
#define POPEBOT_MESH_KV_H

#include <stdbool.h>
#include <stddef.h>
#include "mesh/proto.h"

typedef struct {
    char *key;
    char *val;
} kv_t;

typedef struct {
    kv_t *items;              /* sorted by key, keys unique */
    size_t n;
} kvlist_t;

/* Set key to val (replacing an existing value). Returns 0 or -1 (ENOMEM). */
int kv_set(kvlist_t *l, const char *key, const char *val);
const char *kv_get(const kvlist_t *l, const char *key);
void kv_free(kvlist_t *l);
int kv_copy(kvlist_t *dst, const kvlist_t *src);

/* Whether s[0..len) is a name: 1-64 letters, digits, '_', '.' or '-'. Used
   for label keys, role names and worker ids alike. */
bool kv_name_valid(const char *s, size_t len);

/* Parse "k=v,k2=v2". Keys: [A-Za-z0-9_.-]+; values: anything but ','.
   Empty spec gives an empty list. Returns 0, or -1 with a reason in err. */
int kv_parse(kvlist_t *l, const char *spec, char *err, size_t errlen);

/* Copy a decoded wire map. Returns 0, or -1: out of memory, a key that is
   not a name (kv_name_valid), a duplicate key, or a value holding ',' or
   NUL — the same rules as kv_parse, so every list formats back unambiguously. */
int kv_from_wire(kvlist_t *l, const pb_kvs_t *w);

/* A view of the list for the encoder; items point into l, valid while l is. */
pb_kvs_t kv_to_wire(const kvlist_t *l, pb_kv_t *buf);

/* True when every pair of want is also in have. */
bool kv_subset(const kvlist_t *want, const kvlist_t *have);

/* "k=v,k2=v2" in key order; malloc'd ("" for an empty list). */
char *kv_format(const kvlist_t *l);

#endif
