#!/usr/bin/env bash
# examples/trigger.sh — a curl client for a role's trigger webhook,
# POST /api/cluster/CLUSTER_ID/role/ROLE/webhook (thepopebot's role trigger).
# Usage: trigger.sh [--wait] ROLE PROMPT      body {"prompt": PROMPT}
#        trigger.sh [--wait] ROLE --body=JSON  any JSON object as the body
# Prints the new job's id. --wait then polls GET /api/jobs/ID until the job
# ends, prints its result JSON and exits 0 only if it succeeded (so the key
# needs `read` too).
# Environment: POPEBOT_API_KEY (required; a key with submit:ROLE, submit:*
# or admin, or one of the role's permissions), POPEBOT_URL (default
# http://127.0.0.1:8080), POPEBOT_CLUSTER_ID (default: asked from
# GET /api/info, which needs `read`). The key goes in a header read from
# stdin by curl, so it never shows in `ps`.
# Exit: 0 ok, 1 the job did not succeed (--wait), 2 usage, 3 HTTP failure.
set -euo pipefail

usage() { sed -n '3,6p' "$0" | sed 's/^# //' >&2; exit 2; }
wait_job=0
[ "${1:-}" = --wait ] && { wait_job=1; shift; }
[ "$#" -eq 2 ] || usage
role=$1
: "${POPEBOT_API_KEY:?set POPEBOT_API_KEY to an API key}"
url=${POPEBOT_URL:-http://127.0.0.1:8080}

# curl with the key as a header from stdin; prints the body, then the status
api() {
  printf 'x-api-key: %s\n' "$POPEBOT_API_KEY" |
    curl -sS -H @- -w '\n%{http_code}' "$@" || exit 3
}
field() {   # field NAME < JSON: a top-level string field
  python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print(v if isinstance(v,str) else json.dumps(v))' "$1"
}
split() { body=$(sed '$d' <<<"$1"); status=$(tail -n 1 <<<"$1"); }

case $2 in
  --body=*) body_in=${2#--body=} ;;
  *) body_in=$(python3 -c 'import json,sys; print(json.dumps({"prompt": sys.argv[1]}))' "$2") ;;
esac

cluster=${POPEBOT_CLUSTER_ID:-}
if [ -z "$cluster" ]; then
  split "$(api "$url/api/info")"
  [ "$status" = 200 ] || { echo "trigger: GET /api/info: $status $body" >&2; exit 3; }
  cluster=$(field cluster_id <<<"$body")
fi

split "$(api -H 'Content-Type: application/json' --data-binary "$body_in" \
  "$url/api/cluster/$cluster/role/$role/webhook")"
[ "$status" = 202 ] || { echo "trigger: $status $body" >&2; exit 3; }
job=$(field job_id <<<"$body")
echo "$job"
[ "$wait_job" = 1 ] || exit 0

while :; do
  split "$(api "$url/api/jobs/$job")"
  [ "$status" = 200 ] || { echo "trigger: GET /api/jobs/$job: $status $body" >&2; exit 3; }
  state=$(field state <<<"$body")
  case $state in
    queued|scheduled|running) sleep 0.3 ;;
    *) break ;;
  esac
done
field result <<<"$body"
[ "$state" = succeeded ] || { echo "trigger: job $job $state: $(field error <<<"$body")" >&2; exit 1; }
