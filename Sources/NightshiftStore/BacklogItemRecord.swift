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
        func time(_ c: Columns) -> Date? { (row[c.rawValue] as Double?).map { Date(timeIntervalSince1970: $0) } }
        let afterText: String = row[Columns.after.rawValue]
        // Most items depend on nothing: no JSON decoder for those.
        let after = afterText == "[]" ? [] : (try? JSONDecoder().decode([String].self, from: Data(afterText.utf8))) ?? []
        let entry = BacklogEntry(
            key: row[Columns.key.rawValue], position: row[Columns.position.rawValue], title: row[Columns.title.rawValue],
            body: row[Columns.body.rawValue], after: after, file: "", line: 0)
        var item = BacklogItem(entry: entry, now: time(.createdAt) ?? Date(timeIntervalSince1970: 0))
        item.slug = row[Columns.slug.rawValue]
        guard let state = ItemState(rawValue: row[Columns.state.rawValue]) else {
            throw StoreError(.unavailable, "bad item state")
        }
        item.state = state
        item.phase = row[Columns.phase.rawValue]
        item.iteration = row[Columns.iteration.rawValue]
        item.currentTaskID = row[Columns.currentTaskID.rawValue]
        item.blockedReason = row[Columns.blockedReason.rawValue]
        item.workdir = row[Columns.workdir.rawValue]
        item.branch = row[Columns.branch.rawValue]
        item.lastSummary = row[Columns.lastSummary.rawValue]
        item.updatedAt = time(.updatedAt) ?? item.createdAt
        item.startedAt = time(.startedAt)
        item.finishedAt = time(.finishedAt)
        item.landState = (row[Columns.landState.rawValue] as String?).flatMap(LandState.init(rawValue:))
        item.landAttempts = row[Columns.landAttempts.rawValue] ?? 0
        item.landDetail = row[Columns.landDetail.rawValue]
        item.landedFrom = row[Columns.landedFrom.rawValue]
        item.landedTo = row[Columns.landedTo.rawValue]
        item.landedAt = time(.landedAt)
        if let text = row[Columns.mergeConflicts.rawValue] as String? {
            item.mergeConflicts = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
        }
        item.mergeChecked = row[Columns.mergeChecked.rawValue]
        item.landConflictBase = row[Columns.landConflictBase.rawValue]
        return item
    }

    static func fetch(_ db: Database, key: String) throws -> BacklogItem? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM backlog_items WHERE key = ?"), arguments: [key]).map(decode)
    }
}
