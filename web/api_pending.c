/* TEMPORARY during development of issue 4: handlers not written yet answer 501. */
#include "web/web_int.h"
#define PENDING(f) void f(web_req_t *r) { web_error(r, 501, "not-implemented", "not yet"); }
PENDING(web_metrics)
PENDING(web_jobs_list)
PENDING(web_job_logs)
PENDING(web_roles_list)
PENDING(web_roles_post)
PENDING(web_role_get)
PENDING(web_role_patch)
PENDING(web_role_delete)
PENDING(web_role_trigger)
