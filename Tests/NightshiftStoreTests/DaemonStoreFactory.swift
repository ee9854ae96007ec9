import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Synchronization
import Testing

// The store-behaviour tests beyond the task queue (pipeline, runs, monitor, logs, landing)
// take a `DaemonStoreFactory` argument, as the conformance suite takes a `TaskStoreFactory`,
// and talk to the store only through the protocols `nightshift serve` uses (`DaemonStore`):
// each runs on SQLite and, when a test database is configured, on PostgreSQL.

/// A fresh, empty database of one implementation. `open` opens a store on it; several may be
/// open at once, or one after another (a restart), and all see the same data.
final class ScratchDatabase: Sendable {
    let name: String
    private let opener: @Sendable (PipelineHook?, String?) async throws -> any DaemonStore
    /// Scratch resources (a temporary directory, a schema) released with the database.
    let resources: (any Sendable)?

    init(
        name: String, resources: (any Sendable)?,
        open: @escaping @Sendable (PipelineHook?, String?) async throws -> any DaemonStore
    ) {
        self.name = name
        self.resources = resources
        self.opener = open
    }

    /// A store on this database with the pipeline hook and run given.
    func open(pipeline: PipelineHook? = nil, runID: String? = nil) async throws -> any DaemonStore {
        try await opener(pipeline, runID)
    }
}

/// Makes a fresh, empty database of one implementation.
struct DaemonStoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> ScratchDatabase

    var testDescription: String { name }

    /// SQLite on disk, in a temporary directory removed with the database.
    static let sqlite = DaemonStoreFactory(name: "SQLite") {
        let dir = try TemporaryDirectory(prefix: "nightshift-store")
        let path = dir.path(SQLiteTaskStore.fileName)
        return ScratchDatabase(name: "SQLite", resources: dir) { hook, runID in
            try SQLiteTaskStore(path: path, pipeline: hook, runID: runID)
        }
    }

    /// Every implementation: PostgreSQL too when a test database is configured (always in CI).
    static let all: [DaemonStoreFactory] = [.sqlite] + PostgresTestDatabase.daemonFactories

    /// A fresh database with one store open on it (no pipeline hook).
    func store(runID: String? = nil) async throws -> (ScratchDatabase, any DaemonStore) {
        let db = try await make()
        return (db, try await db.open(runID: runID))
    }
}
