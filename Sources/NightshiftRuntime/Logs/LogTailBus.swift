import Foundation
import NightshiftCore
import Synchronization

/// A fan-out of stored log lines to live tails. Publishing never blocks: a slow tail drops its
/// oldest batches (and reads the gap back from the store by id).
public final class LogTailBus: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<[LogEntry]>.Continuation]>([:])

    public init() {}

    func publish(_ lines: [LogEntry]) {
        guard !lines.isEmpty else { return }
        let targets = subscribers.withLock { Array($0.values) }
        for c in targets { c.yield(lines) }
    }

    /// Every batch stored from now on; ends when the consumer stops iterating or at shutdown.
    public func subscribe(buffer: Int = 256) -> AsyncStream<[LogEntry]> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<[LogEntry]>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    public func finishAll() {
        let all = subscribers.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for c in all { c.finish() }
    }
}
