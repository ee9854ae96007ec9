import Foundation
import GRDB
import NightshiftCore

extension SQLiteMigrations {
    /// Real agents (issue 12): live metering columns on `tasks`, a spend ledger kept by a
    /// trigger (every change of a task's `cost_usd`, so a day's spend is exact across runs and
    /// restarts), and executors paused by a usage limit (durable, so a restart does not start
    /// tasks only to hit the same wall).
    static func registerAgents(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-03-agents") { db in
            try db.execute(
                sql: """
                    ALTER TABLE tasks ADD COLUMN turns INTEGER;
                    ALTER TABLE tasks ADD COLUMN tokens_cache_read INTEGER;
                    ALTER TABLE tasks ADD COLUMN tokens_cache_write INTEGER;
                    ALTER TABLE tasks ADD COLUMN last_tool TEXT;
                    ALTER TABLE tasks ADD COLUMN last_event_at REAL;
                    ALTER TABLE tasks ADD COLUMN cost_source TEXT;
                    ALTER TABLE tasks ADD COLUMN session_id TEXT;
                    ALTER TABLE tasks ADD COLUMN model TEXT;
                    ALTER TABLE tasks ADD COLUMN budget_usd REAL;
                    CREATE TABLE spend (
                      id INTEGER PRIMARY KEY,
                      task_id TEXT NOT NULL,
                      at REAL NOT NULL,
                      usd REAL NOT NULL
                    ) STRICT;
                    CREATE INDEX spend_at ON spend (at);
                    INSERT INTO spend (task_id, at, usd)
                      SELECT id, COALESCE(finished_at, updated_at), cost_usd FROM tasks WHERE COALESCE(cost_usd, 0) != 0;
                    CREATE TRIGGER spend_insert AFTER INSERT ON tasks WHEN COALESCE(new.cost_usd, 0) != 0 BEGIN
                      INSERT INTO spend (task_id, at, usd) VALUES (new.id, new.updated_at, new.cost_usd);
                    END;
                    CREATE TRIGGER spend_update AFTER UPDATE OF cost_usd ON tasks
                      WHEN COALESCE(new.cost_usd, 0) != COALESCE(old.cost_usd, 0) BEGIN
                      INSERT INTO spend (task_id, at, usd)
                        VALUES (new.id, new.updated_at, COALESCE(new.cost_usd, 0) - COALESCE(old.cost_usd, 0));
                    END;
                    CREATE TABLE executor_pauses (
                      executor TEXT PRIMARY KEY,
                      until REAL NOT NULL,
                      reason TEXT NOT NULL,
                      task_id TEXT,
                      consecutive INTEGER NOT NULL DEFAULT 1,
                      created_at REAL NOT NULL
                    ) STRICT;
                    """)
        }
    }
}

extension SQLiteTaskStore {
    public func meter(id: String, owner: String, reading r: MeterReading, now: Date) async throws -> AgentTask {
        try await write { db in
            let stmt = try db.cachedStatement(
                sql: """
                    UPDATE tasks SET cost_usd = ?1, cost_source = ?2, tokens_in = ?3, tokens_out = ?4,
                      tokens_cache_read = ?5, tokens_cache_write = ?6, turns = ?7, last_tool = COALESCE(?8, last_tool),
                      last_event_at = COALESCE(?9, last_event_at), session_id = COALESCE(?10, session_id),
                      model = COALESCE(?11, model), updated_at = ?12
                    WHERE id = ?13 AND status = 'running' AND claimed_by = ?14 RETURNING *
                    """)
            let args: StatementArguments = [
                r.costUSD, r.costSource, r.tokensIn, r.tokensOut, r.tokensCacheRead, r.tokensCacheWrite, r.turns, r.lastTool,
                r.lastEventAt?.timeIntervalSince1970, r.sessionID, r.model, now.timeIntervalSince1970, id, owner,
            ]
            if let updated = try Self.fetchTask(stmt, arguments: args) { return updated }
            throw try Self.lostClaim(db, id, owner)
        }
    }

    public func spentUSD(since: Date) async throws -> Double {
        try await read { db in
            try Double.fetchOne(
                db, sql: "SELECT COALESCE(SUM(usd), 0) FROM spend WHERE at >= ?", arguments: [since.timeIntervalSince1970]) ?? 0
        }
    }

    public func pauseExecutor(
        _ executor: String, until: Date, reason: String, taskID: String?, now: Date
    ) async throws
        -> ExecutorPause
    {
        try await write { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    INSERT INTO executor_pauses (executor, until, reason, task_id, consecutive, created_at)
                      VALUES (?1, ?2, ?3, ?4, 1, ?5)
                    ON CONFLICT (executor) DO UPDATE SET until = MAX(until, excluded.until), reason = excluded.reason,
                      task_id = excluded.task_id, consecutive = consecutive + 1
                    RETURNING executor, until, reason, task_id, consecutive, created_at
                    """,
                arguments: [executor, until.timeIntervalSince1970, reason, taskID, now.timeIntervalSince1970])
            guard let row else { throw StoreError(.unavailable, "pausing \(executor) returned nothing") }
            return Self.pause(row)
        }
    }

    public func executorPauses() async throws -> [ExecutorPause] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT executor, until, reason, task_id, consecutive, created_at FROM executor_pauses ORDER BY executor"
            ).map(Self.pause)
        }
    }

    public func clearExecutorPause(_ executor: String, ifUntilBefore cutoff: Date?) async throws -> Bool {
        try await write { db in
            if let cutoff {
                try db.execute(
                    sql: "DELETE FROM executor_pauses WHERE executor = ? AND until <= ?",
                    arguments: [executor, cutoff.timeIntervalSince1970])
            } else {
                try db.execute(sql: "DELETE FROM executor_pauses WHERE executor = ?", arguments: [executor])
            }
            return db.changesCount > 0
        }
    }

    static func pause(_ row: Row) -> ExecutorPause {
        ExecutorPause(
            executor: row[0], until: Date(timeIntervalSince1970: row[1]), reason: row[2], taskID: row[3], consecutive: row[4],
            since: Date(timeIntervalSince1970: row[5]))
    }

    public func decline(
        id: String, errorClass: ErrorClass, reason: String, by actor: Actor, now: Date
    ) async throws -> Changes<
        AgentTask
    > {
        let t = now.timeIntervalSince1970
        return try await journaled(now: now) { db, journal in
            let after = try Self.transition(
                db, id: id, event: .decline, kind: .decided, journal: journal,
                detail: [
                    "decision": .string(String(reason.prefix(500))), "by": .string(actor), "outcome": .string("declined"),
                    "error_class": .string(errorClass.rawValue),
                ],
                set: "error_class = ?, error = ?, decision = ?, decided_at = ?, finished_at = ?, updated_at = ?",
                arguments: [errorClass.rawValue, "declined: \(reason)", reason, t, t, t])
            if let hook = self.pipeline { _ = try Self.advance(db, after: after, hook: hook, now: now, journal: journal) }
            return after
        }
    }
}
