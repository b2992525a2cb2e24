# shellcheck shell=bash disable=SC2154,SC2034  # bin, dir, SLOTS come from the caller; mesh_* go to it
# bench/mesh.sh — sourced by bench/run and bench/events: start and stop a
# coordinator with two echo workers on loopback, secure (CURVE, as
# production runs) or --insecure, several meshes at once if asked.
#
# The caller sets: bin (popebot-node), dir (a scratch directory), SLOTS.
#   mesh_start NAME DURABILITY SECURE [COORDINATOR FLAGS...]
#     SECURE=1: the coordinator makes DIR/NAME/data/curve/ at its start; the
#     workers enrol with one join token (POPEBOT_JOIN, a --key-dir each);
#     the CLI and bench_client use the coordinator's local client key
#     (--data-dir). SECURE=0: --insecure on every node and client.
#     HTTP is off unless the flags give --http=ADDR:PORT.
#     Sets mesh_ep[NAME], mesh_data[NAME], mesh_cli[NAME] (flags for a CLI
#     command) and mesh_client[NAME] (flags for bench_client).
#   mesh_stop NAME; mesh_stop_all
#   mesh_cpu NAME: "COORDINATOR WORKERS", the CPU time (user + system, all
#     threads) each has used so far, in microseconds; less disturbed by
#     other load on the machine than a rate is.
#   cpu_per_job BEFORE AFTER JOBS: "coord_cpu_us_per_job=.. workers_cpu_us_per_job=.."
#   median: reads numbers, one a line, prints their median.
declare -A mesh_ep=() mesh_data=() mesh_cli=() mesh_client=() mesh_pids=()
mesh_port=$(( 20000 + RANDOM % 20000 ))
mesh_tck=$(getconf CLK_TCK)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mesh_fail() {
  echo "bench: $*" >&2
  exit 1
}

# Until the CLI is answered and sees N workers online (10 s at most).
mesh_wait_workers() { # name n
  local out
  for _ in $(seq 100); do
    # shellcheck disable=SC2086
    if out=$("$bin" workers --coordinator="${mesh_ep[$1]}" ${mesh_cli[$1]} --json \
             --timeout=1s 2>/dev/null) &&
       [ "$(grep -o '"online"' <<<"$out" | wc -l)" -ge "$2" ]; then
      return 0
    fi
    sleep 0.1
  done
  mesh_fail "mesh $1: no answer with $2 workers online after 10 s"
}

mesh_start() { # name durability secure [coordinator flags...]
  local name=$1 durability=$2 secure=$3 root="$dir/$1" token="" n
  shift 3
  mesh_port=$(( mesh_port + 1 ))
  mesh_ep[$name]="tcp://127.0.0.1:$mesh_port"
  mesh_data[$name]="$root/data"
  rm -rf "$root"
  mkdir -p "$root"
  local insecure=() http=(--http=off)
  [[ " $* " == *" --http="* ]] && http=()
  if [ "$secure" = 1 ]; then
    mesh_cli[$name]="--data-dir=$root/data"
    mesh_client[$name]="--data-dir=$root/data"
  else
    insecure=(--insecure)
    mesh_cli[$name]="--insecure"
    mesh_client[$name]=""
  fi
  "$bin" --role=coordinator --bind="${mesh_ep[$name]}" --data-dir="$root/data" \
    --durability="$durability" "${http[@]}" "${insecure[@]}" --log-level=warn "$@" &
  mesh_pids[$name]=$!
  mesh_wait_workers "$name" 0          # answering (and, secure, its keys made)
  if [ "$secure" = 1 ]; then
    token=$("$bin" join-token --data-dir="$root/data" --coordinator="${mesh_ep[$name]}" \
            --ttl=1h | tail -n 1)
    [ -n "$token" ] || mesh_fail "mesh $name: no join token"
  fi
  for n in 1 2; do
    local keys=()
    [ "$secure" = 1 ] && keys=(--key-dir="$root/k$n")
    POPEBOT_JOIN=$token "$bin" --role=worker --coordinator="${mesh_ep[$name]}" --name="bench-$n" \
      --roles=echo --slots="$SLOTS" --work-dir="$root/w$n" "${insecure[@]}" "${keys[@]}" \
      --log-level=error &
    mesh_pids[$name]+=" $!"
  done
  mesh_wait_workers "$name" 2
}

s_cpu_ticks() { # pid: utime + stime (fields 14, 15; comm may hold spaces)
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

mesh_cpu() { # name
  local p coord="" workers=0
  for p in ${mesh_pids[$1]}; do
    if [ -z "$coord" ]; then coord=$(s_cpu_ticks "$p"); else workers=$(( workers + $(s_cpu_ticks "$p") )); fi
  done
  echo "$(( coord * 1000000 / mesh_tck )) $(( workers * 1000000 / mesh_tck ))"
}

cpu_per_job() { # "before" "after" jobs
  local b a
  read -r -a b <<<"$1"
  read -r -a a <<<"$2"
  awk -v c=$(( a[0] - b[0] )) -v w=$(( a[1] - b[1] )) -v n="$3" \
    'BEGIN {printf "coord_cpu_us_per_job=%.2f workers_cpu_us_per_job=%.2f", c / n, w / n}'
}

mesh_stop() { # name
  local p
  for p in ${mesh_pids[$1]:-}; do kill -TERM "$p" 2>/dev/null || true; done
  for p in ${mesh_pids[$1]:-}; do wait "$p" 2>/dev/null || true; done
  unset "mesh_pids[$1]"
}

mesh_stop_all() {
  local name
  for name in "${!mesh_pids[@]}"; do mesh_stop "$name"; done
}
