import Foundation
import NightshiftCore

/// What an import of the backlog changed.
public struct ImportSummary: Sendable, Equatable {
    public var added: [String] = []
    public var updated: [String] = []
    public var unchanged = 0
    public init() {}
}

/// The project manager's persistent state: imported items, pause, and the overnight window.
public protocol PipelineStore: Sendable {
    /// Upserts the parsed backlog in one transaction. Items keep their identity (key); the text
    /// of an item that has not started yet follows the file, started items keep theirs.
    func importBacklog(_ entries: [BacklogEntry], now: Date) async throws -> ImportSummary
    func items() async throws -> [BacklogItem]
    /// Queued items whose dependencies are done, in backlog order, while fewer than `parallel`
    /// items are active.
    func startableItems(parallel: Int) async throws -> [BacklogItem]
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
