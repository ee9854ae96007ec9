#!/usr/bin/env bash
# demo_agent.sh — an offline stand-in for a coding agent, so the pipeline runs end to end
# without network or API keys. Usage: bash scripts/demo_agent.sh "<direction>"
#
# Reads NIGHTSHIFT_TASK_ID, NIGHTSHIFT_TASK_TYPE, NIGHTSHIFT_ATTEMPT, NIGHTSHIFT_DECISION
# (set when resumed after a human decision) and NIGHTSHIFT_RESULT_FILE (where the result JSON
# goes; nothing is written when unset). It always prints two fake secrets so redaction can be
# demonstrated. The outcome is deterministic, chosen by directives in the direction:
#
#   [fail]         print an error and exit 1
#   [fail-once]    fail on attempt 1, succeed on later attempts
#   [decide]       ask for a decision (result status needs_decision, exit 0); once resumed with
#                  NIGHTSHIFT_DECISION, print "decision received: <value>" and succeed
#                  (fail when the decision is "no")
#   [review-fail]  in a review task, the first time for its backlog item: write
#                  {"verdict":"fail","feedback":...} (a failed review, exit 0), so the item goes
#                  back to impl once; later reviews of the item pass. The state dir
#                  ($NIGHTSHIFT_STATE_DIR/demo_agent/) remembers which items failed already.
#                  Tasks of other types ignore it.
#   [contract-miss] in a spec task, the first time for its backlog item: a summary without
#                  headings, so a spec contract (project_manager.contracts.spec.summary.headings)
#                  sends the item back to spec once; later specs of the item end their summary
#                  with "## Verification", "## Risks" and "## Known gaps" sections. Remembered
#                  in the state dir like [review-fail]; tasks of other types ignore it.
#   [hang]         spawn a background grandchild `sleep 3600`, then sleep 3600 (timeout demo)
#   [quiet]        print nothing at all, then sleep 3600 (stall demo)
#   [claude-json]  print a Claude Code `--output-format json` result line instead of writing the
#                  result file, so cost and tokens must be parsed from the output
#
# Environment knobs: DEMO_AGENT_SPEED (seconds per progress step, default 0.5) and
# DEMO_AGENT_RANDOM=1 (without directives: fail ~15% and ask for a decision ~10% of runs).
set -u

DIRECTION="$*"
TASK_ID="${NIGHTSHIFT_TASK_ID:-task_local}"
TASK_TYPE="${NIGHTSHIFT_TASK_TYPE:-impl}"
ATTEMPT="${NIGHTSHIFT_ATTEMPT:-1}"
DECISION="${NIGHTSHIFT_DECISION:-}"
SPEED="${DEMO_AGENT_SPEED:-0.5}"

say() { printf '[demo-agent] %s\n' "$*"; }
fail() { printf '[demo-agent] error: %s\n' "$*" >&2; exit 1; }
step() { say "$1"; sleep "$SPEED" 2>/dev/null || true; }
has() { [[ "$DIRECTION" == *"$1"* ]]; }

# A JSON string literal: escapes backslashes, quotes and control characters.
json_str() {
    local s
    s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    s=${s//$'\t'/\\t}
    printf '"%s"' "$s"
}

# Writes one JSON object to $NIGHTSHIFT_RESULT_FILE, when the runner gave one.
write_result() {
    [ -n "${NIGHTSHIFT_RESULT_FILE:-}" ] || return 0
    printf '%s\n' "$1" >"$NIGHTSHIFT_RESULT_FILE"
}

ask_decision() {
    local prompt="Proceed with the risky migration? (yes/no)"
    say "need a human decision: $prompt"
    write_result "{\"status\":\"needs_decision\",\"decision_prompt\":$(json_str "$prompt")}"
    exit 0
}

if has "[quiet]"; then
    sleep 3600
    exit 0
fi

say "task $TASK_ID ($TASK_TYPE), attempt $ATTEMPT"
step "reading the codebase..."
step "planning the change..."
say "debug: export OPENAI_API_KEY=sk-demo1234567890abcdefghij"
say "debug: curl -H 'Authorization: Bearer demo-token-abcdef123456' https://example.invalid/v1"
step "editing files..."
step "running checks..."

if has "[hang]"; then
    say "hanging (timeout demo); a grandchild sleeps too"
    sleep 3600 &
    sleep 3600
    exit 0
fi

has "[fail]" && fail "the build broke: 3 tests failed (demo [fail])"
if has "[fail-once]" && [ "$ATTEMPT" = "1" ]; then
    fail "flaky failure on attempt 1 (demo [fail-once])"
fi

if [ -n "$DECISION" ]; then
    say "decision received: $DECISION"
    lowered=$(printf '%s' "$DECISION" | tr '[:upper:]' '[:lower:]')
    [ "$lowered" = "no" ] && fail "stopping: the decision was \"$DECISION\""
elif has "[decide]"; then
    ask_decision
fi

# Fails the first review of each item, and only that: the fix-loop directions still carry the
# item's text, so a marker is what lets the second review pass.
if has "[review-fail]" && [ "$TASK_TYPE" = "review" ]; then
    marker_dir="${NIGHTSHIFT_STATE_DIR:-${TMPDIR:-/tmp}}/demo_agent"
    marker="$marker_dir/review-failed-${NIGHTSHIFT_BACKLOG_ITEM:-$TASK_ID}"
    if [ ! -e "$marker" ]; then
        mkdir -p "$marker_dir" && : >"$marker"
        say "review verdict: fail"
        write_result '{"verdict":"fail","feedback":"tests do not cover the error path"}'
        exit 0
    fi
    say "this item's review failed once already: passing it now"
fi

if [ "${DEMO_AGENT_RANDOM:-0}" = "1" ]; then
    roll=$((RANDOM % 100))
    [ "$roll" -lt 15 ] && fail "random failure (roll $roll, DEMO_AGENT_RANDOM=1)"
    [ "$roll" -lt 25 ] && [ -z "$DECISION" ] && ask_decision
fi

summary="Demo agent finished the $TASK_TYPE task: ${DIRECTION:0:80}"

# Misses the spec contract once per item: the looped spec's direction still carries the item's
# text, so a marker is what lets the second spec meet it.
if has "[contract-miss]" && [ "$TASK_TYPE" = "spec" ]; then
    marker_dir="${NIGHTSHIFT_STATE_DIR:-${TMPDIR:-/tmp}}/demo_agent"
    marker="$marker_dir/contract-missed-${NIGHTSHIFT_BACKLOG_ITEM:-$TASK_ID}"
    if [ ! -e "$marker" ]; then
        mkdir -p "$marker_dir" && : >"$marker"
        say "writing a spec summary without its sections (demo [contract-miss])"
    else
        summary="$summary"$'\n\n## Verification\nswift test --filter Demo\n\n## Risks\nnone known\n\n## Known gaps\nnone'
    fi
fi

if has "[claude-json]"; then
    printf '{"type":"result","subtype":"success","is_error":false,"duration_ms":2150,"duration_api_ms":1800,"num_turns":3,"result":%s,"session_id":"0b6f3c1e-5a2d-4e0b-9d51-2f8a7c4e1b90","total_cost_usd":0.1873,"usage":{"input_tokens":18234,"cache_creation_input_tokens":5120,"cache_read_input_tokens":40960,"output_tokens":2311}}\n' \
        "$(json_str "$summary")"
    exit 0
fi

verdict=""
[ "$TASK_TYPE" = "review" ] && verdict=',"verdict":"pass"'
write_result "{\"summary\":$(json_str "$summary"),\"cost_usd\":0.01,\"tokens_in\":1200,\"tokens_out\":300$verdict}"
say "done: $summary"
exit 0
