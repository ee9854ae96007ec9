import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Writes to stdout and stderr that can never stop the process. `FileHandle.write` traps on
/// ENOSPC or EPIPE (a full disk under `> out.log`, a closed `| head`); a daemon must treat a
/// failed write as a dropped line: counted, reported once, never a reason to stop.
public enum StandardStreams {
    private static let dropped = Atomic<Int>(0)
    private static let reported = Atomic<Bool>(false)

    /// Lines that could not be written to stdout, stderr or a component log since the start.
    public static var droppedLines: Int { dropped.load(ordering: .relaxed) }

    /// Called once, on the first dropped line (e.g. to say so in a log file that still works).
    nonisolated(unsafe) public static var onFirstDrop: (@Sendable (String) -> Void)?

    /// SIGPIPE would kill the daemon when its output pipe closes; with it ignored the write
    /// fails with EPIPE instead, and is dropped. Agents get the default back (swift-subprocess
    /// resets signal dispositions in the child).
    public static func ignoreSIGPIPE() { signal(SIGPIPE, SIG_IGN) }

    public static func writeError(_ text: String) { write(text, to: STDERR_FILENO) }
    public static func writeOutput(_ text: String) { write(text, to: STDOUT_FILENO) }

    /// Writes all of `text` to `fd`, or counts it as dropped.
    public static func write(_ text: String, to fd: Int32) {
        var t = text
        let ok = t.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
        if !ok { recordDrop(of: fd == STDERR_FILENO ? "stderr" : "stdout", errno: errno) }
    }

    /// `write(2)` until every byte is out (EINTR retried); false on any other error.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// Counts a line that could not be written to `what` (stdout, stderr, a log file) and, the
    /// first time, says so through `onFirstDrop`. Call it holding no lock the callback may need.
    public static func recordDrop(of what: String, errno code: Int32) {
        dropped.add(1, ordering: .relaxed)
        guard !reported.exchange(true, ordering: .relaxed) else { return }
        onFirstDrop?(
            "cannot write to \(what) (\(String(cString: strerror(code)))); dropping such lines from now on (counted in /metrics as nightshift_dropped_output_lines_total)"
        )
    }
}
