/*  web/submit.h — JSON job objects into one SUBMIT (web/submit.c). */
#ifndef POPEBOT_WEB_SUBMIT_H
#define POPEBOT_WEB_SUBMIT_H

#include "web/web_int.h"

/* Submit the job objects of `jobs` (an array). Returns a new array with,
   per job, {"id": ..} or {"error": {"code", "message"}} (the code maps to
   a status with web_status_for); NULL after answering the error. The
   answer comes after the loop's durable commit. */
json_t *web_submit(web_req_t *r, json_t *jobs);
/* Why one job object is malformed (a one-line reason naming the field), or
   NULL when its shape is right. Pure: reads o, answers nothing, checks no
   scope; web_submit runs it on every job before anything else. */
const char *web_submit_check(json_t *o);
/* The error code of one entry of that array, or NULL when it was accepted. */
const char *web_submit_code(const json_t *entry);

#endif
