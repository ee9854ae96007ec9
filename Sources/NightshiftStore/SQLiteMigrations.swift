import GRDB

/// Named migrations. A shipped migration never changes: add a new one instead.
enum SQLiteMigrations {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("2026-11-21-tasks") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tasks (
                      id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 21 AND id GLOB 'task_[0-9a-f]*'),
                      task_type TEXT NOT NULL CHECK (length(task_type) BETWEEN 1 AND 32 AND task_type GLOB '[a-z]*'
                                                     AND task_type NOT GLOB '*[^a-z0-9_-]*'),
                      direction TEXT NOT NULL CHECK (length(direction) BETWEEN 1 AND 5000),
                      status TEXT NOT NULL CHECK (status IN ('pending','running','needs_decision','completed','failed','cancelled')),
                      priority INTEGER NOT NULL DEFAULT 0,
                      not_before REAL,
                      attempt INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
                      max_attempts INTEGER NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
                      executor TEXT,
                      command TEXT,
                      claimed_by TEXT,
                      lease_expires_at REAL,
                      heartbeat_at REAL,
                      pid INTEGER,
                      pgid INTEGER,
                      decision_prompt TEXT,
                      decision TEXT,
                      decided_at REAL,
                      exit_code INTEGER,
                      error TEXT,
                      error_class TEXT,
                      output_tail TEXT,
                      log_path TEXT,
                      summary TEXT,
                      verdict TEXT CHECK (verdict IS NULL OR verdict IN ('pass','fail')),
                      feedback TEXT,
                      cost_usd REAL,
                      tokens_in INTEGER,
                      tokens_out INTEGER,
                      backlog_item TEXT,
                      phase TEXT,
                      iteration INTEGER,
                      parent_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
                      depends_on TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(depends_on)),
                      context TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(context)),
                      created_at REAL NOT NULL,
                      updated_at REAL NOT NULL,
                      started_at REAL,
                      finished_at REAL,
                      CHECK (status <> 'running' OR (claimed_by IS NOT NULL AND lease_expires_at IS NOT NULL)),
                      CHECK (status <> 'needs_decision' OR decision_prompt IS NOT NULL)
                    ) STRICT;
                    CREATE INDEX tasks_runnable ON tasks (priority DESC, created_at, id) WHERE status = 'pending';
                    CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE status = 'running';
                    CREATE INDEX tasks_created ON tasks (created_at DESC, id DESC);
                    CREATE INDEX tasks_status_created ON tasks (status, created_at DESC, id DESC);
                    CREATE INDEX tasks_type_created ON tasks (task_type, created_at DESC, id DESC);
                    CREATE INDEX tasks_finished ON tasks (finished_at DESC) WHERE status IN ('completed','failed');
                    CREATE INDEX tasks_backlog_item ON tasks (backlog_item) WHERE backlog_item IS NOT NULL;
                    """)
        }
        registerPipeline(&m)
        registerMonitor(&m)
        registerEvents(&m)
        registerCounts(&m)
        registerReadPath(&m)
        registerPipelineCounts(&m)
        registerDeadLetter(&m)
        registerRuns(&m)
        registerLogs(&m)
        registerAgents(&m)
        registerLanding(&m)
        registerNodes(&m)
        return m
    }
}

extension SQLiteMigrations {
    /// The project manager's tables: imported backlog items and a small key/value state.
    static func registerPipeline(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-11-21-backlog") { db in
            try db.execute(
                sql: """
                    CREATE TABLE backlog_items (
                      key TEXT PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
                      position INTEGER NOT NULL,
                      title TEXT NOT NULL,
                      body TEXT NOT NULL,
                      after TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(after)),
                      slug TEXT NOT NULL UNIQUE,
                      state TEXT NOT NULL CHECK (state IN ('queued','active','done','blocked')),
                      phase TEXT,
                      iteration INTEGER NOT NULL DEFAULT 0,
                      current_task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
                      blocked_reason TEXT,
                      workdir TEXT,
                      branch TEXT,
                      last_summary TEXT,
                      created_at REAL NOT NULL,
                      updated_at REAL NOT NULL,
                      started_at REAL,
                      finished_at REAL,
                      CHECK (state <> 'blocked' OR blocked_reason IS NOT NULL)
                    ) STRICT;
                    CREATE INDEX backlog_items_state ON backlog_items (state, position);
                    CREATE UNIQUE INDEX tasks_one_open_per_item ON tasks (backlog_item)
                      WHERE backlog_item IS NOT NULL AND status IN ('pending','running','needs_decision');
                    CREATE TABLE pm_state (
                      key TEXT PRIMARY KEY NOT NULL,
                      value TEXT NOT NULL
                    ) STRICT;
                    """)
        }
    }
}

extension SQLiteMigrations {
    /// Monitor issues: at most one open per (condition, subject).
    static func registerMonitor(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-11-21-monitor-issues") { db in
            try db.execute(
                sql: """
                    CREATE TABLE monitor_issues (
                      id TEXT PRIMARY KEY NOT NULL,
                      condition TEXT NOT NULL,
                      subject TEXT NOT NULL,
                      severity TEXT NOT NULL CHECK (severity IN ('low','medium','high','critical')),
                      message TEXT NOT NULL,
                      suggested_action TEXT NOT NULL,
                      first_seen REAL NOT NULL,
                      last_seen REAL NOT NULL,
                      count INTEGER NOT NULL CHECK (count >= 1),
                      resolved_at REAL,
                      heal_task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
                      notified_at REAL
                    ) STRICT;
                    CREATE UNIQUE INDEX monitor_issues_open ON monitor_issues (condition, subject) WHERE resolved_at IS NULL;
                    CREATE INDEX monitor_issues_resolved ON monitor_issues (resolved_at);
                    """)
        }
    }
}

extension SQLiteMigrations {
    /// Every task's durable history: one row per transition, appended in the transaction that
    /// made it. AUTOINCREMENT keeps ids monotonic even after old rows are pruned, so a reader
    /// resuming after an id (SSE Last-Event-ID) never sees one reused.
    static func registerEvents(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-01-task-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE task_events (
                      id INTEGER PRIMARY KEY AUTOINCREMENT,
                      task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                      kind TEXT NOT NULL CHECK (kind IN ('created','claimed','started','finished','decided','cancelled','retried','rescued','expired','updated')),
                      from_status TEXT CHECK (from_status IS NULL OR from_status IN ('pending','running','needs_decision','completed','failed','cancelled')),
                      to_status TEXT NOT NULL CHECK (to_status IN ('pending','running','needs_decision','completed','failed','cancelled')),
                      attempt INTEGER NOT NULL CHECK (attempt >= 0),
                      detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
                      at REAL NOT NULL,
                      CHECK ((kind = 'created') = (from_status IS NULL))
                    ) STRICT;
                    CREATE INDEX task_events_task ON task_events (task_id, id);
                    """)
        }
    }
}
