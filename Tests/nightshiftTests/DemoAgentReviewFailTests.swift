import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `scripts/demo_agent.sh`'s `[review-fail]`: the review → impl fix loop the RUNBOOK documents,
/// once (the first review of an item fails, the second passes), through a real daemon.
@Suite("demo agent [review-fail]", .serialized, .timeLimit(.minutes(3)))
struct DemoAgentReviewFailTests {
    static var script: String { NightshiftBinary.packageRoot.appendingPathComponent("scripts/demo_agent.sh").path }

    /// Runs the demo agent as the runner would for one task; returns the result file's JSON.
    static func agent(type: String, item: String, state: String, direction: String) throws -> [String: Any] {
        let result = state + "/result-\(UUID().uuidString).json"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script, direction]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in [
            "NIGHTSHIFT_TASK_TYPE": type, "NIGHTSHIFT_BACKLOG_ITEM": item, "NIGHTSHIFT_STATE_DIR": state,
            "NIGHTSHIFT_RESULT_FILE": result,
            "DEMO_AGENT_SPEED": "0", "NIGHTSHIFT_DECISION": "",
        ] { env[k] = v }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        try p.runSerialized()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        return try #require(
            try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: result))) as? [String: Any])
    }

    @Test("the first review of each item fails, later ones pass; other task types ignore the marker")
    func failsOncePerItem() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-demo-agent")
        let state = dir.path
        let direction = "Review the change.\n\nItem: Add a flag [review-fail]"
        for type in ["spec", "impl", "test"] {
            #expect(try Self.agent(type: type, item: "1", state: state, direction: direction)["verdict"] == nil, "\(type)")
        }
        #expect(try Self.agent(type: "review", item: "1", state: state, direction: direction)["verdict"] as? String == "fail")
        #expect(try Self.agent(type: "review", item: "1", state: state, direction: direction)["verdict"] as? String == "pass")
        #expect(try Self.agent(type: "review", item: "2", state: state, direction: direction)["verdict"] as? String == "fail")
        #expect(try Self.agent(type: "review", item: "3", state: state, direction: "no marker")["verdict"] as? String == "pass")
    }

    @Test("through the daemon: spec, impl, test, review fails, impl iter 2, test, review passes; tasks list and show say so")
    func loopsBackToImplOnce() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-demo-agent")
        let backlog = try dir.write("1. Add a --json flag to the report command [review-fail]\n", to: "backlog.md")
        let config = try dir.write(
            """
            runner:
              executors:
                default: { command: "bash \(Self.script) {direction}", env: { DEMO_AGENT_SPEED: "0" } }
            project_manager:
              backlog: \(backlog)
              max_iterations: 3
            """, to: "nightshift.yaml")
        let state = dir.path("state")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let done = await waitFor(timeout: 90) {
            ((await HTTP.get(daemon.url + "/api/agent/pm"))?.json?["items_by_state"] as? [String: Any])?["done"] as? Int == 1
        }
        let pm = await HTTP.get(daemon.url + "/api/agent/pm")?.json
        #expect(done, "pm: \(String(describing: pm))")
        let url = ["--url", daemon.url]
        let list = try NightshiftBinary.run(["tasks", "list", "--limit", "100"] + url, environment: ["COLUMNS": "300"])
        let page = try #require(
            try JSONSerialization.jsonObject(
                with: Data(try NightshiftBinary.run(["tasks", "list", "--json", "--limit", "100"] + url).out.utf8))
                as? [String: Any])
        let secondReview = try #require(
            (page["tasks"] as? [[String: Any]])?.first { $0["phase"] as? String == "review" && $0["iteration"] as? Int == 2 }?[
                "id"] as? String)
        let shown = try NightshiftBinary.run(["tasks", "show", secondReview] + url)
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)

        let store = try SQLiteTaskStore(stateDir: state)
        let tasks = try await store.list(TaskQuery(limit: 100)).tasks.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        #expect(
            tasks.map { "\($0.phase ?? "-")/\($0.iteration ?? 0)/\($0.status.rawValue)" } == [
                "spec/1/completed", "impl/1/completed", "test/1/completed", "review/1/failed",
                "impl/2/completed", "test/2/completed", "review/2/completed",
            ])
        #expect(tasks.count == 7)
        guard tasks.count == 7 else { return }
        #expect(tasks[3].errorClass == "review_failed" && tasks[3].error == "tests do not cover the error path")
        #expect(tasks[4].direction.contains("review failed: tests do not cover the error path"), "the fix loop gets the feedback")

        // The table and the task view name each task's item and phase, with a fix loop's iteration.
        #expect(list.out.split(separator: "\n").first?.contains("  ITEM  PHASE  ") == true, "\(list.out)")
        let implFix = try #require(list.out.split(separator: "\n").first { $0.hasPrefix(tasks[4].id) }, "\(list.out)")
        #expect(implFix.contains("  1     impl iter 2  "), "\(implFix)")
        #expect(shown.status == 0)
        #expect(shown.out.contains("\nbacklog item     1\nphase            review (iteration 2)\n"), "\(shown.out)")
    }
}
