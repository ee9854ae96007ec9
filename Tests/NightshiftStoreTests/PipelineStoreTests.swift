import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// The pipeline half of the store (SQLite and PostgreSQL): backlog import, starting items, and the hand-off that
/// creates the next phase's task in the same transaction that records the end of the last one.
@Suite("PipelineStore")
struct PipelineStoreTests {
    static let threeItems = "1. Add a --json flag\n2. Retry webhooks\n3. Reject repeated keys\n"

    // MARK: Import

    @Test("importing the same backlog twice adds nothing the second time", arguments: DaemonStoreFactory.all)
    func importIsIdempotent(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        let first = try await f.importBacklog(Self.threeItems)
        #expect(first.added == ["1", "2", "3"])
        #expect(first.updated.isEmpty && first.unchanged == 0)
        let second = try await f.importBacklog(Self.threeItems)
        #expect(second.added.isEmpty && second.updated.isEmpty)
        #expect(second.unchanged == 3)
        let items = try await f.store.items()
        #expect(items.map(\.key) == ["1", "2", "3"])
        #expect(items.allSatisfy { $0.state == .queued && $0.iteration == 0 && $0.currentTaskID == nil })
        #expect(items.map(\.slug) == ["1-add-a-json-flag", "2-retry-webhooks", "3-reject-repeated-keys"])
    }

    @Test("editing a queued item updates its text; appending adds exactly one item", arguments: DaemonStoreFactory.all)
    func editAndAppend(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let edited = try await f.importBacklog(
            "1. Add a --json flag\n2. Retry webhooks up to 3 times\n   with backoff\n3. Reject repeated keys\n")
        #expect(edited.updated == ["2"])
        #expect(edited.added.isEmpty)
        #expect(edited.unchanged == 2)
        let two = try await f.item("2")
        #expect(two.title == "Retry webhooks up to 3 times")
        #expect(two.body == "Retry webhooks up to 3 times\nwith backoff")
        #expect(two.slug == "2-retry-webhooks", "the slug (and so the branch) keeps the identity of the first import")

        let appended = try await f.importBacklog(Self.threeItems + "4. Write the runbook (after: 1)\n")
        #expect(appended.added == ["4"])
        #expect(appended.updated == ["2"], "item 2's text follows the file back")
        let items = try await f.store.items()
        #expect(items.map(\.key) == ["1", "2", "3", "4"])
        #expect(items.last?.after == ["1"])
        #expect(items.last?.position == 3)
    }

    @Test(
        "a started item keeps its text when the file changes; removing an item from the file deletes nothing",
        arguments: DaemonStoreFactory.all)
    func startedItemKeepsText(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let task = try #require(try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value)
        let summary = try await f.importBacklog("1. Something else entirely\n3. Reject repeated keys\n")
        #expect(summary.updated == ["3"], "only item 3's position moved")
        #expect(summary.added.isEmpty)
        let one = try await f.item("1")
        #expect(one.title == "Add a --json flag")
        #expect(one.state == .active)
        #expect(one.currentTaskID == task.id)
        #expect(try await f.store.items().count == 3)
    }

    @Test("items with the same slug get distinct ones (branch names never collide)", arguments: DaemonStoreFactory.all)
    func slugCollision(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        let entries = try BacklogParser.parseDirectory([("a b.md", "# Same"), ("ab.md", "# Same")], directory: "/b")
        _ = try await f.store.importBacklog(entries, now: f.now)
        let slugs = try await f.store.items().map(\.slug)
        #expect(slugs == ["ab-same", "ab-same-2"])
    }

    // MARK: Starting items

    @Test("startableItems: backlog order, at most `parallel` active, `after` waits for done", arguments: DaemonStoreFactory.all)
    func startable(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog("1. one\n2. two (after: 1)\n3. three\n4. four\n")
        #expect(try await f.store.startableItems(parallel: 2).map(\.key) == ["1", "3"])
        #expect(try await f.store.startableItems(parallel: 10).map(\.key) == ["1", "3", "4"])
        #expect(try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value != nil)
        #expect(try await f.store.startableItems(parallel: 2).map(\.key) == ["3"])
        #expect(try await f.store.startItem(key: "3", parallel: 2, workdir: nil, branch: nil, now: f.now).value != nil)
        #expect(try await f.store.startableItems(parallel: 2).isEmpty)
        #expect(
            try await f.store.startItem(key: "4", parallel: 2, workdir: nil, branch: nil, now: f.now).value == nil, "no slot left"
        )
        #expect(
            try await f.store.startItem(key: "2", parallel: 5, workdir: nil, branch: nil, now: f.now).value == nil,
            "item 1 is not done")

        for _ in 0..<4 { try await f.runCurrent("1") }
        #expect(try await f.item("1").state == .done)
        #expect(try await f.store.startableItems(parallel: 2).map(\.key) == ["2"])
        #expect(try await f.store.startableItems(parallel: 3).map(\.key) == ["2", "4"])
    }

    @Test("startItem creates exactly one first-phase task and refuses a second start", arguments: DaemonStoreFactory.all)
    func startItemOnce(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let task = try #require(
            try await f.store.startItem(
                key: "2", parallel: 2, workdir: "/wt/2-retry-webhooks", branch: "nightshift/2-retry-webhooks", now: f.now
            ).value)
        #expect(task.status == .pending)
        #expect(task.taskType == .spec)
        #expect(task.phase == "spec")
        #expect(task.iteration == 1)
        #expect(task.backlogItem == "2")
        #expect(task.parentID == nil)
        #expect(task.maxAttempts == 3)
        #expect(task.direction.contains("Retry webhooks"))
        #expect(task.context["workdir"] == .string("/wt/2-retry-webhooks"))
        #expect(task.context["branch"] == .string("nightshift/2-retry-webhooks"))
        #expect(task.context["backlog_title"] == .string("Retry webhooks"))
        #expect(try await f.store.get(task.id) == task)

        let item = try await f.item("2")
        #expect(item.state == .active)
        #expect(item.phase == "spec")
        #expect(item.iteration == 1)
        #expect(item.currentTaskID == task.id)
        #expect(item.workdir == "/wt/2-retry-webhooks")
        #expect(item.branch == "nightshift/2-retry-webhooks")
        #expect(item.startedAt == f.now)

        #expect(try await f.store.startItem(key: "2", parallel: 2, workdir: nil, branch: nil, now: f.now).value == nil)
        #expect(try await f.store.startItem(key: "9", parallel: 2, workdir: nil, branch: nil, now: f.now).value == nil)
        #expect(try await f.tasks(of: "2").count == 1)
    }

    @Test("two concurrent starts of the same item: one wins, one task", arguments: DaemonStoreFactory.all)
    func concurrentStart(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let store = f.store
        let now = f.now
        let results = try await withThrowingTaskGroup(of: AgentTask?.self) { group in
            for _ in 0..<8 {
                group.addTask { try await store.startItem(key: "1", parallel: 8, workdir: nil, branch: nil, now: now).value }
            }
            var out: [AgentTask?] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(results.compactMap { $0 }.count == 1)
        #expect(try await f.tasks(of: "1").count == 1)
    }

    // MARK: Hand-off

    @Test("finishing a phase task creates the next phase's task in the same transaction", arguments: DaemonStoreFactory.all)
    func handOff(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let spec = try #require(try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value)
        let claimed = try await f.claimAll()
        #expect(claimed.map(\.id) == [spec.id])
        let finished = try await f.store.finish(
            id: spec.id, owner: PMStoreFixture.owner, outcome: PMStoreFixture.completed(summary: "SPEC-SUMMARY"),
            now: f.clock.advance(by: 1))
        #expect(finished.status == .completed)

        // The finish returned with the next task already in place.
        let item = try await f.item("1")
        let implID = try #require(item.currentTaskID)
        #expect(implID != spec.id)
        let impl = try await f.store.get(implID)
        #expect(impl.status == .pending)
        #expect(impl.phase == "impl" && impl.taskType == .impl)
        #expect(impl.iteration == 1)
        #expect(impl.parentID == spec.id)
        #expect(impl.backlogItem == "1")
        #expect(impl.createdAt == finished.finishedAt)
        #expect(impl.direction.contains("SPEC-SUMMARY"))
        #expect(item.phase == "impl")
        #expect(item.lastSummary == "SPEC-SUMMARY")

        // Through test and review to done, each task the child of the one before.
        try await f.runCurrent("1", PMStoreFixture.completed(summary: "impl done"))
        try await f.runCurrent("1")
        let review = try await f.runCurrent("1", PMStoreFixture.completed(summary: "LGTM"))
        let done = try await f.item("1")
        #expect(done.state == .done)
        #expect(done.finishedAt == review.finishedAt)
        #expect(done.currentTaskID == review.id)
        #expect(done.lastSummary == "LGTM")
        let tasks = try await f.tasks(of: "1")
        #expect(tasks.map { $0.phase ?? "" } == ["spec", "impl", "test", "review"])
        #expect(tasks.allSatisfy { $0.status == .completed && $0.iteration == 1 })
        #expect(zip(tasks.dropFirst(), tasks).allSatisfy { $0.parentID == $1.id })
        #expect(try await f.store.items().filter { $0.state != .queued }.map(\.key) == ["1"])
    }

    @Test("a finish by someone who does not hold the task changes nothing and creates nothing", arguments: DaemonStoreFactory.all)
    func lostClaimCreatesNothing(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let spec = try #require(try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value)
        _ = try await f.claimAll()
        await #expect(throws: StoreError.self) {
            _ = try await f.store.finish(id: spec.id, owner: "someone-else", outcome: PMStoreFixture.completed(), now: f.now)
        }
        #expect(try await f.tasks(of: "1").count == 1)
        #expect(try await f.item("1").currentTaskID == spec.id)
    }

    @Test("a failed attempt with attempts left is a retry, not a phase end: nothing advances", arguments: DaemonStoreFactory.all)
    func retryableFailureDoesNotAdvance(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let spec = try #require(try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value)
        let requeued = try await f.runCurrent(
            "1", AttemptOutcome(.failed(errorClass: "exit_code", error: "exit 1", retryDelay: 0)))
        #expect(requeued.status == .pending)
        #expect(try await f.tasks(of: "1").map(\.id) == [spec.id])
        #expect(try await f.item("1").state == .active)
        try await f.runCurrent("1")
        #expect(try await f.current("1").phase == "impl")
    }

    @Test("a failed review sends the item back to impl, iteration 2, with the feedback", arguments: DaemonStoreFactory.all)
    func failedReviewFixLoop(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory, maxIterations: 3)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value
        for _ in 0..<3 { try await f.runCurrent("1") }
        let review = try await f.runCurrent("1", PMStoreFixture.reviewFailed("the --json flag has no test"))
        #expect(review.status == .failed)
        #expect(review.verdict == "fail")
        let fix = try await f.current("1")
        #expect(fix.phase == "impl")
        #expect(fix.iteration == 2)
        #expect(fix.parentID == review.id)
        #expect(fix.direction.contains("review failed: the --json flag has no test"))
        let item = try await f.item("1")
        #expect(item.state == .active)
        #expect(item.iteration == 2)
        // The second round passes: the item is done after 4 + 3 tasks.
        for _ in 0..<3 { try await f.runCurrent("1") }
        #expect(try await f.item("1").state == .done)
        let tasks = try await f.tasks(of: "1")
        #expect(
            tasks.map { "\($0.phase ?? "")\($0.iteration ?? 0)" } == [
                "spec1", "impl1", "test1", "review1", "impl2", "test2", "review2",
            ])
    }

    @Test("max_iterations bounds the fix loop: the item is blocked with the reason", arguments: DaemonStoreFactory.all)
    func maxIterationsBlocks(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory, maxIterations: 2)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value
        try await f.runCurrent("1")
        try await f.runCurrent("1")
        try await f.runCurrent("1", PMStoreFixture.exitFailure(1, tail: "FAIL: testJSON"))
        #expect(try await f.current("1").iteration == 2)
        try await f.runCurrent("1")
        let last = try await f.runCurrent("1", PMStoreFixture.exitFailure(1, tail: "FAIL: testJSON again"))
        let item = try await f.item("1")
        #expect(item.state == .blocked)
        #expect(item.currentTaskID == last.id)
        let reason = try #require(item.blockedReason)
        #expect(reason.contains("still failing after 2 iterations"))
        #expect(reason.contains("test task \(last.id)"))
        #expect(item.finishedAt == last.finishedAt)
        #expect(try await f.tasks(of: "1").count == 5)
        #expect(try await f.store.list(TaskQuery(statuses: [.pending, .running], limit: 100)).total == 0)
        // A blocked item frees its slot.
        #expect(try await f.store.startableItems(parallel: 1).map(\.key) == ["2"])
    }

    @Test("a failed spec blocks the item at once", arguments: DaemonStoreFactory.all)
    func failedSpecBlocks(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value
        let spec = try await f.runCurrent("1", PMStoreFixture.exitFailure(2))
        let item = try await f.item("1")
        #expect(item.state == .blocked)
        #expect(item.blockedReason == "spec failed (task \(spec.id), exit_code): agent exited with code 2")
    }

    // MARK: Pause and window

    @Test(
        "paused: a phase end creates no next task; after resume, reconcileItems creates it exactly once",
        arguments: DaemonStoreFactory.all)
    func pauseThenReconcile(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value
        try await f.store.setPipelineValue(PipelineKeys.paused, "1")
        #expect(try await f.store.pipelineValue(PipelineKeys.paused) == "1")
        let spec = try await f.runCurrent("1", PMStoreFixture.completed(summary: "paused summary"))
        #expect(try await f.tasks(of: "1").map(\.id) == [spec.id])
        let waiting = try await f.item("1")
        #expect(waiting.state == .active)
        #expect(waiting.currentTaskID == spec.id)
        #expect(waiting.lastSummary == "paused summary")
        #expect(
            try await f.store.startItem(key: "2", parallel: 2, workdir: nil, branch: nil, now: f.now).value == nil,
            "no new item while paused")
        #expect(try await f.store.reconcileItems(now: f.now).value.isEmpty, "still paused")

        try await f.store.setPipelineValue(PipelineKeys.paused, nil)
        #expect(try await f.store.pipelineValue(PipelineKeys.paused) == nil)
        let created = try await f.store.reconcileItems(now: f.clock.advance(by: 1)).value
        #expect(created.count == 1)
        let impl = try #require(created.first)
        #expect(impl.phase == "impl")
        #expect(impl.parentID == spec.id)
        #expect(impl.direction.contains("paused summary"))
        #expect(try await f.item("1").currentTaskID == impl.id)
        #expect(try await f.store.reconcileItems(now: f.clock.advance(by: 1)).value.isEmpty)
        #expect(try await f.tasks(of: "1").count == 2)
    }

    @Test(
        "window closed: no next task and no new item; reopening it lets reconcileItems create the task once",
        arguments: DaemonStoreFactory.all)
    func windowClosed(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        try await f.store.setPipelineValue(PipelineKeys.windowEndsAt, "\(f.now.addingTimeInterval(10).timeIntervalSince1970)")
        _ = try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value
        _ = try await f.claimAll()
        f.clock.advance(by: 60)  // the running task outlives the window
        let spec = try await f.store.finish(
            id: try await f.current("1").id, owner: PMStoreFixture.owner, outcome: PMStoreFixture.completed(), now: f.now)
        #expect(spec.status == .completed, "a running task still finishes after the window")
        #expect(try await f.tasks(of: "1").count == 1)
        #expect(try await f.store.startItem(key: "2", parallel: 2, workdir: nil, branch: nil, now: f.now).value == nil)
        #expect(try await f.store.reconcileItems(now: f.now).value.isEmpty)

        try await f.store.setPipelineValue(PipelineKeys.windowEndsAt, "\(f.now.addingTimeInterval(3600).timeIntervalSince1970)")
        let created = try await f.store.reconcileItems(now: f.now).value
        #expect(created.map(\.phase) == ["impl"])
        #expect(try await f.store.reconcileItems(now: f.now).value.isEmpty)
        #expect(try await f.tasks(of: "1").count == 2)
    }

    @Test("blocking steps still apply while paused (a cancel blocks the item)", arguments: DaemonStoreFactory.all)
    func pausedCancelStillBlocks(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let spec = try #require(try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value)
        try await f.store.setPipelineValue(PipelineKeys.paused, "1")
        _ = try await f.store.cancel(id: spec.id, reason: "operator", now: f.now)
        #expect(try await f.item("1").state == .blocked)
    }

    // MARK: Operator actions

    @Test("cancelling an item's task blocks the item with the reason", arguments: DaemonStoreFactory.all)
    func cancelBlocks(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value
        try await f.runCurrent("1")
        let impl = try await f.current("1")
        let (_, after) = try await f.store.cancel(id: impl.id, reason: "not needed", now: f.clock.advance(by: 1))
        #expect(after.status == .cancelled)
        let item = try await f.item("1")
        #expect(item.state == .blocked)
        #expect(item.blockedReason == "task \(impl.id) (impl) was cancelled by an operator")
        #expect(try await f.tasks(of: "1").count == 2)
        #expect(try await f.store.reconcileItems(now: f.now).value.isEmpty)
    }

    @Test(
        "retrying the failed task of a blocked item makes it active again, and it goes on from there",
        arguments: DaemonStoreFactory.all)
    func retryUnblocks(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value
        let spec = try await f.runCurrent("1", PMStoreFixture.exitFailure(1))
        #expect(try await f.item("1").state == .blocked)

        let retried = try await f.store.retry(id: spec.id, now: f.clock.advance(by: 1))
        #expect(retried.status == .pending)
        let item = try await f.item("1")
        #expect(item.state == .active)
        #expect(item.blockedReason == nil)
        #expect(item.finishedAt == nil)
        #expect(item.currentTaskID == spec.id)
        try await f.runCurrent("1")
        #expect(try await f.current("1").phase == "impl")
        #expect(try await f.tasks(of: "1").count == 2)
    }

    @Test(
        "retrying an old failed review of an item that moved on neither unblocks nor forks it", arguments: DaemonStoreFactory.all)
    func retryOfSupersededTask(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value
        for _ in 0..<3 { try await f.runCurrent("1") }
        let review = try await f.runCurrent("1", PMStoreFixture.reviewFailed("no"))
        let fix = try await f.current("1")
        // The fix task is open, so a second open task for the item is refused.
        await #expect(throws: StoreError.self) { _ = try await f.store.retry(id: review.id, now: f.now) }
        #expect(try await f.store.get(review.id).status == .failed)
        #expect(try await f.current("1").id == fix.id)
    }

    @Test("a decision timeout blocks the item with that reason", arguments: DaemonStoreFactory.all)
    func decisionTimeoutBlocks(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value
        let asked = try await f.runCurrent("1", AttemptOutcome(.needsDecision(prompt: "which API?")))
        #expect(asked.status == .needsDecision)
        #expect(try await f.item("1").state == .active, "waiting for a decision is not an end")
        #expect(try await f.store.reconcileItems(now: f.now).value.isEmpty)
        let expired = try await f.store.expireDecisions(askedBefore: f.clock.advance(by: 100), now: f.now)
        #expect(expired.map(\.id) == [asked.id])
        let item = try await f.item("1")
        #expect(item.state == .blocked)
        #expect(item.blockedReason == "no decision arrived for task \(asked.id) within the decision timeout")
    }

    @Test("a decision resumes the same task, and its completion advances the item", arguments: DaemonStoreFactory.all)
    func decisionResumes(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        _ = try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value
        let asked = try await f.runCurrent("1", AttemptOutcome(.needsDecision(prompt: "which API?")))
        _ = try await f.store.decide(id: asked.id, decision: "the v2 one", now: f.clock.advance(by: 1))
        let done = try await f.runCurrent("1")
        #expect(done.id == asked.id)
        #expect(done.decision == "the v2 one")
        #expect(try await f.current("1").phase == "impl")
    }

    // MARK: Invariant

    @Test("the unique index: a second open task for the same item is rejected", arguments: DaemonStoreFactory.all)
    func oneOpenTaskPerItem(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog(Self.threeItems)
        let spec = try #require(try await f.store.startItem(key: "1", parallel: 2, workdir: nil, branch: nil, now: f.now).value)
        await #expect(throws: StoreError.self) {
            _ = try await f.store.create(AgentTask.make(type: .impl, backlogItem: "1", phase: "impl", iteration: 1, now: f.now))
        }
        do {
            _ = try await f.store.create(AgentTask.make(type: .impl, backlogItem: "1", phase: "impl", iteration: 1, now: f.now))
        } catch let error as StoreError {
            #expect(error.code == .duplicate)
        }
        #expect(try await f.tasks(of: "1").map(\.id) == [spec.id])
        // The index covers open tasks only: once the item's task has ended, it no longer counts.
        try await f.store.setPipelineValue(PipelineKeys.paused, "1")
        try await f.runCurrent("1")
        let extra = try await f.store.create(
            AgentTask.make(type: .impl, backlogItem: "1", phase: "impl", iteration: 1, now: f.now))
        #expect(extra.backlogItem == "1")
    }

    @Test("a store opened without a pipeline hook refuses to start items", arguments: DaemonStoreFactory.all)
    func noHook(_ factory: DaemonStoreFactory) async throws {
        let (db, store) = try await factory.store()
        defer { withExtendedLifetime(db) {} }
        _ = try await store.importBacklog(try BacklogParser.parseNumbered("1. a", file: "b"), now: Date())
        await #expect(throws: StoreError.self) {
            _ = try await store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: Date()).value
        }
        #expect(try await store.reconcileItems(now: Date()).value.isEmpty)
    }

    // MARK: What a pass reads

    /// The kept counts next to a count of the items themselves.
    static func expectCountsKept(_ f: PMStoreFixture, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var truth = Dictionary(uniqueKeysWithValues: ItemState.allCases.map { ($0, 0) })
        for item in try await f.store.items() { truth[item.state, default: 0] += 1 }
        #expect(try await f.store.overview(blockedLimit: nil).counts == truth, sourceLocation: sourceLocation)
    }

    @Test("the kept counts follow every move: import, start, hand-off, done, blocked, retried", arguments: DaemonStoreFactory.all)
    func keptCounts(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await Self.expectCountsKept(f)
        try await f.importBacklog(Self.threeItems)
        try await Self.expectCountsKept(f)
        _ = try await f.store.startItem(key: "1", parallel: 3, workdir: nil, branch: nil, now: f.now).value
        _ = try await f.store.startItem(key: "2", parallel: 3, workdir: nil, branch: nil, now: f.now).value
        try await Self.expectCountsKept(f)
        for _ in 0..<4 { try await f.runCurrent("1") }
        try await Self.expectCountsKept(f)
        let spec = try await f.runCurrent("2", PMStoreFixture.exitFailure(1))
        try await Self.expectCountsKept(f)
        _ = try await f.store.retry(id: spec.id, now: f.clock.advance(by: 1))
        try await Self.expectCountsKept(f)
        try await f.importBacklog(Self.threeItems + "4. Four\n")
        try await Self.expectCountsKept(f)
        #expect(try await f.store.overview(blockedLimit: nil).counts == [.queued: 2, .active: 1, .done: 1, .blocked: 0])
    }

    @Test(
        "overview: active items in backlog order with their task's status, the first blocked ones, pause and window",
        arguments: DaemonStoreFactory.all)
    func overview(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog("1. one\n2. two\n3. three\n4. four\n5. five\n")
        for key in ["1", "2", "3", "4"] {
            _ = try await f.store.startItem(key: key, parallel: 5, workdir: nil, branch: nil, now: f.now).value
        }
        for key in ["1", "3", "4"] { try await f.runCurrent(key, PMStoreFixture.exitFailure(1)) }
        _ = try await f.claimAll()
        try await f.store.setPipelineValue(PipelineKeys.paused, "1")
        try await f.store.setPipelineValue(PipelineKeys.windowEndsAt, "1000")

        let o = try await f.store.overview(blockedLimit: 2)
        #expect(o.active.map(\.key) == ["2"])
        #expect(o.taskStatus == ["2": .running])
        #expect(o.blocked.map(\.key) == ["1", "3"])
        #expect(o.counts[.blocked] == 3)
        #expect(o.paused)
        #expect(o.windowEndsAt == Date(timeIntervalSince1970: 1000))
        #expect(try await f.store.overview(blockedLimit: nil).blocked.map(\.key) == ["1", "3", "4"])
        #expect(try await f.store.items(keys: ["4", "9", "1"]).map(\.key) == ["1", "4"])
    }

    @Test(
        "startableItems reads from the front of the queue: 5,000 queued items, the first free ones come back",
        arguments: DaemonStoreFactory.all)
    func startableAtScale(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory, phases: ["impl"])
        // Items 2 and 3 wait for item 1; the rest are free.
        var text = "1. one\n2. two (after: 1)\n3. three (after: 1)\n"
        for n in 4...5000 { text += "\(n). item \(n)\n" }
        try await f.importBacklog(text)
        #expect(try await f.store.startableItems(parallel: 4).map(\.key) == ["1", "4", "5", "6"])
        _ = try await f.store.startItem(key: "1", parallel: 4, workdir: nil, branch: nil, now: f.now).value
        #expect(try await f.store.startableItems(parallel: 4).map(\.key) == ["4", "5", "6"])
        #expect(
            try await f.store.startItem(key: "7", parallel: 4, workdir: nil, branch: nil, now: f.now).value == nil,
            "not among the first free ones")
    }

    @Test(
        "finishedItems: done items with a worktree that finished in the window asked for, oldest first",
        arguments: DaemonStoreFactory.all)
    func finishedItems(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory, phases: ["impl"])
        try await f.importBacklog(Self.threeItems)
        for key in ["1", "2", "3"] {
            _ = try await f.store.startItem(
                key: key, parallel: 3, workdir: key == "2" ? nil : "/wt/\(key)", branch: nil, now: f.now)
        }
        try await f.runCurrent("3")
        let middle = f.clock.advance(by: 10)
        try await f.runCurrent("1")
        try await f.runCurrent("2")
        let end = f.clock.advance(by: 1)
        #expect(try await f.store.finishedItems(since: nil, before: end).map(\.key) == ["3", "1"])
        #expect(try await f.store.finishedItems(since: middle, before: end).map(\.key) == ["1"])
        #expect(try await f.store.finishedItems(since: nil, before: middle).map(\.key) == ["3"])
    }
}
