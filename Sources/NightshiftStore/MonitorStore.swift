import Foundation
import NightshiftCore

/// The task facts a monitor check needs, read in one transaction.
public struct TaskHealthView: Sendable, Equatable {
    public var counts: [TaskStatus: Int] = [:]
    public var oldestRunnableSince: Date?
    public var running: [MonitorSnapshot.RunningTask] = []
    public var recentOutcomes: [TaskStatus] = []
    public var waiting: [MonitorSnapshot.Waiting] = []
    public init() {}
}

/// Issue statistics for effectiveness.
public struct IssueStats: Sendable, Equatable {
    public var open: Int
    public var resolvedSince: Int
    /// Mean seconds from first seen to resolved, over issues resolved since the cutoff.
    public var meanTimeToResolve: Double?

    public init(open: Int, resolvedSince: Int, meanTimeToResolve: Double?) {
        self.open = open
        self.resolvedSince = resolvedSince
        self.meanTimeToResolve = meanTimeToResolve
    }
}

/// The monitor's persistent state: issues and their lifecycle.
public protocol MonitorStore: Sendable {
    /// One transaction: findings with an open issue continue it (count, last_seen), new ones
    /// open an issue, open issues without a finding are resolved.
    func applyFindings(_ findings: [Finding], now: Date) async throws -> IssueChanges
    /// Open issues first (most severe first), then resolved ones newest first when asked.
    func monitorIssues(includeResolved: Bool, limit: Int) async throws -> [MonitorIssue]
    /// Creates `task` as the issue's heal task unless it already has one or is resolved.
    func fileHealTask(issueID: String, task: AgentTask) async throws -> Changes<AgentTask?>
    func markNotified(issueIDs: [String], at: Date) async throws
    func issueStats(resolvedSince: Date) async throws -> IssueStats
    /// Tasks completed at or after each cutoff, counted in the database (no rows fetched).
    func completedCounts(since cutoffs: [Date]) async throws -> [Int]
    func taskHealth(now: Date, recent: Int) async throws -> TaskHealthView
}

extension IssueChanges {
    /// What a check's findings make of the open issues, the same in every store: a finding
    /// continues the open issue of its (condition, subject) or opens a new one (repeated
    /// findings count once); open issues that no finding names are resolved, oldest first.
    /// The store writes the result in the transaction it read `open` in.
    public static func folding(_ findings: [Finding], into open: [MonitorIssue], now: Date) -> IssueChanges {
        var changes = IssueChanges()
        var byKey = Dictionary(uniqueKeysWithValues: open.map { ("\($0.condition)\u{0}\($0.subject)", $0) })
        var seen = Set<String>()
        for f in findings {
            let key = "\(f.condition)\u{0}\(f.subject)"
            guard seen.insert(key).inserted else { continue }
            if var issue = byKey.removeValue(forKey: key) {
                issue.lastSeen = now
                issue.count += 1
                issue.severity = f.severity
                issue.message = f.message
                issue.suggestedAction = f.suggestedAction
                changes.continued.append(issue)
            } else {
                changes.opened.append(MonitorIssue(id: MonitorIssue.newID(), finding: f, now: now))
            }
        }
        for var issue in byKey.values.sorted(by: { $0.firstSeen < $1.firstSeen }) {
            issue.resolvedAt = now
            changes.resolved.append(issue)
        }
        return changes
    }
}
