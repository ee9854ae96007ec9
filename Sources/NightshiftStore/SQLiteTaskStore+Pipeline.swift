import Foundation
import GRDB
import NightshiftCore

extension SQLiteTaskStore: PipelineStore {
    public func importBacklog(_ entries: [BacklogEntry], now: Date) async throws -> ImportSummary {
        let t = now.timeIntervalSince1970
        return try await write { db in
            var summary = ImportSummary()
            for e in entries {
                let after = String(decoding: try JSONEncoder().encode(e.after), as: UTF8.self)
                if let existing = try BacklogItemRecord.fetch(db, key: e.key) {
                    let same =
                        existing.title == e.title && existing.body == e.body && existing.after == e.after
                        && existing.position == e.position
                    if same {
                        summary.unchanged += 1
                    } else if existing.state == .queued {
                        try db.execute(
                            sql:
                                "UPDATE backlog_items SET title = ?, body = ?, after = ?, position = ?, updated_at = ? WHERE key = ?",
                            arguments: [e.title, e.body, after, e.position, t, e.key])
                        summary.updated.append(e.key)
                    } else {
                        try db.execute(
                            sql: "UPDATE backlog_items SET position = ? WHERE key = ?", arguments: [e.position, e.key])
                        summary.unchanged += 1
                    }
                } else {
                    let item = BacklogItem(entry: e, now: now)
                    var slug = item.slug
                    var n = 2
                    while try Bool.fetchOne(db, sql: "SELECT 1 FROM backlog_items WHERE slug = ?", arguments: [slug]) != nil {
                        slug = "\(item.slug)-\(n)"
                        n += 1
                    }
                    try db.execute(
                        sql: """
                            INSERT INTO backlog_items (key, position, title, body, after, slug, state, iteration, created_at, updated_at)
                            VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)
                            """, arguments: [e.key, e.position, e.title, e.body, after, slug, t, t])
                    summary.added.append(e.key)
                }
            }
            return summary
        }
    }

    public func items() async throws -> [BacklogItem] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM backlog_items ORDER BY position, key").map(BacklogItemRecord.decode)
        }
    }

    public func items(keys: [String]) async throws -> [BacklogItem] {
        guard !keys.isEmpty else { return [] }
        return try await read { db in
            let marks = Array(repeating: "?", count: keys.count).joined(separator: ",")
            return try Row.fetchAll(
                db, sql: "SELECT * FROM backlog_items WHERE key IN (\(marks)) ORDER BY position, key",
                arguments: StatementArguments(keys)
            ).map(BacklogItemRecord.decode)
        }
    }

    public func overview(blockedLimit: Int?) async throws -> PipelineOverview {
        try await read { db in
            var o = PipelineOverview()
            for state in ItemState.allCases { o.counts[state] = 0 }
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT state, n FROM backlog_counts")) {
                if let state = ItemState(rawValue: row["state"]) { o.counts[state] = row["n"] }
            }
            let active = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT i.*, t.status AS current_task_status FROM backlog_items i
                        LEFT JOIN tasks t ON t.id = i.current_task_id
                        WHERE i.state = 'active' ORDER BY i.position, i.key
                        """))
            for row in active {
                let item = try BacklogItemRecord.decode(row)
                o.active.append(item)
                if let status = (row["current_task_status"] as String?).flatMap(TaskStatus.init(rawValue:)) {
                    o.taskStatus[item.key] = status
                }
            }
            o.blocked = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM backlog_items WHERE state = 'blocked' ORDER BY position, key LIMIT ?"),
                arguments: [blockedLimit ?? -1]
            ).map(BacklogItemRecord.decode)
            o.paused = try Self.value(db, PipelineKeys.paused) == "1"
            o.windowEndsAt = try Self.value(db, PipelineKeys.windowEndsAt).flatMap(Double.init).map(
                Date.init(timeIntervalSince1970:))
            return o
        }
    }

    public func startableItems(parallel: Int) async throws -> [BacklogItem] {
        try await read { db in try Self.startable(db, parallel: parallel) }
    }

    /// The first queued items whose dependencies are all done, up to the free slots. The scan
    /// walks queued items in backlog order and stops at the limit, so it reads about as many
    /// rows as it returns unless items ahead wait for dependencies.
    static func startable(_ db: Database, parallel: Int) throws -> [BacklogItem] {
        let active =
            try Int.fetchOne(db.cachedStatement(sql: "SELECT n FROM backlog_counts WHERE state = 'active'")) ?? 0
        guard active < parallel else { return [] }
        return try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT * FROM backlog_items q
                    WHERE q.state = 'queued' AND NOT EXISTS (
                      SELECT 1 FROM json_each(q.after) a
                      WHERE NOT EXISTS (SELECT 1 FROM backlog_items d WHERE d.key = a.value AND d.state = 'done'
                                        AND (d.land_state IS NULL OR d.land_state IN ('landed','skipped'))))
                    ORDER BY q.position, q.key LIMIT ?
                    """), arguments: [parallel - active]
        ).map(BacklogItemRecord.decode)
    }

    public func finishedItems(since: Date?, before: Date) async throws -> [BacklogItem] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT * FROM backlog_items
                        WHERE state = 'done' AND finished_at >= ? AND finished_at < ? AND workdir IS NOT NULL
                        ORDER BY finished_at
                        """),
                arguments: [since?.timeIntervalSince1970 ?? -Double.greatestFiniteMagnitude, before.timeIntervalSince1970]
            ).map(BacklogItemRecord.decode)
        }
    }

    static func value(_ db: Database, _ key: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM pm_state WHERE key = ?"), arguments: [key])
    }

    /// True when the pipeline may create new tasks now (not paused, inside the window).
    static func mayCreateWork(_ db: Database, now: Date) throws -> Bool {
        PipelineKeys.mayCreateWork(
            paused: try value(db, PipelineKeys.paused), windowEndsAt: try value(db, PipelineKeys.windowEndsAt), now: now)
    }

    public func startItem(
        key: String, parallel: Int, workdir: String?, branch: String?, now: Date
    ) async throws -> Changes<AgentTask?> {
        guard let hook = pipeline else { throw StoreError(.unavailable, "the store was opened without a pipeline plan") }
        return try await journaled(now: now) { db, journal in
            guard try Self.mayCreateWork(db, now: now),
                let item = try Self.startable(db, parallel: parallel).first(where: { $0.key == key })
            else { return nil }
            var started = item
            started.workdir = workdir
            started.branch = branch
            try db.execute(
                sql:
                    "UPDATE backlog_items SET state = 'active', workdir = ?, branch = ?, started_at = ?, updated_at = ? WHERE key = ? AND state = 'queued'",
                arguments: [workdir, branch, now.timeIntervalSince1970, now.timeIntervalSince1970, key])
            return try Self.apply(
                db, hook.plan.first(for: started), item: started, parent: nil, hook: hook, now: now, journal: journal)
        }
    }

    public func reconcileItems(now: Date) async throws -> Changes<[AgentTask]> {
        guard let hook = pipeline else { return Changes([], entries: []) }
        return try await journaled(now: now) { db, journal in
            var created: [AgentTask] = []
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT i.key FROM backlog_items i LEFT JOIN tasks t ON t.id = i.current_task_id
                    WHERE i.state = 'active' AND (t.id IS NULL OR t.status IN ('completed','failed','cancelled'))
                    """)
            for row in rows {
                let key: String = row[0]
                guard let item = try BacklogItemRecord.fetch(db, key: key) else { continue }
                guard let taskID = item.currentTaskID, let task = try Self.fetch(db, taskID) else {
                    try Self.block(db, key: key, reason: "its current task is missing", now: now)
                    continue
                }
                if let t = try Self.advance(db, after: task, hook: hook, now: now, journal: journal) { created.append(t) }
            }
            return created
        }
    }

    /// Moves the item of `task` (which just ended) to its next step, inside the caller's transaction.
    static func advance(
        _ db: Database, after task: AgentTask, hook: PipelineHook, now: Date, journal: TaskJournal
    ) throws -> AgentTask? {
        if task.phase == PipelinePlan.mergePhase { return try mergeEnded(db, task, now: now) }
        guard let key = task.backlogItem, task.status.isTerminal,
            let item = try BacklogItemRecord.fetch(db, key: key), item.state == .active, item.currentTaskID == task.id
        else { return nil }
        let step = hook.plan.next(after: task, item: item)
        if case .run = step, try !mayCreateWork(db, now: now) {
            // Paused or past the window: the item waits; reconcileItems moves it on later.
            try db.execute(
                sql: "UPDATE backlog_items SET last_summary = COALESCE(?, last_summary), updated_at = ? WHERE key = ?",
                arguments: [task.summary, now.timeIntervalSince1970, key])
            return nil
        }
        return try apply(db, step, item: item, parent: task, hook: hook, now: now, journal: journal)
    }

    static func apply(
        _ db: Database, _ step: PipelinePlan.Step, item: BacklogItem, parent: AgentTask?, hook: PipelineHook, now: Date,
        journal: TaskJournal
    ) throws -> AgentTask? {
        let t = now.timeIntervalSince1970
        let summary = PipelineHook.summary(of: parent)
        switch step {
        case .done:
            try db.execute(
                sql:
                    "UPDATE backlog_items SET state = 'done', last_summary = COALESCE(?, last_summary), finished_at = ?, updated_at = ? WHERE key = ?",
                arguments: [summary, t, t, item.key])
            // With the merge queue on, an item with a branch joins it (its turn comes in backlog order).
            if hook.plan.land, item.branch != nil {
                try db.execute(
                    sql: "UPDATE backlog_items SET land_state = 'queued', land_attempts = 0, land_detail = NULL WHERE key = ?",
                    arguments: [item.key])
            }
            return nil
        case .blocked(let reason):
            try block(db, key: item.key, reason: reason, now: now)
            return nil
        case .run(let phase, let type, let executor, let iteration, let direction):
            let task = try prepareNew(
                hook.task(
                    phase: phase, type: type, executor: executor, iteration: iteration, direction: direction, item: item,
                    parent: parent, now: now))
            let stored = try insert(db, task, journal: journal, detail: PipelineHook.createdDetail(iteration: iteration))
            try db.execute(
                sql: """
                    UPDATE backlog_items SET phase = ?, iteration = ?, current_task_id = ?, last_summary = COALESCE(?, last_summary),
                      updated_at = ? WHERE key = ?
                    """, arguments: [phase, iteration, task.id, summary, t, item.key])
            return stored
        }
    }

    static func block(_ db: Database, key: String, reason: String, now: Date) throws {
        try db.execute(
            sql: "UPDATE backlog_items SET state = 'blocked', blocked_reason = ?, finished_at = ?, updated_at = ? WHERE key = ?",
            arguments: [reason, now.timeIntervalSince1970, now.timeIntervalSince1970, key])
    }

    /// After an operator retries the failed task of a blocked item, the item is active again.
    static func unblock(_ db: Database, retried task: AgentTask, now: Date) throws {
        guard let key = task.backlogItem else { return }
        try db.execute(
            sql: """
                UPDATE backlog_items SET state = 'active', blocked_reason = NULL, finished_at = NULL, updated_at = ?
                WHERE key = ? AND state = 'blocked' AND current_task_id = ?
                """, arguments: [now.timeIntervalSince1970, key, task.id])
    }

    public func setPipelineValue(_ key: String, _ value: String?) async throws {
        try await write { db in
            if let value {
                try db.execute(
                    sql: "INSERT INTO pm_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    arguments: [key, value])
            } else {
                try db.execute(sql: "DELETE FROM pm_state WHERE key = ?", arguments: [key])
            }
        }
    }

    public func pipelineValue(_ key: String) async throws -> String? {
        try await read { db in try Self.value(db, key) }
    }
}
