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

    /// Lines that could not be written to stdout or stderr since the start.
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
        var bytes = Array(text.utf8)
        let ok = bytes.withUnsafeMutableBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        guard !ok else { return }
        let why = String(cString: strerror(errno))
        dropped.add(1, ordering: .relaxed)
        if !reported.exchange(true, ordering: .relaxed) {
            onFirstDrop?(
                "cannot write to \(fd == STDERR_FILENO ? "stderr" : "stdout") (\(why)); dropping such lines from now on (counted in /metrics as nightshift_dropped_output_lines_total)"
            )
        }
    }
}
