/*  node/enroll.h — how a worker or a CLI finds its CURVE identity.

    In order: --insecure means none (plaintext); a key directory that holds
    this node's pair (self.key/self.pub) and the pinned coordinator key
    (coordinator.pub) is used as it is; otherwise a join token enrolls the
    node: it makes its own pair and saves it, the coordinator key and the
    endpoint in the key directory (0700, secret 0600) with a marker
    enroll.pending, opens a CURVE session with the token's key, sends ENROLL
    and waits for ENROLLED, then removes the marker; later starts need no
    token. A pending pair is reused by the next start with a token (ENROLL
    of the same id and key is answered ENROLLED again); without a token it
    is refused. An empty token counts as none. For the CLI on the coordinator's machine,
    --data-dir=DIR uses DIR/curve/client.{key,pub} and DIR/curve/server.pub.

    Rules: the token and secret keys are never printed; every wait is
    bounded; errors come back as one line in err.
*/
#ifndef POPEBOT_NODE_ENROLL_H
#define POPEBOT_NODE_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mesh/curve.h"

typedef struct {
    const char *kind;          /* "worker" or "client" */
    const char *id;            /* worker id, or the client's name */
    const char *name;          /* a name for people */
    const char *token;         /* --join, or NULL */
    const char *key_dir;       /* where the node's own keys live */
    const char *data_dir;      /* CLI: the coordinator's data dir, or NULL */
    bool insecure;             /* --insecure */
    uint32_t timeout_ms;       /* bound of the enrollment exchange */
} enroll_req_t;

/* Fill out (and endpoint, when the keys or the token name one; cap bytes).
   0, or -1 with err. */
int enroll_resolve(const enroll_req_t *r, curve_client_t *out, char *endpoint, size_t cap,
                   char *err, size_t errlen);

#endif
