import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// The project manager's store on PostgreSQL: the same steps as SQLite's, with the rows they
/// decide on locked (`FOR UPDATE`), since daemons on several nodes write at once where SQLite
/// has one writer.
extension PostgresTaskStore: PipelineStore {
    public func importBacklog(_ entries: [BacklogEntry], now: Date) async throws -> ImportSummary {
        let t = now.timeIntervalSince1970
        return try await transaction { conn in
            var summary = ImportSummary()
            for e in entries {
                let after = String(decoding: try JSONEncoder().encode(e.after), as: UTF8.self)
                if let existing = try await self.item(conn, key: e.key, lock: true) {
                    let same =
                        existing.title == e.title && existing.body == e.body && existing.after == e.after
                        && existing.position == e.position
                    if same {
                        summary.unchanged += 1
                    } else if existing.state == .queued {
                        try await conn.query(
                            """
                            UPDATE backlog_items SET title = \(e.title), body = \(e.body), after = \(after)::jsonb,
                              position = \(e.position), updated_at = \(t) WHERE key = \(e.key)
                            """, logger: self.logger)
                        summary.updated.append(e.key)
                    } else {
                        try await conn.query(
                            "UPDATE backlog_items SET position = \(e.position) WHERE key = \(e.key)", logger: self.logger)
                        summary.unchanged += 1
                    }
                } else {
                    let item = BacklogItem(entry: e, now: now)
                    var slug = item.slug
                    var n = 2
                    while try await self.int(conn, "SELECT COUNT(*) FROM backlog_items WHERE slug = \(slug)") > 0 {
                        slug = "\(item.slug)-\(n)"
                        n += 1
                    }
                    try await conn.query(
                        """
                        INSERT INTO backlog_items (key, position, title, body, after, slug, state, iteration, created_at, updated_at)
                        VALUES (\(e.key), \(e.position), \(e.title), \(e.body), \(after)::jsonb, \(slug), 'queued', 0, \(t), \(t))
                        """, logger: self.logger)
                    summary.added.append(e.key)
                }
            }
            return summary
        }
    }

    public func items() async throws -> [BacklogItem] {
        try await read { conn in
            try await PostgresBacklogRow.items(
                conn.query(
                    "SELECT \(unescaped: PostgresBacklogRow.all) FROM backlog_items ORDER BY position, key", logger: self.logger))
        }
    }

    public func items(keys: [String]) async throws -> [BacklogItem] {
        guard !keys.isEmpty else { return [] }
        return try await read { conn in
            try await PostgresBacklogRow.items(
                conn.query(
                    "SELECT \(unescaped: PostgresBacklogRow.all) FROM backlog_items WHERE key = ANY(\(keys)) ORDER BY position, key",
                    logger: self.logger))
        }
    }

    public func overview(blockedLimit: Int?) async throws -> PipelineOverview {
        try await snapshot { conn in
            var o = PipelineOverview()
            for state in ItemState.allCases { o.counts[state] = 0 }
            for try await (state, n) in try await conn.query("SELECT state, n FROM backlog_counts", logger: self.logger)
                .decode((String, Int).self)
            {
                if let s = ItemState(rawValue: state) { o.counts[s] = n }
            }
            let width = PostgresBacklogRow.names.count
            let active = try await conn.query(
                """
                SELECT \(unescaped: PostgresBacklogRow.columns("i")), t.status FROM backlog_items i
                LEFT JOIN tasks t ON t.id = i.current_task_id
                WHERE i.state = 'active' ORDER BY i.position, i.key
                """, logger: self.logger)
            for try await row in active {
                let item = try PostgresBacklogRow.decode(row)
                o.active.append(item)
                if let status = try row.makeRandomAccess()[width].decode(String?.self).flatMap(TaskStatus.init(rawValue:)) {
                    o.taskStatus[item.key] = status
                }
            }
            o.blocked = try await PostgresBacklogRow.items(
                conn.query(
                    """
                    SELECT \(unescaped: PostgresBacklogRow.all) FROM backlog_items WHERE state = 'blocked'
                    ORDER BY position, key LIMIT \(blockedLimit)
                    """, logger: self.logger))
            o.paused = try await self.value(conn, PipelineKeys.paused) == "1"
            o.windowEndsAt = try await self.value(conn, PipelineKeys.windowEndsAt).flatMap(Double.init).map(
                Date.init(timeIntervalSince1970:))
            return o
        }
    }

    public func startableItems(parallel: Int) async throws -> [BacklogItem] {
        try await snapshot { conn in try await self.startable(conn, parallel: parallel) }
    }

    /// The first queued items whose dependencies are all done (and landed or skipped when the
    /// merge queue is on), up to the free slots. `lock` holds the active count's row, so that
    /// starts on several nodes take turns and never pass `parallel` together.
    func startable(_ conn: PostgresConnection, parallel: Int, lock: Bool = false) async throws -> [BacklogItem] {
        let active = try await int(
            conn,
            "SELECT n FROM backlog_counts WHERE state = 'active'\(unescaped: lock ? " FOR UPDATE" : "")")
        guard active < parallel else { return [] }
        return try await PostgresBacklogRow.items(
            conn.query(
                """
                SELECT \(unescaped: PostgresBacklogRow.columns("q")) FROM backlog_items q
                WHERE q.state = 'queued' AND NOT EXISTS (
                  SELECT 1 FROM jsonb_array_elements_text(q.after) a(value)
                  WHERE NOT EXISTS (SELECT 1 FROM backlog_items d WHERE d.key = a.value AND d.state = 'done'
                                    AND (d.land_state IS NULL OR d.land_state IN ('landed','skipped'))))
                ORDER BY q.position, q.key LIMIT \(parallel - active)
                """, logger: logger))
    }

    public func finishedItems(since: Date?, before: Date) async throws -> [BacklogItem] {
        try await read { conn in
            try await PostgresBacklogRow.items(
                conn.query(
                    """
                    SELECT \(unescaped: PostgresBacklogRow.all) FROM backlog_items
                    WHERE state = 'done' AND finished_at >= \(since?.timeIntervalSince1970 ?? -Double.greatestFiniteMagnitude)
                      AND finished_at < \(before.timeIntervalSince1970) AND workdir IS NOT NULL
                    ORDER BY finished_at
                    """, logger: self.logger))
        }
    }

    func value(_ conn: PostgresConnection, _ key: String) async throws -> String? {
        for try await v in try await conn.query("SELECT value FROM pm_state WHERE key = \(key)", logger: logger).decode(
            String.self)
        {
            return v
        }
        return nil
    }

    /// True when the pipeline may create new tasks now (not paused, inside the window).
    func mayCreateWork(_ conn: PostgresConnection, now: Date) async throws -> Bool {
        PipelineKeys.mayCreateWork(
            paused: try await value(conn, PipelineKeys.paused), windowEndsAt: try await value(conn, PipelineKeys.windowEndsAt),
            now: now)
    }

    public func startItem(
        key: String, parallel: Int, workdir: String?, branch: String?, now: Date
    ) async throws -> Changes<AgentTask?> {
        guard let hook = pipeline else { throw StoreError(.unavailable, "the store was opened without a pipeline plan") }
        return try await journaled(now: now) { conn, journal in
            guard try await self.mayCreateWork(conn, now: now),
                let item = try await self.startable(conn, parallel: parallel, lock: true).first(where: { $0.key == key })
            else { return nil }
            var started = item
            started.workdir = workdir
            started.branch = branch
            let t = now.timeIntervalSince1970
            let moved = try await self.int(
                conn,
                """
                WITH u AS (
                  UPDATE backlog_items SET state = 'active', workdir = \(workdir), branch = \(branch), started_at = \(t),
                    updated_at = \(t)
                  WHERE key = \(key) AND state = 'queued' RETURNING 1)
                SELECT COUNT(*) FROM u
                """)
            guard moved == 1 else { return nil }
            return try await self.apply(
                conn, hook.plan.first(for: started), item: started, parent: nil, hook: hook, now: now, journal: journal)
        }
    }

    public func reconcileItems(now: Date) async throws -> Changes<[AgentTask]> {
        guard let hook = pipeline else { return Changes([], entries: []) }
        return try await journaled(now: now) { conn, journal in
            var created: [AgentTask] = []
            var keys: [String] = []
            for try await key in try await conn.query(
                """
                SELECT i.key FROM backlog_items i LEFT JOIN tasks t ON t.id = i.current_task_id
                WHERE i.state = 'active' AND (t.id IS NULL OR t.status IN ('completed','failed','cancelled'))
                ORDER BY i.position, i.key FOR UPDATE OF i
                """, logger: self.logger
            ).decode(String.self) {
                keys.append(key)
            }
            for key in keys {
                guard let item = try await self.item(conn, key: key) else { continue }
                guard let taskID = item.currentTaskID, let task = try await self.fetch(conn, taskID) else {
                    try await self.block(conn, key: key, reason: "its current task is missing", now: now)
                    continue
                }
                if let t = try await self.advance(conn, after: task, hook: hook, now: now, journal: journal) {
                    created.append(t)
                }
            }
            return created
        }
    }

    /// Moves the item of `task` (which just ended) to its next step, inside the caller's transaction.
    func advance(
        _ conn: PostgresConnection, after task: AgentTask, hook: PipelineHook, now: Date, journal: PostgresJournal
    ) async throws -> AgentTask? {
        if task.phase == PipelinePlan.mergePhase { return try await mergeEnded(conn, task, now: now) }
        guard let key = task.backlogItem, task.status.isTerminal,
            let item = try await self.item(conn, key: key, lock: true), item.state == .active, item.currentTaskID == task.id
        else { return nil }
        let step = hook.plan.next(after: task, item: item)
        if case .run = step, try await !mayCreateWork(conn, now: now) {
            // Paused or past the window: the item waits; reconcileItems moves it on later.
            try await conn.query(
                """
                UPDATE backlog_items SET last_summary = COALESCE(\(task.summary), last_summary),
                  updated_at = \(now.timeIntervalSince1970) WHERE key = \(key)
                """, logger: logger)
            return nil
        }
        return try await apply(conn, step, item: item, parent: task, hook: hook, now: now, journal: journal)
    }

    func apply(
        _ conn: PostgresConnection, _ step: PipelinePlan.Step, item: BacklogItem, parent: AgentTask?, hook: PipelineHook,
        now: Date, journal: PostgresJournal
    ) async throws -> AgentTask? {
        let t = now.timeIntervalSince1970
        let summary = PipelineHook.summary(of: parent)
        switch step {
        case .done:
            try await conn.query(
                """
                UPDATE backlog_items SET state = 'done', last_summary = COALESCE(\(summary), last_summary), finished_at = \(t),
                  updated_at = \(t) WHERE key = \(item.key)
                """, logger: logger)
            // With the merge queue on, an item with a branch joins it (its turn comes in backlog order).
            if hook.plan.land, item.branch != nil {
                try await conn.query(
                    "UPDATE backlog_items SET land_state = 'queued', land_attempts = 0, land_detail = NULL WHERE key = \(item.key)",
                    logger: logger)
            }
            return nil
        case .blocked(let reason):
            try await block(conn, key: item.key, reason: reason, now: now)
            return nil
        case .run(let phase, let type, let executor, let iteration, let direction):
            let task = try Self.prepareNew(
                hook.task(
                    phase: phase, type: type, executor: executor, iteration: iteration, direction: direction, item: item,
                    parent: parent, now: now))
            let stored = try await insert(conn, task, journal: journal, detail: PipelineHook.createdDetail(iteration: iteration))
            try await conn.query(
                """
                UPDATE backlog_items SET phase = \(phase), iteration = \(iteration), current_task_id = \(task.id),
                  last_summary = COALESCE(\(summary), last_summary), updated_at = \(t) WHERE key = \(item.key)
                """, logger: logger)
            return stored
        }
    }

    func block(_ conn: PostgresConnection, key: String, reason: String, now: Date) async throws {
        let t = now.timeIntervalSince1970
        try await conn.query(
            """
            UPDATE backlog_items SET state = 'blocked', blocked_reason = \(reason), finished_at = \(t), updated_at = \(t)
            WHERE key = \(key)
            """, logger: logger)
    }

    public func setPipelineValue(_ key: String, _ value: String?) async throws {
        try await read { conn in
            if let value {
                _ = try await conn.query(
                    """
                    INSERT INTO pm_state (key, value) VALUES (\(key), \(value))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """, logger: self.logger)
            } else {
                _ = try await conn.query("DELETE FROM pm_state WHERE key = \(key)", logger: self.logger)
            }
        }
    }

    public func pipelineValue(_ key: String) async throws -> String? {
        try await read { conn in try await self.value(conn, key) }
    }
}
