import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// The `backlog_items` columns in one fixed order, read into the shared `BacklogItemRow`.
enum PostgresBacklogRow {
    static let names = [
        "key", "position", "title", "body", "after", "slug", "state", "phase", "iteration", "current_task_id",
        "blocked_reason", "workdir", "branch", "last_summary", "created_at", "updated_at", "started_at", "finished_at",
        "land_state", "land_attempts", "land_detail", "landed_from", "landed_to", "landed_at", "merge_conflicts",
        "merge_checked", "land_conflict_base",
    ]
    /// The JSON columns, read as their text.
    private static let json: Set<String> = ["after", "merge_conflicts"]

    /// The select list, each column prefixed with `alias.` when one is given.
    static func columns(_ alias: String? = nil) -> String {
        names.map { n in
            let c = alias.map { "\($0).\(n)" } ?? n
            return json.contains(n) ? "\(c)::text" : c
        }.joined(separator: ", ")
    }

    static let all = columns()

    /// The item in `row`, whose first columns are `columns(...)`.
    static func decode(_ row: PostgresRow) throws -> BacklogItem {
        let r = row.makeRandomAccess()
        func text(_ i: Int) throws -> String? { try r[i].decode(String?.self) }
        func string(_ i: Int) throws -> String { try r[i].decode(String.self) }
        func int(_ i: Int) throws -> Int? { try r[i].decode(Int?.self) }
        func double(_ i: Int) throws -> Double? { try r[i].decode(Double?.self) }
        return try BacklogItemRow(
            key: string(0), position: int(1) ?? 0, title: string(2), body: string(3), after: string(4), slug: string(5),
            state: string(6), phase: text(7), iteration: int(8) ?? 0, currentTaskID: text(9), blockedReason: text(10),
            workdir: text(11), branch: text(12), lastSummary: text(13), createdAt: double(14) ?? 0, updatedAt: double(15),
            startedAt: double(16), finishedAt: double(17), landState: text(18), landAttempts: int(19) ?? 0,
            landDetail: text(20), landedFrom: text(21), landedTo: text(22), landedAt: double(23), mergeConflicts: text(24),
            mergeChecked: text(25), landConflictBase: text(26)
        ).item()
    }

    static func items(_ rows: PostgresRowSequence) async throws -> [BacklogItem] {
        var out: [BacklogItem] = []
        for try await row in rows { out.append(try decode(row)) }
        return out
    }
}

extension PostgresTaskStore {
    /// The item `key`, read on `conn`; `lock` holds its row to the end of the transaction.
    func item(_ conn: PostgresConnection, key: String, lock: Bool = false) async throws -> BacklogItem? {
        try await PostgresBacklogRow.items(
            conn.query(
                "SELECT \(unescaped: PostgresBacklogRow.all) FROM backlog_items WHERE key = \(key)\(unescaped: lock ? " FOR UPDATE" : "")",
                logger: logger)
        ).first
    }
}
