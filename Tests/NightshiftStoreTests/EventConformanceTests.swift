import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// The task history: every mutating operation appends its transition in the same transaction
/// and returns it; the lifecycle the store follows is `TaskStateMachine`'s.
@Suite("TaskStore conformance: task events and the state machine")
struct EventConformanceTests {
    /// Applies `event` to a task in `status` through the store's operation for it. Nil when the
    /// store refused (an error, or a claim that took nothing).
    static func apply(_ event: TaskEvent, to task: AgentTask, _ f: StoreFixture) async -> Changes<AgentTask>? {
        let s = f.store
        let owner = StoreFixture.owner
        func one(_ c: Changes<[Result<AgentTask, StoreError>]>) -> Changes<AgentTask>? {
            guard case .success(let t)? = c.value.first else { return nil }
            return Changes(t, entries: c.entries)
        }
        do {
            switch event {
            case .claim:
                let c = try await s.claim(owner: owner, limit: 10, now: f.now, lease: 60)
                return c.value.first { $0.id == task.id }.map { Changes($0, entries: c.entries) }
            case .succeed:
                return one(
                    try await s.finish(
                        [FinishRequest(id: task.id, owner: owner, outcome: AttemptOutcome(.completed))], now: f.now))
            case .fail:
                let outcome = AttemptOutcome(.failed(errorClass: "agent_error", error: "final", retryDelay: nil))
                return one(try await s.finish([FinishRequest(id: task.id, owner: owner, outcome: outcome)], now: f.now))
            case .requeue:
                let outcome = AttemptOutcome(.failed(errorClass: "agent_error", error: "again", retryDelay: 5))
                return one(try await s.finish([FinishRequest(id: task.id, owner: owner, outcome: outcome)], now: f.now))
            case .askDecision:
                let outcome = AttemptOutcome(.needsDecision(prompt: "which?"))
                return one(try await s.finish([FinishRequest(id: task.id, owner: owner, outcome: outcome)], now: f.now))
            case .decide:
                return try await s.decide(id: task.id, decision: "yes", priority: nil, by: "test", now: f.now)
            case .decisionTimeout:
                let c = try await s.expire(decisionsAskedBefore: f.now.addingTimeInterval(3600), by: "test", now: f.now)
                return c.value.first { $0.id == task.id }.map { Changes($0, entries: c.entries) }
            case .decline:
                return try await s.decline(id: task.id, errorClass: .budgetExceeded, reason: "stop", by: "test", now: f.now)
            case .retry:
                return try await s.retry(id: task.id, priority: nil, by: "test", now: f.now)
            case .cancel:
                return try await s.cancel(id: task.id, reason: "test", priority: nil, by: "test", now: f.now)
            }
        } catch {
            return nil
        }
    }

    @Test(
        "every status × event through the store lands where TaskStateMachine says, or is refused when it says illegal",
        arguments: TaskStoreFactory.all, TaskStatus.allCases)
    func everyTransition(_ factory: TaskStoreFactory, _ status: TaskStatus) async throws {
        for event in TaskEvent.allCases {
            let f = try await factory.make()
            let task = try await f.task(in: status, maxAttempts: 3)
            let before = try await f.store.get(task.id)
            let lastEvent = try await f.store.lastEventID()
            f.clock.advance(by: 1)
            let result = await Self.apply(event, to: task, f)
            if let expected = TaskStateMachine.next(from: status, on: event) {
                let changes = try #require(result, "\(status) on \(event) should be legal")
                #expect(changes.value.status == expected, "\(status) on \(event)")
                // Exactly one event about this task, from → to, with the task as it left it.
                let mine = changes.entries.filter { $0.event.taskID == task.id }
                #expect(mine.count == 1, "\(status) on \(event): \(mine.map(\.event.kind))")
                #expect(mine.first?.event.fromStatus == status && mine.first?.event.toStatus == expected)
                #expect(mine.first?.task == changes.value)
                #expect(try await f.store.events(after: lastEvent, limit: 100).map(\.id) == changes.entries.map(\.event.id))
            } else {
                #expect(result == nil, "\(status) on \(event) should be refused")
                #expect(try await f.store.get(task.id) == before, "a refused \(event) changed the row")
                #expect(try await f.store.lastEventID() == lastEvent, "a refused \(event) appended an event")
            }
        }
    }

    @Test("a task's history is every transition in order, with who and why", arguments: TaskStoreFactory.all)
    func history(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let created = try await f.store.create([.make(direction: "history", maxAttempts: 3, now: f.now)], by: "api")
        let t = try #require(created.value.first)
        #expect(created.entries.map(\.event.kind) == [.created])
        _ = try #require(try await f.claimOne())
        _ = try await f.store.recordStart(
            id: t.id, owner: StoreFixture.owner, pid: 4242, pgid: 4242, command: "x", logPath: "/l", now: f.now)
        _ = try await f.finish(t.id, .failed(errorClass: "exit_code", error: "agent exited with code 1", retryDelay: 1))
        f.clock.advance(by: 2)
        _ = try #require(try await f.claimOne())
        _ = try await f.finish(t.id, .needsDecision(prompt: "ship?"))
        _ = try await f.store.decide(id: t.id, decision: "yes", priority: nil, by: "telegram:7", now: f.now)
        let events = try await f.store.events(taskID: t.id)
        #expect(events.map(\.kind) == [.created, .claimed, .started, .finished, .claimed, .finished, .decided])
        #expect(events.map(\.toStatus) == [.pending, .running, .running, .pending, .running, .needsDecision, .pending])
        #expect(events[0].fromStatus == nil && events[0].detail["by"] == .string("api"))
        #expect(events[1].detail["by"] == .string(StoreFixture.owner))
        #expect(events[2].detail["pid"] == .number(4242))
        #expect(events[3].detail["outcome"] == .string("requeue") && events[3].detail["error_class"] == .string("exit_code"))
        #expect(events[3].detail["error"] == .string("agent exited with code 1"))
        #expect(events[6].detail["decision"] == .string("yes") && events[6].detail["by"] == .string("telegram:7"))
        #expect(events.map(\.id) == events.map(\.id).sorted())
        // Heartbeats are not events.
        _ = try #require(try await f.claimOne())
        let count = try await f.store.events(taskID: t.id).count
        _ = try await f.store.heartbeat(ids: [t.id], owner: StoreFixture.owner, now: f.now, lease: 60)
        #expect(try await f.store.events(taskID: t.id).count == count)
        #expect(await storeError { try await f.store.events(taskID: "task_0000000000000000") }?.code == .notFound)
    }

    @Test("events are pruned by age; ids stay monotonic after a prune", arguments: TaskStoreFactory.all)
    func prune(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        _ = try await f.createMany(3)
        let before = try await f.store.lastEventID()
        f.clock.advance(by: 3600)
        #expect(try await f.store.pruneEvents(before: f.now.addingTimeInterval(-60)) == 3)
        #expect(try await f.store.events(after: 0, limit: 10).isEmpty)
        let next = try await f.store.create([.make(direction: "after prune", now: f.now)], by: "api")
        #expect(next.entries.first.map { $0.event.id > before } == true)
    }
}
