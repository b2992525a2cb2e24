/*  node/jointoken_issue.h — making a join token: the record in DIR/auth and
    the text a new node enrolls with. Shared by `popebot-node join-token`
    (node/jointoken_cli.c) and POST /api/join-tokens (on the loop,
    node/coord_api_jointoken.c).
    Rules: the token's secret half exists only in the text handed back; the
    caller shows it once and wipes it; it never reaches a log.
*/
#ifndef POPEBOT_NODE_JOINTOKEN_ISSUE_H
#define POPEBOT_NODE_JOINTOKEN_ISSUE_H

#include <stddef.h>
#include <stdint.h>
#include "mesh/jointoken.h"
#include "store/authcurve.h"

/* A fresh token for the coordinator whose public key (Z85) is server_pub,
   reached at endpoint, valid for ttl_ms (0 = no expiry) and uses
   enrollments (0 = any number): stored in a, its record in *rec, its text
   in text (JTOKEN_TEXT_MAX bytes). 0; -1 bad endpoint (err); -2 store error (err). */
int jointoken_issue(auth_t *a, const char *server_pub, const char *endpoint, int64_t ttl_ms,
                    uint32_t uses, auth_jt_t *rec, char text[JTOKEN_TEXT_MAX], char *err,
                    size_t errlen);

#endif
