import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftStorePostgres
import NightshiftTesting
import Testing

/// `nightshift store copy`: a SQLite store into an empty PostgreSQL one, as it was.
@Suite("store copy: SQLite into PostgreSQL")
struct StoreCopyTests {
    static var enabled: Bool { PostgresTaskStoreTests.url != nil || PostgresTaskStoreTests.inCI }

    /// A SQLite store with a night in it: retried, finished, metered, decided, child tasks.
    static func seeded(_ dir: TemporaryDirectory, clock: MutableNow) async throws -> SQLiteTaskStore {
        let store = try SQLiteTaskStore(path: dir.path(SQLiteTaskStore.fileName), runID: "run_20261201_220000_abcd")
        let parent = try await store.create(.make(type: .spec, direction: "parent ✓ \"quoted\"\n\u{1}", now: clock.now))
        clock.advance(by: 1)
        _ = try await store.create(.make(type: .impl, direction: "child", parentID: parent.id, now: clock.now))
        for i in 0..<20 {
            clock.advance(by: 1)
            _ = try await store.create(.make(direction: "job \(i)", context: ["n": .number(Double(i))], now: clock.now))
        }
        for round in 0..<8 {
            clock.advance(by: 1)
            guard let task = try await store.claimNext(owner: "o", limit: 1, now: clock.now, lease: 60).first else { break }
            _ = try await store.meter(
                id: task.id, owner: "o",
                reading: MeterReading(
                    costUSD: 0.25 * Double(round + 1), costSource: "estimated", tokensIn: 10, tokensOut: 5, tokensCacheRead: 1,
                    tokensCacheWrite: 2, turns: 3, lastTool: "Bash", lastEventAt: clock.now, sessionID: "s\(round)",
                    model: "claude-sonnet-4-5"),
                now: clock.now)
            clock.advance(by: 1)
            let outcome: AttemptOutcome.Kind =
                switch round % 3 {
                case 0: .completed
                case 1: .failed(errorClass: .exitCode, error: "boom", retryDelay: 0)
                default: .needsDecision(prompt: "ship it?")
                }
            _ = try await store.finish(id: task.id, owner: "o", outcome: AttemptOutcome(outcome), now: clock.now)
        }
        return store
    }

    @Test(
        "every task, event and spend row arrives as it was; ids keep counting after; a second copy is refused",
        .enabled(if: enabled))
    func copy() async throws {
        let dir = try TemporaryDirectory()
        let clock = MutableNow()
        let sqlite = try await Self.seeded(dir, clock: clock)
        let f = try await PostgresTestDatabase.makeFixture(url: try #require(PostgresTaskStoreTests.url))
        let pg = try #require(f.store as? PostgresTaskStore)

        let report = try await pg.copyIn(from: try SQLiteTableSource(path: sqlite.path), batch: 7)
        #expect(report.matches)
        #expect(report.tables.contains { $0.name == "tasks" && $0.source == 22 && $0.target == 22 })
        #expect(report.tables.contains { $0.name == "task_events" && $0.source > 22 })

        let all = try await sqlite.list(TaskQuery(limit: 1000)).tasks
        #expect(try await pg.list(TaskQuery(limit: 1000)).tasks == all)
        for task in all { #expect(try await pg.events(taskID: task.id) == (try await sqlite.events(taskID: task.id))) }
        #expect(try await pg.countByStatus() == (try await sqlite.countByStatus()))
        let since = clock.now.addingTimeInterval(-3600)
        #expect(try await pg.spentUSD(since: since) == (try await sqlite.spentUSD(since: since)))
        #expect(
            try await pg.spentUSD(since: clock.now.addingTimeInterval(-3))
                == (try await sqlite.spentUSD(since: clock.now.addingTimeInterval(-3))))

        // The event ids go on after the copied ones.
        let last = try await sqlite.lastEventID()
        let made = try await pg.create(.make(direction: "after the copy", now: clock.now))
        #expect(try await pg.events(taskID: made.id).first.map { $0.id > last } == true)

        // The target is no longer empty: a second copy writes nothing.
        let error = await storeError { _ = try await pg.copyIn(from: try SQLiteTableSource(path: sqlite.path)) }
        #expect(error?.message.contains("already holds") == true)
        #expect(try await pg.list(TaskQuery(limit: 1000)).total == 23)
    }
}
