import Foundation

extension PostgresMigrations {
    /// The tables of the daemon's services beyond the task queue (issue 17, phase 2): monitor
    /// issues, ingested logs, the merge queue's columns, and the index the monitor's oldest
    /// runnable task reads. Each mirrors its SQLite migration's invariants.
    static let services: [Migration] = [
        Migration(
            name: "2026-12-11-monitor-issues",
            sql: """
                CREATE TABLE monitor_issues (
                  id text COLLATE "C" PRIMARY KEY,
                  condition text COLLATE "C" NOT NULL,
                  subject text COLLATE "C" NOT NULL,
                  severity text NOT NULL CHECK (severity IN ('low','medium','high','critical')),
                  message text NOT NULL,
                  suggested_action text NOT NULL,
                  first_seen double precision NOT NULL,
                  last_seen double precision NOT NULL,
                  count bigint NOT NULL CHECK (count >= 1),
                  resolved_at double precision,
                  heal_task_id text COLLATE "C" REFERENCES tasks(id) ON DELETE SET NULL,
                  notified_at double precision
                );
                CREATE UNIQUE INDEX monitor_issues_open ON monitor_issues (condition, subject) WHERE resolved_at IS NULL;
                CREATE INDEX monitor_issues_resolved ON monitor_issues (resolved_at);
                CREATE INDEX tasks_pending_since ON tasks ((\(runnableSince))) WHERE status = 'pending';
                """),
        Migration(
            name: "2026-12-11-logs",
            sql: """
                CREATE TABLE log_runs (
                  id text COLLATE "C" PRIMARY KEY CHECK (char_length(id) = 24 AND starts_with(id, 'run_')),
                  created_at double precision NOT NULL,
                  callback_url text,
                  tokens_used bigint NOT NULL DEFAULT 0 CHECK (tokens_used >= 0)
                );
                CREATE INDEX log_runs_created ON log_runs (created_at, id);
                CREATE TABLE log_lines (
                  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                  run_id text COLLATE "C" NOT NULL REFERENCES log_runs (id) ON DELETE CASCADE,
                  at double precision NOT NULL,
                  received_at double precision NOT NULL,
                  level text NOT NULL CHECK (char_length(level) BETWEEN 1 AND 16),
                  source text NOT NULL CHECK (char_length(source) BETWEEN 1 AND 128),
                  message text NOT NULL,
                  fingerprint text COLLATE "C",
                  bytes bigint NOT NULL
                );
                CREATE INDEX log_lines_run ON log_lines (run_id, id);
                CREATE INDEX log_lines_received ON log_lines (received_at);
                CREATE TABLE log_fingerprints (
                  run_id text COLLATE "C" NOT NULL REFERENCES log_runs (id) ON DELETE CASCADE,
                  fingerprint text COLLATE "C" NOT NULL CHECK (char_length(fingerprint) = 19 AND starts_with(fingerprint, 'fp_')),
                  rule_id text NOT NULL,
                  severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
                  template text NOT NULL,
                  mask_version bigint NOT NULL,
                  count bigint NOT NULL CHECK (count >= 1),
                  first_seen double precision NOT NULL,
                  last_seen double precision NOT NULL,
                  sources jsonb NOT NULL CHECK (jsonb_typeof(sources) = 'array'),
                  examples jsonb NOT NULL CHECK (jsonb_typeof(examples) = 'array'),
                  notified_at double precision,
                  PRIMARY KEY (run_id, fingerprint)
                );
                CREATE INDEX log_fingerprints_last_seen ON log_fingerprints (last_seen);
                """),
        Migration(
            name: "2026-12-11-landing",
            sql: """
                ALTER TABLE backlog_items
                  ADD COLUMN land_state text CHECK (land_state IS NULL OR land_state IN
                    ('queued','rebasing','verifying','landed','conflict','waiting','skipped')),
                  ADD COLUMN land_attempts bigint NOT NULL DEFAULT 0 CHECK (land_attempts >= 0),
                  ADD COLUMN land_detail text,
                  ADD COLUMN landed_from text,
                  ADD COLUMN landed_to text,
                  ADD COLUMN landed_at double precision,
                  ADD COLUMN merge_conflicts jsonb CHECK (merge_conflicts IS NULL OR jsonb_typeof(merge_conflicts) = 'array'),
                  ADD COLUMN merge_checked text,
                  ADD COLUMN land_conflict_base text;
                CREATE INDEX backlog_items_landing ON backlog_items (position, key)
                  WHERE land_state IN ('queued','rebasing','verifying','conflict','waiting');
                CREATE INDEX backlog_items_landed ON backlog_items (landed_at) WHERE land_state = 'landed';
                """),
    ]

    /// When a pending task became runnable: the latest of its creation, its backoff, its last
    /// end and the decision that sent it back (SQLite's `runnableSince`).
    static let runnableSince =
        "GREATEST(created_at, COALESCE(not_before, 0), COALESCE(finished_at, 0), COALESCE(decided_at, 0))"
}
