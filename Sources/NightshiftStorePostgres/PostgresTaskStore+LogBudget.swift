import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

extension PostgresMigrations {
    /// The monitor's question (which fingerprints recur across tasks of a run) reads only the
    /// classified lines of one run (as SQLite's "2026-12-02-log-lines-fingerprint").
    static let logRecurrence = Migration(
        name: "2026-12-12-log-lines-fingerprint",
        sql: """
            CREATE INDEX log_lines_fingerprint ON log_lines (run_id, fingerprint, source) WHERE fingerprint IS NOT NULL;
            """)
}

/// The log questions' token reservations and the cross-task fingerprint question.
extension PostgresTaskStore {
    public func reserveLogTokens(runID: String, tokens: Int, budget: Int) async throws -> Int? {
        let t = max(0, tokens)
        return try await read { conn in
            let rows = try await conn.query(
                """
                UPDATE log_runs SET tokens_used = tokens_used + \(t)
                WHERE id = \(runID) AND tokens_used + \(t) <= \(budget) RETURNING tokens_used
                """, logger: logger)
            for try await used in rows.decode(Int.self) { return used }
            return nil
        }
    }

    public func settleLogTokens(runID: String, reserved: Int, used: Int) async throws -> Int {
        try await read { conn in
            try await self.int(
                conn,
                """
                WITH u AS (UPDATE log_runs SET tokens_used = GREATEST(0, tokens_used - \(max(0, reserved)) + \(max(0, used)))
                  WHERE id = \(runID) RETURNING tokens_used)
                SELECT tokens_used FROM u
                """)
        }
    }

    public func logRecurrences(runID: String, minTasks: Int, limit: Int) async throws -> [LogRecurrence] {
        try await read { conn in
            let rows = try await conn.query(
                """
                SELECT l.fingerprint, array_agg(DISTINCT substr(l.source, 6) ORDER BY substr(l.source, 6)), count(*)::bigint,
                       f.rule_id, f.severity, f.template
                FROM log_lines l LEFT JOIN log_fingerprints f ON f.run_id = l.run_id AND f.fingerprint = l.fingerprint
                WHERE l.run_id = \(runID) AND l.fingerprint IS NOT NULL AND substr(l.source, 1, 5) = 'task:'
                GROUP BY l.fingerprint, f.rule_id, f.severity, f.template
                HAVING count(DISTINCT l.source) >= \(max(1, minTasks))
                ORDER BY count(DISTINCT l.source) DESC, l.fingerprint COLLATE "C"
                LIMIT \(max(0, limit))
                """, logger: logger)
            var out: [LogRecurrence] = []
            for try await (fp, tasks, n, rule, severity, template) in rows.decode(
                (String, [String], Int, String?, String?, String?).self)
            {
                out.append(
                    LogRecurrence(
                        runID: runID, fingerprint: fp, ruleID: rule ?? LogRule.unmatchedID,
                        severity: severity.flatMap(Severity.init(rawValue:)) ?? .medium, template: template ?? "",
                        taskIDs: tasks, count: n))
            }
            return out
        }
    }
}
