import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// The migration that adds the dead-letter queue to a database made before it: `task_events`
/// is rebuilt with `reprocessed` among its kinds, and event ids go on where they were.
@Suite("SQLiteTaskStore: the dead-letter migration")
struct DeadLetterMigrationTests {
    @Test("a database from before the migration keeps its events, takes reprocessed events and never reuses an event id")
    func upgrade() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-dlq-migration")
        let path = dir.path(SQLiteTaskStore.fileName)
        let clock = MutableNow()
        var failed: AgentTask
        do {
            let f = StoreFixture(store: try SQLiteTaskStore(path: path), clock: clock)
            failed = try await DeadLetterConformanceTests.failed(f, .exitCode, direction: "old failure")
            // Newer events of a task that is gone: ids 1...3 remain, the counter stands higher.
            _ = try await f.task(in: .completed)
            _ = try await f.store.pruneEnded(status: .completed, endedBefore: f.now.addingTimeInterval(1), limit: 10)
        }
        let counter = try #require(
            Int(try Self.sqlite3(path, "SELECT seq FROM sqlite_sequence WHERE name = 'task_events'").output))
        try #require(counter > 3)
        // Back to the schema before the migration (and the runs and agents migrations after it):
        // the old CHECK, no parent index, no run ids, no metering columns, none applied.
        let downgrade = """
            PRAGMA foreign_keys = OFF;
            BEGIN;
            DROP TRIGGER spend_insert;
            DROP TRIGGER spend_update;
            DROP TABLE spend;
            DROP TABLE executor_pauses;
            \(["turns", "tokens_cache_read", "tokens_cache_write", "last_tool", "last_event_at", "cost_source", "session_id", "model", "budget_usd"].map { "ALTER TABLE tasks DROP COLUMN \($0);" }.joined(separator: "\n"))
            CREATE TABLE old_events (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
              kind TEXT NOT NULL CHECK (kind IN ('created','claimed','started','finished','decided','cancelled','retried','rescued','expired','updated')),
              from_status TEXT, to_status TEXT NOT NULL, attempt INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '{}', at REAL NOT NULL
            ) STRICT;
            INSERT INTO old_events SELECT id, task_id, kind, from_status, to_status, attempt, detail, at FROM task_events;
            DROP TABLE task_events;
            ALTER TABLE old_events RENAME TO task_events;
            CREATE INDEX task_events_task ON task_events (task_id, id);
            UPDATE sqlite_sequence SET seq = \(counter) WHERE name = 'task_events';
            DROP INDEX tasks_parent;
            DROP INDEX tasks_run;
            ALTER TABLE tasks DROP COLUMN run_id;
            DELETE FROM grdb_migrations WHERE identifier IN ('2026-12-02-dead-letter', '2026-12-01-runs', '2026-12-03-agents');
            COMMIT;
            """
        let sqlite = try Self.sqlite3(path, downgrade)
        try #require(sqlite.status == 0, "\(sqlite.error)")
        let rejected = try Self.sqlite3(
            path,
            "INSERT INTO task_events (task_id, kind, from_status, to_status, attempt, at) VALUES ('\(failed.id)', 'reprocessed', 'failed', 'pending', 0, 0)"
        )
        try #require(rejected.status != 0, "the downgraded schema refuses the new kind, as the old one did")

        let store = try SQLiteTaskStore(path: path)
        let applied = try await store.appliedMigrations()
        #expect(applied.contains("2026-12-02-dead-letter") && applied.contains("2026-12-01-runs"), "\(applied)")
        let history = try await store.events(taskID: failed.id)
        #expect(history.map(\.id) == [1, 2, 3], "every event kept, with its id")
        let r = try await store.reprocess(.ids([failed.id]), reason: "after upgrade", dryRun: false, by: "api", now: clock.now)
        #expect(r.entries.map(\.event.kind) == [.reprocessed])
        #expect(
            r.entries.first?.event.id == Int64(counter + 1), "ids go on after the highest ever handed out, not the highest kept")
        let index = try Self.sqlite3(path, "SELECT name FROM sqlite_master WHERE name = 'tasks_parent'")
        #expect(index.output == "tasks_parent")
    }

    @Test("a database that has run ids already keeps them through the rebuild")
    func upgradeKeepsRunIDs() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-dlq-migration")
        let path = dir.path(SQLiteTaskStore.fileName)
        let run = "run_20261201_220000_keep"
        let task: AgentTask
        do {
            let store = try SQLiteTaskStore(path: path, runID: run)
            task = try await store.create([AgentTask(taskType: .impl, direction: "d", now: Date())], by: "test").value[0]
        }
        // The dead-letter migration undone, the runs migration left applied (a database that got
        // them in the other order).
        let downgrade = """
            PRAGMA foreign_keys = OFF;
            BEGIN;
            CREATE TABLE old_events (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
              kind TEXT NOT NULL CHECK (kind IN ('created','claimed','started','finished','decided','cancelled','retried','rescued','expired','updated')),
              from_status TEXT, to_status TEXT NOT NULL, attempt INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '{}', at REAL NOT NULL,
              run_id TEXT
            ) STRICT;
            INSERT INTO old_events SELECT id, task_id, kind, from_status, to_status, attempt, detail, at, run_id FROM task_events;
            DROP TABLE task_events;
            ALTER TABLE old_events RENAME TO task_events;
            CREATE INDEX task_events_task ON task_events (task_id, id);
            DROP INDEX tasks_parent;
            DELETE FROM grdb_migrations WHERE identifier = '2026-12-02-dead-letter';
            COMMIT;
            """
        try #require(try Self.sqlite3(path, downgrade).status == 0)
        let store = try SQLiteTaskStore(path: path)
        #expect(try await store.events(taskID: task.id).map(\.runID) == [run])
        #expect(try await store.events(inRun: run).map(\.taskID) == [task.id])
        let index = try Self.sqlite3(path, "SELECT name FROM sqlite_master WHERE name = 'task_events_run'")
        #expect(index.output == "task_events_run")
    }

    /// Runs the sqlite3 shell on the database: exit status, output, errors.
    static func sqlite3(_ path: String, _ sql: String) throws -> (status: Int32, output: String, error: String) {
        try Command.sqlite3(path, sql)
    }
}
