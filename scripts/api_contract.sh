#!/usr/bin/env bash
# The REST contract checked from outside: starts `nightshift serve` on a throwaway state dir with
# an empty backlog and runs schemathesis (property-based tests generated from api/openapi.yaml)
# against it, mutating operations included. Exits non-zero on any mismatch between the server
# and the spec, or when the daemon does not start or does not stop cleanly on SIGTERM.
#
# Usage: scripts/api_contract.sh [BINARY]     (default .build/debug/nightshift; builds nothing)
# Environment:
#   API_CONTRACT_EXAMPLES  test cases per operation (default 700: about 5,000 cases in about a minute here)
#   API_CONTRACT_SEED      hypothesis seed (default 20261201, so every run sends the same cases)
#   API_CONTRACT_VENV      where schemathesis is installed (default .build/schemathesis-venv)
set -euo pipefail
# A binary given relative to the caller's directory stays valid after the cd below.
BIN="${1:-}"
if [ -n "$BIN" ] && [ "${BIN#/}" = "$BIN" ]; then BIN="$PWD/$BIN"; fi
cd "$(dirname "$0")/.."
BIN="${BIN:-.build/debug/nightshift}"
EXAMPLES="${API_CONTRACT_EXAMPLES:-700}"
SEED="${API_CONTRACT_SEED:-20261201}"
VENV="${API_CONTRACT_VENV:-.build/schemathesis-venv}"
# Pinned: the CLI flags and check names below are this version's (checked with `st run --help`).
ST_VERSION=4.32.5
# Every check of this version except the authorization ones (the daemon runs without a token
# here; AuthTests and OffLoopbackAuthTests cover auth) and those that need links between
# operations, which the spec does not declare.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,positive_data_acceptance,missing_required_header,unsupported_method,allow_header_conformance

say() { echo "api_contract: $*" >&2; }

[ -x "$BIN" ] || { say "no executable at $BIN (run swift build first)"; exit 2; }

# schemathesis, installed once per build dir: a venv when python3 can make one, else a plain
# target directory (Debian's system python may lack venv and refuses installs into itself).
st() {
  if [ -x "$VENV/bin/st" ]; then
    "$VENV/bin/st" "$@"
  else
    PYTHONPATH="$VENV/lib" python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "st"; sys.exit(schemathesis())' "$@"
  fi
}
if ! st --version 2>/dev/null | grep -qF "$ST_VERSION"; then
  say "installing schemathesis $ST_VERSION into $VENV"
  rm -rf "$VENV"
  if python3 -m venv "$VENV" >/dev/null 2>&1 && [ -x "$VENV/bin/pip" ]; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
  else
    rm -rf "$VENV"
    python3 -m pip install --quiet --disable-pip-version-check --target "$VENV/lib" "schemathesis==$ST_VERSION"
  fi
  st --version | grep -qF "$ST_VERSION" || { say "schemathesis $ST_VERSION did not install"; exit 2; }
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/nightshift-contract.XXXXXX")"
STATE="$WORK/state"
DAEMON_PID=""
# SIGTERM, then wait for the exit (a drain) up to $1 seconds before SIGKILL. The daemon is our
# child, so it lingers as a zombie until waited for and kill -0 cannot tell it has exited: wait
# for whichever ends first, the daemon or a timer (bash 5.1+ `wait -n -p`). Sets DAEMON_STATUS.
stop_daemon() {
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  sleep "$1" &
  local timer=$! first=""
  DAEMON_STATUS=0
  wait -n -p first "$DAEMON_PID" "$timer" || DAEMON_STATUS=$?
  if [ "$first" = "$timer" ]; then
    say "the daemon did not stop within $1 s of SIGTERM; killing it"
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_STATUS=124
  else
    kill "$timer" 2>/dev/null || true
    wait "$timer" 2>/dev/null || true
  fi
  DAEMON_PID=""
}
cleanup() {
  if [ -n "$DAEMON_PID" ]; then stop_daemon 10; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# No backlog (the project manager stays idle), an agent that exits at once (tasks the run
# creates finish quickly and cheaply), no restart requests from the monitor, and the Telegram
# webhook on.
cat > "$WORK/nightshift.yaml" <<'YAML'
server: { host: 127.0.0.1, port: 0, token: "" }
project_manager: { backlog: "" }
runner:
  executors:
    default: { command: "true" }
monitor: { auto_recover: false, auto_fix: false }
# The secret api/schemathesis.toml sends; no user is allowed, so no chat command runs.
notify: { telegram: { secret: contract-secret } }
YAML

# The environment must not point this daemon at another config, port, token or state dir.
env -u NIGHTSHIFT_CONFIG -u NIGHTSHIFT_HOST -u NIGHTSHIFT_PORT -u NIGHTSHIFT_STATE_DIR -u NIGHTSHIFT_API_TOKEN \
  NIGHTSHIFT_LOG_STDERR=0 "$BIN" serve --config "$WORK/nightshift.yaml" --state-dir "$STATE" --port 0 \
  >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
DAEMON_PID=$!

# daemon.json names the bound port once the daemon listens; then /api/ready must answer 200.
URL="$(python3 - "$STATE/daemon.json" "$DAEMON_PID" <<'PY'
import json, os, sys, time, urllib.request
path, pid, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the daemon exited during startup")
    try:
        info = json.load(open(path))
        if info.get("pid") == pid:
            with urllib.request.urlopen(info["url"] + "/api/ready", timeout=2) as r:
                if r.status == 200:
                    print(info["url"])
                    sys.exit(0)
    except (OSError, ValueError, KeyError):
        pass
    time.sleep(0.1)
sys.exit("the daemon was not ready within 60 s")
PY
)" || { say "daemon did not become ready"; cat "$WORK/daemon.err" >&2; exit 1; }
say "daemon $DAEMON_PID ready at $URL; schemathesis $ST_VERSION, seed $SEED, $EXAMPLES examples per operation"

started=$SECONDS
status=0
# /api/agent/events and /api/logs/tail are streams that never end by themselves; LiveServerTests
# and LogsLiveTests cover them. /mcp speaks JSON-RPC (a method name, not a REST body, picks what
# happens; tools/call creates tasks), so MCPHTTPTests drive it with the SDK's own client.
st --config-file api/schemathesis.toml run api/openapi.yaml --url "$URL" \
  --checks "$CHECKS" --seed "$SEED" --max-examples "$EXAMPLES" \
  --exclude-path /api/agent/events --exclude-path /api/logs/tail --exclude-path /mcp \
  --workers 1 --request-timeout 10 --generation-database none --no-color \
  || status=$?
say "schemathesis finished in $((SECONDS - started)) s with exit code $status"

stop_daemon 30
if [ "$DAEMON_STATUS" -ne 0 ]; then
  say "the daemon exited $DAEMON_STATUS on SIGTERM (expected 0 within 30 s)"
  cat "$WORK/daemon.err" >&2
  status=1
fi
# A 5xx is caught above; an error the API logged but answered politely is a bug too.
if grep -q ' ERROR \[api\]' "$STATE/api.log" 2>/dev/null; then
  say "api.log has errors:"
  grep ' ERROR \[api\]' "$STATE/api.log" | head -20 >&2
  status=1
fi
exit "$status"
