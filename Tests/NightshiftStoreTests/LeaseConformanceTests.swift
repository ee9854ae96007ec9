import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// recordProcess, heartbeat, rescue and decision expiry: keeping running work honest.
@Suite("TaskStore conformance: leases and rescue")
struct LeaseConformanceTests {
    @Test("recordProcess by the owner stores the process", arguments: TaskStoreFactory.all)
    func recordProcess(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .running)
        f.clock.advance(by: 1)
        let recorded = try await f.store.recordProcess(
            id: t.id, owner: StoreFixture.owner, pid: 4242, pgid: 4240, command: "claude -p 'x'", logPath: "logs/tasks/x.log",
            now: f.now)
        #expect(recorded.pid == 4242)
        #expect(recorded.pgid == 4240)
        #expect(recorded.command == "claude -p 'x'")
        #expect(recorded.logPath == "logs/tasks/x.log")
        #expect(recorded.updatedAt == f.now)
        #expect(recorded.status == .running)
        #expect(try await f.store.get(t.id) == recorded)
    }

    @Test("recordProcess by another owner is a lost claim and changes nothing", arguments: TaskStoreFactory.all)
    func recordProcessLost(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .running)
        let before = try await f.store.get(t.id)
        let error = await storeError {
            try await f.store.recordProcess(id: t.id, owner: "runner-b", pid: 1, pgid: 1, command: "x", logPath: "y", now: f.now)
        }
        #expect(error?.code == .lostClaim)
        #expect(error?.currentStatus == .running)
        #expect(try await f.store.get(t.id) == before)

        let pending = try await f.task(in: .pending)
        let stillPending = try await f.store.get(pending.id)
        #expect(
            await storeError {
                try await f.store.recordProcess(
                    id: pending.id, owner: StoreFixture.owner, pid: 1, pgid: 1, command: "x", logPath: "y", now: f.now)
            }?.code == .lostClaim)
        #expect(try await f.store.get(pending.id) == stillPending)
    }

    @Test("heartbeat extends the leases still held and reports the rest", arguments: TaskStoreFactory.all)
    func heartbeat(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        _ = try await f.createMany(3)
        let mine = try await f.store.claimNext(owner: StoreFixture.owner, limit: 2, now: f.now, lease: 60)
        let theirs = try #require(try await f.claimOne(owner: "runner-b"))
        let theirsBefore = try await f.store.get(theirs.id)
        f.clock.advance(by: 30)

        let unknown = "task_00000000000000ff"
        let lost = try await f.store.heartbeat(
            ids: mine.map(\.id) + [theirs.id, unknown], owner: StoreFixture.owner, now: f.now, lease: 45)
        #expect(lost == [theirs.id, unknown])
        for t in mine {
            let renewed = try await f.store.get(t.id)
            #expect(renewed.leaseExpiresAt == f.now.addingTimeInterval(45))
            #expect(renewed.heartbeatAt == f.now)
            #expect(renewed.status == .running)
        }
        #expect(try await f.store.get(theirs.id) == theirsBefore)
        #expect(try await f.store.heartbeat(ids: [], owner: StoreFixture.owner, now: f.now, lease: 45).isEmpty)

        try await f.finish(mine[0].id, .completed)
        #expect(
            try await f.store.heartbeat(ids: [mine[0].id, mine[1].id], owner: StoreFixture.owner, now: f.now, lease: 45) == [
                mine[0].id
            ])
    }

    @Test("rescue candidates: a lapsed lease, or a task owned by anyone but the live owner", arguments: TaskStoreFactory.all)
    func rescueCandidates(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        _ = try await f.createMany(4)
        let short = try #require(try await f.claimOne(owner: "live", lease: 10))
        let long = try #require(try await f.claimOne(owner: "live", lease: 600))
        let orphan = try #require(try await f.claimOne(owner: "dead-process", lease: 600))
        _ = try await f.task(in: .needsDecision)

        #expect(try await f.store.rescueCandidates(now: f.now, liveOwner: "live").map(\.id) == [orphan.id])
        f.clock.advance(by: 10)
        #expect(
            try await f.store.rescueCandidates(now: f.now, liveOwner: "live").map(\.id) == [orphan.id],
            "a lease lapses after its end")
        f.clock.advance(by: 1)
        let lapsed = try await f.store.rescueCandidates(now: f.now, liveOwner: "live")
        #expect(Set(lapsed.map(\.id)) == [short.id, orphan.id])
        #expect(lapsed.allSatisfy { $0.status == .running })
        #expect(!lapsed.contains { $0.id == long.id })
    }

    @Test("rescue requeues a task with attempts left", arguments: TaskStoreFactory.all)
    func rescueRequeues(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .running)
        f.clock.advance(by: 120)
        let rescued = try await f.store.rescue(
            id: t.id, owner: StoreFixture.owner, reason: "lease expired", errorClass: "lease_expired", retryDelay: 15, now: f.now)
        #expect(rescued.status == .pending)
        #expect(rescued.errorClass == "lease_expired")
        #expect(rescued.error == "lease expired")
        #expect(rescued.notBefore == f.now.addingTimeInterval(15))
        #expect(rescued.claimedBy == nil)
        #expect(rescued.leaseExpiresAt == nil)
        #expect(try await f.store.rescueCandidates(now: f.now, liveOwner: "x").isEmpty)
        f.clock.advance(by: 15)
        #expect(try await f.claimOne(owner: "runner-new")?.id == t.id)
    }

    @Test("rescue fails a task with no attempts left", arguments: TaskStoreFactory.all)
    func rescueFails(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .running, maxAttempts: 1)
        let rescued = try await f.store.rescue(
            id: t.id, owner: StoreFixture.owner, reason: "crashed", errorClass: "lease_expired", retryDelay: 15, now: f.now)
        #expect(rescued.status == .failed)
        #expect(rescued.errorClass == "lease_expired")
        #expect(rescued.finishedAt == f.now)
    }

    @Test("rescue with the wrong owner is a lost claim and changes nothing", arguments: TaskStoreFactory.all)
    func rescueWrongOwner(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .running)
        let before = try await f.store.get(t.id)
        let error = await storeError {
            try await f.store.rescue(
                id: t.id, owner: "not-the-owner", reason: "r", errorClass: "lease_expired", retryDelay: 1, now: f.now)
        }
        #expect(error?.code == .lostClaim)
        #expect(try await f.store.get(t.id) == before)
    }

    @Test("expireDecisions fails the decisions asked before the cutoff", arguments: TaskStoreFactory.all)
    func expireDecisions(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let old = try await f.task(in: .needsDecision)
        let asked = f.now
        f.clock.advance(by: 3600)
        let fresh = try await f.task(in: .needsDecision)
        let bystanders = [try await f.task(in: .pending), try await f.task(in: .running), try await f.task(in: .completed)]
        let bystandersBefore = try await bystanders.asyncMap { try await f.store.get($0.id) }

        #expect(try await f.store.expireDecisions(askedBefore: asked, now: f.now).isEmpty, "the cutoff is exclusive")
        f.clock.advance(by: 10)
        let expired = try await f.store.expireDecisions(askedBefore: asked.addingTimeInterval(1), now: f.now)
        #expect(expired.map(\.id) == [old.id])
        let failed = try await f.store.get(old.id)
        #expect(failed.status == .failed)
        #expect(failed.errorClass == "decision_timeout")
        #expect(failed.updatedAt == f.now)
        #expect(try await f.store.get(fresh.id).status == .needsDecision)
        #expect(try await bystanders.asyncMap { try await f.store.get($0.id) } == bystandersBefore)
        #expect(try await f.store.expireDecisions(askedBefore: asked.addingTimeInterval(1), now: f.now).isEmpty, "idempotent")
        #expect(
            await storeError { try await f.store.decide(id: old.id, decision: "late", now: f.now) }?.code == .illegalTransition)
    }

    @Test("recentFinished lists completed and failed tasks, newest first", arguments: TaskStoreFactory.all)
    func recentFinished(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        #expect(try await f.store.recentFinished(limit: 10).isEmpty)
        var finished: [(String, TaskStatus)] = []
        for (i, status) in [TaskStatus.completed, .failed, .completed].enumerated() {
            let t = try await f.create(.make(type: i == 1 ? .test : .impl, priority: 1, now: f.now))
            _ = try #require(try await f.claimOne())
            f.clock.advance(by: Double(i + 1))
            let outcome: AttemptOutcome.Kind =
                status == .completed ? .completed : .failed(errorClass: "e", error: "e", retryDelay: nil)
            _ = try await f.store.finish(
                id: t.id, owner: StoreFixture.owner, outcome: AttemptOutcome(outcome, costUSD: 0.5), now: f.now)
            finished.append((t.id, status))
            f.clock.advance(by: 100)
        }
        _ = try await f.task(in: .cancelled)
        _ = try await f.task(in: .needsDecision)
        _ = try await f.task(in: .pending)

        let samples = try await f.store.recentFinished(limit: 10)
        #expect(samples.map(\.status) == [.completed, .failed, .completed])
        #expect(samples.map(\.durationSeconds) == [3, 2, 1])
        #expect(samples.map(\.taskType) == [.impl, .test, .impl])
        #expect(samples.allSatisfy { $0.costUSD == 0.5 })
        #expect(samples[0].finishedAt > samples[1].finishedAt)
        #expect(try await f.store.recentFinished(limit: 2).map(\.durationSeconds) == [3, 2])
    }
}
