import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// The monitor's issues on PostgreSQL. Applying findings takes a transaction-level advisory
/// lock, so two checks (on two nodes) fold their findings one after the other, as in SQLite.
extension PostgresTaskStore: MonitorStore {
    static let issueColumns =
        "id, condition, subject, severity, message, suggested_action, first_seen, last_seen, count, resolved_at, heal_task_id, notified_at"

    static func issues(_ rows: PostgresRowSequence) async throws -> [MonitorIssue] {
        var out: [MonitorIssue] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            func time(_ i: Int) throws -> Date? { try r[i].decode(Double?.self).map { Date(timeIntervalSince1970: $0) } }
            let finding = Finding(
                condition: MonitorCondition(rawValue: try r[1].decode(String.self)), subject: try r[2].decode(String.self),
                severity: Severity(rawValue: try r[3].decode(String.self)) ?? .medium, message: try r[4].decode(String.self),
                suggestedAction: try r[5].decode(String.self))
            var issue = MonitorIssue(
                id: try r[0].decode(String.self), finding: finding, now: try time(6) ?? Date(timeIntervalSince1970: 0))
            issue.lastSeen = try time(7) ?? issue.firstSeen
            issue.count = try r[8].decode(Int.self)
            issue.resolvedAt = try time(9)
            issue.healTaskID = try r[10].decode(String?.self)
            issue.notifiedAt = try time(11)
            out.append(issue)
        }
        return out
    }

    /// The advisory lock a monitor check holds while it folds its findings ("nsmo").
    static let monitorLock: Int32 = 0x6E73_6D6F

    public func applyFindings(_ findings: [Finding], now: Date) async throws -> IssueChanges {
        let t = now.timeIntervalSince1970
        return try await transaction { conn in
            try await conn.query(
                "SELECT pg_advisory_xact_lock(\(Self.monitorLock), hashtext(current_schema()))", logger: self.logger)
            let open = try await Self.issues(
                conn.query(
                    "SELECT \(unescaped: Self.issueColumns) FROM monitor_issues WHERE resolved_at IS NULL", logger: self.logger))
            let changes = IssueChanges.folding(findings, into: open, now: now)
            for issue in changes.continued {
                try await conn.query(
                    """
                    UPDATE monitor_issues SET last_seen = \(t), count = count + 1, severity = \(issue.severity.rawValue),
                      message = \(issue.message), suggested_action = \(issue.suggestedAction) WHERE id = \(issue.id)
                    """, logger: self.logger)
            }
            for issue in changes.opened {
                try await conn.query(
                    """
                    INSERT INTO monitor_issues (id, condition, subject, severity, message, suggested_action, first_seen, last_seen, count)
                    VALUES (\(issue.id), \(issue.condition.rawValue), \(issue.subject), \(issue.severity.rawValue), \(issue.message),
                      \(issue.suggestedAction), \(t), \(t), 1)
                    """, logger: self.logger)
            }
            if !changes.resolved.isEmpty {
                try await conn.query(
                    "UPDATE monitor_issues SET resolved_at = \(t) WHERE id = ANY(\(changes.resolved.map(\.id)))",
                    logger: self.logger)
            }
            return changes
        }
    }

    public func monitorIssues(includeResolved: Bool, limit: Int) async throws -> [MonitorIssue] {
        try await snapshot { conn in
            let severityOrder = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END"
            var issues = try await Self.issues(
                conn.query(
                    """
                    SELECT \(unescaped: Self.issueColumns) FROM monitor_issues WHERE resolved_at IS NULL
                    ORDER BY \(unescaped: severityOrder), first_seen
                    """, logger: self.logger))
            if includeResolved {
                issues += try await Self.issues(
                    conn.query(
                        """
                        SELECT \(unescaped: Self.issueColumns) FROM monitor_issues WHERE resolved_at IS NOT NULL
                        ORDER BY resolved_at DESC LIMIT \(max(0, limit - issues.count))
                        """, logger: self.logger))
            }
            return Array(issues.prefix(limit))
        }
    }

    public func fileHealTask(issueID: String, task: AgentTask) async throws -> Changes<AgentTask?> {
        let task = try Self.prepareNew(task)
        return try await journaled(now: task.createdAt) { conn, journal in
            // The issue's row stays locked to the commit: two checks never both file a task.
            let open = try await self.int(
                conn,
                """
                SELECT COUNT(*) FROM (SELECT 1 FROM monitor_issues
                  WHERE id = \(issueID) AND resolved_at IS NULL AND heal_task_id IS NULL FOR UPDATE) o
                """)
            guard open > 0 else { return nil }
            let stored = try await self.insert(
                conn, task, journal: journal, detail: ["by": .string("monitor"), "issue_id": .string(issueID)])
            try await conn.query(
                "UPDATE monitor_issues SET heal_task_id = \(task.id) WHERE id = \(issueID)", logger: self.logger)
            return stored
        }
    }

    public func markNotified(issueIDs: [String], at: Date) async throws {
        guard !issueIDs.isEmpty else { return }
        _ = try await read { conn in
            try await conn.query(
                "UPDATE monitor_issues SET notified_at = \(at.timeIntervalSince1970) WHERE id = ANY(\(issueIDs))",
                logger: self.logger)
        }
    }

    public func issueStats(resolvedSince: Date) async throws -> IssueStats {
        try await snapshot { conn in
            let open = try await self.int(conn, "SELECT COUNT(*) FROM monitor_issues WHERE resolved_at IS NULL")
            let rows = try await conn.query(
                """
                SELECT COUNT(*), AVG(resolved_at - first_seen)::double precision FROM monitor_issues
                WHERE resolved_at >= \(resolvedSince.timeIntervalSince1970)
                """, logger: self.logger)
            for try await (n, mttr) in rows.decode((Int, Double?).self) {
                return IssueStats(open: open, resolvedSince: n, meanTimeToResolve: mttr)
            }
            return IssueStats(open: open, resolvedSince: 0, meanTimeToResolve: nil)
        }
    }

    public func completedCounts(since cutoffs: [Date]) async throws -> [Int] {
        try await snapshot { conn in
            var out: [Int] = []
            for cutoff in cutoffs {
                // A range of the `tasks_ended` index (for a completed task the end is finished_at).
                out.append(
                    try await self.int(
                        conn,
                        """
                        SELECT COUNT(*) FROM tasks WHERE status IN ('completed','failed','cancelled') AND status = 'completed'
                          AND COALESCE(finished_at, updated_at) >= \(cutoff.timeIntervalSince1970)
                        """))
            }
            return out
        }
    }

    public func taskHealth(now: Date, recent: Int) async throws -> TaskHealthView {
        let t = now.timeIntervalSince1970
        return try await snapshot { conn in
            var view = TaskHealthView()
            for try await (status, n) in try await conn.query(
                "SELECT status, SUM(n)::bigint FROM task_counts GROUP BY status", logger: self.logger
            ).decode((String, Int).self) where n > 0 {
                if let s = TaskStatus(rawValue: status) { view.counts[s] = n }
            }
            // The first of the `tasks_pending_since` index whose backoff has passed.
            for try await since in try await conn.query(
                """
                SELECT \(unescaped: PostgresMigrations.runnableSince) AS since FROM tasks
                WHERE status = 'pending' AND (not_before IS NULL OR not_before <= \(t)) ORDER BY since LIMIT 1
                """, logger: self.logger
            ).decode(Double.self) {
                view.oldestRunnableSince = Date(timeIntervalSince1970: since)
            }
            for try await (id, started, lease) in try await conn.query(
                "SELECT id, started_at, lease_expires_at FROM tasks WHERE status = 'running' ORDER BY id", logger: self.logger
            ).decode((String, Double?, Double?).self) {
                view.running.append(
                    MonitorSnapshot.RunningTask(
                        id: id, startedAt: started.map(Date.init(timeIntervalSince1970:)),
                        leaseExpiresAt: lease.map(Date.init(timeIntervalSince1970:))))
            }
            for try await status in try await conn.query(
                """
                SELECT status FROM tasks WHERE status IN ('completed','failed') AND finished_at IS NOT NULL
                ORDER BY finished_at DESC LIMIT \(recent)
                """, logger: self.logger
            ).decode(String.self) {
                if let s = TaskStatus(rawValue: status) { view.recentOutcomes.append(s) }
            }
            for try await (id, since, prompt) in try await conn.query(
                """
                SELECT id, COALESCE(finished_at, updated_at) AS since, decision_prompt FROM tasks
                WHERE status = 'needs_decision' ORDER BY since, id
                """, logger: self.logger
            ).decode((String, Double, String?).self) {
                view.waiting.append(
                    MonitorSnapshot.Waiting(id: id, since: Date(timeIntervalSince1970: since), prompt: prompt ?? ""))
            }
            return view
        }
    }
}
