#!/usr/bin/env bash
# examples/roles/textstats.sh — the script behind the "textstats" role
# (examples/roles/textstats.json): a shell script run with placeholders.
# The role's argv is ["textstats.sh", "{{JOB_ID}}", "{{ATTEMPT}}",
# "{{PAYLOAD}}"]; each placeholder arrives as exactly one argument, never
# split or interpreted, so the payload is only ever data here too ("$3").
# Payload: a JSON string, or {"text": "..."}. Result (written to
# $POPEBOT_JOB_RESULT): {"job", "attempt", "lines", "words", "chars"}.
# Progress lines go to stdout, which is the job's log.
set -euo pipefail
job=${1:?job id} attempt=${2:?attempt} payload=${3:?payload}

# JSON to text with python3 (the payload is never evaluated by the shell)
text=$(python3 -c '
import json, sys
p = json.loads(sys.argv[1])
t = p.get("text") if isinstance(p, dict) else p
if not isinstance(t, str):
    sys.exit("textstats: payload must be a JSON string or {\"text\": string}")
sys.stdout.write(t)' "$payload")

echo "textstats: job $job attempt $attempt, ${#text} characters"
read -r lines words chars < <(printf '%s\n' "$text" | wc -l -w -m)
chars=$((chars - 1))                    # without the newline added above
printf '{"job":"%s","attempt":%d,"lines":%d,"words":%d,"chars":%d}\n' \
  "$job" "$attempt" "$lines" "$words" "$chars" >"$POPEBOT_JOB_RESULT"
echo "textstats: done"
