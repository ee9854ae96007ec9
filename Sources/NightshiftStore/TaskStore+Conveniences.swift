import Foundation
import NightshiftCore

/// The store's operations in the plain shapes tests and tools want. They write the same rows
/// and the same events, but return only the value: nobody is told. Services change tasks
/// through the runtime's `TaskLedger`, which announces what changed.
extension TaskStore {
    public func create(_ tasks: [AgentTask]) async throws -> [AgentTask] { try await create(tasks, by: "api").value }

    public func create(_ task: AgentTask) async throws -> AgentTask {
        guard let created = try await create([task]).first else { throw StoreError(.unavailable, "insert returned nothing") }
        return created
    }

    public func claimNext(owner: String, limit: Int, now: Date, lease: Double) async throws -> [AgentTask] {
        try await claim(owner: owner, limit: limit, now: now, lease: lease).value
    }

    public func recordProcess(
        id: String, owner: String, pid: Int32, pgid: Int32, command: String, logPath: String, now: Date
    ) async throws -> AgentTask {
        try await recordStart(id: id, owner: owner, pid: pid, pgid: pgid, command: command, logPath: logPath, now: now).value
    }

    public func finish(id: String, owner: String, outcome: AttemptOutcome, now: Date) async throws -> AgentTask {
        let changes = try await finish([FinishRequest(id: id, owner: owner, outcome: outcome)], now: now)
        guard let result = changes.value.first else { throw StoreError(.unavailable, "finish returned nothing") }
        return try result.get()
    }

    public func decide(id: String, decision: String, priority: Int? = nil, now: Date) async throws -> AgentTask {
        try await decide(id: id, decision: decision, priority: priority, by: "api", now: now).value
    }

    public func cancel(
        id: String, reason: String, priority: Int? = nil, now: Date
    ) async throws -> (before: AgentTask, after: AgentTask) {
        // Two reads for the old shape (tests compare the task before); services use the event's from_status.
        let before = try await get(id)
        return (before, try await cancel(id: id, reason: reason, priority: priority, by: "api", now: now).value)
    }

    public func retry(id: String, priority: Int? = nil, now: Date) async throws -> AgentTask {
        try await retry(id: id, priority: priority, by: "api", now: now).value
    }

    public func setPriority(id: String, priority: Int, now: Date) async throws -> AgentTask {
        try await setPriority(id: id, priority: priority, by: "api", now: now).value
    }

    public func rescue(
        id: String, owner: String, reason: String, errorClass: ErrorClass, retryDelay: Double, now: Date
    ) async throws -> AgentTask {
        try await rescue(
            id: id, owner: owner, reason: reason, errorClass: errorClass, retryDelay: retryDelay, by: "rescuer", now: now
        ).value
    }

    public func expireDecisions(askedBefore cutoff: Date, now: Date) async throws -> [AgentTask] {
        try await expire(decisionsAskedBefore: cutoff, by: "maintenance", now: now).value
    }
}
