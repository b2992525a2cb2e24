/*  node/client.h — a client connection to the coordinator (CLI side).

    One DEALER socket; requests carry a req_id and the reply echoes it. Every
    wait is bounded: a client never hangs on a coordinator that is gone.
*/
#ifndef POPEBOT_NODE_CLIENT_H
#define POPEBOT_NODE_CLIENT_H

#include <stdint.h>
#include "mesh/proto.h"
#include "mesh/curve.h"

typedef struct client client_t;

/* curve: the identity to connect with, or NULL / off for plaintext. */
client_t *client_new(const char *endpoint, uint32_t max_message, const curve_client_t *curve);
void client_destroy(client_t **self_p);

/* Send the encoded message in b. Returns 0 or -1. */
int client_send(client_t *c, const pb_buf_t *b);

/* Wait up to timeout_ms for the next message. Returns it, or NULL on
   timeout (*timed_out set) or when it cannot be decoded (*why set). */
pb_msg_t *client_recv(client_t *c, int timeout_ms, bool *timed_out, char *why, size_t whylen);

/* Send, then wait for the REPLY/SUBMITTED/ERROR that carries req_id,
   skipping anything else (such as RESULT pushes). NULL on timeout. */
pb_msg_t *client_call(client_t *c, const pb_buf_t *b, uint64_t req_id, int timeout_ms);

/* The req_id of a reply-type message, or 0. */

#endif
