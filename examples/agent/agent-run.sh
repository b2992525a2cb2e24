#!/usr/bin/env bash
# examples/agent/agent-run.sh — the "agent" role (examples/agent/roles.json):
# runs a command-line program with the prompt of the role's trigger webhook,
# as thepopebot's roles do.
# POST /api/cluster/CLUSTER_ID/role/agent/webhook with {"prompt": "...", ...}
# makes a job whose payload is that body. There is no {{PROMPT}} placeholder
# (the placeholders are JOB_ID, ATTEMPT, WORKER_ID, WORKER_NAME, WORK_DIR,
# ROLE, PAYLOAD), so this script takes .prompt out of the payload file
# ($POPEBOT_JOB_PAYLOAD_FILE) with python3 and passes it to the program as
# its last argument: one argument, never word-split or evaluated.
# AGENT_PROGRAM (set in the role's env) is the program with any fixed
# arguments, split on spaces; the stand-in fake-agent.sh by default. The
# program's stdout is the job's log and (as a JSON string) its result.
# The other body fields reach the program as AGENT_PAYLOAD_FILE.
set -euo pipefail
job=${1:-$POPEBOT_JOB_ID}

prompt=$(python3 -c '
import json, sys
p = json.load(open(sys.argv[1], encoding="utf-8"))
if not isinstance(p, dict) or not isinstance(p.get("prompt"), str) or not p["prompt"].strip():
    sys.exit("agent: the payload needs a non-empty \"prompt\" string")
sys.stdout.write(p["prompt"])' "$POPEBOT_JOB_PAYLOAD_FILE")

read -r -a program <<<"${AGENT_PROGRAM:-fake-agent.sh}"
echo "agent: job $job runs ${program[0]}" >&2
AGENT_PAYLOAD_FILE=$POPEBOT_JOB_PAYLOAD_FILE exec "${program[@]}" "$prompt" </dev/null
