import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// Nodes and their leader, through the `NodeStore` protocol, on every store.
@Suite("NodeStore conformance")
struct NodeStoreConformanceTests {
    static func node(_ id: String, instance: String, seen: Date) -> NodeInfo {
        NodeInfo(
            id: id, instanceID: instance, host: "host-\(id)", pid: 42, url: "http://127.0.0.1:1", version: "0.1.0",
            startedAt: seen.addingTimeInterval(-5), lastSeen: seen)
    }

    @Test(
        "heartbeats replace a node's row by id; nodes come newest heartbeat first; a clean stop is recorded",
        arguments: TaskStoreFactory.all)
    func heartbeats(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let store = try #require(f.store as? any NodeStore, "\(factory.name) implements NodeStore")
        let t0 = f.now
        try await store.beat(Self.node("a", instance: "a:1", seen: t0))
        try await store.beat(Self.node("b", instance: "b:1", seen: t0.addingTimeInterval(1)))
        // A restart of node a: a new instance behind the same id.
        try await store.beat(Self.node("a", instance: "a:2", seen: t0.addingTimeInterval(2)))
        let nodes = try await store.nodes()
        #expect(nodes.map(\.id) == ["a", "b"])
        #expect(nodes[0].instanceID == "a:2")
        #expect(nodes[0].host == "host-a" && nodes[0].url == "http://127.0.0.1:1" && nodes[0].pid == 42)
        #expect(abs(nodes[0].lastSeen.timeIntervalSince(t0.addingTimeInterval(2))) < 0.001)
        #expect(nodes[0].stoppedAt == nil)
        // A stop names the instance: an old instance's stop does not mark the new one.
        try await store.stopNode(id: "a", instanceID: "a:1", at: t0.addingTimeInterval(3))
        #expect(try await store.nodes().first { $0.id == "a" }?.stoppedAt == nil)
        try await store.stopNode(id: "a", instanceID: "a:2", at: t0.addingTimeInterval(3))
        let stopped = try #require(try await store.nodes().first { $0.id == "a" })
        #expect(stopped.stoppedAt != nil)
        #expect(!stopped.isAlive(now: t0.addingTimeInterval(3), lease: 60))
        #expect(try await store.nodes().first { $0.id == "b" }?.isAlive(now: t0.addingTimeInterval(3), lease: 60) == true)
        #expect(try await store.nodes().first { $0.id == "b" }?.isAlive(now: t0.addingTimeInterval(100), lease: 60) == false)
    }

    @Test(
        "the node that takes the lead is recorded as the leader; it keeps it on every later try", arguments: TaskStoreFactory.all)
    func leadership(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let store = try #require(f.store as? any NodeStore, "\(factory.name) implements NodeStore")
        #expect(try await store.leadership() == nil)
        #expect(try await store.tryLead(nodeID: "a", instanceID: "a:1", now: f.now))
        #expect(try await store.tryLead(nodeID: "a", instanceID: "a:1", now: f.now.addingTimeInterval(5)))
        let leader = try #require(try await store.leadership())
        #expect(leader.nodeID == "a" && leader.instanceID == "a:1")
        #expect(abs(leader.since.timeIntervalSince(f.now)) < 0.001, "since is when it took the lead, not the last try")
        await store.resign(instanceID: "a:1")
    }
}
