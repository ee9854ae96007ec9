import Foundation
import GRDB
import NightshiftCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The SQLite task store: one database file (WAL, synchronous=NORMAL, busy timeout, foreign
/// keys) in the state dir. Every operation is one write transaction that re-checks status.
public final class SQLiteTaskStore: TaskStore {
    public static let fileName = "nightshift.sqlite"
    /// Bytes the write-ahead log file is cut back to after a checkpoint (docs/RUNBOOK.md, "The database").
    public static let walSizeLimit = 4 * 1024 * 1024

    let pool: DatabasePool
    /// Admits one write transaction at a time; see `write`.
    let gate = WriteGate()
    public let path: String
    /// The project manager's rules, applied in the transaction that ends a backlog item's task.
    let pipeline: PipelineHook?
    /// The run this process works for: new tasks and every event record it.
    public let runID: String?

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    public init(path: String, pipeline: PipelineHook? = nil, runID: String? = nil) throws {
        _ = Self.keepFreedMemory
        self.pipeline = pipeline
        self.runID = runID
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

    /// glibc gives the free memory at the top of a thread's heap back to the kernel as soon as
    /// more than 128 KB is free there. SQLite allocates and frees a page cache of about 90 KB for
    /// each temporary table a statement opens (for `RETURNING`, `IN (SELECT ...)`, and the
    /// `CHECK (x IN (...))` lists of the schema, one per list on every insert), so statements
    /// faulted those pages in again: 30 and more page faults and an madvise per task cycle, a
    /// quarter of the bench's time. Keeping up to 1 MB free per heap ends that (once per process).
    /// (`mallopt` is looked up at run time: Swift's Glibc module does not export malloc.h.)
    private static let keepFreedMemory: Void = {
        #if canImport(Glibc)
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            let mTrimThreshold: Int32 = -1  // M_TRIM_THRESHOLD in malloc.h
            if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
                _ = unsafeBitCast(symbol, to: Mallopt.self)(mTrimThreshold, 1 << 20)
            }
        #endif
    }()

    /// Opens `nightshift.sqlite` in `stateDir`.
    public convenience init(stateDir: String, pipeline: PipelineHook? = nil, runID: String? = nil) throws {
        try self.init(path: (stateDir as NSString).appendingPathComponent(Self.fileName), pipeline: pipeline, runID: runID)
    }

    /// Names of the migrations applied, in order (for `/api/version` and tests).
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try SQLiteMigrations.migrator.appliedMigrations(db) }
    }

    /// Runs `body` in one write transaction, mapping SQLite failures to `StoreError`.
    ///
    /// The transaction runs on the caller's thread, not on GRDB's writer queue: the async
    /// `pool.write` costs two thread hand-offs per operation (to the queue and back), each a
    /// wake-up that waits for a core on a busy machine. The gate keeps that safe: a caller never
    /// blocks waiting for another writer (it suspends in `enter` and is admitted in turn), so the
    /// writer queue is always free when `writeNow` asks for it and runs the transaction inline.
    /// Like GRDB's async write, a cancelled task writes nothing.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        await gate.enter()
        defer { gate.leave() }
        try Task.checkCancellation()
        do {
            return try Self.writeNow(pool, body)
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw Self.map(error)
        }
    }

    /// GRDB's synchronous write (a non-async function, so the overload cannot be the async one).
    private static func writeNow<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
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
        return try fetchTask(stmt, arguments: [id])
    }

    /// The first task a cached `SELECT *` / `... RETURNING *` statement yields, decoded straight
    /// from the statement: `Row.fetchOne` would copy the row first. (With RETURNING, SQLite makes
    /// every change on the first step, so one step is enough.)
    static func fetchTask(_ stmt: Statement, arguments: StatementArguments) throws -> AgentTask? {
        let rows = try Row.fetchCursor(stmt, arguments: arguments)
        // The row reads the statement, which the cursor resets when it goes: keep it until decoded.
        return try withExtendedLifetime(rows) { try rows.next().map(TaskRecord.decode) }
    }

    /// Every task such a statement yields, in its order, each decoded without a copy of its row.
    static func fetchTasks(_ stmt: Statement, arguments: StatementArguments) throws -> [AgentTask] {
        var tasks: [AgentTask] = []
        let rows = try Row.fetchCursor(stmt, arguments: arguments)
        try withExtendedLifetime(rows) {
            while let row = try rows.next() { tasks.append(try TaskRecord.decode(row)) }
        }
        return tasks
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
        if let after = try fetchTask(stmt, arguments: args) {
            try journal.record(db, kind, from: before, after, detail)
            return after
        }
        guard let current = try fetch(db, id) else { throw StoreError.notFound(id) }
        throw StoreError.illegal(id, current.status, event)
    }
}

/// A fair lock for async callers that does not suspend when it is free: `enter` returns at once
/// when no one holds the gate, and otherwise suspends until `leave` hands the gate over, in the
/// order callers arrived. Holders never wait for each other on a thread.
final class WriteGate: Sendable {
    private struct State {
        var held = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func enter() async {
        let entered = state.withLock { s in
            if s.held { return false }
            s.held = true
            return true
        }
        if entered { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { s in
                if s.held {
                    s.waiting.append(c)
                    return false
                }
                s.held = true
                return true
            }
            if admitted { c.resume() }
        }
    }

    func leave() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiting.isEmpty {
                s.held = false
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume()
    }
}
