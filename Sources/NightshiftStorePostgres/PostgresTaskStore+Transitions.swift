import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

extension PostgresTaskStore {
    public func claim(
        owner: String, limit: Int, now: Date, lease: Double, excluding: ClaimExclusion
    ) async throws -> Changes<[AgentTask]> {
        guard limit > 0 else { return Changes([], entries: []) }
        let t = now.timeIntervalSince1970
        var sql = PostgresSQL()
        let running = TaskStateMachine.target(of: .claim).rawValue
        // Paused executors: their tasks stay pending.
        let exclusion =
            excluding.isEmpty
            ? ""
            : """
              AND NOT (p.executor = ANY(\(sql.bind(excluding.executors)))
                OR (p.executor IS NULL AND p.task_type = ANY(\(sql.bind(excluding.types)))))
            """
        // One statement picks the rows (locking them, skipping any another claimer holds) and
        // flips them, so two claimers, on one node or several, never both win a task.
        sql.append(
            """
            WITH picked AS (
              SELECT p.id FROM tasks p
              WHERE p.status = 'pending' AND (p.not_before IS NULL OR p.not_before <= \(sql.bind(t)))
                AND (p.depends_on = '[]'::jsonb OR NOT EXISTS (
                  SELECT 1 FROM jsonb_array_elements_text(p.depends_on) d(value) LEFT JOIN tasks x ON x.id = d.value
                  WHERE x.status IS DISTINCT FROM 'completed'))\(exclusion)
              ORDER BY p.priority DESC, p.created_at, p.id
              LIMIT \(sql.bind(limit))
              FOR UPDATE OF p SKIP LOCKED)
            UPDATE tasks t SET status = \(sql.bind(running)), claimed_by = \(sql.bind(owner)), attempt = t.attempt + 1,
              lease_expires_at = \(sql.bind(t + lease)), heartbeat_at = \(sql.bind(t)), started_at = \(sql.bind(t)),
              updated_at = \(sql.bind(t)), finished_at = NULL, pid = NULL, pgid = NULL, exit_code = NULL, not_before = NULL
            FROM picked WHERE t.id = picked.id AND t.status = 'pending'
            RETURNING \(PostgresTaskRow.columns("t"))
            """)
        let statement = sql
        return try await journaled(now: now) { conn, journal in
            let claimed = try await Self.tasks(conn.query(statement.query, logger: self.logger)).sorted {
                ($0.priority, $1.createdAt, $1.id) > ($1.priority, $0.createdAt, $0.id)
            }
            for task in claimed { journal.record(.claimed, from: .pending, task, ["by": .string(owner)]) }
            return claimed
        }
    }

    public func recordStart(
        id: String, owner: String, pid: Int32, pgid: Int32, command: String, logPath: String, now: Date
    ) async throws -> Changes<AgentTask> {
        try await journaled(now: now) { conn, journal in
            let rows = try await conn.query(
                """
                UPDATE tasks SET pid = \(Int(pid)), pgid = \(Int(pgid)), command = \(command), log_path = \(logPath),
                  updated_at = \(now.timeIntervalSince1970)
                WHERE id = \(id) AND status = 'running' AND claimed_by = \(owner)
                RETURNING \(unescaped: PostgresTaskRow.all)
                """, logger: self.logger)
            if let started = try await Self.firstTask(rows) {
                journal.record(.started, from: .running, started, ["pid": .number(Double(pid)), "by": .string(owner)])
                return started
            }
            throw try await self.lostClaim(conn, id, owner)
        }
    }

    public func heartbeat(ids: [String], owner: String, now: Date, lease: Double) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let t = now.timeIntervalSince1970
        return try await read { conn in
            let rows = try await conn.query(
                """
                UPDATE tasks SET lease_expires_at = \(t + lease), heartbeat_at = \(t)
                WHERE status = 'running' AND claimed_by = \(owner) AND id = ANY(\(ids))
                RETURNING id
                """, logger: self.logger)
            var held: Set<String> = []
            for try await id in rows.decode(String.self) { held.insert(id) }
            return Set(ids).subtracting(held)
        }
    }

    public func finish(_ requests: [FinishRequest], now: Date) async throws -> Changes<[Result<AgentTask, StoreError>]> {
        try await journaled(now: now) { conn, journal in
            var results: [Result<AgentTask, StoreError>] = []
            results.reserveCapacity(requests.count)
            // A database error aborts a PostgreSQL transaction: with several requests each runs
            // under a savepoint, so that one bad request fails alone, as in SQLite.
            let isolate = requests.count > 1
            for r in requests {
                if isolate { try await conn.query("SAVEPOINT finish_one", logger: self.logger) }
                do {
                    results.append(.success(try await self.finishOne(conn, r, now: now, journal: journal)))
                    if isolate { try await conn.query("RELEASE SAVEPOINT finish_one", logger: self.logger) }
                } catch let e as StoreError {
                    if isolate { try await conn.query("RELEASE SAVEPOINT finish_one", logger: self.logger) }
                    results.append(.failure(e))
                } catch let e as PSQLError where isolate && e.serverInfo != nil {
                    try await conn.query("ROLLBACK TO SAVEPOINT finish_one", logger: self.logger)
                    results.append(.failure(self.map(e)))
                }
            }
            return results
        }
    }

    /// Records one attempt's end. The new status is what `TaskStateMachine` says the outcome's
    /// event leads to from `running`; the event is appended as `kind` (finished, or rescued).
    func finishOne(
        _ conn: PostgresConnection, _ r: FinishRequest, now: Date, journal: PostgresJournal, kind: TaskEventKind = .finished,
        detail extra: [String: JSONValue] = [:]
    ) async throws -> AgentTask {
        let o = r.outcome
        // Only a failure that may be retried depends on the attempts left: read them (and lock
        // the row, so the answer holds until the update) only then.
        var attemptsLeft = false
        if OutcomeTransition.needsAttemptsLeft(o) {
            let rows = try await conn.query(
                """
                SELECT attempt < max_attempts FROM tasks WHERE id = \(r.id) AND status = 'running' AND claimed_by = \(r.owner)
                FOR UPDATE
                """, logger: logger)
            var left: Bool?
            for try await l in rows.decode(Bool.self) { left = l }
            guard let left else { throw try await lostClaim(conn, r.id, r.owner) }
            attemptsLeft = left
        }
        if let bad = OutcomeTransition.badVerdict(o) {
            // A caller that no longer holds the task hears that first, as it always has.
            if try await !holds(conn, r.id, r.owner) { throw try await lostClaim(conn, r.id, r.owner) }
            throw bad
        }
        let t = now.timeIntervalSince1970
        let end = try OutcomeTransition(o, id: r.id, attemptsLeft: attemptsLeft, now: now)
        let (status, notBefore, errorClass, error, prompt, paused) = (
            end.status, end.notBefore, end.errorClass, end.error, end.prompt, end.paused
        )
        let m = o.metering
        let costSource = m?.costSource ?? (o.costUSD != nil ? "reported" : nil)
        let metered = m != nil
        let cost = m?.costUSD ?? o.costUSD
        let tokensIn = m?.tokensIn ?? o.tokensIn
        let tokensOut = m?.tokensOut ?? o.tokensOut
        let rows = try await conn.query(
            """
            -- A NULL parameter has no type of its own: each one outside an assignment is cast.
            UPDATE tasks SET status = \(status.rawValue), not_before = \(notBefore), error_class = \(errorClass),
              error = \(error), decision_prompt = \(prompt),
              decision = CASE WHEN \(status.rawValue) = 'needs_decision' THEN NULL ELSE decision END,
              decided_at = CASE WHEN \(status.rawValue) = 'needs_decision' THEN NULL ELSE decided_at END,
              exit_code = \(o.exitCode.map(Int.init)), output_tail = \(o.outputTail), summary = COALESCE(\(o.summary), summary),
              verdict = \(o.verdict), feedback = \(o.feedback),
              cost_usd = CASE WHEN \(metered) THEN \(cost)::double precision WHEN \(cost)::double precision IS NULL THEN cost_usd
                ELSE COALESCE(cost_usd, 0) + \(cost)::double precision END,
              tokens_in = CASE WHEN \(metered) THEN \(tokensIn)::bigint WHEN \(tokensIn)::bigint IS NULL THEN tokens_in
                ELSE COALESCE(tokens_in, 0) + \(tokensIn)::bigint END,
              tokens_out = CASE WHEN \(metered) THEN \(tokensOut)::bigint WHEN \(tokensOut)::bigint IS NULL THEN tokens_out
                ELSE COALESCE(tokens_out, 0) + \(tokensOut)::bigint END,
              tokens_cache_read = COALESCE(\(m?.tokensCacheRead), tokens_cache_read),
              tokens_cache_write = COALESCE(\(m?.tokensCacheWrite), tokens_cache_write),
              turns = COALESCE(\(m?.turns), turns), last_tool = COALESCE(\(m?.lastTool), last_tool),
              last_event_at = COALESCE(\(m?.lastEventAt?.timeIntervalSince1970), last_event_at),
              cost_source = COALESCE(\(costSource), cost_source),
              session_id = COALESCE(\(m?.sessionID), session_id), model = COALESCE(\(m?.model), model),
              attempt = CASE WHEN \(paused) THEN GREATEST(attempt - 1, 0) ELSE attempt END,
              lease_expires_at = NULL,
              claimed_by = CASE WHEN \(status.rawValue) = 'pending' THEN NULL ELSE claimed_by END,
              finished_at = \(t), updated_at = \(t)
            WHERE id = \(r.id) AND status = 'running' AND claimed_by = \(r.owner)
            RETURNING \(unescaped: PostgresTaskRow.all)
            """, logger: logger)
        guard let updated = try await Self.firstTask(rows) else { throw try await lostClaim(conn, r.id, r.owner) }
        journal.record(kind, from: .running, updated, end.detail(o, extra: extra, owner: r.owner))
        if let hook = pipeline { _ = try await advance(conn, after: updated, hook: hook, now: now, journal: journal) }
        return updated
    }

    /// Whether `owner` holds the running task `id`.
    func holds(_ conn: PostgresConnection, _ id: String, _ owner: String) async throws -> Bool {
        try await int(conn, "SELECT COUNT(*) FROM tasks WHERE id = \(id) AND status = 'running' AND claimed_by = \(owner)") > 0
    }

    /// Why a caller that thought it held a running task does not.
    func lostClaim(_ conn: PostgresConnection, _ id: String, _ owner: String) async throws -> StoreError {
        guard let current = try await fetch(conn, id) else { return StoreError.notFound(id) }
        return StoreError(
            .lostClaim, "task \(id) is \(current.status.rawValue) and held by \(current.claimedBy ?? "nobody"), not \(owner)",
            currentStatus: current.status)
    }

    /// Runs a compare-and-set UPDATE that moves the task to the status `TaskStateMachine` gives
    /// for `event`, from the statuses where it is legal, and records the event. The status
    /// before is read from the row the update locked, in the same statement. When it matched
    /// nothing, explains why. `set` writes the other assignments, binding into the statement.
    func transition(
        _ conn: PostgresConnection, id: String, event: TaskEvent, kind: TaskEventKind, journal: PostgresJournal,
        detail: [String: JSONValue], set: (inout PostgresSQL) -> String
    ) async throws -> AgentTask {
        let legal = TaskStateMachine.sources(of: event)
        var sql = PostgresSQL()
        let target = sql.bind(TaskStateMachine.target(of: event).rawValue)
        let sources = sql.bind(legal.map(\.rawValue))
        let assignments = set(&sql)
        sql.append(
            """
            UPDATE tasks t SET status = \(target), \(assignments)
            FROM (SELECT id, status AS before FROM tasks WHERE id = \(sql.bind(id)) FOR UPDATE) o
            WHERE t.id = o.id AND t.status = ANY(\(sources))
            RETURNING \(PostgresTaskRow.columns("t")), o.before
            """)
        for try await row in try await conn.query(sql.query, logger: logger) {
            let after = try PostgresTaskRow.decode(row)
            let before = try row.makeRandomAccess()[PostgresTaskRow.names.count].decode(String.self)
            journal.record(kind, from: TaskStatus(rawValue: before), after, detail)
            return after
        }
        guard let current = try await fetch(conn, id) else { throw StoreError.notFound(id) }
        throw StoreError.illegal(id, current.status, event)
    }

    /// A priority outside `TaskValidation.priorityRange` is refused before anything is written.
    static func checkPriority(_ priority: Int?) throws {
        guard let priority, !TaskValidation.priorityRange.contains(priority) else { return }
        throw StoreError(
            .invalid, "must be between \(TaskValidation.priorityRange.lowerBound) and \(TaskValidation.priorityRange.upperBound)",
            field: "priority")
    }

    public func decide(
        id: String, decision: String, priority: Int?, budgetUSD: Double?, by actor: Actor, now: Date
    ) async throws -> Changes<AgentTask> {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        var detail: [String: JSONValue] = ["decision": .string(String(decision.prefix(500))), "by": .string(actor)]
        if let budgetUSD { detail["budget_usd"] = .number(budgetUSD) }
        let entry = detail
        return try await journaled(now: now) { conn, journal in
            try await self.transition(conn, id: id, event: .decide, kind: .decided, journal: journal, detail: entry) { sql in
                // The resumed run continues the attempt that asked; it does not use up a new one.
                """
                decision = \(sql.bind(decision)), decided_at = \(sql.bind(t)), not_before = NULL,
                attempt = GREATEST(t.attempt - 1, 0), priority = COALESCE(\(sql.bind(priority)), t.priority),
                budget_usd = COALESCE(\(sql.bind(budgetUSD)), t.budget_usd), updated_at = \(sql.bind(t))
                """
            }
        }
    }

    public func decline(
        id: String, errorClass: ErrorClass, reason: String, by actor: Actor, now: Date
    ) async throws -> Changes<AgentTask> {
        let t = now.timeIntervalSince1970
        let detail: [String: JSONValue] = [
            "decision": .string(String(reason.prefix(500))), "by": .string(actor), "outcome": .string("declined"),
            "error_class": .string(errorClass.rawValue),
        ]
        return try await journaled(now: now) { conn, journal in
            let after = try await self.transition(
                conn, id: id, event: .decline, kind: .decided, journal: journal, detail: detail
            ) { sql in
                """
                error_class = \(sql.bind(errorClass.rawValue)), error = \(sql.bind("declined: \(reason)")),
                decision = \(sql.bind(reason)), decided_at = \(sql.bind(t)), finished_at = \(sql.bind(t)), updated_at = \(sql.bind(t))
                """
            }
            if let hook = self.pipeline { _ = try await self.advance(conn, after: after, hook: hook, now: now, journal: journal) }
            return after
        }
    }

    public func cancel(id: String, reason: String, priority: Int?, by actor: Actor, now: Date) async throws -> Changes<AgentTask>
    {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        let detail: [String: JSONValue] = ["reason": .string(reason), "by": .string(actor)]
        return try await journaled(now: now) { conn, journal in
            let after = try await self.transition(
                conn, id: id, event: .cancel, kind: .cancelled, journal: journal, detail: detail
            ) { sql in
                """
                error_class = 'cancelled', error = \(sql.bind(reason)), lease_expires_at = NULL, finished_at = \(sql.bind(t)),
                priority = COALESCE(\(sql.bind(priority)), t.priority), updated_at = \(sql.bind(t))
                """
            }
            if let hook = self.pipeline { _ = try await self.advance(conn, after: after, hook: hook, now: now, journal: journal) }
            return after
        }
    }

    public func retry(id: String, priority: Int?, by actor: Actor, now: Date) async throws -> Changes<AgentTask> {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        return try await journaled(now: now) { conn, journal in
            let retried = try await self.transition(
                conn, id: id, event: .retry, kind: .retried, journal: journal, detail: ["by": .string(actor)]
            ) { sql in
                """
                attempt = 0, not_before = NULL, claimed_by = NULL, finished_at = NULL,
                priority = COALESCE(\(sql.bind(priority)), t.priority), updated_at = \(sql.bind(t))
                """
            }
            try await self.unblock(conn, retried: retried, now: now)
            return retried
        }
    }

    /// After an operator retries the failed task of a blocked item, the item is active again.
    func unblock(_ conn: PostgresConnection, retried task: AgentTask, now: Date) async throws {
        guard let key = task.backlogItem else { return }
        try await conn.query(
            """
            UPDATE backlog_items SET state = 'active', blocked_reason = NULL, finished_at = NULL,
              updated_at = \(now.timeIntervalSince1970)
            WHERE key = \(key) AND state = 'blocked' AND current_task_id = \(task.id)
            """, logger: logger)
    }

    public func setPriority(id: String, priority: Int, by actor: Actor, now: Date) async throws -> Changes<AgentTask> {
        try Self.checkPriority(priority)
        return try await journaled(now: now) { conn, journal in
            let rows = try await conn.query(
                """
                UPDATE tasks SET priority = \(priority), updated_at = \(now.timeIntervalSince1970)
                WHERE id = \(id) AND status IN ('pending','running','needs_decision')
                RETURNING \(unescaped: PostgresTaskRow.all)
                """, logger: self.logger)
            if let updated = try await Self.firstTask(rows) {
                journal.record(
                    .updated, from: updated.status, updated, ["priority": .number(Double(priority)), "by": .string(actor)])
                return updated
            }
            guard let current = try await self.fetch(conn, id) else { throw StoreError.notFound(id) }
            throw StoreError(
                .illegalTransition, "task \(id) is \(current.status.rawValue); its priority can no longer change",
                currentStatus: current.status)
        }
    }

    public func rescue(
        id: String, owner: String, reason: String, errorClass: ErrorClass, retryDelay: Double, by actor: Actor, now: Date
    ) async throws -> Changes<AgentTask> {
        try await journaled(now: now) { conn, journal in
            let outcome = AttemptOutcome(.failed(errorClass: errorClass, error: reason, retryDelay: retryDelay))
            return try await self.finishOne(
                conn, FinishRequest(id: id, owner: owner, outcome: outcome), now: now, journal: journal, kind: .rescued,
                detail: ["by": .string(actor), "reason": .string(reason)])
        }
    }

    public func expire(decisionsAskedBefore cutoff: Date, by actor: Actor, now: Date) async throws -> Changes<[AgentTask]> {
        let t = now.timeIntervalSince1970
        let failed = TaskStateMachine.target(of: .decisionTimeout).rawValue
        let waiting = TaskStateMachine.sources(of: .decisionTimeout)
        return try await journaled(now: now) { conn, journal in
            let expired = try await Self.tasks(
                conn.query(
                    """
                    WITH e AS (
                      UPDATE tasks SET status = \(failed), error_class = 'decision_timeout',
                        error = 'no decision arrived within the decision timeout', finished_at = \(t), updated_at = \(t)
                      WHERE status = 'needs_decision' AND COALESCE(finished_at, updated_at) < \(cutoff.timeIntervalSince1970)
                      RETURNING *)
                    SELECT \(unescaped: PostgresTaskRow.all) FROM e ORDER BY created_at, id
                    """, logger: self.logger))
            for task in expired {
                journal.record(
                    .expired, from: waiting.first, task, ["by": .string(actor), "error_class": .string("decision_timeout")])
                if let hook = self.pipeline {
                    _ = try await self.advance(conn, after: task, hook: hook, now: now, journal: journal)
                }
            }
            return expired
        }
    }
}
