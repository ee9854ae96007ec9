import Foundation
import GRDB
import NightshiftCore

/// The SQLite task store: one database file (WAL, synchronous=NORMAL, busy timeout, foreign
/// keys) in the state dir. Every operation is one write transaction that re-checks status.
public final class SQLiteTaskStore: TaskStore {
    public static let fileName = "nightshift.sqlite"
    /// Bytes the write-ahead log file is cut back to after a checkpoint (docs/RUNBOOK.md, "The database").
    public static let walSizeLimit = 4 * 1024 * 1024

    let pool: DatabasePool
    public let path: String
    /// The project manager's rules, applied in the transaction that ends a backlog item's task.
    let pipeline: PipelineHook?

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    public init(path: String, pipeline: PipelineHook? = nil) throws {
        self.pipeline = pipeline
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.foreignKeysEnabled = true
        config.label = "nightshift"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // After a checkpoint resets the write-ahead log, truncate a file that grew past this.
            try db.execute(sql: "PRAGMA journal_size_limit = \(Self.walSizeLimit)")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try SQLiteMigrations.migrator.migrate(pool)
            try pool.read { db in try TaskRecord.checkColumnOrder(db) }
        } catch let error as DatabaseError {
            throw StoreError(.unavailable, "cannot open database \(path): \(error.message ?? error.description)")
        }
        self.path = path
    }

    /// Opens `nightshift.sqlite` in `stateDir`.
    public convenience init(stateDir: String, pipeline: PipelineHook? = nil) throws {
        try self.init(path: (stateDir as NSString).appendingPathComponent(Self.fileName), pipeline: pipeline)
    }

    /// Names of the migrations applied, in order (for `/api/version` and tests).
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try SQLiteMigrations.migrator.appliedMigrations(db) }
    }

    /// Runs `body` in one write transaction, mapping SQLite failures to `StoreError`.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw Self.map(error)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw Self.map(error)
        }
    }

    static func map(_ error: DatabaseError) -> StoreError {
        switch error.resultCode {
        case .SQLITE_CONSTRAINT:
            if error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE, error.message?.contains("backlog_item") == true {
                return StoreError(.duplicate, "the backlog item already has an open task", field: "backlog_item")
            }
            if error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY || error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
            {
                return StoreError(.duplicate, "a task with that id already exists")
            }
            return StoreError(.invalid, "a value broke a rule of the task model: \(error.message ?? "constraint failed")")
        case .SQLITE_FULL:
            return StoreError(.diskFull, "the disk that holds the database is full: \(error.message ?? error.description)")
        default:
            return StoreError(.unavailable, "database error: \(error.message ?? error.description)")
        }
    }

    /// The task with `id`, read inside the current transaction.
    static func fetch(_ db: Database, _ id: String) throws -> AgentTask? {
        let stmt = try db.cachedStatement(sql: "SELECT * FROM tasks WHERE id = ?")
        return try Row.fetchOne(stmt, arguments: [id]).map(TaskRecord.decode)
    }

    /// Runs a compare-and-set UPDATE ... RETURNING * that moves the task to the status
    /// `TaskStateMachine` gives for `event`, from the statuses where it is legal, and appends the
    /// event. When it matched nothing, explains why.
    static func transition(
        _ db: Database, id: String, event: TaskEvent, kind: TaskEventKind, journal: TaskJournal, detail: [String: JSONValue],
        set: String, arguments: StatementArguments
    ) throws -> AgentTask {
        let legal = TaskStateMachine.sources(of: event)
        let sources = legal.map { "'\($0.rawValue)'" }.joined(separator: ",")
        // The status before: the one source when there is one, else read inside this transaction.
        let before = legal.count == 1 ? legal[0] : try fetch(db, id)?.status
        let stmt = try db.cachedStatement(
            sql: "UPDATE tasks SET status = ?, \(set) WHERE id = ? AND status IN (\(sources)) RETURNING *")
        var args: StatementArguments = [TaskStateMachine.target(of: event).rawValue]
        args += arguments
        args += [id]
        if let row = try Row.fetchOne(stmt, arguments: args) {
            let after = try TaskRecord.decode(row)
            try journal.record(db, kind, from: before, after, detail)
            return after
        }
        guard let current = try fetch(db, id) else { throw StoreError.notFound(id) }
        throw StoreError.illegal(id, current.status, event)
    }
}
