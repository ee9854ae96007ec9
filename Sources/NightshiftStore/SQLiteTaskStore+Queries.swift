import Foundation
import GRDB
import NightshiftCore

extension SQLiteTaskStore {
    public func create(_ tasks: [AgentTask], by actor: Actor) async throws -> Changes<[AgentTask]> {
        let batch = try tasks.map(Self.prepareNew)
        return try await journaled(now: batch.map(\.createdAt).max() ?? Date()) { db, journal in
            // A parent may come later in the same batch: check foreign keys at commit.
            try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM tasks WHERE id = ?")
            let batchIDs = Set(batch.map(\.id))
            for t in batch {
                for dep in t.dependsOn where !batchIDs.contains(dep) {
                    guard try Bool.fetchOne(exists, arguments: [dep]) != nil else {
                        throw StoreError(.invalid, "depends on unknown task \(dep)", field: "depends_on")
                    }
                }
                if let parent = t.parentID, !batchIDs.contains(parent), try Bool.fetchOne(exists, arguments: [parent]) == nil {
                    throw StoreError(.invalid, "parent task \(parent) does not exist", field: "parent_id")
                }
                try Self.insert(db, t, journal: journal, detail: ["by": .string(actor)])
            }
            return batch
        }
    }

    /// The one validation every new task passes, whoever creates it (API, pipeline, monitor):
    /// the task model's rules, the direction trimmed, status pending.
    static func prepareNew(_ task: AgentTask) throws -> AgentTask {
        var t = task
        if let p = TaskValidation.problems(t).first { throw StoreError(.invalid, p.reason, field: p.field) }
        if case .success(let d) = TaskValidation.direction(t.direction) { t.direction = d }
        t.status = .pending
        return t
    }

    /// The one insert path: the row and its `created` event, in the caller's transaction.
    static func insert(_ db: Database, _ task: AgentTask, journal: TaskJournal, detail: [String: JSONValue]) throws {
        try db.cachedStatement(sql: TaskRecord.insertSQL).execute(arguments: TaskRecord.arguments(task))
        var d = detail
        if let p = task.parentID { d["parent_id"] = .string(p) }
        if let phase = task.phase { d["phase"] = .string(phase) }
        if let item = task.backlogItem { d["backlog_item"] = .string(item) }
        try journal.record(db, .created, from: nil, task, d)
    }

    public func get(_ id: String) async throws -> AgentTask {
        try await read { db in
            guard let t = try Self.fetch(db, id) else { throw StoreError.notFound(id) }
            return t
        }
    }

    public func list(_ query: TaskQuery) async throws -> TaskPage {
        var clauses: [String] = []
        var args: [String] = []
        if !query.statuses.isEmpty {
            clauses.append("status IN (\(query.statuses.map { _ in "?" }.joined(separator: ",")))")
            args += query.statuses.map(\.rawValue)
        }
        if !query.taskTypes.isEmpty {
            clauses.append("task_type IN (\(query.taskTypes.map { _ in "?" }.joined(separator: ",")))")
            args += query.taskTypes.map(\.rawValue)
        }
        if let item = query.backlogItem {
            clauses.append("backlog_item = ?")
            args.append(item)
        }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let filterArgs = args
        let orderSQL = query.order == .claim ? "priority DESC, created_at, id" : "created_at DESC, id DESC"
        let limit = max(0, query.limit)
        let offset = max(0, query.offset)
        return try await read { db in
            let total =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks \(whereSQL)", arguments: StatementArguments(filterArgs))
                ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM tasks \(whereSQL) ORDER BY \(orderSQL) LIMIT ? OFFSET ?",
                arguments: StatementArguments(filterArgs) + [limit, offset])
            return TaskPage(tasks: try rows.map(TaskRecord.decode), total: total)
        }
    }

    public func countByStatus() async throws -> [TaskStatus: Int] {
        try await read { db in
            var counts = Dictionary(uniqueKeysWithValues: TaskStatus.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM tasks GROUP BY status") {
                if let s = TaskStatus(rawValue: row["status"]) { counts[s] = row["n"] }
            }
            return counts
        }
    }

    public func rescueCandidates(now: Date, liveOwner: String) async throws -> [AgentTask] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT * FROM tasks WHERE status = 'running' AND (lease_expires_at < ? OR claimed_by <> ?) ORDER BY lease_expires_at",
                arguments: [now.timeIntervalSince1970, liveOwner]
            ).map(TaskRecord.decode)
        }
    }

    public func recentFinished(limit: Int) async throws -> [FinishedSample] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT task_type, status, started_at, finished_at, cost_usd FROM tasks INDEXED BY tasks_finished
                    WHERE status IN ('completed','failed') AND finished_at IS NOT NULL
                    ORDER BY finished_at DESC LIMIT ?
                    """, arguments: [limit]
            ).map { row in
                let started: Double? = row["started_at"]
                let finished: Double = row["finished_at"]
                return FinishedSample(
                    taskType: TaskType(row["task_type"] as String), status: TaskStatus(rawValue: row["status"]) ?? .failed,
                    durationSeconds: started.map { max(0, finished - $0) }, finishedAt: Date(timeIntervalSince1970: finished),
                    costUSD: row["cost_usd"])
            }
        }
    }
}
