import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema, as named migrations recorded in `schema_migrations`. A shipped
/// migration never changes: add a new one instead. It mirrors the SQLite schema's invariants
/// (CHECKs, foreign keys, the one open task per backlog item, the kept counts and the spend
/// ledger kept by triggers) so that both stores refuse the same rows. Times are `double
/// precision` Unix seconds, as SQLite's REAL, so a task reads back bit for bit the same.
/// Identifiers and keys use the "C" collation: ordering by id is bytewise on every server.
enum PostgresMigrations {
    struct Migration: Sendable {
        var name: String
        /// Statements separated by `;` at the end of a line (function bodies between `$$` may
        /// hold their own): the extended protocol runs one statement per query.
        var sql: String

        var statements: [String] {
            var out: [String] = []
            var current: [Substring] = []
            var inBody = false
            for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
                current.append(line)
                if line.components(separatedBy: "$$").count % 2 == 0 { inBody.toggle() }
                if !inBody, line.hasSuffix(";") {
                    out.append(current.joined(separator: "\n"))
                    current = []
                }
            }
            let rest = current.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            if !rest.isEmpty { out.append(rest) }
            return out
        }
    }

    static let statuses = "'pending','running','needs_decision','completed','failed','cancelled'"
    static let kinds =
        "'created','claimed','started','finished','decided','cancelled','retried','reprocessed','rescued','expired','updated'"

    /// Every migration, in the order they apply.
    static let all: [Migration] = core + services + [nodes, logRecurrence]

    static let core: [Migration] = [
        Migration(
            name: "2026-12-10-tasks",
            sql: """
                CREATE TABLE tasks (
                  id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^task_[0-9a-f]{16}$'),
                  task_type text COLLATE "C" NOT NULL CHECK (task_type ~ '^[a-z][a-z0-9_-]{0,31}$'),
                  direction text NOT NULL CHECK (char_length(direction) BETWEEN 1 AND 5000),
                  status text COLLATE "C" NOT NULL CHECK (status IN (\(statuses))),
                  priority bigint NOT NULL DEFAULT 0,
                  not_before double precision,
                  attempt bigint NOT NULL DEFAULT 0 CHECK (attempt >= 0),
                  max_attempts bigint NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
                  executor text,
                  command text,
                  claimed_by text,
                  lease_expires_at double precision,
                  heartbeat_at double precision,
                  pid bigint,
                  pgid bigint,
                  decision_prompt text,
                  decision text,
                  decided_at double precision,
                  exit_code bigint,
                  error text,
                  error_class text COLLATE "C",
                  output_tail text,
                  log_path text,
                  summary text,
                  verdict text CHECK (verdict IS NULL OR verdict IN ('pass','fail')),
                  feedback text,
                  cost_usd double precision,
                  tokens_in bigint,
                  tokens_out bigint,
                  backlog_item text COLLATE "C",
                  phase text COLLATE "C",
                  iteration bigint,
                  parent_id text COLLATE "C" REFERENCES tasks(id) ON DELETE SET NULL DEFERRABLE INITIALLY IMMEDIATE,
                  depends_on jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(depends_on) = 'array'),
                  context jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(context) = 'object'),
                  created_at double precision NOT NULL,
                  updated_at double precision NOT NULL,
                  started_at double precision,
                  finished_at double precision,
                  run_id text COLLATE "C",
                  turns bigint,
                  tokens_cache_read bigint,
                  tokens_cache_write bigint,
                  last_tool text,
                  last_event_at double precision,
                  cost_source text,
                  session_id text,
                  model text,
                  budget_usd double precision,
                  CHECK (status <> 'running' OR (claimed_by IS NOT NULL AND lease_expires_at IS NOT NULL)),
                  CHECK (status <> 'needs_decision' OR decision_prompt IS NOT NULL)
                );
                CREATE INDEX tasks_runnable ON tasks (priority DESC, created_at, id) WHERE status = 'pending';
                CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE status = 'running';
                CREATE INDEX tasks_created ON tasks (created_at DESC, id DESC);
                CREATE INDEX tasks_status_created ON tasks (status, created_at DESC, id DESC);
                CREATE INDEX tasks_type_created ON tasks (task_type, created_at DESC, id DESC);
                CREATE INDEX tasks_finished ON tasks (finished_at DESC) WHERE status IN ('completed','failed');
                CREATE INDEX tasks_backlog_item ON tasks (backlog_item) WHERE backlog_item IS NOT NULL;
                CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
                CREATE INDEX tasks_run ON tasks (run_id) WHERE run_id IS NOT NULL;
                CREATE INDEX tasks_ended ON tasks (status, (COALESCE(finished_at, updated_at)))
                  WHERE status IN ('completed','failed','cancelled');
                CREATE UNIQUE INDEX tasks_one_open_per_item ON tasks (backlog_item)
                  WHERE backlog_item IS NOT NULL AND status IN ('pending','running','needs_decision');
                """),
        Migration(
            name: "2026-12-10-task-events",
            sql: """
                CREATE TABLE task_events (
                  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                  task_id text COLLATE "C" NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                  kind text NOT NULL CHECK (kind IN (\(kinds))),
                  from_status text CHECK (from_status IS NULL OR from_status IN (\(statuses))),
                  to_status text NOT NULL CHECK (to_status IN (\(statuses))),
                  attempt bigint NOT NULL CHECK (attempt >= 0),
                  detail jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
                  at double precision NOT NULL,
                  run_id text COLLATE "C",
                  CHECK ((kind = 'created') = (from_status IS NULL))
                );
                CREATE INDEX task_events_task ON task_events (task_id, id);
                CREATE INDEX task_events_run ON task_events (run_id, kind) WHERE run_id IS NOT NULL;
                """),
        Migration(
            name: "2026-12-10-task-counts",
            sql: """
                CREATE TABLE task_counts (
                  status text COLLATE "C" NOT NULL,
                  task_type text COLLATE "C" NOT NULL,
                  n bigint NOT NULL CHECK (n >= 0),
                  PRIMARY KEY (status, task_type)
                );
                CREATE FUNCTION task_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP IN ('UPDATE', 'DELETE') THEN
                    UPDATE task_counts SET n = n - 1 WHERE status = OLD.status AND task_type = OLD.task_type;
                  END IF;
                  IF TG_OP IN ('UPDATE', 'INSERT') THEN
                    INSERT INTO task_counts (status, task_type, n) VALUES (NEW.status, NEW.task_type, 1)
                      ON CONFLICT (status, task_type) DO UPDATE SET n = task_counts.n + 1;
                  END IF;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION task_counts_keep();
                CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION task_counts_keep();
                CREATE TRIGGER task_counts_update AFTER UPDATE OF status, task_type ON tasks FOR EACH ROW
                  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.task_type IS DISTINCT FROM NEW.task_type)
                  EXECUTE FUNCTION task_counts_keep();
                """),
        Migration(
            name: "2026-12-10-spend",
            sql: """
                CREATE TABLE spend (
                  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                  task_id text COLLATE "C" NOT NULL,
                  at double precision NOT NULL,
                  usd double precision NOT NULL
                );
                CREATE INDEX spend_at ON spend (at);
                CREATE FUNCTION spend_keep() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'INSERT' THEN
                    INSERT INTO spend (task_id, at, usd) VALUES (NEW.id, NEW.updated_at, NEW.cost_usd);
                  ELSE
                    INSERT INTO spend (task_id, at, usd)
                      VALUES (NEW.id, NEW.updated_at, COALESCE(NEW.cost_usd, 0) - COALESCE(OLD.cost_usd, 0));
                  END IF;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER spend_insert AFTER INSERT ON tasks FOR EACH ROW
                  WHEN (COALESCE(NEW.cost_usd, 0) <> 0) EXECUTE FUNCTION spend_keep();
                CREATE TRIGGER spend_update AFTER UPDATE OF cost_usd ON tasks FOR EACH ROW
                  WHEN (COALESCE(NEW.cost_usd, 0) <> COALESCE(OLD.cost_usd, 0)) EXECUTE FUNCTION spend_keep();
                CREATE TABLE executor_pauses (
                  executor text COLLATE "C" PRIMARY KEY,
                  until double precision NOT NULL,
                  reason text NOT NULL,
                  task_id text,
                  consecutive bigint NOT NULL DEFAULT 1,
                  created_at double precision NOT NULL
                );
                """),
        Migration(
            name: "2026-12-10-backlog",
            sql: """
                CREATE TABLE backlog_items (
                  key text COLLATE "C" PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 200),
                  position bigint NOT NULL,
                  title text NOT NULL,
                  body text NOT NULL,
                  after jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(after) = 'array'),
                  slug text COLLATE "C" NOT NULL UNIQUE,
                  state text NOT NULL CHECK (state IN ('queued','active','done','blocked')),
                  phase text,
                  iteration bigint NOT NULL DEFAULT 0,
                  current_task_id text COLLATE "C" REFERENCES tasks(id) ON DELETE SET NULL,
                  blocked_reason text,
                  workdir text,
                  branch text,
                  last_summary text,
                  created_at double precision NOT NULL,
                  updated_at double precision NOT NULL,
                  started_at double precision,
                  finished_at double precision,
                  CHECK (state <> 'blocked' OR blocked_reason IS NOT NULL)
                );
                CREATE INDEX backlog_items_state ON backlog_items (state, position);
                CREATE INDEX backlog_items_finished ON backlog_items (state, finished_at);
                CREATE TABLE backlog_counts (
                  state text PRIMARY KEY CHECK (state IN ('queued','active','done','blocked')),
                  n bigint NOT NULL CHECK (n >= 0)
                );
                INSERT INTO backlog_counts (state, n) VALUES ('queued', 0), ('active', 0), ('done', 0), ('blocked', 0);
                CREATE FUNCTION backlog_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP IN ('UPDATE', 'DELETE') THEN
                    UPDATE backlog_counts SET n = n - 1 WHERE state = OLD.state;
                  END IF;
                  IF TG_OP IN ('UPDATE', 'INSERT') THEN
                    UPDATE backlog_counts SET n = n + 1 WHERE state = NEW.state;
                  END IF;
                  RETURN NULL;
                END $$;
                CREATE TRIGGER backlog_counts_insert AFTER INSERT ON backlog_items FOR EACH ROW
                  EXECUTE FUNCTION backlog_counts_keep();
                CREATE TRIGGER backlog_counts_delete AFTER DELETE ON backlog_items FOR EACH ROW
                  EXECUTE FUNCTION backlog_counts_keep();
                CREATE TRIGGER backlog_counts_update AFTER UPDATE OF state ON backlog_items FOR EACH ROW
                  WHEN (OLD.state <> NEW.state) EXECUTE FUNCTION backlog_counts_keep();
                CREATE TABLE pm_state (
                  key text PRIMARY KEY,
                  value text NOT NULL
                );
                """),
    ]

    /// Applies the migrations not applied yet, each in its own transaction, under an advisory
    /// lock so that daemons starting together on one database migrate it once.
    static func migrate(_ connection: PostgresConnection, schema: String?, logger: Logger) async throws {
        let lock: PostgresQuery = "SELECT pg_advisory_lock(\(lockKey), hashtext(\(schema ?? "public")))"
        let unlock: PostgresQuery = "SELECT pg_advisory_unlock(\(lockKey), hashtext(\(schema ?? "public")))"
        try await connection.query(lock, logger: logger)
        do {
            if let schema {
                // Under the lock: two sessions creating one schema at once would collide.
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \"\(schema)\""), logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: "SET search_path TO \"\(schema)\""), logger: logger)
            }
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                  name text COLLATE "C" PRIMARY KEY,
                  applied_at timestamptz NOT NULL DEFAULT now(),
                  position bigint GENERATED ALWAYS AS IDENTITY UNIQUE
                )
                """, logger: logger)
            let applied = try await appliedNames(connection, logger: logger)
            for m in all where !applied.contains(m.name) {
                try await connection.query("BEGIN", logger: logger)
                do {
                    for statement in m.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO schema_migrations (name) VALUES (\(m.name))", logger: logger)
                    try await connection.query("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        } catch {
            _ = try? await connection.query(unlock, logger: logger)
            throw error
        }
        try await connection.query(unlock, logger: logger)
    }

    static func appliedNames(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var names: [String] = []
        for try await name in try await connection.query(
            "SELECT name FROM schema_migrations ORDER BY position", logger: logger
        ).decode(String.self) {
            names.append(name)
        }
        return names
    }

    /// The advisory lock migrations hold, with the schema's hash ("nsmg"): daemons starting
    /// together on one schema migrate it once; stores in other schemas do not wait.
    static let lockKey: Int32 = 0x6E73_6D67
}
