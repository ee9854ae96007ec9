import Foundation
import NightshiftCore

/// One entry of what a store operation did: the event appended to `task_events` and the task
/// as that event left it.
public struct LedgerEntry: Sendable, Equatable {
    public var event: TaskEventRecord
    public var task: AgentTask
    public init(event: TaskEventRecord, task: AgentTask) {
        self.event = event
        self.task = task
    }
}

/// The result of a mutating store operation together with everything it changed, in the
/// order it happened: the transition of the task it was asked about, and each task it created
/// in the same transaction (the next phase, a fix iteration, a heal task). Whoever called the
/// operation announces exactly these entries (STYLE 14); nothing else has to be re-read.
public struct Changes<Value: Sendable>: Sendable {
    public var value: Value
    public var entries: [LedgerEntry]
    public init(_ value: Value, entries: [LedgerEntry]) {
        self.value = value
        self.entries = entries
    }

    /// The tasks the operation created.
    public var created: [AgentTask] { entries.filter { $0.event.kind == .created }.map(\.task) }
}

/// Who asked for a change (`detail.by` of its event): `api`, `chat:<user>`, `pipeline`,
/// `monitor`, `rescuer`, `maintenance`, a runner's instance id.
public typealias Actor = String
