/*  mesh/objenc.h — job and worker objects as msgpack maps.

    These are the bodies of REPLY and RESULT (docs/PROTOCOL.md §3). Keys are
    fixed strings; absent values are nil, so every object has every key.
*/
#ifndef POPEBOT_MESH_OBJENC_H
#define POPEBOT_MESH_OBJENC_H

#include <stdbool.h>
#include "mesh/job.h"
#include "mesh/peer.h"
#include "mesh/proto.h"

/* log: the output to show under "log" (JOB replies); NULL = no "log" key. */
void objenc_job(pb_buf_t *b, const job_t *job, const char *log, size_t log_len);
void objenc_peer(pb_buf_t *b, const peer_t *p);

#endif
