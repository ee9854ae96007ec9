import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// The monitor's half of the store (SQLite and PostgreSQL): one issue per (condition,
/// subject) with a stable id across checks, resolution when the finding clears, at most one
/// heal task per issue, and the task facts a check reads in one transaction. The schema test
/// with the sqlite3 shell is SQLite's alone.
@Suite("MonitorStore")
struct MonitorStoreTests {
    let dir: TemporaryDirectory
    let store: SQLiteTaskStore
    let clock = MutableNow()

    init() throws {
        dir = try TemporaryDirectory(prefix: "nightshift-monitor-store")
        store = try SQLiteTaskStore(path: dir.path(SQLiteTaskStore.fileName))
    }

    var now: Date { clock.now }

    static func finding(
        _ condition: MonitorCondition, _ subject: String = "pipeline", severity: Severity = .high, message: String = "m"
    ) -> Finding {
        Finding(condition: condition, subject: subject, severity: severity, message: message, suggestedAction: "do something")
    }

    /// One check: the findings applied at the current test time, then time moves on 10 s.
    @discardableResult
    func check(_ findings: [Finding]) async throws -> IssueChanges {
        let changes = try await store.applyFindings(findings, now: now)
        clock.advance(by: 10)
        return changes
    }

    func sqlite3(_ sql: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", "-bail", store.path, sql]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.runSerialized()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    // MARK: Lifecycle

    @Test(
        "a finding opens one issue per (condition, subject); a repeated key in one check counts once",
        arguments: DaemonStoreFactory.all)
    func opensOnePerKey(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        let changes = try await h.check([
            Self.finding("repeated_failures"), Self.finding("stuck_running", "task_a"), Self.finding("stuck_running", "task_b"),
            Self.finding("repeated_failures", message: "again"),
        ])
        #expect(changes.opened.map(\.condition) == ["repeated_failures", "stuck_running", "stuck_running"])
        #expect(changes.continued.isEmpty && changes.resolved.isEmpty)
        #expect(Set(changes.opened.map(\.id)).count == 3)
        #expect(changes.opened.allSatisfy { $0.id.hasPrefix("mi_") && $0.id.count == 19 && $0.count == 1 && $0.isOpen })
        #expect(changes.opened.allSatisfy { $0.firstSeen == MutableNow.defaultStart && $0.lastSeen == MutableNow.defaultStart })
        let stored = try await h.store.monitorIssues(includeResolved: true, limit: 100)
        #expect(stored.count == 3)
        #expect(Set(stored.map(\.id)) == Set(changes.opened.map(\.id)))
    }

    @Test(
        "the same finding keeps its id across checks and bumps count and last_seen; message and severity follow the finding",
        arguments: DaemonStoreFactory.all)
    func keepsID(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        let first = try await h.check([Self.finding("repeated_failures", severity: .medium, message: "3 failed")])
        let id = try #require(first.opened.first?.id)
        var last = first
        for n in 2...5 {
            last = try await h.check([
                Self.finding("repeated_failures", severity: n == 5 ? .critical : .medium, message: "\(n + 2) failed")
            ])
            #expect(last.opened.isEmpty)
            #expect(last.continued.map(\.id) == [id])
            #expect(last.continued.first?.count == n)
        }
        let issue = try #require(try await h.store.monitorIssues(includeResolved: true, limit: 10).first)
        #expect(issue.id == id)
        #expect(issue.count == 5)
        #expect(issue.firstSeen == MutableNow.defaultStart)
        #expect(issue.lastSeen == MutableNow.defaultStart.addingTimeInterval(40))
        #expect(issue.message == "7 failed")
        #expect(issue.severity == .critical)
        #expect(last.continued.first == issue, "what applyFindings returns is what is stored")
    }

    @Test("an issue resolves when its finding disappears; a new occurrence gets a new id", arguments: DaemonStoreFactory.all)
    func resolvesAndReopens(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        let opened = try await h.check([Self.finding("repeated_failures"), Self.finding("disk_low", "state_dir")])
        let failuresID = try #require(opened.opened.first { $0.condition == "repeated_failures" }?.id)
        let diskID = try #require(opened.opened.first { $0.condition == "disk_low" }?.id)
        try await h.check([Self.finding("repeated_failures"), Self.finding("disk_low", "state_dir")])

        let resolveTime = h.now
        let cleared = try await h.check([Self.finding("disk_low", "state_dir")])
        #expect(cleared.resolved.map(\.id) == [failuresID])
        #expect(cleared.resolved.first?.resolvedAt == resolveTime)
        #expect(cleared.resolved.first?.count == 2)
        #expect(cleared.continued.map(\.id) == [diskID])

        let quiet = try await h.check([Self.finding("disk_low", "state_dir")])
        #expect(quiet.resolved.isEmpty && quiet.opened.isEmpty, "a resolved issue is not resolved again")

        let again = try await h.check([Self.finding("repeated_failures"), Self.finding("disk_low", "state_dir")])
        let newID = try #require(again.opened.first?.id)
        #expect(again.opened.count == 1)
        #expect(newID != failuresID)
        #expect(again.opened.first?.count == 1)

        let all = try await h.store.monitorIssues(includeResolved: true, limit: 10)
        #expect(all.map(\.id) == [diskID, newID, failuresID])
        let old = try #require(all.last)
        #expect(old.resolvedAt == resolveTime, "the old issue stays resolved")
    }

    @Test("no findings resolves every open issue in one check, oldest first", arguments: DaemonStoreFactory.all)
    func resolvesAll(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        try await h.check([Self.finding("a")])
        try await h.check([Self.finding("a"), Self.finding("b")])
        let changes = try await h.check([])
        #expect(changes.resolved.map(\.condition) == ["a", "b"])
        #expect(try await h.store.monitorIssues(includeResolved: false, limit: 10).isEmpty)
        #expect(try await h.check([]).resolved.isEmpty)
    }

    @Test("the schema allows one open issue per (condition, subject), and any number of resolved ones")
    func openUniqueIndex() async throws {
        try await check([Self.finding("repeated_failures")])
        let insert = """
            INSERT INTO monitor_issues (id, condition, subject, severity, message, suggested_action, first_seen, last_seen, count, resolved_at)
            VALUES ('%@', 'repeated_failures', 'pipeline', 'high', 'm', 'a', 1, 1, 1, %@);
            """
        let duplicate = try sqlite3(String(format: insert, "mi_dup_open", "NULL"))
        #expect(duplicate.status != 0)
        #expect(duplicate.output.contains("UNIQUE"), "\(duplicate.output)")
        #expect(try sqlite3(String(format: insert, "mi_dup_resolved_1", "2")).status == 0)
        #expect(try sqlite3(String(format: insert, "mi_dup_resolved_2", "3")).status == 0)
        let otherSubject = try sqlite3(
            "INSERT INTO monitor_issues (id, condition, subject, severity, message, suggested_action, first_seen, last_seen, count) VALUES ('mi_other', 'repeated_failures', 'other', 'low', 'm', 'a', 1, 1, 1);"
        )
        #expect(otherSubject.status == 0)
        let badSeverity = try sqlite3(
            "INSERT INTO monitor_issues (id, condition, subject, severity, message, suggested_action, first_seen, last_seen, count) VALUES ('mi_bad', 'x', 'y', 'urgent', 'm', 'a', 1, 1, 1);"
        )
        #expect(badSeverity.status != 0, "severity is CHECKed")
        #expect(
            try sqlite3("SELECT COUNT(*) FROM monitor_issues WHERE resolved_at IS NULL;").output.trimmingCharacters(
                in: .whitespacesAndNewlines) == "2")
    }

    // MARK: Listing

    @Test(
        "monitorIssues: open first by severity (then oldest), then resolved newest first; the limit applies to the whole list",
        arguments: DaemonStoreFactory.all)
    func ordering(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        try await h.check([Self.finding("r1", severity: .low), Self.finding("r2", severity: .critical)])
        try await h.check([Self.finding("r2", severity: .critical)])  // r1 resolves
        try await h.check([])  // r2 resolves
        try await h.check([Self.finding("low", severity: .low), Self.finding("high1", severity: .high)])
        try await h.check([
            Self.finding("low", severity: .low), Self.finding("high1", severity: .high),
            Self.finding("crit", severity: .critical),
            Self.finding("med", severity: .medium), Self.finding("high2", severity: .high),
        ])
        let open = try await h.store.monitorIssues(includeResolved: false, limit: 100)
        #expect(open.map(\.condition) == ["crit", "high1", "high2", "med", "low"])
        let all = try await h.store.monitorIssues(includeResolved: true, limit: 100)
        #expect(all.map(\.condition) == ["crit", "high1", "high2", "med", "low", "r2", "r1"])
        #expect(all.prefix(5).allSatisfy(\.isOpen) && all.suffix(2).allSatisfy { !$0.isOpen })
        #expect(
            try await h.store.monitorIssues(includeResolved: true, limit: 6).map(\.condition) == [
                "crit", "high1", "high2", "med", "low", "r2",
            ])
        #expect(try await h.store.monitorIssues(includeResolved: true, limit: 3).map(\.condition) == ["crit", "high1", "high2"])
    }

    // MARK: Heal tasks and notifications

    @Test("fileHealTask files at most one task per issue and none for a resolved issue", arguments: DaemonStoreFactory.all)
    func healTask(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        let opened = try await h.check([Self.finding("repeated_failures")])
        let id = try #require(opened.opened.first?.id)
        let first = try await h.store.fileHealTask(issueID: id, task: .make(type: .heal, direction: "fix it", now: h.now)).value
        let task = try #require(first)
        #expect(task.taskType == .heal && task.status == .pending)
        #expect(try await h.store.get(task.id).direction == "fix it")
        let second = try await h.store.fileHealTask(issueID: id, task: .make(type: .heal, direction: "fix it again", now: h.now))
            .value
        #expect(second == nil)
        #expect(try await h.store.countByStatus()[.pending] == 1, "the second call created nothing")

        let issue = try #require(try await h.store.monitorIssues(includeResolved: false, limit: 1).first)
        #expect(issue.healTaskID == task.id)
        let continued = try await h.check([Self.finding("repeated_failures")])
        #expect(continued.continued.first?.healTaskID == task.id, "the heal task stays with the issue across checks")

        try await h.check([])
        let reopened = try await h.check([Self.finding("repeated_failures")])
        let newID = try #require(reopened.opened.first?.id)
        #expect(reopened.opened.first?.healTaskID == nil)
        #expect(
            try await h.store.fileHealTask(issueID: id, task: .make(type: .heal, now: h.now)).value == nil,
            "never for a resolved issue")
        #expect(try await h.store.fileHealTask(issueID: "mi_doesnotexist000", task: .make(type: .heal, now: h.now)).value == nil)
        #expect(
            try await h.store.fileHealTask(issueID: newID, task: .make(type: .heal, now: h.now)).value != nil,
            "the new occurrence gets its own")
        #expect(try await h.store.countByStatus()[.pending] == 2)
    }

    @Test("markNotified stamps only the given issues", arguments: DaemonStoreFactory.all)
    func notified(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        let opened = try await h.check([Self.finding("a"), Self.finding("b")])
        let a = try #require(opened.opened.first { $0.condition == "a" })
        let at = h.now
        try await h.store.markNotified(issueIDs: [a.id], at: at)
        try await h.store.markNotified(issueIDs: [], at: at)
        let issues = try await h.store.monitorIssues(includeResolved: true, limit: 10)
        #expect(issues.first { $0.condition == "a" }?.notifiedAt == at)
        #expect(issues.first { $0.condition == "b" }?.notifiedAt == nil)
    }

    // MARK: Statistics

    @Test("issueStats: open count, resolved since the cutoff, mean time to resolve over those", arguments: DaemonStoreFactory.all)
    func stats(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        let empty = try await h.store.issueStats(resolvedSince: .distantPast)
        #expect(empty.open == 0 && empty.resolvedSince == 0 && empty.meanTimeToResolve == nil)

        // a: seen at t0, resolved at t0+10. b: seen t0, resolved t0+30. c stays open.
        try await h.check([Self.finding("a"), Self.finding("b"), Self.finding("c")])
        try await h.check([Self.finding("b"), Self.finding("c")])
        let cutoff = h.now
        try await h.check([Self.finding("b"), Self.finding("c")])
        try await h.check([Self.finding("c")])
        let all = try await h.store.issueStats(resolvedSince: MutableNow.defaultStart)
        #expect(all.open == 1)
        #expect(all.resolvedSince == 2)
        #expect(all.meanTimeToResolve == 20)
        let recent = try await h.store.issueStats(resolvedSince: cutoff)
        #expect(recent.resolvedSince == 1)
        #expect(recent.meanTimeToResolve == 30)
        #expect(try await h.store.issueStats(resolvedSince: h.now).resolvedSince == 0)
    }

    @Test(
        "completedCounts: completed tasks finished at or after each cutoff; failed ones do not count",
        arguments: DaemonStoreFactory.all)
    func completedCounts(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        let start = h.now
        for (i, fails) in [false, true, false, false, true].enumerated() {
            let t = try await h.store.create(.make(maxAttempts: 1, now: h.now))
            _ = try await h.store.claimNext(owner: "r", limit: 1, now: h.now, lease: 60)
            h.clock.advance(by: 100)
            let kind: AttemptOutcome.Kind = fails ? .failed(errorClass: "agent_error", error: "x", retryDelay: nil) : .completed
            _ = try await h.store.finish(id: t.id, owner: "r", outcome: AttemptOutcome(kind), now: h.now)
            #expect(i >= 0)
        }
        // Completed at start+100, +300, +400; failed at +200, +500.
        let counts = try await h.store.completedCounts(since: [
            start, start.addingTimeInterval(300), start.addingTimeInterval(301), start.addingTimeInterval(1000),
        ])
        #expect(counts == [3, 2, 1, 0])
        #expect(try await h.store.completedCounts(since: []) == [])
    }

    // MARK: Task health

    @Test(
        "taskHealth: counts, oldest runnable, running with leases, recent outcomes newest first, waiting oldest first",
        arguments: DaemonStoreFactory.all)
    func taskHealth(_ factory: DaemonStoreFactory) async throws {
        let h = try await MonitorHarness(factory)
        let start = h.now
        let empty = try await h.store.taskHealth(now: h.now, recent: 10)
        #expect(empty == TaskHealthView())

        // Two tasks run and finish: completed, then failed (newest).
        let owner = "runner"
        for outcome in [AttemptOutcome.Kind.completed, .failed(errorClass: "agent_error", error: "exit 1", retryDelay: nil)] {
            let t = try await h.store.create(.make(priority: 100, maxAttempts: 1, now: h.now))
            let claimed = try #require(try await h.store.claimNext(owner: owner, limit: 1, now: h.now, lease: 60).first)
            #expect(claimed.id == t.id)
            h.clock.advance(by: 5)
            _ = try await h.store.finish(id: t.id, owner: owner, outcome: AttemptOutcome(outcome), now: h.now)
            h.clock.advance(by: 5)
        }
        // One waits for a decision.
        let asked = try await h.store.create(.make(priority: 100, now: h.now))
        _ = try await h.store.claimNext(owner: owner, limit: 1, now: h.now, lease: 60)
        let askedAt = h.now.addingTimeInterval(1)
        _ = try await h.store.finish(
            id: asked.id, owner: owner, outcome: AttemptOutcome(.needsDecision(prompt: "which way?")), now: askedAt)
        h.clock.advance(by: 5)
        // One runs with a lease.
        let runningTask = try await h.store.create(.make(priority: 100, now: h.now))
        let runStart = h.now
        _ = try await h.store.claimNext(owner: owner, limit: 1, now: h.now, lease: 60)
        h.clock.advance(by: 5)
        // One is retried with a backoff: pending, but not runnable yet.
        let retried = try await h.store.create(.make(priority: 100, maxAttempts: 3, now: h.now))
        _ = try await h.store.claimNext(owner: owner, limit: 1, now: h.now, lease: 60)
        let retriedAt = h.now
        _ = try await h.store.finish(
            id: retried.id, owner: owner,
            outcome: AttemptOutcome(.failed(errorClass: "agent_error", error: "x", retryDelay: 300)), now: h.now)
        #expect(
            try await h.store.taskHealth(now: h.now, recent: 10).oldestRunnableSince == nil,
            "a pending task in its backoff is not runnable")
        let afterBackoff = try await h.store.taskHealth(now: retriedAt.addingTimeInterval(301), recent: 1)
        #expect(afterBackoff.oldestRunnableSince == retriedAt.addingTimeInterval(300), "runnable since its backoff passed")
        #expect(afterBackoff.recentOutcomes == [.failed], "`recent` limits the outcomes")
        h.clock.advance(by: 5)
        // Two plain pending tasks; the first is the oldest runnable.
        let firstPendingAt = h.now
        _ = try await h.store.create(.make(now: h.now))
        h.clock.advance(by: 5)
        _ = try await h.store.create(.make(now: h.now))
        // And a cancelled one.
        let cancelled = try await h.store.create(.make(now: h.now))
        _ = try await h.store.cancel(id: cancelled.id, reason: "no", now: h.now)

        let view = try await h.store.taskHealth(now: h.now, recent: 10)
        #expect(view.counts == [.completed: 1, .failed: 1, .needsDecision: 1, .running: 1, .pending: 3, .cancelled: 1])
        #expect(view.oldestRunnableSince == firstPendingAt, "the retried task's backoff has not passed")
        #expect(view.running.map(\.id) == [runningTask.id])
        #expect(view.running.first?.startedAt == runStart)
        #expect(view.running.first?.leaseExpiresAt == runStart.addingTimeInterval(60))
        #expect(view.recentOutcomes == [.failed, .completed])
        #expect(view.waiting.map(\.id) == [asked.id])
        #expect(view.waiting.first?.since == askedAt)
        #expect(view.waiting.first?.prompt == "which way?")
        #expect(start < firstPendingAt)
    }
}

/// A store of one implementation with the test clock a monitor test drives it with.
final class MonitorHarness: Sendable {
    let database: ScratchDatabase
    let store: any DaemonStore
    let clock = MutableNow()

    init(_ factory: DaemonStoreFactory) async throws {
        (database, store) = try await factory.store()
    }

    var now: Date { clock.now }

    /// One check: the findings applied at the current test time, then time moves on 10 s.
    @discardableResult
    func check(_ findings: [Finding]) async throws -> IssueChanges {
        let changes = try await store.applyFindings(findings, now: now)
        clock.advance(by: 10)
        return changes
    }
}
