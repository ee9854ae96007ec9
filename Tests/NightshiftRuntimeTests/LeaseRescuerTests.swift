import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// Rescue of running tasks whose daemon died or whose lease lapsed, with real orphaned processes.
@Suite("LeaseRescuer", .timeLimit(.minutes(2)))
struct LeaseRescuerTests {
    static let deadOwner = "dead-daemon"

    /// A task claimed by a daemon that is gone, with `shell` running in its own session as the
    /// agent it left behind (carrying `NIGHTSHIFT_TASK_ID=taskIDInEnv`, the task's id by default).
    func orphan(
        _ h: RuntimeHarness, maxAttempts: Int = 3, shell: String = "exec sleep 300", taskIDInEnv: String? = nil
    ) async throws -> (task: AgentTask, pgid: Int32) {
        let created = try await h.store.create(.make(direction: "orphaned work", maxAttempts: maxAttempts, now: Date()))
        let claimed = try await h.store.claimNext(owner: Self.deadOwner, limit: 1, now: Date(), lease: 3600)
        try #require(claimed.map(\.id) == [created.id])
        let pgid = try await h.spawnSession(shell, environment: ["NIGHTSHIFT_TASK_ID": taskIDInEnv ?? created.id])
        let task = try await h.store.recordProcess(
            id: created.id, owner: Self.deadOwner, pid: pgid, pgid: pgid, command: shell, logPath: h.paths.taskLog(created.id),
            now: Date())
        return (task, pgid)
    }

    @Test("a task left running by a dead daemon: its process group is killed and the task requeued at once")
    func orphanKilledAndRequeued() async throws {
        let h = try RuntimeHarness()
        let (task, pgid) = try await orphan(h, shell: "sleep 300 & exec sleep 300")
        #expect(ProcessGroup.liveMembers(pgid).count == 2)
        let env = h.environment(instanceID: "new-daemon")
        let events = RuntimeEventRecorder(env.events)
        let result = try await LeaseRescuer(env: env, isLive: { _ in false }).runOnce()
        #expect(result.requeued == [task.id])
        #expect(result.failed.isEmpty)
        #expect(result.killedGroups == [pgid])
        try await waitForNoSurvivor(pgid)
        let after = try await h.store.get(task.id)
        #expect(after.status == .pending)
        #expect(after.attempt == 1)
        #expect(after.errorClass == "orphaned")
        #expect(after.error?.contains(Self.deadOwner) == true)
        #expect(after.claimedBy == nil)
        #expect(after.notBefore.map { $0 <= Date() } ?? true)
        #expect(events.tasks(.rescued, id: task.id).count == 1)
        // It is runnable right away.
        let reclaimed = try await h.store.claimNext(owner: "new-daemon", limit: 1, now: Date(), lease: 60)
        #expect(reclaimed.map(\.id) == [task.id])
        #expect(reclaimed.first?.attempt == 2)
    }

    @Test("a recorded group that does not carry the task id is left alone (pid reuse)")
    func strangerNotKilled() async throws {
        let h = try RuntimeHarness()
        let (task, pgid) = try await orphan(h, taskIDInEnv: "task_ffffffffffffffff")
        let result = try await LeaseRescuer(env: h.environment(instanceID: "new-daemon"), isLive: { _ in false }).runOnce()
        #expect(result.killedGroups.isEmpty)
        #expect(result.requeued == [task.id])
        #expect(!RuntimeHarness.isDead(pgid))
        #expect(ProcessGroup.liveMembers(pgid) == [pgid])
        ProcessGroup.killNow(pgid)
        try await waitForNoSurvivor(pgid)
    }

    @Test("no attempts left: the rescued task fails")
    func noAttemptsLeft() async throws {
        let h = try RuntimeHarness()
        let (task, pgid) = try await orphan(h, maxAttempts: 1)
        let result = try await LeaseRescuer(env: h.environment(instanceID: "new-daemon"), isLive: { _ in false }).runOnce()
        #expect(result.failed == [task.id])
        #expect(result.requeued.isEmpty)
        try await waitForNoSurvivor(pgid)
        let after = try await h.store.get(task.id)
        #expect(after.status == .failed)
        #expect(after.errorClass == "orphaned")
        #expect(after.attempt == 1)
    }

    @Test("an attempt this daemon is running (isLive) is skipped")
    func liveSkipped() async throws {
        let h = try RuntimeHarness()
        let (task, pgid) = try await orphan(h)
        let result = try await LeaseRescuer(env: h.environment(instanceID: "new-daemon"), isLive: { $0 == task.id }).runOnce()
        #expect(result == LeaseRescuer.Result())
        #expect(try await h.store.get(task.id).status == .running)
        #expect(!RuntimeHarness.isDead(pgid))
        ProcessGroup.killNow(pgid)
    }

    @Test("a lease that lapsed under this daemon: requeued with backoff and error_class lease_expired")
    func leaseLapsed() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        let env = h.environment(instanceID: "this-daemon", clock: clock)
        let task = try await h.store.create(.make(direction: "x", now: clock.now))
        _ = try await h.store.claimNext(owner: "this-daemon", limit: 1, now: clock.now, lease: 1)
        let rescuer = LeaseRescuer(env: env, isLive: { _ in false })
        #expect(try await rescuer.runOnce() == LeaseRescuer.Result())
        clock.advance(by: 2)
        let result = try await rescuer.runOnce()
        #expect(result.requeued == [task.id])
        let after = try await h.store.get(task.id)
        #expect(after.status == .pending)
        #expect(after.errorClass == "lease_expired")
        // Backoff after attempt 1 with base 0.05 s: between 0.025 and 0.05 s.
        let wait = try #require(after.notBefore).timeIntervalSince(clock.now)
        #expect(wait >= 0.025 - 1e-3 && wait <= 0.05 + 1e-3)
    }

    @Test("restart after a daemon died mid-task: the orphaned agent is killed and the task runs again")
    func restartRerunsTask() async throws {
        let h = try RuntimeHarness()
        let (task, pgid) = try await orphan(h, shell: "sleep 300 & exec sleep 300")
        let agent = try h.script("agent.sh", "echo \"rerun attempt $NIGHTSHIFT_ATTEMPT\"")
        let env = h.environment(instanceID: "restarted-daemon") {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
        }
        let runner = AgentRunner(env: env)
        let rescuer = LeaseRescuer(env: env, isLive: { runner.activeTaskIDs.contains($0) })
        // The daemon's startup order: rescue first, then run.
        let rescued = try await rescuer.runOnce()
        #expect(rescued.requeued == [task.id])
        let done = try await h.withRunner(runner) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        try await waitForNoSurvivor(pgid)
        #expect(done.status == .completed)
        #expect(done.attempt == 2)
        #expect(done.claimedBy == "restarted-daemon")
        #expect(done.outputTail == "rerun attempt 2\n")
        #expect(done.pgid != pgid)
    }
}
