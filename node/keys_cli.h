/*  node/keys_cli.h — `popebot-node keys create|list|revoke`: API keys.

    Works on DIR/auth directly (store/auth.h), so it needs no running
    coordinator and works beside one: a key created here is accepted by the
    coordinator's next HTTP request, a revoked one refused by it.
    Exit codes: 0 ok, 2 usage, 4 no such key, 5 the store cannot be used.
*/
#ifndef POPEBOT_NODE_KEYS_CLI_H
#define POPEBOT_NODE_KEYS_CLI_H

#include "node/config.h"

int keys_cli_run(const config_t *cfg);

#endif
