/*  node/passwd_cli.h — `popebot-node passwd`: UI users' passwords.

    Works on DIR/auth directly (store/users.h), like `keys`, so it needs no
    running coordinator and works beside one: the next login sees the new
    password; a deleted user's next login fails (sessions already open run
    until logout, expiry or restart).
    The password is one line on stdin (no echo when stdin is a terminal).
    Exit codes: 0 ok, 2 usage (a bad name; an empty, short or long
    password), 4 no such user (--delete), 5 the store cannot be used.
*/
#ifndef POPEBOT_NODE_PASSWD_CLI_H
#define POPEBOT_NODE_PASSWD_CLI_H

#include "node/config.h"

int passwd_cli_run(const config_t *cfg);

#endif
