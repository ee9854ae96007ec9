import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// Real agents, faked: `fake_claude.py` and `fake_codex.py` replay the fixtures as real
/// subprocesses of a real runner over a real store. Live metering, budget stops and their
/// answers, usage-limit pauses that end by themselves, session resume, idle agents.
@Suite("Agents: structured executors end to end", .timeLimit(.minutes(2)))
struct StructuredAgentTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/agents").path

    static func claude(
        _ h: RuntimeHarness, env: [String: String] = [:], resume: Bool = true, maxTurns: Int = 0
    )
        -> NightshiftConfig.Executor
    {
        var e = NightshiftConfig.Executor(
            command:
                "python3 \(fixtures)/fake_claude.py -p {direction} --output-format stream-json --verbose --session-id {session_id} --max-budget-usd {max_budget_usd}",
            env: ["FAKE_LOG": h.path("calls.jsonl")].merging(env) { _, new in new }, format: .claudeStreamJSON,
            maxTurns: maxTurns)
        if resume {
            e.resumeCommand =
                "python3 \(fixtures)/fake_claude.py -p {decision} --resume {session_id} --output-format stream-json --verbose"
        }
        return e
    }

    /// The fake's calls, oldest first.
    static func calls(_ h: RuntimeHarness) -> [[String: JSONValue]] {
        h.read(h.path("calls.jsonl")).split(separator: "\n").compactMap { JSONValue.parse(String($0))?.objectValue }
    }

    static func groupGone(_ task: AgentTask) async throws {
        let pgid = try #require(task.pgid)
        try await RuntimeHarness.waitUntil("process group \(pgid) gone") { ProcessGroup.liveMembers(pgid).isEmpty }
    }

    @Test("cost, tokens, turns and the last tool update while the agent runs, and reconcile with its reported total")
    func liveMetering() async throws {
        let h = try RuntimeHarness()
        let gate = h.path("gate")
        let env = h.environment { $0.runner.executors = ["default": Self.claude(h, env: ["FAKE_GATE": gate])] }
        let meters = env.events.subscribeMeters()
        let seen = Locked<[AgentTask]>([])
        let watcher = Task { for await t in meters { seen.withLock { $0.append(t) } } }
        defer { watcher.cancel() }
        let task = try await h.store.create(.make(direction: "implement the retry policy", now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) { () async throws -> AgentTask in
            // Every event but the result is out: the task shows them while it still runs.
            try await RuntimeHarness.waitUntil("metered while running") {
                let t = try await h.store.get(task.id)
                return t.status == .running && t.turns == 3 && t.lastTool == "Bash"
            }
            let live = try await h.store.get(task.id)
            #expect(live.costSource == "estimated")
            #expect(abs((live.costUSD ?? 0) - 0.0415623) < 1e-6)
            #expect(live.tokensIn == 4662 + 18971 + 5120)
            #expect(live.tokensOut == 179)
            #expect(live.tokensCacheRead == 18971)
            #expect(live.tokensCacheWrite == 5120)
            #expect(live.model == "claude-sonnet-4-5")
            #expect(live.lastEventAt != nil)
            let session = try #require(Self.calls(h).first?["session"]?.stringValue)
            #expect(live.sessionID == session)
            try await RuntimeHarness.waitUntil("the metering published") {
                seen.value.contains { $0.id == task.id && $0.turns == 3 && $0.status == .running }
            }
            FileManager.default.createFile(atPath: gate, contents: Data())
            return try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .completed)
        #expect(done.costUSD == 0.0419)
        #expect(done.costSource == "reported")
        #expect(done.turns == 3)
        #expect(done.summary == "Implemented the retry policy and added three tests.")
        // No cap: the preset's --max-budget-usd gets a figure no run reaches.
        #expect(Self.calls(h).first?["max_budget"]?.stringValue == "999999.00")
    }

    @Test("a task over its cap is stopped mid-run with its group gone, asks to continue, and `continue +1` resumes its session")
    func budgetStopAndContinue() async throws {
        let h = try RuntimeHarness()
        let env = h.environment {
            $0.runner.executors = ["default": Self.claude(h, env: ["FAKE_MODE": "spend", "FAKE_RESUME_MODE": "replay"])]
            $0.budget.perTaskUSD = 0.5
        }
        let task = try await h.store.create(.make(direction: "spend until stopped", now: Date()))
        try await h.withRunner(AgentRunner(env: env)) {
            let stopped = try await h.waitForStatus(task.id, [.needsDecision, .failed, .completed])
            #expect(stopped.status == .needsDecision)
            #expect(stopped.errorClass == "budget_exceeded")
            // Each call costs $0.30: the second one crosses $0.50; the group goes before many more.
            let spent = try #require(stopped.costUSD)
            #expect(spent >= 0.5 && spent < 0.5 + 0.9)
            #expect(stopped.decisionPrompt?.contains("reached its cap of $0.50") == true)
            #expect(stopped.decisionPrompt?.contains("continue +2.00") == true)
            try await Self.groupGone(stopped)
            #expect(Self.calls(h).first?["max_budget"]?.stringValue == "0.50")

            let resumed = try await env.ledger.decide(id: task.id, decision: "continue +1", by: "operator", now: Date())
            #expect(resumed.status == .pending)
            #expect(abs((resumed.budgetUSD ?? 0) - (spent + 1)) < 1e-9)
            let done = try await h.waitForStatus(task.id, [.completed, .failed, .needsDecision])
            #expect(done.status == .completed)
            #expect(done.attempt == 1)
            // The spend of both attempts: the stopped one's metered total plus the resumed one's report.
            #expect(abs((done.costUSD ?? 0) - (spent + 0.0419)) < 1e-9)
        }
        let calls = Self.calls(h)
        #expect(calls.count == 2)
        #expect(calls[1]["resume"] == calls[0]["session"])
        #expect(calls[1]["argv"]?.arrayValue?.contains(.string("Continue where you stopped; your budget was raised.")) == true)
    }

    @Test("Claude's own --max-budget-usd stop asks too, and any answer but continue fails it as budget_exceeded")
    func budgetDeclined() async throws {
        let h = try RuntimeHarness()
        let env = h.environment {
            $0.runner.executors = ["default": Self.claude(h, env: ["FAKE_MODE": "budget"])]
            $0.budget.perTaskUSD = 2
        }
        let task = try await h.store.create(.make(direction: "big job", now: Date()))
        try await h.withRunner(AgentRunner(env: env)) {
            let asked = try await h.waitForStatus(task.id, [.needsDecision, .failed, .completed])
            #expect(asked.status == .needsDecision)
            #expect(asked.errorClass == "budget_exceeded")
            #expect(asked.costUSD == 1.0063)
            #expect(asked.costSource == "reported")
            let failed = try await env.ledger.decide(id: task.id, decision: "stop here", by: "operator", now: Date())
            #expect(failed.status == .failed)
            #expect(failed.errorClass == "budget_exceeded")
            let events = try await h.store.events(taskID: task.id)
            #expect(events.last?.kind == .decided)
            #expect(events.last?.detail["outcome"] == .string("declined"))
        }
    }

    @Test("a usage limit pauses the executor; both tasks start again by themselves at the reset, no attempt used")
    func usageLimitPauses() async throws {
        let h = try RuntimeHarness()
        let env = h.environment {
            $0.runner.workers = 1
            $0.runner.executors = [
                "default": Self.claude(h, env: ["FAKE_MODE": "limit-once", "FAKE_RESET": "3", "FAKE_COUNT": h.path("count")])
            ]
        }
        let first = try await h.store.create(.make(direction: "first", priority: 5, now: Date()))
        try await h.withRunner(AgentRunner(env: env)) {
            try await RuntimeHarness.waitUntil("the executor paused") { !env.agents.pauses.isEmpty }
            let pause = try #require(env.agents.pauses.first)
            #expect(pause.executor == "default")
            #expect(AgentBoard.describe(pause).hasPrefix("default: paused until "))
            #expect(AgentBoard.describe(pause).hasSuffix(" (usage limit)"))
            let waiting = try await h.store.get(first.id)
            #expect(waiting.status == .pending)
            #expect(waiting.errorClass == "usage_limited")
            #expect(waiting.attempt == 0)
            #expect(waiting.notBefore == pause.until)
            // A second task of the same executor must not start only to hit the same wall.
            let second = try await env.ledger.create(.make(direction: "second", now: Date()), by: "test")
            let a = try await h.waitForStatus(first.id, [.completed, .failed])
            let b = try await h.waitForStatus(second.id, [.completed, .failed])
            #expect(a.status == .completed && b.status == .completed)
            #expect(a.attempt == 1)
            #expect(try #require(a.startedAt) >= pause.until)
            #expect(try #require(b.startedAt) >= pause.until)
            #expect(Self.calls(h).count == 3)
        }
        #expect(try await h.store.executorPauses().isEmpty)
    }

    @Test("Codex: a turn that failed on the usage limit pauses until 'try again in'; the replay is metered from the price table")
    func codexLimitAndMetering() async throws {
        let h = try RuntimeHarness()
        let env = h.environment {
            $0.runner.executors = [
                "default": .init(
                    command: "python3 \(Self.fixtures)/fake_codex.py exec --json {direction}",
                    env: ["FAKE_MODE": "limit-once", "FAKE_RESET": "2", "FAKE_COUNT": h.path("count")], format: .codexJSONL,
                    model: "gpt-5-codex")
            ]
        }
        let task = try await h.store.create(.make(direction: "codex job", now: Date()))
        let events = RuntimeEventRecorder(env.events)
        let done = try await h.withRunner(AgentRunner(env: env)) { try await h.waitForStatus(task.id, [.completed, .failed]) }
        #expect(done.status == .completed)
        #expect(done.attempt == 1)
        #expect(done.sessionID == "0199a213-81c0-7800-8aa1-bbab2a035a53")
        #expect(done.costSource == "estimated")
        #expect(abs((done.costUSD ?? 0) - (5366 * 1.25 + 1210 * 10 + 18944 * 0.125) / 1e6) < 1e-9)
        #expect(done.tokensIn == 24310)
        let paused = try #require(events.tasks(.finished, id: task.id).first)
        #expect(paused.status == .pending)
        #expect(paused.errorClass == "usage_limited")
        let wait = try #require(paused.notBefore).timeIntervalSince(try #require(paused.finishedAt))
        #expect(wait > 1 && wait < 3)
    }

    @Test("a decision resumes the same session with resume_command; the decision is the prompt")
    func sessionResume() async throws {
        let h = try RuntimeHarness()
        let env = h.environment {
            $0.runner.executors = ["default": Self.claude(h, env: ["FAKE_MODE": "ask", "FAKE_RESUME_MODE": "replay"])]
        }
        let task = try await h.store.create(.make(direction: "pick a policy", now: Date()))
        try await h.withRunner(AgentRunner(env: env)) {
            let asked = try await h.waitForStatus(task.id, [.needsDecision, .failed])
            #expect(asked.decisionPrompt == "Use the retry policy of RFC 9110?")
            let session = try #require(asked.sessionID)
            _ = try await env.ledger.decide(id: task.id, decision: "yes, RFC 9110", by: "operator", now: Date())
            let done = try await h.waitForStatus(task.id, [.completed, .failed])
            #expect(done.status == .completed)
            #expect(done.sessionID == session)
            let calls = Self.calls(h)
            #expect(calls.count == 2)
            #expect(calls[1]["resume"] == .string(session))
            #expect(calls[1]["argv"]?.arrayValue?.contains(.string("yes, RFC 9110")) == true)
        }
    }

    @Test("an agent that prints but says nothing is stopped as idle, apart from stalled")
    func idle() async throws {
        let h = try RuntimeHarness()
        let env = h.environment {
            $0.runner.executors = ["default": Self.claude(h, env: ["FAKE_MODE": "idle"])]
            $0.runner.idleTimeout = 1
            $0.runner.maxAttempts = 1
        }
        let task = try await h.store.create(.make(direction: "think forever", maxAttempts: 1, now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) { try await h.waitForStatus(task.id, [.completed, .failed]) }
        #expect(done.status == .failed)
        #expect(done.errorClass == "idle")
        #expect(done.outputTail?.contains("still thinking...") == true)
        try await Self.groupGone(done)
    }

    @Test("max_turns is counted by Nightshift and ends the attempt for good")
    func maxTurns() async throws {
        let h = try RuntimeHarness()
        let env = h.environment { $0.runner.executors = ["default": Self.claude(h, env: ["FAKE_MODE": "spend"], maxTurns: 2)] }
        let task = try await h.store.create(.make(direction: "loop", now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) { try await h.waitForStatus(task.id, [.completed, .failed]) }
        #expect(done.status == .failed)
        #expect(done.errorClass == "max_turns")
        #expect(done.attempt == 1)
        try await Self.groupGone(done)
    }

    @Test("a stream that ends without its result line is an ordinary failure with the output tail")
    func noResult() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script(
            "half.sh",
            """
            echo '{"type":"system","subtype":"init","session_id":"s-1","model":"claude-sonnet-4-5"}'
            echo 'working on it'
            """)
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent), format: .claudeStreamJSON)]
        }
        let task = try await h.store.create(.make(direction: "half", maxAttempts: 1, now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) { try await h.waitForStatus(task.id, [.completed, .failed]) }
        #expect(done.status == .failed)
        #expect(done.errorClass == "no_result")
        #expect(done.error?.hasPrefix("the agent exited without its result line: ") == true)
        #expect(done.error?.hasSuffix("working on it") == true)
        #expect(done.sessionID == "s-1")
    }

    @Test("a run cap: the task that would pass it is stopped at what is left (one call over at most), and nothing new starts")
    func runCapStopsClaims() async throws {
        let h = try RuntimeHarness()
        let runID = "run_20261201_120000_abcd"
        var env = h.environment {
            $0.runner.workers = 1
            // Paced like a real agent: a call is not already in the pipe when the cap is crossed.
            $0.runner.executors = ["default": Self.claude(h, env: ["FAKE_DELAY": "0.2"])]
            $0.budget.perRunUSD = 0.05
            $0.budget.reserveUSD = 0.01
        }
        env.store = try SQLiteTaskStore(path: h.paths.database, runID: runID)
        env.run = try RunFiles(paths: h.paths.run(runID))
        let ledger = env.ledger
        let first = try await ledger.create(.make(direction: "one", priority: 3, now: Date()), by: "test")
        let second = try await ledger.create(.make(direction: "two", priority: 2, now: Date()), by: "test")
        let third = try await ledger.create(.make(direction: "three", priority: 1, now: Date()), by: "test")
        try await h.withRunner(AgentRunner(env: env)) {
            let done = try await h.waitForStatus(first.id, [.completed, .failed, .needsDecision])
            #expect(done.status == .completed)
            // $0.0081 is left: the second starts on it and is stopped after its first call ($0.0333).
            let stopped = try await h.waitForStatus(second.id, [.completed, .failed, .needsDecision])
            #expect(stopped.status == .needsDecision)
            #expect(stopped.errorClass == "budget_exceeded")
            #expect(stopped.decisionPrompt?.contains("reached its cap of $0.01") == true)
            try await RuntimeHarness.waitUntil("the run's cap is spent") { env.agents.budget.state == "exhausted" }
            #expect(env.agents.budget.reason?.hasPrefix("per_run_usd cap of $0.05 is spent") == true)
            #expect(try await h.store.get(third.id).status == .pending)
            let spent = env.agents.budget.runSpentUSD
            #expect(spent > 0.05 && spent < 0.05 + 0.0333 + 1e-9)
        }
    }

    @Test("a day cap already spent (across runs) holds every claim and says why")
    func dayCapExhausted() async throws {
        let h = try RuntimeHarness()
        var earlier = AgentTask.make(direction: "yesterday's run, today", now: Date())
        earlier.status = .completed
        earlier.costUSD = 0.75
        _ = try await h.store.create(earlier)
        let env = h.environment {
            $0.runner.executors = ["default": Self.claude(h)]
            $0.budget.perDayUSD = 0.5
        }
        let task = try await h.store.create(.make(direction: "today", now: Date()))
        try await h.withRunner(AgentRunner(env: env)) {
            try await RuntimeHarness.waitUntil("the day's cap is spent") { env.agents.budget.state == "exhausted" }
            #expect(env.agents.budget.reason == "per_day_usd cap of $0.50 is spent ($0.75 so far): no new task starts")
            #expect(env.agents.budget.daySpentUSD == 0.75)
            #expect(try await h.store.get(task.id).status == .pending)
        }
        #expect(Self.calls(h).isEmpty)
    }

    @Test("a pause recorded before a restart holds the executor's tasks until it ends")
    func pauseSurvivesRestart() async throws {
        let h = try RuntimeHarness()
        let until = Date().addingTimeInterval(2)
        _ = try await h.store.pauseExecutor("default", until: until, reason: "usage limit: test", taskID: nil, now: Date())
        let env = h.environment { $0.runner.executors = ["default": Self.claude(h)] }
        let task = try await h.store.create(.make(direction: "after the reset", now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) { try await h.waitForStatus(task.id, [.completed, .failed]) }
        #expect(done.status == .completed)
        #expect(try #require(done.startedAt) >= until)
    }

    @Test("a model the price table does not know is estimated at 0, with a warning in the task log")
    func unknownModel() async throws {
        let h = try RuntimeHarness()
        let env = h.environment {
            $0.runner.executors = [
                "default": .init(
                    command: "python3 \(Self.fixtures)/fake_codex.py exec --json {direction}", format: .codexJSONL,
                    model: "acme-coder-1")
            ]
        }
        let task = try await h.store.create(.make(direction: "unknown model", now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) { try await h.waitForStatus(task.id, [.completed, .failed]) }
        #expect(done.status == .completed)
        #expect(done.costUSD == 0)
        #expect(done.costSource == "estimated")
        #expect(done.model == "acme-coder-1")
        #expect(
            h.read(env.paths.taskLog(task.id)).contains(
                "[nightshift] warning: model acme-coder-1 is not in the price table (pricing 2026-12-01); its cost is estimated at 0"
            ))
    }
}
