import Foundation
import NightshiftTesting
import Testing

/// Real agents through the real daemon, with the fake Claude Code and Codex CLIs: live `meter`
/// events over SSE, a budget stop answered over HTTP with `continue +1`, a usage-limit pause that
/// `nightshift status` and pipeline-status show and that ends by itself.
@Suite("agents end to end", .serialized, .timeLimit(.minutes(3)))
struct AgentsEndToEndTests {
    static let fixtures = NightshiftBinary.packageRoot.appendingPathComponent("Tests/Fixtures/agents").path

    @Test("budget stop over HTTP, meter events over SSE, a paused executor in status, all resumed")
    func budgetAndPause() async throws {
        let dir = try TemporaryDirectory()
        let calls = dir.path("calls.jsonl")
        let config = try dir.write(
            """
            runner:
              workers: 2
              idle_timeout: 30s
              executors:
                default:
                  format: claude-stream-json
                  command: "python3 \(Self.fixtures)/fake_claude.py -p {direction} --output-format stream-json --verbose --session-id {session_id}"
                  resume_command: "python3 \(Self.fixtures)/fake_claude.py -p {decision} --resume {session_id} --output-format stream-json --verbose"
                  env: { FAKE_MODE: spend, FAKE_RESUME_MODE: replay, FAKE_DELAY: "0.1", FAKE_LOG: "\(calls)" }
                codex:
                  format: codex-jsonl
                  model: gpt-5-codex
                  command: "python3 \(Self.fixtures)/fake_codex.py exec --json {direction}"
                  env: { FAKE_MODE: limit-once, FAKE_RESET: "4", FAKE_COUNT: "\(dir.path("count"))" }
              executor_for: { impl: default, test: codex }
            project_manager: { backlog: "" }
            budget: { per_task_usd: 0.5 }
            monitor: { interval: 1h }
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let sse = try LoopbackStream(port: LedgerEndToEndTests.port(daemon.url))
        try sse.sendGET("/api/agent/events")

        let created = await HTTP.send(
            "POST", daemon.url + "/api/agent/tasks", json: #"{"task_type":"impl","direction":"spend until stopped"}"#)
        #expect(created?.status == 201)
        let id = try #require(created?.json?["id"] as? String)
        // Live metering arrives as `meter` events, without an id.
        let body = try await sse.read(until: ContinuousClock.now + .seconds(60)) { $0.contains("event: meter\n") }
        let meter = try #require(body.components(separatedBy: "\n\n").first { $0.hasPrefix("event: meter\n") })
        #expect(!meter.contains("\nid: "))
        #expect(meter.contains(#""cost_source":"estimated""#))
        sse.close()

        var task: [String: Any] = [:]
        #expect(
            await waitFor(timeout: 60) {
                task = await HTTP.get(daemon.url + "/api/agent/tasks/\(id)")?.json ?? [:]
                return task["status"] as? String == "needs_decision"
            })
        #expect(task["error_class"] as? String == "budget_exceeded")
        let spent = try #require(task["cost_usd"] as? Double)
        #expect(spent >= 0.5)
        let status = try NightshiftBinary.run(["status", "--url", daemon.url])
        #expect(status.status == 0)
        #expect(status.out.contains("budget    caps task $0.50 (enforced)  spent run $0.6"), "\(status.out)")
        #expect(status.out.contains("worst-case overshoot: about one model call per running task"))

        let decided = await HTTP.send(
            "PATCH", daemon.url + "/api/agent/tasks/\(id)", json: #"{"decision":"continue +1"}"#)
        #expect(decided?.status == 200)
        #expect(
            await waitFor(timeout: 60) {
                task = await HTTP.get(daemon.url + "/api/agent/tasks/\(id)")?.json ?? [:]
                return task["status"] as? String == "completed"
            })
        #expect(task["cost_source"] as? String == "reported")
        let lines = ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.last?.contains(#""resume": ""#) == true)

        // A usage limit: the codex executor pauses, status says until when, and it resumes by itself.
        let test = await HTTP.send(
            "POST", daemon.url + "/api/agent/tasks", json: #"{"task_type":"test","direction":"run the tests"}"#)
        let testID = try #require(test?.json?["id"] as? String)
        var paused: [[String: Any]] = []
        #expect(
            await waitFor(timeout: 60) {
                let p = await HTTP.get(daemon.url + "/api/agent/pipeline-status")?.json ?? [:]
                paused = p["paused_executors"] as? [[String: Any]] ?? []
                return !paused.isEmpty
            })
        #expect((paused.first?["line"] as? String)?.hasPrefix("codex: paused until ") == true)
        let pausedStatus = try NightshiftBinary.run(["status", "--url", daemon.url])
        #expect(pausedStatus.out.contains("paused    codex: paused until "), "\(pausedStatus.out)")
        #expect(pausedStatus.out.contains("(usage limit)"))
        #expect(
            await waitFor(timeout: 60) {
                task = await HTTP.get(daemon.url + "/api/agent/tasks/\(testID)")?.json ?? [:]
                return task["status"] as? String == "completed"
            })
        #expect(task["attempt"] as? Int == 1)
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
