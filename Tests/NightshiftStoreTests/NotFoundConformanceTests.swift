import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@Suite("TaskStore conformance: unknown ids")
struct NotFoundConformanceTests {
    static let unknown = "task_0123456789abcdef"

    @Test(
        "every operation on an unknown id reports not found",
        arguments: TaskStoreFactory.all, ["get", "recordProcess", "finish", "decide", "cancel", "retry", "setPriority", "rescue"])
    func notFound(_ factory: TaskStoreFactory, _ operation: String) async throws {
        let f = try await factory.make()
        _ = try await f.task(in: .running)
        let before = try await f.store.list(TaskQuery(limit: 100))
        let id = Self.unknown
        let s = f.store
        let now = f.now
        let owner = StoreFixture.owner
        let error: StoreError?
        switch operation {
        case "get": error = await storeError { try await s.get(id) }
        case "recordProcess":
            error = await storeError {
                try await s.recordProcess(id: id, owner: owner, pid: 1, pgid: 1, command: "c", logPath: "l", now: now)
            }
        case "finish":
            error = await storeError { try await s.finish(id: id, owner: owner, outcome: AttemptOutcome(.completed), now: now) }
        case "decide": error = await storeError { try await s.decide(id: id, decision: "d", now: now) }
        case "cancel": error = await storeError { try await s.cancel(id: id, reason: "r", now: now) }
        case "retry": error = await storeError { try await s.retry(id: id, now: now) }
        case "setPriority": error = await storeError { try await s.setPriority(id: id, priority: 1, now: now) }
        default:
            error = await storeError {
                try await s.rescue(id: id, owner: owner, reason: "r", errorClass: "e", retryDelay: 1, now: now)
            }
        }
        #expect(error?.code == .notFound, "\(operation)")
        #expect(try await s.list(TaskQuery(limit: 100)) == before, "nothing changed")
    }

    @Test("heartbeat reports an unknown id as no longer held", arguments: TaskStoreFactory.all)
    func heartbeatUnknown(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        #expect(
            try await f.store.heartbeat(ids: [Self.unknown], owner: StoreFixture.owner, now: f.now, lease: 60) == [Self.unknown])
    }

    @Test("a batch finish reports an unknown id in its own result", arguments: TaskStoreFactory.all)
    func finishBatchUnknown(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let results = try await f.store.finish(
            [FinishRequest(id: Self.unknown, owner: StoreFixture.owner, outcome: AttemptOutcome(.completed))], now: f.now
        ).value
        #expect(results.count == 1)
        #expect(failure(results[0])?.code == .notFound)
    }
}
