import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A watchdog's run outlives the daemons it starts: a crash and a restart stay in one run.
@Suite("runs under the watchdog", .serialized)
struct RunWatchdogTests {
    @Test("a daemon killed with SIGKILL and restarted joins the same run; the watchdog's stop ends it with its reports")
    func crashStaysInOneRun() async throws {
        let dir = try TemporaryDirectory()
        let agent = try dir.write("#!/bin/sh\nsleep 0.2\necho done\n", to: "agent.sh")
        chmod(agent, 0o755)
        let backlog = try dir.write("1. first\n2. second\n", to: "backlog.md")
        let config = try dir.write(
            """
            project_manager: { backlog: "\(backlog)" }
            runner: { executors: { default: { command: "\(agent) {direction}" } }, lease: 2s }
            monitor: { interval: 1h, api_probe: false }
            watchdog: { health_interval: 200ms, startup_timeout: 10s }
            """, to: "nightshift.yaml")
        let id = "run_20261201_220000_wdog"
        let state = dir.path("state")
        let watchdog = try WatchdogTests.WatchdogProcess(stateDir: state, config: config, arguments: ["--run-id", id])
        let first = try #require(await watchdog.waitForDaemon(), "no daemon: \(watchdog.stderr)")

        func tasks(_ url: String) async -> [[String: Any]] {
            (await HTTP.get(url + "/api/agent/tasks?limit=100")?.json?["tasks"] as? [[String: Any]]) ?? []
        }
        try await RuntimeHarness.waitUntil("a first task to complete", timeout: 60) {
            await tasks(first.url).contains { $0["status"] as? String == "completed" }
        }
        kill(first.pid, SIGKILL)
        let second = try #require(await watchdog.waitForDaemon(excluding: first.pid), "no restart: \(watchdog.log)")
        try await RuntimeHarness.waitUntil("both items to finish", timeout: 90) {
            let pm = await HTTP.get(second.url + "/api/agent/pm")?.json
            let counts = pm?["items_by_state"] as? [String: Any]
            return (counts?["done"] as? Int) == 2
        }
        let all = await tasks(second.url)
        #expect(all.count >= 8)
        #expect(all.allSatisfy { $0["run_id"] as? String == id }, "\(all.map { $0["run_id"] ?? "nil" })")

        kill(watchdog.pid, SIGTERM)
        #expect(await watchdog.waitForExit() == 0)
        let runs = try FileManager.default.contentsOfDirectory(atPath: state + "/runs")
        #expect(runs == [id])
        let info = try JSONDecoder.nightshift().decode(
            RunInfo.self, from: try Data(contentsOf: URL(fileURLWithPath: state + "/runs/\(id)/run.json")))
        #expect(info.starts == 2)
        #expect(info.mode == .daemon)
        #expect(info.endedAt != nil)
        let report = SessionReport.parseKeys(try String(contentsOfFile: state + "/reports/session_report.md", encoding: .utf8))
        #expect(report["RUN_ID"] == id)
        #expect(report["MODE"] == "daemon")
        #expect(Int(report["CASES_TOTAL"] ?? "") ?? 0 >= 8)
        // Both daemons' lines are in the run's log.
        let runLog = try String(contentsOfFile: state + "/runs/\(id)/logs/run.log", encoding: .utf8)
        #expect(runLog.components(separatedBy: "[nightshift] starting").count - 1 == 2)
    }
}
