import Foundation
import GRDB
import NightshiftCore

/// The dead-letter queue over the tasks table: failed tasks that no task names as its parent.
extension SQLiteTaskStore {
    /// When a task ended (the order of the queue and the age cleanup measures).
    static let failedAt = "COALESCE(t.finished_at, t.updated_at)"
    /// The queue: failed (on the ended-tasks index, whose WHERE the first term repeats so that
    /// SQLite may use it) and not followed up.
    static let deadLetterWhere = """
        t.status IN ('completed','failed','cancelled') AND t.status = 'failed'
          AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id)
        """

    public func deadLetterStats() async throws -> DeadLetterStats {
        try await read { db in
            var stats = DeadLetterStats()
            if let row = try Row.fetchOne(
                db,
                sql: "SELECT COUNT(*), MIN(\(Self.failedAt)), MAX(\(Self.failedAt)) FROM tasks t WHERE \(Self.deadLetterWhere)")
            {
                stats.total = row[0]
                stats.oldestFailedAt = (row[1] as Double?).map(Date.init(timeIntervalSince1970:))
                stats.newestFailedAt = (row[2] as Double?).map(Date.init(timeIntervalSince1970:))
            }
            guard stats.total > 0 else { return stats }
            stats.byErrorClass = try Self.groups(db, by: "t.error_class")
            stats.byPhase = try Self.groups(db, by: "t.phase")
            stats.byItem = try Self.groups(db, by: "t.backlog_item")
            stats.byRun = try Self.groups(db, by: "t.run_id")
            return stats
        }
    }

    /// The largest groups of the queue by `column`, each with its newest task (SQLite takes
    /// the bare columns from the row that holds the MAX).
    static func groups(_ db: Database, by column: String) throws -> [DeadLetterGroup] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT \(column) AS key, COUNT(*) AS n, MAX(\(failedAt)) AS last_at, t.id AS last_id, t.error AS last_error
                FROM tasks t WHERE \(deadLetterWhere)
                GROUP BY \(column) ORDER BY n DESC, key LIMIT ?
                """, arguments: [DeadLetter.topGroups]
        ).map { row in
            DeadLetterGroup(
                key: row["key"], count: row["n"], lastTaskID: row["last_id"], lastError: row["last_error"],
                lastFailedAt: Date(timeIntervalSince1970: row["last_at"]))
        }
    }

    public func deadLetters(
        errorClass: String?, limit: Int, offset: Int
    ) async throws -> (
        entries: [DeadLetterEntry], total: Int
    ) {
        try await read { db in
            let filter = errorClass == nil ? "" : " AND t.error_class = ?"
            let args: StatementArguments = errorClass.map { [$0] } ?? []
            let total =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks t WHERE \(Self.deadLetterWhere)\(filter)", arguments: args)
                ?? 0
            let stmt = try db.cachedStatement(
                sql: """
                    SELECT t.* FROM tasks t WHERE \(Self.deadLetterWhere)\(filter)
                    ORDER BY \(Self.failedAt) DESC, t.id DESC LIMIT ? OFFSET ?
                    """)
            let tasks = try Self.fetchTasks(stmt, arguments: args + [limit, offset])
            return (tasks.map(DeadLetterEntry.init), total)
        }
    }

    public func reprocess(
        _ selection: DeadLetterSelection, reason: String?, dryRun: Bool, by actor: Actor, now: Date
    ) async throws -> Changes<DeadLetterReprocess> {
        if dryRun {
            return try await read { db in
                let plan = try Self.reprocessPlan(db, selection)
                return Changes(
                    DeadLetterReprocess(
                        dryRun: true, tasks: plan.targets.map { DeadLetterEntry($0.task) }, skipped: plan.skipped,
                        resumedItems: plan.targets.compactMap { $0.item?.state == .blocked ? $0.item?.key : nil }),
                    entries: [])
            }
        }
        let t = now.timeIntervalSince1970
        return try await journaled(now: now) { db, journal in
            let plan = try Self.reprocessPlan(db, selection)
            var result = DeadLetterReprocess(dryRun: false, skipped: plan.skipped)
            for (task, item) in plan.targets {
                var detail: [String: JSONValue] = ["by": .string(actor), "attempts_used": .number(Double(task.attempt))]
                if let reason, !reason.isEmpty { detail["reason"] = .string(String(reason.prefix(DeadLetter.maxReason))) }
                if let c = task.errorClass { detail["error_class"] = .string(c) }
                if let e = task.error { detail["error"] = .string(String(e.prefix(500))) }
                let after = try Self.transition(
                    db, id: task.id, event: .retry, kind: .reprocessed, journal: journal, detail: detail,
                    set: "attempt = 0, not_before = NULL, claimed_by = NULL, finished_at = NULL, updated_at = ?",
                    arguments: [t])
                try Self.unblock(db, retried: after, now: now)
                if item?.state == .blocked, let key = item?.key { result.resumedItems.append(key) }
                result.tasks.append(DeadLetterEntry(task))
            }
            return result
        }
    }

    /// The dead letters a selection names, with their items, and the ones it must leave.
    static func reprocessPlan(
        _ db: Database, _ selection: DeadLetterSelection
    ) throws -> (targets: [(task: AgentTask, item: BacklogItem?)], skipped: [DeadLetterSkip]) {
        var targets: [(task: AgentTask, item: BacklogItem?)] = []
        var skipped: [DeadLetterSkip] = []
        switch selection {
        case .ids(let ids):
            var seen: Set<String> = []
            for id in ids where seen.insert(id).inserted {
                guard let task = try fetch(db, id) else { throw StoreError.notFound(id) }
                if let why = try whyNotDeadLetter(db, task) {
                    throw StoreError(.illegalTransition, why, currentStatus: task.status)
                }
                let (item, why) = try blockedItem(db, task)
                if let why { throw StoreError(.illegalTransition, why, currentStatus: task.status) }
                targets.append((task, item))
            }
        case .all, .errorClass:
            var filter = ""
            var args: StatementArguments = []
            if case .errorClass(let c) = selection {
                filter = " AND t.error_class = ?"
                args = [c]
            }
            let stmt = try db.makeStatement(
                sql: "SELECT t.* FROM tasks t WHERE \(deadLetterWhere)\(filter) ORDER BY \(failedAt), t.id")
            for task in try fetchTasks(stmt, arguments: args) {
                let (item, why) = try blockedItem(db, task)
                if let why {
                    skipped.append(DeadLetterSkip(id: task.id, reason: why))
                } else {
                    targets.append((task, item))
                }
            }
        }
        return (targets, skipped)
    }

    /// Why `task` is not in the queue, or nil when it is.
    static func whyNotDeadLetter(_ db: Database, _ task: AgentTask) throws -> String? {
        guard task.status == .failed else {
            return "task \(task.id) is \(task.status.rawValue); only failed tasks are in the dead-letter queue"
        }
        if let child = try String.fetchOne(
            db, sql: "SELECT id FROM tasks WHERE parent_id = ? ORDER BY created_at LIMIT 1", arguments: [task.id])
        {
            return "task \(task.id) failed, but task \(child) followed it up; it is not in the dead-letter queue"
        }
        return nil
    }

    /// The backlog item a pipeline task belongs to, and why it cannot be reprocessed now: the
    /// item went on without it (its current task is another one), or it is done.
    static func blockedItem(_ db: Database, _ task: AgentTask) throws -> (BacklogItem?, String?) {
        guard let key = task.backlogItem, let item = try BacklogItemRecord.fetch(db, key: key) else { return (nil, nil) }
        return (
            item, BacklogItemRow.reprocessRefusal(key: key, state: item.state, currentTaskID: item.currentTaskID, task: task)
        )
    }

    public func deleteDeadLetters(failedBefore cutoff: Date, limit: Int?, dryRun: Bool) async throws -> DeadLetterDeletion {
        // What open tasks depend on is kept: they would wait for it forever, or run without it.
        let needed = """
            SELECT j.value FROM tasks d, json_each(d.depends_on) j
            WHERE d.status IN ('pending','running','needs_decision') AND d.depends_on <> '[]'
            """
        let old = "\(Self.deadLetterWhere) AND \(Self.failedAt) < ?"
        let body: @Sendable (Database) throws -> DeadLetterDeletion = { db in
            let kept = try Row.fetchAll(
                db,
                sql: """
                    SELECT t.id, (SELECT d.id FROM tasks d, json_each(d.depends_on) j
                                  WHERE d.status IN ('pending','running','needs_decision') AND j.value = t.id LIMIT 1)
                    FROM tasks t WHERE \(old) AND t.id IN (\(needed)) ORDER BY \(Self.failedAt), t.id
                    """, arguments: [cutoff.timeIntervalSince1970]
            ).map { DeadLetterSkip(id: $0[0], reason: "open task \($0[1] as String? ?? "?") depends on it") }
            let deleted = try Row.fetchAll(
                db,
                sql: """
                    SELECT t.id, t.log_path FROM tasks t WHERE \(old) AND t.id NOT IN (\(needed))
                    ORDER BY \(Self.failedAt), t.id LIMIT ?
                    """, arguments: [cutoff.timeIntervalSince1970, limit ?? -1]
            ).map { PrunedTask(id: $0[0], logPath: $0[1]) }
            if !dryRun {
                // Events go with their task (ON DELETE CASCADE); references to it become NULL.
                let stmt = try db.cachedStatement(sql: "DELETE FROM tasks WHERE id = ? AND status = 'failed'")
                for task in deleted { try stmt.execute(arguments: [task.id]) }
            }
            return DeadLetterDeletion(deleted: deleted, kept: kept)
        }
        return dryRun ? try await read(body) : try await write(body)
    }
}
