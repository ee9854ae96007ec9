import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// Housekeeping driven by a test clock: unanswered decisions and old task logs.
@Suite("MaintenanceService")
struct MaintenanceServiceTests {
    /// A task driven to needs_decision at the clock's current time.
    func askDecision(_ h: RuntimeHarness, _ clock: MutableNow, owner: String) async throws -> AgentTask {
        let task = try await h.store.create(.make(direction: "ask", priority: 100, now: clock.now))
        let claimed = try await h.store.claimNext(owner: owner, limit: 1, now: clock.now, lease: 60)
        try #require(claimed.map(\.id) == [task.id])
        return try await h.store.finish(
            id: task.id, owner: owner, outcome: AttemptOutcome(.needsDecision(prompt: "ok?")), now: clock.now)
    }

    @Test("a decision older than decision_timeout fails with decision_timeout; a newer one keeps waiting")
    func decisionTimeout() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        let env = h.environment(clock: clock) { $0.projectManager.decisionTimeout = 3600 }
        let events = RuntimeEventRecorder(env.events)
        let service = MaintenanceService(env: env)
        let old = try await askDecision(h, clock, owner: env.instanceID)
        clock.advance(by: 1800)
        let recent = try await askDecision(h, clock, owner: env.instanceID)
        #expect(try await service.runOnce().expiredDecisions.isEmpty)
        clock.advance(by: 1801)
        let result = try await service.runOnce()
        #expect(result.expiredDecisions == [old.id])
        let failed = try await h.store.get(old.id)
        #expect(failed.status == .failed)
        #expect(failed.errorClass == "decision_timeout")
        #expect(try await h.store.get(recent.id).status == .needsDecision)
        #expect(events.tasks(.expired, id: old.id).map(\.status) == [.failed])
        // A decided task is no longer waiting: it never expires.
        _ = try await h.store.decide(id: recent.id, decision: "yes", now: clock.now)
        clock.advance(by: 7200)
        #expect(try await service.runOnce().expiredDecisions.isEmpty)
        #expect(try await h.store.get(recent.id).status == .pending)
    }

    @Test("decision_timeout 0 waits forever")
    func waitForever() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        let env = h.environment(clock: clock) { $0.projectManager.decisionTimeout = 0 }
        let task = try await askDecision(h, clock, owner: env.instanceID)
        clock.advance(by: 365 * 86400)
        #expect(try await MaintenanceService(env: env).runOnce().expiredDecisions.isEmpty)
        #expect(try await h.store.get(task.id).status == .needsDecision)
    }

    @Test("task logs and result files older than the retention are deleted, newer ones kept")
    func logRetention() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        let env = h.environment(clock: clock) { $0.logs.taskLogRetention = 86400 }
        let fm = FileManager.default
        func file(_ path: String, age: Double) throws {
            try Data("x\n".utf8).write(to: URL(fileURLWithPath: path))
            try fm.setAttributes([.modificationDate: clock.now.addingTimeInterval(-age)], ofItemAtPath: path)
        }
        let oldLog = env.paths.taskLog("task_000000000000000a")
        let newLog = env.paths.taskLog("task_000000000000000b")
        let oldResult = env.paths.resultFile("task_000000000000000a")
        let newResult = env.paths.resultFile("task_000000000000000b")
        try file(oldLog, age: 2 * 86400)
        try file(newLog, age: 3600)
        try file(oldResult, age: 86400 + 60)
        try file(newResult, age: 86400 - 60)
        let result = try await MaintenanceService(env: env).runOnce()
        #expect(Set(result.deletedLogs) == [oldLog, oldResult])
        #expect(!fm.fileExists(atPath: oldLog))
        #expect(!fm.fileExists(atPath: oldResult))
        #expect(fm.fileExists(atPath: newLog))
        #expect(fm.fileExists(atPath: newResult))
        // Only the tasks and results folders are swept.
        #expect(fm.fileExists(atPath: env.paths.database))
    }

    @Test("retention 0 keeps task logs forever")
    func keepForever() async throws {
        let h = try RuntimeHarness()
        let clock = MutableNow()
        let env = h.environment(clock: clock) { $0.logs.taskLogRetention = 0 }
        let log = env.paths.taskLog("task_000000000000000c")
        try Data("x\n".utf8).write(to: URL(fileURLWithPath: log))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 0)], ofItemAtPath: log)
        #expect(try await MaintenanceService(env: env).runOnce().deletedLogs.isEmpty)
        #expect(FileManager.default.fileExists(atPath: log))
    }
}
