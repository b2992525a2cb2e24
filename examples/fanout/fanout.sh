#!/usr/bin/env bash
# examples/fanout/fanout.sh — the "fanout" role (examples/fanout/roles.json):
# a job that submits sub-jobs, waits for them and aggregates their results
# into its own. Payload {"n": N} (1..100; or {"numbers": [..]}): one
# "square" sub-job per number, all submitted at once with
# `popebot-node submit square --payload=K --wait --json`; the result is
# {"n", "numbers", "squares", "sum", "jobs"}. The job fails (exit 1) when
# any sub-job does not succeed (square refuses numbers of 10 digits or more),
# naming it.
# The sub-jobs are submitted with the CLI's own identity, found as the CLI
# always finds it: a key directory enrolled once with a join token (by
# default $HOME/.config/popebot of the worker's user; or POPEBOT_KEY_DIR,
# POPEBOT_COORDINATOR, POPEBOT_DATA_DIR set in the role's env). popebot-node
# must be on the job's PATH.
# Sub-jobs need free slots: a fanout job waits in one slot while its
# sub-jobs run, so keep the mesh's slots above the number of fanout jobs
# running at once (the role's max_concurrency can bound them).
set -euo pipefail
payload=${1:?payload}
work=${POPEBOT_JOB_WORK_DIR:-$(mktemp -d)}

python3 -c '
import json, sys
p = json.loads(sys.argv[1])
nums = p.get("numbers") if isinstance(p, dict) and "numbers" in p else \
       list(range(1, p["n"] + 1)) if isinstance(p, dict) and isinstance(p.get("n"), int) else None
if not nums or len(nums) > 100 or not all(type(x) is int and 0 <= x < 10**18 for x in nums):
    sys.exit("fanout: payload must be {\"n\": 1..100} or {\"numbers\": [up to 100 integers >= 0]}")
print("\n".join(map(str, nums)))' "$payload" >"$work/numbers"
mapfile -t numbers <"$work/numbers"

echo "fanout: ${#numbers[@]} sub-jobs"
pids=()
for i in "${!numbers[@]}"; do
  popebot-node submit square --payload="${numbers[$i]}" --wait --json \
    >"$work/sub-$i.json" 2>"$work/sub-$i.err" &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed=$((failed + 1))
    echo "fanout: sub-job for ${numbers[$i]} did not succeed: $(tail -n 1 "$work/sub-$i.err")" >&2
  fi
done
[ "$failed" -eq 0 ] || { echo "fanout: $failed of ${#numbers[@]} sub-jobs failed" >&2; exit 1; }

python3 - "$work" "${#numbers[@]}" >"$POPEBOT_JOB_RESULT" <<'PY'
import json, sys
work, count = sys.argv[1], int(sys.argv[2])
subs = [json.load(open(f"{work}/sub-{i}.json")) for i in range(count)]
numbers = [s["payload"] for s in subs]
squares = [s["result"] for s in subs]
json.dump({"n": count, "numbers": numbers, "squares": squares, "sum": sum(squares),
           "jobs": [s["id"] for s in subs]}, sys.stdout)
PY
echo "fanout: all ${#numbers[@]} sub-jobs succeeded"
