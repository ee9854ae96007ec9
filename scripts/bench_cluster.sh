#!/usr/bin/env bash
# Benchmarks several daemons sharing one PostgreSQL store (issue 17).
#
#   scripts/bench_cluster.sh --url postgres://user@host:port/db [--nodes "1 2 3"] [--tasks N]
#                            [--sleep S] [--workers W] [--binary PATH]
#
# For each node count: a fresh schema, that many `nightshift serve` daemons (W workers each, an
# agent that sleeps S seconds), N tasks posted round-robin, and the wall time until every task
# completed: tasks/s and the speed-up over one node. Then, on three nodes, the leader is killed
# with SIGKILL mid-run: the time until another node leads and until every task completed.
# Figures, not pass/fail: the machine is shared, so read the ratios. Without --url it uses
# NIGHTSHIFT_TEST_POSTGRES_URL (`scripts/test_postgres.sh` starts a loopback cluster).
set -euo pipefail

url="${NIGHTSHIFT_TEST_POSTGRES_URL:-}"
nodes_list="1 2 3"
tasks=300
sleep_s=0.5
workers=4
binary=.build/release/nightshift
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url="$2"; shift 2 ;;
    --nodes) nodes_list="$2"; shift 2 ;;
    --tasks) tasks="$2"; shift 2 ;;
    --sleep) sleep_s="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_cluster: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$url" ] || { echo "bench_cluster: no --url (or NIGHTSHIFT_TEST_POSTGRES_URL)" >&2; exit 2; }
[ -x "$binary" ] || { echo "bench_cluster: no binary at $binary (swift build -c release)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench_cluster: curl is not installed" >&2; exit 2; }

work=$(mktemp -d /tmp/nightshift-bench-cluster.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # The scratch schemas go with the run (psql from Debian's postgresql-client, when present).
  if command -v psql >/dev/null; then
    for d in "$work"/nsbench_cluster_*; do
      [ -d "$d" ] && psql "$url" -q -c "DROP SCHEMA IF EXISTS $(basename "$d") CASCADE" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
sep() { case "$url" in *\?*) echo "&" ;; *) echo "?" ;; esac; }

# start_nodes SCHEMA N: starts N daemons on the schema; their URLs in $work/SCHEMA/url.K
start_nodes() {
  local schema=$1 n=$2
  mkdir -p "$work/$schema"
  printf '#!/bin/sh\nsleep %s\necho done\n' "$sleep_s" > "$work/agent.sh"
  for k in $(seq 1 "$n"); do
    cat > "$work/$schema/node$k.yaml" <<EOF
runner:
  workers: $workers
  lease: 3s
  kill_grace: 300ms
  poll_interval: 1s
  executors:
    default: { command: "/bin/sh $work/agent.sh" }
project_manager:
  backlog: ""
store:
  url: "$url$(sep)schema=$schema"
node:
  id: node-$k
  heartbeat: 250ms
  lease: 2s
EOF
    NIGHTSHIFT_LOG_STDERR=0 "$binary" serve --config "$work/$schema/node$k.yaml" --state-dir "$work/$schema/state$k" \
      --port 0 >/dev/null 2>"$work/$schema/node$k.err" &
    pids+=($!)
    echo $! > "$work/$schema/pid.$k"
  done
  for k in $(seq 1 "$n"); do
    local f="$work/$schema/state$k/daemon.json" i=0
    until [ -s "$f" ] && curl -fs "$(sed -n 's/.*"url" *: *"\([^"]*\)".*/\1/p' "$f")/api/ready" >/dev/null 2>&1; do
      i=$((i + 1)); [ $i -lt 600 ] || { echo "bench_cluster: node $k did not start: $(tail -3 "$work/$schema/node$k.err")" >&2; exit 1; }
      sleep 0.1
    done
    sed -n 's/.*"url" *: *"\([^"]*\)".*/\1/p' "$f" > "$work/$schema/url.$k"
  done
}

post_tasks() {
  local schema=$1 n=$2
  for i in $(seq 0 $((tasks - 1))); do
    local k=$(( i % n + 1 ))
    curl -fs -X POST "$(cat "$work/$schema/url.$k")/api/agent/tasks" -H 'Content-Type: application/json' \
      -d "{\"direction\":\"job $i\",\"task_type\":\"impl\"}" >/dev/null
  done
}

completed() { curl -fs "$1/api/agent/tasks/count" | sed -n 's/.*"completed" *: *\([0-9]*\).*/\1/p'; }

wait_done() {
  local base=$1 i=0
  until [ "$(completed "$base")" = "$tasks" ]; do
    i=$((i + 1)); [ $i -lt 12000 ] || { echo "bench_cluster: tasks did not complete" >&2; exit 1; }
    sleep 0.05
  done
}

stop_nodes() {
  local schema=$1
  for f in "$work/$schema"/pid.*; do kill -TERM "$(cat "$f")" 2>/dev/null || true; done
  for f in "$work/$schema"/pid.*; do while kill -0 "$(cat "$f")" 2>/dev/null; do sleep 0.05; done; done
}

echo "bench_cluster: $tasks tasks of sleep $sleep_s s, $workers workers a node, $binary"
base_rate=""
for n in $nodes_list; do
  schema="nsbench_cluster_$$_$n"
  start_nodes "$schema" "$n"
  t0=$(now)
  post_tasks "$schema" "$n"
  wait_done "$(cat "$work/$schema/url.1")"
  t1=$(now)
  rate=$(echo "$tasks / ($t1 - $t0)" | bc -l)
  [ -n "$base_rate" ] || base_rate=$rate
  printf '%d node(s): %6.1f tasks/s (%.2fx one node; ideal %d x %d workers / %s s = %.1f tasks/s)\n' \
    "$n" "$rate" "$(echo "$rate / $base_rate" | bc -l)" "$n" "$workers" "$sleep_s" "$(echo "$n * $workers / $sleep_s" | bc -l)"
  stop_nodes "$schema"
done

# Failover: three nodes, the leader killed once a fifth of the tasks completed.
schema="nsbench_cluster_$$_kill"
start_nodes "$schema" 3
post_tasks "$schema" 3
first=$(cat "$work/$schema/url.1")
leader=$(curl -fs "$first/api/agent/nodes" | sed -n 's/.*"leader" *: *"\([^"]*\)".*/\1/p')
k=${leader#node-}
survivor=$(( k % 3 + 1 ))
until [ "$(completed "$first")" -ge $((tasks / 5)) ]; do sleep 0.05; done
t0=$(now)
kill -KILL "$(cat "$work/$schema/pid.$k")"
rm "$work/$schema/pid.$k"
until new=$(curl -fs "$(cat "$work/$schema/url.$survivor")/api/agent/nodes" | sed -n 's/.*"leader" *: *"\([^"]*\)".*/\1/p') \
  && [ -n "$new" ] && [ "$new" != "$leader" ]; do sleep 0.02; done
t1=$(now)
wait_done "$(cat "$work/$schema/url.$survivor")"
t2=$(now)
printf 'leader %s killed: %s leads after %.2f s; every task completed %.2f s after the kill\n' \
  "$leader" "$new" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t0" | bc -l)"
stop_nodes "$schema"
