import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@Suite("TaskStore conformance: finish")
struct FinishConformanceTests {
    @Test("completed records the outcome and ends the lease", arguments: TaskStoreFactory.all)
    func completed(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(type: .review, now: f.now))
        let claimed = try #require(try await f.claimOne())
        f.clock.advance(by: 12)
        let outcome = AttemptOutcome(
            .completed, exitCode: 0, outputTail: "all good", summary: "reviewed", verdict: "pass", feedback: "nice",
            costUSD: 0.5, tokensIn: 1000, tokensOut: 250)
        let done = try await f.store.finish(id: t.id, owner: StoreFixture.owner, outcome: outcome, now: f.now)
        #expect(done.status == .completed)
        #expect(done.exitCode == 0)
        #expect(done.outputTail == "all good")
        #expect(done.summary == "reviewed")
        #expect(done.verdict == "pass")
        #expect(done.feedback == "nice")
        #expect(done.costUSD == 0.5)
        #expect(done.tokensIn == 1000)
        #expect(done.tokensOut == 250)
        #expect(done.finishedAt == f.now)
        #expect(done.updatedAt == f.now)
        #expect(done.startedAt == claimed.startedAt)
        #expect(done.durationSeconds == 12)
        #expect(done.leaseExpiresAt == nil)
        #expect(done.attempt == 1)
        #expect(done.error == nil && done.errorClass == nil)
        #expect(try await f.store.get(t.id) == done)
    }

    @Test("a failure with attempts left and a retry delay goes back to pending with backoff", arguments: TaskStoreFactory.all)
    func failedRequeued(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(maxAttempts: 3, now: f.now))
        _ = try #require(try await f.claimOne())
        f.clock.advance(by: 4)
        let requeued = try await f.store.finish(
            id: t.id, owner: StoreFixture.owner,
            outcome: AttemptOutcome(.failed(errorClass: "agent_error", error: "exit 2", retryDelay: 20), exitCode: 2), now: f.now)
        #expect(requeued.status == .pending)
        #expect(requeued.notBefore == f.now.addingTimeInterval(20))
        #expect(requeued.attempt == 1, "the attempt count is kept; the next claim adds one")
        #expect(requeued.error == "exit 2")
        #expect(requeued.errorClass == "agent_error")
        #expect(requeued.exitCode == 2)
        #expect(requeued.claimedBy == nil)
        #expect(requeued.leaseExpiresAt == nil)
        #expect(try await f.store.get(t.id) == requeued)
    }

    @Test("a failure with no attempts left is final: the dead-letter queue", arguments: TaskStoreFactory.all)
    func failedExhausted(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(maxAttempts: 2, now: f.now))
        _ = try #require(try await f.claimOne())
        #expect(try await f.finish(t.id, .failed(errorClass: "agent_error", error: "first", retryDelay: 0)).status == .pending)
        let second = try #require(try await f.claimOne())
        #expect(second.attempt == 2)
        let dead = try await f.finish(t.id, .failed(errorClass: "timeout", error: "took too long", retryDelay: 10))
        #expect(dead.status == .failed)
        #expect(dead.error == "took too long")
        #expect(dead.errorClass == "timeout")
        #expect(dead.attempt == 2)
        #expect(dead.notBefore == nil)
        #expect(dead.finishedAt == f.now)
        #expect(try await f.claimOne() == nil)
        #expect(try await f.store.list(TaskQuery(statuses: [.failed])).tasks.map(\.id) == [t.id])
    }

    @Test("a failure without a retry delay is final even with attempts left", arguments: TaskStoreFactory.all)
    func failedNoRetry(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(maxAttempts: 5, now: f.now))
        _ = try #require(try await f.claimOne())
        let failed = try await f.finish(t.id, .failed(errorClass: "verdict_fail", error: "review said fail", retryDelay: nil))
        #expect(failed.status == .failed)
        #expect(failed.errorClass == "verdict_fail")
        #expect(failed.attempt == 1)
        #expect(try await f.claimOne() == nil)
    }

    @Test("needsDecision stores the prompt and waits", arguments: TaskStoreFactory.all)
    func needsDecision(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(now: f.now))
        _ = try #require(try await f.claimOne())
        let waiting = try await f.finish(t.id, .needsDecision(prompt: "Use Postgres or SQLite?"))
        #expect(waiting.status == .needsDecision)
        #expect(waiting.decisionPrompt == "Use Postgres or SQLite?")
        #expect(waiting.decision == nil)
        #expect(waiting.decidedAt == nil)
        #expect(waiting.leaseExpiresAt == nil)
        #expect(try await f.claimOne() == nil)
        #expect(try await f.store.get(t.id) == waiting)
    }

    @Test("finish by anyone but the owner is a lost claim and changes nothing", arguments: TaskStoreFactory.all)
    func nonOwner(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(now: f.now))
        _ = try #require(try await f.claimOne())
        let before = try await f.store.get(t.id)
        f.clock.advance(by: 1)
        let results = try await f.store.finish(
            [FinishRequest(id: t.id, owner: "someone-else", outcome: AttemptOutcome(.completed))], now: f.now
        ).value
        #expect(results.count == 1)
        let error = try #require(results.first.flatMap { failure($0) })
        #expect(error.code == .lostClaim)
        #expect(error.currentStatus == .running)
        #expect(try await f.store.get(t.id) == before)
        let viaHelper = await storeError { try await f.finish(t.id, .completed, owner: "someone-else") }
        #expect(viaHelper?.code == .lostClaim)
    }

    @Test(
        "finishing a task that is not running is a lost claim", arguments: TaskStoreFactory.all,
        [TaskStatus.pending, .completed, .cancelled, .needsDecision])
    func notRunning(_ factory: TaskStoreFactory, _ status: TaskStatus) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: status)
        let before = try await f.store.get(t.id)
        let error = await storeError { try await f.finish(t.id, .completed) }
        #expect(error?.code == .lostClaim)
        #expect(try await f.store.get(t.id) == before)
    }

    @Test("a batch reports each request on its own, in order", arguments: TaskStoreFactory.all)
    func batch(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        _ = try await f.createMany(3)
        let claimed = try await f.store.claimNext(owner: StoreFixture.owner, limit: 3, now: f.now, lease: 60)
        #expect(claimed.count == 3)
        let requests = [
            FinishRequest(id: claimed[0].id, owner: StoreFixture.owner, outcome: AttemptOutcome(.completed)),
            FinishRequest(id: claimed[1].id, owner: "intruder", outcome: AttemptOutcome(.completed)),
            FinishRequest(id: "task_0000000000000000", owner: StoreFixture.owner, outcome: AttemptOutcome(.completed)),
            FinishRequest(id: claimed[2].id, owner: StoreFixture.owner, outcome: AttemptOutcome(.needsDecision(prompt: "?"))),
        ]
        let results = try await f.store.finish(requests, now: f.now).value
        #expect(results.count == 4)
        #expect((try? results[0].get())?.status == .completed)
        #expect(failure(results[1])?.code == .lostClaim)
        #expect(failure(results[2])?.code == .notFound)
        #expect((try? results[3].get())?.status == .needsDecision)
        #expect(try await f.store.get(claimed[1].id).status == .running)
    }

    /// A verdict the store cannot keep must fail that request alone, not the whole batch.
    @Test("a bad value in one request of a batch fails only that request", arguments: TaskStoreFactory.all)
    func batchWithBadVerdict(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        _ = try await f.createMany(2)
        let claimed = try await f.store.claimNext(owner: StoreFixture.owner, limit: 2, now: f.now, lease: 60)
        let requests = [
            FinishRequest(id: claimed[0].id, owner: StoreFixture.owner, outcome: AttemptOutcome(.completed, verdict: "pass")),
            FinishRequest(id: claimed[1].id, owner: StoreFixture.owner, outcome: AttemptOutcome(.completed, verdict: "PASS!")),
        ]
        let results: [Result<AgentTask, StoreError>]
        do {
            results = try await f.store.finish(requests, now: f.now).value
        } catch {
            Issue.record("the whole batch was refused: \(error)")
            return
        }
        #expect((try? results[0].get())?.status == .completed)
        #expect(failure(results[1])?.code == .invalid)
        #expect(try await f.store.get(claimed[0].id).status == .completed)
    }

    @Test("cost and tokens add up across attempts", arguments: TaskStoreFactory.all)
    func accounting(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(maxAttempts: 3, now: f.now))
        _ = try #require(try await f.claimOne())
        _ = try await f.store.finish(
            id: t.id, owner: StoreFixture.owner,
            outcome: AttemptOutcome(
                .failed(errorClass: "agent_error", error: "x", retryDelay: 0), costUSD: 0.5, tokensIn: 100, tokensOut: 10),
            now: f.now)
        _ = try #require(try await f.claimOne())
        let second = try await f.store.finish(
            id: t.id, owner: StoreFixture.owner,
            outcome: AttemptOutcome(.failed(errorClass: "agent_error", error: "y", retryDelay: 0)), now: f.now)
        #expect(second.costUSD == 0.5, "an attempt that reports nothing keeps the total")
        #expect(second.tokensIn == 100)
        _ = try #require(try await f.claimOne())
        let done = try await f.store.finish(
            id: t.id, owner: StoreFixture.owner, outcome: AttemptOutcome(.completed, costUSD: 0.25, tokensIn: 50, tokensOut: 5),
            now: f.now)
        #expect(done.costUSD == 0.75)
        #expect(done.tokensIn == 150)
        #expect(done.tokensOut == 15)
        #expect(done.attempt == 3)
    }

    @Test("a decided task runs again, and asking again clears the old decision", arguments: TaskStoreFactory.all)
    func askAgain(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.task(in: .needsDecision)
        f.clock.advance(by: 1)
        _ = try await f.store.decide(id: t.id, decision: "SQLite", now: f.now)
        let rerun = try #require(try await f.claimOne())
        #expect(rerun.id == t.id)
        #expect(rerun.decision == "SQLite", "the runner sees the decision")
        let again = try await f.finish(t.id, .needsDecision(prompt: "And the schema?"))
        #expect(again.decisionPrompt == "And the schema?")
        #expect(again.decision == nil)
        #expect(again.decidedAt == nil)
    }
}
