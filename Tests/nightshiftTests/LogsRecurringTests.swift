import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 13, point 4's last sentence through the real binary: agents' output lines are
/// ingested as `task:<id>`, fingerprinted, and one fingerprint in the lines of three tasks of
/// the night opens one `log_recurring` monitor issue naming the fingerprint, rule, template,
/// tasks and count.
@Suite("logs: a fingerprint recurring across tasks opens a monitor issue", .serialized, .timeLimit(.minutes(5)))
struct LogsRecurringTests {
    static func createTask(_ url: String, _ direction: String) async throws -> String {
        let body = String(
            data: try JSONSerialization.data(withJSONObject: ["direction": direction, "task_type": "impl"]), encoding: .utf8)!
        let reply = try #require(await HTTP.send("POST", url + "/api/agent/tasks", json: body))
        #expect(reply.status == 201)
        return try #require(reply.json?["id"] as? String)
    }

    @Test("three tasks print the same refused connection (different hosts): one log_recurring issue names them")
    func recurringAcrossTasks() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-log-recurring")
        let config = try dir.write(
            """
            runner: { max_attempts: 1, executors: { default: { command: "echo {direction}" } } }
            project_manager: { backlog: "" }
            monitor: { interval: 200ms, api_probe: false, thresholds: { log_recurring_tasks: 3, disk_min_free: 0 } }
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "the daemon did not start: \(daemon.stderr)")
        let base = daemon.url

        var ids: [String] = []
        for k in 1...2 { ids.append(try await Self.createTask(base, "Error: connect ECONNREFUSED 10.0.0.\(k):5432")) }
        #expect(
            await waitFor(timeout: 30) {
                var done = 0
                for id in ids where await HTTP.get(base + "/api/agent/tasks/\(id)")?.json?["status"] as? String == "completed" {
                    done += 1
                }
                return done == ids.count
            })
        // Two tasks are below the threshold: no issue yet, even after checks have run.
        let before = await HTTP.get(base + "/api/agent/monitor-issues")?.json?["issues"] as? [[String: Any]] ?? []
        #expect(!before.contains { $0["condition"] as? String == "log_recurring" }, "\(before)")

        ids.append(try await Self.createTask(base, "Error: connect ECONNREFUSED 10.9.8.7:6543"))
        var issue: [String: Any]?
        #expect(
            await waitFor(timeout: 30) {
                let list = await HTTP.get(base + "/api/agent/monitor-issues")?.json?["issues"] as? [[String: Any]] ?? []
                issue = list.first { $0["condition"] as? String == "log_recurring" }
                return issue != nil
            }, "no log_recurring issue opened")
        let found = try #require(issue)
        let message = try #require(found["message"] as? String)
        for id in ids { #expect(message.contains(id), "\(message)") }
        #expect(message.contains("[connection_refused]") && message.contains("in 3 tasks"), "\(message)")
        #expect(message.contains("Error: connect ECONNREFUSED <ip>"), "the template: \(message)")
        let subject = try #require(found["subject"] as? String)
        #expect(subject.hasPrefix("fingerprint:fp_"))
        // The fingerprint is the one /api/logs/issues lists for those tasks' lines.
        let fingerprint = String(subject.dropFirst("fingerprint:".count))
        let task = try #require(await HTTP.get(base + "/api/agent/tasks/\(ids[0])")?.json)
        let run = try #require(task["run_id"] as? String)
        let logIssues = await HTTP.get(base + "/api/logs/issues?run=\(run)")?.json?["issues"] as? [[String: Any]] ?? []
        let listed = try #require(logIssues.first { $0["fingerprint"] as? String == fingerprint })
        #expect(Set(listed["sources"] as? [String] ?? []) == Set(ids.map { "task:\($0)" }))

        // One issue, however many checks see it.
        let again = await HTTP.get(base + "/api/agent/monitor-issues")?.json?["issues"] as? [[String: Any]] ?? []
        #expect(again.filter { $0["condition"] as? String == "log_recurring" }.count == 1)

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
