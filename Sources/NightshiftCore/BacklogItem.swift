import Foundation

/// Where a backlog item is in the pipeline.
public enum ItemState: String, Codable, CaseIterable, Sendable {
    /// Imported, not started (waiting for a slot, its dependencies, or the window).
    case queued
    /// A phase task exists for it.
    case active
    /// Every phase passed.
    case done
    /// It cannot go on without a human (failed too often, no decision, cancelled).
    case blocked
}

/// A backlog item as the project manager tracks it (the `backlog_items` row).
public struct BacklogItem: Codable, Sendable, Equatable, Identifiable {
    public var id: String { key }
    public var key: String
    public var position: Int
    public var title: String
    public var body: String
    public var after: [String]
    public var slug: String
    public var state: ItemState
    public var phase: String?
    public var iteration: Int
    public var currentTaskID: String?
    public var blockedReason: String?
    public var workdir: String?
    public var branch: String?
    public var lastSummary: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// Its place in the merge queue (`project_manager.land`); nil while it is not in it.
    public var landState: LandState?
    /// Merge tasks it had since it entered the queue (or an operator said retry).
    public var landAttempts = 0
    /// Why it waits, what the last conflict was, or what went wrong last.
    public var landDetail: String?
    /// The base head before and after it landed (`git log landed_from..landed_to`).
    public var landedFrom: String?
    public var landedTo: String?
    public var landedAt: Date?
    /// Files a dry-run merge of its branch into the base head conflicts in ([] = it merges
    /// cleanly; nil = not checked yet).
    public var mergeConflicts: [String]?
    /// "base-sha branch-sha" of that dry run, so it runs again only when either moved.
    public var mergeChecked: String?
    /// The base head its last rebase conflicted with: a branch that contains it since made progress.
    public var landConflictBase: String?

    enum CodingKeys: String, CodingKey {
        case key, position, title, body, after, slug, state, phase, iteration, workdir, branch
        case currentTaskID = "current_task_id"
        case blockedReason = "blocked_reason"
        case lastSummary = "last_summary"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case landState = "land_state"
        case landAttempts = "land_attempts"
        case landDetail = "land_detail"
        case landedFrom = "landed_from"
        case landedTo = "landed_to"
        case landedAt = "landed_at"
        case mergeConflicts = "merge_conflicts"
    }

    public init(entry: BacklogEntry, now: Date) {
        key = entry.key
        position = entry.position
        title = entry.title
        body = entry.body
        after = entry.after
        slug = BacklogParser.slug(key: entry.key, title: entry.title)
        state = .queued
        iteration = 0
        createdAt = now
        updatedAt = now
    }
}
