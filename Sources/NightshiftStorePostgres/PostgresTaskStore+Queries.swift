import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

extension PostgresTaskStore {
    public func create(_ tasks: [AgentTask], by actor: Actor) async throws -> Changes<[AgentTask]> {
        let batch = try tasks.map(Self.prepareNew)
        return try await journaled(now: batch.map(\.createdAt).max() ?? Date()) { conn, journal in
            let batchIDs = Set(batch.map(\.id))
            // A parent may come later in the same batch: then check that foreign key at commit.
            if batch.contains(where: { $0.parentID.map(batchIDs.contains) ?? false }) {
                try await conn.query("SET CONSTRAINTS tasks_parent_id_fkey DEFERRED", logger: self.logger)
            }
            let outside = Array(Set(batch.flatMap { $0.dependsOn + ($0.parentID.map { [$0] } ?? []) }).subtracting(batchIDs))
            var existing: Set<String> = []
            if !outside.isEmpty {
                let rows = try await conn.query("SELECT id FROM tasks WHERE id = ANY(\(outside))", logger: self.logger)
                for try await id in rows.decode(String.self) { existing.insert(id) }
            }
            var inserted: [AgentTask] = []
            inserted.reserveCapacity(batch.count)
            for t in batch {
                for dep in t.dependsOn where !batchIDs.contains(dep) && !existing.contains(dep) {
                    throw StoreError(.invalid, "depends on unknown task \(dep)", field: "depends_on")
                }
                if let parent = t.parentID, !batchIDs.contains(parent), !existing.contains(parent) {
                    throw StoreError(.invalid, "parent task \(parent) does not exist", field: "parent_id")
                }
                inserted.append(try await self.insert(conn, t, journal: journal, detail: ["by": .string(actor)]))
            }
            return inserted
        }
    }

    /// The one validation every new task passes (the same as SQLite's): the task model's
    /// rules, the direction trimmed, status pending.
    static func prepareNew(_ task: AgentTask) throws -> AgentTask {
        var t = task
        if let p = TaskValidation.problems(t).first { throw StoreError(.invalid, p.reason, field: p.field) }
        if case .success(let d) = TaskValidation.direction(t.direction) { t.direction = d }
        t.status = .pending
        return t
    }

    /// The one insert path: the row and its `created` event, in the caller's transaction.
    func insert(
        _ conn: PostgresConnection, _ new: AgentTask, journal: PostgresJournal, detail: [String: JSONValue]
    ) async throws -> AgentTask {
        var task = new
        if task.runID == nil { task.runID = journal.runID }
        try await conn.query(PostgresTaskRow.insert(task), logger: logger)
        var d = detail
        if let p = task.parentID { d["parent_id"] = .string(p) }
        if let phase = task.phase { d["phase"] = .string(phase) }
        if let item = task.backlogItem { d["backlog_item"] = .string(item) }
        journal.record(.created, from: nil, task, d)
        return task
    }

    public func get(_ id: String) async throws -> AgentTask {
        try await read { conn in
            guard let t = try await self.fetch(conn, id) else { throw StoreError.notFound(id) }
            return t
        }
    }

    public func list(_ query: TaskQuery) async throws -> TaskPage {
        if query.after != nil, query.order != .newest {
            throw StoreError(.invalid, "a cursor pages the newest-first order only", field: "after")
        }
        var sql = PostgresSQL("SELECT \(PostgresTaskRow.all) FROM tasks")
        var clauses: [String] = []
        if !query.statuses.isEmpty { clauses.append("status = ANY(\(sql.bind(query.statuses.map(\.rawValue))))") }
        if !query.taskTypes.isEmpty { clauses.append("task_type = ANY(\(sql.bind(query.taskTypes.map(\.rawValue))))") }
        if let item = query.backlogItem { clauses.append("backlog_item = \(sql.bind(item))") }
        if let after = query.after {
            clauses.append("(created_at, id) < (\(sql.bind(after.createdAt)), \(sql.bind(after.id)))")
        }
        if !clauses.isEmpty { sql.append(" WHERE " + clauses.joined(separator: " AND ")) }
        let limit = max(0, query.limit)
        let offset = max(0, query.offset)
        sql.append(query.order == .claim ? " ORDER BY priority DESC, created_at, id" : " ORDER BY created_at DESC, id DESC")
        // One row more than the page tells whether a next page exists.
        sql.append(" LIMIT \(sql.bind(limit + 1)) OFFSET \(sql.bind(offset))")
        let select = sql
        return try await read { conn in
            let total: Int
            if let item = query.backlogItem {
                var count = PostgresSQL("SELECT COUNT(*) FROM tasks WHERE backlog_item = ")
                count.append(count.bind(item))
                if !query.statuses.isEmpty { count.append(" AND status = ANY(\(count.bind(query.statuses.map(\.rawValue))))") }
                if !query.taskTypes.isEmpty {
                    count.append(" AND task_type = ANY(\(count.bind(query.taskTypes.map(\.rawValue))))")
                }
                total = try await self.int(conn, count.query)
            } else {
                total = try await self.keptCount(conn, statuses: query.statuses, taskTypes: query.taskTypes)
            }
            var tasks = try await Self.tasks(conn.query(select.query, logger: self.logger))
            var more = false
            if tasks.count > limit {
                tasks.removeLast(tasks.count - limit)
                more = query.order == .newest
            }
            return TaskPage(tasks: tasks, total: total, next: more ? tasks.last.map(TaskCursor.init(after:)) : nil)
        }
    }

    /// The single integer a query yields (0 when it yields nothing).
    func int(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> Int {
        for try await n in try await conn.query(query, logger: logger).decode(Int?.self) { return n ?? 0 }
        return 0
    }

    /// Tasks with one of `statuses` and one of `taskTypes` (empty: any), from the kept counts.
    func keptCount(_ conn: PostgresConnection, statuses: [TaskStatus], taskTypes: [TaskType]) async throws -> Int {
        var sql = PostgresSQL("SELECT COALESCE(SUM(n), 0)::bigint FROM task_counts WHERE true")
        if !statuses.isEmpty { sql.append(" AND status = ANY(\(sql.bind(statuses.map(\.rawValue))))") }
        if !taskTypes.isEmpty { sql.append(" AND task_type = ANY(\(sql.bind(taskTypes.map(\.rawValue))))") }
        return try await int(conn, sql.query)
    }

    public func countByStatus() async throws -> [TaskStatus: Int] {
        try await read { conn in
            var counts = Dictionary(uniqueKeysWithValues: TaskStatus.allCases.map { ($0, 0) })
            let rows = try await conn.query(
                "SELECT status, SUM(n)::bigint FROM task_counts GROUP BY status", logger: self.logger)
            for try await (status, n) in rows.decode((String, Int).self) {
                if let s = TaskStatus(rawValue: status) { counts[s] = n }
            }
            return counts
        }
    }

    /// Where the kept counts differ from a full scan of `tasks` ("status/task_type: kept N,
    /// counted M"); empty when they agree. A consistency check: it scans the whole table.
    public func keptCountMismatches() async throws -> [String] {
        try await read { conn in
            let rows = try await conn.query(
                """
                SELECT status || '/' || task_type || ': kept ' || kept || ', counted ' || counted FROM (
                  SELECT status, task_type, SUM(kept) AS kept, SUM(counted) AS counted FROM (
                    SELECT status, task_type, n AS kept, 0 AS counted FROM task_counts
                    UNION ALL
                    SELECT status, task_type, 0, COUNT(*) FROM tasks GROUP BY status, task_type) c
                  GROUP BY status, task_type) s
                WHERE kept <> counted ORDER BY status, task_type
                """, logger: self.logger)
            var out: [String] = []
            for try await line in rows.decode(String.self) { out.append(line) }
            return out
        }
    }

    public func rescueCandidates(now: Date, liveOwner: String) async throws -> [AgentTask] {
        try await read { conn in
            try await Self.tasks(
                conn.query(
                    """
                    SELECT \(unescaped: PostgresTaskRow.all) FROM tasks
                    WHERE status = 'running' AND (lease_expires_at < \(now.timeIntervalSince1970) OR claimed_by <> \(liveOwner))
                    ORDER BY lease_expires_at, id
                    """, logger: self.logger))
        }
    }

    public func recentFinished(limit: Int) async throws -> [FinishedSample] {
        try await read { conn in
            let rows = try await conn.query(
                """
                SELECT task_type, status, started_at, finished_at, cost_usd FROM tasks
                WHERE status IN ('completed','failed') AND finished_at IS NOT NULL
                ORDER BY finished_at DESC LIMIT \(limit)
                """, logger: self.logger)
            var out: [FinishedSample] = []
            for try await (type, status, started, finished, cost) in rows.decode((String, String, Double?, Double, Double?).self)
            {
                out.append(
                    FinishedSample(
                        taskType: TaskType(type), status: TaskStatus(rawValue: status) ?? .failed,
                        durationSeconds: started.map { max(0, finished - $0) }, finishedAt: Date(timeIntervalSince1970: finished),
                        costUSD: cost))
            }
            return out
        }
    }
}
