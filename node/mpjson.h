/*  node/mpjson.h — msgpack values from the coordinator as JSON (CLI output).

    Maps become objects (non-string keys are skipped), arrays arrays, str
    strings (bytes that are not UTF-8 become U+FFFD), bin strings likewise.
    Fields that carry JSON text ("payload", "result") can be expanded in
    place into the JSON values they hold.
*/
#ifndef POPEBOT_NODE_MPJSON_H
#define POPEBOT_NODE_MPJSON_H

#include <jansson.h>
#include <msgpack.h>

json_t *mpjson_from(const msgpack_object *o);
/* Replace the string value of key in obj by the JSON it holds, if it holds
   valid JSON; otherwise leave it as a string. */
void mpjson_expand(json_t *obj, const char *key);
/* Decode bytes as a JSON string, repairing invalid UTF-8. */
json_t *mpjson_string(const char *p, size_t len);

#endif
