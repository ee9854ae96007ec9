import Foundation
import NightshiftCore
import NightshiftStore
import Synchronization

/// A `PipelineStore` that forwards to another and counts the calls of each operation and the
/// backlog items they returned, so tests can assert that a pass does not read the whole backlog.
public final class PMCountingStore: PipelineStore {
    public let base: any PipelineStore
    private let tally = Mutex<(calls: [String: Int], items: Int)>(([:], 0))

    public init(_ base: any PipelineStore) { self.base = base }

    /// Calls of `operation` (its name without arguments, e.g. "items") since the last reset.
    public func calls(_ operation: String) -> Int { tally.withLock { $0.calls[operation, default: 0] } }
    /// Backlog items returned by every call since the last reset.
    public var itemsRead: Int { tally.withLock { $0.items } }
    public func reset() { tally.withLock { $0 = ([:], 0) } }

    private func count<T>(_ operation: String, items: Int = 0, _ value: T) -> T {
        tally.withLock {
            $0.calls[operation, default: 0] += 1
            $0.items += items
        }
        return value
    }

    public func importBacklog(_ entries: [BacklogEntry], now: Date) async throws -> ImportSummary {
        count("importBacklog", try await base.importBacklog(entries, now: now))
    }
    public func items() async throws -> [BacklogItem] {
        let v = try await base.items()
        return count("items", items: v.count, v)
    }
    public func items(keys: [String]) async throws -> [BacklogItem] {
        let v = try await base.items(keys: keys)
        return count("itemsByKey", items: v.count, v)
    }
    public func overview(blockedLimit: Int?) async throws -> PipelineOverview {
        let v = try await base.overview(blockedLimit: blockedLimit)
        return count("overview", items: v.active.count + v.blocked.count, v)
    }
    public func startableItems(parallel: Int) async throws -> [BacklogItem] {
        let v = try await base.startableItems(parallel: parallel)
        return count("startableItems", items: v.count, v)
    }
    public func finishedItems(since: Date?, before: Date) async throws -> [BacklogItem] {
        let v = try await base.finishedItems(since: since, before: before)
        return count("finishedItems", items: v.count, v)
    }
    public func startItem(
        key: String, parallel: Int, workdir: String?, branch: String?, now: Date
    ) async throws -> Changes<AgentTask?> {
        count("startItem", try await base.startItem(key: key, parallel: parallel, workdir: workdir, branch: branch, now: now))
    }
    public func reconcileItems(now: Date) async throws -> Changes<[AgentTask]> {
        count("reconcileItems", try await base.reconcileItems(now: now))
    }
    public func setPipelineValue(_ key: String, _ value: String?) async throws {
        count("setPipelineValue", try await base.setPipelineValue(key, value))
    }
    public func pipelineValue(_ key: String) async throws -> String? {
        count("pipelineValue", try await base.pipelineValue(key))
    }
}
