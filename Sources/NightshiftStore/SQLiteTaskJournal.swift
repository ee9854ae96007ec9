import Foundation
import GRDB
import GRDBSQLite
import NightshiftCore

/// Collects the events one write transaction appends to `task_events`, so the operation can
/// return them (with the tasks as they left them) once it commits.
final class TaskJournal {
    private(set) var entries: [LedgerEntry] = []
    let now: Date
    /// The run this store writes for: stamped on new tasks and on every event.
    let runID: String?

    init(now: Date, runID: String?) {
        self.now = now
        self.runID = runID
    }

    /// Appends one event for `task` (as it is after the change) and remembers it.
    func record(
        _ db: Database, _ kind: TaskEventKind, from: TaskStatus?, _ task: AgentTask, _ detail: [String: JSONValue] = [:]
    ) throws {
        // A cached insert bound through the C API (GRDB's argument arrays cost more than the
        // insert itself), and hand-written JSON: an event is near plain SQL on the hot path.
        let insert = try DirectStatement(
            db,
            sql:
                "INSERT INTO task_events (task_id, kind, from_status, to_status, attempt, detail, at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        insert.bind(1, task.id)
        insert.bind(2, kind.rawValue)
        insert.bind(3, from?.rawValue)
        insert.bind(4, task.status.rawValue)
        insert.bind(5, task.attempt)
        insert.bind(6, detail.isEmpty ? "{}" : JSONValue.object(detail).jsonText)
        insert.bind(7, now.timeIntervalSince1970)
        insert.bind(8, runID)
        try insert.run()
        let id = db.lastInsertedRowID
        entries.append(
            LedgerEntry(
                event: TaskEventRecord(
                    id: id, taskID: task.id, kind: kind, fromStatus: from, toStatus: task.status, attempt: task.attempt,
                    detail: detail, at: now, runID: runID),
                task: task))
    }

    func changes<T>(_ value: T) -> Changes<T> { Changes(value, entries: entries) }
}

/// A cached statement that returns no rows, bound and stepped through the SQLite C API. Only
/// for hot-path statements that no other code executes, run inside a write transaction: it
/// skips GRDB's per-execution bookkeeping, and refuses to run once SQLite has rolled the
/// transaction back (after a disk-full error, say), where GRDB would refuse too.
struct DirectStatement {
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    let statement: Statement
    private let handle: OpaquePointer
    private let connection: OpaquePointer?

    init(_ db: Database, sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        handle = statement.sqliteStatement
        connection = db.sqliteConnection
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ index: Int32, _ text: String?) {
        if let text { sqlite3_bind_text(handle, index, text, -1, Self.transient) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }

    func bind(_ index: Int32, _ value: Double) { sqlite3_bind_double(handle, index, value) }

    func run() throws {
        guard sqlite3_get_autocommit(connection) == 0 else {
            throw DatabaseError(resultCode: .SQLITE_ABORT, message: "transaction was aborted", sql: statement.sql)
        }
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)),
                message: String(cString: sqlite3_errmsg(connection)), sql: statement.sql)
        }
    }
}

extension SQLiteTaskStore {
    /// One write transaction with a journal; returns the body's value with the events it appended.
    func journaled<T: Sendable>(
        now: Date, _ body: @escaping @Sendable (Database, TaskJournal) throws -> T
    ) async throws -> Changes<T> {
        let runID = self.runID
        return try await write { db in
            let journal = TaskJournal(now: now, runID: runID)
            let value = try body(db, journal)
            return journal.changes(value)
        }
    }

    /// A task's history, oldest first.
    public func events(taskID: String) async throws -> [TaskEventRecord] {
        try await read { db in
            guard try Self.fetch(db, taskID) != nil else { throw StoreError.notFound(taskID) }
            return try Self.decodeEvents(
                Row.fetchAll(db, sql: "SELECT * FROM task_events WHERE task_id = ? ORDER BY id", arguments: [taskID]))
        }
    }

    /// Events with an id above `after`, oldest first, at most `limit`.
    public func events(after: Int64, limit: Int) async throws -> [TaskEventRecord] {
        try await read { db in
            try Self.decodeEvents(
                Row.fetchAll(db, sql: "SELECT * FROM task_events WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit]))
        }
    }

    /// The id of the newest event, 0 when there is none.
    public func lastEventID() async throws -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM task_events") ?? 0 }
    }

    /// Deletes events recorded before `cutoff`; returns how many.
    public func pruneEvents(before cutoff: Date) async throws -> Int {
        try await write { db in
            // Ids grow with time: the old events are the ones below the first id at or after the
            // cutoff, found by walking up from the oldest (no index on `at` to keep up on every write).
            try db.execute(
                sql: """
                    DELETE FROM task_events WHERE id < COALESCE(
                      (SELECT id FROM task_events WHERE at >= ? ORDER BY id LIMIT 1), (SELECT MAX(id) + 1 FROM task_events))
                    """, arguments: [cutoff.timeIntervalSince1970])
            return db.changesCount
        }
    }

    static func decodeEvents(_ rows: [Row]) throws -> [TaskEventRecord] {
        try rows.map { row in
            let kindText: String = row["kind"]
            let toText: String = row["to_status"]
            guard let kind = TaskEventKind(rawValue: kindText), let to = TaskStatus(rawValue: toText) else {
                throw StoreError(.unavailable, "task_events row \(row["id"] as Int64) has an unknown kind or status")
            }
            let detailText: String = row["detail"]
            let detail = (try? JSONDecoder().decode([String: JSONValue].self, from: Data(detailText.utf8))) ?? [:]
            return TaskEventRecord(
                id: row["id"], taskID: row["task_id"], kind: kind,
                fromStatus: (row["from_status"] as String?).flatMap(TaskStatus.init),
                toStatus: to, attempt: row["attempt"], detail: detail, at: Date(timeIntervalSince1970: row["at"]),
                runID: row["run_id"])
        }
    }
}
