import Foundation
import GRDB
import NightshiftCore

/// The `backlog_items` row.
enum BacklogItemRecord {
    enum Columns: String, CaseIterable {
        case key, position, title, body, after, slug, state, phase, iteration
        case currentTaskID = "current_task_id", blockedReason = "blocked_reason", workdir, branch
        case lastSummary = "last_summary", createdAt = "created_at", updatedAt = "updated_at"
        case startedAt = "started_at", finishedAt = "finished_at"
        case landState = "land_state", landAttempts = "land_attempts", landDetail = "land_detail"
        case landedFrom = "landed_from", landedTo = "landed_to", landedAt = "landed_at"
        case mergeConflicts = "merge_conflicts", mergeChecked = "merge_checked", landConflictBase = "land_conflict_base"
    }

    static func decode(_ row: Row) throws -> BacklogItem {
        func c<T: DatabaseValueConvertible>(_ column: Columns) -> T { row[column.rawValue] }
        func o<T: DatabaseValueConvertible>(_ column: Columns) -> T? { row[column.rawValue] }
        return try BacklogItemRow(
            key: c(.key), position: c(.position), title: c(.title), body: c(.body), after: c(.after), slug: c(.slug),
            state: c(.state), phase: o(.phase), iteration: c(.iteration), currentTaskID: o(.currentTaskID),
            blockedReason: o(.blockedReason), workdir: o(.workdir), branch: o(.branch), lastSummary: o(.lastSummary),
            createdAt: o(.createdAt) ?? 0, updatedAt: o(.updatedAt), startedAt: o(.startedAt), finishedAt: o(.finishedAt),
            landState: o(.landState), landAttempts: o(.landAttempts) ?? 0, landDetail: o(.landDetail),
            landedFrom: o(.landedFrom), landedTo: o(.landedTo), landedAt: o(.landedAt), mergeConflicts: o(.mergeConflicts),
            mergeChecked: o(.mergeChecked), landConflictBase: o(.landConflictBase)
        ).item()
    }

    static func fetch(_ db: Database, key: String) throws -> BacklogItem? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM backlog_items WHERE key = ?"), arguments: [key]).map(decode)
    }
}
