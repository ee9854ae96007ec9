import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftStorePostgres
import NightshiftTesting
import Testing

/// Leadership among stores (nodes) on one PostgreSQL schema: the advisory lock.
@Suite("PostgreSQL leadership")
struct PostgresLeaderTests {
    static var enabled: Bool { PostgresTaskStoreTests.url != nil || PostgresTaskStoreTests.inCI }

    @Test(
        "of two nodes on one schema exactly one leads; when it resigns the other takes over; another schema has its own leader",
        .enabled(if: enabled))
    func oneLeader() async throws {
        let f = try await PostgresTestDatabase.makeFixture(url: try #require(PostgresTaskStoreTests.url))
        let scratch = try #require(f.resources as? ScratchSchema)
        let a = scratch.store
        let b = try await PostgresTaskStore.connect(scratch.store.location, maxConnections: 2)
        #expect(try await a.tryLead(nodeID: "a", instanceID: "a:1", now: f.now))
        #expect(try await !b.tryLead(nodeID: "b", instanceID: "b:1", now: f.now))
        #expect(try await a.tryLead(nodeID: "a", instanceID: "a:1", now: f.now), "the leader keeps it")
        #expect(try await !b.tryLead(nodeID: "b", instanceID: "b:1", now: f.now))
        #expect(try await b.leadership()?.instanceID == "a:1")

        // A node in another schema (another cluster on the same database) leads its own.
        let g = try await PostgresTestDatabase.makeFixture(url: try #require(PostgresTaskStoreTests.url))
        let elsewhere = try #require(g.store as? PostgresTaskStore)
        #expect(try await elsewhere.tryLead(nodeID: "c", instanceID: "c:1", now: g.now))
        await elsewhere.resign(instanceID: "c:1")

        await a.resign(instanceID: "a:1")
        #expect(try await b.tryLead(nodeID: "b", instanceID: "b:1", now: f.now.addingTimeInterval(1)))
        let leader = try #require(try await a.leadership())
        #expect(leader.nodeID == "b" && leader.instanceID == "b:1")
        #expect(try await !a.tryLead(nodeID: "a", instanceID: "a:1", now: f.now), "the old leader now follows")
        await b.resign(instanceID: "b:1")
        await a.resign(instanceID: "a:1")
        await b.close()
    }
}
