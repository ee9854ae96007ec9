import Foundation
import GRDB
import NightshiftCore

extension SQLiteTaskStore {
    public func claim(
        owner: String, limit: Int, now: Date, lease: Double, excluding: ClaimExclusion
    ) async throws -> Changes<[AgentTask]> {
        guard limit > 0 else { return Changes([], entries: []) }
        let t = now.timeIntervalSince1970
        let running = TaskStateMachine.target(of: .claim).rawValue
        // Paused executors: their tasks stay pending (bound as JSON arrays, one statement shape).
        let exclusion =
            excluding.isEmpty
            ? ""
            : """
              AND NOT (p.executor IN (SELECT value FROM json_each(?))
                OR (p.executor IS NULL AND p.task_type IN (SELECT value FROM json_each(?))))
            """
        return try await journaled(now: now) { db, journal in
            // One statement picks and flips the rows, so two claimers can never both win one.
            let stmt = try db.cachedStatement(
                sql: """
                    UPDATE tasks SET status = ?, claimed_by = ?, attempt = attempt + 1,
                      lease_expires_at = ?, heartbeat_at = ?, started_at = ?, updated_at = ?, finished_at = NULL,
                      pid = NULL, pgid = NULL, exit_code = NULL, not_before = NULL
                    WHERE id IN (
                      SELECT p.id FROM tasks p INDEXED BY tasks_runnable
                      WHERE p.status = 'pending' AND (p.not_before IS NULL OR p.not_before <= ?)
                        AND (p.depends_on = '[]' OR NOT EXISTS (
                          SELECT 1 FROM json_each(p.depends_on) d LEFT JOIN tasks x ON x.id = d.value
                          WHERE x.status IS NOT 'completed'))\(exclusion)
                      ORDER BY p.priority DESC, p.created_at, p.id LIMIT ?)
                    RETURNING *
                    """)
            var args: StatementArguments = [running, owner, t + lease, t, t, t, t]
            if !excluding.isEmpty {
                let enc = JSONEncoder()
                args += [
                    String(decoding: try enc.encode(excluding.executors), as: UTF8.self),
                    String(decoding: try enc.encode(excluding.types), as: UTF8.self),
                ]
            }
            args += [limit]
            let claimed = try Self.fetchTasks(stmt, arguments: args).sorted {
                ($0.priority, $1.createdAt, $1.id) > ($1.priority, $0.createdAt, $0.id)
            }
            for task in claimed { try journal.record(db, .claimed, from: .pending, task, ["by": .string(owner)]) }
            return claimed
        }
    }

    public func recordStart(
        id: String, owner: String, pid: Int32, pgid: Int32, command: String, logPath: String, now: Date
    ) async throws -> Changes<AgentTask> {
        try await journaled(now: now) { db, journal in
            let stmt = try db.cachedStatement(
                sql: """
                    UPDATE tasks SET pid = ?, pgid = ?, command = ?, log_path = ?, updated_at = ?
                    WHERE id = ? AND status = 'running' AND claimed_by = ? RETURNING *
                    """)
            if let started = try Self.fetchTask(
                stmt, arguments: [pid, pgid, command, logPath, now.timeIntervalSince1970, id, owner])
            {
                try journal.record(db, .started, from: .running, started, ["pid": .number(Double(pid)), "by": .string(owner)])
                return started
            }
            throw try Self.lostClaim(db, id, owner)
        }
    }

    public func heartbeat(ids: [String], owner: String, now: Date, lease: Double) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let t = now.timeIntervalSince1970
        return try await write { db in
            var args: StatementArguments = [t + lease, t, owner]
            args += StatementArguments(ids)
            let held = try String.fetchSet(
                db,
                sql: """
                    UPDATE tasks SET lease_expires_at = ?, heartbeat_at = ?
                    WHERE status = 'running' AND claimed_by = ? AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))
                    RETURNING id
                    """, arguments: args)
            return Set(ids).subtracting(held)
        }
    }

    public func finish(_ requests: [FinishRequest], now: Date) async throws -> Changes<[Result<AgentTask, StoreError>]> {
        try await journaled(now: now) { db, journal in
            var results: [Result<AgentTask, StoreError>] = []
            results.reserveCapacity(requests.count)
            for r in requests {
                do {
                    results.append(.success(try self.finishOne(db, r, now: now, journal: journal)))
                } catch let e as StoreError {
                    results.append(.failure(e))
                } catch let e as DatabaseError {
                    results.append(.failure(Self.map(e)))
                }
            }
            return results
        }
    }

    /// Records one attempt's end. The new status is what `TaskStateMachine` says the outcome's
    /// event leads to from `running`; the event is appended as `kind` (finished, or rescued).
    func finishOne(
        _ db: Database, _ r: FinishRequest, now: Date, journal: TaskJournal, kind: TaskEventKind = .finished,
        detail extra: [String: JSONValue] = [:]
    ) throws -> AgentTask {
        let o = r.outcome
        // Only a failure that may be retried depends on the attempts left: read them only then.
        var attemptsLeft = false
        if OutcomeTransition.needsAttemptsLeft(o) {
            let select = try db.cachedStatement(
                sql: "SELECT attempt < max_attempts FROM tasks WHERE id = ? AND status = 'running' AND claimed_by = ?")
            guard let left = try Bool.fetchOne(select, arguments: [r.id, r.owner]) else {
                throw try Self.lostClaim(db, r.id, r.owner)
            }
            attemptsLeft = left
        }
        if let bad = OutcomeTransition.badVerdict(o) {
            // A caller that no longer holds the task hears that first, as it always has.
            if try !Self.holds(db, r.id, r.owner) { throw try Self.lostClaim(db, r.id, r.owner) }
            throw bad
        }
        let t = now.timeIntervalSince1970
        let end = try OutcomeTransition(o, id: r.id, attemptsLeft: attemptsLeft, now: now)
        // Numbered parameters and an array: binding a dictionary of named ones hashes every name.
        let stmt = try db.cachedStatement(
            sql: """
                UPDATE tasks SET status = ?1, not_before = ?2, error_class = ?3, error = ?4,
                  decision_prompt = ?5,
                  decision = CASE WHEN ?1 = 'needs_decision' THEN NULL ELSE decision END,
                  decided_at = CASE WHEN ?1 = 'needs_decision' THEN NULL ELSE decided_at END,
                  exit_code = ?6, output_tail = ?7, summary = COALESCE(?8, summary),
                  verdict = ?9, feedback = ?10,
                  cost_usd = CASE WHEN ?17 THEN ?11 WHEN ?11 IS NULL THEN cost_usd ELSE COALESCE(cost_usd, 0) + ?11 END,
                  tokens_in = CASE WHEN ?17 THEN ?12 WHEN ?12 IS NULL THEN tokens_in ELSE COALESCE(tokens_in, 0) + ?12 END,
                  tokens_out = CASE WHEN ?17 THEN ?13 WHEN ?13 IS NULL THEN tokens_out ELSE COALESCE(tokens_out, 0) + ?13 END,
                  tokens_cache_read = COALESCE(?18, tokens_cache_read), tokens_cache_write = COALESCE(?19, tokens_cache_write),
                  turns = COALESCE(?20, turns), last_tool = COALESCE(?21, last_tool),
                  last_event_at = COALESCE(?22, last_event_at), cost_source = COALESCE(?23, cost_source),
                  session_id = COALESCE(?24, session_id), model = COALESCE(?25, model),
                  attempt = CASE WHEN ?26 THEN MAX(attempt - 1, 0) ELSE attempt END,
                  lease_expires_at = NULL, claimed_by = CASE WHEN ?1 = 'pending' THEN NULL ELSE claimed_by END,
                  finished_at = ?14, updated_at = ?14
                WHERE id = ?15 AND status = 'running' AND claimed_by = ?16 RETURNING *
                """)
        let m = o.metering
        let costSource = m?.costSource ?? (o.costUSD != nil ? "reported" : nil)
        let args: StatementArguments = [
            end.status.rawValue, end.notBefore, end.errorClass, end.error, end.prompt, o.exitCode, o.outputTail, o.summary,
            o.verdict, o.feedback,
            m?.costUSD ?? o.costUSD, m?.tokensIn ?? o.tokensIn, m?.tokensOut ?? o.tokensOut, t, r.id, r.owner, m != nil,
            m?.tokensCacheRead, m?.tokensCacheWrite, m?.turns, m?.lastTool, m?.lastEventAt?.timeIntervalSince1970, costSource,
            m?.sessionID, m?.model, end.paused,
        ]
        guard let updated = try Self.fetchTask(stmt, arguments: args) else { throw try Self.lostClaim(db, r.id, r.owner) }
        try journal.record(db, kind, from: .running, updated, end.detail(o, extra: extra, owner: r.owner))
        if let hook = pipeline { _ = try Self.advance(db, after: updated, hook: hook, now: now, journal: journal) }
        return updated
    }

    /// Whether `owner` holds the running task `id`.
    static func holds(_ db: Database, _ id: String, _ owner: String) throws -> Bool {
        let stmt = try db.cachedStatement(sql: "SELECT 1 FROM tasks WHERE id = ? AND status = 'running' AND claimed_by = ?")
        return try Bool.fetchOne(stmt, arguments: [id, owner]) != nil
    }

    /// Why a caller that thought it held a running task does not.
    static func lostClaim(_ db: Database, _ id: String, _ owner: String) throws -> StoreError {
        guard let current = try fetch(db, id) else { return StoreError.notFound(id) }
        return StoreError(
            .lostClaim, "task \(id) is \(current.status.rawValue) and held by \(current.claimedBy ?? "nobody"), not \(owner)",
            currentStatus: current.status)
    }

    public func decide(
        id: String, decision: String, priority: Int?, budgetUSD: Double?, by actor: Actor, now: Date
    ) async throws -> Changes<AgentTask> {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        var detail: [String: JSONValue] = ["decision": .string(String(decision.prefix(500))), "by": .string(actor)]
        if let budgetUSD { detail["budget_usd"] = .number(budgetUSD) }
        let entry = detail
        return try await journaled(now: now) { db, journal in
            try Self.transition(
                db, id: id, event: .decide, kind: .decided, journal: journal, detail: entry,
                // The resumed run continues the attempt that asked; it does not use up a new one.
                set: """
                    decision = ?, decided_at = ?, not_before = NULL, attempt = MAX(attempt - 1, 0),
                    priority = COALESCE(?, priority), budget_usd = COALESCE(?, budget_usd), updated_at = ?
                    """,
                arguments: [decision, t, priority, budgetUSD, t])
        }
    }

    public func cancel(id: String, reason: String, priority: Int?, by actor: Actor, now: Date) async throws -> Changes<AgentTask>
    {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        return try await journaled(now: now) { db, journal in
            let after = try Self.transition(
                db, id: id, event: .cancel, kind: .cancelled, journal: journal,
                detail: ["reason": .string(reason), "by": .string(actor)],
                set:
                    "error_class = 'cancelled', error = ?, lease_expires_at = NULL, finished_at = ?, priority = COALESCE(?, priority), updated_at = ?",
                arguments: [reason, t, priority, t])
            if let hook = self.pipeline { _ = try Self.advance(db, after: after, hook: hook, now: now, journal: journal) }
            return after
        }
    }

    public func retry(id: String, priority: Int?, by actor: Actor, now: Date) async throws -> Changes<AgentTask> {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        return try await journaled(now: now) { db, journal in
            let retried = try Self.transition(
                db, id: id, event: .retry, kind: .retried, journal: journal, detail: ["by": .string(actor)],
                set:
                    "attempt = 0, not_before = NULL, claimed_by = NULL, finished_at = NULL, priority = COALESCE(?, priority), updated_at = ?",
                arguments: [priority, t])
            try Self.unblock(db, retried: retried, now: now)
            return retried
        }
    }

    public func setPriority(id: String, priority: Int, by actor: Actor, now: Date) async throws -> Changes<AgentTask> {
        try Self.checkPriority(priority)
        return try await journaled(now: now) { db, journal in
            let stmt = try db.cachedStatement(
                sql:
                    "UPDATE tasks SET priority = ?, updated_at = ? WHERE id = ? AND status IN ('pending','running','needs_decision') RETURNING *"
            )
            if let updated = try Self.fetchTask(stmt, arguments: [priority, now.timeIntervalSince1970, id]) {
                try journal.record(
                    db, .updated, from: updated.status, updated, ["priority": .number(Double(priority)), "by": .string(actor)])
                return updated
            }
            guard let current = try Self.fetch(db, id) else { throw StoreError.notFound(id) }
            throw StoreError(
                .illegalTransition, "task \(id) is \(current.status.rawValue); its priority can no longer change",
                currentStatus: current.status)
        }
    }

    /// A priority outside `TaskValidation.priorityRange` is refused before anything is written.
    static func checkPriority(_ priority: Int?) throws {
        guard let priority, !TaskValidation.priorityRange.contains(priority) else { return }
        throw StoreError(
            .invalid, "must be between \(TaskValidation.priorityRange.lowerBound) and \(TaskValidation.priorityRange.upperBound)",
            field: "priority")
    }

    public func rescue(
        id: String, owner: String, reason: String, errorClass: ErrorClass, retryDelay: Double, by actor: Actor, now: Date
    ) async throws -> Changes<AgentTask> {
        try await journaled(now: now) { db, journal in
            let outcome = AttemptOutcome(.failed(errorClass: errorClass, error: reason, retryDelay: retryDelay))
            return try self.finishOne(
                db, FinishRequest(id: id, owner: owner, outcome: outcome), now: now, journal: journal, kind: .rescued,
                detail: ["by": .string(actor), "reason": .string(reason)])
        }
    }

    public func expire(decisionsAskedBefore cutoff: Date, by actor: Actor, now: Date) async throws -> Changes<[AgentTask]> {
        let t = now.timeIntervalSince1970
        let failed = TaskStateMachine.target(of: .decisionTimeout).rawValue
        let waiting = TaskStateMachine.sources(of: .decisionTimeout)
        return try await journaled(now: now) { db, journal in
            let expired = try Row.fetchAll(
                db,
                sql: """
                    UPDATE tasks SET status = '\(failed)', error_class = 'decision_timeout',
                      error = 'no decision arrived within the decision timeout', finished_at = ?1, updated_at = ?1
                    WHERE status = 'needs_decision' AND COALESCE(finished_at, updated_at) < ?2 RETURNING *
                    """, arguments: [t, cutoff.timeIntervalSince1970]
            ).map(TaskRecord.decode)
            for task in expired {
                try journal.record(
                    db, .expired, from: waiting.first, task, ["by": .string(actor), "error_class": .string("decision_timeout")])
                if let hook = self.pipeline { _ = try Self.advance(db, after: task, hook: hook, now: now, journal: journal) }
            }
            return expired
        }
    }
}
