import Foundation
import Logging
import NightshiftCore
import NightshiftStore

/// The dead-letter queue as operators use it (`GET /api/agent/dlq`, `POST /api/agent/dlq/*`,
/// `nightshift dlq`): reads from the store, reprocessing through the ledger (so the runner
/// hears the tasks are pending again), and cleanup that removes the tasks' files too.
public struct DeadLetterQueue: Sendable {
    let env: ServiceEnvironment
    let logger: Logger

    /// Tasks deleted per cleanup transaction, so a large cleanup never holds the store for long.
    public static let cleanupBatch = 500

    public init(env: ServiceEnvironment) {
        self.env = env
        self.logger = env.logs.logger("agent_runner")
    }

    /// The stats and one page of entries, newest failure first.
    public func page(errorClass: String?, limit: Int, offset: Int) async throws -> DeadLetterPage {
        let stats = try await env.store.deadLetterStats()
        let (entries, total) = try await env.store.deadLetters(errorClass: errorClass, limit: limit, offset: offset)
        return DeadLetterPage(stats: stats, entries: entries, total: total, limit: limit, offset: offset)
    }

    /// Sends the selected dead letters back to pending with fresh attempts (see
    /// `DeadLetterStore.reprocess`); a dry run changes nothing.
    public func reprocess(
        _ selection: DeadLetterSelection, reason: String?, dryRun: Bool, by actor: Actor
    ) async throws -> DeadLetterReprocess {
        let result = try await env.ledger.reprocess(selection, reason: reason, dryRun: dryRun, by: actor, now: env.now())
        if !dryRun, !result.tasks.isEmpty {
            logger.info(
                "reprocessed \(result.tasks.count) dead-letter task(s) by \(actor); \(result.resumedItems.count) backlog item(s) resumed"
            )
        }
        return result
    }

    /// Deletes the dead letters that failed more than `age` seconds ago, with their events,
    /// logs and result files, except those an open task depends on; a dry run deletes nothing.
    public func cleanup(olderThan age: Double, dryRun: Bool) async throws -> DeadLetterCleanup {
        let cutoff = env.now().addingTimeInterval(-age)
        if dryRun {
            let found = try await env.store.deleteDeadLetters(failedBefore: cutoff, limit: nil, dryRun: true)
            return DeadLetterCleanup(dryRun: true, cutoff: cutoff, deleted: found.deleted.map(\.id), kept: found.kept)
        }
        var result = DeadLetterCleanup(dryRun: false, cutoff: cutoff)
        while true {
            let batch = try await env.store.deleteDeadLetters(failedBefore: cutoff, limit: Self.cleanupBatch, dryRun: false)
            if result.deleted.isEmpty { result.kept = batch.kept }
            for task in batch.deleted {
                for file in [task.logPath ?? env.paths.taskLog(task.id), env.paths.resultFile(task.id)] {
                    try? FileManager.default.removeItem(atPath: file)
                }
            }
            result.deleted += batch.deleted.map(\.id)
            if batch.deleted.count < Self.cleanupBatch { break }
            await Task.yield()
        }
        if !result.deleted.isEmpty {
            logger.info(
                "deleted \(result.deleted.count) dead-letter task(s) that failed before \(Timestamp.format(cutoff)); kept \(result.kept.count) that open tasks depend on"
            )
        }
        return result
    }
}

extension TaskLedger {
    /// Reprocesses dead letters and announces every `reprocessed` event the store returned.
    public func reprocess(
        _ selection: DeadLetterSelection, reason: String?, dryRun: Bool, by actor: Actor, now: Date
    ) async throws -> DeadLetterReprocess {
        announce(try await store.reprocess(selection, reason: reason, dryRun: dryRun, by: actor, now: now))
    }
}
