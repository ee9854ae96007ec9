import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftStorePostgres
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The conformance suite's PostgreSQL stores. `NIGHTSHIFT_TEST_POSTGRES_URL` names a database
/// the tests may create schemas in (`scripts/test_postgres.sh` starts one); each fixture gets a
/// fresh schema, dropped when the fixture goes. Without the URL the suite runs on SQLite alone,
/// except in CI (`CI` set), where the factory fails every test instead: CI never skips it.
enum PostgresTestDatabase {
    static let urlVariable = "NIGHTSHIFT_TEST_POSTGRES_URL"

    /// The factories PostgreSQL adds to `TaskStoreFactory.all`.
    static var factories: [TaskStoreFactory] { factories(ProcessInfo.processInfo.environment) }

    static func factories(_ env: [String: String]) -> [TaskStoreFactory] {
        guard let url = env[urlVariable], !url.isEmpty else {
            guard let ci = env["CI"], !ci.isEmpty else { return [] }
            return [
                TaskStoreFactory(name: "PostgreSQL") {
                    throw StoreError(
                        .unavailable,
                        "CI is set but \(urlVariable) is not: CI runs the store conformance suite on PostgreSQL too (.ci/run starts it)"
                    )
                }
            ]
        }
        return [TaskStoreFactory(name: "PostgreSQL") { try await makeFixture(url: url) }]
    }

    /// The factories PostgreSQL adds to `DaemonStoreFactory.all`.
    static var daemonFactories: [DaemonStoreFactory] {
        let env = ProcessInfo.processInfo.environment
        return factories(env).map { taskFactory in
            DaemonStoreFactory(name: taskFactory.name) {
                guard let url = env[urlVariable], !url.isEmpty else {
                    // CI without a database: the task factory's failure says why.
                    _ = try await taskFactory.make()
                    throw StoreError(.unavailable, "\(urlVariable) is not set")
                }
                return try await makeDatabase(url: url)
            }
        }
    }

    /// A fresh schema; each `open` connects one more store to it. The schema is dropped and
    /// every store closed when the database is released.
    static func makeDatabase(url: String) async throws -> ScratchDatabase {
        let location = try await scratchLocation(url: url)
        let stores = ScratchStores()
        return ScratchDatabase(name: "PostgreSQL", resources: stores) { hook, runID in
            // Two connections each: tests run in parallel, and the server has a few hundred.
            let store = try await PostgresTaskStore.connect(location, pipeline: hook, runID: runID, maxConnections: 2)
            stores.add(store)
            return store
        }
    }

    /// A location in a new schema of this process.
    static func scratchLocation(url: String) async throws -> PostgresLocation {
        let base: PostgresLocation
        do { base = try PostgresLocation.parse(url) } catch {
            throw StoreError(.invalid, "\(urlVariable) \(error.reason)")
        }
        try await sweepOnce(base)
        let n = counter.withLock { n in
            n += 1
            return n
        }
        var location = base
        location.schema = "\(prefix)\(getpid())_\(n)"
        return location
    }

    /// Schemas of this process are `nstest_<pid>_<n>`.
    static let prefix = "nstest_"
    private static let counter = Mutex(0)
    private static let swept = Mutex(false)

    static func makeFixture(url: String) async throws -> StoreFixture {
        let location = try await scratchLocation(url: url)
        let store = try await PostgresTaskStore.connect(location, maxConnections: 4)
        return StoreFixture(store: store, resources: ScratchSchema(store))
    }

    /// Drops the schemas that processes no longer running left behind (a test run that ended
    /// before its fixtures' cleanup finished), once per process.
    static func sweepOnce(_ base: PostgresLocation) async throws {
        let first = swept.withLock { s in
            defer { s = true }
            return !s
        }
        guard first else { return }
        var admin = base
        admin.schema = nil
        let store = try await PostgresTaskStore.connect(admin, maxConnections: 1, migrate: false)
        for name in try await store.schemas(prefix: prefix) {
            let pid = name.dropFirst(prefix.count).split(separator: "_").first.flatMap { Int32($0) } ?? 0
            if pid != getpid(), pid <= 0 || kill(pid, 0) != 0 { try await store.dropSchema(named: name) }
        }
        await store.close()
    }
}

/// A fixture's schema: dropped, and the store's pool closed, when the fixture is released.
final class ScratchSchema: Sendable {
    let store: PostgresTaskStore
    init(_ store: PostgresTaskStore) { self.store = store }
    deinit {
        let store = self.store
        Task.detached {
            try? await store.dropSchema()
            await store.close()
        }
    }
}

/// The stores open on one scratch schema: all closed, and the schema dropped, when released.
final class ScratchStores: Sendable {
    private let stores = Mutex<[PostgresTaskStore]>([])

    func add(_ store: PostgresTaskStore) { stores.withLock { $0.append(store) } }

    deinit {
        let all = stores.withLock { $0 }
        Task.detached {
            try? await all.first?.dropSchema()
            for store in all { await store.close() }
        }
    }
}
