/*  mesh/idmap.c — open-addressing id -> pointer map (idmap.h).

    Invariant: every key sits at or after its home slot with no empty slot
    between home and it (wrapping around). Deletion shifts later entries
    back to keep that true, so lookups stop at the first empty slot.
*/
#include "mesh/idmap.h"

#include <stdbool.h>
#include <stdlib.h>

static size_t s_home(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t) key & (cap - 1);
}

int idmap_init(idmap_t *m)
{
    m->cap = 1024;
    m->n = 0;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->vals = calloc(m->cap, sizeof *m->vals);
    if (!m->keys || !m->vals) {
        idmap_free(m);
        return -1;
    }
    return 0;
}

void idmap_free(idmap_t *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}

static void s_place(uint64_t *keys, void **vals, size_t cap, uint64_t key, void *val)
{
    size_t i = s_home(key, cap);
    while (keys[i] && keys[i] != key)
        i = (i + 1) & (cap - 1);
    keys[i] = key;
    vals[i] = val;
}

static int s_grow(idmap_t *m)
{
    size_t cap = m->cap * 2;
    uint64_t *keys = calloc(cap, sizeof *keys);
    void **vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            s_place(keys, vals, cap, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int idmap_put(idmap_t *m, uint64_t key, void *val)
{
    if (key == 0 || ((m->n + 1) * 2 > m->cap && s_grow(m) != 0))
        return -1;
    size_t i = s_home(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

void *idmap_get(const idmap_t *m, uint64_t key)
{
    if (key == 0 || m->cap == 0)
        return NULL;
    for (size_t i = s_home(key, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key)
            return m->vals[i];
    return NULL;
}

void idmap_del(idmap_t *m, uint64_t key)
{
    if (key == 0 || m->cap == 0)
        return;
    size_t mask = m->cap - 1, i = s_home(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    if (!m->keys[i])
        return;
    m->n--;
    /* shift back every following entry that may move closer to home */
    for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = s_home(m->keys[j], m->cap);
        bool movable = ((j - home) & mask) >= ((j - i) & mask);
        if (movable) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = NULL;
}
