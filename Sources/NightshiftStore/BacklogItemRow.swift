import Foundation
import NightshiftCore

/// A `backlog_items` row as plain values, the same in every store: each dialect reads its
/// columns into one of these and `item()` builds the `BacklogItem` (the JSON lists parsed, the
/// states checked) in one place.
public struct BacklogItemRow: Sendable {
    public var key: String
    public var position: Int
    public var title: String
    public var body: String
    /// JSON array text.
    public var after: String
    public var slug: String
    public var state: String
    public var phase: String?
    public var iteration: Int
    public var currentTaskID: String?
    public var blockedReason: String?
    public var workdir: String?
    public var branch: String?
    public var lastSummary: String?
    public var createdAt: Double
    public var updatedAt: Double?
    public var startedAt: Double?
    public var finishedAt: Double?
    public var landState: String?
    public var landAttempts: Int
    public var landDetail: String?
    public var landedFrom: String?
    public var landedTo: String?
    public var landedAt: Double?
    /// JSON array text.
    public var mergeConflicts: String?
    public var mergeChecked: String?
    public var landConflictBase: String?

    public init(
        key: String, position: Int, title: String, body: String, after: String, slug: String, state: String,
        phase: String?, iteration: Int, currentTaskID: String?, blockedReason: String?, workdir: String?, branch: String?,
        lastSummary: String?, createdAt: Double, updatedAt: Double?, startedAt: Double?, finishedAt: Double?,
        landState: String?, landAttempts: Int, landDetail: String?, landedFrom: String?, landedTo: String?,
        landedAt: Double?, mergeConflicts: String?, mergeChecked: String?, landConflictBase: String?
    ) {
        self.key = key
        self.position = position
        self.title = title
        self.body = body
        self.after = after
        self.slug = slug
        self.state = state
        self.phase = phase
        self.iteration = iteration
        self.currentTaskID = currentTaskID
        self.blockedReason = blockedReason
        self.workdir = workdir
        self.branch = branch
        self.lastSummary = lastSummary
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.landState = landState
        self.landAttempts = landAttempts
        self.landDetail = landDetail
        self.landedFrom = landedFrom
        self.landedTo = landedTo
        self.landedAt = landedAt
        self.mergeConflicts = mergeConflicts
        self.mergeChecked = mergeChecked
        self.landConflictBase = landConflictBase
    }

    public func item() throws -> BacklogItem {
        func time(_ t: Double?) -> Date? { t.map { Date(timeIntervalSince1970: $0) } }
        // Most items depend on nothing: no JSON decoder for those.
        let afterKeys = after == "[]" ? [] : (try? JSONDecoder().decode([String].self, from: Data(after.utf8))) ?? []
        let entry = BacklogEntry(key: key, position: position, title: title, body: body, after: afterKeys, file: "", line: 0)
        var item = BacklogItem(entry: entry, now: Date(timeIntervalSince1970: createdAt))
        item.slug = slug
        guard let s = ItemState(rawValue: state) else { throw StoreError(.unavailable, "bad item state") }
        item.state = s
        item.phase = phase
        item.iteration = iteration
        item.currentTaskID = currentTaskID
        item.blockedReason = blockedReason
        item.workdir = workdir
        item.branch = branch
        item.lastSummary = lastSummary
        item.updatedAt = time(updatedAt) ?? item.createdAt
        item.startedAt = time(startedAt)
        item.finishedAt = time(finishedAt)
        item.landState = landState.flatMap(LandState.init(rawValue:))
        item.landAttempts = landAttempts
        item.landDetail = landDetail
        item.landedFrom = landedFrom
        item.landedTo = landedTo
        item.landedAt = time(landedAt)
        if let mergeConflicts {
            item.mergeConflicts = try? JSONDecoder().decode([String].self, from: Data(mergeConflicts.utf8))
        }
        item.mergeChecked = mergeChecked
        item.landConflictBase = landConflictBase
        return item
    }

    /// Why reprocessing `task`, the current or an old task of this item, cannot go on now: the
    /// item went on without it (its current task is another one), or it is done.
    public static func reprocessRefusal(
        key: String, state: ItemState, currentTaskID: String?, task: AgentTask
    ) -> String? {
        if currentTaskID != task.id {
            let current = currentTaskID.map { "task \($0)" } ?? "no task"
            return "its backlog item \(key) has moved on to \(current); reprocessing \(task.id) would run it twice"
        }
        if state == .done || state == .queued { return "its backlog item \(key) is \(state.rawValue)" }
        return nil
    }
}
