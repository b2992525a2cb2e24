/*  mesh/idmap.h — a hash map from 64-bit ids to pointers.

    Open addressing with linear probing and backward-shift deletion (no
    tombstones), kept at most half full. Used for the job table, where a
    lookup happens for every report from a worker: a string-keyed map spent
    its time in strlen and strcmp. The map borrows its values.
*/
#ifndef POPEBOT_MESH_IDMAP_H
#define POPEBOT_MESH_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys;           /* 0 marks an empty slot: id 0 is not a valid key */
    void **vals;
    size_t cap;               /* a power of two */
    size_t n;
} idmap_t;

int idmap_init(idmap_t *m);
void idmap_free(idmap_t *m);
/* Insert or replace. Returns 0, or -1 (ENOMEM, or key 0). */
int idmap_put(idmap_t *m, uint64_t key, void *val);
void *idmap_get(const idmap_t *m, uint64_t key);
/* Remove key if present. */
void idmap_del(idmap_t *m, uint64_t key);

#endif
