import Foundation
import NightshiftCore

/// A classified line ready to be stored (the service classifies, the store keeps).
public struct ClassifiedLogLine: Sendable, Equatable {
    public var entry: LogEntry
    public var classification: LogClassification?
    public init(entry: LogEntry, classification: LogClassification?) {
        self.entry = entry
        self.classification = classification
    }
}

/// What one append changed: the lines with their ids, and the fingerprints that are due a
/// notification (already marked notified in the same transaction, so two appends never both
/// notify).
public struct LogAppendResult: Sendable, Equatable {
    public var lines: [LogEntry] = []
    public var notify: [LogIssue] = []
    public init() {}
}

/// Which stored lines to read.
public struct LogLineQuery: Sendable, Equatable {
    public var runID: String
    public var source: String?
    public var levels: [String]?
    public var since: Date?
    /// Lines with an id above this, oldest first (the tail); otherwise the newest first.
    public var afterID: Int64?
    /// With `newestFirst`: lines with an id below this (paging back).
    public var beforeID: Int64?
    public var limit: Int
    public init(
        runID: String, source: String? = nil, levels: [String]? = nil, since: Date? = nil, afterID: Int64? = nil,
        beforeID: Int64? = nil, limit: Int
    ) {
        self.runID = runID
        self.source = source
        self.levels = levels
        self.since = since
        self.afterID = afterID
        self.beforeID = beforeID
        self.limit = limit
    }
}

/// What pruning removed.
public struct LogPruneResult: Sendable, Equatable {
    public var lines = 0
    public var fingerprints = 0
    public var runs = 0
    public init() {}
}

/// The ingested logs: runs, lines and fingerprints (issue 13). Each operation is one transaction.
public protocol LogStore: Sendable {
    /// Creates a run with a fresh id (`RunID.generate`), which becomes `latest`.
    func startLogRun(callbackURL: String?, now: Date) async throws -> LogRun
    /// Creates the run if it does not exist (it keeps its creation time if it does).
    func ensureLogRun(_ id: String, now: Date) async throws -> LogRun
    func logRun(_ id: String) async throws -> LogRun?
    /// The newest run by creation time.
    func latestLogRun() async throws -> LogRun?
    /// Stores the lines (creating their runs), folds the classified ones into their run's
    /// fingerprints and marks those the policy says are due.
    func appendLogs(_ lines: [ClassifiedLogLine], policy: LogNotifyPolicy, now: Date) async throws -> LogAppendResult
    /// A run's fingerprints, most seen first.
    func logIssues(runID: String, limit: Int) async throws -> [LogIssue]
    func logLines(_ query: LogLineQuery) async throws -> [LogEntry]
    /// Adds tokens to a run's spend and returns the new total.
    func addLogTokens(runID: String, tokens: Int) async throws -> Int
    /// Reserves `tokens` of a run's budget before a question goes to the model: in one
    /// statement, only when the spend (reservations in flight included) plus `tokens` stays
    /// within `budget`. The new spend, or nil when they do not fit (nothing changes then).
    func reserveLogTokens(runID: String, tokens: Int, budget: Int) async throws -> Int?
    /// Replaces a reservation of `reserved` tokens with what the question really `used` (0
    /// when the model failed); the new spend.
    func settleLogTokens(runID: String, reserved: Int, used: Int) async throws -> Int
    /// The fingerprints of a run seen in lines of at least `minTasks` distinct tasks (sources
    /// `task:<id>`), most tasks first, then by fingerprint.
    func logRecurrences(runID: String, minTasks: Int, limit: Int) async throws -> [LogRecurrence]
    /// Deletes lines received before `cutoff`, then the oldest lines past `maxBytes`, then
    /// fingerprints not seen since `cutoff` and empty runs older than it (never the latest).
    func pruneLogs(before cutoff: Date, maxBytes: Int) async throws -> LogPruneResult
}

/// The fingerprints one append touches, folded the same way in every store: each classified
/// line adds a sighting to its run's fingerprint (an existing one, or a new one), and the
/// policy marks those due a notification. The store loads `existing` and writes the result in
/// the append's transaction.
public struct LogFingerprintFold: Sendable {
    /// Touched fingerprints in first-seen order, as they are after the append.
    public var issues: [LogIssue] = []
    /// Which of `issues` are new (to insert rather than update), by `key`.
    public var new: Set<String> = []
    /// The ones due a notification (their `notifiedAt` is now).
    public var notify: [LogIssue] = []

    /// The key of a run's fingerprint.
    public static func key(run: String, fingerprint: String) -> String { run + "\u{0}" + fingerprint }

    /// The (run, fingerprint) pairs `lines` touch, each once, in first-seen order.
    public static func touched(_ lines: [ClassifiedLogLine]) -> [(run: String, fingerprint: String)] {
        var seen = Set<String>()
        var out: [(run: String, fingerprint: String)] = []
        for line in lines {
            guard let c = line.classification else { continue }
            if seen.insert(key(run: line.entry.runID, fingerprint: c.fingerprint)).inserted {
                out.append((line.entry.runID, c.fingerprint))
            }
        }
        return out
    }

    public init(_ lines: [ClassifiedLogLine], existing: [String: LogIssue], policy: LogNotifyPolicy, now: Date) {
        var touched: [String: LogIssue] = [:]
        var order: [String] = []
        for line in lines {
            guard let c = line.classification else { continue }
            let e = line.entry
            let k = Self.key(run: e.runID, fingerprint: c.fingerprint)
            if touched[k] == nil {
                if let found = existing[k] {
                    touched[k] = found
                } else {
                    touched[k] = LogIssue(
                        runID: e.runID, fingerprint: c.fingerprint, ruleID: c.ruleID, severity: c.severity,
                        template: c.template, count: 0, firstSeen: e.at, lastSeen: e.at, sources: [], examples: [])
                    new.insert(k)
                }
                order.append(k)
            }
            touched[k]!.add(message: e.message, source: e.source, at: e.at)
        }
        for k in order {
            var issue = touched[k]!
            if policy.shouldNotify(issue, now: now) {
                issue.notifiedAt = now
                notify.append(issue)
            }
            issues.append(issue)
        }
    }
}
