import Foundation
import NightshiftCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Turns an agent's raw output into redacted lines in its task log, and keeps the redacted
/// tail and the last Claude Code result line. Fed from one reader thread only.
final class TaskOutputSink: @unchecked Sendable {
    private let fd: Int32
    private let redactor: Redactor
    private let tailLimit: Int
    private var partial: [UInt8] = []
    private var pending: [UInt8] = []
    private var tail: [UInt8] = []
    /// A private key block the agent printed goes on over several lines.
    private var carry = Redactor.Carry()
    private(set) var claudeResultLine: String?
    private(set) var bytesIn = 0
    /// Hands each redacted line to the log service too (nil = not ingested).
    var collector: TaskLineCollector?
    /// Sees each raw line first (a structured agent's meter); a line longer than `maxLine`
    /// comes in pieces, the last with `complete` true.
    var onLine: (@Sendable (UnsafeBufferPointer<UInt8>, _ complete: Bool) -> Void)?
    /// Lines longer than this are cut, so one endless line cannot exhaust memory.
    static let maxLine = 64 * 1024
    static let flushAt = 256 * 1024
    static let resultPrefix = Array(#"{"type":"result""#.utf8)

    init(logPath: String, redactor: Redactor, tailLimit: Int) throws {
        fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AtomicFile.WriteError(path: logPath, reason: String(cString: strerror(errno))) }
        self.redactor = redactor
        self.tailLimit = tailLimit
        pending.reserveCapacity(Self.flushAt + Self.maxLine)
    }

    deinit { close(fd) }

    /// Writes a line of the daemon's own (already clean) text, e.g. the attempt header.
    func note(_ text: String) {
        flush()
        // Straight to the log: output_tail is the agent's output only.
        _ = Array((text + "\n").utf8).withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
    }

    func consume(_ chunk: UnsafeRawBufferPointer) {
        bytesIn += chunk.count
        let bytes = chunk.bindMemory(to: UInt8.self)
        guard let base = bytes.baseAddress else { return }
        // The carry is a local for the chunk: an inout access to the stored property on every
        // line costs two runtime exclusivity checks per line (a tenth of the capture rate).
        var carry = self.carry
        defer { self.carry = carry }
        var start = 0
        // memchr finds each newline at memory speed; lines are then redacted one by one.
        while start < bytes.count, let hit = memchr(base + start, 0x0A, bytes.count - start) {
            let i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if partial.isEmpty {
                emitLine(UnsafeBufferPointer(rebasing: bytes[start..<i]), complete: true, carry: &carry)
            } else {
                partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                emitPartial(complete: true, carry: &carry)
            }
            start = i + 1
        }
        if start < bytes.count {
            partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
            if partial.count >= Self.maxLine { emitPartial(complete: false, carry: &carry) }
        }
        flush()  // one write per read: `tasks log -f` sees output while the agent runs
    }

    private func emitPartial(complete: Bool, carry: inout Redactor.Carry) {
        partial.withUnsafeBufferPointer { emitLine($0, complete: complete, carry: &carry) }
        partial.removeAll(keepingCapacity: true)
    }

    private func emitLine(_ line: UnsafeBufferPointer<UInt8>, complete: Bool, carry: inout Redactor.Carry) {
        onLine?(line, complete)
        let before = pending.count
        redactor.redact(line, into: &pending, carry: &carry)
        collector?.add(pending[before...])
        pending.append(0x0A)
        if line.count >= Self.resultPrefix.count && line.starts(with: Self.resultPrefix) {
            claudeResultLine = String(decoding: pending[before..<(pending.count - 1)], as: UTF8.self)
        }
    }

    /// Ends the output: the last unterminated line is written too.
    func finish() -> String {
        if !partial.isEmpty { emitPartial(complete: true, carry: &carry) }
        flush()
        return String(decoding: tail, as: UTF8.self)
    }

    private func flush() {
        guard !pending.isEmpty else { return }
        collector?.flush()
        pending.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    break
                }
                offset += n
            }
        }
        if tailLimit > 0 {
            if pending.count >= tailLimit {
                tail = Array(pending[(pending.count - tailLimit)...])
            } else {
                tail.append(contentsOf: pending)
                if tail.count > tailLimit { tail.removeFirst(tail.count - tailLimit) }
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// Reads a pipe on a dedicated thread (a blocking read is the fastest way to drain an agent
/// that prints hundreds of MB/s) until every writer has closed it.
final class OutputPump: Sendable {
    private let fd: Int32
    private let state = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    /// Monotonic nanoseconds of the last output, for stall detection.
    let lastActivity = Atomic<UInt64>(DispatchTime.now().uptimeNanoseconds)

    init(fd: Int32) { self.fd = fd }

    func start(sink: TaskOutputSink) {
        let thread = Thread { [self] in
            let size = 128 * 1024
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = read(fd, buffer, size)
                if n > 0 {
                    lastActivity.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
                    sink.consume(UnsafeRawBufferPointer(start: buffer, count: n))
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(fd)
            let waiters = state.withLock { s in
                s.done = true
                defer { s.waiters.removeAll() }
                return s.waiters
            }
            for w in waiters { w.resume() }
        }
        thread.name = "nightshift-output"
        thread.start()
    }

    var isDone: Bool { state.withLock { $0.done } }

    /// Returns when the pipe reached end of file.
    func finished() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.done { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}
