import Foundation
import NightshiftCore
import NightshiftStore

/// How well the pipeline is doing (`/api/agent/effectiveness`, the status report's goal layer).
///
/// Goal proximity, as in the seed:
/// `min(1, rate · (0.5 + 0.5 · min(1, per_day / 10)) · max(0, 1 − 0.15 · open))`
/// where `rate` is the success rate of recent finished tasks (0 when none), `per_day` the tasks
/// completed in the last 24 h, and `open` the open monitor issues.
public struct Effectiveness: Encodable, Sendable, Equatable {
    public struct Throughput: Encodable, Sendable, Equatable {
        public var completedLastHour: Int
        public var completedLastDay: Int
        enum CodingKeys: String, CodingKey {
            case completedLastHour = "completed_last_hour"
            case completedLastDay = "completed_last_day"
        }
    }
    public struct Issues: Encodable, Sendable, Equatable {
        public var open: Int
        public var resolved7d: Int
        enum CodingKeys: String, CodingKey {
            case open
            case resolved7d = "resolved_7d"
        }
    }
    public struct Backlog: Encodable, Sendable, Equatable {
        public var total: Int
        public var done: Int
        public var active: Int
        public var blocked: Int
        public var queued: Int
        public var fractionDone: Double?
        enum CodingKeys: String, CodingKey {
            case total, done, active, blocked, queued
            case fractionDone = "fraction_done"
        }
    }

    public var throughput: Throughput
    public var successRate: Double?
    public var issues: Issues
    public var meanTimeToResolveSeconds: Double?
    public var backlogProgress: Backlog?
    public var goalProximity: Double
    public var generatedAt: Date

    enum CodingKeys: String, CodingKey {
        case throughput, issues
        case successRate = "success_rate"
        case meanTimeToResolveSeconds = "mean_time_to_resolve_seconds"
        case backlogProgress = "backlog_progress"
        case goalProximity = "goal_proximity"
        case generatedAt = "generated_at"
    }

    public static func goalProximity(successRate: Double, completedPerDay: Int, openIssues: Int) -> Double {
        min(1, successRate * (0.5 + 0.5 * min(1, Double(completedPerDay) / 10)) * max(0, 1 - 0.15 * Double(openIssues)))
    }

    /// Finished tasks the success rate is taken over.
    public static let window = 1000

    public static func compute(store: any TaskStore & MonitorStore & PipelineStore, now: Date) async throws -> Effectiveness {
        try await compute(store: store, now: now, recent: try await store.recentFinished(limit: window))
    }

    /// The same, over `recent` (the newest finished tasks, at most `window`) already read.
    static func compute(
        store: any TaskStore & MonitorStore & PipelineStore, now: Date, recent samples: [FinishedSample]
    ) async throws -> Effectiveness {
        // Throughput is counted in the database: reading every task of the last day as rows
        // made each check cost time proportional to the day's work.
        let completed = try await store.completedCounts(since: [now.addingTimeInterval(-3600), now.addingTimeInterval(-86400)])
        let (lastHour, lastDay) = (completed[0], completed[1])
        let metrics = TaskMetrics.compute(Array(samples.prefix(window)), windowSize: window)
        let stats = try await store.issueStats(resolvedSince: now.addingTimeInterval(-7 * 86400))
        let items = try await store.items()
        var backlog: Backlog?
        if !items.isEmpty {
            func n(_ s: ItemState) -> Int { items.filter { $0.state == s }.count }
            backlog = Backlog(
                total: items.count, done: n(.done), active: n(.active), blocked: n(.blocked), queued: n(.queued),
                fractionDone: (Double(n(.done)) / Double(items.count) * 1000).rounded() / 1000)
        }
        let proximity = goalProximity(successRate: metrics.successRate ?? 0, completedPerDay: lastDay, openIssues: stats.open)
        return Effectiveness(
            throughput: Throughput(completedLastHour: lastHour, completedLastDay: lastDay), successRate: metrics.successRate,
            issues: Issues(open: stats.open, resolved7d: stats.resolvedSince),
            meanTimeToResolveSeconds: stats.meanTimeToResolve.map { ($0 * 10).rounded() / 10 }, backlogProgress: backlog,
            goalProximity: (proximity * 1000).rounded() / 1000, generatedAt: now)
    }
}
