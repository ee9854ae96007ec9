import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftStorePostgres
import NightshiftTesting
import Testing

/// What only the PostgreSQL store has: its place in the factory list, several stores (nodes)
/// on one database, migrations applied once.
@Suite("PostgresTaskStore")
struct PostgresTaskStoreTests {
    static var url: String? {
        ProcessInfo.processInfo.environment[PostgresTestDatabase.urlVariable].flatMap { $0.isEmpty ? nil : $0 }
    }
    /// In CI these tests run whatever the environment says (and fail without a database).
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

    @Test("in CI a missing test database fails every conformance test; elsewhere the suite runs on SQLite alone")
    func factoryList() async throws {
        #expect(PostgresTestDatabase.factories([:]).isEmpty)
        let ci = PostgresTestDatabase.factories(["CI": "true"])
        #expect(ci.map(\.name) == ["PostgreSQL"])
        let error = await storeError { try await ci[0].make() }
        #expect(error?.message.contains(PostgresTestDatabase.urlVariable) == true)
        let configured = PostgresTestDatabase.factories(["CI": "true", PostgresTestDatabase.urlVariable: "postgres://u@h/d"])
        #expect(configured.map(\.name) == ["PostgreSQL"])
    }

    @Test("two stores on one schema (two nodes) never both claim a task", .enabled(if: url != nil || inCI))
    func twoNodes() async throws {
        let f = try await PostgresTestDatabase.makeFixture(url: try #require(Self.url))
        let scratch = try #require(f.resources as? ScratchSchema)
        let other = try await PostgresTaskStore.connect(scratch.store.location, maxConnections: 4)
        let count = 150
        _ = try await f.store.create((0..<count).map { AgentTask.make(direction: "job \($0)", now: f.now) })
        let now = f.now
        let claims = try await withThrowingTaskGroup(of: [String].self) { group in
            for (i, store) in [f.store, other, f.store, other].enumerated() {
                group.addTask {
                    var mine: [String] = []
                    while true {
                        let got = try await store.claimNext(owner: "node-\(i)", limit: 1 + i % 2, now: now, lease: 60)
                        if got.isEmpty { return mine }
                        mine += got.map(\.id)
                    }
                }
            }
            var all: [String] = []
            for try await part in group { all += part }
            return all
        }
        await other.close()
        #expect(claims.count == count)
        #expect(Set(claims).count == count, "no task claimed twice")
        #expect(try await f.store.countByStatus()[.running] == count)
    }

    @Test("a second store on a migrated schema applies nothing and sees the same migrations", .enabled(if: url != nil || inCI))
    func migrateOnce() async throws {
        let f = try await PostgresTestDatabase.makeFixture(url: try #require(Self.url))
        let scratch = try #require(f.resources as? ScratchSchema)
        let names = try await f.store.appliedMigrations()
        let again = try await PostgresTaskStore.connect(scratch.store.location, maxConnections: 1)
        #expect(try await again.appliedMigrations() == names)
        await again.close()
    }

    @Test(
        "the triggers keep task_counts and the spend ledger exact through transitions and a prune",
        .enabled(if: url != nil || inCI))
    func keptCounts() async throws {
        let f = try await PostgresTestDatabase.makeFixture(url: try #require(Self.url))
        let store = try #require((f.resources as? ScratchSchema)?.store)
        for status in TaskStatus.allCases { _ = try await f.task(in: status) }
        let paid = try await f.create(.make(direction: "paid", priority: 10, now: f.now))
        #expect(try await f.claimOne()?.id == paid.id)
        _ = try await store.finish(
            id: paid.id, owner: StoreFixture.owner, outcome: AttemptOutcome(.completed, costUSD: 0.25), now: f.now)
        #expect(try await store.spentUSD(since: f.now.addingTimeInterval(-1)) == 0.25)
        #expect(try await store.spentUSD(since: f.now.addingTimeInterval(1)) == 0)
        _ = try await store.pruneEnded(status: .completed, endedBefore: f.now.addingTimeInterval(1), limit: 10)
        #expect(try await store.keptCountMismatches().isEmpty, "the triggers keep task_counts exact")
        #expect(try await store.countByStatus()[.completed] == 0, "both completed tasks were pruned")
    }
}
