/* TEMPORARY during development of issue 4: handlers not written yet answer 501. */
#include "web/web_int.h"
#define PENDING(f) void f(web_req_t *r) { web_error(r, 501, "not-implemented", "not yet"); }
PENDING(web_clusters_list)
PENDING(web_clusters_post)
PENDING(web_cluster_get)
PENDING(web_cluster_patch)
PENDING(web_cluster_delete)
PENDING(web_worker_webhook)
PENDING(web_worker_next)
