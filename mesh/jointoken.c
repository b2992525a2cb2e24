/*  mesh/jointoken.c — the join token's text form (jointoken.h).

    libsodium does the base64url and the hex; this file only lays out the
    bytes and checks them.
*/
#include "mesh/jointoken.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define S_ID_BYTES 6
#define S_FIXED (S_ID_BYTES + 32 + 32)
#define S_B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

int jtoken_encode(const jtoken_t *t, char *out, size_t cap)
{
    uint8_t raw[S_FIXED + JTOKEN_ENDPOINT_MAX];
    size_t elen = strlen(t->endpoint), idlen;
    if (elen == 0 || elen > JTOKEN_ENDPOINT_MAX ||
        sodium_hex2bin(raw, S_ID_BYTES, t->id, JTOKEN_ID_LEN, NULL, &idlen, NULL) != 0 ||
        idlen != S_ID_BYTES)
        return -1;
    memcpy(raw + S_ID_BYTES, t->server_pub, 32);
    memcpy(raw + S_ID_BYTES + 32, t->join_sec, 32);
    memcpy(raw + S_FIXED, t->endpoint, elen);
    size_t plen = strlen(JTOKEN_PREFIX);
    if (cap < plen + sodium_base64_ENCODED_LEN(S_FIXED + elen, S_B64))
        return -1;
    memcpy(out, JTOKEN_PREFIX, plen);
    sodium_bin2base64(out + plen, cap - plen, raw, S_FIXED + elen, S_B64);
    return 0;
}

int jtoken_decode(const char *text, jtoken_t *out, char *err, size_t errlen)
{
    uint8_t raw[S_FIXED + JTOKEN_ENDPOINT_MAX];
    size_t plen = strlen(JTOKEN_PREFIX), n = 0;
    memset(out, 0, sizeof *out);
    if (!text || strncmp(text, JTOKEN_PREFIX, plen) != 0) {
        snprintf(err, errlen, "not a join token (it starts with %s)", JTOKEN_PREFIX);
        return -1;
    }
    const char *b64 = text + plen;
    if (sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &n, NULL, S_B64) != 0 ||
        n <= S_FIXED) {
        snprintf(err, errlen, "the join token is damaged (bad encoding or length)");
        return -1;
    }
    sodium_bin2hex(out->id, sizeof out->id, raw, S_ID_BYTES);
    memcpy(out->server_pub, raw + S_ID_BYTES, 32);
    memcpy(out->join_sec, raw + S_ID_BYTES + 32, 32);
    memcpy(out->endpoint, raw + S_FIXED, n - S_FIXED);
    if (memchr(out->endpoint, '\0', n - S_FIXED)) {
        snprintf(err, errlen, "the join token is damaged (bad endpoint)");
        sodium_memzero(out, sizeof *out);
        return -1;
    }
    return 0;
}
