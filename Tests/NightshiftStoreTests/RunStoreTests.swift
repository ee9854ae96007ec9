import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// A store opened for a run stamps the run on the tasks it creates and on every event, and the
/// run's queries find what ran in it, whoever created it.
@Suite("RunStore")
struct RunStoreTests {
    static let now = Timestamp.parse("2026-12-01T22:00:00Z")!

    @Test(
        "tasks and events carry the store's run; a later run that retries a task counts its attempt",
        arguments: DaemonStoreFactory.all)
    func stamping(_ factory: DaemonStoreFactory) async throws {
        let database = try await factory.make()
        let first = "run_20261201_220000_aaaa"
        let second = "run_20261202_220000_bbbb"
        var ids: [String] = []
        var left = ""
        do {
            let store = try await database.open(runID: first)
            let made = try await store.create(
                [
                    AgentTask(taskType: .impl, direction: "one", maxAttempts: 1, now: Self.now),
                    AgentTask(taskType: .impl, direction: "two", now: Self.now),
                ],
                by: "test"
            ).value
            ids = made.map(\.id)
            #expect(made.allSatisfy { $0.runID == first })
            #expect(try await store.get(ids[0]).runID == first)
            let claimed = try await store.claim(owner: "o", limit: 1, now: Self.now, lease: 60).value
            #expect(claimed.count == 1)
            left = ids.first { $0 != claimed[0].id } ?? ""
            _ = try await store.finish(
                id: claimed[0].id, owner: "o",
                outcome: AttemptOutcome(.failed(errorClass: "exit_code", error: "boom", retryDelay: nil)),
                now: Self.now)
            #expect(try await store.events(taskID: claimed[0].id).allSatisfy { $0.runID == first })
            #expect(try await store.attempts(inRun: first) == [claimed[0].id: 1])
            let stats = try await store.deadLetterStats()
            #expect(stats.byRun?.map(\.key) == [first])
        }
        // The next night: a store for another run claims the task left pending.
        let store = try await database.open(runID: second)
        let claimed = try await store.claim(owner: "o2", limit: 5, now: Self.now.addingTimeInterval(60), lease: 60).value
        #expect(claimed.map(\.id) == [left])
        let inSecond = try await store.tasks(inRun: second)
        #expect(inSecond.map(\.id) == [left], "created by the first run, attempted in the second")
        #expect(inSecond[0].runID == first)
        #expect(try await store.tasks(inRun: first).map(\.id).sorted() == ids.sorted())
        #expect(try await store.events(inRun: second).map(\.kind) == [.claimed])
        #expect(try await store.tasks(inRun: "run_20200101_000000_none").isEmpty)
        #expect(try await store.progress(inRun: second) == RunProgress(open: 1, running: 1, spentUSD: 0))
        #expect(try await store.progress(inRun: first) == RunProgress(open: 1, running: 1, spentUSD: 0))
        #expect(try await store.progress(inRun: "run_20200101_000000_none") == RunProgress(open: 0, running: 0, spentUSD: 0))
    }
}
