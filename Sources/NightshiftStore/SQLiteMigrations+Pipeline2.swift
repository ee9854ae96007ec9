import GRDB

extension SQLiteMigrations {
    /// Counts of backlog items per state, kept by triggers in the transactions that move items,
    /// so the project manager reads four rows instead of counting a large backlog every pass;
    /// and an index for finished items (worktree cleanup looks at the newly finished ones only).
    static func registerPipelineCounts(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-01-backlog-counts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE backlog_counts (
                      state TEXT PRIMARY KEY NOT NULL CHECK (state IN ('queued','active','done','blocked')),
                      n INTEGER NOT NULL CHECK (n >= 0)
                    ) STRICT;
                    INSERT INTO backlog_counts (state, n)
                      SELECT s.state, (SELECT COUNT(*) FROM backlog_items i WHERE i.state = s.state)
                      FROM (SELECT 'queued' AS state UNION ALL SELECT 'active' UNION ALL SELECT 'done' UNION ALL SELECT 'blocked') s;
                    CREATE TRIGGER backlog_counts_insert AFTER INSERT ON backlog_items BEGIN
                      UPDATE backlog_counts SET n = n + 1 WHERE state = NEW.state;
                    END;
                    CREATE TRIGGER backlog_counts_delete AFTER DELETE ON backlog_items BEGIN
                      UPDATE backlog_counts SET n = n - 1 WHERE state = OLD.state;
                    END;
                    CREATE TRIGGER backlog_counts_update AFTER UPDATE OF state ON backlog_items
                    WHEN OLD.state <> NEW.state BEGIN
                      UPDATE backlog_counts SET n = n - 1 WHERE state = OLD.state;
                      UPDATE backlog_counts SET n = n + 1 WHERE state = NEW.state;
                    END;
                    CREATE INDEX backlog_items_finished ON backlog_items (state, finished_at);
                    """)
        }
    }
}
