import Foundation
import NightshiftCore
import Synchronization

/// Where agents' output lines wait for the log service (issue 13, point 1). The runner's output
/// thread hands over a whole read's lines under one lock, never waits on the store, and drops
/// (and counts) lines once `capacity` are waiting, so a slow database can never slow an agent.
public final class TaskLineTap: Sendable {
    public struct Batch: Sendable {
        public var taskID: String
        public var runID: String?
        public var lines: [String]
    }

    private let state = Mutex<(batches: [Batch], waiting: Int, dropped: Int)>(([], 0, 0))
    public let wake = WakeSignal()
    /// Lines held at most.
    public let capacity: Int

    public init(capacity: Int = 50_000) { self.capacity = capacity }

    /// Hands over lines of one task's output (already redacted).
    public func offer(taskID: String, runID: String?, lines: [String]) {
        guard !lines.isEmpty else { return }
        let first = state.withLock { s -> Bool in
            let room = max(0, capacity - s.waiting)
            let kept = lines.count <= room ? lines : Array(lines.prefix(room))
            s.dropped += lines.count - kept.count
            guard !kept.isEmpty else { return false }
            let wasEmpty = s.waiting == 0
            s.waiting += kept.count
            s.batches.append(Batch(taskID: taskID, runID: runID, lines: kept))
            return wasEmpty
        }
        if first { wake.signal() }
    }

    /// Takes everything waiting, and how many lines were dropped since the last drain.
    public func drain() -> (batches: [Batch], dropped: Int) {
        state.withLock { s in
            defer {
                s.batches.removeAll(keepingCapacity: true)
                s.waiting = 0
                s.dropped = 0
            }
            return (s.batches, s.dropped)
        }
    }

    public var waiting: Int { state.withLock { $0.waiting } }
}

/// The per-attempt side of the tap: collects one read's lines, hands them over at the sink's
/// flush (one lock per read, not per line).
final class TaskLineCollector: @unchecked Sendable {
    let tap: TaskLineTap
    let taskID: String
    let runID: String?
    private var lines: [String] = []

    init(tap: TaskLineTap, taskID: String, runID: String?) {
        self.tap = tap
        self.taskID = taskID
        self.runID = runID
    }

    /// Longest line kept for the log store (the task log keeps the whole line).
    static let maxLine = 4096

    func add(_ redacted: ArraySlice<UInt8>) {
        let cut = redacted.count > Self.maxLine ? redacted.prefix(Self.maxLine) : redacted
        let text = String(decoding: cut, as: UTF8.self)
        if text.isEmpty { return }
        lines.append(text)
    }

    func flush() {
        guard !lines.isEmpty else { return }
        tap.offer(taskID: taskID, runID: runID, lines: lines)
        lines.removeAll(keepingCapacity: true)
    }
}
