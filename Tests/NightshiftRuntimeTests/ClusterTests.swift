import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import ServiceLifecycle
import Testing

/// A service that records each run and stays up until it is cancelled.
private final class ProbeService: Service, Sendable {
    let runs = Locked(0)
    let running = Locked(false)

    func run() async throws {
        runs.withLock { $0 += 1 }
        running.withLock { $0 = true }
        defer { running.withLock { $0 = false } }
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }
}

/// A node store whose nodes are what the test says and that several daemons share.
private final class SharedNodes: NodeStore, Sendable {
    let rows = Locked<[NodeInfo]>([])
    let leads = Locked(true)
    var sharedByNodes: Bool { true }
    func beat(_ node: NodeInfo) async throws {
        rows.withLock { r in
            r.removeAll { $0.id == node.id }
            r.append(node)
        }
    }
    func nodes() async throws -> [NodeInfo] { rows.value }
    func stopNode(id: String, instanceID: String, at: Date) async throws {}
    func tryLead(nodeID: String, instanceID: String, now: Date) async throws -> Bool { leads.value }
    func resign(instanceID: String) async {}
    func leadership() async throws -> Leadership? { nil }
}

@Suite("cluster: leadership and what only the leader runs")
struct ClusterTests {
    @Test("a leader-only service runs while the node leads, is cancelled when it stops leading, and runs again")
    func leaderOnly() async throws {
        let h = try RuntimeHarness()
        let env = h.environment()
        let role = ClusterRole(nodeID: "n1", store: nil, nodeLease: 10, leading: false)
        let probe = ProbeService()
        let task = Task { try await LeaderOnly(probe, role: role, name: "probe", logger: env.logs.logger("nightshift")).run() }
        defer { task.cancel() }
        #expect(probe.runs.value == 0)
        role.setLeading(true)
        try await RuntimeHarness.waitUntil("the probe to start") { probe.running.value }
        role.setLeading(false)
        try await RuntimeHarness.waitUntil("the probe to be cancelled") { !probe.running.value }
        #expect(probe.runs.value == 1)
        role.setLeading(true)
        try await RuntimeHarness.waitUntil("the probe to start again") { probe.running.value }
        #expect(probe.runs.value == 2)
        task.cancel()
        _ = try await RuntimeHarness.finishes("LeaderOnly to end when cancelled") { try? await task.value }
        #expect(!probe.running.value)
    }

    @Test("waitUntilLeading returns at once for a leader and when leadership comes; setLeading reports changes only")
    func role() async throws {
        let role = ClusterRole(nodeID: "n1", store: nil, nodeLease: 10, leading: false)
        #expect(!role.setLeading(false))
        let waiter = Task { await role.waitUntilLeading() }
        #expect(role.setLeading(true))
        _ = try await RuntimeHarness.finishes("the waiter to see the leadership") { await waiter.value }
        await role.waitUntilLeading()
        #expect(ClusterRole.alone().isLeader && !ClusterRole.alone().isShared)
    }

    @Test("the heartbeat writes the node's row, takes the lead the store grants, and follows when the store refuses or fails")
    func heartbeat() async throws {
        let h = try RuntimeHarness()
        var env = h.environment(instanceID: "host:1:1")
        let nodes = SharedNodes()
        env.cluster = ClusterRole(nodeID: "n1", store: nodes, nodeLease: 10, leading: false)
        let beat = NodeHeartbeat(env: env, store: nodes, apiURL: Locked("http://127.0.0.1:9"), startedAt: Date())
        try await beat.beatOnce()
        #expect(env.cluster.isLeader)
        let row = try #require(nodes.rows.value.first)
        #expect(row.id == "n1" && row.instanceID == "host:1:1" && row.url == "http://127.0.0.1:9" && row.pid == getpid())
        nodes.leads.withLock { $0 = false }
        try await beat.beatOnce()
        #expect(!env.cluster.isLeader)
    }

    @Test(
        "on a shared store only the leader rescues, and only tasks whose lease lapsed: a live node's running task is left alone")
    func sharedRescue() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        var env = h.environment(instanceID: "me:1:1", clock: clock)
        let nodes = SharedNodes()
        env.cluster = ClusterRole(nodeID: "me", store: nodes, nodeLease: 10, leading: false)
        // Another node claims a task with a 30 s lease and is running it.
        let created = try await h.store.create(AgentTask(taskType: .impl, direction: "theirs", now: clock.now))
        let claimed = try await h.store.claimNext(owner: "other:2:2", limit: 1, now: clock.now, lease: 30)
        #expect(claimed.map(\.id) == [created.id])
        let rescuer = LeaseRescuer(env: env, isLive: { _ in false })

        // A follower rescues nothing, even a lapsed lease.
        clock.advance(by: 60)
        #expect(try await rescuer.runOnce().requeued.isEmpty)
        #expect(try await h.store.get(created.id).status == .running)

        // The leader leaves a lease that has not lapsed alone, whoever owns it...
        env.cluster.setLeading(true)
        clock.advance(by: -59)
        #expect(try await rescuer.runOnce().requeued.isEmpty)
        #expect(try await h.store.get(created.id).status == .running)
        // ...and rescues it once it lapsed (a dead node stops renewing).
        clock.advance(by: 59)
        #expect(try await rescuer.runOnce().requeued == [created.id])
        #expect(try await h.store.get(created.id).status == .pending)
    }

    @Test("alone on its store (SQLite) another owner is a dead daemon: rescued at once, lease or not")
    func aloneRescue() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        let env = h.environment(instanceID: "me:1:1", clock: clock)
        let created = try await h.store.create(AgentTask(taskType: .impl, direction: "left", now: clock.now))
        _ = try await h.store.claimNext(owner: "dead:2:2", limit: 1, now: clock.now, lease: 30)
        let rescuer = LeaseRescuer(env: env, isLive: { _ in false })
        #expect(try await rescuer.runOnce().requeued == [created.id])
    }
}
