/*  node/jointoken_cli.h — `popebot-node join-token`: make, list and revoke
    join tokens (mesh/jointoken.h) in DIR/auth.

    Works beside a running coordinator (DIR/auth is shared, like `keys`):
    a token made here is admitted by the coordinator's next handshake, a
    revoked one refused by it. Exit codes: 0 ok, 2 usage, 4 no such token,
    5 the store or the keys cannot be used.
*/
#ifndef POPEBOT_NODE_JOINTOKEN_CLI_H
#define POPEBOT_NODE_JOINTOKEN_CLI_H

#include "node/config.h"

int jointoken_cli_run(const config_t *cfg);

#endif
