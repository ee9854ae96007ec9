import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The task store on PostgreSQL (issue 17): the same protocol, the same invariants and the same
/// answers as `SQLiteTaskStore` (the conformance suite runs over both), for several daemons that
/// share one queue. Every mutating operation is one transaction that re-checks status with a
/// compare-and-set UPDATE and appends its `task_events`; claims pick rows with
/// `FOR UPDATE SKIP LOCKED`, so concurrent claimers (on any node) never both win a task.
///
/// The connection pool must run: `connect` starts it in a task of its own and `close` stops it
/// (tools and tests); a daemon can instead run the store as a `Service` (`run()`) in its group.
public final class PostgresTaskStore: TaskStore, Service {
    let client: PostgresClient
    let logger: Logger
    public let location: PostgresLocation
    /// The run this process works for: new tasks and every event record it.
    public let runID: String?
    /// The project manager's rules, applied in the transaction that ends a backlog item's task.
    let pipeline: PipelineHook?
    private let pool = PoolTask()
    /// The leader's advisory lock, on a session of its own (`NodeStore.tryLead`).
    let leaderLock = PostgresLeaderLock()

    /// A store on `location` whose pool is not running yet: run it (`run()`, or `connect`)
    /// before using it. Nothing connects here.
    public init(
        location: PostgresLocation, pipeline: PipelineHook? = nil, runID: String? = nil, maxConnections: Int = 8,
        logger: Logger
    ) {
        self.location = location
        self.pipeline = pipeline
        self.runID = runID
        self.logger = logger
        var config = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: Self.tls(location.tls))
        config.options.maximumConnections = max(1, maxConnections)
        config.options.minimumConnections = 0
        if let schema = location.schema {
            // Every pooled connection works in the store's schema.
            config.options.additionalStartupParameters = [("search_path", "\"\(schema)\"")]
        }
        client = PostgresClient(configuration: config, backgroundLogger: logger)
    }

    static func tls(_ mode: PostgresLocation.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    /// Connects to `location`, starts the pool and applies pending migrations (unless
    /// `migrate` is false: an administrative connection). Refuses with `unavailable` (naming
    /// the server, never the password) when it cannot.
    public static func connect(
        _ location: PostgresLocation, pipeline: PipelineHook? = nil, runID: String? = nil, maxConnections: Int = 8,
        migrate: Bool = true, logger: Logger? = nil
    ) async throws -> PostgresTaskStore {
        let store = PostgresTaskStore(
            location: location, pipeline: pipeline, runID: runID, maxConnections: maxConnections,
            logger: logger ?? quietLogger)
        try await probe(location, logger: logger ?? quietLogger)
        store.pool.start(store.client)
        do {
            if migrate {
                try await store.migrate()
            } else {
                _ = try await store.read { conn in try await store.int(conn, "SELECT 1") }
            }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// One plain connection, opened and closed, before the pool starts: the pool retries a
    /// server it cannot reach for about a minute and then reports only that it gave up, where
    /// this fails within `timeout` seconds with the reason (refused, unknown role or database,
    /// a password refused).
    static func probe(_ location: PostgresLocation, timeout: Int64 = 5, logger: Logger) async throws {
        do {
            let tls: PostgresConnection.Configuration.TLS
            switch location.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            var config = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.user, password: location.password,
                database: location.database, tls: tls)
            config.options.connectTimeout = .seconds(timeout)
            let conn = try await PostgresConnection.connect(configuration: config, id: 0, logger: logger)
            try await conn.close()
        } catch let error as PSQLError {
            if let info = error.serverInfo {
                throw StoreError(
                    .unavailable,
                    "PostgreSQL at \(location) refused the connection: \(info[.message] ?? "\(error.code)") (\(info[.sqlState] ?? "?"))"
                )
            }
            let why = error.underlying.map { "\($0)" } ?? "\(error.code)"
            throw StoreError(.unavailable, "cannot connect to PostgreSQL at \(location): \(why)")
        } catch {
            throw StoreError(.unavailable, "cannot connect to PostgreSQL at \(location): \(error)")
        }
    }

    /// Runs the connection pool until the task is cancelled or graceful shutdown (`Service`).
    public func run() async throws {
        await client.run()
    }

    /// Stops a pool `connect` started and waits for it to close its connections.
    public func close() async {
        await pool.stop()
    }

    /// Applies the migrations not applied yet.
    public func migrate() async throws {
        try await withStoreErrors {
            try await client.withConnection { conn in
                try await PostgresMigrations.migrate(conn, schema: location.schema, logger: logger)
            }
        }
    }

    public func appliedMigrations() async throws -> [String] {
        try await withStoreErrors {
            try await client.withConnection { conn in try await PostgresMigrations.appliedNames(conn, logger: logger) }
        }
    }

    // MARK: Transactions

    /// Runs `body` in one transaction (READ COMMITTED: every write is a compare-and-set on the
    /// row it changes, which PostgreSQL re-checks after waiting for a concurrent writer),
    /// mapping failures to `StoreError`. A thrown error rolls everything back.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await transaction(begin: "BEGIN", body)
    }

    /// Several reads that see one snapshot (a read-only REPEATABLE READ transaction), as
    /// SQLite's read transactions do.
    func snapshot<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    private func transaction<T: Sendable>(
        begin: String, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withStoreErrors {
            try await client.withConnection { conn in
                try await conn.query(PostgresQuery(unsafeSQL: begin), logger: logger)
                do {
                    let value = try await body(conn)
                    try await conn.query("COMMIT", logger: logger)
                    return value
                } catch {
                    _ = try? await conn.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }

    /// One transaction with a journal; returns the body's value with the events it appended.
    func journaled<T: Sendable>(
        now: Date, _ body: (PostgresConnection, PostgresJournal) async throws -> T
    ) async throws
        -> Changes<T>
    {
        let journal = PostgresJournal(now: now, runID: runID, notify: (Self.runnableChannel, notifyPayload), logger: logger)
        return try await transaction { conn in
            let value = try await body(conn, journal)
            try await journal.flush(conn)
            return journal.changes(value)
        }
    }

    /// Runs a read outside any explicit transaction (one statement sees one snapshot).
    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withStoreErrors { try await client.withConnection { conn in try await body(conn) } }
    }

    func withStoreErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            throw error
        } catch let error as PSQLError {
            throw map(error)
        } catch is CancellationError {
            throw StoreError(.unavailable, "the operation was cancelled")
        } catch {
            throw StoreError(.unavailable, "database error on \(location): \(error)")
        }
    }

    func map(_ error: PSQLError) -> StoreError {
        guard let info = error.serverInfo, let state = info[.sqlState] else {
            return StoreError(.unavailable, "cannot reach PostgreSQL at \(location): \(error.code)")
        }
        let message = info[.message] ?? "\(error.code)"
        let constraint = info[.constraintName] ?? ""
        switch state {
        case "23505":
            if constraint == "tasks_one_open_per_item" {
                return StoreError(.duplicate, "the backlog item already has an open task", field: "backlog_item")
            }
            return StoreError(.duplicate, "a task with that id already exists")
        case "23503", "23514", "23502", "22P02", "22023":
            return StoreError(.invalid, "a value broke a rule of the task model: \(message)")
        case "53100":
            return StoreError(.diskFull, "the disk that holds the database is full: \(message)")
        default:
            return StoreError(.unavailable, "database error (\(state)): \(message)")
        }
    }

    // MARK: Rows

    /// Every task a query yields, in its order.
    static func tasks(_ rows: PostgresRowSequence) async throws -> [AgentTask] {
        var out: [AgentTask] = []
        for try await row in rows { out.append(try PostgresTaskRow.decode(row)) }
        return out
    }

    static func firstTask(_ rows: PostgresRowSequence) async throws -> AgentTask? {
        try await tasks(rows).first
    }

    /// The task with `id`, read on `conn` (inside its transaction when it has one).
    func fetch(_ conn: PostgresConnection, _ id: String) async throws -> AgentTask? {
        try await Self.firstTask(
            conn.query("SELECT \(unescaped: PostgresTaskRow.all) FROM tasks WHERE id = \(id)", logger: logger))
    }
}

/// Errors only: the pool's connection chatter is noise (and it warns about the first lease
/// that comes before its run task got going, which simply waits).
private let quietLogger: Logger = {
    var l = Logger(label: "nightshift.store.postgres")
    l.logLevel = .error
    return l
}()

/// The task that runs a `connect`ed store's pool: started once, cancelled and awaited by `close`.
final class PoolTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func start(_ client: PostgresClient) {
        task.withLock { t in
            if t == nil { t = Task { await client.run() } }
        }
    }

    func stop() async {
        let running = task.withLock { t in
            defer { t = nil }
            return t
        }
        running?.cancel()
        await running?.value
    }
}
