#!/usr/bin/env bash
# Benchmarks the API of a real daemon over loopback with wrk (Debian's `wrk` package).
#
#   scripts/bench_api.sh [--tasks N] [--duration 10s] [--binary PATH] [--connections "1 50"]
#                        [--seed-binary PATH] [--state DIR]
#
# Seeds a fresh state dir with N tasks (`nightshift bench seed`: a night's status mix), starts
# `nightshift serve` on it (no backlog; one worker parked on a sleeping agent so the store stays
# quiet), then runs health, list, get, count, pipeline-status and deep paging (offset and
# cursor) at each connection count and prints req/s, p50, p99, the daemon's CPU per request
# and the list/health ratio. Figures, not pass/fail: the machine is shared and noisy, so read
# the ratios and compare runs made back to back. --seed-binary seeds with another build than the
# one measured (an older daemon, to measure before and after on the same data). --state DIR
# keeps the seeded state dir (seeded only when it has no store yet), so a million tasks are
# seeded once for several runs.
set -euo pipefail

tasks=10000
duration=10s
binary=.build/release/nightshift
seed_binary=""
state=""
connections="1 50"
while [ $# -gt 0 ]; do
  case "$1" in
    --tasks) tasks="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --seed-binary) seed_binary="$2"; shift 2 ;;
    --state) state="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_api: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "bench_api: wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }
[ -x "$binary" ] || { echo "bench_api: no binary at $binary (swift build -c release)" >&2; exit 2; }

work=$(mktemp -d /tmp/nightshift-bench-api.XXXXXX)
daemon=""
cleanup() {
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"; wait "$daemon" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/nightshift.yaml" <<'YAML'
runner:
  workers: 1
  drain_timeout: 0
  executors:
    default: { command: "sleep 3600" }
project_manager: { backlog: "" }
YAML

state=${state:-$work/state}
if [ ! -f "$state/nightshift.sqlite" ]; then
  "${seed_binary:-$binary}" bench seed --state-dir "$state" --tasks "$tasks"
fi
rm -f "$state/daemon.json"
NIGHTSHIFT_LOG_STDERR=0 "$binary" serve --state-dir "$state" --port 0 --config "$work/nightshift.yaml" \
  2> "$work/serve.stderr" > /dev/null &
daemon=$!
url=""
for _ in $(seq 1 600); do
  if [ -f "$state/daemon.json" ]; then
    url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$state/daemon.json" 2>/dev/null || true)
    if [ -n "$url" ] && curl -fs "$url/api/ready" >/dev/null 2>&1; then break; fi
  fi
  kill -0 "$daemon" 2>/dev/null || { echo "bench_api: the daemon exited:" >&2; cat "$work/serve.stderr" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "bench_api: the daemon did not become ready" >&2; exit 1; }

id=$(curl -fs "$url/api/agent/tasks?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["id"])')
tasks=$(curl -fs "$url/api/agent/tasks/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
half=$((tasks / 2))
cursor=$(curl -fs "$url/api/agent/tasks?limit=1&offset=$half" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("next") or "")')
list_bytes=$(curl -fs "$url/api/agent/tasks?limit=20" | wc -c)

# CPU seconds (user + system) the daemon has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$daemon/stat"; }
# Converts wrk's latency ("512.00us", "1.20ms", "2.00s") to milliseconds.
ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }

declare -A rps
printf '%d tasks; a list of 20 is %d bytes; %s per run; daemon pid %d\n\n' "$tasks" "$list_bytes" "$duration" "$daemon"
printf '%-34s %5s %10s %9s %9s %12s\n' "endpoint" "conns" "req/s" "p50 ms" "p99 ms" "CPU ms/req"
run() {
  local name="$1" path="$2" c="$3" threads=1
  [ "$c" -gt 1 ] && threads=2
  local before after out
  before=$(cpu)
  out=$(wrk -t"$threads" -c"$c" -d"$duration" --latency "$url$path")
  after=$(cpu)
  local r p50 p99 n
  r=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
  n=$(echo "$out" | awk '/requests in/ { print $1 }')
  p50=$(echo "$out" | awk '$1 == "50%" { print $2 }' | ms)
  p99=$(echo "$out" | awk '$1 == "99%" { print $2 }' | ms)
  if echo "$out" | grep -q "Non-2xx"; then echo "bench_api: $path answered errors:" >&2; echo "$out" >&2; exit 1; fi
  rps["$name/$c"]=$r
  printf '%-34s %5d %10.0f %9.3f %9.3f %12.3f\n' "$name" "$c" "$r" "$p50" "$p99" \
    "$(awk -v a="$before" -v b="$after" -v n="$n" 'BEGIN { print (b - a) * 1000 / n }')"
}
for c in $connections; do
  run "health" "/api/health" "$c"
  run "list (limit 20)" "/api/agent/tasks?limit=20" "$c"
  run "list (limit 1)" "/api/agent/tasks?limit=1" "$c"
  run "list (limit 20, fields=id,status)" "/api/agent/tasks?limit=20&fields=id,status" "$c"
  run "get" "/api/agent/tasks/$id" "$c"
  run "count" "/api/agent/tasks/count" "$c"
  run "pipeline-status" "/api/agent/pipeline-status" "$c"
  run "list offset $half" "/api/agent/tasks?limit=20&offset=$half" "$c"
  if [ -n "$cursor" ]; then run "list after a cursor at $half" "/api/agent/tasks?limit=20&after=$cursor" "$c"; fi
done
echo
for c in $connections; do
  awk -v l="${rps["list (limit 20)/$c"]}" -v h="${rps["health/$c"]}" -v c="$c" \
    'BEGIN { printf "list/health at %d connection(s): %.1f %%\n", c, l / h * 100 }'
done
printf 'daemon RSS after the runs: %s\n' "$(awk '/VmRSS/ { print $2, $3 }' "/proc/$daemon/status")"
