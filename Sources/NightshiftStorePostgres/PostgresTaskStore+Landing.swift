import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// The merge queue's state on PostgreSQL: every move is a compare-and-set on `land_state`, as
/// in SQLite; the ones that read the item first lock its row.
extension PostgresTaskStore: LandingStore {
    public func landingQueue() async throws -> [BacklogItem] {
        try await read { conn in
            try await PostgresBacklogRow.items(
                conn.query(
                    """
                    SELECT \(unescaped: PostgresBacklogRow.all) FROM backlog_items
                    WHERE land_state IN ('queued','rebasing','verifying','conflict','waiting') ORDER BY position, key
                    """, logger: self.logger))
        }
    }

    public func lastLanded() async throws -> BacklogItem? {
        try await read { conn in
            try await PostgresBacklogRow.items(
                conn.query(
                    """
                    SELECT \(unescaped: PostgresBacklogRow.all) FROM backlog_items WHERE land_state = 'landed'
                    ORDER BY landed_at DESC, position DESC LIMIT 1
                    """, logger: self.logger)
            ).first
        }
    }

    public func setLandState(key: String, from: [LandState], to: LandState, detail: String?, now: Date) async throws -> Bool {
        try await read { conn in try await self.moveLand(conn, key: key, from: from, to: to, detail: detail, now: now) }
    }

    func moveLand(
        _ conn: PostgresConnection, key: String, from: [LandState], to: LandState, detail: String?, now: Date
    ) async throws -> Bool {
        try await int(
            conn,
            """
            WITH u AS (
              UPDATE backlog_items SET land_state = \(to.rawValue), land_detail = \(detail), updated_at = \(now.timeIntervalSince1970)
              WHERE key = \(key) AND land_state = ANY(\(from.map(\.rawValue))) RETURNING 1)
            SELECT COUNT(*) FROM u
            """) == 1
    }

    public func recordLanded(key: String, from: String, to: String, detail: String?, now: Date) async throws -> Bool {
        let t = now.timeIntervalSince1970
        return try await read { conn in
            try await self.int(
                conn,
                """
                WITH u AS (
                  UPDATE backlog_items SET land_state = 'landed', landed_from = \(from), landed_to = \(to), landed_at = \(t),
                    land_detail = \(detail), merge_conflicts = '[]', updated_at = \(t)
                  WHERE key = \(key) AND land_state = 'verifying' RETURNING 1)
                SELECT COUNT(*) FROM u
                """) == 1
        }
    }

    public func recordConflict(
        key: String, conflict: MergeConflict, progressed: Bool, policy: LandingPolicy, now: Date
    ) async throws -> Changes<AgentTask?> {
        guard let hook = pipeline else { throw StoreError(.unavailable, "the store was opened without a pipeline plan") }
        let conflicts = String(decoding: try JSONEncoder().encode(conflict.files), as: UTF8.self)
        return try await journaled(now: now) { conn, journal in
            guard var item = try await self.item(conn, key: key, lock: true), item.landState == .rebasing else { return nil }
            if progressed { item.landAttempts = 0 }
            try await conn.query(
                """
                UPDATE backlog_items SET land_conflict_base = \(conflict.baseHead), land_attempts = \(item.landAttempts)
                WHERE key = \(key)
                """, logger: self.logger)
            switch policy.afterConflict(mergeAttempts: item.landAttempts) {
            case .mergeTask(let attempt):
                var parent: AgentTask?
                if let id = item.currentTaskID { parent = try await self.fetch(conn, id) }
                let task = try await self.apply(
                    conn, hook.plan.mergeStep(item: item, conflict: conflict, attempt: attempt), item: item, parent: parent,
                    hook: hook, now: now, journal: journal)
                // A merge attempt is not a fix iteration: the item keeps its iteration count.
                try await conn.query(
                    """
                    UPDATE backlog_items SET iteration = \(item.iteration), land_state = 'conflict', land_attempts = \(attempt),
                      land_detail = \(conflict.summary), merge_conflicts = \(conflicts)::jsonb WHERE key = \(key)
                    """, logger: self.logger)
                return task
            case .waitForDecision:
                try await conn.query(
                    """
                    UPDATE backlog_items SET land_state = 'waiting',
                      land_detail = \(LandingPolicy.decisionPrompt(conflict, attempts: item.landAttempts)),
                      merge_conflicts = \(conflicts)::jsonb, updated_at = \(now.timeIntervalSince1970)
                    WHERE key = \(key)
                    """, logger: self.logger)
                return nil
            }
        }
    }

    public func recordVerifyFailure(key: String, feedback: String, now: Date) async throws -> Changes<AgentTask?> {
        guard let hook = pipeline else { throw StoreError(.unavailable, "the store was opened without a pipeline plan") }
        return try await journaled(now: now) { conn, journal in
            guard let item = try await self.item(conn, key: key, lock: true), item.landState == .verifying else { return nil }
            let step = hook.plan.landingFix(item: item, feedback: feedback)
            guard case .run = step else {
                if case .blocked(let reason) = step {
                    _ = try await self.moveLand(conn, key: key, from: [.verifying], to: .waiting, detail: reason, now: now)
                }
                return nil
            }
            // Back to the phases: the item is active again and rejoins the queue when they pass.
            try await conn.query(
                """
                UPDATE backlog_items SET state = 'active', finished_at = NULL, land_state = NULL, land_attempts = 0,
                  land_detail = 'verify failed after rebasing; back to impl' WHERE key = \(key)
                """, logger: self.logger)
            var parent: AgentTask?
            if let id = item.currentTaskID { parent = try await self.fetch(conn, id) }
            return try await self.apply(conn, step, item: item, parent: parent, hook: hook, now: now, journal: journal)
        }
    }

    public func decideLanding(key: String, decision: LandDecision, now: Date) async throws -> BacklogItem {
        try await transaction { conn in
            guard let item = try await self.item(conn, key: key, lock: true) else {
                throw StoreError(.notFound, "no backlog item \(key)")
            }
            if let refusal = decision.refusal(key: key, state: item.landState) { throw refusal }
            let t = now.timeIntervalSince1970
            switch decision {
            case .retry:
                try await conn.query(
                    """
                    UPDATE backlog_items SET land_state = 'queued', land_attempts = 0, land_detail = 'retry by an operator',
                      land_conflict_base = NULL, updated_at = \(t) WHERE key = \(key)
                    """, logger: self.logger)
            case .skip:
                try await conn.query(
                    "UPDATE backlog_items SET land_state = 'skipped', updated_at = \(t) WHERE key = \(key)", logger: self.logger)
            }
            guard let updated = try await self.item(conn, key: key) else { throw StoreError(.notFound, "no backlog item \(key)") }
            return updated
        }
    }

    public func recordMergePreview(key: String, conflicts: [String], checked: String) async throws {
        let text = String(decoding: try JSONEncoder().encode(conflicts), as: UTF8.self)
        _ = try await read { conn in
            try await conn.query(
                "UPDATE backlog_items SET merge_conflicts = \(text)::jsonb, merge_checked = \(checked) WHERE key = \(key)",
                logger: self.logger)
        }
    }

    public func requeueInterruptedLandings(now: Date) async throws -> [String] {
        try await read { conn in
            var keys: [String] = []
            for try await key in try await conn.query(
                """
                UPDATE backlog_items SET land_state = 'queued', land_detail = 'interrupted by a stop; queued again',
                  updated_at = \(now.timeIntervalSince1970)
                WHERE land_state IN ('rebasing','verifying') RETURNING key
                """, logger: self.logger
            ).decode(String.self) {
                keys.append(key)
            }
            return keys.sorted()
        }
    }

    /// The `merge` task of an item ended (any way): the item is queued again and the queue
    /// tries the rebase anew (a resolved branch rebases cleanly, or needs none).
    func mergeEnded(_ conn: PostgresConnection, _ task: AgentTask, now: Date) async throws -> AgentTask? {
        guard let key = task.backlogItem, task.status.isTerminal,
            let item = try await self.item(conn, key: key, lock: true), item.landState == .conflict,
            item.currentTaskID == task.id
        else { return nil }
        _ = try await moveLand(
            conn, key: key, from: [.conflict], to: .queued, detail: PipelineHook.mergeEndedNote(task), now: now)
        return nil
    }
}
