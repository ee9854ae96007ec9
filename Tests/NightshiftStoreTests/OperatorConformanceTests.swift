import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// decide, cancel, retry and setPriority: the operator's transitions.
@Suite("TaskStore conformance: operator transitions")
struct OperatorConformanceTests {
    static let notNeedsDecision = TaskStatus.allCases.filter { $0 != .needsDecision }
    static let cancellable: [TaskStatus] = [.pending, .running, .needsDecision]
    static let notCancellable: [TaskStatus] = [.completed, .failed, .cancelled]
    static let notFailed = TaskStatus.allCases.filter { $0 != .failed }

    @Test("decide moves needs_decision to pending with the decision, runnable at once", arguments: TaskStoreFactory.all)
    func decide(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .needsDecision)
        f.clock.advance(by: 60)
        let decided = try await f.store.decide(id: t.id, decision: "use SQLite", now: f.now)
        #expect(decided.status == .pending)
        #expect(decided.decision == "use SQLite")
        #expect(decided.decidedAt == f.now)
        #expect(decided.updatedAt == f.now)
        #expect(decided.decisionPrompt == "which way?")
        #expect(decided.notBefore == nil)
        #expect(try await f.store.get(t.id) == decided)
        #expect(try await f.claimOne()?.id == t.id)
    }

    @Test("decide in any other status is illegal and changes nothing", arguments: TaskStoreFactory.all, notNeedsDecision)
    func decideRefused(_ factory: TaskStoreFactory, _ status: TaskStatus) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: status)
        let before = try await f.store.get(t.id)
        f.clock.advance(by: 1)
        let error = await storeError { try await f.store.decide(id: t.id, decision: "yes", now: f.now) }
        #expect(error?.code == .illegalTransition)
        #expect(error?.currentStatus == status)
        #expect(try await f.store.get(t.id) == before)
    }

    @Test("cancel works from pending, running and needs_decision", arguments: TaskStoreFactory.all, cancellable)
    func cancel(_ factory: TaskStoreFactory, _ status: TaskStatus) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: status)
        let before = try await f.store.get(t.id)
        f.clock.advance(by: 2)
        let (was, now) = try await f.store.cancel(id: t.id, reason: "operator said so", now: f.now)
        #expect(was == before)
        #expect(now.status == .cancelled)
        #expect(now.finishedAt == f.now)
        #expect(now.updatedAt == f.now)
        #expect(now.leaseExpiresAt == nil)
        #expect(try await f.store.get(t.id) == now)
        #expect(try await f.claimOne() == nil)
    }

    @Test("cancel of an ended task is illegal and changes nothing", arguments: TaskStoreFactory.all, notCancellable)
    func cancelRefused(_ factory: TaskStoreFactory, _ status: TaskStatus) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: status)
        let before = try await f.store.get(t.id)
        f.clock.advance(by: 1)
        let error = await storeError { try await f.store.cancel(id: t.id, reason: "too late", now: f.now) }
        #expect(error?.code == .illegalTransition)
        #expect(error?.currentStatus == status)
        #expect(try await f.store.get(t.id) == before)
    }

    @Test("a runner whose task was cancelled has lost it", arguments: TaskStoreFactory.all)
    func cancelledUnderTheRunner(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .running)
        let (_, cancelled) = try await f.store.cancel(id: t.id, reason: "stop", now: f.now)
        #expect(try await f.store.heartbeat(ids: [t.id], owner: StoreFixture.owner, now: f.now, lease: 60) == [t.id])
        #expect(await storeError { try await f.finish(t.id, .completed) }?.code == .lostClaim)
        #expect(
            await storeError {
                try await f.store.recordProcess(
                    id: t.id, owner: StoreFixture.owner, pid: 1, pgid: 1, command: "x", logPath: "y", now: f.now)
            }?.code == .lostClaim)
        #expect(try await f.store.get(t.id) == cancelled)
    }

    @Test("retry moves failed to pending with fresh attempts", arguments: TaskStoreFactory.all)
    func retry(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .failed, maxAttempts: 1)
        #expect(t.attempt == 1)
        f.clock.advance(by: 5)
        let retried = try await f.store.retry(id: t.id, now: f.now)
        #expect(retried.status == .pending)
        #expect(retried.attempt == 0)
        #expect(retried.notBefore == nil)
        #expect(retried.finishedAt == nil)
        #expect(retried.updatedAt == f.now)
        #expect(try await f.store.get(t.id) == retried)
        let again = try #require(try await f.claimOne())
        #expect(again.id == t.id)
        #expect(again.attempt == 1)
    }

    @Test("retry of anything but a failed task is illegal and changes nothing", arguments: TaskStoreFactory.all, notFailed)
    func retryRefused(_ factory: TaskStoreFactory, _ status: TaskStatus) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: status)
        let before = try await f.store.get(t.id)
        f.clock.advance(by: 1)
        let error = await storeError { try await f.store.retry(id: t.id, now: f.now) }
        #expect(error?.code == .illegalTransition)
        #expect(error?.currentStatus == status)
        #expect(try await f.store.get(t.id) == before)
    }

    @Test("setPriority changes a task that has not ended", arguments: TaskStoreFactory.all, cancellable)
    func setPriority(_ factory: TaskStoreFactory, _ status: TaskStatus) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: status)
        f.clock.advance(by: 1)
        let changed = try await f.store.setPriority(id: t.id, priority: -7, now: f.now)
        #expect(changed.priority == -7)
        #expect(changed.status == status)
        #expect(changed.updatedAt == f.now)
        #expect(try await f.store.get(t.id) == changed)
    }

    @Test("setPriority of an ended task is illegal and changes nothing", arguments: TaskStoreFactory.all, notCancellable)
    func setPriorityRefused(_ factory: TaskStoreFactory, _ status: TaskStatus) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: status)
        let before = try await f.store.get(t.id)
        let error = await storeError { try await f.store.setPriority(id: t.id, priority: 1, now: f.now) }
        #expect(error?.code == .illegalTransition)
        #expect(error?.currentStatus == status)
        #expect(try await f.store.get(t.id) == before)
    }

    @Test("setPriority out of range is invalid; a new priority changes the claim order", arguments: TaskStoreFactory.all)
    func priorityRangeAndOrder(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let tasks = try await f.createMany(3)
        let error = await storeError { try await f.store.setPriority(id: tasks[0].id, priority: 1_000_001, now: f.now) }
        #expect(error?.code == .invalid)
        #expect(error?.field == "priority")
        #expect(try await f.store.get(tasks[0].id).priority == 0)
        _ = try await f.store.setPriority(id: tasks[2].id, priority: 10, now: f.now)
        #expect(try await f.claimOne()?.id == tasks[2].id)
        #expect(try await f.claimOne()?.id == tasks[0].id)
    }
}
