import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// The periodic services' loops driven by a manual clock: a test awaits the service asleep on
/// it, moves time, and awaits the pass's announcement — no real waiting, no polling.
@Suite("periodic loops on a manual clock", .timeLimit(.minutes(1)))
struct ManualClockLoopTests {
    /// The first change of `kind` on `stream`.
    static func next(_ kind: TaskChange.Kind, on stream: AsyncStream<TaskChange>) async -> TaskChange? {
        for await change in stream where change.kind == kind { return change }
        return nil
    }

    @Test("the rescuer checks once per interval of its clock: a lease that lapses between passes is rescued at the next one")
    func rescuerLoop() async throws {
        let h = try RuntimeHarness()
        let clock = ManualClock()
        let now = MutableNow()
        var env = h.environment(instanceID: "live-daemon", clock: now) { $0.runner.lease = 60 }
        env.clock = clock
        let rescuer = LeaseRescuer(env: env, isLive: { _ in false })
        let events = env.events.subscribe()
        let loop = Task { try await rescuer.run() }
        defer { loop.cancel() }
        // The first pass finds nothing; the rescuer sleeps for lease/2.
        await clock.waitUntilAsleep()
        let task = try await h.store.create(.make(direction: "held by a dead daemon", now: now.now))
        _ = try await h.store.claimNext(owner: "dead-daemon", limit: 1, now: now.now, lease: 60)
        #expect(try await h.store.get(task.id).status == .running)
        // Time passes beyond the lease: the next pass, and only it, rescues the task.
        now.advance(by: 61)
        clock.advance(by: .seconds(30))
        let rescued = await Self.next(.rescued, on: events)
        #expect(rescued?.task.id == task.id)
        #expect(rescued?.task.status == .pending)
        #expect(rescued?.event.detail["by"] == .string("rescuer"))
        #expect(try await h.store.events(taskID: task.id).map(\.kind) == [.created, .claimed, .rescued])
    }

    @Test("maintenance expires an unanswered decision at the first pass after decision_timeout")
    func maintenanceLoop() async throws {
        let h = try RuntimeHarness()
        let clock = ManualClock()
        let now = MutableNow()
        var env = h.environment(clock: now) { $0.projectManager.decisionTimeout = 3600 }
        env.clock = clock
        let task = try await h.store.create(.make(direction: "asks", now: now.now))
        _ = try await h.store.claimNext(owner: "runner", limit: 1, now: now.now, lease: 60)
        _ = try await h.store.finish(
            id: task.id, owner: "runner", outcome: AttemptOutcome(.needsDecision(prompt: "ok?")), now: now.now)
        let events = env.events.subscribe()
        let maintenance = MaintenanceService(env: env, interval: 60)
        let loop = Task { try await maintenance.run() }
        defer { loop.cancel() }
        await clock.waitUntilAsleep()
        #expect(try await h.store.get(task.id).status == .needsDecision)
        now.advance(by: 3601)
        clock.advance(by: .seconds(60))
        let expired = await Self.next(.expired, on: events)
        #expect(expired?.task.id == task.id)
        #expect(expired?.task.status == .failed)
        #expect(expired?.task.errorClass == "decision_timeout")
    }
}
