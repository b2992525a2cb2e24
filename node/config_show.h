/*  node/config_show.h — `popebot-node config`: a role's effective flags.

    Prints every flag of the role (coordinator or worker) with its value and
    its source (default, file, env, flag) on stdout, as text or JSON; secret
    values (the join token) are masked, never printed.
*/
#ifndef POPEBOT_NODE_CONFIG_SHOW_H
#define POPEBOT_NODE_CONFIG_SHOW_H

#include "node/config.h"

#include <stdio.h>

/* Returns the exit code: 0, or 1 if out of memory. */
int config_show(const config_t *cfg, FILE *out);
void config_show_usage(FILE *out);

#endif
