import Foundation
import NightshiftCore
import NightshiftStore
import Synchronization

/// What happened to a task, for the dispatcher's wake-ups and the SSE stream: the event the
/// store appended to the task's history, and the task as that event left it.
public struct TaskChange: Sendable, Equatable {
    public typealias Kind = TaskEventKind
    public var event: TaskEventRecord
    public var task: AgentTask
    public var kind: Kind { event.kind }
    public init(_ entry: LedgerEntry) {
        self.event = entry.event
        self.task = entry.task
    }
}

/// A change the dashboard shows that is not a task's history entry: the monitor looked again
/// (its issues may have opened, continued or resolved), or the project manager's view of the
/// backlog changed (an import, an item started, moved, finished or blocked, a pause).
public enum PipelineSignal: String, Sendable, Codable {
    case issues, backlog
}

/// A fan-out of task changes to any number of subscribers. Publishing never blocks: a slow
/// subscriber drops its oldest changes instead of holding up the runner.
public final class TaskEventBus: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<TaskChange>.Continuation]>([:])
    private let meterSubscribers = Mutex<[UUID: AsyncStream<AgentTask>.Continuation]>([:])
    private let signalSubscribers = Mutex<[UUID: AsyncStream<PipelineSignal>.Continuation]>([:])

    public init() {}

    /// A running task's live metering changed (not a history entry: no event id).
    func publishMeter(_ task: AgentTask) {
        let targets = meterSubscribers.withLock { Array($0.values) }
        for c in targets { c.yield(task) }
    }

    /// Running tasks as their metering changes (cost, tokens, turns, last tool).
    public func subscribeMeters(buffer: Int = 256) -> AsyncStream<AgentTask> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<AgentTask>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        continuation.onTermination = { [weak self] _ in
            _ = self?.meterSubscribers.withLock { $0.removeValue(forKey: id) }
        }
        meterSubscribers.withLock { $0[id] = continuation }
        return stream
    }

    /// The monitor or the project manager says what it shows changed (no event id: a client
    /// that missed one reads the state again).
    public func publishSignal(_ signal: PipelineSignal) {
        let targets = signalSubscribers.withLock { Array($0.values) }
        for c in targets { c.yield(signal) }
    }

    /// Signals from now on; it ends when the consumer stops iterating.
    public func subscribeSignals(buffer: Int = 64) -> AsyncStream<PipelineSignal> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<PipelineSignal>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        continuation.onTermination = { [weak self] _ in
            _ = self?.signalSubscribers.withLock { $0.removeValue(forKey: id) }
        }
        signalSubscribers.withLock { $0[id] = continuation }
        return stream
    }

    func publish(_ change: TaskChange) {
        let targets = subscribers.withLock { Array($0.values) }
        for c in targets { c.yield(change) }
    }

    /// Only `TaskLedger` publishes: what a store operation returned, in order.
    func publish(_ entry: LedgerEntry) { publish(TaskChange(entry)) }

    /// A stream of every change from now on; it ends when the consumer stops iterating.
    public func subscribe(buffer: Int = 1024) -> AsyncStream<TaskChange> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<TaskChange>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    /// Ends every stream (at shutdown).
    public func finishAll() {
        let all = subscribers.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for c in all { c.finish() }
        let meters = meterSubscribers.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for c in meters { c.finish() }
        let signals = signalSubscribers.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for c in signals { c.finish() }
    }
}
