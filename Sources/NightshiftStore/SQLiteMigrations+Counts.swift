import GRDB

extension SQLiteMigrations {
    /// Task counts by (status, task type), kept by triggers in the statement that changes a
    /// task, so they are exact in every transaction and survive any crash with it. `count`,
    /// `pipeline-status`, the monitor and the list's `total` read these few rows instead of
    /// scanning `tasks`. Rows that fall to zero stay.
    static func registerCounts(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-01-task-counts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE task_counts (
                      status TEXT NOT NULL,
                      task_type TEXT NOT NULL,
                      n INTEGER NOT NULL CHECK (n >= 0),
                      PRIMARY KEY (status, task_type)
                    ) STRICT, WITHOUT ROWID;
                    INSERT INTO task_counts (status, task_type, n)
                      SELECT status, task_type, COUNT(*) FROM tasks GROUP BY status, task_type;
                    CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
                      INSERT INTO task_counts (status, task_type, n) VALUES (new.status, new.task_type, 1)
                        ON CONFLICT (status, task_type) DO UPDATE SET n = n + 1;
                    END;
                    CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
                      UPDATE task_counts SET n = n - 1 WHERE status = old.status AND task_type = old.task_type;
                    END;
                    CREATE TRIGGER task_counts_update AFTER UPDATE OF status, task_type ON tasks
                      WHEN old.status IS NOT new.status OR old.task_type IS NOT new.task_type BEGIN
                      UPDATE task_counts SET n = n - 1 WHERE status = old.status AND task_type = old.task_type;
                      INSERT INTO task_counts (status, task_type, n) VALUES (new.status, new.task_type, 1)
                        ON CONFLICT (status, task_type) DO UPDATE SET n = n + 1;
                    END;
                    """)
        }
    }
}
