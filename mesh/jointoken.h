/*  mesh/jointoken.h — the join token: what a new node needs to enroll.

    A token carries the coordinator's endpoint, its public key (to pin), the
    token's id and the secret key of the token's own CURVE key pair, with
    which the joiner opens its first session (the coordinator knows only the
    matching public key and admits it as "j:ID" while the token is valid).
    Text form: "pbj1_" then base64url (no padding) of
      id (6 bytes) | coordinator public key (32) | join secret key (32) |
      endpoint (the remaining bytes, 1..255, no NUL)
    Rules: decode checks every length before it copies; a token is a secret
    and callers never log it.
*/
#ifndef POPEBOT_MESH_JOINTOKEN_H
#define POPEBOT_MESH_JOINTOKEN_H

#include <stddef.h>
#include <stdint.h>

#define JTOKEN_PREFIX "pbj1_"
#define JTOKEN_ID_LEN 12       /* hex characters of a token id */
#define JTOKEN_ENDPOINT_MAX 255
#define JTOKEN_TEXT_MAX 512    /* bytes of the text form, NUL included */

typedef struct {
    char id[JTOKEN_ID_LEN + 1];         /* hex */
    uint8_t server_pub[32];             /* the coordinator's public key */
    uint8_t join_sec[32];               /* the token's secret key */
    char endpoint[JTOKEN_ENDPOINT_MAX + 1];
} jtoken_t;

/* Text form into out (JTOKEN_TEXT_MAX bytes). 0, or -1 if a field is bad. */
int jtoken_encode(const jtoken_t *t, char *out, size_t cap);
/* Parse the text form. 0, or -1 with a reason that never quotes the token. */
int jtoken_decode(const char *text, jtoken_t *out, char *err, size_t errlen);

#endif
