import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// Dead letters of the backlog pipeline: the item a failure blocked resumes when its task is
/// reprocessed and runs on to done; a failure the pipeline followed up (a review that sent the
/// item back to impl) is not a dead letter; a task whose item moved on is not reprocessed.
@Suite("Dead-letter queue and the pipeline")
struct DeadLetterPipelineTests {
    /// Item 1 through spec, then its impl fails for good: the item is blocked.
    static func blockedAtImpl(_ factory: DaemonStoreFactory) async throws -> (PMStoreFixture, AgentTask) {
        let f = try await PMStoreFixture.make(factory, maxAttempts: 1)
        try await f.importBacklog("1. Add a --json flag\n")
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now)
        try await f.runCurrent("1", PMStoreFixture.completed(summary: "spec ok"))
        let impl = try await f.runCurrent("1", PMStoreFixture.exitFailure(3))
        try #require(impl.status == .failed && impl.phase == "impl")
        let item = try await f.item("1")
        try #require(item.state == .blocked && item.currentTaskID == impl.id)
        return (f, impl)
    }

    @Test(
        "reprocessing the failure that blocked an item makes it active; the item runs on to done",
        arguments: DaemonStoreFactory.all)
    func blockedItemResumes(_ factory: DaemonStoreFactory) async throws {
        let (f, impl) = try await Self.blockedAtImpl(factory)
        let stats = try await f.store.deadLetterStats()
        #expect(stats.total == 1)
        #expect(stats.byPhase.map(\.key) == ["impl"] && stats.byItem.map(\.key) == ["1"])

        let r = try await f.store.reprocess(.ids([impl.id]), reason: "fixed the build", dryRun: false, by: "api", now: f.now)
        #expect(r.value.resumedItems == ["1"])
        let item = try await f.item("1")
        #expect(item.state == .active)
        #expect(item.blockedReason == nil && item.finishedAt == nil)
        #expect(item.currentTaskID == impl.id, "the item goes on from the same task")
        #expect(try await f.store.get(impl.id).status == .pending)

        let rerun = try await f.runCurrent("1", PMStoreFixture.completed(summary: "impl ok"))
        #expect(rerun.id == impl.id && rerun.status == .completed && rerun.attempt == 1)
        let test = try await f.current("1")
        #expect(test.phase == "test" && test.parentID == impl.id, "the next phase follows the reprocessed task")
        try await f.runCurrent("1")
        try await f.runCurrent("1")
        #expect(try await f.item("1").state == .done)
        #expect(try await f.tasks(of: "1").map { $0.phase ?? "" } == ["spec", "impl", "test", "review"])
        #expect(try await f.store.deadLetterStats().total == 0)
    }

    @Test(
        "a dry run leaves the item blocked and the task failed, and says the item would resume", arguments: DaemonStoreFactory.all
    )
    func dryRunLeavesItemBlocked(_ factory: DaemonStoreFactory) async throws {
        let (f, impl) = try await Self.blockedAtImpl(factory)
        let before = try await f.item("1")
        let r = try await f.store.reprocess(.all, reason: nil, dryRun: true, by: "api", now: f.clock.advance(by: 5))
        #expect(r.value.tasks.map(\.id) == [impl.id])
        #expect(r.value.resumedItems == ["1"])
        #expect(try await f.item("1") == before)
        #expect(try await f.store.get(impl.id) == impl)
    }

    @Test("a failed review that sent the item back to impl is not a dead letter", arguments: DaemonStoreFactory.all)
    func followedUpReview(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog("1. Add a --json flag\n")
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now)
        for _ in 0..<3 { try await f.runCurrent("1") }
        let review = try await f.runCurrent("1", PMStoreFixture.reviewFailed("tests missing"))
        #expect(review.status == .failed)
        #expect(try await f.current("1").parentID == review.id, "a fix iteration followed it up")
        #expect(try await f.store.deadLetterStats().total == 0)
        let error = await storeError {
            try await f.store.reprocess(.ids([review.id]), reason: nil, dryRun: false, by: "api", now: f.now)
        }
        #expect(error?.code == .illegalTransition)
    }

    @Test(
        "a dead letter whose item has moved on is skipped by all (with the reason) and refused by id",
        arguments: DaemonStoreFactory.all)
    func itemMovedOn(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory, maxAttempts: 1)
        try await f.importBacklog("1. Add a --json flag\n")
        // A task of item 1 that is not the item's task (created beside the pipeline), failed.
        let stray = try await f.store.create(.make(direction: "stray", maxAttempts: 1, backlogItem: "1", now: f.now))
        _ = try await f.claimAll()
        _ = try await f.store.finish(
            id: stray.id, owner: PMStoreFixture.owner, outcome: PMStoreFixture.exitFailure(1), now: f.now)
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now)
        let itemTask = try await f.current("1")
        #expect(try await f.store.deadLetterStats().total == 1)

        let all = try await f.store.reprocess(.all, reason: nil, dryRun: false, by: "api", now: f.now)
        #expect(all.value.tasks.isEmpty)
        #expect(all.value.skipped.map(\.id) == [stray.id])
        #expect(all.value.skipped.first?.reason.contains("moved on to task \(itemTask.id)") == true)
        let byID = await storeError {
            try await f.store.reprocess(.ids([stray.id]), reason: nil, dryRun: false, by: "api", now: f.now)
        }
        #expect(byID?.code == .illegalTransition)
        #expect(try await f.store.get(stray.id).status == .failed)
    }
}
