import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting

/// A real store (SQLite on disk, or PostgreSQL in a scratch schema) that carries the project
/// manager's pipeline hook, for tests of the pipeline transitions without a runner: the test
/// plays the runner (claim, then finish). Made by a `DaemonStoreFactory`, so every pipeline
/// test runs on each store.
final class PMStoreFixture: Sendable {
    static let owner = "pm-test-runner"

    let database: ScratchDatabase
    let store: any DaemonStore
    let clock: MutableNow
    let plan: PipelinePlan

    private init(database: ScratchDatabase, store: any DaemonStore, clock: MutableNow, plan: PipelinePlan) {
        self.database = database
        self.store = store
        self.clock = clock
        self.plan = plan
    }

    static func make(
        _ factory: DaemonStoreFactory, phases: [String] = ["spec", "impl", "test", "review"], maxIterations: Int = 3,
        maxAttempts: Int = 3, verify: Bool = false, templates: [String: String] = [:], land: Bool = false
    ) async throws -> PMStoreFixture {
        var plan = PipelinePlan(phases: phases, maxIterations: maxIterations, templates: templates, verify: verify)
        plan.land = land
        let database = try await factory.make()
        let store = try await database.open(pipeline: PipelineHook(plan: plan, maxAttempts: maxAttempts))
        return PMStoreFixture(database: database, store: store, clock: MutableNow(), plan: plan)
    }

    var now: Date { clock.now }

    /// Parses `text` as a numbered backlog and imports it.
    @discardableResult
    func importBacklog(_ text: String) async throws -> ImportSummary {
        try await store.importBacklog(try BacklogParser.parseNumbered(text, file: "backlog.md"), now: clock.advance(by: 1))
    }

    func item(_ key: String) async throws -> BacklogItem {
        guard let item = try await store.items().first(where: { $0.key == key }) else {
            throw StoreError(.notFound, "no backlog item \(key)")
        }
        return item
    }

    /// Every task of the item, oldest first.
    func tasks(of key: String) async throws -> [AgentTask] {
        try await store.list(TaskQuery(backlogItem: key, limit: 10_000)).tasks.sorted {
            ($0.createdAt, $0.id) < ($1.createdAt, $1.id)
        }
    }

    /// The item's current task (the one `current_task_id` names).
    func current(_ key: String) async throws -> AgentTask {
        guard let id = try await item(key).currentTaskID else { throw StoreError(.notFound, "item \(key) has no current task") }
        return try await store.get(id)
    }

    /// Claims every runnable task (as the runner would), one second later than the last step.
    func claimAll() async throws -> [AgentTask] {
        try await store.claimNext(owner: Self.owner, limit: 100, now: clock.advance(by: 1), lease: 60)
    }

    /// Plays the runner for the current task of `key`: claims the runnable tasks if it is still
    /// pending (others claimed with it stay running, held by `owner`), then records `outcome`.
    @discardableResult
    func runCurrent(_ key: String, _ outcome: AttemptOutcome = AttemptOutcome(.completed)) async throws -> AgentTask {
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
    static func completed(summary: String? = nil) -> AttemptOutcome {
        AttemptOutcome(.completed, exitCode: 0, summary: summary)
    }

    static func reviewFailed(_ feedback: String) -> AttemptOutcome {
        AttemptOutcome(
            .failed(errorClass: .reviewFailed, error: feedback, retryDelay: nil), exitCode: 0, verdict: "fail", feedback: feedback
        )
    }

    /// A completed attempt whose output missed its phase's contract, as the runner records it.
    static func contractUnmet(_ phase: String, missing: [String], summary: String? = nil) -> AttemptOutcome {
        AttemptOutcome(
            .failed(errorClass: .contractUnmet, error: PhaseContract.error(phase: phase, missing: missing), retryDelay: nil),
            exitCode: 0, summary: summary, contract: .unmet(missing))
    }

    static func exitFailure(_ code: Int32, tail: String? = nil) -> AttemptOutcome {
        AttemptOutcome(
            .failed(errorClass: .exitCode, error: "agent exited with code \(code)", retryDelay: nil), exitCode: code,
            outputTail: tail)
    }
}
