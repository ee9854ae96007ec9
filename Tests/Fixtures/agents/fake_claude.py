#!/usr/bin/env python3
"""A fake `claude -p ... --output-format stream-json --verbose` that replays the fixtures in this
directory. What it does is chosen by FAKE_MODE (FAKE_RESUME_MODE when called with --resume):

  replay      the whole stream of claude-code-stream.jsonl, FAKE_DELAY seconds between lines;
              with FAKE_GATE set it waits for that file to exist before the result line
  spend       assistant events costing about $0.30 each (100k input tokens of sonnet) forever
  limit-once  the first call: the usage-limit result with a reset FAKE_RESET seconds ahead, exit 1;
              later calls: replay (FAKE_COUNT names the counter file)
  ask         replay, and ask a decision through $NIGHTSHIFT_RESULT_FILE
  idle        the init event, then plain lines that are no agent event, forever
  budget      the --max-budget-usd result (claude-code-budget-stop.json), exit 1

Every call appends {"argv", "session", "resume", "max_budget"} to FAKE_LOG when set, and its pid to
FAKE_PIDS when set.
"""
import json, os, sys, time

here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]


def opt(name):
    if name in args:
        i = args.index(name)
        return args[i + 1] if i + 1 < len(args) else None
    return None


resume = opt("--resume")
session = resume or opt("--session-id") or "no-session"
if os.environ.get("FAKE_LOG"):
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps({"argv": args, "session": session, "resume": resume, "max_budget": opt("--max-budget-usd")}) + "\n")
if os.environ.get("FAKE_PIDS"):
    with open(os.environ["FAKE_PIDS"], "a") as f:
        f.write("%d\n" % os.getpid())
mode = (os.environ.get("FAKE_RESUME_MODE") if resume else None) or os.environ.get("FAKE_MODE", "replay")
delay = float(os.environ.get("FAKE_DELAY", "0"))
fixture_session = "0b6f3c1e-5a2d-4e0b-9d51-2f8a7c4e1b90"


def emit(line):
    sys.stdout.write(line.rstrip("\n") + "\n")
    sys.stdout.flush()


def replay():
    with open(os.path.join(here, "claude-code-stream.jsonl")) as f:
        lines = [l.replace(fixture_session, session) for l in f if l.strip()]
    for i, line in enumerate(lines):
        if i == len(lines) - 1 and os.environ.get("FAKE_GATE"):
            while not os.path.exists(os.environ["FAKE_GATE"]):
                time.sleep(0.02)
        emit(line)
        if delay and i < len(lines) - 1:
            time.sleep(delay)


init = {"type": "system", "subtype": "init", "session_id": session, "model": "claude-sonnet-4-5", "tools": ["Bash"]}
if mode == "limit-once":
    counter = os.environ["FAKE_COUNT"]
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(n + 1))
    if n == 0:
        with open(os.path.join(here, "claude-code-usage-limit.json")) as f:
            line = f.read().replace("1764633600", str(int(time.time()) + int(os.environ.get("FAKE_RESET", "3"))))
        emit(line)
        sys.exit(1)
    replay()
elif mode == "spend":
    emit(json.dumps(init))
    n = 0
    while True:
        n += 1
        emit(json.dumps({"type": "assistant", "message": {"id": "msg_%d" % n, "model": "claude-sonnet-4-5",
              "content": [{"type": "tool_use", "name": "Bash", "input": {}}],
              "usage": {"input_tokens": 100000, "output_tokens": 0, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}},
              "session_id": session}))
        emit(json.dumps({"type": "user", "message": {"content": [{"type": "tool_result", "content": "ok"}]}}))
        time.sleep(delay or 0.05)
elif mode == "ask":
    replay()
    with open(os.environ["NIGHTSHIFT_RESULT_FILE"], "w") as f:
        json.dump({"status": "needs_decision", "decision_prompt": "Use the retry policy of RFC 9110?"}, f)
elif mode == "idle":
    emit(json.dumps(init))
    while True:
        emit("still thinking...")
        time.sleep(0.05)
elif mode == "budget":
    with open(os.path.join(here, "claude-code-budget-stop.json")) as f:
        emit(f.read())
    sys.exit(1)
else:
    replay()
