import Foundation
import GRDB
import NightshiftCore

extension SQLiteTaskStore {
    public func create(_ tasks: [AgentTask], by actor: Actor) async throws -> Changes<[AgentTask]> {
        let batch = try tasks.map(Self.prepareNew)
        return try await journaled(now: batch.map(\.createdAt).max() ?? Date()) { db, journal in
            let batchIDs = Set(batch.map(\.id))
            // A parent may come later in the same batch: then check foreign keys at commit. Only
            // then: the pragma expires every prepared statement of the connection (recompiled next use).
            if batch.contains(where: { $0.parentID.map(batchIDs.contains) ?? false }) {
                try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
            }
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM tasks WHERE id = ?")
            var inserted: [AgentTask] = []
            inserted.reserveCapacity(batch.count)
            for t in batch {
                for dep in t.dependsOn where !batchIDs.contains(dep) {
                    guard try Bool.fetchOne(exists, arguments: [dep]) != nil else {
                        throw StoreError(.invalid, "depends on unknown task \(dep)", field: "depends_on")
                    }
                }
                if let parent = t.parentID, !batchIDs.contains(parent), try Bool.fetchOne(exists, arguments: [parent]) == nil {
                    throw StoreError(.invalid, "parent task \(parent) does not exist", field: "parent_id")
                }
                inserted.append(try Self.insert(db, t, journal: journal, detail: ["by": .string(actor)]))
            }
            return inserted
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

    /// The one insert path: the row and its `created` event, in the caller's transaction. The
    /// task is stamped with the store's run (when it names none) and returned as stored.
    @discardableResult
    static func insert(_ db: Database, _ new: AgentTask, journal: TaskJournal, detail: [String: JSONValue]) throws -> AgentTask {
        var task = new
        if task.runID == nil { task.runID = journal.runID }
        try db.cachedStatement(sql: TaskRecord.insertSQL).execute(arguments: TaskRecord.arguments(task))
        var d = detail
        if let p = task.parentID { d["parent_id"] = .string(p) }
        if let phase = task.phase { d["phase"] = .string(phase) }
        if let item = task.backlogItem { d["backlog_item"] = .string(item) }
        try journal.record(db, .created, from: nil, task, d)
        return task
    }

    public func get(_ id: String) async throws -> AgentTask {
        try await read { db in
            guard let t = try Self.fetch(db, id) else { throw StoreError.notFound(id) }
            return t
        }
    }

    public func list(_ query: TaskQuery) async throws -> TaskPage {
        var matching = Filters()
        // Pending tasks in the claim order walk the runner's own index (partial: its condition
        // is written as a literal so SQLite sees it applies) instead of sorting every one.
        let claimOrder = query.order == .claim && query.statuses == [.pending]
        if claimOrder {
            matching.clauses.append("status = 'pending'")
        } else if !query.statuses.isEmpty {
            matching.add("status", query.statuses.map(\.rawValue))
        }
        if !query.taskTypes.isEmpty { matching.add("task_type", query.taskTypes.map(\.rawValue)) }
        if let item = query.backlogItem { matching.add("backlog_item", [item]) }
        if let errorClass = query.errorClass { matching.add("error_class", [errorClass]) }
        if let runID = query.runID { matching.add("run_id", [runID]) }
        let narrowed = query.backlogItem != nil || query.errorClass != nil || query.runID != nil
        if query.after != nil, query.order != .newest {
            throw StoreError(.invalid, "a cursor pages the newest-first order only", field: "after")
        }
        var paged = matching
        if let after = query.after {
            paged.clauses.append("(created_at, id) < (?, ?)")
            paged.arguments += [after.createdAt, after.id]
        }
        let (filters, page) = (matching, paged)
        let orderSQL = query.order == .claim ? "priority DESC, created_at, id" : "created_at DESC, id DESC"
        let indexSQL = claimOrder ? "INDEXED BY tasks_runnable" : ""
        let limit = max(0, query.limit)
        let offset = max(0, query.offset)
        return try await read { db in
            // The total comes from the kept counts unless a backlog item (its index holds a few
            // tasks per item), an error class or a run narrows it.
            let total =
                !narrowed
                ? try Self.keptCount(db, statuses: query.statuses, taskTypes: query.taskTypes)
                : try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks \(filters.whereSQL)", arguments: filters.arguments) ?? 0
            // One row more than the page tells whether a next page exists. A deep offset skips
            // its rows in the index alone (rowids only), then reads the page's rows. Rows are
            // decoded straight off the statement (a cursor), not copied first.
            let select =
                offset == 0
                ? "SELECT * FROM tasks \(indexSQL) \(page.whereSQL) ORDER BY \(orderSQL) LIMIT ?"
                : """
                SELECT * FROM tasks WHERE rowid IN (
                  SELECT rowid FROM tasks \(indexSQL) \(page.whereSQL) ORDER BY \(orderSQL) LIMIT ? OFFSET ?)
                ORDER BY \(orderSQL)
                """
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: select), arguments: page.arguments + (offset == 0 ? [limit + 1] : [limit + 1, offset]))
            var tasks: [AgentTask] = []
            tasks.reserveCapacity(limit)
            var more = false
            while let row = try rows.next() {
                guard tasks.count < limit else {
                    more = query.order == .newest
                    break
                }
                tasks.append(try TaskRecord.decode(row))
            }
            return TaskPage(tasks: tasks, total: total, next: more ? tasks.last.map(TaskCursor.init(after:)) : nil)
        }
    }

    /// A list's WHERE clause and its arguments.
    struct Filters {
        var clauses: [String] = []
        var arguments = StatementArguments()
        mutating func add(_ column: String, _ values: [String]) {
            clauses.append(
                values.count == 1 ? "\(column) = ?" : "\(column) IN (\(values.map { _ in "?" }.joined(separator: ",")))")
            arguments += StatementArguments(values)
        }
        var whereSQL: String { clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ") }
    }

    /// The number of tasks with one of `statuses` and one of `taskTypes` (empty: any), from the
    /// kept counts.
    static func keptCount(_ db: Database, statuses: [TaskStatus], taskTypes: [TaskType]) throws -> Int {
        var filters = Filters()
        if !statuses.isEmpty { filters.add("status", statuses.map(\.rawValue)) }
        if !taskTypes.isEmpty { filters.add("task_type", taskTypes.map(\.rawValue)) }
        return try Int.fetchOne(
            db.cachedStatement(sql: "SELECT COALESCE(SUM(n), 0) FROM task_counts \(filters.whereSQL)"),
            arguments: filters.arguments
        ) ?? 0
    }

    /// Tasks by status from the kept counts, every status present.
    static func keptCountsByStatus(_ db: Database) throws -> [TaskStatus: Int] {
        var counts = Dictionary(uniqueKeysWithValues: TaskStatus.allCases.map { ($0, 0) })
        let stmt = try db.cachedStatement(sql: "SELECT status, SUM(n) FROM task_counts GROUP BY status")
        for row in try Row.fetchAll(stmt) {
            if let s = TaskStatus(rawValue: row[0]) { counts[s] = row[1] }
        }
        return counts
    }

    public func countByStatus() async throws -> [TaskStatus: Int] {
        try await read { db in try Self.keptCountsByStatus(db) }
    }

    /// Where the kept counts differ from a full scan of `tasks`, as "status/task_type: kept N,
    /// counted M" lines; empty when they agree. A consistency check (tests, diagnostics): it
    /// scans the whole table.
    public func keptCountMismatches() async throws -> [String] {
        try await read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT status || '/' || task_type || ': kept ' || kept || ', counted ' || counted FROM (
                      SELECT status, task_type, SUM(kept) AS kept, SUM(counted) AS counted FROM (
                        SELECT status, task_type, n AS kept, 0 AS counted FROM task_counts
                        UNION ALL
                        SELECT status, task_type, 0, COUNT(*) FROM tasks GROUP BY status, task_type)
                      GROUP BY status, task_type)
                    WHERE kept <> counted ORDER BY status, task_type
                    """)
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
