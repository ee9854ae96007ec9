import Foundation
import Synchronization

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
