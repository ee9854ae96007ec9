#!/usr/bin/env python3
"""A fake `codex exec --json ...` that replays codex-exec.jsonl (FAKE_MODE=replay, FAKE_DELAY
seconds between lines) or, with FAKE_MODE=limit-once, first the usage-limit failure of
codex-exec-failed.jsonl with "try again in FAKE_RESET seconds" (exit 1) and a replay after.
Appends its argv to FAKE_LOG when set."""
import json, os, sys, time

here = os.path.dirname(os.path.abspath(__file__))
if os.environ.get("FAKE_LOG"):
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps({"argv": sys.argv[1:]}) + "\n")
mode = os.environ.get("FAKE_MODE", "replay")
delay = float(os.environ.get("FAKE_DELAY", "0"))


def play(name, edit=lambda l: l):
    with open(os.path.join(here, name)) as f:
        lines = [edit(l) for l in f if l.strip()]
    for i, line in enumerate(lines):
        sys.stdout.write(line.rstrip("\n") + "\n")
        sys.stdout.flush()
        if delay and i < len(lines) - 1:
            time.sleep(delay)


if mode == "limit-once":
    counter = os.environ["FAKE_COUNT"]
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(n + 1))
    if n == 0:
        reset = os.environ.get("FAKE_RESET", "3")
        play("codex-exec-failed.jsonl", lambda l: l.replace("2 hours 14 minutes", "%s seconds" % reset))
        sys.exit(1)
play("codex-exec.jsonl")
