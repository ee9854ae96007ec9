import Foundation
import GRDB
import NightshiftCore

extension SQLiteMigrations {
    /// Runs (issue 11): a task records the run that created it, an event the run it happened in
    /// (so an attempt's `claimed` event says which night ran it).
    static func registerRuns(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-01-runs") { db in
            try db.execute(
                sql: """
                    ALTER TABLE tasks ADD COLUMN run_id TEXT;
                    ALTER TABLE task_events ADD COLUMN run_id TEXT;
                    CREATE INDEX tasks_run ON tasks (run_id) WHERE run_id IS NOT NULL;
                    CREATE INDEX task_events_run ON task_events (run_id, kind) WHERE run_id IS NOT NULL;
                    """)
        }
    }
}

/// What a run's reports read from the store.
public protocol RunStore: PipelineStore {
    func tasks(inRun runID: String) async throws -> [AgentTask]
    func attempts(inRun runID: String) async throws -> [String: Int]
    func events(inRun runID: String) async throws -> [TaskEventRecord]
    func progress(inRun runID: String) async throws -> RunProgress
    func countByStatus() async throws -> [TaskStatus: Int]
}

/// What a run's end conditions look at, counted in SQL (the run controller asks after every
/// task event).
public struct RunProgress: Sendable, Equatable {
    /// Tasks of the run not ended yet (pending, running or waiting for a decision).
    public var open: Int
    public var running: Int
    /// What the run's tasks report they cost.
    public var spentUSD: Double
    public init(open: Int, running: Int, spentUSD: Double) {
        self.open = open
        self.running = running
        self.spentUSD = spentUSD
    }
}

extension SQLiteTaskStore: RunStore {
    /// Every task the run created or ran an attempt of, oldest first.
    public func tasks(inRun runID: String) async throws -> [AgentTask] {
        try await read { db in
            try Row.fetchCursor(
                db,
                sql: """
                    SELECT * FROM tasks WHERE run_id = ?1
                    UNION
                    SELECT * FROM tasks WHERE id IN (
                      SELECT task_id FROM task_events WHERE run_id = ?1 AND kind = 'claimed')
                    ORDER BY created_at, id
                    """, arguments: [runID]
            ).map { try TaskRecord.decode($0) }.reduce(into: []) { $0.append($1) }
        }
    }

    /// The attempts each task ran in the run (its `claimed` events there).
    public func attempts(inRun runID: String) async throws -> [String: Int] {
        try await read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT task_id, COUNT(*) FROM task_events WHERE run_id = ? AND kind = 'claimed' GROUP BY task_id",
                arguments: [runID])
            {
                out[row[0]] = row[1]
            }
            return out
        }
    }

    public func progress(inRun runID: String) async throws -> RunProgress {
        try await read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(status IN ('pending','running','needs_decision')), 0),
                      COALESCE(SUM(status = 'running'), 0), COALESCE(SUM(cost_usd), 0)
                    FROM tasks WHERE run_id = ?1 OR id IN (
                      SELECT task_id FROM task_events WHERE run_id = ?1 AND kind = 'claimed')
                    """, arguments: [runID])
            return RunProgress(open: row?[0] ?? 0, running: row?[1] ?? 0, spentUSD: row?[2] ?? 0)
        }
    }

    /// Events of the run, oldest first (the run's timeline).
    public func events(inRun runID: String) async throws -> [TaskEventRecord] {
        try await read { db in
            try Self.decodeEvents(
                Row.fetchAll(db, sql: "SELECT * FROM task_events WHERE run_id = ? ORDER BY id", arguments: [runID]))
        }
    }
}
