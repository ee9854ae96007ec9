import Foundation
import NightshiftCore

/// What one cleanup batch deleted, and the candidates it kept.
public struct DeadLetterDeletion: Sendable, Equatable {
    /// Deleted with their events, oldest failure first (their files are the caller's to remove).
    public var deleted: [PrunedTask]
    /// Old enough, but an open task depends on them.
    public var kept: [DeadLetterSkip]
    public init(deleted: [PrunedTask], kept: [DeadLetterSkip]) {
        self.deleted = deleted
        self.kept = kept
    }
}

/// The dead-letter queue's operations (`DeadLetter` says which tasks are in it). Part of every
/// `TaskStore`; the runtime's `DeadLetterQueue` calls them through the `TaskLedger`.
public protocol DeadLetterStore: Sendable {
    /// Size, age and the largest groups by error class, phase and backlog item.
    func deadLetterStats() async throws -> DeadLetterStats
    /// Dead letters, newest failure first, optionally of one error class; with how many match.
    func deadLetters(errorClass: String?, limit: Int, offset: Int) async throws -> (entries: [DeadLetterEntry], total: Int)
    /// Sends the selected dead letters back to pending with fresh attempts (the `retry`
    /// transition, recorded as `reprocessed` with `by`, `reason` and the failure they had), and
    /// makes the backlog items they blocked active again so the pipeline goes on from them.
    /// One transaction. Ids that are unknown (`notFound`) or not dead letters, or whose item
    /// has moved on (`illegalTransition`), refuse the whole request; a selection by `all` or
    /// error class skips the tasks that cannot be reprocessed and says why. `dryRun` changes
    /// nothing and returns what would happen.
    func reprocess(
        _ selection: DeadLetterSelection, reason: String?, dryRun: Bool, by actor: Actor, now: Date
    ) async throws -> Changes<DeadLetterReprocess>
    /// Deletes up to `limit` (all when nil) dead letters that failed before `cutoff`, oldest
    /// first, with their events, in one transaction; a task an open task depends on is kept.
    /// `dryRun` deletes nothing and returns what would go.
    func deleteDeadLetters(failedBefore cutoff: Date, limit: Int?, dryRun: Bool) async throws -> DeadLetterDeletion
}
