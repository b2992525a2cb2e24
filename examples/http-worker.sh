#!/usr/bin/env bash
# examples/http-worker.sh — a worker that speaks HTTP only, in bash with
# curl (and python3 for the JSON). It registers nothing itself: make a
# registration first (POST /api/clusters, or "Register worker" in the UI)
# and give it the id and token that answer returns:
#   POPEBOT_URL=http://127.0.0.1:8080 POPEBOT_WORKER_ID=ID \
#   POPEBOT_WORKER_TOKEN=TOKEN examples/http-worker.sh [--max-jobs=N] [--wait=S]
# It long-polls GET /api/cluster/ID/jobs/next?wait=S, runs each job's command
# as the ZeroMQ worker would (placeholders substituted, the payload on stdin,
# POPEBOT_JOB_* in a clean environment, its own work directory, the role's
# timeout), streams the job's output as log reports every second on
# POST /api/cluster/ID/webhook (a status report naming the job when there is
# none, so the lease is kept), and then reports the result: the JSON the job
# wrote to $POPEBOT_JOB_RESULT, else its output (stdout and stderr together)
# as a string. Exit 0 is succeeded, anything else failed (retried while the
# role allows). One job at a time; the registration's slots should be 1.
# Differences from the real worker: no process-group kill on cancel (a
# cancelled job runs to its end and its reports get 409), no mount namespace,
# {{PAYLOAD}} is the payload re-serialized, {{WORKER_NAME}} is the id.
# Stops after --max-jobs jobs (default: never) or on SIGTERM/SIGINT after
# the current poll and job.
set -euo pipefail

url=${POPEBOT_URL:-http://127.0.0.1:8080}
id=${POPEBOT_WORKER_ID:?set POPEBOT_WORKER_ID (from POST /api/clusters)}
: "${POPEBOT_WORKER_TOKEN:?set POPEBOT_WORKER_TOKEN (from POST /api/clusters)}"
max_jobs=0 poll_wait=20
for a in "$@"; do
  case $a in
    --max-jobs=*) max_jobs=${a#*=} ;;
    --wait=*) poll_wait=${a#*=} ;;
    *) echo "usage: http-worker.sh [--max-jobs=N] [--wait=SECONDS]" >&2; exit 2 ;;
  esac
done
base="$url/api/cluster/$id"
work=$(mktemp -d "${TMPDIR:-/tmp}/popebot-http-worker.XXXXXX")
chmod 700 "$work"
stop=0
trap 'stop=1' TERM INT
trap 'rm -rf "$work"' EXIT

say() { echo "http-worker $id: $*" >&2; }

# http METHOD URL [BODY-FILE]: prints the answer body, then its status line
http() {
  local args=(-sS -X "$1" -w '\n%{http_code}' -H @-)
  [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$3")
  printf 'x-api-key: %s\n' "$POPEBOT_WORKER_TOKEN" | curl "${args[@]}" "$2" || echo "000"
}
status_of() { tail -n 1 <<<"$1"; }

report() {   # report BODY-FILE: POST it to the webhook; warn unless 200
  local out
  out=$(http POST "$base/webhook" "$1")
  [ "$(status_of "$out")" = 200 ] || say "report refused: $(tr '\n' ' ' <<<"$out")"
}

# python3 helpers: turn a lease into argv/env files, log lines and results into bodies
py() {
  python3 - "$@" <<'PY'
import json, os, re, shlex, sys
cmd, d = sys.argv[1], sys.argv[2]

def prepare(worker):
    lease = json.load(open(f"{d}/lease.json"))
    payload = json.dumps(lease["payload"], separators=(",", ":"), ensure_ascii=False)
    open(f"{d}/payload", "w").write(payload)
    values = {"JOB_ID": lease["job_id"], "ATTEMPT": str(lease["attempt"]),
              "WORKER_ID": worker, "WORKER_NAME": worker, "WORK_DIR": f"{d}/run",
              "ROLE": lease["role"], "PAYLOAD": payload}

    def fill(text, quote):
        def one(m):
            if m.group(1) not in values:
                sys.exit(f"unknown placeholder {{{{{m.group(1)}}}}}")
            return shlex.quote(values[m.group(1)]) if quote else values[m.group(1)]
        return re.sub(r"\{\{([A-Z_]+)\}\}", one, text)

    command = lease["command"]
    if not command:                       # the built-in roles
        if lease["role"] == "echo":
            argv = ["cat"]
        elif lease["role"] == "sleep":
            argv = ["sleep", str(lease["payload"].get("ms", 0) / 1000)]
        else:
            sys.exit(f"built-in role {lease['role']} is not known here")
    elif lease["shell"]:
        argv = ["/bin/sh", "-c", fill(command[0], True)]
    else:
        argv = [fill(a, False) for a in command]
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR",
                                       "USER", "LOGNAME", "TERM") if k in os.environ}
    env.update(lease["env"])
    env.update({"POPEBOT_JOB_ID": lease["job_id"], "POPEBOT_JOB_ATTEMPT": str(lease["attempt"]),
                "POPEBOT_JOB_WORKER_ID": worker, "POPEBOT_JOB_ROLE": lease["role"],
                "POPEBOT_JOB_WORK_DIR": f"{d}/run", "POPEBOT_JOB_RESULT": f"{d}/result",
                "POPEBOT_JOB_PAYLOAD_FILE": f"{d}/payload"})
    if len(payload) <= 65536:
        env["POPEBOT_JOB_PAYLOAD"] = payload
    open(f"{d}/argv", "w").write("".join(a + "\0" for a in argv))
    open(f"{d}/env", "w").write("".join(f"{k}={v}\0" for k, v in env.items()))
    print(lease["job_id"], lease["attempt"], lease["timeout_ms"], lease["role"] == "echo")

def log(final):
    """The output's new complete lines (all of it when final) as a log body."""
    off = int(open(f"{d}/offset").read() or 0)
    data = open(f"{d}/out", "rb").read()[off:]
    if not final:
        data = data[:data.rfind(b"\n") + 1]
    if not data:
        return
    open(f"{d}/offset", "w").write(str(off + len(data)))
    lines = data.decode(errors="replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    lease = json.load(open(f"{d}/lease.json"))
    print(json.dumps({"type": "log", "job_id": lease["job_id"], "attempt": lease["attempt"],
                      "lines": lines}))

def result(rc, echo):
    lease = json.load(open(f"{d}/lease.json"))
    body = {"type": "result", "job_id": lease["job_id"], "attempt": lease["attempt"],
            "status": "succeeded" if rc == 0 else "failed", "exit_code": rc}
    try:
        body["result"] = json.load(open(f"{d}/result"))
    except (OSError, ValueError):
        body["result"] = (lease["payload"] if echo == "True" else
                          open(f"{d}/out", "rb").read().decode(errors="replace"))
    if rc == 124:
        body["error"] = f"timed out after {lease['timeout_ms']} ms"
    elif rc != 0:
        err = open(f"{d}/prepare.err").read().strip() if rc == 125 else ""
        body["error"] = err or f"exit status {rc}"
    print(json.dumps(body))

if cmd == "prepare":
    prepare(sys.argv[3])
elif cmd == "log":
    log(sys.argv[3] == "final")
elif cmd == "result":
    result(int(sys.argv[3]), sys.argv[4])
PY
}

flush_log() {   # flush_log DIR [final]: report new output lines; 1 when there were none
  py log "$1" "${2:-}" >"$1/log.json"
  [ -s "$1/log.json" ] || return 1
  report "$1/log.json"
}

reporter() {    # reporter DIR JOB: every second, new lines or (every 10 s) a status
  local quiet=0 tick=0
  while [ ! -e "$1/stop" ]; do
    sleep 0.2                     # looks for the stop file five times a second
    tick=$(((tick + 1) % 5))
    [ "$tick" = 0 ] || continue
    if flush_log "$1"; then quiet=0; continue; fi
    quiet=$((quiet + 1))
    if [ "$quiet" -ge 10 ]; then
      printf '{"type":"status","state":"online","running":["%s"]}' "$2" >"$1/status.json"
      report "$1/status.json"
      quiet=0
    fi
  done
}

run_job() {     # run_job DIR: the lease is in DIR/lease.json
  local d=$1 job attempt timeout_ms echo rc=0 reporter_pid
  : >"$d/out"; echo 0 >"$d/offset"; mkdir -m 700 "$d/run"
  if ! read -r job attempt timeout_ms echo < <(py prepare "$d" "$id" 2>"$d/prepare.err"); then
    job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job_id"])' "$d/lease.json")
    say "job $job: $(cat "$d/prepare.err")"
    py result "$d" 125 False >"$d/result.json"; report "$d/result.json"; return
  fi
  say "job $job attempt $attempt"
  local argv=() env=() limit=()
  mapfile -d '' argv <"$d/argv"
  mapfile -d '' env <"$d/env"
  [ "$timeout_ms" -gt 0 ] && limit=(timeout -k 5 "$(awk "BEGIN{print $timeout_ms/1000}")")
  reporter "$d" "$job" &
  reporter_pid=$!
  (cd "$d/run" && exec env -i "${env[@]}" "${limit[@]}" "${argv[@]}") \
    <"$d/payload" >"$d/out" 2>&1 || rc=$?
  touch "$d/stop"; wait "$reporter_pid" || true
  flush_log "$d" final || true
  py result "$d" "$rc" "$echo" >"$d/result.json"
  report "$d/result.json"
  say "job $job ended: exit $rc"
}

done_jobs=0
say "polling $base/jobs/next"
while [ "$stop" = 0 ] && { [ "$max_jobs" = 0 ] || [ "$done_jobs" -lt "$max_jobs" ]; }; do
  answer=$(http GET "$base/jobs/next?wait=$poll_wait")
  code=$(status_of "$answer")
  case $code in
    200)
      d="$work/job-$done_jobs"
      mkdir -m 700 "$d"
      sed '$d' <<<"$answer" >"$d/lease.json"
      run_job "$d"
      rm -rf "$d"
      done_jobs=$((done_jobs + 1)) ;;
    204) ;;
    401|403|404) say "refused ($code): $(sed '$d' <<<"$answer")"; exit 1 ;;
    *) say "poll failed ($code); again in 2 s"; sleep 2 ;;
  esac
done
say "stopping after $done_jobs jobs"
