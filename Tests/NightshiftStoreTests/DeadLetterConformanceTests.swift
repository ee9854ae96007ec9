import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// The dead-letter queue: which tasks are in it, its stats and pages, reprocessing (the retry
/// transition recorded as `reprocessed`), dry runs, refusals, and cleanup by age.
@Suite("TaskStore conformance: dead-letter queue")
struct DeadLetterConformanceTests {
    /// A task that ran once and failed for good with `errorClass`, one second after the last step.
    @discardableResult
    static func failed(
        _ f: StoreFixture, _ errorClass: ErrorClass = .exitCode, direction: String = "fails", dependsOn: [String] = []
    ) async throws -> AgentTask {
        f.clock.advance(by: 1)
        let t = try await f.create(
            .make(
                direction: direction, priority: TaskValidation.priorityRange.upperBound, maxAttempts: 1, dependsOn: dependsOn,
                now: f.now))
        let claimed = try #require(try await f.claimOne())
        try #require(claimed.id == t.id)
        f.clock.advance(by: 1)
        return try await f.finish(t.id, .failed(errorClass: errorClass, error: "\(errorClass) of \(direction)", retryDelay: nil))
    }

    /// B (exit_code), C (timeout), D (exit_code) are dead letters; a completed task, a pending
    /// one and a failure that a child task followed up are not.
    struct Queue {
        var b: AgentTask
        var c: AgentTask
        var d: AgentTask
        var followedUp: AgentTask
        var child: AgentTask
        var completed: AgentTask
    }

    static func queue(_ f: StoreFixture) async throws -> Queue {
        let completed = try await f.task(in: .completed)
        let b = try await failed(f, .exitCode, direction: "b")
        let c = try await failed(f, .timeout, direction: "c")
        let d = try await failed(f, .exitCode, direction: "d")
        let followedUp = try await failed(f, .reviewFailed, direction: "e")
        let child = try await f.create(.make(direction: "fix e", parentID: followedUp.id, now: f.now))
        return Queue(b: b, c: c, d: d, followedUp: followedUp, child: child, completed: completed)
    }

    @Test(
        "the queue is the failed tasks nothing followed up; stats group them, pages go newest first",
        arguments: TaskStoreFactory.all)
    func queueAndStats(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let empty = try await f.store.deadLetterStats()
        #expect(empty == DeadLetterStats(), "an empty queue has no groups and no times")
        let q = try await Self.queue(f)

        let stats = try await f.store.deadLetterStats()
        #expect(stats.total == 3)
        #expect(stats.oldestFailedAt == q.b.finishedAt)
        #expect(stats.newestFailedAt == q.d.finishedAt)
        #expect(stats.byErrorClass.map(\.key) == ["exit_code", "timeout"])
        #expect(stats.byErrorClass.map(\.count) == [2, 1])
        #expect(stats.byErrorClass[0].lastTaskID == q.d.id, "each group names its newest failure")
        #expect(stats.byErrorClass[0].lastError == "exit_code of d")
        #expect(stats.byErrorClass[0].lastFailedAt == q.d.finishedAt)
        #expect(
            stats.byPhase.map(\.key) == [nil] && stats.byPhase.map(\.count) == [3], "no pipeline tasks: one group without a phase"
        )
        #expect(stats.byItem.map(\.key) == [nil] && stats.byItem.map(\.count) == [3])
        #expect(
            stats.byRun?.map(\.key) == [nil] && stats.byRun?.map(\.count) == [3],
            "tasks from before runs: one group without a run")

        let all = try await f.store.deadLetters(errorClass: nil, limit: 10, offset: 0)
        #expect(all.entries.map(\.id) == [q.d.id, q.c.id, q.b.id])
        #expect(all.total == 3)
        #expect(all.entries[0] == DeadLetterEntry(q.d))
        #expect(all.entries[0].failedAt == q.d.finishedAt && all.entries[0].errorClass == "exit_code")
        let exitCode = try await f.store.deadLetters(errorClass: "exit_code", limit: 10, offset: 0)
        #expect(exitCode.entries.map(\.id) == [q.d.id, q.b.id])
        #expect(exitCode.total == 2)
        let second = try await f.store.deadLetters(errorClass: nil, limit: 1, offset: 1)
        #expect(second.entries.map(\.id) == [q.c.id])
        #expect(second.total == 3)
        #expect(try await f.store.deadLetters(errorClass: "no_such_class", limit: 10, offset: 0).total == 0)
    }

    @Test(
        "reprocess sends a dead letter back to pending with fresh attempts and records who, why and the failure",
        arguments: TaskStoreFactory.all)
    func reprocessByID(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let q = try await Self.queue(f)
        f.clock.advance(by: 5)
        let changes = try await f.store.reprocess(.ids([q.b.id]), reason: "flaky network", dryRun: false, by: "api", now: f.now)
        #expect(changes.value.dryRun == false)
        #expect(changes.value.tasks == [DeadLetterEntry(q.b)], "the result shows the task as it was in the queue")
        #expect(changes.value.skipped.isEmpty && changes.value.resumedItems.isEmpty)

        let after = try await f.store.get(q.b.id)
        #expect(after.status == .pending)
        #expect(after.attempt == 0, "fresh attempts")
        #expect(after.notBefore == nil && after.claimedBy == nil && after.finishedAt == nil)
        #expect(after.updatedAt == f.now)

        #expect(changes.entries.count == 1, "one event, returned for the ledger to announce")
        let event = try #require(changes.entries.first?.event)
        #expect(changes.entries.first?.task == after)
        #expect(event.kind == .reprocessed)
        #expect(event.fromStatus == .failed && event.toStatus == .pending)
        #expect(event.attempt == 0)
        #expect(event.at == f.now)
        #expect(event.detail["by"] == .string("api"))
        #expect(event.detail["reason"] == .string("flaky network"))
        #expect(event.detail["error_class"] == .string("exit_code"))
        #expect(event.detail["error"] == .string("exit_code of b"))
        #expect(event.detail["attempts_used"] == .number(1))
        #expect(try await f.store.events(taskID: q.b.id).last == event, "the event is in the task's history")

        #expect(try await f.store.deadLetterStats().total == 2)
        #expect(try await f.claimOne()?.id == q.b.id, "the runner can claim it again")
    }

    @Test(
        "a selection by error class or all takes every matching dead letter in one transaction", arguments: TaskStoreFactory.all)
    func reprocessByClassAndAll(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let q = try await Self.queue(f)
        let timeouts = try await f.store.reprocess(.errorClass("timeout"), reason: nil, dryRun: false, by: "api", now: f.now)
        #expect(timeouts.value.tasks.map(\.id) == [q.c.id])
        #expect(timeouts.entries.first?.event.detail["reason"] == nil, "no reason given, none recorded")
        let rest = try await f.store.reprocess(.all, reason: "all of them", dryRun: false, by: "chat:7", now: f.now)
        #expect(rest.value.tasks.map(\.id) == [q.b.id, q.d.id], "oldest failure first")
        #expect(rest.entries.map(\.event.kind) == [.reprocessed, .reprocessed])
        #expect(rest.entries.allSatisfy { $0.event.detail["by"] == .string("chat:7") })
        #expect(try await f.store.deadLetterStats().total == 0)
        #expect(try await f.store.get(q.followedUp.id).status == .failed, "a followed-up failure is not in the queue")
        let nothing = try await f.store.reprocess(.all, reason: nil, dryRun: false, by: "api", now: f.now)
        #expect(nothing.value.tasks.isEmpty && nothing.entries.isEmpty)
    }

    @Test("a dry run returns what would happen and changes nothing", arguments: TaskStoreFactory.all)
    func dryRun(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let q = try await Self.queue(f)
        let ids = [q.b.id, q.c.id, q.d.id, q.followedUp.id, q.child.id, q.completed.id]
        let before = try await ids.asyncMap { try await f.store.get($0) }
        let lastEvent = try await f.store.lastEventID()
        let stats = try await f.store.deadLetterStats()
        f.clock.advance(by: 5)
        for (selection, expected) in [
            (DeadLetterSelection.ids([q.c.id, q.b.id]), [q.c.id, q.b.id]), (.all, [q.b.id, q.c.id, q.d.id]),
            (.errorClass("exit_code"), [q.b.id, q.d.id]),
        ] {
            let r = try await f.store.reprocess(selection, reason: "just looking", dryRun: true, by: "api", now: f.now)
            #expect(r.value.dryRun)
            #expect(r.value.tasks.map(\.id) == expected, "\(selection)")
            #expect(r.entries.isEmpty, "no events")
        }
        #expect(try await ids.asyncMap { try await f.store.get($0) } == before)
        #expect(try await f.store.lastEventID() == lastEvent)
        #expect(try await f.store.deadLetterStats() == stats)
        #expect(try await f.claimOne()?.id == q.child.id, "only the task that was pending already is runnable")
    }

    @Test(
        "an id that is unknown or not a dead letter refuses the whole request; nothing changes", arguments: TaskStoreFactory.all)
    func refusals(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let q = try await Self.queue(f)
        let pending = try await f.task(in: .pending)
        let lastEvent = try await f.store.lastEventID()
        for (ids, code) in [
            ([q.b.id, "task_00000000deadbeef"], StoreError.Code.notFound), ([q.b.id, q.completed.id], .illegalTransition),
            ([pending.id], .illegalTransition), ([q.followedUp.id], .illegalTransition),
        ] {
            for dryRun in [false, true] {
                let error = await storeError {
                    try await f.store.reprocess(.ids(ids), reason: nil, dryRun: dryRun, by: "api", now: f.now)
                }
                #expect(error?.code == code, "\(ids) dry run \(dryRun): \(String(describing: error))")
            }
        }
        let followed = await storeError {
            try await f.store.reprocess(.ids([q.followedUp.id]), reason: nil, dryRun: false, by: "api", now: f.now)
        }
        #expect(followed?.message.contains(q.child.id) == true, "the refusal names the task that followed it up")
        #expect(try await f.store.get(q.b.id) == q.b, "the valid id in a refused request is untouched")
        #expect(try await f.store.lastEventID() == lastEvent)
        #expect(try await f.store.deadLetterStats().total == 3)
    }

    @Test(
        "cleanup deletes dead letters older than the cutoff, keeps what open tasks depend on; a dry run deletes nothing",
        arguments: TaskStoreFactory.all)
    func cleanup(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let q = try await Self.queue(f)
        let needed = try await Self.failed(f, .timeout, direction: "needed")
        let waiting = try await f.create(.make(direction: "waits for needed", dependsOn: [needed.id], now: f.now))
        let cutoff = f.now.addingTimeInterval(1)
        f.clock.advance(by: 30 * 86400)
        let young = try await Self.failed(f, .exitCode, direction: "young")

        let look = try await f.store.deleteDeadLetters(failedBefore: cutoff, limit: nil, dryRun: true)
        #expect(look.deleted.map(\.id) == [q.b.id, q.c.id, q.d.id], "oldest first; not the young one, not what is needed")
        #expect(look.kept.map(\.id) == [needed.id])
        #expect(look.kept.first?.reason.contains(waiting.id) == true, "the kept one names the task that needs it")
        for t in [q.b, q.c, q.d, needed] { #expect(try await f.store.get(t.id) == t, "a dry run deletes nothing") }

        let first = try await f.store.deleteDeadLetters(failedBefore: cutoff, limit: 2, dryRun: false)
        #expect(first.deleted.map(\.id) == [q.b.id, q.c.id], "at most the limit")
        let rest = try await f.store.deleteDeadLetters(failedBefore: cutoff, limit: 2, dryRun: false)
        #expect(rest.deleted.map(\.id) == [q.d.id])
        for t in [q.b, q.c, q.d] {
            #expect(await storeError { try await f.store.get(t.id) }?.code == .notFound)
            #expect(await storeError { try await f.store.events(taskID: t.id) }?.code == .notFound)
        }
        for t in [needed, young, q.followedUp, q.child, q.completed, waiting] {
            #expect(try await f.store.get(t.id).status == t.status, "\(t.direction) stays")
        }
        #expect(try await f.store.deadLetterStats().total == 2)
        #expect(try await f.store.deleteDeadLetters(failedBefore: cutoff, limit: 2, dryRun: false).deleted.isEmpty)
    }
}
