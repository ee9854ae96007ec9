import Foundation
import NightshiftCore
import NightshiftStore

/// A real SQLite store on disk that carries the project manager's pipeline hook, for tests of
/// the pipeline transitions without a runner: the test plays the runner (claim, then finish).
public final class PMStoreFixture: Sendable {
    public static let owner = "pm-test-runner"

    public let tmp: TemporaryDirectory
    public let store: SQLiteTaskStore
    public let clock: MutableNow
    public let plan: PipelinePlan

    public init(
        phases: [String] = ["spec", "impl", "test", "review"], maxIterations: Int = 3, maxAttempts: Int = 3,
        verify: Bool = false, templates: [String: String] = [:]
    ) throws {
        tmp = try TemporaryDirectory(prefix: "nightshift-pm-store")
        clock = MutableNow()
        plan = PipelinePlan(phases: phases, maxIterations: maxIterations, templates: templates, verify: verify)
        store = try SQLiteTaskStore(
            path: tmp.path(SQLiteTaskStore.fileName), pipeline: PipelineHook(plan: plan, maxAttempts: maxAttempts))
    }

    public var now: Date { clock.now }

    /// Parses `text` as a numbered backlog and imports it.
    @discardableResult
    public func importBacklog(_ text: String) async throws -> ImportSummary {
        try await store.importBacklog(try BacklogParser.parseNumbered(text, file: "backlog.md"), now: clock.advance(by: 1))
    }

    public func item(_ key: String) async throws -> BacklogItem {
        guard let item = try await store.items().first(where: { $0.key == key }) else {
            throw StoreError(.notFound, "no backlog item \(key)")
        }
        return item
    }

    /// Every task of the item, oldest first.
    public func tasks(of key: String) async throws -> [AgentTask] {
        try await store.list(TaskQuery(backlogItem: key, limit: 10_000)).tasks.sorted {
            ($0.createdAt, $0.id) < ($1.createdAt, $1.id)
        }
    }

    /// The item's current task (the one `current_task_id` names).
    public func current(_ key: String) async throws -> AgentTask {
        guard let id = try await item(key).currentTaskID else { throw StoreError(.notFound, "item \(key) has no current task") }
        return try await store.get(id)
    }

    /// Claims every runnable task (as the runner would), one second later than the last step.
    public func claimAll() async throws -> [AgentTask] {
        try await store.claimNext(owner: Self.owner, limit: 100, now: clock.advance(by: 1), lease: 60)
    }

    /// Plays the runner for the current task of `key`: claims the runnable tasks if it is still
    /// pending (others claimed with it stay running, held by `owner`), then records `outcome`.
    @discardableResult
    public func runCurrent(_ key: String, _ outcome: AttemptOutcome = AttemptOutcome(.completed)) async throws -> AgentTask {
        var task = try await current(key)
        if task.status == .pending {
            _ = try await claimAll()
            task = try await store.get(task.id)
        }
        guard task.status == .running, task.claimedBy == Self.owner else {
            throw StoreError(
                .illegalTransition, "the current task \(task.id) of item \(key) is \(task.status.rawValue), not runnable")
        }
        return try await store.finish(id: task.id, owner: Self.owner, outcome: outcome, now: clock.advance(by: 1))
    }

    /// Outcomes the runner would record.
    public static func completed(summary: String? = nil) -> AttemptOutcome {
        AttemptOutcome(.completed, exitCode: 0, summary: summary)
    }

    public static func reviewFailed(_ feedback: String) -> AttemptOutcome {
        AttemptOutcome(
            .failed(errorClass: .reviewFailed, error: feedback, retryDelay: nil), exitCode: 0, verdict: "fail", feedback: feedback
        )
    }

    /// A completed attempt whose output missed its phase's contract, as the runner records it.
    public static func contractUnmet(_ phase: String, missing: [String], summary: String? = nil) -> AttemptOutcome {
        AttemptOutcome(
            .failed(errorClass: .contractUnmet, error: PhaseContract.error(phase: phase, missing: missing), retryDelay: nil),
            exitCode: 0, summary: summary, contract: .unmet(missing))
    }

    public static func exitFailure(_ code: Int32, tail: String? = nil) -> AttemptOutcome {
        AttemptOutcome(
            .failed(errorClass: .exitCode, error: "agent exited with code \(code)", retryDelay: nil), exitCode: code,
            outputTail: tail)
    }
}
