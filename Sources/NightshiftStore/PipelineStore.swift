import Foundation
import NightshiftCore

/// What an import of the backlog changed.
public struct ImportSummary: Sendable, Equatable {
    public var added: [String] = []
    public var updated: [String] = []
    public var unchanged = 0
    public init() {}
}

/// What the project manager shows each pass, read in one transaction; its cost does not grow
/// with the backlog (counts are kept, not counted; only active and the first blocked items are read).
public struct PipelineOverview: Sendable, Equatable {
    /// Items per state, every state present.
    public var counts: [ItemState: Int]
    /// Active items in backlog order.
    public var active: [BacklogItem]
    /// The status of each active item's current task, by item key.
    public var taskStatus: [String: TaskStatus]
    /// Blocked items in backlog order, at most the limit asked for.
    public var blocked: [BacklogItem]
    public var paused: Bool
    public var windowEndsAt: Date?

    public init(
        counts: [ItemState: Int] = [:], active: [BacklogItem] = [], taskStatus: [String: TaskStatus] = [:],
        blocked: [BacklogItem] = [], paused: Bool = false, windowEndsAt: Date? = nil
    ) {
        self.counts = counts
        self.active = active
        self.taskStatus = taskStatus
        self.blocked = blocked
        self.paused = paused
        self.windowEndsAt = windowEndsAt
    }

    /// Items in any state.
    public var total: Int { counts.values.reduce(0, +) }
}

/// The project manager's persistent state: imported items, pause, and the overnight window.
public protocol PipelineStore: Sendable {
    /// Upserts the parsed backlog in one transaction. Items keep their identity (key); the text
    /// of an item that has not started yet follows the file, started items keep theirs.
    func importBacklog(_ entries: [BacklogEntry], now: Date) async throws -> ImportSummary
    /// Every item, in backlog order (for the API's full view; passes use `overview`).
    func items() async throws -> [BacklogItem]
    /// The items with these keys, in backlog order; keys that do not exist are left out.
    func items(keys: [String]) async throws -> [BacklogItem]
    /// Counts, active items with their tasks' status, the first `blockedLimit` blocked items
    /// (all when nil), pause and window.
    func overview(blockedLimit: Int?) async throws -> PipelineOverview
    /// Queued items whose dependencies are done, in backlog order, while fewer than `parallel`
    /// items are active.
    func startableItems(parallel: Int) async throws -> [BacklogItem]
    /// Done items with a worktree that finished in [`since`, `before`) (any time before when
    /// `since` is nil), oldest first.
    func finishedItems(since: Date?, before: Date) async throws -> [BacklogItem]
    /// queued → active with its first task, in one transaction; nil if it is no longer startable.
    func startItem(key: String, parallel: Int, workdir: String?, branch: String?, now: Date) async throws -> Changes<AgentTask?>
    /// Applies the plan to active items whose current task has ended but that did not move on
    /// (the window was closed or the pipeline paused then). Returns the tasks it created.
    func reconcileItems(now: Date) async throws -> Changes<[AgentTask]>
    func setPipelineValue(_ key: String, _ value: String?) async throws
    func pipelineValue(_ key: String) async throws -> String?
}

/// Keys of `pm_state`.
public enum PipelineKeys {
    public static let paused = "paused"
    public static let windowEndsAt = "window_ends_at"
    public static let windowHours = "window_hours"
}

/// Everything `nightshift serve` asks of its store: the task queue and the stores of the
/// services around it. SQLite and PostgreSQL both are one.
public typealias DaemonStore = TaskStore & RunStore & MonitorStore & LogStore & LandingStore & NodeStore

extension PipelineKeys {
    /// True when the pipeline may create new tasks now, from the `paused` and
    /// `window_ends_at` values: not paused, inside the window.
    public static func mayCreateWork(paused: String?, windowEndsAt: String?, now: Date) -> Bool {
        if paused == "1" { return false }
        if let end = windowEndsAt, let e = Double(end), now.timeIntervalSince1970 >= e { return false }
        return true
    }
}
