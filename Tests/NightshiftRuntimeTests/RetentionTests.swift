import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// `store.retention`: ended tasks pruned in batches with their events and files.
@Suite("Retention")
struct RetentionTests {
    /// A task claimed and ended at the clock's time with `kind`, with a log and a result file.
    func ended(
        _ h: RuntimeHarness, _ env: ServiceEnvironment, _ clock: MutableNow, _ kind: AttemptOutcome.Kind
    ) async throws -> AgentTask {
        let task = try await h.store.create(.make(direction: "ends", priority: 100, now: clock.now))
        _ = try #require(try await h.store.claimNext(owner: "r", limit: 1, now: clock.now, lease: 60).first)
        let done = try await h.store.finish(id: task.id, owner: "r", outcome: AttemptOutcome(kind), now: clock.now)
        for file in [env.paths.taskLog(task.id), env.paths.resultFile(task.id)] {
            try Data("x\n".utf8).write(to: URL(fileURLWithPath: file))
        }
        return done
    }

    @Test(
        "ended tasks past their status's retention go with their events and files; newer ones, other statuses and dependencies stay"
    )
    func prunes() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        let env = h.environment(clock: clock) {
            $0.store.retention = [.completed: 86400, .cancelled: 3600]
            $0.store.pruneBatch = 2
            $0.logs.taskLogRetention = 0
        }
        try env.paths.prepare()
        let fm = FileManager.default
        var old: [AgentTask] = []
        for _ in 0..<5 { old.append(try await ended(h, env, clock, .completed)) }
        let oldFailed = try await ended(h, env, clock, .failed(errorClass: "agent_error", error: "exit 1", retryDelay: nil))
        let needed = try await ended(h, env, clock, .completed)
        let cancelled = try await h.store.cancel(
            id: try await h.store.create(.make(now: clock.now)).id, reason: "x", now: clock.now)
        clock.advance(by: 2 * 86400)
        let dependent = try await h.store.create(.make(direction: "waits", dependsOn: [needed.id], now: clock.now))
        let recent = try await ended(h, env, clock, .completed)
        clock.advance(by: 60)

        var service = MaintenanceService(env: env)
        let result = try await service.runOnce()
        #expect(result.prunedTasks == [.completed: 5, .cancelled: 1])
        let remaining = Set(try await h.store.events(after: 0, limit: 100_000).map(\.taskID))
        for t in old + [cancelled.after] {
            #expect((try? await h.store.get(t.id)) == nil)
            #expect(!remaining.contains(t.id), "events go with the task")
            #expect(!fm.fileExists(atPath: env.paths.taskLog(t.id)))
            #expect(!fm.fileExists(atPath: env.paths.resultFile(t.id)))
        }
        for (name, t) in [("failed", oldFailed), ("needed", needed), ("dependent", dependent), ("recent", recent)] {
            #expect((try? await h.store.get(t.id))?.id == t.id, "\(name) stays")
            #expect(try await !h.store.events(taskID: t.id).isEmpty)
        }
        #expect(fm.fileExists(atPath: env.paths.taskLog(needed.id)))
        #expect(try await h.store.keptCountMismatches() == [])
        #expect(try await h.store.countByStatus()[.completed] == 2)

        // At most pruneBatchesPerPass batches a pass: the rest go next pass.
        for _ in 0..<5 { _ = try await ended(h, env, clock, .completed) }
        clock.advance(by: 2 * 86400)
        var limited = service.configuration
        limited.pruneBatchesPerPass = 2
        service = MaintenanceService(env: env, configuration: limited)
        #expect(try await service.runOnce().prunedTasks == [.completed: 4])
        #expect(try await service.runOnce().prunedTasks == [.completed: 2], "the fifth, and `recent`, now old too")
        #expect(try await service.runOnce().prunedTasks == [:])
        // `needed` goes once nothing open depends on it.
        _ = try await h.store.cancel(id: dependent.id, reason: "no longer", now: clock.now)
        #expect(try await service.runOnce().prunedTasks == [.completed: 1])
        #expect(try await h.store.keptCountMismatches() == [])
    }

    @Test("no retention keeps every task; the pass still empties the write-ahead log")
    func keepsAllAndCheckpoints() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        let env = h.environment(clock: clock)
        try env.paths.prepare()
        for _ in 0..<20 { _ = try await ended(h, env, clock, .completed) }
        clock.advance(by: 365 * 86400)
        let result = try await MaintenanceService(env: env).runOnce()
        #expect(result.prunedTasks.isEmpty)
        #expect(try await h.store.countByStatus()[.completed] == 20)
        let wal = try #require(result.wal)
        #expect(wal.bytesBefore > 0)
        #expect(wal.bytesAfter == 0)
    }

    @Test("the store refuses to prune a status that has not ended")
    func refusesOpen() async throws {
        let h = try RuntimeHarness()
        for status in [TaskStatus.pending, .running, .needsDecision] {
            await #expect(throws: StoreError.self) {
                try await h.store.pruneEnded(status: status, endedBefore: Date(), limit: 10)
            }
        }
    }
}
