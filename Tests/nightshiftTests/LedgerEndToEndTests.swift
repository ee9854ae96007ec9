import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The task ledger through the real daemon: a live SSE client sees every task's history in
/// order, resumes with Last-Event-ID without gaps or duplicates, and the history route shows
/// every attempt; a second SIGTERM ends a drain at once.
@Suite("task ledger end to end", .serialized, .timeLimit(.minutes(5)))
struct LedgerEndToEndTests {
    struct Frame: Equatable {
        var id: Int
        var change: String
        var taskID: String
        var toStatus: String
    }

    /// The complete frames in an SSE body so far.
    static func frames(_ body: String) -> [Frame] {
        body.components(separatedBy: "\n\n").dropLast().compactMap { block in
            let lines = block.split(separator: "\n").map(String.init)
            guard let idLine = lines.first(where: { $0.hasPrefix("id: ") }), let id = Int(idLine.dropFirst(4)),
                let dataLine = lines.first(where: { $0.hasPrefix("data: ") }),
                let data = try? JSONSerialization.jsonObject(with: Data(dataLine.dropFirst(6).utf8)) as? [String: Any],
                let event = data["event"] as? [String: Any]
            else { return nil }
            return Frame(
                id: id, change: data["change"] as? String ?? "", taskID: event["task_id"] as? String ?? "",
                toStatus: event["to_status"] as? String ?? "")
        }
    }

    static func port(_ url: String) -> Int { Int(url.split(separator: ":").last ?? "0") ?? 0 }

    static func history(_ url: String, _ id: String) async -> [[String: Any]] {
        await HTTP.get(url + "/api/agent/tasks/\(id)/events")?.json?["events"] as? [[String: Any]] ?? []
    }

    @Test(
        "a two-item backlog with a failing review: every task's history over SSE, in order, resumed with Last-Event-ID; the union is the event table"
    )
    func backlogOverSSE() async throws {
        let dir = try TemporaryDirectory()
        let backlog = try dir.write("1. Write the greeting\n2. Add the farewell [review-fail]\n", to: "backlog.md")
        let config = try dir.write(
            """
            runner:
              workers: 2
              executors:
                default: { command: "bash \(NightshiftBinary.packageRoot.path)/scripts/demo_agent.sh {direction}", env: { DEMO_AGENT_SPEED: "0.01" } }
            project_manager:
              backlog: "\(backlog)"
              parallel_items: 2
            monitor: { interval: 1h }
            """, to: "nightshift.yaml")
        let state = dir.path("state")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        // From the beginning of the history, then dropped after a few events.
        let first = try LoopbackStream(port: Self.port(daemon.url))
        try first.sendGET("/api/agent/events?after=0")
        let deadline = ContinuousClock.now + .seconds(120)
        let early = try await first.read(until: deadline) { Self.frames($0).count >= 5 }
        first.close()
        var seen = Self.frames(early)
        let lastID = try #require(seen.last?.id)

        // Reconnect as an EventSource does, with Last-Event-ID, and follow until the backlog is done.
        let second = try LoopbackStream(port: Self.port(daemon.url))
        try second.sendGET("/api/agent/events", headers: ["Last-Event-ID": "\(lastID)"])
        let pmLog = state + "/project_manager.log"
        #expect(
            await waitFor(timeout: 120) {
                ((try? String(contentsOfFile: pmLog, encoding: .utf8)) ?? "").contains("backlog finished")
            })
        let total = try #require(await HTTP.get(daemon.url + "/api/agent/tasks?limit=100")?.json?["tasks"] as? [[String: Any]])
        // 4 phases for item 1; item 2: spec, impl, test, review (fails), impl, test, review.
        #expect(total.count == 11, "\(total.map { "\($0["phase"] ?? "") \($0["status"] ?? "")" })")
        var events: [[String: Any]] = []
        for t in total { events += await Self.history(daemon.url, t["id"] as? String ?? "") }
        let tableIDs = events.compactMap { ($0["id"] as? NSNumber)?.intValue }.sorted()
        let rest = try await second.read(until: deadline) { body in
            (Self.frames(body).last?.id ?? 0) >= (tableIDs.last ?? .max)
        }
        second.close()
        seen += Self.frames(rest)

        // No gap, no duplicate, strictly increasing: exactly the table.
        #expect(seen.map(\.id) == tableIDs)
        #expect(Set(seen.map(\.id)).count == seen.count)
        // Every task: created → claimed → started → finished, in that order, nothing missing.
        for t in total {
            let id = t["id"] as? String ?? ""
            let kinds = seen.filter { $0.taskID == id }.map(\.change)
            #expect(kinds == ["created", "claimed", "started", "finished"], "\(id) \(t["phase"] ?? ""): \(kinds)")
        }
        // The failing review's history says why, and the impl it created names it as its parent.
        let reviews = total.filter { $0["phase"] as? String == "review" && $0["backlog_item"] as? String == "2" }
        let failed = try #require(reviews.first { $0["status"] as? String == "failed" })
        let review = await Self.history(daemon.url, failed["id"] as? String ?? "")
        let end = try #require(review.last?["detail"] as? [String: Any])
        #expect(end["error_class"] as? String == "review_failed")
        let fix = total.first { $0["parent_id"] as? String == failed["id"] as? String }
        #expect(fix?["phase"] as? String == "impl")
        let created = await Self.history(daemon.url, fix?["id"] as? String ?? "").first
        #expect((created?["detail"] as? [String: Any])?["by"] as? String == "pipeline")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("GET /api/agent/tasks/{id}/events shows every attempt of a retried task with why it ended")
    func retriedTaskHistory() async throws {
        let dir = try TemporaryDirectory()
        let config = try dir.write(
            """
            runner:
              retry_backoff: { base: 10ms, max: 20ms }
              executors:
                default: { command: "bash \(NightshiftBinary.packageRoot.path)/scripts/demo_agent.sh {direction}", env: { DEMO_AGENT_SPEED: "0.01" } }
            project_manager: { backlog: "" }
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let r = await HTTP.send(
            "POST", daemon.url + "/api/agent/tasks",
            json: #"{"task_type":"impl","direction":"flaky [fail-once]","max_attempts":3}"#)
        let id = try #require(r?.json?["id"] as? String)
        #expect(
            await waitFor(timeout: 60) {
                await HTTP.get(daemon.url + "/api/agent/tasks/\(id)")?.json?["status"] as? String == "completed"
            })
        let events = await Self.history(daemon.url, id)
        #expect(
            events.map { $0["kind"] as? String ?? "" } == [
                "created", "claimed", "started", "finished", "claimed", "started", "finished",
            ])
        #expect(events.map { ($0["attempt"] as? NSNumber)?.intValue ?? -1 } == [0, 1, 1, 1, 2, 2, 2])
        let retry = try #require(events[3]["detail"] as? [String: Any])
        #expect(events[3]["to_status"] as? String == "pending")
        #expect(retry["outcome"] as? String == "requeue")
        #expect(retry["error_class"] as? String == "exit_code")
        #expect((retry["error"] as? String)?.contains("agent exited with code 1") == true)
        #expect(retry["not_before"] is String)
        #expect((events[6]["detail"] as? [String: Any])?["outcome"] as? String == "succeed")
        #expect(events[0]["from_status"] is NSNull)
        // The CLI prints the same history.
        let cli = try NightshiftBinary.run(["tasks", "history", id, "--url", daemon.url])
        #expect(cli.status == 0, "\(cli.err)")
        #expect(cli.out.contains("requeue") && cli.out.contains("claimed") && cli.out.contains("exit_code"))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test(
        "a second SIGTERM during the drain tears the agents down at once; the daemon exits 0 and the task is left for the rescuer"
    )
    func secondSignal() async throws {
        let dir = try TemporaryDirectory()
        let marker = dir.path("agent.pid")
        let agent = try dir.write("echo $$ > \(marker); echo working; exec sleep 3600\n", to: "agent.sh")
        let config = try dir.write(
            """
            runner:
              drain_timeout: 1h
              kill_grace: 200ms
              executors:
                default: { command: "/bin/sh \(agent)" }
            project_manager: { backlog: "" }
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let r = await HTTP.send("POST", daemon.url + "/api/agent/tasks", json: #"{"task_type":"impl","direction":"long job"}"#)
        let id = try #require(r?.json?["id"] as? String)
        #expect(await waitFor(timeout: 30) { FileManager.default.fileExists(atPath: marker) })
        let agentPID = try #require(
            Int32((try String(contentsOfFile: marker, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        daemon.signal(SIGTERM)
        let log = dir.path("state/agent_runner.log")
        #expect(
            await waitFor(timeout: 30) {
                ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("draining 1 running attempt(s) for up to 1h")
            })
        #expect(daemon.process.isRunning)
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: 30) == 0)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("second SIGTERM: tearing down 1 running attempt(s) now"), "\(text)")
        // The agent's group is gone (a zombie counts as gone).
        let stat = (try? String(contentsOfFile: "/proc/\(agentPID)/stat", encoding: .utf8)) ?? ""
        #expect(stat.isEmpty || stat.split(separator: ")").last?.split(separator: " ").first == "Z")
        _ = id
    }
}
