/*  node/cli.h — the client subcommands: submit, job, jobs, workers, cancel,
    retry (cli.c), logs, drain, roles (cli_ops.c).

    Each talks to the coordinator over the client protocol and prints text
    tables (or JSON with --json). Exit codes: 0 ok; 1 the job did not
    succeed (submit --wait, logs -f); 2 usage or bad input; 3 the coordinator did not
    answer within --timeout; 4 the coordinator refused the request.
*/
#ifndef POPEBOT_NODE_CLI_H
#define POPEBOT_NODE_CLI_H

#include "node/config.h"

#define CLI_DEFAULT_COORDINATOR "tcp://127.0.0.1:5555"

enum { CLI_OK = 0, CLI_JOB_FAILED = 1, CLI_USAGE = 2, CLI_TIMEOUT = 3, CLI_REFUSED = 4 };

int cli_run(const config_t *cfg);

#endif
