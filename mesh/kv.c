/*  mesh/kv.c — sorted, owned key=value lists (see kv.h).

    Lists are short (a handful of labels), so they are plain sorted arrays:
    insertion shifts, lookup is a linear scan. Every function leaves the list
    valid on failure.
*/
#include "mesh/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t s_find(const kvlist_t *l, const char *key, bool *found)
{
    size_t i = 0;
    for (; i < l->n; i++) {
        int c = strcmp(l->items[i].key, key);
        if (c >= 0) {
            *found = (c == 0);
            return i;
        }
    }
    *found = false;
    return i;
}

int kv_set(kvlist_t *l, const char *key, const char *val)
{
    bool found;
    size_t at = s_find(l, key, &found);
    char *v = strdup(val);
    if (!v)
        return -1;
    if (found) {
        free(l->items[at].val);
        l->items[at].val = v;
        return 0;
    }
    char *k = strdup(key);
    kv_t *items = realloc(l->items, (l->n + 1) * sizeof(kv_t));
    if (!k || !items) {
        free(k);
        free(v);
        if (items)
            l->items = items;
        return -1;
    }
    l->items = items;
    memmove(&items[at + 1], &items[at], (l->n - at) * sizeof(kv_t));
    items[at].key = k;
    items[at].val = v;
    l->n++;
    return 0;
}

const char *kv_get(const kvlist_t *l, const char *key)
{
    bool found;
    size_t at = s_find(l, key, &found);
    return found ? l->items[at].val : NULL;
}

void kv_free(kvlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].val);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int kv_copy(kvlist_t *dst, const kvlist_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (kv_set(dst, src->items[i].key, src->items[i].val) != 0)
            return -1;
    return 0;
}

bool kv_name_valid(const char *k, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = k[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static int s_parse_pair(kvlist_t *l, const char *p, size_t len, char *err, size_t errlen)
{
    const char *eq = memchr(p, '=', len);
    if (!eq) {
        snprintf(err, errlen, "'%.*s' is not key=value", (int) (len > 40 ? 40 : len), p);
        return -1;
    }
    size_t klen = (size_t) (eq - p);
    if (!kv_name_valid(p, klen)) {
        snprintf(err, errlen, "bad key '%.*s' (use letters, digits, _ . -)",
                 (int) (klen > 40 ? 40 : klen), p);
        return -1;
    }
    char *key = strndup(p, klen);
    char *val = strndup(eq + 1, len - klen - 1);
    int rc = (key && val) ? kv_set(l, key, val) : -1;
    if (rc != 0)
        snprintf(err, errlen, "out of memory");
    free(key);
    free(val);
    return rc;
}

int kv_parse(kvlist_t *l, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen(p);
        if (len > 0 && s_parse_pair(l, p, len, err, errlen) != 0)
            return -1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

int kv_from_wire(kvlist_t *l, const pb_kvs_t *w)
{
    for (uint32_t i = 0; i < w->n; i++) {
        pb_str_t key = w->items[i].key, val = w->items[i].val;
        if (!kv_name_valid(key.ptr, key.len) || (val.len && memchr(val.ptr, ',', val.len)) ||
            (val.len && memchr(val.ptr, '\0', val.len)))
            return -1;
        char *k = pb_str_dup(key);
        char *v = pb_str_dup(val);
        int rc = (k && v && !kv_get(l, k)) ? kv_set(l, k, v) : -1;
        free(k);
        free(v);
        if (rc != 0)
            return -1;
    }
    return 0;
}

pb_kvs_t kv_to_wire(const kvlist_t *l, pb_kv_t *buf)
{
    for (size_t i = 0; i < l->n; i++) {
        buf[i].key = pb_s(l->items[i].key);
        buf[i].val = pb_s(l->items[i].val);
    }
    pb_kvs_t w = { buf, (uint32_t) l->n };
    return w;
}

bool kv_subset(const kvlist_t *want, const kvlist_t *have)
{
    for (size_t i = 0; i < want->n; i++) {
        const char *v = kv_get(have, want->items[i].key);
        if (!v || strcmp(v, want->items[i].val) != 0)
            return false;
    }
    return true;
}

char *kv_format(const kvlist_t *l)
{
    size_t size = 1;
    for (size_t i = 0; i < l->n; i++)
        size += strlen(l->items[i].key) + strlen(l->items[i].val) + 2;
    char *out = malloc(size);
    if (!out)
        return NULL;
    char *p = out;
    for (size_t i = 0; i < l->n; i++)
        p += sprintf(p, "%s%s=%s", i ? "," : "", l->items[i].key, l->items[i].val);
    *p = '\0';
    return out;
}
