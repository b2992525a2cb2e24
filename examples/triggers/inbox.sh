#!/usr/bin/env bash
# examples/triggers/inbox.sh — the "inbox" role (examples/triggers/roles.json):
# started by a file watch on the coordinator's /srv/popebot/inbox. The job's
# payload is the trigger's own payload plus "trigger": {"type": "watch",
# "paths": [the changed paths], "truncated": bool}. This script reads it from
# $POPEBOT_JOB_PAYLOAD_FILE (python3 parses it; the shell never evaluates
# it), counts the lines of each changed file that still exists (a deleted
# or moved-away file is a change too) and writes
# {"files": N, "gone": M, "lines": L, "paths": [...]} as the job's result.
# The worker must see the same files: run it on the coordinator's host, or
# mount the directory on the workers the role's "where" labels pick.
set -euo pipefail
job=${1:-$POPEBOT_JOB_ID}

python3 - "$POPEBOT_JOB_PAYLOAD_FILE" "$POPEBOT_JOB_RESULT" "$job" <<'PY'
import json, os, sys
payload_file, result_file, job = sys.argv[1:4]
p = json.load(open(payload_file, encoding="utf-8"))
t = p.get("trigger") if isinstance(p, dict) else None
if not isinstance(t, dict) or t.get("type") != "watch":
    sys.exit("inbox: started without a watch trigger (submit a payload with a \"trigger\")")
files = gone = lines = 0
for path in t.get("paths", []):
    if not os.path.isfile(path):
        gone += 1
        print(f"inbox: {path}: gone")
        continue
    with open(path, "rb") as f:
        n = sum(1 for _ in f)
    files += 1
    lines += n
    print(f"inbox: {path}: {n} line(s)")
if t.get("truncated"):
    print("inbox: more files changed than the payload lists")
with open(result_file, "w", encoding="utf-8") as out:
    json.dump({"files": files, "gone": gone, "lines": lines, "paths": t.get("paths", [])}, out)
print(f"inbox: job {job} done")
PY
