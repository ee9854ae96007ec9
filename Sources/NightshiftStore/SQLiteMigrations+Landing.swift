import GRDB

extension SQLiteMigrations {
    /// The merge queue: where each item is in it, the commit range it landed as, its merge
    /// attempts, and the last dry-run merge against the base head. An index finds the queue
    /// (items in it, in backlog order) without a scan of the backlog.
    static func registerLanding(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-03-landing") { db in
            try db.execute(
                sql: """
                    ALTER TABLE backlog_items ADD COLUMN land_state TEXT CHECK (land_state IS NULL OR land_state IN
                      ('queued','rebasing','verifying','landed','conflict','waiting','skipped'));
                    ALTER TABLE backlog_items ADD COLUMN land_attempts INTEGER NOT NULL DEFAULT 0 CHECK (land_attempts >= 0);
                    ALTER TABLE backlog_items ADD COLUMN land_detail TEXT;
                    ALTER TABLE backlog_items ADD COLUMN landed_from TEXT;
                    ALTER TABLE backlog_items ADD COLUMN landed_to TEXT;
                    ALTER TABLE backlog_items ADD COLUMN landed_at REAL;
                    ALTER TABLE backlog_items ADD COLUMN merge_conflicts TEXT CHECK (merge_conflicts IS NULL OR json_valid(merge_conflicts));
                    ALTER TABLE backlog_items ADD COLUMN merge_checked TEXT;
                    ALTER TABLE backlog_items ADD COLUMN land_conflict_base TEXT;
                    CREATE INDEX backlog_items_landing ON backlog_items (position, key)
                      WHERE land_state IN ('queued','rebasing','verifying','conflict','waiting');
                    CREATE INDEX backlog_items_landed ON backlog_items (landed_at) WHERE land_state = 'landed';
                    """)
        }
    }
}
