import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// The merge queue's half of the store, on every store: a finished item with a branch joins
/// the queue; each move is a compare-and-set on its land state; a conflict creates a `merge`
/// task whose end queues the item again; a verify failure sends it back to impl; an operator
/// retries or skips a waiting item.
@Suite("LandingStore")
struct LandingStoreTests {
    static let conflict = MergeConflict(
        branch: "nightshift/1-add-a-flag", baseBranch: "main", baseHead: "0123456789abcdef", files: ["Sources/a.swift"],
        ours: [], theirs: [])

    /// Item 1 (one impl phase, a branch) done and in the queue.
    static func queued(_ factory: DaemonStoreFactory, maxIterations: Int = 3) async throws -> PMStoreFixture {
        let f = try await PMStoreFixture.make(factory, phases: ["impl"], maxIterations: maxIterations, land: true)
        try await f.importBacklog("1. Add a flag\n2. Second\n")
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: "/w/1", branch: "nightshift/1-add-a-flag", now: f.now)
        try await f.runCurrent("1", PMStoreFixture.completed(summary: "done"))
        return f
    }

    @Test(
        "a done item with a branch joins the queue; moves are compare-and-set; landing records the range",
        arguments: DaemonStoreFactory.all)
    func landsThroughTheQueue(_ factory: DaemonStoreFactory) async throws {
        let f = try await Self.queued(factory)
        let store = f.store
        #expect(try await store.landingQueue().map(\.key) == ["1"])
        #expect(try await store.landingQueue().first?.landState == .queued)
        #expect(
            try await store.startableItems(parallel: 2).map(\.key) == ["2"], "a later item does not wait for an item in the queue"
        )
        #expect(try await !store.setLandState(key: "1", from: [.verifying], to: .landed, detail: nil, now: f.now))
        #expect(try await store.setLandState(key: "1", from: [.queued], to: .rebasing, detail: "rebasing", now: f.now))
        #expect(try await store.setLandState(key: "1", from: [.rebasing], to: .verifying, detail: nil, now: f.now))
        #expect(try await !store.recordLanded(key: "2", from: "a", to: "b", detail: nil, now: f.now), "item 2 is not verifying")
        #expect(try await store.recordLanded(key: "1", from: "aaa", to: "bbb", detail: "landed", now: f.clock.advance(by: 1)))
        let landed = try #require(try await store.lastLanded())
        #expect(landed.key == "1" && landed.landState == .landed && landed.landedFrom == "aaa" && landed.landedTo == "bbb")
        #expect(landed.landedAt == f.now && landed.mergeConflicts == [])
        #expect(try await store.landingQueue().isEmpty)
    }

    @Test(
        "a conflict files a merge task; its end queues the item again; past the attempts the item waits, and retry or skip decide",
        arguments: DaemonStoreFactory.all)
    func conflictThenDecision(_ factory: DaemonStoreFactory) async throws {
        let f = try await Self.queued(factory)
        let store = f.store
        let policy = LandingPolicy(maxMergeAttempts: 1)
        _ = try await store.setLandState(key: "1", from: [.queued], to: .rebasing, detail: nil, now: f.now)
        let merge = try #require(
            try await store.recordConflict(key: "1", conflict: Self.conflict, progressed: false, policy: policy, now: f.now).value
        )
        #expect(merge.phase == PipelinePlan.mergePhase && merge.taskType == .impl && merge.status == .pending)
        var item = try await f.item("1")
        #expect(item.landState == .conflict && item.landAttempts == 1 && item.currentTaskID == merge.id)
        #expect(item.mergeConflicts == ["Sources/a.swift"] && item.landConflictBase == Self.conflict.baseHead)
        #expect(item.iteration == 1, "a merge attempt is not a fix iteration")
        #expect(
            try await store.recordConflict(key: "1", conflict: Self.conflict, progressed: false, policy: policy, now: f.now)
                .value == nil, "only a rebasing item records a conflict")

        try await f.runCurrent("1", PMStoreFixture.completed())
        item = try await f.item("1")
        #expect(item.landState == .queued && item.landDetail?.contains("completed; rebasing again") == true)

        // The second conflict uses up the attempts: the item waits for an operator.
        _ = try await store.setLandState(key: "1", from: [.queued], to: .rebasing, detail: nil, now: f.now)
        #expect(
            try await store.recordConflict(key: "1", conflict: Self.conflict, progressed: false, policy: policy, now: f.now)
                .value == nil)
        #expect(try await f.item("1").landState == .waiting)
        let skipped = try await store.decideLanding(key: "1", decision: .skip, now: f.now)
        #expect(skipped.landState == .skipped)
        let error = await storeError { try await store.decideLanding(key: "1", decision: .skip, now: f.now) }
        #expect(error?.code == .illegalTransition)
        #expect(await storeError { try await store.decideLanding(key: "9", decision: .retry, now: f.now) }?.code == .notFound)
        let retried = try await store.decideLanding(key: "1", decision: .retry, now: f.now)
        #expect(retried.landState == .queued && retried.landAttempts == 0 && retried.landConflictBase == nil)
    }

    @Test(
        "a verify failure after rebasing: back to impl with the feedback, or waiting past max_iterations",
        arguments: DaemonStoreFactory.all)
    func verifyFailure(_ factory: DaemonStoreFactory) async throws {
        let f = try await Self.queued(factory, maxIterations: 2)
        let store = f.store
        _ = try await store.setLandState(key: "1", from: [.queued], to: .verifying, detail: nil, now: f.now)
        let fix = try #require(try await store.recordVerifyFailure(key: "1", feedback: "1 test failed", now: f.now).value)
        #expect(fix.phase == "impl" && fix.iteration == 2 && fix.direction.contains("1 test failed"))
        var item = try await f.item("1")
        #expect(item.state == .active && item.landState == nil && item.currentTaskID == fix.id)
        #expect(try await store.recordVerifyFailure(key: "1", feedback: "again", now: f.now).value == nil, "not verifying")

        try await f.runCurrent("1", PMStoreFixture.completed())
        #expect(try await f.item("1").landState == .queued, "the fixed item rejoins the queue")
        _ = try await store.setLandState(key: "1", from: [.queued], to: .verifying, detail: nil, now: f.now)
        #expect(try await store.recordVerifyFailure(key: "1", feedback: "still failing", now: f.now).value == nil)
        item = try await f.item("1")
        #expect(item.landState == .waiting && item.landDetail?.contains("still failing") == true)
    }

    @Test("merge previews are stored; a stop's rebasing and verifying items are queued again", arguments: DaemonStoreFactory.all)
    func previewAndInterrupted(_ factory: DaemonStoreFactory) async throws {
        let f = try await Self.queued(factory)
        let store = f.store
        try await store.recordMergePreview(key: "1", conflicts: ["a.swift", "b.swift"], checked: "feedbeef")
        var item = try await f.item("1")
        #expect(item.mergeConflicts == ["a.swift", "b.swift"] && item.mergeChecked == "feedbeef")
        #expect(try await store.requeueInterruptedLandings(now: f.now).isEmpty)
        _ = try await store.setLandState(key: "1", from: [.queued], to: .rebasing, detail: nil, now: f.now)
        #expect(try await store.requeueInterruptedLandings(now: f.now) == ["1"])
        item = try await f.item("1")
        #expect(item.landState == .queued && item.landDetail == "interrupted by a stop; queued again")
    }
}
