/*  node/mpjson.c — msgpack to jansson conversion (mpjson.h).

    Depth is bounded by what the codec accepted (it refuses nesting deeper
    than 32), so the recursion here is bounded too.
*/
#include "node/mpjson.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p, or 0 if none starts there. */
static size_t s_utf8_len(const unsigned char *p, size_t left)
{
    size_t n = p[0] < 0x80 ? 1 : (p[0] >> 5) == 6 ? 2 : (p[0] >> 4) == 14 ? 3 : (p[0] >> 3) == 30 ? 4 : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

json_t *mpjson_string(const char *p, size_t len)
{
    json_t *s = json_stringn(p, len);
    if (s)
        return s;
    char *fixed = malloc(len * 3 + 1);
    if (!fixed)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = s_utf8_len((const unsigned char *) p + i, len - i);
        if (n == 0 || (n == 1 && p[i] == 0)) {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(fixed + o, p + i, n);
        o += n;
        i += n;
    }
    s = json_stringn(fixed, o);
    free(fixed);
    return s ? s : json_string("");
}

static json_t *s_map(const msgpack_object_map *m)
{
    json_t *o = json_object();
    for (uint32_t i = 0; o && i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        char *key = strndup(k->via.str.ptr, k->via.str.size);
        if (key)
            json_object_set_new(o, key, mpjson_from(&m->ptr[i].val));
        free(key);
    }
    return o;
}

json_t *mpjson_from(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer((json_int_t) o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return mpjson_string(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return mpjson_string(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < o->via.array.size; i++)
            json_array_append_new(a, mpjson_from(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP:
        return s_map(&o->via.map);
    default:
        return json_null();
    }
}

void mpjson_expand(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return;
    json_t *parsed = json_loadb(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, NULL);
    if (parsed)
        json_object_set_new(obj, key, parsed);
}
