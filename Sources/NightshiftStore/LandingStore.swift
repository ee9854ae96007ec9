import Foundation
import NightshiftCore

/// The merge queue's persistent state (`backlog_items.land_*`): each operation is one
/// transaction that re-checks where the item is (compare-and-set), and the ones that create a
/// task return it with its ledger entries.
public protocol LandingStore: Sendable {
    /// Items in the merge queue (queued, rebasing, verifying, conflict, waiting), in queue
    /// order: backlog order.
    func landingQueue() async throws -> [BacklogItem]
    /// The item that landed last, or nil.
    func lastLanded() async throws -> BacklogItem?
    /// Moves an item's land state from one of `from` to `to`; false when it was elsewhere.
    func setLandState(key: String, from: [LandState], to: LandState, detail: String?, now: Date) async throws -> Bool
    /// verifying → landed, with the base head before and after.
    func recordLanded(key: String, from: String, to: String, detail: String?, now: Date) async throws -> Bool
    /// rebasing → conflict with a `merge` task (the policy's next attempt), or → waiting for a
    /// decision once the attempts are used up. `progressed`: the branch took in the base head of
    /// its last conflict (the last merge task did its job; the base moved on since), so the
    /// attempts start again.
    func recordConflict(
        key: String, conflict: MergeConflict, progressed: Bool, policy: LandingPolicy, now: Date
    )
        async throws -> Changes<AgentTask?>
    /// verifying → out of the queue with an impl fix iteration (the item is active again), or
    /// → waiting past `max_iterations`.
    func recordVerifyFailure(key: String, feedback: String, now: Date) async throws -> Changes<AgentTask?>
    /// An operator's `retry` (waiting|skipped → queued, merge attempts reset) or `skip`
    /// (waiting → skipped). `notFound` for an unknown key; `illegalTransition` (nothing
    /// changed) when the item is not waiting.
    func decideLanding(key: String, decision: LandDecision, now: Date) async throws -> BacklogItem
    /// Stores a dry-run merge's result: conflicting files ([] = clean) and "base head" it checked.
    func recordMergePreview(key: String, conflicts: [String], checked: String) async throws
    /// Items left rebasing or verifying by a daemon that stopped go back to queued.
    func requeueInterruptedLandings(now: Date) async throws -> [String]
}

extension LandDecision {
    /// The land states an operator's decision applies to: retry a waiting or skipped item,
    /// skip a waiting one.
    public var appliesTo: [LandState] { self == .retry ? [.waiting, .skipped] : [.waiting] }

    /// Why the decision cannot apply to item `key` in land state `state` (nothing changes),
    /// or nil when it can.
    public func refusal(key: String, state: LandState?) -> StoreError? {
        guard let state, appliesTo.contains(state) else {
            return StoreError(
                .illegalTransition,
                "item \(key) is \(state.map { "\($0.rawValue) in the merge queue" } ?? "not in the merge queue"); "
                    + "\(rawValue) needs it \(appliesTo.map(\.rawValue).joined(separator: " or "))")
        }
        return nil
    }
}
