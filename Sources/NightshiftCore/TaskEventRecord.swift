import Foundation

/// What happened to a task, in the vocabulary of its history (`task_events.kind`), the SSE
/// stream and the in-process bus.
public enum TaskEventKind: String, Codable, CaseIterable, Sendable {
    /// Inserted (by the API, the project manager, the monitor, a chat command).
    case created
    /// A runner took it: pending → running, attempt + 1.
    case claimed
    /// Its agent process runs (pid recorded).
    case started
    /// An attempt ended: running → completed | failed | needs_decision | pending (retry).
    case finished
    /// A human answered its question: needs_decision → pending.
    case decided
    case cancelled
    /// An operator retried it with fresh attempts: failed → pending.
    case retried
    /// An operator took it out of the dead-letter queue with fresh attempts: failed → pending
    /// (the `retry` transition; `detail` says who, why, and the failure it had).
    case reprocessed
    /// Its lease lapsed or its daemon died: running → pending | failed.
    case rescued
    /// Nobody answered within decision_timeout: needs_decision → failed.
    case expired
    /// A field changed without a status change (priority).
    case updated
}

/// One row of `task_events`: an entry in a task's durable history. `id` is monotonic across
/// all tasks (the SSE `id:`), so a reader that resumes after an id misses nothing.
public struct TaskEventRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var taskID: String
    public var kind: TaskEventKind
    /// The status before; nil for `created`.
    public var fromStatus: TaskStatus?
    public var toStatus: TaskStatus
    /// The task's attempt after the event.
    public var attempt: Int
    /// What a reader needs to know why: who acted (`by`), the decision, the exit code, the
    /// error class and error, the pid, the reason of a rescue, the parent of a created task.
    public var detail: [String: JSONValue]
    public var at: Date
    /// The run it happened in; nil for events older than runs.
    public var runID: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, attempt, detail, at
        case runID = "run_id"
        case taskID = "task_id"
        case fromStatus = "from_status"
        case toStatus = "to_status"
    }

    /// `from_status` is written as null for `created`, not left out.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(taskID, forKey: .taskID)
        try c.encode(kind, forKey: .kind)
        try c.encode(fromStatus, forKey: .fromStatus)
        try c.encode(toStatus, forKey: .toStatus)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(detail, forKey: .detail)
        try c.encode(at, forKey: .at)
        try c.encode(runID, forKey: .runID)
    }

    public init(
        id: Int64, taskID: String, kind: TaskEventKind, fromStatus: TaskStatus?, toStatus: TaskStatus, attempt: Int,
        detail: [String: JSONValue] = [:], at: Date, runID: String? = nil
    ) {
        self.id = id
        self.taskID = taskID
        self.kind = kind
        self.fromStatus = fromStatus
        self.toStatus = toStatus
        self.attempt = attempt
        self.detail = detail
        self.at = at
        self.runID = runID
    }
}

/// `GET /api/agent/tasks/{id}/events`: one task's history, oldest first. The route writes it
/// and `nightshift tasks history` reads it.
public struct TaskHistory: Codable, Sendable, Equatable {
    public var taskID: String
    public var events: [TaskEventRecord]

    enum CodingKeys: String, CodingKey {
        case events
        case taskID = "task_id"
    }

    public init(taskID: String, events: [TaskEventRecord]) {
        self.taskID = taskID
        self.events = events
    }
}
