import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@Suite("TaskStore conformance: claimNext")
struct ClaimConformanceTests {
    @Test("claims by priority, then oldest first", arguments: TaskStoreFactory.all)
    func order(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let low1 = try await f.create(.make(direction: "low 1", priority: 0, now: f.now))
        f.clock.advance(by: 1)
        let high1 = try await f.create(.make(direction: "high 1", priority: 5, now: f.now))
        f.clock.advance(by: 1)
        let high2 = try await f.create(.make(direction: "high 2", priority: 5, now: f.now))
        f.clock.advance(by: 1)
        let low2 = try await f.create(.make(direction: "low 2", priority: 0, now: f.now))
        f.clock.advance(by: 1)
        let negative = try await f.create(.make(direction: "negative", priority: -3, now: f.now))
        let expected = [high1, high2, low1, low2, negative].map(\.id)

        var oneByOne: [String] = []
        while let t = try await f.claimOne() { oneByOne.append(t.id) }
        #expect(oneByOne == expected)

        let g = try await factory.make()
        for t in [low1, high1, high2, low2, negative] { try await g.create(t) }
        let batch = try await g.store.claimNext(owner: "b", limit: 10, now: g.now, lease: 60)
        #expect(batch.map(\.id) == expected, "a batch comes back in claim order")
    }

    @Test("a claim moves the task to running with owner, lease and attempt", arguments: TaskStoreFactory.all)
    func claimFields(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(now: f.now))
        f.clock.advance(by: 5)
        let claimed = try #require(try await f.store.claimNext(owner: "runner-x", limit: 1, now: f.now, lease: 90).first)
        #expect(claimed.id == t.id)
        #expect(claimed.status == .running)
        #expect(claimed.attempt == 1)
        #expect(claimed.claimedBy == "runner-x")
        #expect(claimed.leaseExpiresAt == f.now.addingTimeInterval(90))
        #expect(claimed.heartbeatAt == f.now)
        #expect(claimed.startedAt == f.now)
        #expect(claimed.updatedAt == f.now)
        #expect(claimed.createdAt == t.createdAt)
        #expect(claimed.finishedAt == nil)
        #expect(try await f.store.get(t.id) == claimed)
        #expect(try await f.claimOne() == nil, "a running task is not claimed again")
    }

    @Test("limit caps the claim; limit 0 claims nothing", arguments: TaskStoreFactory.all)
    func limit(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        _ = try await f.createMany(5)
        #expect(try await f.store.claimNext(owner: "a", limit: 0, now: f.now, lease: 60).isEmpty)
        #expect(try await f.store.claimNext(owner: "a", limit: 2, now: f.now, lease: 60).count == 2)
        #expect(try await f.store.claimNext(owner: "a", limit: 2, now: f.now, lease: 60).count == 2)
        #expect(try await f.store.claimNext(owner: "a", limit: 2, now: f.now, lease: 60).count == 1)
        #expect(try await f.store.claimNext(owner: "a", limit: 2, now: f.now, lease: 60).isEmpty)
        #expect(try await f.store.countByStatus()[.running] == 5)
    }

    @Test("a task waiting for its retry backoff is claimed only once not_before has passed", arguments: TaskStoreFactory.all)
    func notBefore(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(now: f.now))
        _ = try #require(try await f.claimOne())
        let requeued = try await f.finish(t.id, .failed(errorClass: "agent_error", error: "exit 1", retryDelay: 30))
        #expect(requeued.notBefore == f.now.addingTimeInterval(30))
        let due = f.now.addingTimeInterval(30)

        #expect(try await f.claimOne() == nil, "not_before is in the future")
        f.clock.advance(by: 29.5)
        #expect(try await f.claimOne() == nil, "still in the future")
        f.clock.set(due)
        let again = try #require(try await f.claimOne(), "claimable at not_before")
        #expect(again.id == t.id)
        #expect(again.attempt == 2)
    }

    @Test("a past not_before does not hold a task back", arguments: TaskStoreFactory.all)
    func pastNotBefore(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(now: f.now))
        _ = try #require(try await f.claimOne())
        try await f.finish(t.id, .failed(errorClass: "agent_error", error: "exit 1", retryDelay: 5))
        f.clock.advance(by: 3600)
        #expect(try await f.claimOne()?.id == t.id)
    }

    @Test("a task is claimed only after every task it depends on completed", arguments: TaskStoreFactory.all)
    func dependencies(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let a = try await f.create(.make(direction: "a", now: f.now))
        let b = try await f.create(.make(direction: "b", now: f.now))
        f.clock.advance(by: 1)
        let c = try await f.create(.make(direction: "c", priority: 100, dependsOn: [a.id, b.id], now: f.now))

        let first = try await f.store.claimNext(owner: StoreFixture.owner, limit: 10, now: f.now, lease: 60)
        #expect(Set(first.map(\.id)) == [a.id, b.id], "c waits although it has the highest priority")

        try await f.finish(a.id, .completed)
        try await f.finish(b.id, .failed(errorClass: "agent_error", error: "exit 1", retryDelay: 0))
        let retried = try #require(try await f.claimOne())
        #expect(retried.id == b.id, "c still waits for b")
        #expect(try await f.claimOne() == nil)

        try await f.finish(b.id, .completed)
        let last = try #require(try await f.claimOne())
        #expect(last.id == c.id)
    }

    @Test(
        "a task whose dependency failed or was cancelled is never claimed", arguments: TaskStoreFactory.all,
        [TaskStatus.failed, .cancelled])
    func deadDependency(_ factory: TaskStoreFactory, _ depStatus: TaskStatus) async throws {
        let f = try await factory.make()
        let dep = try await f.task(in: depStatus)
        let waiter = try await f.create(.make(direction: "waiter", dependsOn: [dep.id], now: f.now))
        #expect(try await f.claimOne() == nil)
        #expect(try await f.store.get(waiter.id).status == .pending)
    }

    @Test("concurrent claimers never claim one task twice", arguments: TaskStoreFactory.all)
    func concurrentClaims(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let taskCount = 200
        let claimers = 8
        let created = try await f.store.create(
            (0..<taskCount).map { AgentTask.make(direction: "job \($0)", priority: $0 % 3, now: f.now) })
        let store = f.store
        let now = f.now

        let claims = try await withThrowingTaskGroup(of: [(String, String)].self) { group in
            for i in 0..<claimers {
                group.addTask {
                    let owner = "claimer-\(i)"
                    var mine: [(String, String)] = []
                    while true {
                        let got = try await store.claimNext(owner: owner, limit: 1 + i % 3, now: now, lease: 60)
                        if got.isEmpty { break }
                        mine += got.map { ($0.id, owner) }
                        #expect(got.allSatisfy { $0.claimedBy == owner && $0.status == .running && $0.attempt == 1 })
                    }
                    return mine
                }
            }
            var all: [(String, String)] = []
            for try await part in group { all += part }
            return all
        }

        #expect(claims.count == taskCount, "every task claimed exactly once")
        #expect(Set(claims.map(\.0)) == Set(created.map(\.id)), "no task claimed twice or missed")
        let stored = try await store.list(TaskQuery(limit: taskCount))
        #expect(stored.tasks.allSatisfy { $0.status == .running && $0.attempt == 1 })
        let owners = Dictionary(claims, uniquingKeysWith: { first, _ in first })
        #expect(stored.tasks.allSatisfy { owners[$0.id] == $0.claimedBy }, "the stored owner is the claimer that won")
    }
}
