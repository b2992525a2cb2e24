#!/usr/bin/env bash
# examples/quickstart.sh — a whole mesh on this machine in one go: a
# coordinator and three workers on free loopback ports (secure: the workers
# enroll with a join token, the CLI uses the coordinator's --data-dir), 100
# jobs submitted, a summary of how they ended and a few results, then
# everything stopped again (also on Ctrl-C or an error) and its temp dir
# removed.
# Finds popebot-node on PATH, else in build/ of this repository.
# Environment: QUICKSTART_PORT, QUICKSTART_HTTP_PORT (default: free ports),
# QUICKSTART_JOBS (default 100), QUICKSTART_KEEP=1 keeps the temp dir.
# Exit status 0 only if every job succeeded.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
bin=$(command -v popebot-node || true)
[ -n "$bin" ] || bin="$repo/build/popebot-node"
[ -x "$bin" ] || { echo "quickstart: popebot-node not on PATH nor in $repo/build (run make)" >&2; exit 2; }

free_port() {   # a port nobody listens on now (the kernel picks it)
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=${QUICKSTART_PORT:-$(free_port)}
http_port=${QUICKSTART_HTTP_PORT:-$(free_port)}
njobs=${QUICKSTART_JOBS:-100}
ep="tcp://127.0.0.1:$port"
dir=$(mktemp -d "${TMPDIR:-/tmp}/popebot-quickstart.XXXXXX")
pids=()
submitter=

cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  echo "quickstart: stopping (workers drain first)"
  [ -z "$submitter" ] || kill -TERM "$submitter" 2>/dev/null || true
  for p in "${pids[@]:1}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]:1}"; do wait "$p" 2>/dev/null || true; done
  if [ "${#pids[@]}" -gt 0 ]; then
    kill -TERM "${pids[0]}" 2>/dev/null || true
    wait "${pids[0]}" 2>/dev/null || true
  fi
  if [ "${QUICKSTART_KEEP:-0}" = 1 ]; then echo "quickstart: logs kept in $dir"; else rm -rf "$dir"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cli() { "$bin" "$@" --coordinator="$ep" --data-dir="$dir/data"; }

echo "quickstart: $bin, coordinator $ep, HTTP 127.0.0.1:$http_port, files in $dir"
"$bin" --role=coordinator --bind="$ep" --http="127.0.0.1:$http_port" --data-dir="$dir/data" \
  --roles-file="$here/roles.json" --durability=none 2>"$dir/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do    # the coordinator makes its CURVE keys at start
  [ -e "$dir/data/curve/client.key" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$dir/coordinator.log" >&2; exit 1; }
  sleep 0.1
done

# one join token, three uses: each worker makes and keeps its own key
token=$("$bin" join-token --data-dir="$dir/data" --coordinator="$ep" --uses=3 --ttl=10m | tail -n 1)
for n in 1 2 3; do
  POPEBOT_JOIN="$token" "$bin" --role=worker --coordinator="$ep" --key-dir="$dir/keys-$n" \
    --name="quickstart-$n" --roles=echo,shout,wordcount --slots=4 \
    --work-dir="$dir/work-$n" 2>"$dir/worker-$n.log" &
  pids+=($!)
done
online=0
for _ in $(seq 100); do
  online=$(cli workers --json --timeout=1s 2>/dev/null | grep -o '"state":"online"' | wc -l || true)
  [ "$online" -ge 3 ] && break
  sleep 0.2
done
[ "$online" -ge 3 ] || { echo "quickstart: the workers did not come online; see $dir/*.log" >&2; QUICKSTART_KEEP=1; exit 1; }
cli workers

# 100 jobs of three roles, submitted eight at a time; each submit prints the id
echo
echo "quickstart: submitting $njobs jobs"
submit_one() { "$bin" submit "$1" --payload="$2" --coordinator="$ep" --data-dir="$dir/data" --timeout=5s; }
export -f submit_one
export bin ep dir
# NUL-separated pairs (role, payload); $1 and $2 are the inner bash's
# shellcheck disable=SC2016
for i in $(seq "$njobs"); do
  case $((i % 3)) in
    0) printf 'echo\0{"n":%d}\0' "$i" ;;
    1) printf 'shout\0"job %d says hello"\0' "$i" ;;
    2) printf 'wordcount\0"job %d has five words"\0' "$i" ;;
  esac
done | xargs -0 -n 2 -P 8 bash -c 'submit_one "$1" "$2"' submit >"$dir/ids" &
submitter=$!          # in the background, so Ctrl-C is handled at once
wait "$submitter"
submitter=
[ "$(wc -l <"$dir/ids")" -eq "$njobs" ] || { echo "quickstart: not every submit was taken" >&2; exit 1; }

# wait until every job has ended, then count the states
count() { grep -o "\"state\":\"$1\"" "$dir/jobs.json" | wc -l || true; }
for _ in $(seq 600); do
  cli jobs --json --limit="$njobs" >"$dir/jobs.json"
  [ $(( $(count queued) + $(count scheduled) + $(count running) )) -eq 0 ] && break
  sleep 0.2
done
succeeded=$(count succeeded)
echo
echo "== results"
echo "$njobs jobs: $succeeded succeeded, $(count failed) failed, $(count timed_out) timed out," \
  "$(count dead) dead, $(count cancelled) cancelled," \
  "$(( $(count queued) + $(count scheduled) + $(count running) )) not finished"
echo "per worker:"
grep -o '"worker":"[^"]*"' "$dir/jobs.json" | sort | uniq -c | sed 's/"worker":/  /'
echo "a few results:"
for id in $(head -n 3 "$dir/ids"); do
  printf '  %s  %s\n' "$id" "$(cli job "$id" --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["role"], json.dumps(j["payload"]), "->", json.dumps(j["result"]))')"
done
[ "$succeeded" -eq "$njobs" ]
