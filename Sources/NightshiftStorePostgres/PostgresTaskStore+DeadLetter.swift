import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// The dead-letter queue over the tasks table: failed tasks that no task names as its parent.
extension PostgresTaskStore {
    /// When a task ended (the order of the queue and the age cleanup measures).
    static let failedAt = "COALESCE(t.finished_at, t.updated_at)"
    static let deadLetterWhere = "t.status = 'failed' AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id)"

    public func deadLetterStats() async throws -> DeadLetterStats {
        try await read { conn in
            var stats = DeadLetterStats()
            let rows = try await conn.query(
                """
                SELECT COUNT(*), MIN(\(unescaped: Self.failedAt)), MAX(\(unescaped: Self.failedAt))
                FROM tasks t WHERE \(unescaped: Self.deadLetterWhere)
                """, logger: self.logger)
            for try await (n, oldest, newest) in rows.decode((Int, Double?, Double?).self) {
                stats.total = n
                stats.oldestFailedAt = oldest.map(Date.init(timeIntervalSince1970:))
                stats.newestFailedAt = newest.map(Date.init(timeIntervalSince1970:))
            }
            guard stats.total > 0 else { return stats }
            stats.byErrorClass = try await self.groups(conn, by: "t.error_class")
            stats.byPhase = try await self.groups(conn, by: "t.phase")
            stats.byItem = try await self.groups(conn, by: "t.backlog_item")
            stats.byRun = try await self.groups(conn, by: "t.run_id")
            return stats
        }
    }

    /// The largest groups of the queue by `column`, each with its newest task (a group without
    /// a value first among equals, as SQLite sorts NULL).
    func groups(_ conn: PostgresConnection, by column: String) async throws -> [DeadLetterGroup] {
        let rows = try await conn.query(
            """
            SELECT key, n, last_at, id, error FROM (
              SELECT \(unescaped: column) AS key, COUNT(*) OVER w AS n, MAX(\(unescaped: Self.failedAt)) OVER w AS last_at,
                t.id, t.error,
                ROW_NUMBER() OVER (PARTITION BY \(unescaped: column) ORDER BY \(unescaped: Self.failedAt) DESC, t.id DESC) AS rn
              FROM tasks t WHERE \(unescaped: Self.deadLetterWhere)
              WINDOW w AS (PARTITION BY \(unescaped: column))) g
            WHERE rn = 1 ORDER BY n DESC, key NULLS FIRST LIMIT \(DeadLetter.topGroups)
            """, logger: logger)
        var out: [DeadLetterGroup] = []
        for try await (key, n, lastAt, id, error) in rows.decode((String?, Int, Double, String, String?).self) {
            out.append(
                DeadLetterGroup(
                    key: key, count: n, lastTaskID: id, lastError: error, lastFailedAt: Date(timeIntervalSince1970: lastAt)))
        }
        return out
    }

    public func deadLetters(
        errorClass: String?, limit: Int, offset: Int
    ) async throws -> (entries: [DeadLetterEntry], total: Int) {
        try await read { conn in
            var count = PostgresSQL("SELECT COUNT(*) FROM tasks t WHERE \(Self.deadLetterWhere)")
            var page = PostgresSQL("SELECT \(PostgresTaskRow.columns("t")) FROM tasks t WHERE \(Self.deadLetterWhere)")
            if let errorClass {
                count.append(" AND t.error_class = \(count.bind(errorClass))")
                page.append(" AND t.error_class = \(page.bind(errorClass))")
            }
            page.append(" ORDER BY \(Self.failedAt) DESC, t.id DESC LIMIT \(page.bind(limit)) OFFSET \(page.bind(offset))")
            let total = try await self.int(conn, count.query)
            let tasks = try await Self.tasks(conn.query(page.query, logger: self.logger))
            return (tasks.map(DeadLetterEntry.init), total)
        }
    }

    public func reprocess(
        _ selection: DeadLetterSelection, reason: String?, dryRun: Bool, by actor: Actor, now: Date
    ) async throws -> Changes<DeadLetterReprocess> {
        if dryRun {
            return try await read { conn in
                let plan = try await self.reprocessPlan(conn, selection, lock: false)
                return Changes(
                    DeadLetterReprocess(
                        dryRun: true, tasks: plan.targets.map { DeadLetterEntry($0.task) }, skipped: plan.skipped,
                        resumedItems: plan.targets.compactMap { $0.item?.state == .blocked ? $0.item?.key : nil }),
                    entries: [])
            }
        }
        let t = now.timeIntervalSince1970
        return try await journaled(now: now) { conn, journal in
            let plan = try await self.reprocessPlan(conn, selection, lock: true)
            var result = DeadLetterReprocess(dryRun: false, skipped: plan.skipped)
            for (task, item) in plan.targets {
                var detail: [String: JSONValue] = ["by": .string(actor), "attempts_used": .number(Double(task.attempt))]
                if let reason, !reason.isEmpty { detail["reason"] = .string(String(reason.prefix(DeadLetter.maxReason))) }
                if let c = task.errorClass { detail["error_class"] = .string(c) }
                if let e = task.error { detail["error"] = .string(String(e.prefix(500))) }
                let after = try await self.transition(
                    conn, id: task.id, event: .retry, kind: .reprocessed, journal: journal, detail: detail
                ) { sql in
                    "attempt = 0, not_before = NULL, claimed_by = NULL, finished_at = NULL, updated_at = \(sql.bind(t))"
                }
                try await self.unblock(conn, retried: after, now: now)
                if item?.state == .blocked, let key = item?.key { result.resumedItems.append(key) }
                result.tasks.append(DeadLetterEntry(task))
            }
            return result
        }
    }

    /// The part of a backlog item reprocessing looks at.
    struct ItemPosition: Sendable {
        var key: String
        var state: ItemState
        var currentTaskID: String?
    }

    /// The dead letters a selection names, with their items, and the ones it must leave.
    /// `lock` holds the selected rows until the transaction ends.
    func reprocessPlan(
        _ conn: PostgresConnection, _ selection: DeadLetterSelection, lock: Bool
    ) async throws -> (targets: [(task: AgentTask, item: ItemPosition?)], skipped: [DeadLetterSkip]) {
        var targets: [(task: AgentTask, item: ItemPosition?)] = []
        var skipped: [DeadLetterSkip] = []
        let forUpdate = lock ? " FOR UPDATE OF t" : ""
        switch selection {
        case .ids(let ids):
            var seen: Set<String> = []
            for id in ids where seen.insert(id).inserted {
                let rows = try await conn.query(
                    "SELECT \(unescaped: PostgresTaskRow.columns("t")) FROM tasks t WHERE t.id = \(id)\(unescaped: forUpdate)",
                    logger: logger)
                guard let task = try await Self.firstTask(rows) else { throw StoreError.notFound(id) }
                if let why = try await whyNotDeadLetter(conn, task) {
                    throw StoreError(.illegalTransition, why, currentStatus: task.status)
                }
                let (item, why) = try await blockedItem(conn, task)
                if let why { throw StoreError(.illegalTransition, why, currentStatus: task.status) }
                targets.append((task, item))
            }
        case .all, .errorClass:
            var sql = PostgresSQL("SELECT \(PostgresTaskRow.columns("t")) FROM tasks t WHERE \(Self.deadLetterWhere)")
            if case .errorClass(let c) = selection { sql.append(" AND t.error_class = \(sql.bind(c))") }
            sql.append(" ORDER BY \(Self.failedAt), t.id\(forUpdate)")
            for task in try await Self.tasks(conn.query(sql.query, logger: logger)) {
                let (item, why) = try await blockedItem(conn, task)
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
    func whyNotDeadLetter(_ conn: PostgresConnection, _ task: AgentTask) async throws -> String? {
        guard task.status == .failed else {
            return "task \(task.id) is \(task.status.rawValue); only failed tasks are in the dead-letter queue"
        }
        let rows = try await conn.query(
            "SELECT id FROM tasks WHERE parent_id = \(task.id) ORDER BY created_at, id LIMIT 1", logger: logger)
        for try await child in rows.decode(String.self) {
            return "task \(task.id) failed, but task \(child) followed it up; it is not in the dead-letter queue"
        }
        return nil
    }

    /// The backlog item a pipeline task belongs to, and why it cannot be reprocessed now: the
    /// item went on without it (its current task is another one), or it is done.
    func blockedItem(_ conn: PostgresConnection, _ task: AgentTask) async throws -> (ItemPosition?, String?) {
        guard let key = task.backlogItem else { return (nil, nil) }
        let rows = try await conn.query(
            "SELECT key, state, current_task_id FROM backlog_items WHERE key = \(key)", logger: logger)
        var found: ItemPosition?
        for try await (k, state, current) in rows.decode((String, String, String?).self) {
            guard let s = ItemState(rawValue: state) else { throw StoreError(.unavailable, "bad item state \(state)") }
            found = ItemPosition(key: k, state: s, currentTaskID: current)
        }
        guard let item = found else { return (nil, nil) }
        return (
            item, BacklogItemRow.reprocessRefusal(key: key, state: item.state, currentTaskID: item.currentTaskID, task: task)
        )
    }

    public func deleteDeadLetters(failedBefore cutoff: Date, limit: Int?, dryRun: Bool) async throws -> DeadLetterDeletion {
        let old = "\(Self.deadLetterWhere) AND \(Self.failedAt) < $1"
        let body: (PostgresConnection) async throws -> DeadLetterDeletion = { conn in
            var keptBinds = PostgresBindings()
            keptBinds.append(cutoff.timeIntervalSince1970)
            let keptRows = try await conn.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT t.id, (SELECT d.id FROM tasks d, jsonb_array_elements_text(d.depends_on) j(value)
                                      WHERE d.status IN ('pending','running','needs_decision') AND j.value = t.id
                                      ORDER BY d.created_at, d.id LIMIT 1)
                        FROM tasks t WHERE \(old) AND t.id IN (\(Self.neededByOpenTasks)) ORDER BY \(Self.failedAt), t.id
                        """, binds: keptBinds), logger: self.logger)
            var kept: [DeadLetterSkip] = []
            for try await (id, needer) in keptRows.decode((String, String?).self) {
                kept.append(DeadLetterSkip(id: id, reason: "open task \(needer ?? "?") depends on it"))
            }
            var binds = PostgresBindings()
            binds.append(cutoff.timeIntervalSince1970)
            binds.append(limit)
            let rows = try await conn.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT t.id, t.log_path FROM tasks t WHERE \(old) AND t.id NOT IN (\(Self.neededByOpenTasks))
                        ORDER BY \(Self.failedAt), t.id LIMIT $2\(dryRun ? "" : " FOR UPDATE OF t")
                        """, binds: binds), logger: self.logger)
            var deleted: [PrunedTask] = []
            for try await (id, log) in rows.decode((String, String?).self) { deleted.append(PrunedTask(id: id, logPath: log)) }
            if !dryRun, !deleted.isEmpty {
                // Events go with their task (ON DELETE CASCADE); references to it become NULL.
                try await conn.query(
                    "DELETE FROM tasks WHERE id = ANY(\(deleted.map(\.id))) AND status = 'failed'", logger: self.logger)
            }
            return DeadLetterDeletion(deleted: deleted, kept: kept)
        }
        return dryRun ? try await read(body) : try await transaction(body)
    }
}
