import Foundation
import GRDB
import NightshiftCore

extension SQLiteTaskStore: LandingStore {
    public func landingQueue() async throws -> [BacklogItem] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT * FROM backlog_items
                        WHERE land_state IN ('queued','rebasing','verifying','conflict','waiting') ORDER BY position, key
                        """)
            ).map(BacklogItemRecord.decode)
        }
    }

    public func lastLanded() async throws -> BacklogItem? {
        try await read { db in
            try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT * FROM backlog_items WHERE land_state = 'landed' ORDER BY landed_at DESC, position DESC LIMIT 1")
            ).map(BacklogItemRecord.decode)
        }
    }

    public func setLandState(key: String, from: [LandState], to: LandState, detail: String?, now: Date) async throws -> Bool {
        try await write { db in
            try Self.moveLand(db, key: key, from: from, to: to, detail: detail, now: now)
        }
    }

    static func moveLand(
        _ db: Database, key: String, from: [LandState], to: LandState, detail: String?, now: Date
    ) throws
        -> Bool
    {
        let marks = Array(repeating: "?", count: from.count).joined(separator: ",")
        var args: StatementArguments = [to.rawValue, detail, now.timeIntervalSince1970, key]
        args += StatementArguments(from.map(\.rawValue))
        try db.execute(
            sql:
                "UPDATE backlog_items SET land_state = ?, land_detail = ?, updated_at = ? WHERE key = ? AND land_state IN (\(marks))",
            arguments: args)
        return db.changesCount == 1
    }

    public func recordLanded(key: String, from: String, to: String, detail: String?, now: Date) async throws -> Bool {
        try await write { db in
            let t = now.timeIntervalSince1970
            try db.execute(
                sql: """
                    UPDATE backlog_items SET land_state = 'landed', landed_from = ?, landed_to = ?, landed_at = ?, land_detail = ?,
                      merge_conflicts = '[]', updated_at = ? WHERE key = ? AND land_state = 'verifying'
                    """, arguments: [from, to, t, detail, t, key])
            return db.changesCount == 1
        }
    }

    public func recordConflict(
        key: String, conflict: MergeConflict, progressed: Bool, policy: LandingPolicy, now: Date
    ) async throws -> Changes<AgentTask?> {
        guard let hook = pipeline else { throw StoreError(.unavailable, "the store was opened without a pipeline plan") }
        return try await journaled(now: now) { db, journal in
            guard var item = try BacklogItemRecord.fetch(db, key: key), item.landState == .rebasing else { return nil }
            let conflicts = String(decoding: try JSONEncoder().encode(conflict.files), as: UTF8.self)
            if progressed { item.landAttempts = 0 }
            try db.execute(
                sql: "UPDATE backlog_items SET land_conflict_base = ?, land_attempts = ? WHERE key = ?",
                arguments: [conflict.baseHead, item.landAttempts, key])
            switch policy.afterConflict(mergeAttempts: item.landAttempts) {
            case .mergeTask(let attempt):
                let parent = try item.currentTaskID.flatMap { try Self.fetch(db, $0) }
                let task = try Self.apply(
                    db, hook.plan.mergeStep(item: item, conflict: conflict, attempt: attempt), item: item, parent: parent,
                    hook: hook, now: now, journal: journal)
                // A merge attempt is not a fix iteration: the item keeps its iteration count.
                try db.execute(
                    sql: """
                        UPDATE backlog_items SET iteration = ?, land_state = 'conflict', land_attempts = ?, land_detail = ?,
                          merge_conflicts = ? WHERE key = ?
                        """, arguments: [item.iteration, attempt, conflict.summary, conflicts, key])
                return task
            case .waitForDecision:
                try db.execute(
                    sql: """
                        UPDATE backlog_items SET land_state = 'waiting', land_detail = ?, merge_conflicts = ?, updated_at = ?
                        WHERE key = ?
                        """,
                    arguments: [
                        LandingPolicy.decisionPrompt(conflict, attempts: item.landAttempts), conflicts, now.timeIntervalSince1970,
                        key,
                    ])
                return nil
            }
        }
    }

    public func recordVerifyFailure(key: String, feedback: String, now: Date) async throws -> Changes<AgentTask?> {
        guard let hook = pipeline else { throw StoreError(.unavailable, "the store was opened without a pipeline plan") }
        return try await journaled(now: now) { db, journal in
            guard let item = try BacklogItemRecord.fetch(db, key: key), item.landState == .verifying else { return nil }
            let step = hook.plan.landingFix(item: item, feedback: feedback)
            guard case .run = step else {
                if case .blocked(let reason) = step {
                    _ = try Self.moveLand(db, key: key, from: [.verifying], to: .waiting, detail: reason, now: now)
                }
                return nil
            }
            // Back to the phases: the item is active again and rejoins the queue when they pass.
            try db.execute(
                sql: """
                    UPDATE backlog_items SET state = 'active', finished_at = NULL, land_state = NULL, land_attempts = 0,
                      land_detail = ? WHERE key = ?
                    """, arguments: ["verify failed after rebasing; back to impl", key])
            let parent = try item.currentTaskID.flatMap { try Self.fetch(db, $0) }
            return try Self.apply(db, step, item: item, parent: parent, hook: hook, now: now, journal: journal)
        }
    }

    public func decideLanding(key: String, decision: LandDecision, now: Date) async throws -> BacklogItem {
        try await write { db in
            guard let item = try BacklogItemRecord.fetch(db, key: key) else {
                throw StoreError(.notFound, "no backlog item \(key)")
            }
            if let refusal = decision.refusal(key: key, state: item.landState) { throw refusal }
            let t = now.timeIntervalSince1970
            switch decision {
            case .retry:
                try db.execute(
                    sql: """
                        UPDATE backlog_items SET land_state = 'queued', land_attempts = 0, land_detail = 'retry by an operator',
                          land_conflict_base = NULL, updated_at = ? WHERE key = ?
                        """, arguments: [t, key])
            case .skip:
                try db.execute(
                    sql: "UPDATE backlog_items SET land_state = 'skipped', updated_at = ? WHERE key = ?", arguments: [t, key])
            }
            guard let updated = try BacklogItemRecord.fetch(db, key: key) else {
                throw StoreError(.notFound, "no backlog item \(key)")
            }
            return updated
        }
    }

    public func recordMergePreview(key: String, conflicts: [String], checked: String) async throws {
        let text = String(decoding: try JSONEncoder().encode(conflicts), as: UTF8.self)
        try await write { db in
            try db.execute(
                sql: "UPDATE backlog_items SET merge_conflicts = ?, merge_checked = ? WHERE key = ?",
                arguments: [text, checked, key])
        }
    }

    public func requeueInterruptedLandings(now: Date) async throws -> [String] {
        try await write { db in
            try String.fetchAll(
                db,
                sql: """
                    UPDATE backlog_items SET land_state = 'queued', land_detail = 'interrupted by a stop; queued again', updated_at = ?
                    WHERE land_state IN ('rebasing','verifying') RETURNING key
                    """, arguments: [now.timeIntervalSince1970])
        }
    }

    /// The `merge` task of an item ended (any way): the item is queued again and the queue
    /// tries the rebase anew (a resolved branch rebases cleanly, or needs none).
    static func mergeEnded(_ db: Database, _ task: AgentTask, now: Date) throws -> AgentTask? {
        guard let key = task.backlogItem, task.status.isTerminal,
            let item = try BacklogItemRecord.fetch(db, key: key), item.landState == .conflict, item.currentTaskID == task.id
        else { return nil }
        _ = try moveLand(db, key: key, from: [.conflict], to: .queued, detail: PipelineHook.mergeEndedNote(task), now: now)
        return nil
    }
}
