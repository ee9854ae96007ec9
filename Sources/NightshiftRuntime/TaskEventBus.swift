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

/// A fan-out of task changes to any number of subscribers. Publishing never blocks: a slow
/// subscriber drops its oldest changes instead of holding up the runner.
public final class TaskEventBus: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<TaskChange>.Continuation]>([:])

    public init() {}

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
    }
}

/// A level-triggered wake-up: `signal()` any number of times, `wait()` returns once per burst.
public final class WakeSignal: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    public init() {}

    public func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { s in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at once if signalled since the last wait, else when next signalled or cancelled.
    public func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            signal()
        }
    }
}

/// Set once; every waiter (now or later) is released. Used for "stop this attempt".
public final class OneShotEvent: Sendable {
    private let state = Mutex<(set: Bool, waiters: [UUID: CheckedContinuation<Void, Never>])>((false, [:]))

    public init() {}

    public var isSet: Bool { state.withLock { $0.set } }

    public func set() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.set else { return [] }
            s.set = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Returns when the event is set, or when the calling task is cancelled.
    public func wait() async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.set || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let w = state.withLock { $0.waiters.removeValue(forKey: id) }
            w?.resume()
        }
    }
}
