import Foundation
import NightshiftCore
import NightshiftStore

/// The one way services change a task (STYLE 14). Each operation runs the store's transaction
/// (which appends the transitions to `task_events`) and then announces exactly the entries it
/// returned, in order, on the in-process bus: the transition asked for and every task created
/// with it (the next phase, a fix iteration, a heal task). API routes, chat commands, the
/// project manager, the monitor, the rescuer, maintenance and the runner call this; none of
/// them publishes anything itself.
public struct TaskLedger: Sendable {
    public let store: any TaskStore
    let bus: TaskEventBus
    /// The caps a budget stop's answer raises.
    let budget: BudgetCaps

    public init(store: any TaskStore, bus: TaskEventBus, budget: BudgetCaps = BudgetCaps()) {
        self.store = store
        self.bus = bus
        self.budget = budget
    }

    /// Publishes what a store operation changed and hands back its value.
    @discardableResult
    public func announce<T>(_ changes: Changes<T>) -> T {
        for entry in changes.entries { bus.publish(entry) }
        return changes.value
    }

    public func create(_ tasks: [AgentTask], by actor: Actor) async throws -> [AgentTask] {
        announce(try await store.create(tasks, by: actor))
    }

    public func create(_ task: AgentTask, by actor: Actor) async throws -> AgentTask {
        guard let created = try await create([task], by: actor).first else {
            throw StoreError(.unavailable, "insert returned nothing")
        }
        return created
    }

    public func claim(
        owner: String, limit: Int, now: Date, lease: Double, excluding: ClaimExclusion = ClaimExclusion()
    ) async throws -> [AgentTask] {
        announce(try await store.claim(owner: owner, limit: limit, now: now, lease: lease, excluding: excluding))
    }

    /// Writes a running task's live metering and tells the SSE stream (no history entry).
    public func meter(id: String, owner: String, reading: MeterReading, now: Date) async throws -> AgentTask {
        let task = try await store.meter(id: id, owner: owner, reading: reading, now: now)
        bus.publishMeter(task)
        return task
    }

    public func recordStart(
        id: String, owner: String, pid: Int32, command: String, logPath: String, now: Date
    ) async throws -> AgentTask {
        announce(
            try await store.recordStart(id: id, owner: owner, pid: pid, pgid: pid, command: command, logPath: logPath, now: now))
    }

    public func finish(_ requests: [FinishRequest], now: Date) async throws -> [Result<AgentTask, StoreError>] {
        announce(try await store.finish(requests, now: now))
    }

    public func finish(id: String, owner: String, outcome: AttemptOutcome, now: Date) async throws -> AgentTask {
        guard let result = try await finish([FinishRequest(id: id, owner: owner, outcome: outcome)], now: now).first else {
            throw StoreError(.unavailable, "finish returned nothing")
        }
        return try result.get()
    }

    /// Answers a question. A budget stop's answer is the budget's: `continue` (or `continue
    /// +2.00`) raises the task's cap and resumes it; anything else fails it with
    /// `error_class: budget_exceeded`.
    public func decide(id: String, decision: String, priority: Int? = nil, by actor: Actor, now: Date) async throws -> AgentTask {
        let current = try await store.get(id)
        if current.status == .needsDecision, current.errorClass == ErrorClass.budgetExceeded.rawValue {
            let spent = current.costUSD ?? 0
            let cap = budget.cap(of: current) ?? spent
            switch BudgetDecision.parse(decision, cap: cap, spent: spent, perTask: budget.perTaskUSD) {
            case .raise(let to):
                return announce(
                    try await store.decide(id: id, decision: decision, priority: priority, budgetUSD: to, by: actor, now: now))
            case .stop:
                return announce(
                    try await store.decline(id: id, errorClass: .budgetExceeded, reason: decision, by: actor, now: now))
            }
        }
        return announce(try await store.decide(id: id, decision: decision, priority: priority, by: actor, now: now))
    }

    /// Cancels; the runner stops a running attempt when it hears the `cancelled` event.
    public func cancel(id: String, reason: String, priority: Int? = nil, by actor: Actor, now: Date) async throws -> AgentTask {
        announce(try await store.cancel(id: id, reason: reason, priority: priority, by: actor, now: now))
    }

    public func retry(id: String, priority: Int? = nil, by actor: Actor, now: Date) async throws -> AgentTask {
        announce(try await store.retry(id: id, priority: priority, by: actor, now: now))
    }

    public func setPriority(id: String, priority: Int, by actor: Actor, now: Date) async throws -> AgentTask {
        announce(try await store.setPriority(id: id, priority: priority, by: actor, now: now))
    }

    public func rescue(
        id: String, owner: String, reason: String, errorClass: ErrorClass, retryDelay: Double, now: Date
    ) async throws -> AgentTask {
        announce(
            try await store.rescue(
                id: id, owner: owner, reason: reason, errorClass: errorClass, retryDelay: retryDelay, by: "rescuer", now: now))
    }

    public func expireDecisions(askedBefore cutoff: Date, now: Date) async throws -> [AgentTask] {
        announce(try await store.expire(decisionsAskedBefore: cutoff, by: "maintenance", now: now))
    }

    // MARK: - The project manager's and the monitor's operations

    public func startItem(
        in pipeline: any PipelineStore, key: String, parallel: Int, workdir: String?, branch: String?, now: Date
    ) async throws -> AgentTask? {
        announce(try await pipeline.startItem(key: key, parallel: parallel, workdir: workdir, branch: branch, now: now))
    }

    public func reconcileItems(in pipeline: any PipelineStore, now: Date) async throws -> [AgentTask] {
        announce(try await pipeline.reconcileItems(now: now))
    }

    public func fileHealTask(in monitor: any MonitorStore, issueID: String, task: AgentTask) async throws -> AgentTask? {
        announce(try await monitor.fileHealTask(issueID: issueID, task: task))
    }
}

extension ServiceEnvironment {
    /// The ledger over this environment's store and bus.
    public var ledger: TaskLedger { TaskLedger(store: store, bus: events, budget: config.budget) }
}
