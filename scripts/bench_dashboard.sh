#!/usr/bin/env bash
# The dashboard's figures (issue 14): the time from a task's transition to the browser's DOM
# showing it (headless Chromium over WebDriver, p50/p99 over 50 transitions), then the weight
# and server time of / with 10,000 tasks and the morning report's build time for a run of 500
# tasks (`nightshift bench dashboard`, release build).
#
# Usage: scripts/bench_dashboard.sh   (needs chromium and chromium-driver; builds what it runs)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
NIGHTSHIFT_BENCH_DOM=1 swift test --skip-build --filter DashboardLatencyBenchmark 2>&1 | grep -E "transition → dashboard DOM|✘|passed|failed" || true
swift build -c release --product nightshift
.build/release/nightshift bench dashboard "$@"
