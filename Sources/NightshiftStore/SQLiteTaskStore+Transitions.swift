import Foundation
import GRDB
import NightshiftCore

extension SQLiteTaskStore {
    public func claimNext(owner: String, limit: Int, now: Date, lease: Double) async throws -> [AgentTask] {
        guard limit > 0 else { return [] }
        let t = now.timeIntervalSince1970
        return try await write { db in
            // One statement picks and flips the rows, so two claimers can never both win one.
            let stmt = try db.cachedStatement(
                sql: """
                    UPDATE tasks SET status = 'running', claimed_by = ?, attempt = attempt + 1,
                      lease_expires_at = ?, heartbeat_at = ?, started_at = ?, updated_at = ?, finished_at = NULL,
                      pid = NULL, pgid = NULL, exit_code = NULL, not_before = NULL
                    WHERE id IN (
                      SELECT p.id FROM tasks p INDEXED BY tasks_runnable
                      WHERE p.status = 'pending' AND (p.not_before IS NULL OR p.not_before <= ?)
                        AND (p.depends_on = '[]' OR NOT EXISTS (
                          SELECT 1 FROM json_each(p.depends_on) d LEFT JOIN tasks x ON x.id = d.value
                          WHERE x.status IS NOT 'completed'))
                      ORDER BY p.priority DESC, p.created_at, p.id LIMIT ?)
                    RETURNING *
                    """)
            let rows = try Row.fetchAll(stmt, arguments: [owner, t + lease, t, t, t, t, limit])
            return try rows.map(TaskRecord.decode).sorted {
                ($0.priority, $1.createdAt, $1.id) > ($1.priority, $0.createdAt, $0.id)
            }
        }
    }

    public func recordProcess(id: String, owner: String, pid: Int32, pgid: Int32, command: String, logPath: String, now: Date) async throws -> AgentTask {
        try await write { db in
            let stmt = try db.cachedStatement(
                sql: """
                    UPDATE tasks SET pid = ?, pgid = ?, command = ?, log_path = ?, updated_at = ?
                    WHERE id = ? AND status = 'running' AND claimed_by = ? RETURNING *
                    """)
            if let row = try Row.fetchOne(stmt, arguments: [pid, pgid, command, logPath, now.timeIntervalSince1970, id, owner]) {
                return try TaskRecord.decode(row)
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

    public func finish(_ requests: [FinishRequest], now: Date) async throws -> [Result<AgentTask, StoreError>] {
        try await write { db in
            var results: [Result<AgentTask, StoreError>] = []
            results.reserveCapacity(requests.count)
            for r in requests {
                do {
                    results.append(.success(try self.finishOne(db, r, now: now)))
                } catch let e as StoreError {
                    results.append(.failure(e))
                } catch let e as DatabaseError {
                    results.append(.failure(Self.map(e)))
                }
            }
            return results
        }
    }

    func finishOne(_ db: Database, _ r: FinishRequest, now: Date) throws -> AgentTask {
        let select = try db.cachedStatement(sql: "SELECT attempt, max_attempts FROM tasks WHERE id = ? AND status = 'running' AND claimed_by = ?")
        guard let row = try Row.fetchOne(select, arguments: [r.id, r.owner]) else { throw try Self.lostClaim(db, r.id, r.owner) }
        let attempt: Int = row[0]
        let maxAttempts: Int = row[1]
        let o = r.outcome
        if let v = o.verdict, v != "pass", v != "fail" {
            throw StoreError(.invalid, "verdict must be pass or fail, got \(v)", field: "verdict")
        }
        let t = now.timeIntervalSince1970
        var status: TaskStatus
        var notBefore: Double?
        var errorClass: String?
        var error: String?
        var prompt: String?
        switch o.kind {
        case .completed:
            status = .completed
        case .failed(let cls, let message, let delay):
            errorClass = cls
            error = message
            if let delay, attempt < maxAttempts {
                status = .pending
                notBefore = t + delay
            } else {
                status = .failed
            }
        case .needsDecision(let p):
            status = .needsDecision
            prompt = p
        }
        let stmt = try db.cachedStatement(
            sql: """
                UPDATE tasks SET status = ?, not_before = ?, error_class = ?, error = ?, decision_prompt = ?,
                  decision = CASE WHEN ? = 'needs_decision' THEN NULL ELSE decision END,
                  decided_at = CASE WHEN ? = 'needs_decision' THEN NULL ELSE decided_at END,
                  exit_code = ?, output_tail = ?, summary = COALESCE(?, summary), verdict = ?, feedback = ?,
                  cost_usd = CASE WHEN ? IS NULL THEN cost_usd ELSE COALESCE(cost_usd, 0) + ? END,
                  tokens_in = CASE WHEN ? IS NULL THEN tokens_in ELSE COALESCE(tokens_in, 0) + ? END,
                  tokens_out = CASE WHEN ? IS NULL THEN tokens_out ELSE COALESCE(tokens_out, 0) + ? END,
                  lease_expires_at = NULL, claimed_by = CASE WHEN ? = 'pending' THEN NULL ELSE claimed_by END,
                  finished_at = ?, updated_at = ?
                WHERE id = ? RETURNING *
                """)
        let s = status.rawValue
        let args: [(any DatabaseValueConvertible)?] = [
            s, notBefore, errorClass, error, prompt, s, s, o.exitCode, o.outputTail, o.summary, o.verdict, o.feedback,
            o.costUSD, o.costUSD, o.tokensIn, o.tokensIn, o.tokensOut, o.tokensOut, s, t, t, r.id,
        ]
        guard let row = try Row.fetchOne(stmt, arguments: StatementArguments(args)) else { throw StoreError.notFound(r.id) }
        let updated = try TaskRecord.decode(row)
        if let hook = pipeline { _ = try Self.advance(db, after: updated, hook: hook, now: now) }
        return updated
    }

    /// Why a caller that thought it held a running task does not.
    static func lostClaim(_ db: Database, _ id: String, _ owner: String) throws -> StoreError {
        guard let current = try fetch(db, id) else { return StoreError.notFound(id) }
        return StoreError(
            .lostClaim, "task \(id) is \(current.status.rawValue) and held by \(current.claimedBy ?? "nobody"), not \(owner)",
            currentStatus: current.status)
    }

    public func decide(id: String, decision: String, priority: Int?, now: Date) async throws -> AgentTask {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        return try await write { db in
            try Self.transition(
                db, id: id, event: .decide,
                // The resumed run continues the attempt that asked; it does not use up a new one.
                set: "status = 'pending', decision = ?, decided_at = ?, not_before = NULL, attempt = MAX(attempt - 1, 0), priority = COALESCE(?, priority), updated_at = ?",
                arguments: [decision, t, priority, t])
        }
    }

    public func cancel(id: String, reason: String, priority: Int?, now: Date) async throws -> (before: AgentTask, after: AgentTask) {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        return try await write { db in
            guard let before = try Self.fetch(db, id) else { throw StoreError.notFound(id) }
            let after = try Self.transition(
                db, id: id, event: .cancel,
                set: "status = 'cancelled', error_class = 'cancelled', error = ?, lease_expires_at = NULL, finished_at = ?, priority = COALESCE(?, priority), updated_at = ?",
                arguments: [reason, t, priority, t])
            if let hook = self.pipeline { _ = try Self.advance(db, after: after, hook: hook, now: now) }
            return (before, after)
        }
    }

    public func retry(id: String, priority: Int?, now: Date) async throws -> AgentTask {
        try Self.checkPriority(priority)
        let t = now.timeIntervalSince1970
        return try await write { db in
            let retried = try Self.transition(
                db, id: id, event: .retry,
                set: "status = 'pending', attempt = 0, not_before = NULL, claimed_by = NULL, finished_at = NULL, priority = COALESCE(?, priority), updated_at = ?",
                arguments: [priority, t])
            try Self.unblock(db, retried: retried, now: now)
            return retried
        }
    }

    public func setPriority(id: String, priority: Int, now: Date) async throws -> AgentTask {
        try Self.checkPriority(priority)
        return try await write { db in
            let stmt = try db.cachedStatement(
                sql: "UPDATE tasks SET priority = ?, updated_at = ? WHERE id = ? AND status IN ('pending','running','needs_decision') RETURNING *")
            if let row = try Row.fetchOne(stmt, arguments: [priority, now.timeIntervalSince1970, id]) { return try TaskRecord.decode(row) }
            guard let current = try Self.fetch(db, id) else { throw StoreError.notFound(id) }
            throw StoreError(.illegalTransition, "task \(id) is \(current.status.rawValue); its priority can no longer change", currentStatus: current.status)
        }
    }

    /// A priority outside `TaskValidation.priorityRange` is refused before anything is written.
    static func checkPriority(_ priority: Int?) throws {
        guard let priority, !TaskValidation.priorityRange.contains(priority) else { return }
        throw StoreError(.invalid, "must be between \(TaskValidation.priorityRange.lowerBound) and \(TaskValidation.priorityRange.upperBound)", field: "priority")
    }

    public func rescue(id: String, owner: String, reason: String, errorClass: String, retryDelay: Double, now: Date) async throws -> AgentTask {
        try await write { db in
            let outcome = AttemptOutcome(.failed(errorClass: errorClass, error: reason, retryDelay: retryDelay))
            return try self.finishOne(db, FinishRequest(id: id, owner: owner, outcome: outcome), now: now)
        }
    }

    public func expireDecisions(askedBefore cutoff: Date, now: Date) async throws -> [AgentTask] {
        let t = now.timeIntervalSince1970
        return try await write { db in
            let expired = try Row.fetchAll(
                db,
                sql: """
                    UPDATE tasks SET status = 'failed', error_class = 'decision_timeout',
                      error = 'no decision arrived within the decision timeout', finished_at = ?1, updated_at = ?1
                    WHERE status = 'needs_decision' AND COALESCE(finished_at, updated_at) < ?2 RETURNING *
                    """, arguments: [t, cutoff.timeIntervalSince1970]
            ).map(TaskRecord.decode)
            if let hook = self.pipeline {
                for task in expired { _ = try Self.advance(db, after: task, hook: hook, now: now) }
            }
            return expired
        }
    }
}
