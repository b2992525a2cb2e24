/*  node/mpjson.h — msgpack values from the coordinator as JSON (CLI output),
    and JSON as msgpack (the coordinator's REPLY bodies that share their
    object with the HTTP API: LOGS, ROLES).

    Maps become objects (non-string keys are skipped), arrays arrays, str
    strings (bytes that are not UTF-8 become U+FFFD), bin strings likewise.
    Fields that carry JSON text ("payload", "result") can be expanded in
    place into the JSON values they hold.
*/
#ifndef POPEBOT_NODE_MPJSON_H
#define POPEBOT_NODE_MPJSON_H

#include <jansson.h>
#include <msgpack.h>
#include "mesh/proto.h"

json_t *mpjson_from(const msgpack_object *o);
/* Replace the string value of key in obj by the JSON it holds, if it holds
   valid JSON; otherwise leave it as a string. */
void mpjson_expand(json_t *obj, const char *key);
/* Decode bytes as a JSON string, repairing invalid UTF-8. */
json_t *mpjson_string(const char *p, size_t len);
/* Write v as one msgpack value: objects become maps with str keys, arrays
   arrays, strings str, integers int, reals float, true/false/null bool and
   nil. Depth is jansson's (the values are the coordinator's own). */
void mpjson_write(pb_buf_t *b, const json_t *v);

#endif
