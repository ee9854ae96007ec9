#!/usr/bin/env bash
# Start the overnight pipeline (docs/RUNBOOK.md "Starting the overnight pipeline"): build the
# nightshift binary when it is missing or older than the sources, then run `nightshift watchdog`,
# which runs the daemon (`serve`) as its child and restarts it when it crashes, hangs, or when
# restart_requested.json appears. Runs in the foreground; Ctrl-C or SIGTERM stop it gracefully.
#
# Exit status: the watchdog's (0 clean stop, 1 runtime failure, 2 bad config or usage,
# 3 crash loop: see fatal_issues.json), or the daemon's with --no-watchdog.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/run_overnight_pipeline.sh [--config FILE] [--hours N] [--no-watchdog] [--release]
                                         [-- more nightshift options]

  --config FILE   the config (default: $NIGHTSHIFT_CONFIG, else config/nightshift.yaml)
  --hours N       the overnight window: stop creating new work after N hours (running work finishes)
  --no-watchdog   run `nightshift serve` directly: no restarts
  --release       build and run the release binary (.build/release/nightshift)
  -- ...          passed on, e.g. -- --port 8001 --state-dir /srv/nightshift

Runs from the repository root, so relative paths in the config (backlog, scripts, state_dir)
are relative to it.
EOF
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config=""
hours=""
watchdog=1
configuration=debug
while [ $# -gt 0 ]; do
    case "$1" in
        --config) [ $# -ge 2 ] || { usage >&2; exit 2; }; config="$2"; shift 2 ;;
        --config=*) config="${1#--config=}"; shift ;;
        --hours) [ $# -ge 2 ] || { usage >&2; exit 2; }; hours="$2"; shift 2 ;;
        --hours=*) hours="${1#--hours=}"; shift ;;
        --no-watchdog) watchdog=0; shift ;;
        --release) configuration=release; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        *) echo "run_overnight_pipeline.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

if [ -n "$hours" ] && ! [[ "$hours" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "run_overnight_pipeline.sh: --hours must be a number, got \"$hours\"" >&2
    exit 2
fi
if [ -n "$config" ]; then
    [ -f "$config" ] || { echo "run_overnight_pipeline.sh: no config file $config" >&2; exit 2; }
    # Absolute before changing directory, so a path relative to the caller still works.
    config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
fi

cd "$root"
bin=".build/$configuration/nightshift"
if [ ! -x "$bin" ] || [ -n "$(find Sources Package.swift -newer "$bin" -print -quit 2>/dev/null)" ]; then
    echo "run_overnight_pipeline.sh: building $bin" >&2
    if [ "$configuration" = release ]; then
        make --no-print-directory deps
        swift build -c release
    else
        make --no-print-directory build
    fi
fi

args=()
[ -n "$config" ] && args+=(--config "$config")
[ -n "$hours" ] && args+=(--hours "$hours")
if [ "$watchdog" = 1 ]; then
    exec "$bin" watchdog "${args[@]}" "$@"
else
    exec "$bin" serve "${args[@]}" "$@"
fi
