/*  mesh/utf8.h — make bytes valid UTF-8 before they become JSON text.

    Job output is arbitrary bytes; results and logs shown as JSON strings
    must be UTF-8. The repair is lossy only where the input was invalid.
*/
#ifndef POPEBOT_MESH_UTF8_H
#define POPEBOT_MESH_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s[0..n) is valid UTF-8 (no overlong forms, no surrogates). */
bool utf8_valid(const char *s, size_t n);

/* A malloc'd, NUL-terminated copy of s[0..n) in which every byte that is
   not part of a valid UTF-8 sequence became U+FFFD; *out_len gets its
   length. NULL when out of memory. */
char *utf8_repair(const char *s, size_t n, size_t *out_len);

#endif
