import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

// finish reads a task's attempts only when a retry depends on them and otherwise lets its
// compare-and-set UPDATE find out whether the caller still holds the task. These pin down that
// the answers stay what they were when it always read first.
@Suite("SQLiteTaskStore finish path")
struct StoreFinishPathTests {
    @Test("a bad verdict from a caller that lost the task is answered with lostClaim first", arguments: TaskStoreFactory.all)
    func lostClaimBeforeBadVerdict(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .running)
        let other = await storeError {
            try await f.store.finish(
                id: t.id, owner: "someone-else", outcome: AttemptOutcome(.completed, verdict: "maybe"), now: f.now)
        }
        #expect(other?.code == .lostClaim)
        let own = await storeError {
            try await f.store.finish(
                id: t.id, owner: StoreFixture.owner, outcome: AttemptOutcome(.completed, verdict: "maybe"), now: f.now)
        }
        #expect(own?.code == .invalid)
        #expect(try await f.store.get(t.id).status == .running, "nothing changed")
    }

    @Test(
        "every outcome from a caller that no longer holds the task is lostClaim and changes nothing",
        arguments: TaskStoreFactory.all)
    func everyOutcomeChecksTheClaim(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .running)
        let kinds: [AttemptOutcome.Kind] = [
            .completed, .needsDecision(prompt: "which?"), .failed(errorClass: "agent_error", error: "x", retryDelay: nil),
            .failed(errorClass: "agent_error", error: "x", retryDelay: 5),
        ]
        for kind in kinds {
            let error = await storeError {
                try await f.store.finish(id: t.id, owner: "someone-else", outcome: AttemptOutcome(kind), now: f.now)
            }
            #expect(error?.code == .lostClaim, "\(kind)")
        }
        let unknown = await storeError {
            try await f.store.finish(
                id: "task_00000000000000ff", owner: StoreFixture.owner, outcome: AttemptOutcome(.completed), now: f.now)
        }
        #expect(unknown?.code == .notFound)
        #expect(try await f.store.get(t.id).status == .running)
        #expect(try await f.store.events(taskID: t.id).map(\.kind) == [.created, .claimed])
    }
}
