import Foundation
import GRDB

/// A store's tables read as text, for `nightshift store copy`: every value as the text of its
/// SQL value (nil for NULL), so the target casts it to its own column type.
public protocol TableSource: Sendable {
    /// The tables holding data, not the bookkeeping a store keeps for itself.
    func tables() throws -> [String]
    func columns(of table: String) throws -> [String]
    func count(of table: String) throws -> Int
    /// Visits the rows in insertion order, `batch` at a time.
    func rows(of table: String, columns: [String], batch: Int, _ visit: ([[String?]]) async throws -> Void) async throws
    /// (status, task_type, n) for every non-empty group of tasks: what kept counts must say.
    func taskGroups() throws -> [TaskGroupCount]
}

public struct TaskGroupCount: Sendable, Hashable {
    public var status: String
    public var taskType: String
    public var n: Int
    public init(status: String, taskType: String, n: Int) {
        self.status = status
        self.taskType = taskType
        self.n = n
    }
}

/// A stopped SQLite store, opened read-only.
public final class SQLiteTableSource: TableSource {
    let queue: DatabaseQueue
    public let path: String

    /// Tables a store derives (kept counts) or keeps for its own bookkeeping.
    public static let derived: Set<String> = ["task_counts", "backlog_counts", "grdb_migrations", "sqlite_sequence"]

    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.notFound, "no SQLite store at \(path)")
        }
        var config = Configuration()
        config.readonly = true
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
            _ = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM tasks") }
        } catch let error as DatabaseError {
            throw StoreError(.unavailable, "cannot read the SQLite store \(path): \(error.message ?? error.description)")
        }
        self.path = path
    }

    public func tables() throws -> [String] {
        try queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }.filter { !Self.derived.contains($0) && !$0.hasPrefix("sqlite_") }
    }

    public func columns(of table: String) throws -> [String] {
        try queue.read { db in try db.columns(in: table).map(\.name) }
    }

    public func count(of table: String) throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.quotedDatabaseIdentifier)") ?? 0 }
    }

    public func rows(of table: String, columns: [String], batch: Int, _ visit: ([[String?]]) async throws -> Void) async throws {
        let list = columns.map(\.quotedDatabaseIdentifier).joined(separator: ", ")
        var after: Int64 = .min
        while true {
            let start = after
            let page: [(Int64, [String?])] = try await queue.read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT rowid, \(list) FROM \(table.quotedDatabaseIdentifier) WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    arguments: [start, batch]
                ).map { row in
                    let values: [String?] = (1...columns.count).map { i in
                        switch row[i] as DatabaseValue {
                        case let v where v.isNull: return nil
                        case let v:
                            switch v.storage {
                            case .int64(let n): return String(n)
                            case .double(let d): return "\(d)"
                            case .string(let s): return s
                            case .blob(let b): return String(decoding: b, as: UTF8.self)
                            case .null: return nil
                            }
                        }
                    }
                    return (row[0], values)
                }
            }
            guard let last = page.last else { return }
            try await visit(page.map(\.1))
            after = last.0
        }
    }

    public func taskGroups() throws -> [TaskGroupCount] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT status, task_type, count(*) AS n FROM tasks GROUP BY status, task_type").map {
                TaskGroupCount(status: $0["status"], taskType: $0["task_type"], n: $0["n"])
            }
        }
    }
}
