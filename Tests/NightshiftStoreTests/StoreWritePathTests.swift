import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

// The store runs each write transaction on the caller's thread behind a gate (no hop to GRDB's
// writer queue). These pin down what that must keep: writers that contend all get their turn,
// a cancelled caller writes nothing, and a failed transaction leaves nothing behind.
@Suite("SQLiteTaskStore write path")
struct StoreWritePathTests {
    static func store() throws -> (SQLiteTaskStore, TemporaryDirectory) {
        let dir = try TemporaryDirectory(prefix: "nightshift-write-path")
        return (try SQLiteTaskStore(path: dir.path(SQLiteTaskStore.fileName)), dir)
    }

    @Test("more writers than threads, none of which ever suspends elsewhere, all finish their cycles")
    func contendedWritersAllFinish() async throws {
        let (store, dir) = try Self.store()
        let writers = 8
        let cycles = 25
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let done = try await withThrowingTaskGroup(of: Int.self) { group in
            for w in 0..<writers {
                group.addTask {
                    var finished = 0
                    for i in 0..<cycles {
                        let owner = "writer-\(w)"
                        _ = try await store.create(.make(direction: "w\(w) c\(i)", now: now))
                        for task in try await store.claimNext(owner: owner, limit: 1, now: now, lease: 60) {
                            _ = try await store.finish(id: task.id, owner: owner, outcome: AttemptOutcome(.completed), now: now)
                            finished += 1
                        }
                    }
                    return finished
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(done == writers * cycles, "every task created was claimed and completed once")
        let counts = try await store.countByStatus()
        #expect(counts[.completed] == writers * cycles)
        let events = try await store.events(after: 0, limit: 10_000)
        #expect(events.count == writers * cycles * 3, "created, claimed, finished for each task")
        #expect(events.map(\.id) == events.map(\.id).sorted(), "event ids grow in commit order")
        _ = dir
    }

    @Test("a cancelled caller writes nothing")
    func cancelledCallerWritesNothing() async throws {
        let (store, dir) = try Self.store()
        let gate = AsyncGate()
        let task = Task {
            await gate.wait()
            return try await store.create(.make(direction: "never stored", now: Date()))
        }
        task.cancel()
        await gate.open()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(try await store.countByStatus().values.reduce(0, +) == 0)
        #expect(try await store.lastEventID() == 0)
        _ = dir
    }

    @Test("a failed transaction rolls back and the next write goes through")
    func failureRollsBack() async throws {
        let (store, dir) = try Self.store()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try await store.create(.make(direction: "first", now: now))
        // The second task of the batch repeats the first's id: the whole batch is refused.
        let fresh = AgentTask.make(direction: "fresh", now: now)
        var duplicate = AgentTask.make(direction: "duplicate", now: now)
        duplicate.id = first.id
        let error = await storeError { try await store.create([fresh, duplicate], by: "test") }
        #expect(error?.code == .duplicate)
        #expect(try await store.list(TaskQuery(limit: 10)).total == 1, "the batch left nothing behind")
        #expect(try await store.events(after: 0, limit: 10).count == 1, "nor any event")
        let next = try await store.create(.make(direction: "after the failure", now: now))
        #expect(try await store.get(next.id).direction == "after the failure")
        _ = dir
    }
}

/// Holds callers until `open` (a test signal, no sleeping).
actor AsyncGate {
    private var isOpen = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func open() {
        isOpen = true
        for c in waiting { c.resume() }
        waiting = []
    }
}
