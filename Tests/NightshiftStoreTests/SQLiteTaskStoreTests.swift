import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// What only the SQLite store promises: the file survives a restart, migrations are recorded,
/// the schema enforces the model, and the database runs in WAL mode.
@Suite("SQLiteTaskStore")
struct SQLiteTaskStoreTests {
    let dir: TemporaryDirectory
    let path: String

    init() throws {
        dir = try TemporaryDirectory(prefix: "nightshift-sqlite")
        path = dir.path(SQLiteTaskStore.fileName)
    }

    /// Runs the sqlite3 command-line shell on the database; returns its exit status and output.
    func sqlite3(_ sql: String) throws -> (status: Int32, output: String, error: String) { try Command.sqlite3(path, sql) }

    /// Fills a store with one task in every status plus some with every field set.
    func populate(_ f: StoreFixture) async throws {
        for status in TaskStatus.allCases {
            _ = try await f.task(in: status)
            f.clock.advance(by: 1)
        }
        let running = try await f.task(in: .running)
        _ = try await f.store.recordProcess(
            id: running.id, owner: StoreFixture.owner, pid: 99, pgid: 99, command: "agent", logPath: "logs/tasks/a.log",
            now: f.now)
        _ = try await f.create(
            .make(type: .spec, context: ["k": .array([.number(1), .string("two")])], backlogItem: "i", now: f.now))
    }

    @Test("reopening the same file keeps every task")
    func restart() async throws {
        let clock = MutableNow()
        var before: TaskPage
        do {
            let f = StoreFixture(store: try SQLiteTaskStore(path: path), clock: clock)
            try await populate(f)
            before = try await f.store.list(TaskQuery(limit: 1000))
            #expect(before.total == 8)
        }
        let reopened = try SQLiteTaskStore(path: path)
        let after = try await reopened.list(TaskQuery(limit: 1000))
        #expect(after == before)
        for t in before.tasks {
            #expect(try await reopened.get(t.id) == t)
        }
        #expect(try await reopened.appliedMigrations().first == "2026-11-21-tasks")
        let pendingIDs = before.tasks.filter { $0.status == .pending }.map(\.id)
        let claimed = try await reopened.claimNext(owner: "after-restart", limit: 10, now: clock.now, lease: 60)
        #expect(Set(claimed.map(\.id)) == Set(pendingIDs), "the pending tasks are still claimable")
    }

    @Test("the store works on after a restart")
    func worksAfterRestart() async throws {
        let clock = MutableNow()
        let id: String
        do {
            let store = try SQLiteTaskStore(path: path)
            id = try await store.create(.make(now: clock.now)).id
            _ = try await store.claimNext(owner: "old-process", limit: 1, now: clock.now, lease: 60)
        }
        let store = try SQLiteTaskStore(path: path)
        clock.advance(by: 61)
        #expect(try await store.rescueCandidates(now: clock.now, liveOwner: "new-process").map(\.id) == [id])
        let rescued = try await store.rescue(
            id: id, owner: "old-process", reason: "daemon restarted", errorClass: "lease_expired", retryDelay: 0, now: clock.now)
        #expect(rescued.status == .pending)
        #expect(try await store.claimNext(owner: "new-process", limit: 1, now: clock.now, lease: 60).first?.attempt == 2)
    }

    @Test("the applied migrations are listed by name, once")
    func migrations() async throws {
        let store = try SQLiteTaskStore(path: path)
        let names = try await store.appliedMigrations()
        #expect(names.first == "2026-11-21-tasks", "the tasks table comes first")
        #expect(Set(names).count == names.count)
        let second = try SQLiteTaskStore(path: path)
        #expect(try await second.appliedMigrations() == names, "reopening applies nothing twice")
        let table = try sqlite3("SELECT COUNT(*) FROM grdb_migrations;")
        #expect(table.output == "\(names.count)")
    }

    @Test("init(stateDir:) opens nightshift.sqlite in that directory")
    func stateDir() async throws {
        let store = try SQLiteTaskStore(stateDir: dir.path)
        #expect(store.path == path)
        _ = try await store.create(.make())
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("a database that cannot be opened is unavailable")
    func unopenable() throws {
        #expect {
            _ = try SQLiteTaskStore(path: dir.path("no/such/dir/db.sqlite"))
        } throws: { error in
            (error as? StoreError)?.code == .unavailable
        }
    }

    @Test("the database is in WAL mode")
    func walMode() async throws {
        let store = try SQLiteTaskStore(path: path)
        _ = try await store.create(.make())
        let result = try sqlite3("PRAGMA journal_mode;")
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "wal")
    }

    @Test("the CHECK constraint on status refuses anything else")
    func statusCheck() async throws {
        let store = try SQLiteTaskStore(path: path)
        let t = try await store.create(.make())
        let bogus = try sqlite3("UPDATE tasks SET status='bogus';")
        #expect(bogus.status != 0)
        #expect(bogus.error.contains("CHECK constraint failed"), "\(bogus.error)")
        #expect(try await store.get(t.id) == t)
        let schema = try sqlite3("SELECT sql FROM sqlite_master WHERE name = 'tasks';")
        #expect(
            schema.output.contains("CHECK (status IN ('pending','running','needs_decision','completed','failed','cancelled'))"))
        let legal = try sqlite3("UPDATE tasks SET status='cancelled';")
        #expect(legal.status == 0, "a listed status is accepted: \(legal.error)")
    }

    @Test("the schema refuses a running task without an owner")
    func runningNeedsOwner() async throws {
        let store = try SQLiteTaskStore(path: path)
        _ = try await store.create(.make())
        let result = try sqlite3("UPDATE tasks SET status='running';")
        #expect(result.status != 0)
        #expect(result.error.contains("CHECK constraint failed"), "\(result.error)")
    }

    @Test("two store instances on one file never claim one task twice")
    func twoInstances() async throws {
        let clock = MutableNow()
        let first = try SQLiteTaskStore(path: path)
        let second = try SQLiteTaskStore(path: path)
        let created = try await first.create((0..<100).map { AgentTask.make(direction: "job \($0)", now: clock.now) })
        let now = clock.now
        let claims = try await withThrowingTaskGroup(of: [String].self) { group in
            for (name, store) in [("first", first), ("second", second)] {
                group.addTask {
                    var mine: [String] = []
                    while true {
                        let got = try await store.claimNext(owner: name, limit: 2, now: now, lease: 60)
                        if got.isEmpty { break }
                        mine += got.map(\.id)
                    }
                    return mine
                }
            }
            var all: [String] = []
            for try await part in group { all += part }
            return all
        }
        #expect(claims.count == created.count)
        #expect(Set(claims) == Set(created.map(\.id)))
    }
}
