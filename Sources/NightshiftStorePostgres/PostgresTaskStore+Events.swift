import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// The task history and retention.
extension PostgresTaskStore {
    static let eventColumns = "id, task_id, kind, from_status, to_status, attempt, detail::text, at, run_id"

    static func events(_ rows: PostgresRowSequence) async throws -> [TaskEventRecord] {
        var out: [TaskEventRecord] = []
        for try await (id, taskID, kindText, fromText, toText, attempt, detailText, at, runID) in rows.decode(
            (Int64, String, String, String?, String, Int, String, Double, String?).self)
        {
            guard let kind = TaskEventKind(rawValue: kindText), let to = TaskStatus(rawValue: toText) else {
                throw StoreError(.unavailable, "task_events row \(id) has an unknown kind or status")
            }
            let detail = (try? JSONDecoder().decode([String: JSONValue].self, from: Data(detailText.utf8))) ?? [:]
            out.append(
                TaskEventRecord(
                    id: id, taskID: taskID, kind: kind, fromStatus: fromText.flatMap(TaskStatus.init), toStatus: to,
                    attempt: attempt, detail: detail, at: Date(timeIntervalSince1970: at), runID: runID))
        }
        return out
    }

    public func events(taskID: String) async throws -> [TaskEventRecord] {
        try await read { conn in
            guard try await self.int(conn, "SELECT COUNT(*) FROM tasks WHERE id = \(taskID)") > 0 else {
                throw StoreError.notFound(taskID)
            }
            return try await Self.events(
                conn.query(
                    "SELECT \(unescaped: Self.eventColumns) FROM task_events WHERE task_id = \(taskID) ORDER BY id",
                    logger: self.logger))
        }
    }

    public func events(after: Int64, limit: Int) async throws -> [TaskEventRecord] {
        try await read { conn in
            try await Self.events(
                conn.query(
                    "SELECT \(unescaped: Self.eventColumns) FROM task_events WHERE id > \(after) ORDER BY id LIMIT \(limit)",
                    logger: self.logger))
        }
    }

    public func lastEventID() async throws -> Int64 {
        try await read { conn in Int64(try await self.int(conn, "SELECT COALESCE(MAX(id), 0) FROM task_events")) }
    }

    public func pruneEvents(before cutoff: Date) async throws -> Int {
        try await transaction { conn in
            // Ids grow with time: the old events are those below the first id at or after the cutoff.
            try await self.int(
                conn,
                """
                WITH d AS (
                  DELETE FROM task_events WHERE id < COALESCE(
                    (SELECT id FROM task_events WHERE at >= \(cutoff.timeIntervalSince1970) ORDER BY id LIMIT 1),
                    (SELECT MAX(id) + 1 FROM task_events))
                  RETURNING 1)
                SELECT COUNT(*) FROM d
                """)
        }
    }

    public func pruneEnded(status: TaskStatus, endedBefore cutoff: Date, limit: Int) async throws -> [PrunedTask] {
        guard status.isTerminal else { throw StoreError(.invalid, "only ended tasks are pruned, not \(status.rawValue)") }
        guard limit > 0 else { return [] }
        return try await transaction { conn in
            // Events go with their task (ON DELETE CASCADE); references to it become NULL.
            let rows = try await conn.query(
                """
                WITH d AS (
                  DELETE FROM tasks WHERE id IN (
                    SELECT id FROM tasks
                    WHERE status IN ('completed','failed','cancelled') AND status = \(status.rawValue)
                      AND COALESCE(finished_at, updated_at) < \(cutoff.timeIntervalSince1970)
                      AND id NOT IN (\(unescaped: Self.neededByOpenTasks))
                    ORDER BY COALESCE(finished_at, updated_at) LIMIT \(limit))
                  RETURNING id, log_path, COALESCE(finished_at, updated_at) AS ended)
                SELECT id, log_path FROM d ORDER BY ended, id
                """, logger: self.logger)
            var out: [PrunedTask] = []
            for try await (id, log) in rows.decode((String, String?).self) { out.append(PrunedTask(id: id, logPath: log)) }
            return out
        }
    }

    /// The ids open tasks depend on: kept by pruning and cleanup, or they would wait forever.
    static let neededByOpenTasks = """
        SELECT j.value FROM tasks d, jsonb_array_elements_text(d.depends_on) j(value)
        WHERE d.status IN ('pending','running','needs_decision') AND d.depends_on <> '[]'::jsonb
        """

    /// PostgreSQL manages its own write-ahead log (checkpoints and recycling): nothing to fold
    /// back, so both sizes are 0.
    public func checkpointWAL() async throws -> WALCheckpoint {
        WALCheckpoint(bytesBefore: 0, bytesAfter: 0)
    }
}
