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
