import Foundation
import HummingbirdTesting
import NightshiftCore
import NightshiftRuntime
import Testing

@Suite("API: pipeline-status, monitor-issues, fatal-issues, effectiveness")
struct PipelineRouteTests {
    @Test("pipeline-status: counts, running, pending and needs_decision lists, project manager, components")
    func pipelineStatus() async throws {
        let h = try APIHarness()
        let p1 = try await h.pending("first pending")
        h.clock.advance(by: 1)
        let p2 = try await h.pending("second pending", type: .test)
        let run = try await h.running("in flight", phase: "impl")
        let ask = try await h.needsDecision("Drop the table?")
        try await h.completed()
        h.env.health.beat("agent_runner", at: h.clock.now)
        h.env.health.setRunning("agent_runner", true)
        h.projectManager.withLock { $0 = .object(["enabled": .bool(true), "state": .string("running"), "paused": .bool(false)]) }
        h.attention.withLock { $0 = [.string("1 task waits for a decision")] }
        _ = try await h.store.applyFindings([Self.finding("runner_stale", .high)], now: h.clock.now)
        h.clock.advance(by: 2.5)
        try await h.test { client in
            let s = try await client.getJSON("/api/agent/pipeline-status")
            #expect(s["counts"]["pending"].int == 2)
            #expect(s["counts"]["running"].int == 1)
            #expect(s["counts"]["needs_decision"].int == 1)
            #expect(s["counts"]["completed"].int == 1)
            #expect(s["counts"]["failed"].int == 0)
            #expect(s["pending_count"].int == 2)
            #expect(s["running"].array?.compactMap { $0["id"].string } == [run.id])
            #expect(s["running"][0]["status"].string == "running")
            #expect(s["running"][0]["phase"].string == "impl")
            #expect(s["running_by_phase"]["impl"].int == 1)
            #expect(Set(s["pending"].array?.compactMap { $0["id"].string } ?? []) == [p1.id, p2.id])
            #expect(s["needs_decision"].array?.compactMap { $0["id"].string } == [ask.id])
            #expect(s["needs_decision"][0]["decision_prompt"].string == "Drop the table?")
            #expect(s["workers"].int == h.config.runner.workers)
            #expect(s["project_manager"]["state"].string == "running")
            #expect(s["monitor"]["open_issues"].int == 1)
            #expect(s["attention"].array?.compactMap(\.string) == ["1 task waits for a decision"])
            #expect(s["components"]["agent_runner"]["running"].bool == true)
            #expect(s["components"]["agent_runner"]["age_seconds"].double == 2.5)
            #expect(s["components"]["agent_runner"]["last_beat"].string == Timestamp.format(h.clock.now.addingTimeInterval(-2.5)))
            #expect(s["generated_at"].string == Timestamp.format(h.clock.now))
            try expectRequiredKeys(s, schema: "PipelineStatus")
        }
    }

    static func finding(_ condition: MonitorCondition, _ severity: Severity, subject: String = "pipeline") -> Finding {
        Finding(
            condition: condition, subject: subject, severity: severity, message: "\(condition) on \(subject)",
            suggestedAction: "look at it")
    }

    @Test("pipeline-status lists pending tasks in the order they will run: highest priority, then oldest")
    func pendingInClaimOrder() async throws {
        let h = try APIHarness()
        let a = try await h.pending("oldest, priority 0")
        h.clock.advance(by: 1)
        let b = try await h.pending("priority 5", priority: 5)
        h.clock.advance(by: 1)
        let c = try await h.pending("newest, priority 0")
        try await h.test { client in
            let s = try await client.getJSON("/api/agent/pipeline-status")
            let shown = s["pending"].array?.compactMap { $0["id"].string }
            #expect(shown == [b.id, a.id, c.id])
        }
    }

    @Test("with file views, pipeline-status shows the project manager's state file and the open issues of monitor_issues.json")
    func pipelineStatusFromFiles() async throws {
        let h = try APIHarness(views: .files)
        try h.writeJSON(
            #"{"state":"running","backlog_position":3,"items":[{"id":"item-1","phase":"test"}]}"#, to: h.paths.projectManagerState
        )
        try h.writeJSON(Self.issuesFile, to: h.paths.monitorIssues)
        try await h.test { client in
            let s = try await client.getJSON("/api/agent/pipeline-status")
            #expect(s["project_manager"]["state"].string == "running")
            #expect(s["project_manager"]["backlog_position"].int == 3)
            #expect(s["project_manager"]["items"][0]["phase"].string == "test")
            #expect(s["monitor"]["open_issues"].int == 2)
        }
    }

    @Test("monitor-issues with no issues: an empty list, open 0", arguments: [APIHarness.Views.live, .files])
    func noMonitorIssues(_ views: APIHarness.Views) async throws {
        let h = try APIHarness(views: views)
        try await h.test { client in
            for uri in ["/api/agent/monitor-issues", "/api/agent/monitor-issues?include_resolved=true"] {
                let body = try await client.getJSON(uri)
                #expect(body["issues"].array?.isEmpty == true)
                #expect(body["open"].int == 0)
                try expectRequiredKeys(body, schema: "MonitorIssueList")
            }
        }
    }

    @Test("monitor-issues from the store: open ones (most severe first); include_resolved adds resolved ones after them")
    func monitorIssuesLive() async throws {
        let h = try APIHarness()
        let first = try await h.store.applyFindings(
            [
                Self.finding("repeated_failures", .medium), Self.finding("runner_stale", .critical, subject: "agent_runner"),
                Self.finding("no_progress", .low),
            ],
            now: h.clock.now)
        #expect(first.opened.count == 3)
        h.clock.advance(by: 120)
        // no_progress clears; the others persist and keep their ids.
        let second = try await h.store.applyFindings(
            [Self.finding("repeated_failures", .medium), Self.finding("runner_stale", .critical, subject: "agent_runner")],
            now: h.clock.now)
        #expect(second.resolved.map(\.condition) == ["no_progress"])
        let ids = Dictionary(uniqueKeysWithValues: first.opened.map { ($0.condition, $0.id) })
        try await h.test { client in
            let open = try await client.getJSON("/api/agent/monitor-issues")
            #expect(
                open["issues"].array?.compactMap { $0["id"].string }
                    == [ids["runner_stale"], ids["repeated_failures"]].compactMap { $0 })
            #expect(open["open"].int == 2)
            #expect(open["issues"][0]["severity"].string == "critical")
            #expect(open["issues"][0]["subject"].string == "agent_runner")
            #expect(open["issues"][0]["count"].int == 2)
            #expect(open["issues"][0]["first_seen"].string == Timestamp.format(APIHarness.startedAt))
            #expect(open["issues"][0]["last_seen"].string == Timestamp.format(h.clock.now))
            #expect(open["issues"][0]["resolved_at"].isNull)
            try expectRequiredKeys(open["issues"][0], schema: "MonitorIssue")

            let all = try await client.getJSON("/api/agent/monitor-issues?include_resolved=true")
            #expect(
                all["issues"].array?.compactMap { $0["id"].string }
                    == [ids["runner_stale"], ids["repeated_failures"], ids["no_progress"]].compactMap { $0 })
            #expect(all["open"].int == 2)
            #expect(all["issues"][2]["resolved_at"].string == Timestamp.format(h.clock.now))
            let explicit = try await client.getJSON("/api/agent/monitor-issues?include_resolved=0")
            #expect(explicit == open)
        }
    }

    /// A resolved issue listed first, then two open ones, in the shape the monitor writes.
    static let issuesFile = """
        {"generated_at":"2026-11-21T10:00:00Z","open":2,"issues":[
          {"id":"mi_0000000000000001","condition":"runner_stale","subject":"agent_runner","severity":"high","message":"runner stalled","suggested_action":"restart","first_seen":"2026-11-21T09:00:00Z","last_seen":"2026-11-21T09:20:00Z","count":3,"resolved_at":"2026-11-21T09:30:00Z","heal_task_id":null,"notified_at":null},
          {"id":"mi_0000000000000002","condition":"no_progress","subject":"pipeline","severity":"medium","message":"no progress","suggested_action":"look","first_seen":"2026-11-21T09:10:00Z","last_seen":"2026-11-21T09:50:00Z","count":5,"resolved_at":null,"heal_task_id":null,"notified_at":null},
          {"id":"mi_0000000000000003","condition":"disk_full","subject":"pipeline","severity":"critical","message":"disk full","suggested_action":"free space","first_seen":"2026-11-21T09:20:00Z","last_seen":"2026-11-21T09:50:00Z","count":1}
        ]}
        """

    @Test(
        "with file views, monitor-issues reads monitor_issues.json: open ones by default; include_resolved adds resolved ones after them"
    )
    func monitorIssuesFromFile() async throws {
        let h = try APIHarness(views: .files)
        try h.writeJSON(Self.issuesFile, to: h.paths.monitorIssues)
        try await h.test { client in
            let open = try await client.getJSON("/api/agent/monitor-issues")
            #expect(open["issues"].array?.compactMap { $0["id"].string } == ["mi_0000000000000002", "mi_0000000000000003"])
            #expect(open["open"].int == 2)
            #expect(open["issues"][0]["condition"].string == "no_progress")

            for flag in ["true", "1", "TRUE"] {
                let all = try await client.getJSON("/api/agent/monitor-issues?include_resolved=\(flag)")
                #expect(
                    all["issues"].array?.compactMap { $0["id"].string } == [
                        "mi_0000000000000002", "mi_0000000000000003", "mi_0000000000000001",
                    ],
                    "open first")
                #expect(all["open"].int == 2)
            }
            let explicit = try await client.getJSON("/api/agent/monitor-issues?include_resolved=false")
            #expect(explicit == open)
        }
    }

    @Test("include_resolved must be a boolean", arguments: ["maybe", "", "yes", "2"])
    func badIncludeResolved(_ value: String) async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.get("/api/agent/monitor-issues?include_resolved=\(value)")
            try expectProblem(r, .unprocessableContent, type: "invalid_field", fields: ["include_resolved"])
        }
    }

    @Test(
        "fatal-issues: empty without a file, else the issues of fatal_issues.json (as the daemon writes it) with their count",
        arguments: [APIHarness.Views.live, .files])
    func fatalIssues(_ views: APIHarness.Views) async throws {
        let h = try APIHarness(views: views)
        try await h.test { client in
            let none = try await client.getJSON("/api/agent/fatal-issues")
            #expect(none["issues"].array?.isEmpty == true)
            #expect(none["count"].int == 0)
        }
        let path = h.paths.fatalIssues
        try FatalIssues.report(
            FatalIssue(
                condition: "executor_missing", reason: "agent binary missing", detail: "claude: not found", source: "daemon",
                at: h.clock.now),
            path: path)
        h.clock.advance(by: 60)
        try FatalIssues.report(
            FatalIssue(
                condition: "state_dir_readonly", reason: "state dir read-only", detail: "EROFS", source: "watchdog",
                at: h.clock.now),
            path: path)
        try FatalIssues.report(
            FatalIssue(
                condition: "executor_missing", reason: "agent binary missing", detail: "still not found", source: "daemon",
                at: h.clock.now),
            path: path)
        try await h.test { client in
            let body = try await client.getJSON("/api/agent/fatal-issues")
            #expect(body["count"].int == 2)
            #expect(
                body["issues"].array?.compactMap { $0["id"].string } == ["fatal_executor_missing", "fatal_state_dir_readonly"])
            #expect(body["issues"][0]["reason"].string == "agent binary missing")
            #expect(body["issues"][0]["detail"].string == "still not found")
            #expect(body["issues"][0]["count"].int == 2)
            #expect(body["issues"][1]["source"].string == "watchdog")
            try expectRequiredKeys(body, schema: "FatalIssueList")
            try expectRequiredKeys(body["issues"][0], schema: "FatalIssue")
        }
    }

    @Test("a corrupt operator file is not a 500: monitor and PM files read as empty, a corrupt fatal_issues.json fails closed")
    func corruptFiles() async throws {
        let h = try APIHarness(views: .files)
        for path in [h.paths.monitorIssues, h.paths.fatalIssues, h.paths.projectManagerState] {
            try h.writeJSON(#"{"issues": [ oops"#, to: path)
        }
        try await h.test { client in
            let monitor = try await client.getJSON("/api/agent/monitor-issues")
            let fatal = try await client.getJSON("/api/agent/fatal-issues")
            let status = try await client.getJSON("/api/agent/pipeline-status")
            #expect(monitor["open"].int == 0)
            #expect(fatal["count"].int == 1)
            #expect(fatal["issues"][0]["condition"].string == "state_file_unreadable")
            #expect(fatal["issues"][0]["reason"].string?.contains(h.paths.fatalIssues) == true)
            #expect(status["project_manager"]["state"].string == "idle")
        }
    }

    @Test("effectiveness: throughput windows, success rate and the seed's goal proximity")
    func effectiveness() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let e = try await client.getJSON("/api/agent/effectiveness")
            #expect(e["success_rate"].isNull)
            #expect(e["goal_proximity"].double == 0)
            #expect(e["throughput"]["completed_last_day"].int == 0)
            #expect(e["mean_time_to_resolve_seconds"].isNull)
            try expectRequiredKeys(e, schema: "Effectiveness")
        }
        // Two completed two days ago (outside both windows), two completed 2 h ago (last day),
        // two completed and one failed just now (last hour).
        try await h.completed()
        try await h.completed()
        h.clock.advance(by: 2 * 86400)
        try await h.completed()
        try await h.completed()
        h.clock.advance(by: 2 * 3600)
        try await h.completed()
        try await h.completed()
        try await h.failed()
        // Two open issues; a third opened an hour ago and resolved now.
        _ = try await h.store.applyFindings(
            [Self.finding("no_progress", .low), Self.finding("stale", .high), Self.finding("flaky", .medium)],
            now: h.clock.now.addingTimeInterval(-3600))
        _ = try await h.store.applyFindings([Self.finding("no_progress", .low), Self.finding("stale", .high)], now: h.clock.now)
        try await h.test { client in
            let e = try await client.getJSON("/api/agent/effectiveness")
            #expect(e["issues"]["resolved_7d"].int == 1)
            #expect(e["mean_time_to_resolve_seconds"].double == 3600)
            #expect(e["backlog_progress"].isNull, "no backlog imported")
            #expect(e["throughput"]["completed_last_hour"].int == 2)
            #expect(e["throughput"]["completed_last_day"].int == 4)
            let rate = 6.0 / 7.0
            #expect(e["success_rate"].double.map { abs($0 - rate) < 1e-9 } == true)
            #expect(e["issues"]["open"].int == 2)
            // rate · (0.5 + 0.5·min(1, per_day/10)) · max(0, 1 − 0.15·open), to 3 places.
            let proximity = rate * (0.5 + 0.5 * min(1, 4.0 / 10)) * max(0, 1 - 0.15 * 2)
            #expect(e["goal_proximity"].double == (proximity * 1000).rounded() / 1000)
            #expect(e["goal_proximity"].double == 0.42)
            #expect(e["generated_at"].string == Timestamp.format(h.clock.now))
            try expectRequiredKeys(e, schema: "Effectiveness")
        }
    }

    @Test("goal proximity is capped at 1 and floored by many open issues")
    func proximityBounds() async throws {
        let h = try APIHarness()
        for _ in 0..<12 { try await h.completed(seconds: 0) }
        try await h.test { client in
            let e = try await client.getJSON("/api/agent/effectiveness")
            #expect(e["goal_proximity"].double == 1)
        }
        _ = try await h.store.applyFindings(
            (1...8).map { Self.finding(MonitorCondition(rawValue: "c\($0)"), .low) }, now: h.clock.now)
        try await h.test { client in
            let e = try await client.getJSON("/api/agent/effectiveness")
            #expect(e["goal_proximity"].double == 0)
        }
    }
}
