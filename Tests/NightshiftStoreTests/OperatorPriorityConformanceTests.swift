import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// decide, cancel and retry with a new priority: one transaction, both changes or neither.
@Suite("TaskStore conformance: operator transitions with a priority")
struct OperatorPriorityConformanceTests {
    /// A transition with a priority, from the status it starts in.
    enum Change: String, CaseIterable, Sendable {
        case decide, cancel, retry

        var from: TaskStatus {
            switch self {
            case .decide: .needsDecision
            case .cancel: .pending
            case .retry: .failed
            }
        }

        var to: TaskStatus { self == .cancel ? .cancelled : .pending }

        /// A status that refuses the transition. For decide and retry it is one whose priority
        /// could change on its own, so a store that set the priority in a separate step would
        /// be caught; cancel refuses only ended tasks, whose priority is frozen anyway.
        var refusedFrom: TaskStatus { self == .cancel ? .completed : .pending }

        func apply(_ store: any TaskStore, _ id: String, priority: Int, now: Date) async throws -> AgentTask {
            switch self {
            case .decide: try await store.decide(id: id, decision: "yes", priority: priority, now: now)
            case .cancel: try await store.cancel(id: id, reason: "operator", priority: priority, now: now).after
            case .retry: try await store.retry(id: id, priority: priority, now: now)
            }
        }
    }

    @Test("the transition happens and the priority is set, in one write", arguments: TaskStoreFactory.all, Change.allCases)
    func both(_ factory: TaskStoreFactory, _ change: Change) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: change.from)
        f.clock.advance(by: 3)
        let after = try await change.apply(f.store, t.id, priority: 42, now: f.now)
        #expect(after.status == change.to)
        #expect(after.priority == 42)
        #expect(after.updatedAt == f.now)
        #expect(try await f.store.get(t.id) == after)
    }

    @Test("a refused transition leaves the priority as it was", arguments: TaskStoreFactory.all, Change.allCases)
    func refused(_ factory: TaskStoreFactory, _ change: Change) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: change.refusedFrom)
        let before = try await f.store.get(t.id)
        let error = await storeError { try await change.apply(f.store, t.id, priority: 42, now: f.now) }
        #expect(error?.code == .illegalTransition)
        #expect(try await f.store.get(t.id) == before)
    }

    @Test(
        "a priority out of range is invalid and the transition does not happen", arguments: TaskStoreFactory.all, Change.allCases)
    func outOfRange(_ factory: TaskStoreFactory, _ change: Change) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: change.from)
        let before = try await f.store.get(t.id)
        let error = await storeError {
            try await change.apply(f.store, t.id, priority: TaskValidation.priorityRange.upperBound + 1, now: f.now)
        }
        #expect(error?.code == .invalid)
        #expect(error?.field == "priority")
        #expect(try await f.store.get(t.id) == before)
    }
}
