import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// Real agents (issue 12): live metering, the spend ledger, executors paused by a usage limit.
extension PostgresTaskStore {
    public func meter(id: String, owner: String, reading r: MeterReading, now: Date) async throws -> AgentTask {
        try await transaction { conn in
            let rows = try await conn.query(
                """
                UPDATE tasks SET cost_usd = \(r.costUSD), cost_source = \(r.costSource), tokens_in = \(r.tokensIn),
                  tokens_out = \(r.tokensOut), tokens_cache_read = \(r.tokensCacheRead),
                  tokens_cache_write = \(r.tokensCacheWrite), turns = \(r.turns), last_tool = COALESCE(\(r.lastTool), last_tool),
                  last_event_at = COALESCE(\(r.lastEventAt?.timeIntervalSince1970), last_event_at),
                  session_id = COALESCE(\(r.sessionID), session_id), model = COALESCE(\(r.model), model),
                  updated_at = \(now.timeIntervalSince1970)
                WHERE id = \(id) AND status = 'running' AND claimed_by = \(owner)
                RETURNING \(unescaped: PostgresTaskRow.all)
                """, logger: self.logger)
            if let updated = try await Self.firstTask(rows) { return updated }
            throw try await self.lostClaim(conn, id, owner)
        }
    }

    public func spentUSD(since: Date) async throws -> Double {
        try await read { conn in
            let rows = try await conn.query(
                "SELECT COALESCE(SUM(usd), 0)::double precision FROM spend WHERE at >= \(since.timeIntervalSince1970)",
                logger: self.logger)
            for try await usd in rows.decode(Double.self) { return usd }
            return 0
        }
    }

    public func pauseExecutor(
        _ executor: String, until: Date, reason: String, taskID: String?, now: Date
    ) async throws -> ExecutorPause {
        try await read { conn in
            let rows = try await conn.query(
                """
                INSERT INTO executor_pauses (executor, until, reason, task_id, consecutive, created_at)
                  VALUES (\(executor), \(until.timeIntervalSince1970), \(reason), \(taskID), 1, \(now.timeIntervalSince1970))
                ON CONFLICT (executor) DO UPDATE SET until = GREATEST(executor_pauses.until, excluded.until),
                  reason = excluded.reason, task_id = excluded.task_id, consecutive = executor_pauses.consecutive + 1
                RETURNING \(unescaped: Self.pauseColumns)
                """, logger: self.logger)
            guard let pause = try await Self.pauses(rows).first else {
                throw StoreError(.unavailable, "pausing \(executor) returned nothing")
            }
            return pause
        }
    }

    public func executorPauses() async throws -> [ExecutorPause] {
        try await read { conn in
            try await Self.pauses(
                conn.query("SELECT \(unescaped: Self.pauseColumns) FROM executor_pauses ORDER BY executor", logger: self.logger))
        }
    }

    public func clearExecutorPause(_ executor: String, ifUntilBefore cutoff: Date?) async throws -> Bool {
        try await read { conn in
            let removed = try await self.int(
                conn,
                """
                WITH d AS (
                  DELETE FROM executor_pauses
                  WHERE executor = \(executor) AND (\(cutoff?.timeIntervalSince1970)::double precision IS NULL
                    OR until <= \(cutoff?.timeIntervalSince1970))
                  RETURNING 1)
                SELECT COUNT(*) FROM d
                """)
            return removed > 0
        }
    }

    static let pauseColumns = "executor, until, reason, task_id, consecutive, created_at"

    static func pauses(_ rows: PostgresRowSequence) async throws -> [ExecutorPause] {
        var out: [ExecutorPause] = []
        for try await (executor, until, reason, taskID, consecutive, since) in rows.decode(
            (String, Double, String, String?, Int, Double).self)
        {
            out.append(
                ExecutorPause(
                    executor: executor, until: Date(timeIntervalSince1970: until), reason: reason, taskID: taskID,
                    consecutive: consecutive, since: Date(timeIntervalSince1970: since)))
        }
        return out
    }
}
