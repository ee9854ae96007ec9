import Foundation
import Logging
import NightshiftCore
import NightshiftStore

/// The merge queue as `nightshift pm` and `GET /api/agent/pm` show it.
public struct LandingView: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var key: String
        public var title: String
        public var state: LandState
        public var attempts: Int
        public var detail: String?
        /// Files a dry-run merge into the base head conflicts in (nil = not checked).
        public var mergeConflicts: [String]?
        enum CodingKeys: String, CodingKey {
            case key, title, state, attempts, detail
            case mergeConflicts = "merge_conflicts"
        }
    }
    public struct Landed: Codable, Sendable, Equatable {
        public var key: String
        public var title: String
        public var from: String
        public var to: String
        public var at: Date?
    }
    /// An active item whose branch would conflict with the base head now.
    public struct Ahead: Codable, Sendable, Equatable {
        public var key: String
        public var files: [String]
    }
    public var mode: String
    public var baseBranch: String?
    /// Items in the queue, in landing order.
    public var queue: [Entry]
    public var lastLanded: Landed?
    public var conflictsAhead: [Ahead]
    enum CodingKeys: String, CodingKey {
        case mode, queue
        case baseBranch = "base_branch"
        case lastLanded = "last_landed"
        case conflictsAhead = "conflicts_ahead"
    }
}

extension ProjectManager {
    /// The error an item's landing decision gives when the queue is off.
    public struct LandingOff: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "the merge queue is off (project_manager.land: off, or no runner.workspace)" }
    }

    /// Why a change leaves an item's worktree with work that could be lost (a failed attempt,
    /// whether retried or not; a cancel; a rescue), or nil.
    static func abandonedWork(_ change: TaskChange) -> String? {
        guard change.task.backlogItem != nil, change.task.context["workdir"]?.stringValue != nil else { return nil }
        switch change.kind {
        case .finished where change.task.status == .failed || change.task.status == .pending:
            return "attempt \(change.task.attempt) of \(change.task.id) failed"
        case .cancelled: return "\(change.task.id) was cancelled"
        case .rescued: return "\(change.task.id) was rescued"
        default: return nil
        }
    }

    /// Saves the uncommitted changes in `task`'s worktree to a WIP ref (nothing else changes).
    func saveWork(of task: AgentTask, reason: String) async {
        guard let dir = task.context["workdir"]?.stringValue else { return }
        await saveWork(in: dir, item: task.backlogItem ?? "?", reason: reason)
    }

    func saveWork(in dir: String, item key: String, reason: String) async {
        guard workspace != nil, FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(".git")) else {
            return
        }
        let slug = (dir as NSString).lastPathComponent
        do {
            if let wip = try await WorktreeSafety.snapshot(
                worktree: dir, slug: slug, reason: reason, redactor: env.redactor, now: env.now(),
                push: env.config.projectManager.land == .push)
            {
                logger.notice("saved the uncommitted work of item \(key) as \(wip.ref) (\(reason))", metadata: ["item": "\(key)"])
            }
        } catch let blocked as WorktreeSafety.SecretBlocked {
            logger.error(
                "item \(key): its uncommitted work was not saved to a WIP ref (it stays in \(dir)): \(blocked)",
                metadata: ["item": "\(key)"])
        } catch {
            logger.warning("item \(key): cannot save its uncommitted work: \(error)", metadata: ["item": "\(key)"])
        }
    }

    /// Saves the work in every active item's worktree (startup and shutdown).
    func saveActiveWork(reason: String) async {
        guard workspace != nil, let active = try? await pipeline.overview(blockedLimit: 0).active else { return }
        for item in active {
            if let dir = item.workdir { await saveWork(in: dir, item: item.key, reason: reason) }
        }
    }

    /// The merge queue's view, or nil when it is off.
    func landingView() async throws -> LandingView? {
        guard let queue, let store = pipeline as? any LandingStore else { return nil }
        let entries = try await store.landingQueue().map { i in
            LandingView.Entry(
                key: i.key, title: i.title, state: i.landState ?? .queued, attempts: i.landAttempts, detail: i.landDetail,
                mergeConflicts: i.mergeConflicts)
        }
        let last = try await store.lastLanded().map { i in
            LandingView.Landed(key: i.key, title: i.title, from: i.landedFrom ?? "", to: i.landedTo ?? "", at: i.landedAt)
        }
        let ahead = try await pipeline.overview(blockedLimit: 0).active.compactMap { i -> LandingView.Ahead? in
            guard let files = i.mergeConflicts, !files.isEmpty else { return nil }
            return .init(key: i.key, files: files)
        }
        return LandingView(
            mode: queue.configuration.mode.rawValue, baseBranch: queue.baseBranch, queue: entries, lastLanded: last,
            conflictsAhead: ahead)
    }

    /// An operator's `retry` or `skip` for an item waiting in the merge queue; the queue runs
    /// at once after a retry.
    public func decideLanding(key: String, decision: LandDecision) async throws -> BacklogItem {
        guard let queue, let store = pipeline as? any LandingStore else { throw LandingOff() }
        let item = try await store.decideLanding(key: key, decision: decision, now: env.now())
        logger.info("item \(key): landing decision \(decision.rawValue)", metadata: ["item": "\(key)"])
        queue.wake.signal()
        return item
    }

    /// WIP refs with the item each belongs to (by slug), newest first; [] without a workspace.
    public func wipRefs() async throws -> [WIPEntry] {
        guard let workspace else { return [] }
        let refs = try await WorktreeSafety.list(repository: workspace.repository)
        let bySlug = Dictionary(try await pipeline.items().map { ($0.slug, $0) }, uniquingKeysWith: { a, _ in a })
        return refs.map { r in WIPEntry(wip: r, item: bySlug[r.slug]?.key, title: bySlug[r.slug]?.title) }
    }
}

/// One WIP ref and its item, for `nightshift pm wip` and `GET /api/agent/pm/wip`.
public struct WIPEntry: Codable, Sendable, Equatable {
    public var ref: String
    public var slug: String
    public var item: String?
    public var title: String?
    public var commit: String
    public var createdAt: Date?
    public var subject: String
    enum CodingKeys: String, CodingKey {
        case ref, slug, item, title, commit, subject
        case createdAt = "created_at"
    }

    public init(wip: WorktreeSafety.WIPRef, item: String?, title: String?) {
        ref = wip.ref
        slug = wip.slug
        self.item = item
        self.title = title
        commit = wip.commit
        createdAt = wip.createdAt
        subject = wip.subject
    }
}
