import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// A monitor over a real SQLite store and state dir, checked by calling `runOnce()` with a test
/// clock: stable issues and resolutions, the report files, restart requests, heal tasks, fatal
/// issues, and alerts delivered to local HTTP receivers.
final class MonitorFixture: Sendable {
    let h: RuntimeHarness
    let clock = MutableNow()
    let env: ServiceEnvironment
    let monitor: Monitor
    let notifier: Notifier?
    /// Seconds the clock moves after each check.
    static let step = 10.0

    init(notify: NightshiftConfig.Notify? = nil, configure: (inout NightshiftConfig) -> Void = { _ in }) throws {
        let h = try RuntimeHarness()
        self.h = h
        let env = h.environment(clock: clock) { c in
            c.monitor.apiProbe = false
            c.monitor.autoRecover = false
            c.monitor.thresholds.repeatedFailures = 3
            // The test machine's free space is not what these tests are about.
            c.monitor.thresholds.diskMinFreeBytes = 0
            if let notify { c.notify = notify }
            configure(&c)
        }
        self.env = env
        notifier = notify.map { Notifier(config: $0, logger: env.logs.logger("monitor"), backoff: [0.05, 0.1]) }
        monitor = Monitor(env: env, store: h.store, notifier: notifier, projectManager: nil, apiURL: Locked<String?>(nil))
    }

    var paths: StatePaths { env.paths }

    /// One check with a fresh runner heartbeat; the clock then moves on.
    @discardableResult
    func check(beat: Bool = true) async throws -> Monitor.CheckResult {
        if beat { env.health.beat("agent_runner", at: clock.now) }
        let result = try await monitor.runOnce()
        clock.advance(by: Self.step)
        return result
    }

    /// Tasks that ran and ended with `outcomes`, oldest first, one second apart.
    func record(_ outcomes: [TaskStatus]) async throws {
        for outcome in outcomes {
            let task = try await h.store.create(.make(maxAttempts: 1, now: clock.now))
            let claimed = try #require(try await h.store.claimNext(owner: "runner", limit: 1, now: clock.now, lease: 60).first)
            #expect(claimed.id == task.id)
            clock.advance(by: 1)
            let kind: AttemptOutcome.Kind =
                outcome == .completed ? .completed : .failed(errorClass: "agent_error", error: "exit 1", retryDelay: nil)
            _ = try await h.store.finish(id: task.id, owner: "runner", outcome: AttemptOutcome(kind), now: clock.now)
        }
    }

    func issues(includeResolved: Bool = false) async throws -> [MonitorIssue] {
        try await h.store.monitorIssues(includeResolved: includeResolved, limit: 100)
    }

    /// The lines of a text file in the state dir.
    func lines(_ path: String) -> [String] {
        h.read(path).split(separator: "\n").map(String.init)
    }

    static func json(_ path: String) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: path), "\(path) exists")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path) is a JSON object")
    }

    /// Runs the notifier while `body` executes, then cancels it.
    func withNotifier<R>(_ body: () async throws -> R) async throws -> R {
        let notifier = try #require(notifier)
        let task = Task { try await notifier.run() }
        defer { task.cancel() }
        return try await body()
    }
}

@Suite("Monitor service", .serialized, .timeLimit(.minutes(3)))
struct MonitorServiceTests {
    // MARK: Issue lifecycle

    @Test(
        "failures raise one repeated_failures issue with a stable id; it resolves with one resolutions line once successes return"
    )
    func stableIssueAndResolution() async throws {
        let f = try MonitorFixture()
        let healthy = try await f.check()
        #expect(healthy.findings.isEmpty, "\(healthy.findings)")
        #expect(healthy.report.overall.status == "ok")

        try await f.record([.completed, .failed, .failed, .failed])
        let first = try await f.check()
        #expect(first.findings.map(\.condition) == ["repeated_failures"])
        let opened = try #require(first.changes.opened.first)
        #expect(first.changes.opened.count == 1)
        #expect(opened.severity == .high)
        #expect(first.report.overall.status == "attention")

        for n in 2...4 {
            try await f.record([.failed])
            let again = try await f.check()
            #expect(again.changes.opened.isEmpty)
            #expect(again.changes.continued.map(\.id) == [opened.id])
            let open = try await f.issues()
            #expect(open.map(\.id) == [opened.id], "still one issue, same id")
            #expect(open.first?.count == n)
        }
        #expect(!f.h.exists(f.paths.monitorResolutions))

        try await f.record([.completed])
        let resolvedAt = f.clock.now
        let resolved = try await f.check()
        #expect(resolved.changes.resolved.map(\.id) == [opened.id])
        #expect(resolved.report.overall.status == "ok")
        #expect(resolved.report.layer3Attention.resolvedSinceLast.map(\.id) == [opened.id])
        #expect(try await f.issues().isEmpty)
        let all = try await f.issues(includeResolved: true)
        #expect(all.map(\.id) == [opened.id])
        #expect(all.first?.resolvedAt == resolvedAt)

        let lines = f.lines(f.paths.monitorResolutions)
        #expect(lines.count == 1)
        let firstLine = try #require(lines.first)
        let line = try #require(try JSONSerialization.jsonObject(with: Data(firstLine.utf8)) as? [String: Any])
        #expect(line["id"] as? String == opened.id)
        #expect(line["condition"] as? String == "repeated_failures")
        #expect(line["subject"] as? String == "pipeline")
        #expect(line["resolved_at"] as? String == Timestamp.format(resolvedAt))
        #expect(line["checks"] as? Int == 4)
        #expect(line["duration_seconds"] as? Double == resolvedAt.timeIntervalSince(opened.firstSeen))

        for _ in 0..<3 { try await f.check() }
        #expect(f.lines(f.paths.monitorResolutions).count == 1, "a resolution is recorded once")
    }

    // MARK: Report files

    @Test("each check writes the status report (JSON and text), monitor_issues.json, and one STATUS line in monitor.log")
    func reportFiles() async throws {
        let f = try MonitorFixture()
        var statusLines = 0
        for n in 1...4 {
            if n == 3 { try await f.record([.failed, .failed, .failed]) }
            let result = try await f.check()
            let report = try MonitorFixture.json(f.paths.statusReportJSON)
            let overall = try #require(report["overall"] as? [String: Any])
            #expect(overall["status"] as? String == (n >= 3 ? "attention" : "ok"))
            #expect(overall["going_well"] is [Any] && overall["needs_attention"] is [Any])
            for layer in ["layer_0_goal", "layer_1_orchestration", "layer_2_execution", "layer_3_attention"] {
                #expect(report[layer] is [String: Any], "\(layer) in the report")
            }
            #expect((report["layer_0_goal"] as? [String: Any])?["goal_proximity"] is Double)
            let orchestration = try #require(report["layer_1_orchestration"] as? [String: Any])
            #expect(orchestration["workers"] as? Int == f.env.config.runner.workers)
            #expect(((orchestration["services"] as? [String: Any])?["agent_runner"] as? [String: Any])?["alive"] as? Bool == true)
            let open = try #require((report["layer_3_attention"] as? [String: Any])?["open_issues"] as? [[String: Any]])
            #expect(open.count == (n >= 3 ? 1 : 0))
            if n >= 3 {
                #expect((overall["needs_attention"] as? [String])?.first?.contains("repeated_failures") == true)
                #expect(open.first?["condition"] as? String == "repeated_failures")
            }
            #expect(report["generated_at"] as? String == Timestamp.format(f.clock.now.addingTimeInterval(-MonitorFixture.step)))

            let text = f.h.read(f.paths.statusReportText)
            #expect(text.hasPrefix("Nightshift status report"))
            #expect(text.contains(result.report.statusLine))
            #expect(text.contains("Going well:") && text.contains("Needs attention:"))

            let issues = try MonitorFixture.json(f.paths.monitorIssues)
            #expect(issues["open"] as? Int == (n >= 3 ? 1 : 0))
            #expect(issues["issues"] is [Any])

            let log = f.lines(f.paths.componentLog("monitor")).filter { $0.contains("STATUS ") }
            statusLines += 1
            #expect(log.count == statusLines, "one STATUS line per check")
            let expected = n >= 3 ? "STATUS ATTENTION | " : "STATUS OK | "
            #expect(log.last?.contains(expected) == true, "\(log.last ?? "")")
        }
    }

    @Test("the report files parse as JSON at every moment while checks rewrite them")
    func atomicWrites() async throws {
        let f = try MonitorFixture()
        try await f.record([.failed, .failed, .failed, .completed, .failed])
        try await f.check()
        let done = Locked(false)
        let paths = f.paths
        let reader = Task.detached { () -> (reads: Int, bad: [String]) in
            var reads = 0
            var bad: [String] = []
            while !done.value {
                await Task.yield()
                for path in [paths.statusReportJSON, paths.monitorIssues] {
                    guard let data = FileManager.default.contents(atPath: path) else {
                        bad.append("\(path) missing")
                        continue
                    }
                    if (try? JSONSerialization.jsonObject(with: data)) == nil {
                        bad.append("\(path): \(data.count) bytes that do not parse")
                    }
                    reads += 1
                }
            }
            return (reads, bad)
        }
        let writer = Task {
            for i in 0..<200 {
                // Alternate between an open and a resolved issue so the files change size.
                if i % 2 == 0 { try await f.record([.completed]) } else { try await f.record([.failed, .failed, .failed]) }
                try await f.check()
            }
        }
        let wrote: Void? = try? await writer.value
        done.withLock { $0 = true }
        let (reads, bad) = await reader.value
        #expect(wrote != nil, "200 checks ran")
        #expect(bad.isEmpty, "\(bad.prefix(5))")
        #expect(reads > 200, "the reader kept up (\(reads) reads)")
        #expect(f.lines(f.paths.monitorResolutions).count >= 99)
    }

    // MARK: Restart requests

    @Test("a stale version with auto_recover writes restart_requested.json, and not again within the cooldown")
    func restartOnStaleVersion() async throws {
        let repo = try TemporaryDirectory(prefix: "nightshift-monitor-repo")
        try PMGit.makeRepository(at: repo.path)
        let head = try PMGit.run(["rev-parse", "--short=12", "HEAD"], in: repo.path)
        let f = try MonitorFixture { c in
            c.runner.workspace = repo.path
            c.monitor.autoRecover = true
            c.monitor.restartCooldown = 600
        }
        func writeVersion(_ sha: String) throws {
            try PipelineVersion(
                gitSHA: sha, workspace: repo.path, version: VersionInfo.current, binary: "/usr/bin/nightshift",
                binaryModifiedAt: nil,
                startedAt: f.clock.now, pid: 1, watchdogPID: 1, reason: "initial start"
            ).write(to: f.paths.pipelineVersion)
        }
        try writeVersion(head)
        let same = try await f.check()
        #expect(same.findings.isEmpty, "the recorded version is the running one: \(same.findings)")
        #expect(!f.h.exists(f.paths.restartRequested))

        try writeVersion("0123456789ab")
        let at = f.clock.now
        let stale = try await f.check()
        #expect(stale.findings.map(\.condition) == ["stale_version"])
        let request = try #require(stale.restartRequested)
        let file = try #require(RestartRequest.read(path: f.paths.restartRequested))
        #expect(file == request)
        #expect(file.requestedBy == "monitor")
        #expect(file.at == at)
        #expect(file.reason.hasPrefix("stale_version: "))
        #expect(file.reason.contains("0123456789ab") && file.reason.contains(head))
        let raw = try MonitorFixture.json(f.paths.restartRequested)
        #expect(Set(raw.keys) == ["reason", "at", "requested_by"])

        // The watchdog consumes the request; the condition persists, but the cooldown holds.
        try FileManager.default.removeItem(atPath: f.paths.restartRequested)
        for _ in 0..<5 {
            let again = try await f.check()
            #expect(again.findings.map(\.condition) == ["stale_version"])
            #expect(again.restartRequested == nil)
        }
        #expect(!f.h.exists(f.paths.restartRequested))

        f.clock.advance(by: 600)
        let afterCooldown = try await f.check()
        #expect(afterCooldown.restartRequested != nil, "past the cooldown it asks again")
        #expect(f.h.exists(f.paths.restartRequested))
    }

    @Test("without auto_recover a stale version is an issue but no restart request")
    func noAutoRecover() async throws {
        let repo = try TemporaryDirectory(prefix: "nightshift-monitor-repo")
        try PMGit.makeRepository(at: repo.path)
        let f = try MonitorFixture { c in c.runner.workspace = repo.path }
        try PipelineVersion(
            gitSHA: "0123456789ab", workspace: repo.path, version: VersionInfo.current, binary: "x", binaryModifiedAt: nil,
            startedAt: f.clock.now, pid: 1, watchdogPID: 1, reason: "initial start"
        ).write(to: f.paths.pipelineVersion)
        let result = try await f.check()
        #expect(result.findings.map(\.condition) == ["stale_version"])
        #expect(result.restartRequested == nil)
        #expect(!f.h.exists(f.paths.restartRequested))
    }

    @Test("a rebuilt binary (its modification time moved since the start) is a stale version")
    func rebuiltBinary() async throws {
        let repo = try TemporaryDirectory(prefix: "nightshift-monitor-repo")
        try PMGit.makeRepository(at: repo.path)
        let head = try PMGit.run(["rev-parse", "--short=12", "HEAD"], in: repo.path)
        let f = try MonitorFixture { c in c.monitor.autoRecover = true }
        let binary = f.h.path("nightshift-binary")
        try Data("v1".utf8).write(to: URL(fileURLWithPath: binary))
        let built = Date(timeIntervalSince1970: 1_795_000_000.25)
        try FileManager.default.setAttributes([.modificationDate: built], ofItemAtPath: binary)
        try PipelineVersion(
            gitSHA: head, workspace: repo.path, version: VersionInfo.current, binary: binary,
            binaryModifiedAt: PipelineVersion.modificationTime(of: binary), startedAt: f.clock.now, pid: 1, watchdogPID: 1,
            reason: "initial start"
        ).write(to: f.paths.pipelineVersion)
        let same = try await f.check()
        #expect(same.findings.isEmpty, "the workspace named in pipeline_version.json is the one compared: \(same.findings)")

        try FileManager.default.setAttributes([.modificationDate: built.addingTimeInterval(90)], ofItemAtPath: binary)
        let rebuilt = try await f.check()
        #expect(rebuilt.findings.map(\.condition) == ["stale_version"])
        #expect(rebuilt.findings.first?.message.contains("binary rebuilt") == true, "\(rebuilt.findings)")
        #expect(rebuilt.restartRequested != nil)
    }

    @Test("a workspace whose HEAD cannot be read is no evidence of a new version")
    func unreadableHead() async throws {
        let notARepo = try TemporaryDirectory(prefix: "nightshift-monitor-norepo")
        let f = try MonitorFixture { c in
            c.runner.workspace = notARepo.path
            c.monitor.autoRecover = true
        }
        try PipelineVersion(
            gitSHA: "0123456789ab", workspace: notARepo.path, version: VersionInfo.current, binary: "/nonexistent/nightshift",
            binaryModifiedAt: nil, startedAt: f.clock.now, pid: 1, watchdogPID: 1, reason: "initial start"
        ).write(to: f.paths.pipelineVersion)
        let result = try await f.check()
        #expect(result.findings.isEmpty, "\(result.findings)")
        #expect(!f.h.exists(f.paths.restartRequested))
    }

    @Test("a runner that stops beating is runner_stale only past the threshold, and asks for a restart")
    func runnerStale() async throws {
        let f = try MonitorFixture { c in
            c.monitor.autoRecover = true
            c.monitor.thresholds.heartbeatStale = 30
        }
        // Never beat, but the monitor just started: grace.
        let first = try await f.check(beat: false)
        #expect(first.findings.isEmpty, "\(first.findings)")
        try await f.check()
        let quiet = try await f.check(beat: false)
        #expect(quiet.findings.isEmpty)
        f.clock.advance(by: 30)
        let stale = try await f.check(beat: false)
        #expect(stale.findings.map(\.condition) == ["runner_stale"])
        #expect(stale.restartRequested?.reason.hasPrefix("runner_stale") == true)
        let back = try await f.check()
        #expect(back.changes.resolved.map(\.condition) == ["runner_stale"])
    }

    // MARK: Heal tasks and fatal issues

    @Test("auto_fix files exactly one heal task per open issue over several checks")
    func healTasks() async throws {
        let f = try MonitorFixture { c in c.monitor.autoFix = true }
        try await f.record([.failed, .failed, .failed])
        let first = try await f.check()
        #expect(first.healTasks.count == 1)
        let healID = try #require(first.healTasks.first)
        for _ in 0..<5 {
            let again = try await f.check()
            #expect(again.healTasks.isEmpty)
        }
        let heal = try await f.h.store.list(TaskQuery(taskTypes: [.heal], limit: 100)).tasks
        #expect(heal.map(\.id) == [healID])
        let issue = try #require(try await f.issues().first)
        #expect(issue.healTaskID == healID)
        #expect(heal.first?.context["monitor_issue"] == .string(issue.id))
        #expect(heal.first?.direction.contains("repeated_failures") == true)

        // A second condition gets its own heal task, once.
        // (The heal task runs and fails too, so that it is out of the way of the next claims.)
        #expect(try await f.h.store.claimNext(owner: "runner", limit: 10, now: f.clock.now, lease: 60).map(\.id) == [healID])
        _ = try await f.h.store.finish(
            id: healID, owner: "runner", outcome: AttemptOutcome(.failed(errorClass: "agent_error", error: "x", retryDelay: nil)),
            now: f.clock.now)
        try await f.record(Array(repeating: .failed, count: 20))
        let more = try await f.check()
        #expect(more.findings.map(\.condition).sorted() == ["low_success_rate", "repeated_failures"])
        #expect(more.healTasks.count == 1)
        for _ in 0..<3 { #expect(try await f.check().healTasks.isEmpty) }
        #expect(try await f.h.store.list(TaskQuery(taskTypes: [.heal], limit: 100)).total == 2)
    }

    @Test("without auto_fix no heal task is filed")
    func noAutoFix() async throws {
        let f = try MonitorFixture()
        try await f.record([.failed, .failed, .failed])
        for _ in 0..<3 { #expect(try await f.check().healTasks.isEmpty) }
        #expect(try await f.h.store.list(TaskQuery(taskTypes: [.heal], limit: 100)).total == 0)
    }

    @Test("an executor whose program does not exist lands in fatal_issues.json once, counted per check")
    func fatalExecutorMissing() async throws {
        let f = try MonitorFixture { c in
            c.runner.executors = [
                "ghost": .init(command: "/nonexistent/agent-cli --print {direction}"),
                "shell": .init(command: "/bin/sh -c 'exit 0'"),
            ]
        }
        let first = try await f.check()
        #expect(first.findings.map(\.condition) == ["executor_missing"])
        #expect(first.findings.first?.subject == "executor:ghost")
        var fatal = try FatalIssues.load(path: f.paths.fatalIssues)
        #expect(fatal.map(\.condition) == ["executor_missing"])
        #expect(fatal.first?.source == "monitor")
        #expect(fatal.first?.context["subject"] == .string("executor:ghost"))
        try await f.check()
        try await f.check()
        fatal = try FatalIssues.load(path: f.paths.fatalIssues)
        #expect(fatal.count == 1)
        #expect(fatal.first?.count == 3)
        let raw = try MonitorFixture.json(f.paths.fatalIssues)
        #expect((raw["issues"] as? [Any])?.count == 1)
    }

    // MARK: Alerts

    @Test("a webhook gets exactly one signed POST per opened high issue, none for a repeat check, and one when it resolves")
    func webhookAlerts() async throws {
        let hook = try LoopbackHTTPReceiver()
        defer { hook.stop() }
        let secret = "hmac-test-secret"
        var notify = NightshiftConfig().notify
        notify.webhooks = [hook.baseURL + "/hooks/nightshift"]
        notify.webhookSecret = secret
        let f = try MonitorFixture(notify: notify) { c in c.monitor.thresholds.heartbeatStale = 30 }
        try await f.withNotifier {
            try await f.record([.failed, .failed, .failed])
            let opened = try await f.check()
            let issue = try #require(opened.changes.opened.first)
            try await RuntimeHarness.waitUntil("the first webhook POST") { hook.requests.count >= 1 }
            for _ in 0..<3 {
                try await f.record([.failed])
                #expect(try await f.check().changes.opened.isEmpty)
            }
            // A second high issue (the runner stops beating) is the marker that the repeat checks are behind us.
            f.clock.advance(by: 31)
            let stale = try await f.check(beat: false)
            #expect(stale.changes.opened.map(\.condition) == ["runner_stale"])
            try await RuntimeHarness.waitUntil("the second webhook POST") { hook.requests.count >= 2 }
            try await f.record([.completed])
            let resolvedCheck = try await f.check()
            #expect(resolvedCheck.changes.resolved.map(\.condition).sorted() == ["repeated_failures", "runner_stale"])
            try await RuntimeHarness.waitUntil("the two resolution POSTs") { hook.requests.count >= 4 }

            let requests = hook.requests
            #expect(requests.count == 4, "\(requests.map { String(decoding: $0.body, as: UTF8.self) })")
            for r in requests {
                #expect(r.method == "POST")
                #expect(r.path == "/hooks/nightshift")
                #expect(r.headers["content-type"] == "application/json")
                let signature = try #require(r.headers["x-nightshift-signature"])
                #expect(signature.hasPrefix("sha256=") && signature.count == 7 + 64)
                #expect(signature == Notifier.signature(body: r.body, secret: secret), "the HMAC covers the exact body")
                #expect(signature != Notifier.signature(body: r.body, secret: "other"))
            }
            let events = requests.compactMap { $0.json }
            let openedEvents = events.filter { $0["event"] as? String == "issue_opened" }
            #expect(
                openedEvents.compactMap { ($0["issue"] as? [String: Any])?["condition"] as? String }.sorted() == [
                    "repeated_failures", "runner_stale",
                ])
            #expect(openedEvents.contains { ($0["issue"] as? [String: Any])?["id"] as? String == issue.id })
            #expect(openedEvents.allSatisfy { ($0["text"] as? String)?.hasPrefix("[high] ") == true })
            #expect(events.filter { $0["event"] as? String == "issue_resolved" }.count == 2)
            let notified = try await f.issues(includeResolved: true)
            #expect(notified.filter { $0.notifiedAt != nil }.count == 2)
        }
    }

    @Test("Telegram gets sendMessage with the alert text for an opened high issue and for a task that needs a decision")
    func telegramAlerts() async throws {
        let telegram = try LoopbackHTTPReceiver()
        defer { telegram.stop() }
        var notify = NightshiftConfig().notify
        notify.telegram.token = "123:ABC"
        notify.telegram.chatIds = ["4242"]
        notify.telegram.apiBase = telegram.baseURL
        let f = try MonitorFixture(notify: notify)
        // The service loop listens for tasks that need a decision; its first check runs at once,
        // the next one only after the (60 s) interval, so the checks below do not race it.
        let monitorTask = Task { try await f.monitor.run() }
        defer { monitorTask.cancel() }
        try await RuntimeHarness.waitUntil("the service's first check") { f.env.health.heartbeats["monitor"] != nil }
        try await f.withNotifier {
            try await f.record([.failed, .failed, .failed])
            let result = try await f.check()
            let issue = try #require(result.changes.opened.first)
            try await RuntimeHarness.waitUntil("Telegram's sendMessage") {
                telegram.requests.contains { ($0.json?["text"] as? String)?.contains("repeated_failures") == true }
            }
            let r = try #require(telegram.requests.first { ($0.json?["text"] as? String)?.contains("repeated_failures") == true })
            #expect(r.method == "POST")
            #expect(r.path == "/bot123:ABC/sendMessage")
            #expect(r.json?["chat_id"] as? String == "4242")
            #expect(
                r.json?["text"] as? String == "[high] repeated_failures pipeline: \(issue.message)\n→ \(issue.suggestedAction)")

            // A task that needs a decision is announced with the command that answers it.
            let task = try await f.h.store.create(.make(now: f.clock.now))
            let claimed = try #require(
                try await f.h.store.claimNext(owner: "runner", limit: 1, now: f.clock.now, lease: 60).first)
            _ = try await f.env.ledger.finish(
                id: claimed.id, owner: "runner", outcome: AttemptOutcome(.needsDecision(prompt: "merge the branch?")),
                now: f.clock.now)
            try await RuntimeHarness.waitUntil("the needs_decision message") {
                telegram.requests.contains { ($0.json?["text"] as? String)?.contains(task.id) == true }
            }
            let decision = try #require(telegram.requests.first { ($0.json?["text"] as? String)?.contains(task.id) == true })
            #expect(
                decision.json?["text"] as? String
                    == "Task \(task.id) needs a decision: merge the branch?\nReply: /reply \(task.id) <decision>")
        }
    }

    @Test("a webhook that keeps failing is retried, then dropped, and never holds up the checks")
    func failingWebhook() async throws {
        let hook = try LoopbackHTTPReceiver(status: 500)
        defer { hook.stop() }
        var notify = NightshiftConfig().notify
        notify.webhooks = [hook.baseURL + "/down"]
        let f = try MonitorFixture(notify: notify)
        try await f.withNotifier {
            try await f.record([.failed, .failed, .failed])
            let result = try await f.check()
            #expect(result.changes.opened.count == 1)
            for _ in 0..<3 { try await f.check() }
            try await RuntimeHarness.waitUntil("three attempts (one try, two retries)") { hook.requests.count >= 3 }
            try await RuntimeHarness.waitUntil("the drop to be logged") {
                f.h.read(f.paths.componentLog("monitor")).contains("webhook alert dropped after 3 attempts")
            }
            #expect(hook.requests.count == 3)
        }
    }
}
