/*  node/jointoken_issue.c — making a join token (node/jointoken_issue.h).
    The token gets a CURVE pair of its own; only the public half is stored,
    the secret half goes into the text and is wiped from memory here.
*/
#include "node/jointoken_issue.h"
#include "mesh/clock.h"
#include "mesh/curve.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int s_make(const char *server_pub, const char *endpoint, auth_jt_t *rec, char *text,
                  size_t cap)
{
    jtoken_t t;
    curve_pair_t join;
    unsigned char raw[6];
    memset(&t, 0, sizeof t);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(t.id, sizeof t.id, raw, sizeof raw);
    snprintf(t.endpoint, sizeof t.endpoint, "%s", endpoint);
    int rc = strlen(endpoint) <= JTOKEN_ENDPOINT_MAX && curve_pair_new(&join) == 0 &&
             curve_z85_decode(server_pub, t.server_pub) == 0 &&
             curve_z85_decode(join.sec, t.join_sec) == 0 &&
             curve_z85_decode(join.pub, rec->pub) == 0 && jtoken_encode(&t, text, cap) == 0
             ? 0 : -1;
    memcpy(rec->id, t.id, sizeof rec->id);
    sodium_memzero(&t, sizeof t);
    sodium_memzero(&join, sizeof join);
    return rc;
}

int jointoken_issue(auth_t *a, const char *server_pub, const char *endpoint, int64_t ttl_ms,
                    uint32_t uses, auth_jt_t *rec, char text[JTOKEN_TEXT_MAX], char *err,
                    size_t errlen)
{
    memset(rec, 0, sizeof *rec);
    if (s_make(server_pub, endpoint, rec, text, JTOKEN_TEXT_MAX) != 0) {
        snprintf(err, errlen, "cannot make a token (an endpoint of 1-%d bytes?)",
                 JTOKEN_ENDPOINT_MAX);
        sodium_memzero(text, JTOKEN_TEXT_MAX);
        return -1;
    }
    rec->created_ms = clock_wall_ms();
    rec->expires_ms = ttl_ms ? rec->created_ms + ttl_ms : 0;
    rec->uses_max = uses;
    if (auth_jt_add(a, rec, err, errlen) != 0) {
        sodium_memzero(text, JTOKEN_TEXT_MAX);
        return -2;
    }
    return 0;
}
