import GRDB

extension SQLiteMigrations {
    /// The dead-letter queue: an index that finds a failed task's follow-up (a task naming it
    /// as `parent_id`) without a scan, and `reprocessed` among the event kinds. SQLite cannot
    /// change a CHECK, so `task_events` is rebuilt with the wider list; its AUTOINCREMENT
    /// counter is carried over so that an id is never handed out twice (SSE resumes by id).
    static func registerDeadLetter(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-02-dead-letter") { db in
            let sequence = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'task_events'")
            // A database that has run ids already (the runs migration ran first) keeps them.
            let hasRunID = try Row.fetchAll(db, sql: "PRAGMA table_info(task_events)").contains {
                ($0["name"] as String) == "run_id"
            }
            let runColumn = hasRunID ? ", run_id" : ""
            try db.execute(
                sql: """
                    CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
                    CREATE TABLE task_events_new (
                      id INTEGER PRIMARY KEY AUTOINCREMENT,
                      task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                      kind TEXT NOT NULL CHECK (kind IN ('created','claimed','started','finished','decided','cancelled','retried','reprocessed','rescued','expired','updated')),
                      from_status TEXT CHECK (from_status IS NULL OR from_status IN ('pending','running','needs_decision','completed','failed','cancelled')),
                      to_status TEXT NOT NULL CHECK (to_status IN ('pending','running','needs_decision','completed','failed','cancelled')),
                      attempt INTEGER NOT NULL CHECK (attempt >= 0),
                      detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
                      at REAL NOT NULL,\(hasRunID ? "\n  run_id TEXT," : "")
                      CHECK ((kind = 'created') = (from_status IS NULL))
                    ) STRICT;
                    INSERT INTO task_events_new (id, task_id, kind, from_status, to_status, attempt, detail, at\(runColumn))
                      SELECT id, task_id, kind, from_status, to_status, attempt, detail, at\(runColumn) FROM task_events;
                    DROP TABLE task_events;
                    ALTER TABLE task_events_new RENAME TO task_events;
                    CREATE INDEX task_events_task ON task_events (task_id, id);
                    """)
            if hasRunID {
                try db.execute(
                    sql: "CREATE INDEX task_events_run ON task_events (run_id, kind) WHERE run_id IS NOT NULL")
            }
            if let sequence {
                try db.execute(sql: "DELETE FROM sqlite_sequence WHERE name = 'task_events'")
                try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('task_events', ?)", arguments: [sequence])
            }
        }
    }
}
