import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// The store side of the monitor's `log_recurring`: per fingerprint, the distinct tasks of a
/// run whose lines have it; and the monitor issue it opens and resolves through the store.
@Suite("SQLiteTaskStore log recurrences")
struct LogRecurrenceTests {
    static let start = Timestamp.parse("2026-12-01T22:00:00Z")!
    static let rules = LogRuleSet()

    static func line(_ run: String, _ source: String, _ message: String, level: String = "error") -> ClassifiedLogLine {
        ClassifiedLogLine(
            entry: LogEntry(runID: run, at: start, level: level, source: source, message: message),
            classification: rules.classify(message: message, level: level))
    }

    @Test("a fingerprint counts the distinct task:<id> sources of its run only; other sources and runs do not")
    func distinctTasks() async throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteTaskStore(path: dir.path("db.sqlite"))
        let policy = LogNotifyPolicy(count: 3, debounce: 600)
        let run = try await store.startLogRun(callbackURL: nil, now: Self.start)
        let other = try await store.startLogRun(callbackURL: nil, now: Self.start.addingTimeInterval(1))
        let tasks = ["task_00000000000000a1", "task_00000000000000a2", "task_00000000000000a3"]
        var lines: [ClassifiedLogLine] = []
        for (k, t) in tasks.enumerated() {
            lines.append(Self.line(run.id, "task:\(t)", "Error: connect ECONNREFUSED 10.0.0.\(k):5432"))
            lines.append(Self.line(run.id, "task:\(t)", "Error: connect ECONNREFUSED 10.0.1.\(k):5432"))
        }
        // The same fingerprint from a service and in another run: not tasks of this run.
        lines.append(Self.line(run.id, "api", "Error: connect ECONNREFUSED 10.0.9.9:5432"))
        lines.append(Self.line(other.id, "task:task_00000000000000b1", "Error: connect ECONNREFUSED 10.0.9.9:5432"))
        // Another fingerprint in two tasks only, and a plain line.
        lines.append(Self.line(run.id, "task:\(tasks[0])", "TypeError: x is not a function"))
        lines.append(Self.line(run.id, "task:\(tasks[1])", "TypeError: x is not a function"))
        lines.append(Self.line(run.id, "task:\(tasks[2])", "all good", level: "info"))
        _ = try await store.appendLogs(lines, policy: policy, now: Self.start)

        let found = try await store.logRecurrences(runID: run.id, minTasks: 3, limit: 10)
        #expect(found.count == 1)
        let r = try #require(found.first)
        #expect(r.ruleID == "connection_refused")
        #expect(r.taskIDs == tasks)
        #expect(r.count == 6, "the lines of those tasks, not the service's")
        #expect(r.template == "Error: connect ECONNREFUSED <ip>")
        #expect(r.fingerprint == lines[0].classification?.fingerprint)
        let two = try await store.logRecurrences(runID: run.id, minTasks: 2, limit: 10)
        #expect(two.map(\.ruleID) == ["connection_refused", "type_error"], "most tasks first")
        #expect(try await store.logRecurrences(runID: other.id, minTasks: 2, limit: 10).isEmpty)

        // Through the monitor's rule and the store's issue lifecycle: it opens once, then
        // resolves when the recurrence is gone (here: a higher threshold).
        var snapshot = MonitorSnapshot(now: Self.start)
        snapshot.logRecurrences = found
        var t = MonitorThresholds()
        let findings = MonitorRules.evaluate(snapshot, t).filter { $0.condition == .logRecurring }
        #expect(findings.count == 1)
        #expect(findings.first?.subject == "fingerprint:\(r.fingerprint)")
        #expect(findings.first?.severity == .high, "connection_refused is high")
        let opened = try await store.applyFindings(findings, now: Self.start)
        #expect(opened.opened.map(\.condition) == [.logRecurring])
        t.logRecurringTasks = 4
        #expect(MonitorRules.logRecurring(snapshot, t).isEmpty)
        let resolved = try await store.applyFindings([], now: Self.start.addingTimeInterval(60))
        #expect(resolved.resolved.map(\.condition) == [.logRecurring])
        t.logRecurringTasks = 0
        #expect(MonitorRules.logRecurring(snapshot, t).isEmpty, "0 turns the rule off")
        #expect(!MonitorCondition.logRecurring.isRestartable && !MonitorCondition.logRecurring.isFatal)
    }
}
