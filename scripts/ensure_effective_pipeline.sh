#!/usr/bin/env bash
# Pipeline effectiveness check (RUNBOOK "Pipeline Recovery", step 1): is the daemon reachable,
# do its monitoring endpoints answer, is version tracking in place, how well is the pipeline
# doing, and what must a human do now.
#
# Exit status: 0 all good; 1 attention needed (fatal issues, open critical/high monitor issues,
# an endpoint failing); 2 the API is unreachable; 64 bad usage.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/ensure_effective_pipeline.sh [--url URL] [--state-dir DIR]

  --url URL        the daemon (default: $NIGHTSHIFT_URL, else http://127.0.0.1:8000)
  --state-dir DIR  its state dir, for pipeline_version.json and fatal_issues.json
                   (default: $NIGHTSHIFT_STATE_DIR, else logs)
  $NIGHTSHIFT_API_TOKEN, when set, is sent as the bearer token (off loopback reads need it)

Checks /api/health, /api/agent/metrics, /api/agent/monitor-issues, /api/agent/effectiveness
and /api/agent/pipeline-status, version tracking and the services' heartbeats; prints an
effectiveness summary and the required actions. Exits 0 when nothing needs attention,
1 when something does, 2 when the API is unreachable.
EOF
}

url="${NIGHTSHIFT_URL:-http://127.0.0.1:8000}"
state_dir="${NIGHTSHIFT_STATE_DIR:-logs}"
while [ $# -gt 0 ]; do
    case "$1" in
        --url) [ $# -ge 2 ] || { usage >&2; exit 64; }; url="$2"; shift 2 ;;
        --url=*) url="${1#--url=}"; shift ;;
        --state-dir) [ $# -ge 2 ] || { usage >&2; exit 64; }; state_dir="$2"; shift 2 ;;
        --state-dir=*) state_dir="${1#--state-dir=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 64 ;;
    esac
done

command -v python3 >/dev/null 2>&1 || { echo "python3 is required" >&2; exit 64; }

exec python3 - "${url%/}" "$state_dir" <<'PY'
import json, os, sys, urllib.error, urllib.request

url, state_dir = sys.argv[1], sys.argv[2]
attention = False
actions = []


def get(path, timeout=5):
    """(status, parsed JSON or None, error text or None)"""
    try:
        request = urllib.request.Request(url + path)
        token = os.environ.get("NIGHTSHIFT_API_TOKEN", "")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(request, timeout=timeout) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    except Exception as e:  # connection refused, timeout, bad URL
        return None, None, str(getattr(e, "reason", e))
    try:
        return status, json.loads(body), None
    except ValueError:
        return status, None, "not JSON"


def read_json(name):
    path = os.path.join(state_dir, name)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        return {"_error": f"{path}: {e}"}


def fatal_from_file():
    """The file's fatal issues; one that cannot be read is itself one (fail closed)."""
    data = read_json("fatal_issues.json") or {}
    if "_error" in data:
        return [{"condition": "state_file_unreadable", "reason": data["_error"], "detail": "fix or remove the file"}]
    return data.get("issues", [])


def line(ok, what, detail=""):
    print(f"  [{'ok' if ok else 'FAIL'}] {what}" + (f" — {detail}" if detail else ""))


def pct(x):
    return "n/a" if x is None else f"{round(x * 100)}%"


print(f"Nightshift effectiveness check: {url} (state dir {state_dir})")
print()
print("Checks:")
status, health, err = get("/api/health")
if status != 200:
    line(False, "API reachable (/api/health)", err or f"HTTP {status}")
    print()
    print("Required actions:")
    print(f"  ! the API at {url} does not answer: start the daemon (`nightshift serve`, or")
    print("    `scripts/run_overnight_pipeline.sh` for the watchdog), then run this again")
    fatal = fatal_from_file()
    for i in fatal:
        print(f"  ! FATAL {i.get('condition')}: {i.get('reason')} → {i.get('detail')}")
    sys.exit(2)
line(True, "API reachable (/api/health)")

results = {}
for name, path in [("metrics", "/api/agent/metrics"), ("monitor-issues", "/api/agent/monitor-issues"),
                   ("effectiveness", "/api/agent/effectiveness"), ("pipeline-status", "/api/agent/pipeline-status"),
                   ("fatal-issues", "/api/agent/fatal-issues")]:
    status, body, err = get(path)
    ok = status == 200 and isinstance(body, dict)
    results[name] = body if ok else None
    line(ok, f"{name} endpoint ({path})", "" if ok else (err or f"HTTP {status}"))
    if not ok:
        attention = True
        actions.append(f"{path} fails ({err or f'HTTP {status}'}): check api.log; restart the daemon if it persists")

version = read_json("pipeline_version.json")
_, running_version, _ = get("/api/version")
running_sha = (running_version or {}).get("git_sha")
if version is None:
    line(True, "version tracking", "no pipeline_version.json yet: the watchdog writes it at each start "
         "(run under `nightshift watchdog` / scripts/run_overnight_pipeline.sh)")
elif "_error" in version:
    line(False, "version tracking", version["_error"])
else:
    line(True, "version tracking", f"pipeline_version.json: git {version.get('git_sha')} started {version.get('started_at')}"
         + (f"; daemon reports git {running_sha}" if running_sha else ""))


def alive(pid):
    if not isinstance(pid, int) or pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


# A daemon started by the watchdog must still have it: otherwise nothing restarts it.
daemon_pid = (health or {}).get("pid")
if version is None:
    line(True, "watchdog", "not started under the watchdog (no pipeline_version.json): nothing restarts the daemon if it dies")
elif "_error" not in version:
    wd = version.get("watchdog_pid")
    if not alive(wd):
        why = f"its watchdog (pid {wd}) is gone" if wd else f"its watchdog stopped at {version.get('stopped_at') or '?'}"
        line(False, "watchdog", f"the daemon (pid {daemon_pid}) runs without its watchdog: {why}")
        attention = True
        actions.append("the daemon runs unsupervised: stop it (SIGTERM) and start scripts/run_overnight_pipeline.sh")
    elif daemon_pid is not None and version.get("pid") != daemon_pid:
        line(False, "watchdog", f"the watchdog (pid {wd}) supervises pid {version.get('pid')}, but the daemon answering is pid {daemon_pid}")
        attention = True
        actions.append(f"a daemon (pid {daemon_pid}) runs beside the watchdog's: stop it (SIGTERM)")
    else:
        line(True, "watchdog", f"pid {wd} supervises the daemon (pid {daemon_pid})")

ps = results.get("pipeline-status") or {}
components = ps.get("components") or {}
for name in ["agent_runner", "monitor"]:
    c = components.get(name)
    if c is None:
        line(False, f"{name} alive", "no heartbeat yet")
        attention = True
        actions.append(f"{name} has not reported: check {name}.log and `nightshift status`")
    else:
        line(True, f"{name} alive", f"last beat {c.get('age_seconds')} s ago")

eff = results.get("effectiveness") or {}
issues = (results.get("monitor-issues") or {}).get("issues") or []
open_issues = [i for i in issues if i.get("resolved_at") is None]
print()
print("Effectiveness:")
t = eff.get("throughput") or {}
print(f"  throughput:      {t.get('completed_last_hour', 'n/a')} completed in the last hour, "
      f"{t.get('completed_last_day', 'n/a')} in the last day")
print(f"  success rate:    {pct(eff.get('success_rate'))}")
iss = eff.get("issues") or {}
mttr = eff.get("mean_time_to_resolve_seconds")
print(f"  monitor issues:  {len(open_issues)} open, {iss.get('resolved_7d', 'n/a')} resolved in 7 days"
      + (f", mean time to resolve {round(mttr)} s" if isinstance(mttr, (int, float)) else ""))
b = eff.get("backlog_progress")
if isinstance(b, dict):
    print(f"  backlog:         {b.get('done')}/{b.get('total')} done, {b.get('active')} active, "
          f"{b.get('blocked')} blocked, {b.get('queued')} queued")
print(f"  goal proximity:  {eff.get('goal_proximity', 'n/a')}")

for i in open_issues:
    sev = i.get("severity")
    text = f"[{sev}] {i.get('condition')} {i.get('subject')} ({i.get('id')}): {i.get('message')} → {i.get('suggested_action')}"
    if sev in ("critical", "high"):
        attention = True
        actions.insert(0, text)
    else:
        actions.append(text)
fatal = (results.get("fatal-issues") or {}).get("issues")
if fatal is None:
    fatal = fatal_from_file()
for i in fatal:
    attention = True
    actions.insert(0, f"FATAL {i.get('condition')}: {i.get('reason')} → {i.get('detail')} (then `nightshift fatal --clear`)")
for t in ps.get("needs_decision") or []:
    actions.append(f"task {t.get('id')} waits for a decision: `nightshift tasks decide {t.get('id')} <decision>`")

print()
print("Required actions:")
if not actions:
    print("  none: the pipeline is healthy")
for a in actions:
    print(f"  ! {a}")
print()
print("ATTENTION NEEDED" if attention else "OK")
sys.exit(1 if attention else 0)
PY
