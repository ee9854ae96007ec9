import Foundation
import NightshiftCore

/// Filters and paging for `TaskStore.list`. Results are newest first, or in claim order.
public struct TaskQuery: Sendable, Equatable {
    public enum Order: Sendable, Equatable {
        /// Newest first (the API's list).
        case newest
        /// The order the runner claims in: priority, then oldest.
        case claim
    }
    public var order: Order = .newest
    public var statuses: [TaskStatus] = []
    public var taskTypes: [TaskType] = []
    public var backlogItem: String?
    /// Only tasks whose `error_class` is this (the dashboard's filter).
    public var errorClass: String?
    /// Only tasks created by this run (the dashboard's filter).
    public var runID: String?
    public var limit = 20
    public var offset = 0
    /// Keyset paging: the tasks after this one in the newest-first order (`TaskPage.next` of
    /// the page before). Reads only the page, however deep it is.
    public var after: TaskCursor?
    public init(
        statuses: [TaskStatus] = [], taskTypes: [TaskType] = [], backlogItem: String? = nil, limit: Int = 20, offset: Int = 0
    ) {
        self.statuses = statuses
        self.taskTypes = taskTypes
        self.backlogItem = backlogItem
        self.limit = limit
        self.offset = offset
    }
}

/// A task retention deleted.
public struct PrunedTask: Sendable, Equatable {
    public var id: String
    public var logPath: String?
    public init(id: String, logPath: String?) {
        self.id = id
        self.logPath = logPath
    }
}

/// The write-ahead log's size around a checkpoint.
public struct WALCheckpoint: Sendable, Equatable {
    public var bytesBefore: Int64
    public var bytesAfter: Int64
    public init(bytesBefore: Int64, bytesAfter: Int64) {
        self.bytesBefore = bytesBefore
        self.bytesAfter = bytesAfter
    }
}

/// One page of tasks and the total that matched the filters.
public struct TaskPage: Sendable, Equatable {
    public var tasks: [AgentTask]
    public var total: Int
    /// Where the next page starts, when there are more tasks after this page.
    public var next: TaskCursor?
    public init(tasks: [AgentTask], total: Int, next: TaskCursor? = nil) {
        self.tasks = tasks
        self.total = total
        self.next = next
    }
}

/// A place in the newest-first task order: the creation time and id of the last task of a
/// page. Its text form is opaque to clients (`c` + the time's 16 hex bits + the id), exact, and
/// still valid after the task it names is pruned.
public struct TaskCursor: Sendable, Hashable, CustomStringConvertible {
    public var createdAt: Double
    public var id: String

    public init(createdAt: Double, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    public init(after task: AgentTask) {
        self.init(createdAt: task.createdAt.timeIntervalSince1970, id: task.id)
    }

    /// Parses the text form; nil when it is not one.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 17 + 21, u[0] == UInt8(ascii: "c"), let bits = UInt64(String(text.dropFirst().prefix(16)), radix: 16)
        else { return nil }
        let id = String(text.dropFirst(17))
        guard TaskID.isValid(id) else { return nil }
        let t = Double(bitPattern: bits)
        guard t.isFinite else { return nil }
        self.init(createdAt: t, id: id)
    }

    public var description: String {
        let hex = String(createdAt.bitPattern, radix: 16)
        return "c" + String(repeating: "0", count: 16 - hex.count) + hex + id
    }
}

/// How an attempt ended, as the runner saw it.
public struct AttemptOutcome: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case completed
        /// Failed; `retryDelay` nil means the failure is final whatever attempts are left.
        case failed(errorClass: ErrorClass, error: String, retryDelay: Double?)
        case needsDecision(prompt: String)
        /// Back to pending until `until` without using up the attempt (a usage limit).
        case paused(until: Date, errorClass: ErrorClass, error: String)
    }

    public var kind: Kind
    public var exitCode: Int32?
    public var outputTail: String?
    public var summary: String?
    public var verdict: String?
    public var feedback: String?
    public var costUSD: Double?
    public var tokensIn: Int?
    public var tokensOut: Int?
    /// Whether the output met its phase's contract, when the phase has one (the runner checks
    /// it after the agent completed); recorded in the finished event's detail.
    public var contract: PhaseContract.Check?
    /// A structured agent's live metering at its end: the task's totals (earlier attempts
    /// included), written as they are instead of added like `cost_usd` and the token counts.
    public var metering: MeterReading?
    /// The class a question is recorded with (`budget_exceeded` for a budget stop).
    public var decisionClass: ErrorClass?

    public init(
        _ kind: Kind, exitCode: Int32? = nil, outputTail: String? = nil, summary: String? = nil, verdict: String? = nil,
        feedback: String? = nil, costUSD: Double? = nil, tokensIn: Int? = nil, tokensOut: Int? = nil,
        contract: PhaseContract.Check? = nil
    ) {
        self.kind = kind
        self.exitCode = exitCode
        self.outputTail = outputTail
        self.summary = summary
        self.verdict = verdict
        self.feedback = feedback
        self.costUSD = costUSD
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.contract = contract
    }
}

/// A running task's metered totals (its earlier attempts included), written while a structured
/// agent runs and at its end.
public struct MeterReading: Sendable, Equatable {
    public var costUSD: Double
    /// `reported` or `estimated`.
    public var costSource: String
    public var tokensIn: Int
    public var tokensOut: Int
    public var tokensCacheRead: Int
    public var tokensCacheWrite: Int
    public var turns: Int
    public var lastTool: String?
    public var lastEventAt: Date?
    public var sessionID: String?
    public var model: String?
    public init(
        costUSD: Double, costSource: String, tokensIn: Int, tokensOut: Int, tokensCacheRead: Int, tokensCacheWrite: Int,
        turns: Int, lastTool: String? = nil, lastEventAt: Date? = nil, sessionID: String? = nil, model: String? = nil
    ) {
        self.costUSD = costUSD
        self.costSource = costSource
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.tokensCacheRead = tokensCacheRead
        self.tokensCacheWrite = tokensCacheWrite
        self.turns = turns
        self.lastTool = lastTool
        self.lastEventAt = lastEventAt
        self.sessionID = sessionID
        self.model = model
    }
}

/// An executor paused by a usage limit: no task of it is claimed before `until`.
public struct ExecutorPause: Sendable, Equatable, Codable {
    public var executor: String
    public var until: Date
    public var reason: String
    /// The task that hit the limit.
    public var taskID: String?
    /// Limits in a row (the backoff's exponent when the agent gave no reset time).
    public var consecutive: Int
    public var since: Date
    enum CodingKeys: String, CodingKey {
        case executor, until, reason, consecutive, since
        case taskID = "task_id"
    }
    public init(executor: String, until: Date, reason: String, taskID: String?, consecutive: Int, since: Date) {
        self.executor = executor
        self.until = until
        self.reason = reason
        self.taskID = taskID
        self.consecutive = consecutive
        self.since = since
    }
}

/// Tasks a claim must leave alone: those of paused executors. A task's executor is its own
/// `executor`, else the one `runner.executor_for` names for its type; `types` lists the types
/// whose mapped executor is paused.
public struct ClaimExclusion: Sendable, Equatable {
    public var executors: [String]
    public var types: [String]
    public init(executors: [String] = [], types: [String] = []) {
        self.executors = executors
        self.types = types
    }
    public var isEmpty: Bool { executors.isEmpty && types.isEmpty }
}

extension AttemptOutcome {
    /// The detail of the `finished` (or `rescued`) event that records this outcome, the same in
    /// every store: who, the outcome, and what the attempt ended with.
    public func eventDetail(
        _ extra: [String: JSONValue], owner: String, event: TaskEvent, errorClass: String?, error: String?, prompt: String?,
        notBefore: Double?
    ) -> [String: JSONValue] {
        var detail = extra
        var paused = false
        if case .paused = kind { paused = true }
        detail["by"] = detail["by"] ?? .string(owner)
        detail["outcome"] = .string(paused ? "paused" : event.rawValue)
        if let m = metering { detail["cost_usd"] = .number(m.costUSD) }
        if let code = exitCode { detail["exit_code"] = .number(Double(code)) }
        if let errorClass { detail["error_class"] = .string(errorClass) }
        if let error { detail["error"] = .string(String(error.prefix(500))) }
        if let prompt { detail["decision_prompt"] = .string(String(prompt.prefix(500))) }
        if let notBefore { detail["not_before"] = .string(Timestamp.format(Date(timeIntervalSince1970: notBefore))) }
        if let v = verdict { detail["verdict"] = .string(v) }
        switch contract {
        case .met: detail["contract"] = .string("met")
        case .unmet(let missing):
            detail["contract"] = .string("unmet")
            detail["contract_missing"] = .array(missing.map { .string(String($0.prefix(500))) })
        case nil: break
        }
        return detail
    }
}

/// One finished attempt to record, for batched completion.
public struct FinishRequest: Sendable, Equatable {
    public var id: String
    public var owner: String
    public var outcome: AttemptOutcome
    public init(id: String, owner: String, outcome: AttemptOutcome) {
        self.id = id
        self.owner = owner
        self.outcome = outcome
    }
}

/// Durations and outcomes of finished tasks, for `/api/agent/metrics`.
public struct FinishedSample: Sendable, Equatable {
    public var taskType: TaskType
    public var status: TaskStatus
    public var durationSeconds: Double?
    public var finishedAt: Date
    public var costUSD: Double?
    public init(taskType: TaskType, status: TaskStatus, durationSeconds: Double?, finishedAt: Date, costUSD: Double?) {
        self.taskType = taskType
        self.status = status
        self.durationSeconds = durationSeconds
        self.finishedAt = finishedAt
        self.costUSD = costUSD
    }
}

/// The task store: domain operations, each one transaction that keeps the invariants of the
/// task model. Refused operations throw `StoreError` and change nothing. Every mutating
/// operation appends its transitions to the task history (`task_events`) in the same
/// transaction and returns them, with every task it created, as `Changes`; services call them
/// through the runtime's `TaskLedger`, which announces exactly those entries.
public protocol TaskStore: DeadLetterStore, Sendable {
    /// Inserts new pending tasks in one transaction (all or none); `by` is who asked.
    func create(_ tasks: [AgentTask], by actor: Actor) async throws -> Changes<[AgentTask]>
    func get(_ id: String) async throws -> AgentTask
    func list(_ query: TaskQuery) async throws -> TaskPage
    /// Tasks by status, every status present (zero when none), from the kept counts.
    func countByStatus() async throws -> [TaskStatus: Int]

    /// Atomically moves up to `limit` runnable pending tasks (priority, then oldest; `not_before`
    /// passed; dependencies completed) to running, owned by `owner` with a lease.
    func claim(
        owner: String, limit: Int, now: Date, lease: Double, excluding: ClaimExclusion
    ) async throws -> Changes<[AgentTask]>
    /// Records the agent process of a claimed task; `lostClaim` when `owner` no longer holds it.
    func recordStart(
        id: String, owner: String, pid: Int32, pgid: Int32, command: String, logPath: String, now: Date
    ) async throws -> Changes<AgentTask>
    /// Renews the leases of the tasks `owner` still holds; returns the ids it no longer holds.
    /// (A heartbeat is not an event: it changes no status.)
    func heartbeat(ids: [String], owner: String, now: Date, lease: Double) async throws -> Set<String>
    /// Records attempt outcomes (running → completed | failed | needs_decision | pending) in one
    /// transaction; each result is the updated task or the error for that request.
    func finish(_ requests: [FinishRequest], now: Date) async throws -> Changes<[Result<AgentTask, StoreError>]>

    // The operator's transitions take an optional new priority, set in the same transaction, so
    // that one request can e.g. retry a task at a higher priority and either both happen or neither.

    /// needs_decision → pending with the decision stored (and `priority`, and this task's own
    /// spend cap `budget_usd`, when given).
    func decide(
        id: String, decision: String, priority: Int?, budgetUSD: Double?, by actor: Actor, now: Date
    ) async throws -> Changes<AgentTask>
    /// needs_decision → failed: a human declined to go on (a budget stop answered with anything
    /// but `continue`); the task fails with `errorClass`.
    func decline(
        id: String, errorClass: ErrorClass, reason: String, by actor: Actor, now: Date
    ) async throws -> Changes<
        AgentTask
    >
    /// pending | running | needs_decision → cancelled (the event's `from_status` says which).
    func cancel(id: String, reason: String, priority: Int?, by actor: Actor, now: Date) async throws -> Changes<AgentTask>
    /// failed → pending with fresh attempts (and `priority`, when given).
    func retry(id: String, priority: Int?, by actor: Actor, now: Date) async throws -> Changes<AgentTask>
    /// Changes the priority of a task that has not ended.
    func setPriority(id: String, priority: Int, by actor: Actor, now: Date) async throws -> Changes<AgentTask>

    /// Running tasks whose lease lapsed at `now`, or that are owned by anyone but `liveOwner`.
    func rescueCandidates(now: Date, liveOwner: String) async throws -> [AgentTask]
    /// Requeues (or fails, when no attempts are left) a running task still owned by `owner`.
    func rescue(
        id: String, owner: String, reason: String, errorClass: ErrorClass, retryDelay: Double, by actor: Actor, now: Date
    ) async throws -> Changes<AgentTask>
    /// needs_decision tasks asked before `cutoff` → failed with `error_class: decision_timeout`.
    func expire(decisionsAskedBefore cutoff: Date, by actor: Actor, now: Date) async throws -> Changes<[AgentTask]>

    /// A task's history, oldest first (`notFound` for an unknown id).
    func events(taskID: String) async throws -> [TaskEventRecord]
    /// Events with an id above `after` (of any task), oldest first.
    func events(after: Int64, limit: Int) async throws -> [TaskEventRecord]
    func lastEventID() async throws -> Int64
    /// Deletes events recorded before `cutoff`; returns how many.
    func pruneEvents(before cutoff: Date) async throws -> Int
    /// Deletes up to `limit` tasks in the ended `status` that ended before `cutoff`, with their
    /// events, in one transaction, oldest first; a task an open task depends on is kept.
    /// Returns what it deleted, so their files can go too.
    func pruneEnded(status: TaskStatus, endedBefore cutoff: Date, limit: Int) async throws -> [PrunedTask]
    /// Folds the write-ahead log back into the database and empties it.
    func checkpointWAL() async throws -> WALCheckpoint

    /// Names of the schema migrations applied, oldest first.
    func appliedMigrations() async throws -> [String]

    /// The most recent finished tasks (completed or failed), newest first.
    func recentFinished(limit: Int) async throws -> [FinishedSample]

    // MARK: Real agents: live metering, spend, usage-limit pauses

    /// Writes a running task's metered totals (no history entry: it changes no status);
    /// `lostClaim` when `owner` no longer holds it.
    func meter(id: String, owner: String, reading: MeterReading, now: Date) async throws -> AgentTask
    /// What every task spent since `since` (the spend ledger: each change of a `cost_usd`).
    func spentUSD(since: Date) async throws -> Double
    /// Pauses `executor` until `until` (a later pause of a paused one keeps the later time).
    func pauseExecutor(
        _ executor: String, until: Date, reason: String, taskID: String?, now: Date
    ) async throws
        -> ExecutorPause
    /// Every recorded pause, ended ones included until cleared.
    func executorPauses() async throws -> [ExecutorPause]
    /// Removes a pause (only if it ends by `cutoff`, when given); true when one was removed.
    func clearExecutorPause(_ executor: String, ifUntilBefore cutoff: Date?) async throws -> Bool
}

extension TaskStore {
    public func claim(owner: String, limit: Int, now: Date, lease: Double) async throws -> Changes<[AgentTask]> {
        try await claim(owner: owner, limit: limit, now: now, lease: lease, excluding: ClaimExclusion())
    }

    public func decide(
        id: String, decision: String, priority: Int?, by actor: Actor, now: Date
    ) async throws -> Changes<
        AgentTask
    > {
        try await decide(id: id, decision: decision, priority: priority, budgetUSD: nil, by: actor, now: now)
    }
}
