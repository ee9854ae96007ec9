import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// What a run's reports read (issue 11): the tasks a run created or ran an attempt of.
extension PostgresTaskStore: RunStore {
    /// Tasks of the run: created by it, or claimed in it.
    static func inRun(_ alias: String) -> String {
        "(\(alias).run_id = $1 OR \(alias).id IN (SELECT task_id FROM task_events WHERE run_id = $1 AND kind = 'claimed'))"
    }

    public func tasks(inRun runID: String) async throws -> [AgentTask] {
        try await read { conn in
            var binds = PostgresBindings()
            binds.append(runID)
            return try await Self.tasks(
                conn.query(
                    PostgresQuery(
                        unsafeSQL:
                            "SELECT \(PostgresTaskRow.columns("t")) FROM tasks t WHERE \(Self.inRun("t")) ORDER BY t.created_at, t.id",
                        binds: binds), logger: self.logger))
        }
    }

    public func attempts(inRun runID: String) async throws -> [String: Int] {
        try await read { conn in
            var out: [String: Int] = [:]
            for try await (id, n) in try await conn.query(
                "SELECT task_id, COUNT(*) FROM task_events WHERE run_id = \(runID) AND kind = 'claimed' GROUP BY task_id",
                logger: self.logger
            ).decode((String, Int).self) {
                out[id] = n
            }
            return out
        }
    }

    public func progress(inRun runID: String) async throws -> RunProgress {
        try await read { conn in
            var binds = PostgresBindings()
            binds.append(runID)
            let rows = try await conn.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT COUNT(*) FILTER (WHERE t.status IN ('pending','running','needs_decision')),
                          COUNT(*) FILTER (WHERE t.status = 'running'), COALESCE(SUM(t.cost_usd), 0)::double precision
                        FROM tasks t WHERE \(Self.inRun("t"))
                        """, binds: binds), logger: self.logger)
            for try await (open, running, spent) in rows.decode((Int, Int, Double).self) {
                return RunProgress(open: open, running: running, spentUSD: spent)
            }
            return RunProgress(open: 0, running: 0, spentUSD: 0)
        }
    }

    public func events(inRun runID: String) async throws -> [TaskEventRecord] {
        try await read { conn in
            try await Self.events(
                conn.query(
                    "SELECT \(unescaped: Self.eventColumns) FROM task_events WHERE run_id = \(runID) ORDER BY id",
                    logger: self.logger))
        }
    }
}
