/*  node/cli_int.h — what the client subcommands' files share (cli.c,
    cli_ops.c). Not for use outside the CLI.

    Rules: as cli.c's — answers on stdout, complaints on stderr as one
    "popebot-node: " line, every wait bounded by --timeout.
*/
#ifndef POPEBOT_NODE_CLI_INT_H
#define POPEBOT_NODE_CLI_INT_H

#include <jansson.h>
#include "node/client.h"
#include "node/config.h"

/* Complain that the coordinator did not answer; CLI_TIMEOUT. */
int cli_no_answer(const config_t *cfg);
/* CLI_OK, or the exit code after printing why (no answer, ERROR). */
int cli_check_reply(const config_t *cfg, const pb_msg_t *m);
void cli_print_json(json_t *j);               /* one compact line */
void cli_workers_text(json_t *arr);           /* the workers table */

/* cli_ops.c: logs ID [-f], drain WORKER [--resume], roles. */
int cli_logs(const config_t *cfg, client_t *cl, pb_buf_t *b);
int cli_drain(const config_t *cfg, client_t *cl, pb_buf_t *b);
int cli_roles(const config_t *cfg, client_t *cl, pb_buf_t *b);

#endif
