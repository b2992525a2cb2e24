/*  node/coord_result.c — RESULT pushes, gathered per client per loop turn.

    When jobs submitted with wait end, their job objects are encoded at once
    (the job may be evicted right after) into a buffer per waiting client.
    At the end of the turn each buffer becomes one RESULT message listing
    all of that client's jobs, held in the outbox until the turn's commit; a buffer past RESULT_FLUSH_BYTES leaves early
    so no message grows without bound. Under load this turns thousands of
    sends into a handful; at low rates a RESULT still leaves in the turn its
    job ended.
*/
#include "node/coord_int.h"
#include "mesh/objenc.h"

#include <stdlib.h>

#define RESULT_FLUSH_BYTES (1024 * 1024)

typedef struct {
    zframe_t *rid;            /* the client's routing id, owned */
    pb_buf_t jobs;            /* njobs encoded job maps */
    uint32_t njobs;
} s_pending_t;

void coord_results_free(void **item)
{
    s_pending_t *p = *item;
    zframe_destroy(&p->rid);
    pb_buf_free(&p->jobs);
    free(p);
    *item = NULL;
}

static void s_send(coord_t *c, s_pending_t *p)
{
    pb_buf_reset(&c->out);
    pb_enc_result_begin(&c->out, p->njobs);
    pb_w_raw(&c->out, pb_buf_data(&p->jobs), pb_buf_size(&p->jobs));
    coord_reply_on(c, c->router, zframe_data(p->rid), zframe_size(p->rid));
    pb_buf_reset(&p->jobs);
    p->njobs = 0;
}

void coord_result_add(coord_t *c, zframe_t *rid, const job_t *job)
{
    char key[511];
    coord_rid_key(zframe_data(rid), zframe_size(rid), key);
    s_pending_t *p = zhashx_lookup(c->results, key);
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p || !(p->rid = zframe_dup(rid))) {
            free(p);
            return;
        }
        pb_buf_init(&p->jobs);
        zhashx_insert(c->results, key, p);
    }
    objenc_job(&p->jobs, job, NULL, 0);
    p->njobs++;
    if (pb_buf_size(&p->jobs) >= RESULT_FLUSH_BYTES)
        s_send(c, p);
}

void coord_results_flush(coord_t *c)
{
    if (zhashx_size(c->results) == 0)
        return;
    for (s_pending_t *p = zhashx_first(c->results); p; p = zhashx_next(c->results))
        if (p->njobs > 0)
            s_send(c, p);
    zhashx_purge(c->results);
}
