import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a supervised child's merged stdout/stderr from a pipe on its own thread: each line goes
/// to `onLine` (the watchdog logs it to watchdog.log) and the last `tailBytes` are kept for the
/// crash-loop report.
final class ChildOutput: Sendable {
    private let fd: Int32
    private let tailBytes: Int
    private let onLine: @Sendable (String) -> Void
    private let state = Mutex<(tail: [String], tailSize: Int)>(([], 0))
    private let done = OneShotEvent()
    static let maxLine = 16 * 1024

    init(fd: Int32, tailBytes: Int = 4096, onLine: @escaping @Sendable (String) -> Void) {
        self.fd = fd
        self.tailBytes = tailBytes
        self.onLine = onLine
    }

    func start() {
        let thread = Thread { [self] in
            pump()
            done.set()
        }
        thread.name = "nightshift-child-output"
        thread.start()
    }

    /// The last lines of output (redaction is the logger's job; this text stays in memory and
    /// goes to the fatal issue, so it is redacted by the caller).
    var tail: String { state.withLock { $0.tail.joined(separator: "\n") } }

    /// Waits until the pipe reached end of file, at most `seconds` (a grandchild may hold it open).
    func finished(within seconds: Double) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.done.wait() }
            group.addTask { try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000))) }
            await group.next()
            group.cancelAll()
        }
    }

    private func pump() {
        let size = 16 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var partial: [UInt8] = []
        while true {
            let n = read(fd, buffer, size)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            let bytes = UnsafeRawBufferPointer(start: buffer, count: n)
            for b in bytes {
                if b == 0x0A {
                    emit(partial)
                    partial.removeAll(keepingCapacity: true)
                } else if partial.count < Self.maxLine {
                    partial.append(b)
                }
            }
        }
        if !partial.isEmpty { emit(partial) }
        close(fd)
    }

    private func emit(_ bytes: [UInt8]) {
        let line = String(decoding: bytes, as: UTF8.self)
        state.withLock { s in
            s.tail.append(line)
            s.tailSize += line.utf8.count + 1
            while s.tailSize > tailBytes && s.tail.count > 1 {
                s.tailSize -= s.tail.removeFirst().utf8.count + 1
            }
        }
        onLine(line)
    }
}
