/*  node/mpjson.c — msgpack to jansson conversion (mpjson.h).

    Depth is bounded by what the codec accepted (it refuses nesting deeper
    than 32), so the recursion here is bounded too.
*/
#include "node/mpjson.h"
#include "mesh/utf8.h"

#include <stdlib.h>
#include <string.h>

json_t *mpjson_string(const char *p, size_t len)
{
    json_t *s = json_stringn(p, len);
    if (s)
        return s;
    size_t n;
    char *fixed = utf8_repair(p, len, &n);
    s = fixed ? json_stringn(fixed, n) : NULL;
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

void mpjson_write(pb_buf_t *b, const json_t *v)
{
    const char *k;
    json_t *e;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        pb_w_map(b, (uint32_t) json_object_size(v));
        json_object_foreach((json_t *) v, k, e) {
            pb_w_cstr(b, k);
            mpjson_write(b, e);
        }
        break;
    case JSON_ARRAY:
        pb_w_array(b, (uint32_t) json_array_size(v));
        json_array_foreach(v, i, e)
            mpjson_write(b, e);
        break;
    case JSON_STRING:
        pb_w_str(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        pb_w_int(b, json_integer_value(v));
        break;
    case JSON_REAL:
        msgpack_pack_double(&b->pk, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        pb_w_bool(b, json_is_true(v));
        break;
    default:
        pb_w_nil(b);
        break;
    }
}
